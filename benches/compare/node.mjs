// The Node side of benches/compare/run: one measurement per invocation, printed as one JSON
// line {"ops", "wall" (s), "cpu" (s, the whole process: user + system)}.
//
//   node node.mjs argon2 <concurrency> <ops>                  @node-rs/argon2 verify, bare
//   node node.mjs userpool-sign-in <memory|sqlite> <concurrency> <ops>
//   node node.mjs better-auth-sign-in <concurrency> <ops>     auth.api.signInEmail
//   node node.mjs userpool-verify <ops>                       pool.verifyAccessTokenSync
//   node node.mjs jose-verify <ops>                           jose jwtVerify, JWKS from pool.jwks()
//   node node.mjs better-auth-session <ops>                   auth.api.getSession, default cookie
//   node node.mjs userpool-refresh <concurrency> <ops>        pool.refresh, rotation, SQLite file
//   node node.mjs better-auth-refresh <concurrency> <ops>     getSession that extends the session
//
// "concurrency" is the number of operations in flight at once (Promises), not threads.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { Algorithm, hash, verify } from '@node-rs/argon2'
import Database from 'better-sqlite3'
import { betterAuth } from 'better-auth'
import { getMigrations } from 'better-auth/db/migration'
import { createLocalJWKSet, jwtVerify } from 'jose'

import { UserPool } from '../../bindings/node/index.mjs'

const PASSWORD = 'correct horse battery staple'
const EMAIL = 'alice@example.com'
// OWASP's argon2id parameters, the ones userpool uses by default.
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 }

const dir = mkdtempSync(join(tmpdir(), 'userpool-compare-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

async function measure(concurrency, ops, op) {
  await op(0) // warm-up
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  let next = 0
  const lane = async (l) => {
    while (next < ops) {
      next++
      await op(l)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, (_, l) => lane(l)))
  const wall = Number(process.hrtime.bigint() - start) / 1e9
  const used = process.cpuUsage(cpu)
  console.log(JSON.stringify({ ops, wall, cpu: (used.user + used.system) / 1e6 }))
}

async function userpool(sqlite) {
  const outbox = []
  const pool = await UserPool.open({
    path: sqlite ? join(dir, 'userpool.sqlite3') : undefined,
    // COMPARE_ALGORITHM sets tokens.algorithm (the pool's default, ES256, when unset).
    config: { pool_id: 'compare', ...(process.env.COMPARE_ALGORITHM ? { tokens: { algorithm: process.env.COMPARE_ALGORITHM } } : {}) },
    delivery: (m) => outbox.push(m),
  })
  await pool.signUp('alice', PASSWORD, { email: EMAIL })
  await pool.confirmSignUp('alice', outbox.at(-1).code)
  return pool
}

async function betterAuthWith(session = {}) {
  const db = new Database(join(dir, 'better-auth.sqlite3'))
  // The same durability as userpool's SqliteStore: WAL, every commit fsynced.
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  const auth = betterAuth({
    database: db,
    secret: 'a-benchmark-secret-that-is-long-enough-0123456789',
    baseURL: 'http://localhost:3000',
    logger: { disabled: true },
    rateLimit: { enabled: false },
    session,
    emailAndPassword: {
      enabled: true,
      // The same argon2id parameters as userpool, so the engines are compared, not the hashes.
      password: { hash: (password) => hash(password, ARGON2), verify: ({ hash: h, password }) => verify(h, password, ARGON2) },
    },
  })
  const { runMigrations } = await getMigrations(auth.options)
  await runMigrations()
  await auth.api.signUpEmail({ body: { email: EMAIL, password: PASSWORD, name: 'Alice' } })
  return auth
}

async function betterAuthCookie(auth) {
  const { headers } = await auth.api.signInEmail({ body: { email: EMAIL, password: PASSWORD }, returnHeaders: true })
  const cookie = headers.get('set-cookie').split(';')[0] // better-auth.session_token=<token>.<signature>
  if (!cookie.startsWith('better-auth.session_token=')) throw new Error(`unexpected cookie ${cookie}`)
  return new Headers({ cookie })
}

const [command, ...rest] = process.argv.slice(2)
const n = (i) => Number(rest[i])

switch (command) {
  case 'argon2': {
    const phc = await hash(PASSWORD, ARGON2)
    await measure(n(0), n(1), async () => {
      if (!(await verify(phc, PASSWORD, ARGON2))) throw new Error('wrong password')
    })
    break
  }
  case 'userpool-sign-in': {
    const pool = await userpool(rest[0] === 'sqlite')
    await measure(n(1), n(2), async () => {
      if (!(await pool.signIn('alice', PASSWORD)).tokens) throw new Error('no tokens')
    })
    break
  }
  case 'better-auth-sign-in': {
    const auth = await betterAuthWith()
    await measure(n(0), n(1), async () => {
      const { token } = await auth.api.signInEmail({ body: { email: EMAIL, password: PASSWORD } })
      if (!token) throw new Error('no session')
    })
    break
  }
  case 'userpool-verify':
  case 'jose-verify': {
    const pool = await userpool(false)
    const token = (await pool.signIn('alice', PASSWORD)).tokens.accessToken
    if (command === 'userpool-verify') {
      await measure(1, n(0), async () => pool.verifyAccessTokenSync(token))
    } else {
      const jwks = createLocalJWKSet(JSON.parse(JSON.stringify(pool.jwks())))
      const issuer = pool.issuer
      const alg = JSON.parse(Buffer.from(token.split('.')[0], 'base64url')).alg
      await measure(1, n(0), async () => jwtVerify(token, jwks, { issuer, algorithms: [alg] }))
    }
    break
  }
  case 'better-auth-session': {
    const auth = await betterAuthWith()
    const headers = await betterAuthCookie(auth)
    await measure(1, n(0), async () => {
      if (!(await auth.api.getSession({ headers }))) throw new Error('no session')
    })
    break
  }
  case 'userpool-refresh': {
    const pool = await userpool(true)
    const tokens = []
    for (let l = 0; l < Math.max(1, n(0)); l++) tokens.push((await pool.signIn('alice', PASSWORD)).tokens.refreshToken)
    await measure(n(0), n(1), async (l) => {
      tokens[l] = (await pool.refresh(tokens[l])).refreshToken
    })
    break
  }
  case 'better-auth-refresh': {
    // updateAge 0: every getSession finds the session due for extension and writes its new
    // expiry (better-auth's session refresh; the session token itself does not rotate).
    const auth = await betterAuthWith({ updateAge: 0 })
    const lanes = []
    for (let l = 0; l < Math.max(1, n(0)); l++) lanes.push(await betterAuthCookie(auth))
    await measure(n(0), n(1), async (l) => {
      if (!(await auth.api.getSession({ headers: lanes[l] }))) throw new Error('no session')
    })
    break
  }
  default:
    console.error('usage: see the header of node.mjs')
    process.exit(2)
}
