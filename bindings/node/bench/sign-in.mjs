// A sign-in through Node against the same sign-in in Rust (issue 6: goal ≤ 1.02× Rust), both
// with OWASP's default hashing, in memory, one at a time.
//   node bench/sign-in.mjs       (builds the Rust half with cargo first)
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

import { UserPool } from '../index.mjs'
import { measure } from './common.mjs'

const rounds = 5
const iterations = 20
const root = join(import.meta.dirname, '..')
execFileSync('cargo', ['build', '--quiet', '--release', '-p', 'userpool-node', '--example', 'sign_in_bench'], { cwd: root, stdio: 'inherit' })
const targetDir = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--no-deps'], { cwd: root })).target_directory

const outbox = []
const pool = await UserPool.open({ config: { pool_id: 'bench' }, delivery: (m) => outbox.push(m) })
await pool.signUp('alice', 'correct horse battery staple', { email: 'alice@example.com' })
await pool.confirmSignUp('alice', outbox.at(-1).code)
const node = await measure('Node: await pool.signIn', rounds, iterations, () => pool.signIn('alice', 'correct horse battery staple'))
const rustMicros = Number(execFileSync(join(targetDir, 'release', 'examples', 'sign_in_bench'), [String(rounds), String(iterations)]))
console.log(`${'Rust: pool.sign_in'.padEnd(44)} ${rustMicros.toFixed(1).padStart(9)} µs/op`)
console.log(`Node / Rust: ${(node / 1000 / rustMicros).toFixed(3)}×`)
