// The Express example, started on a loopback port and driven with fetch.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { after, before, test } from 'node:test'

import { createApp } from '../examples/express.mjs'
import { PASSWORD, openPool } from './helpers.mjs'

let ctx
let server
let base

before(async () => {
  ctx = await openPool()
  server = createApp(ctx.pool).listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${server.address().port}`
})

after(() => server.close())

const post = (path, body, headers = {}) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

test('sign up, confirm, sign in, then reach a protected route with the bearer token', async () => {
  const signUp = await post('/sign-up', { username: 'alice', password: PASSWORD, email: 'alice@example.com' })
  assert.equal(signUp.status, 201)
  assert.equal((await signUp.json()).nextStep, 'CONFIRM_SIGN_UP')

  const duplicate = await post('/sign-up', { username: 'alice', password: PASSWORD, email: 'alice@example.com' })
  assert.equal(duplicate.status, 409)
  assert.equal((await duplicate.json()).code, 'UsernameExistsException')

  const early = await post('/sign-in', { username: 'alice', password: PASSWORD })
  assert.equal((await early.json()).nextStep, 'CONFIRM_SIGN_UP')

  const wrongCode = await post('/confirm-sign-up', { username: 'alice', code: '000000' })
  assert.equal(wrongCode.status, 400)
  assert.equal((await wrongCode.json()).code, 'CodeMismatchException')
  const confirm = await post('/confirm-sign-up', { username: 'alice', code: ctx.lastCode('alice@example.com') })
  assert.equal(confirm.status, 200)

  const wrongPassword = await post('/sign-in', { username: 'alice', password: 'not the password' })
  assert.equal(wrongPassword.status, 401)
  const signIn = await post('/sign-in', { username: 'alice', password: PASSWORD })
  const { nextStep, tokens } = await signIn.json()
  assert.equal(nextStep, 'DONE')

  const bearer = { authorization: `Bearer ${tokens.accessToken}` }
  const me = await fetch(`${base}/me`, { headers: bearer })
  assert.equal(me.status, 200)
  const body = await me.json()
  assert.equal(body.username, 'alice')
  assert.equal(body.attributes.email, 'alice@example.com')

  assert.equal((await fetch(`${base}/me`)).status, 401)
  const forged = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${tokens.accessToken}x` } })
  assert.equal(forged.status, 401)
  assert.equal((await forged.json()).code, 'NotAuthorizedException')

  const jwks = await (await fetch(`${base}/.well-known/jwks.json`)).json()
  assert.ok(jwks.keys.length > 0)

  assert.equal((await post('/sign-out', {}, bearer)).status, 204)
  const revoked = await fetch(`${base}/me`, { headers: bearer })
  assert.equal(revoked.status, 401)
  assert.match((await revoked.json()).message, /revoked/)
})

test('a malformed request is a 400 with the binding’s TypeError code', async () => {
  const response = await post('/sign-up', { username: 42, password: PASSWORD, email: 'bob@example.com' })
  assert.equal(response.status, 400)
  assert.equal((await response.json()).code, 'InvalidParameterException')
})
