// Shared by the benchmarks: a tiny timing loop (no dependency) that reports the median of
// several rounds, so one noisy round on a shared machine does not decide the figure.
export async function measure(name, rounds, iterations, fn) {
  for (let i = 0; i < Math.min(iterations, 200); i++) await fn() // warm-up
  const perOp = []
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) await fn()
    perOp.push(Number(process.hrtime.bigint() - start) / iterations)
  }
  perOp.sort((a, b) => a - b)
  const median = perOp[Math.floor(perOp.length / 2)]
  console.log(`${name.padEnd(44)} ${(median / 1000).toFixed(1).padStart(9)} µs/op  ${Math.round(1e9 / median).toString().padStart(8)} ops/s`)
  return median
}
