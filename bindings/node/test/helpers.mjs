// Shared by the suites: the addon (built by `napi build`), a fast test configuration, and a
// pool whose messages and time the test controls.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
/** @type {typeof import('../index.js')} */
export const userpool = require('../index.js')
export const { UserPool } = userpool

/** Cheap password hashing: the suites hash hundreds of passwords (never do this in production). */
export const FAST_HASHING = { memory_kib: 256, iterations: 1, dangerous_allow_weak: true }

export const PASSWORD = 'correct horse battery staple'

/**
 * Opens an in-memory pool with a recording delivery and a manual clock.
 * @param {object} [config] extra configuration keys
 */
export async function openPool(config = {}) {
  const messages = []
  const clock = { now: 1_700_000_000_000 }
  const pool = await UserPool.open({
    config: { pool_id: 'local_node_tests', password_hashing: FAST_HASHING, ...config },
    delivery: (message) => {
      messages.push(message)
    },
    clock: () => clock.now,
  })
  const lastCode = (destination) => {
    const found = messages.findLast((m) => m.destination === destination)
    if (!found) throw new Error(`no code was delivered to ${destination}`)
    return found.code
  }
  return { pool, messages, clock, lastCode }
}

/** Signs up, confirms and signs in `username`; returns the tokens. */
export async function signedIn({ pool, lastCode }, username = 'alice', email = `${username}@example.com`) {
  await pool.signUp(username, PASSWORD, { email })
  await pool.confirmSignUp(username, lastCode(email))
  const result = await pool.signIn(username, PASSWORD)
  if (result.nextStep !== 'DONE') throw new Error(`sign-in stopped at ${result.nextStep}`)
  return result.tokens
}
