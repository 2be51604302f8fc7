// The engine checked by independent libraries: jose verifies its tokens against pool.jwks(),
// otplib reads its otpauth:// URIs and makes the codes an authenticator app would.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { parse as parseURI } from '@otplib/uri'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { generateSync } from 'otplib'

import { PASSWORD, openPool, signedIn } from './helpers.mjs'

for (const algorithm of ['RS256', 'ES256', 'EdDSA']) {
  test(`jose verifies ${algorithm} access and ID tokens against pool.jwks()`, async () => {
    const ctx = await openPool({ tokens: { algorithm } })
    const tokens = await signedIn(ctx)
    const jwks = createLocalJWKSet(ctx.pool.jwks())
    const currentDate = new Date(ctx.clock.now)

    const access = await jwtVerify(tokens.accessToken, jwks, { issuer: ctx.pool.issuer, currentDate })
    assert.equal(access.protectedHeader.alg, algorithm)
    assert.equal(access.payload.token_use, 'access')
    assert.equal(access.payload.client_id, 'default')
    assert.deepEqual(access.payload, await ctx.pool.verifyAccessToken(tokens.accessToken))

    const id = await jwtVerify(tokens.idToken, jwks, { issuer: ctx.pool.issuer, audience: 'default', currentDate })
    assert.equal(id.payload.token_use, 'id')
    assert.equal(id.payload['cognito:username'], 'alice')
    assert.equal(id.payload.email, 'alice@example.com')

    // A token changed by one character fails in both.
    const [header, payload, signature] = tokens.accessToken.split('.')
    const flipped = signature[5] === 'A' ? 'B' : 'A'
    const forged = `${header}.${payload}.${signature.slice(0, 5)}${flipped}${signature.slice(6)}`
    await assert.rejects(jwtVerify(forged, jwks, { issuer: ctx.pool.issuer, currentDate }))
    assert.throws(() => ctx.pool.verifyAccessTokenSync(forged), { code: 'NotAuthorizedException' })
    assert.equal(decodeProtectedHeader(tokens.idToken).alg, algorithm)
  })
}

test('an authenticator set up from the otpauth URI (otplib) signs in with its codes', async () => {
  const ctx = await openPool({ name: 'Example App', mfa: { mode: 'optional', methods: ['totp'] } })
  const tokens = await signedIn(ctx)
  const setup = await ctx.pool.associateSoftwareToken(tokens.accessToken)

  // What an authenticator app reads from the QR code.
  const uri = parseURI(setup.uri)
  assert.equal(uri.type, 'totp')
  assert.equal(uri.params.secret, setup.secret)
  assert.equal(uri.params.issuer, 'Example App')
  assert.match(uri.label, /alice/)
  const code = (offset = 0) => generateSync({ secret: uri.params.secret, epoch: Math.floor(ctx.clock.now / 1000) + offset })

  await assert.rejects(ctx.pool.verifySoftwareToken(tokens.accessToken, code(-3600)), { code: 'EnableSoftwareTokenMFAException' })
  await ctx.pool.verifySoftwareToken(tokens.accessToken, code(), 'phone')
  await ctx.pool.setMfaPreference(tokens.accessToken, { totp: 'PREFERRED' })
  assert.deepEqual((await ctx.pool.getUser(tokens.accessToken)).mfaEnabled, ['TOTP'])

  ctx.clock.now += 60_000
  const challenge = await ctx.pool.signIn('alice', PASSWORD)
  assert.equal(challenge.nextStep, 'CONFIRM_SIGN_IN_WITH_TOTP_CODE')
  assert.equal(challenge.tokens, undefined)
  const done = await ctx.pool.confirmSignIn(challenge.session, code())
  assert.equal(done.nextStep, 'DONE')
  assert.equal(ctx.pool.verifyAccessTokenSync(done.tokens.accessToken).username, 'alice')

  // A code is accepted once.
  const again = await ctx.pool.signIn('alice', PASSWORD)
  await assert.rejects(ctx.pool.confirmSignIn(again.session, code()), { code: 'CodeMismatchException' })
})

test('groups reach the cognito:groups claim that jose sees', async () => {
  const ctx = await openPool()
  await ctx.pool.createGroup('admins', 'Administrators', 1)
  await ctx.pool.createGroup('editors', null, 5)
  const first = await signedIn(ctx)
  await ctx.pool.adminAddUserToGroup('alice', 'editors')
  await ctx.pool.adminAddUserToGroup('alice', 'admins')
  assert.deepEqual((await ctx.pool.adminListGroupsForUser('alice')).map((g) => g.name), ['admins', 'editors'])
  const { tokens } = await ctx.pool.signIn('alice', PASSWORD)
  const { payload } = await jwtVerify(tokens.accessToken, createLocalJWKSet(ctx.pool.jwks()), {
    issuer: ctx.pool.issuer,
    currentDate: new Date(ctx.clock.now),
  })
  assert.deepEqual(payload['cognito:groups'], ['admins', 'editors'])
  assert.equal(ctx.pool.verifyAccessTokenSync(first.accessToken)['cognito:groups'], undefined)
  assert.deepEqual((await ctx.pool.listUsersInGroup('admins', { limit: 5 })).users.map((u) => u.username), ['alice'])
  const admins = await ctx.pool.getGroup('admins')
  assert.deepEqual([admins.name, admins.description, admins.precedence], ['admins', 'Administrators', 1])
})
