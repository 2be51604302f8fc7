// A sign-in through Node against the same sign-in in Rust (issue 6: goal ≤ 1.02× Rust), both
// with OWASP's default hashing, in memory, one at a time. The machine is shared, so the two
// alternate round by round and each side reports its median round.
//   node bench/sign-in.mjs       (builds the Rust half with cargo first)
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

import { UserPool } from '../index.mjs'

const rounds = Number(process.env.ROUNDS ?? 9)
const iterations = Number(process.env.ITERATIONS ?? 5)
const root = join(import.meta.dirname, '..')
execFileSync('cargo', ['build', '--quiet', '--release', '-p', 'userpool-node', '--example', 'sign_in_bench'], { cwd: root, stdio: 'inherit' })
const targetDir = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: root })).target_directory
const rust = join(targetDir, 'release', 'examples', 'sign_in_bench')

const outbox = []
const pool = await UserPool.open({ config: { pool_id: 'bench' }, delivery: (m) => outbox.push(m) })
await pool.signUp('alice', 'correct horse battery staple', { email: 'alice@example.com' })
await pool.confirmSignUp('alice', outbox.at(-1).code)
for (let i = 0; i < 3; i++) await pool.signIn('alice', 'correct horse battery staple')

// Wall time is at the mercy of the other jobs on a shared machine; CPU time much less so.
// Node's CPU time is the whole process's (the JavaScript thread's share included), Rust's
// that of the thread calling sign_in.
const nodeRounds = []
const rustRounds = []
let nodeCpu = 0
let rustCpu = 0
for (let r = 0; r < rounds; r++) {
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) await pool.signIn('alice', 'correct horse battery staple')
  nodeRounds.push(Number(process.hrtime.bigint() - start) / iterations / 1000)
  const used = process.cpuUsage(cpu)
  nodeCpu += (used.user + used.system) / iterations / rounds
  const [wall, cpuPerOp] = execFileSync(rust, ['1', String(iterations)]).toString().trim().split(' ').map(Number)
  rustRounds.push(wall)
  rustCpu += cpuPerOp / rounds
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const node = median(nodeRounds)
const rustMedian = median(rustRounds)
const row = (name, wall, cpu) => console.log(`${name.padEnd(28)} wall ${wall.toFixed(0).padStart(7)} µs/op   CPU ${cpu.toFixed(0).padStart(7)} µs/op`)
console.log(`(median wall time of ${rounds} alternating rounds of ${iterations} sign-ins; mean CPU time)`)
row('Node: await pool.signIn', node, nodeCpu)
row('Rust: pool.sign_in', rustMedian, rustCpu)
console.log(`Node / Rust: wall ${(node / rustMedian).toFixed(3)}×, CPU ${(nodeCpu / rustCpu).toFixed(3)}×`)
