// verifyAccessToken against jose's jwtVerify on the same RS256 token (issue 6: goal ≥ 3× jose).
//   node bench/verify.mjs        (after `npx napi build --platform --release`)
import { createLocalJWKSet, jwtVerify } from 'jose'

import { UserPool } from '../index.mjs'
import { measure } from './common.mjs'

const outbox = []
const pool = await UserPool.open({
  config: {
    pool_id: 'bench',
    tokens: { algorithm: 'RS256' },
    password_hashing: { memory_kib: 256, iterations: 1, dangerous_allow_weak: true },
  },
  delivery: (m) => outbox.push(m),
})
await pool.signUp('alice', 'correct horse battery staple', { email: 'alice@example.com' })
await pool.confirmSignUp('alice', outbox.at(-1).code)
const { accessToken } = (await pool.signIn('alice', 'correct horse battery staple')).tokens
const jwks = createLocalJWKSet(pool.jwks())
const options = { issuer: pool.issuer }

const rounds = 7
const n = 5000
const jose = await measure('jose jwtVerify (createLocalJWKSet)', rounds, n, () => jwtVerify(accessToken, jwks, options))
const sync = await measure('userpool verifyAccessTokenSync', rounds, n, () => pool.verifyAccessTokenSync(accessToken))
const async_ = await measure('userpool verifyAccessToken (Promise)', rounds, n, () => pool.verifyAccessToken(accessToken))
// Servers verify many requests at once: batches of 32 in flight.
const batch = Array.from({ length: 32 })
const joseBatch = await measure('jose jwtVerify, batch of 32 at once', rounds, n / 32, () =>
  Promise.all(batch.map(() => jwtVerify(accessToken, jwks, options))),
) / 32
const asyncBatch = await measure('userpool verifyAccessToken, batch of 32', rounds, n / 32, () =>
  Promise.all(batch.map(() => pool.verifyAccessToken(accessToken))),
) / 32
console.log(`verifyAccessTokenSync: ${(jose / sync).toFixed(1)}× jose`)
console.log(`verifyAccessToken: ${(jose / async_).toFixed(1)}× jose one at a time, ${(joseBatch / asyncBatch).toFixed(1)}× jose 32 at once`)
console.log('(userpool checks expiry, issuer, client and revocation on every call; jose checks signature, expiry and issuer)')
