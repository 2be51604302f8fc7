// The binding's own work: conversions both ways, errors, the host's delivery and clock
// functions, client views, the SQLite path, and that operations run off the event loop.
import assert from 'node:assert/strict'
import { createHmac, pbkdf2 } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { inspect, promisify } from 'node:util'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

import { FAST_HASHING, PASSWORD, UserPool, openPool, signedIn, userpool } from './helpers.mjs'

/** Asserts that `promise` is a Promise (not a synchronous throw) that rejects like `expected`. */
async function rejectsWith(promise, expected) {
  assert.ok(promise instanceof Promise, 'expected a Promise, the call returned something else')
  return assert.rejects(promise, expected)
}

const typeError = (pattern) => (error) => {
  assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`)
  assert.equal(error.code, 'InvalidParameterException')
  assert.match(error.message, pattern)
  return true
}

describe('entry points', () => {
  test('CommonJS and ESM expose the same binding', async () => {
    const esm = await import('../index.mjs')
    assert.equal(esm.UserPool, userpool.UserPool)
    assert.equal(esm.secretHash, userpool.secretHash)
    assert.equal(esm.errorCodes, userpool.errorCodes)
    assert.equal(esm.__napiBindingTarget, userpool.__napiBindingTarget)
    assert.equal(esm.default, userpool)
    // index.d.ts serves both entry points: every name it declares must exist in both.
    const declared = [...readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8').matchAll(
      /^export declare (?:const|function|class) (\w+)/gm,
    )].map((m) => m[1])
    for (const name of declared) {
      assert.ok(name in esm && name in userpool, `${name} is declared but not exported by both`)
    }
  })

  test('a pool is only made by UserPool.open', () => {
    assert.throws(() => new UserPool())
  })

  test('errorCodes() lists exactly the ErrorCode type of index.d.ts', () => {
    const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
    const union = dts.match(/export type ErrorCode =([^]*?)\n\n/)
    assert.ok(union, 'index.d.ts declares no ErrorCode type')
    const typed = [...union[1].matchAll(/'([A-Za-z]+)'/g)].map((m) => m[1]).sort()
    assert.deepEqual(typed, [...userpool.errorCodes()].sort())
    assert.ok(typed.includes('UsernameExistsException'))
  })

  test('index.d.ts types every name without any', () => {
    const dts = readFileSync(new URL('../index.d.ts', import.meta.url), 'utf8')
    assert.doesNotMatch(dts, /\bany\b(?!\w)(?=\s*[;,)>\]|=]|\s*$)/m)
    for (const name of ['UserPool', 'SignUpResult', 'SignInResult', 'Tokens', 'User', 'Message', 'OpenOptions', 'Claims']) {
      assert.match(dts, new RegExp(`(class|interface|type) ${name}\\b`), `${name} is not declared`)
    }
  })
})

describe('results', () => {
  test('sign-up, sign-in and users come back in camelCase with core’s words', async () => {
    const ctx = await openPool()
    const signUp = await ctx.pool.signUp('alice', PASSWORD, { email: 'alice@example.com', name: 'Alice' })
    assert.equal(typeof signUp.userSub, 'string')
    assert.equal(signUp.confirmed, false)
    assert.equal(signUp.nextStep, 'CONFIRM_SIGN_UP')
    assert.deepEqual(signUp.codeDelivery, { channel: 'EMAIL', destination: 'a***@e***', attribute: 'email' })
    assert.equal(await ctx.pool.confirmSignUp('alice', ctx.lastCode('alice@example.com')), undefined)

    const signIn = await ctx.pool.signIn('alice', PASSWORD)
    assert.equal(signIn.nextStep, 'DONE')
    assert.deepEqual(Object.keys(signIn.tokens).sort(), ['accessToken', 'expiresIn', 'idToken', 'refreshToken', 'tokenType'])
    assert.equal(signIn.tokens.tokenType, 'Bearer')
    assert.equal(signIn.tokens.expiresIn, 3600)
    assert.deepEqual(signIn.missingAttributes, [])
    assert.deepEqual(signIn.allowedMfaTypes, [])
    assert.equal(signIn.codeDelivery, undefined)
    assert.equal(signIn.totpSetup, undefined)

    const user = await ctx.pool.getUser(signIn.tokens.accessToken)
    assert.equal(user.username, 'alice')
    assert.equal(user.sub, signUp.userSub)
    assert.equal(user.status, 'CONFIRMED')
    assert.equal(user.enabled, true)
    assert.equal(user.attributes.name, 'Alice')
    assert.equal(user.attributes.email_verified, 'true')
    assert.equal(user.createdMs, ctx.clock.now)
    assert.deepEqual([user.mfaEnabled, user.preferredMfa, user.groups], [[], undefined, []])

    const claims = await ctx.pool.verifyAccessToken(signIn.tokens.accessToken)
    assert.deepEqual(ctx.pool.verifyAccessTokenSync(signIn.tokens.accessToken), claims)
    assert.deepEqual(await ctx.pool.verifyAccessToken(signIn.tokens.accessToken, claims.client_id), claims)
    await rejectsWith(ctx.pool.verifyAccessToken(signIn.tokens.accessToken, 'another-client'), {
      code: 'NotAuthorizedException',
    })
    assert.throws(() => ctx.pool.verifyAccessTokenSync(signIn.tokens.accessToken, 'another-client'), {
      code: 'NotAuthorizedException',
    })
    assert.equal(claims.username, 'alice')
    assert.equal(claims.exp, ctx.clock.now / 1000 + 3600)

    const jwks = ctx.pool.jwks()
    assert.ok(Array.isArray(jwks.keys) && jwks.keys.length > 0)
    assert.equal(ctx.pool.poolId, 'local_node_tests')
    assert.equal(ctx.pool.issuer, 'https://userpool.local/local_node_tests')
    assert.match(ctx.pool.config(), /pool_id = "local_node_tests"/)
    assert.match(ctx.pool.config(), /\[password_hashing\]/)

    const page = await ctx.pool.listUsers({ filter: 'email ^= "ali"', limit: 10 })
    assert.deepEqual(page.users.map((u) => u.username), ['alice'])
    const events = await ctx.pool.adminListUserAuthEvents('alice')
    assert.ok(events.some((e) => e.kind === 'SignIn' && e.success === true && typeof e.atMs === 'number'))
    assert.equal(await ctx.pool.adminResetUserPassword('alice').then((d) => d.channel), 'EMAIL')
  })
})

describe('printing', () => {
  /** Asserts that printing `value` shows none of `secrets`, and says where they were. */
  const printsNone = (value, secrets) => {
    const printed = inspect(value, { depth: null })
    for (const secret of secrets) {
      assert.ok(typeof secret === 'string' && secret.length >= 6, `not a secret: ${secret}`)
      assert.ok(!printed.includes(secret), `printed a secret: ${printed}`)
    }
    assert.match(printed, /'<redacted>'/)
  }

  test('tokens, sessions, TOTP secrets and codes print as <redacted>, and stay readable', async () => {
    const ctx = await openPool({ mfa: { mode: 'optional', methods: ['totp'] } })
    const tokens = await signedIn(ctx)
    const [message] = ctx.messages
    printsNone(message, [message.code, message.text, message.destination])
    assert.ok(!inspect(message).includes('alice'), `no address or username: ${inspect(message)}`)
    assert.match(inspect(message), /purpose: 'sign_up'/)

    const secrets = [tokens.idToken, tokens.accessToken, tokens.refreshToken]
    const signIn = await ctx.pool.signIn('alice', PASSWORD)
    printsNone(signIn, [signIn.tokens.idToken, signIn.tokens.accessToken, signIn.tokens.refreshToken])
    printsNone(tokens, secrets)
    // Inside the app's own objects too.
    printsNone({ user: 'alice', tokens }, secrets)

    const refreshed = await ctx.pool.refresh(tokens.refreshToken)
    printsNone(refreshed, [refreshed.idToken, refreshed.accessToken, refreshed.refreshToken])
    const setup = await ctx.pool.associateSoftwareToken(tokens.accessToken)
    printsNone(setup, [setup.secret, setup.uri])

    // What the app does with them is unchanged.
    assert.equal(refreshed.accessToken.split('.').length, 3)
    assert.equal(JSON.parse(JSON.stringify(refreshed)).accessToken, refreshed.accessToken)
    assert.deepEqual(Object.keys(refreshed).sort(), ['accessToken', 'expiresIn', 'idToken', 'refreshToken', 'tokenType'])
    assert.equal({ ...setup }.secret, setup.secret)
    assert.deepEqual({ ...setup }, { secret: setup.secret, uri: setup.uri })
    assert.match(setup.uri, /^otpauth:\/\/totp\//)
  })

  test('a result that cannot be marked still arrives, as it is', async () => {
    const ctx = await openPool()
    const tokens = await signedIn(ctx)
    // Marking fails; the refresh has happened, so its tokens must not be lost.
    const define = Object.defineProperty
    Object.defineProperty = () => {
      throw new Error('no defineProperty here')
    }
    let refreshed
    try {
      refreshed = await ctx.pool.refresh(tokens.refreshToken)
    } finally {
      Object.defineProperty = define
    }
    assert.equal(refreshed.accessToken.split('.').length, 3)
    assert.ok(inspect(refreshed).includes(refreshed.refreshToken), 'resolved unmarked')
    await ctx.pool.refresh(refreshed.refreshToken)
  })

  test('a sign-in challenge prints without its session or TOTP secret', async () => {
    const ctx = await openPool({ mfa: { mode: 'required', methods: ['totp'] } })
    await ctx.pool.signUp('bob', PASSWORD, { email: 'bob@example.com' })
    await ctx.pool.confirmSignUp('bob', ctx.lastCode('bob@example.com'))
    const challenge = await ctx.pool.signIn('bob', PASSWORD)
    assert.equal(challenge.nextStep, 'CONTINUE_SIGN_IN_WITH_TOTP_SETUP')
    printsNone(challenge, [challenge.session, challenge.totpSetup.secret, challenge.totpSetup.uri])
    assert.match(inspect(challenge), /nextStep: 'CONTINUE_SIGN_IN_WITH_TOTP_SETUP'/)
    const setup = await ctx.pool.associateSoftwareTokenWithSession(challenge.session)
    printsNone(setup, [setup.secret, setup.uri])
  })
})

describe('errors', () => {
  test('a rejection is an Error whose code and name are the Cognito exception name', async () => {
    const ctx = await openPool()
    await signedIn(ctx)
    const error = await ctx.pool.signUp('alice', PASSWORD, { email: 'other@example.com' }).catch((e) => e)
    assert.ok(error instanceof Error)
    assert.equal(error.code, 'UsernameExistsException')
    assert.equal(error.name, 'UsernameExistsException')
    assert.match(error.message, /already exists/)
    assert.doesNotMatch(error.message, /correct horse/)
    await rejectsWith(ctx.pool.signIn('alice', 'wrong password!'), { code: 'NotAuthorizedException' })
    await rejectsWith(ctx.pool.confirmSignUp('alice', '000000'), (e) => e.code.endsWith('Exception'))
  })

  test('only an object\'s own properties are read: nothing inherited slips into a call', async () => {
    const { pool, messages } = await openPool()
    Object.prototype.email_verified = 'true'
    try {
      // Inherited, it would be an administrator's word that the address is verified.
      const created = await pool.adminCreateUser('eve', { email: 'eve@example.com' }, 'Temp-Passw0rd!', false)
      assert.notEqual(Object.getOwnPropertyDescriptor(created.user.attributes, 'email_verified')?.value, 'true')
      const withPrototype = Object.create({ email: 'inherited@example.com' })
      withPrototype.name = 'Own'
      await pool.adminUpdateUserAttributes('eve', withPrototype)
      assert.equal((await pool.adminGetUser('eve')).attributes.email, 'eve@example.com')
      assert.equal(messages.length, 0)
      // Inherited options are not options: a polluted prototype cannot take the codes.
      let leaked = false
      Object.prototype.delivery = () => {
        leaked = true
      }
      Object.prototype.passwordHash = '$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'
      const other = await UserPool.open({ config: { password_hashing: FAST_HASHING } })
      // No delivery of its own: the code cannot go out, and the inherited function got nothing.
      await rejectsWith(other.signUp('frank', PASSWORD, { email: 'frank@example.com' }), {
        code: 'CodeDeliveryFailureException',
      })
      assert.equal(leaked, false)
      const [imported] = await pool.adminImportUsers([{ username: 'gina' }])
      assert.ok(imported.sub, 'imported without a password')
      assert.equal((await pool.adminGetUser('gina')).status, 'RESET_REQUIRED', 'no inherited password hash')
    } finally {
      delete Object.prototype.email_verified
      delete Object.prototype.delivery
      delete Object.prototype.passwordHash
    }
    await rejectsWith(pool.signUp('bob', PASSWORD, { 'a\0b': 'x' }), typeError(/attributes has a property name with a NUL character/))
  })

  test('arguments of the wrong type reject with a TypeError, never a crash', async () => {
    const { pool } = await openPool()
    await rejectsWith(pool.signUp(42, PASSWORD), typeError(/username must be a string, not a number/))
    await rejectsWith(pool.signUp(), typeError(/username must be a string, not undefined/))
    await rejectsWith(pool.signUp('bob', null), typeError(/password must be a string, not null/))
    await rejectsWith(pool.signUp('bob', PASSWORD, { email: 42 }), typeError(/attributes\["email"\] must be a string, not a number/))
    await rejectsWith(pool.signUp('bob', PASSWORD, { email: { nested: true } }), typeError(/must be a string, not an object/))
    await rejectsWith(pool.signUp('bob', PASSWORD, ['email']), typeError(/attributes must be an object, not an array/))
    await rejectsWith(pool.signUp('bob', PASSWORD, 'email=x'), typeError(/attributes must be an object/))
    await rejectsWith(pool.signIn(Symbol('alice'), PASSWORD), typeError(/not a symbol/))
    await rejectsWith(pool.signIn(10n, PASSWORD), typeError(/not a bigint/))
    await rejectsWith(pool.deleteUserAttributes('token', 'name'), typeError(/names must be an array of strings/))
    await rejectsWith(pool.adminDeleteUserAttributes('bob', ['name', 7]), typeError(/names\[1\] must be a string/))
    await rejectsWith(pool.adminSetUserPassword('bob', PASSWORD, 'yes'), typeError(/permanent must be a boolean/))
    await rejectsWith(pool.adminCreateUser('bob', {}, undefined, 1), typeError(/sendInvitation must be a boolean/))
    await rejectsWith(pool.listUsers({ limit: -1 }), typeError(/limit must be a whole number/))
    await rejectsWith(pool.listUsers({ limit: 1.5 }), typeError(/limit must be a whole number/))
    await rejectsWith(pool.listUsers({ limit: '10' }), typeError(/limit must be a number, not a string/))
    await rejectsWith(pool.listUsers({ limt: 10 }), typeError(/no option "limt"/))
    await rejectsWith(pool.listUsers('email = "x"'), typeError(/options must be an object/))
    await rejectsWith(pool.verifyIdToken('token', 5), typeError(/clientId must be a string/))
    await rejectsWith(pool.setMfaPreference('token', { totp: 'ON' }), typeError(/preferences.totp must be ENABLED, DISABLED/))
    await rejectsWith(pool.setMfaPreference('token', { otp: 'ENABLED' }), typeError(/no option "otp"/))
    await rejectsWith(pool.adminSetUserMfaPreference('bob', null), typeError(/preferences must be an object, not null/))
    await rejectsWith(pool.createGroup('staff', null, -5), typeError(/precedence must be a whole number/))
    assert.throws(() => pool.verifyAccessTokenSync(undefined), typeError(/token must be a string/))
    assert.throws(() => pool.withClient(null), typeError(/clientId must be a string/))
    assert.throws(() => userpool.secretHash('s', 'u'), typeError(/clientId must be a string/))
  })

  test('a Map or another built-in is refused where a plain object goes; an object from any realm is taken', async () => {
    const { pool } = await openPool()
    await pool.adminCreateUser('bob', { email: 'bob@example.com' }, 'Temp-Passw0rd!', false)
    const asMap = new Map([['name', 'Bob']])
    // Read as an object, a Map has no own properties: the update would succeed, changing nothing.
    await rejectsWith(pool.adminUpdateUserAttributes('bob', asMap), typeError(/attributes must be a plain object, not \[object Map\]/))
    await rejectsWith(pool.signUp('carl', PASSWORD, new Date()), typeError(/not \[object Date\]/))
    await rejectsWith(UserPool.open(new Map([['path', 'x.sqlite3']])), typeError(/options must be a plain object, not \[object Map\]/))
    class Named {
      constructor() {
        this.name = 'Robert'
      }
    }
    await pool.adminUpdateUserAttributes('bob', new Named())
    await pool.adminUpdateUserAttributes('bob', runInNewContext("({ nickname: 'Bobby' })"))
    await pool.adminUpdateUserAttributes('bob', Object.assign(Object.create(null), { given_name: 'Bo' }))
    await pool.adminUpdateUserAttributes('bob', await import('data:text/javascript,export const family_name = "Bell"'))
    const { attributes } = await pool.adminGetUser('bob')
    assert.deepEqual(
      [attributes.name, attributes.nickname, attributes.given_name, attributes.family_name],
      ['Robert', 'Bobby', 'Bo', 'Bell'],
    )
  })

  test('lone surrogates are refused, not silently replaced', async () => {
    const ctx = await openPool()
    await rejectsWith(ctx.pool.signUp('bob\uD800', PASSWORD), typeError(/username must be well-formed Unicode/))
    await rejectsWith(ctx.pool.signUp('bob', `${PASSWORD}\uDC00`), typeError(/password must be well-formed Unicode/))
    await rejectsWith(ctx.pool.signUp('bob', PASSWORD, { name: 'B\uDFFFob' }), typeError(/attributes\["name"\]/))
    // A well-formed pair is fine.
    const result = await ctx.pool.signUp('bob', PASSWORD, { email: 'bob@example.com', name: 'Bob \uD83D\uDE00' })
    assert.equal(result.nextStep, 'CONFIRM_SIGN_UP')
  })

  test('a property name with a lone surrogate is refused, not dropped', async () => {
    const { pool } = await openPool()
    const attributes = { email: 'bob@example.com', ['custom:x\uD800']: 'v' }
    await rejectsWith(pool.signUp('bob', PASSWORD, attributes), typeError(/a property name of attributes must be well-formed/))
    await rejectsWith(pool.listUsers({ ['limit\uDC00']: 5 }), typeError(/a property name of options must be well-formed/))
    await rejectsWith(pool.adminGetUser('bob'), { code: 'UserNotFoundException' })
  })

  test('a getter or Proxy trap that throws rejects the call, it does not throw', async () => {
    const { pool } = await openPool()
    const boom = new Error('boom')
    const getter = { get email() { throw boom } }
    const trap = (name, target = {}) => new Proxy(target, { [name]() { throw boom } })
    const items = Object.defineProperty([], 0, { get() { throw boom }, enumerable: true })
    const calls = [
      () => pool.signUp('bob', PASSWORD, getter),
      () => pool.signUp('bob', PASSWORD, trap('ownKeys')),
      () => pool.signUp('bob', PASSWORD, trap('getOwnPropertyDescriptor', { email: 'bob@example.com' })),
      () => pool.listUsers({ get limit() { throw boom } }),
      () => pool.listUsers(trap('ownKeys')),
      () => pool.adminImportUsers(items),
      () => pool.adminImportUsers([{ get username() { throw boom } }]),
      () => UserPool.open({ get clock() { throw boom } }),
      () => UserPool.open(trap('getOwnPropertyDescriptor')),
    ]
    for (const call of calls) {
      let promise
      assert.doesNotThrow(() => { promise = call() }, `${call}`)
      await assert.rejects(promise, (error) => error === boom, `${call}`)
    }
    await rejectsWith(pool.adminGetUser('bob'), { code: 'UserNotFoundException' })
  })

  test('each open option is read once, so what was checked is what is used', async () => {
    const reads = {}
    // Each getter answers as asked the first time and with a wrong type after that.
    const options = {}
    const define = (name, first) => Object.defineProperty(options, name, {
      get() {
        reads[name] = (reads[name] ?? 0) + 1
        return reads[name] === 1 ? first : 'not what was checked'
      },
      enumerable: true,
    })
    const delivered = []
    define('delivery', (message) => { delivered.push(message.destination) })
    define('clock', () => 1_700_000_000_000)
    define('encryptionKey', new Uint8Array(32).fill(7))
    const pool = await UserPool.open(options)
    assert.deepEqual(reads, { delivery: 1, clock: 1, encryptionKey: 1 })
    await pool.signUp('bob', PASSWORD, { email: 'bob@example.com' })
    assert.deepEqual(delivered, ['bob@example.com'])
    pool.close()
  })

  test('huge strings are an InvalidParameterException from core, not a crash', async () => {
    const { pool } = await openPool()
    const huge = 'x'.repeat(16 * 1024 * 1024)
    await rejectsWith(pool.signUp('bob', huge), { code: 'InvalidParameterException' })
    await rejectsWith(pool.signUp(huge, PASSWORD), { code: 'InvalidParameterException' })
    await rejectsWith(pool.signUp('bob', PASSWORD, { name: huge, email: 'b@example.com' }), { code: 'InvalidParameterException' })
    await rejectsWith(pool.verifyAccessToken(huge), { code: 'NotAuthorizedException' })
  })

  test('bad open options reject with a TypeError or a configuration error', async () => {
    await rejectsWith(UserPool.open('pool.db'), typeError(/options must be an object, not a string/))
    await rejectsWith(UserPool.open({ pth: 'x.db' }), typeError(/no option "pth"/))
    await rejectsWith(UserPool.open({ config: 42 }), typeError(/options.config must be an object, not a number/))
    await rejectsWith(UserPool.open({ delivery: 'console' }), typeError(/options.delivery must be a function, not a string/))
    await rejectsWith(UserPool.open({ clock: Date.now() }), typeError(/options.clock must be a function, not a number/))
    await rejectsWith(UserPool.open({ encryptionKey: 'secret' }), typeError(/encryptionKey must be a Uint8Array/))
    await rejectsWith(
      UserPool.open({ encryptionKey: new Uint16Array(16) }),
      typeError(/encryptionKey must be a Uint8Array or Buffer, not another typed array/),
    )
    await rejectsWith(UserPool.open({ path: 7 }), typeError(/options.path must be a string/))
    await rejectsWith(UserPool.open({ existingOnly: 'yes' }), typeError(/options.existingOnly must be a boolean, not a string/))
    await rejectsWith(UserPool.open({ config: { pool_id: 'x', no_such_key: 1 } }), { code: 'InvalidUserPoolConfigurationException' })
    await rejectsWith(UserPool.open({ config: 'pool_id = ' }), { code: 'InvalidUserPoolConfigurationException' })
    const fromJson = await UserPool.open({ config: JSON.stringify({ pool_id: 'from_json' }) })
    assert.equal(fromJson.poolId, 'from_json')
    fromJson.close()
    // Refused for its key: no file is made.
    const dir = mkdtempSync(join(tmpdir(), 'userpool-node-'))
    const path = join(dir, 'new.sqlite3')
    await rejectsWith(UserPool.open({ path, encryptionKey: new Uint8Array(5) }), { code: 'InvalidParameterException' })
    assert.equal(existsSync(path), false)
    // A sealed pool opens with its own key only: another, or none, is the host's configuration.
    ;(await UserPool.open({ path, encryptionKey: new Uint8Array(32).fill(1) })).close()
    for (const encryptionKey of [new Uint8Array(32).fill(2), undefined]) {
      await rejectsWith(UserPool.open({ path, encryptionKey }), { code: 'InvalidUserPoolConfigurationException' })
    }
    rmSync(dir, { recursive: true })
    await rejectsWith(
      UserPool.open({ config: { toJSON: () => undefined } }),
      typeError(/JSON.stringify\(options.config\) must be a string, not undefined/),
    )
    const cyclic = { pool_id: 'x' }
    cyclic.self = cyclic
    for (const config of [cyclic, { pool_id: 1n }]) {
      const error = await UserPool.open({ config }).catch((e) => e)
      typeError(/options.config cannot be written as JSON/)(error)
      assert.ok(error.cause instanceof TypeError, `the cause is JSON.stringify's own error: ${error.cause}`)
    }
    // Values JSON.stringify would write as null or leave out, which the engine takes as unset.
    const lost = [
      [{ custom_attributes: [{ name: 'age', type: 'number', min: Number('not a number') }] }, /"min" is NaN/],
      [{ clients: [{ id: 'web', access_token_validity_secs: Infinity }] }, /"access_token_validity_secs" is Infinity/],
      [{ clients: [{ id: 'backend', secret: () => 'from a function' }] }, /"secret" is a function/],
    ]
    for (const [config, reason] of lost) {
      const error = await UserPool.open({ config }).catch((e) => e)
      typeError(/options.config cannot be written as JSON/)(error)
      assert.match(error.cause.message, reason)
    }
    const unset = await UserPool.open({ config: { pool_id: 'undefined_is_unset', issuer: undefined } })
    assert.equal(unset.poolId, 'undefined_is_unset')
  })

  test('a TOML configuration works as well as an object', async () => {
    const toml = `pool_id = "from_toml"\n[password_hashing]\nmemory_kib = 256\niterations = 1\ndangerous_allow_weak = true\n`
    const pool = await UserPool.open({ config: toml })
    assert.equal(pool.poolId, 'from_toml')
  })
})

describe('delivery', () => {
  const user = ['carol', PASSWORD, { email: 'carol@example.com' }]

  test('the delivery function receives every field of the message', async () => {
    const ctx = await openPool()
    await ctx.pool.signUp(...user)
    assert.equal(ctx.messages.length, 1)
    const [message] = ctx.messages
    assert.deepEqual(Object.keys(message).sort(), ['channel', 'code', 'destination', 'purpose', 'subject', 'text', 'username'])
    assert.equal(message.channel, 'EMAIL')
    assert.equal(message.destination, 'carol@example.com')
    assert.equal(message.purpose, 'sign_up')
    assert.equal(message.username, 'carol')
    assert.match(message.code, /^\d{6}$/)
    assert.ok(message.text.includes(message.code))
    assert.equal(message.subject, 'Your verification code')
  })

  test('an asynchronous delivery function is awaited before the operation settles', async () => {
    const sent = []
    const pool = await UserPool.open({
      config: { password_hashing: FAST_HASHING },
      delivery: async (message) => {
        await new Promise((resolve) => setTimeout(resolve, 20))
        sent.push(message)
      },
    })
    await pool.signUp(...user)
    assert.equal(sent.length, 1)
  })

  for (const [how, delivery] of [
    ['throws', (error) => () => { throw error }],
    ['rejects', (error) => async () => { throw error }],
    ['returns a rejected Promise', (error) => () => Promise.reject(error)],
    ['returns a thenable that rejects', (error) => () => ({ then: (_resolve, reject) => reject(error) })],
  ]) {
    test(`a delivery function that ${how} fails the operation with its error as cause, changing nothing`, async () => {
      const cause = new Error('SMTP server said no')
      let failing = true
      const pool = await UserPool.open({
        config: { password_hashing: FAST_HASHING },
        delivery: (message) => (failing ? delivery(cause)(message) : undefined),
      })
      const error = await pool.signUp(...user).catch((e) => e)
      assert.ok(error instanceof Error)
      assert.equal(error.code, 'CodeDeliveryFailureException')
      assert.equal(error.name, 'CodeDeliveryFailureException')
      assert.equal(error.cause, cause, 'the cause is the very object the delivery function threw')
      assert.doesNotMatch(error.message, /SMTP/, 'the host’s message stays in the cause')
      await rejectsWith(pool.adminGetUser('carol'), { code: 'UserNotFoundException' })
      failing = false
      assert.equal((await pool.signUp(...user)).nextStep, 'CONFIRM_SIGN_UP')
    })
  }

  for (const [how, delivery] of [
    ['returns false', () => false],
    ['resolves to false', async () => false],
    ['returns a thenable of false', () => ({ then: (resolve) => resolve(false) })],
  ]) {
    test(`a delivery function that ${how} has not sent the message: the operation fails, changing nothing`, async () => {
      let failing = true
      const pool = await UserPool.open({
        config: { password_hashing: FAST_HASHING },
        delivery: (message) => (failing ? delivery(message) : undefined),
      })
      const error = await pool.signUp(...user).catch((e) => e)
      assert.equal(error.code, 'CodeDeliveryFailureException')
      assert.equal(error.cause, undefined)
      await rejectsWith(pool.adminGetUser('carol'), { code: 'UserNotFoundException' })
      failing = false
      assert.equal((await pool.signUp(...user)).nextStep, 'CONFIRM_SIGN_UP')
    })
  }

  test('any answer but false counts as sent', async () => {
    for (const answer of [undefined, null, 0, '', true, 'sent', {}]) {
      const pool = await UserPool.open({ config: { password_hashing: FAST_HASHING }, delivery: async () => answer })
      assert.equal((await pool.signUp(...user)).nextStep, 'CONFIRM_SIGN_UP', `answer ${String(answer)}`)
    }
  })

  test('a thrown non-Error value is carried as the cause too', async () => {
    const pool = await UserPool.open({
      config: { password_hashing: FAST_HASHING },
      delivery: () => {
        throw 'quota exceeded' // eslint-disable-line no-throw-literal
      },
    })
    const error = await pool.signUp(...user).catch((e) => e)
    assert.equal(error.code, 'CodeDeliveryFailureException')
    assert.equal(error.cause, 'quota exceeded')
  })

  test('a delivery function may itself call the pool', async () => {
    let seen
    const pool = await UserPool.open({
      config: { password_hashing: FAST_HASHING },
      delivery: async () => {
        seen = (await pool.listUsers()).users.length
      },
    })
    await pool.adminCreateUser('gina', { email: 'gina@example.com' }, null, false)
    await pool.signUp(...user)
    assert.equal(seen, 1, 'the delivery saw the pool as it was before the sign-up')
  })

  test('more operations than worker threads settle when each delivery calls the pool', { timeout: 30_000 }, async () => {
    // Past 512 busy workers, jobs queue. A worker waiting for its delivery must not count as
    // busy: each delivery here waits for a pool call, which would queue behind the waits.
    const pool = await UserPool.open({
      config: { password_hashing: FAST_HASHING },
      delivery: async () => {
        await pool.adminGetUser('gina')
      },
    })
    await pool.adminCreateUser('gina', { email: 'gina@example.com' }, null, false)
    const names = Array.from({ length: 600 }, (_, i) => `crowd${i}`)
    const results = await Promise.all(names.map((name) => pool.signUp(name, PASSWORD, { email: `${name}@example.com` })))
    assert.equal(results.filter((r) => r.nextStep === 'CONFIRM_SIGN_UP').length, 600)
  })

  test('without a delivery function, sending a code fails (core refuses by default)', async () => {
    const pool = await UserPool.open({ config: { password_hashing: FAST_HASHING } })
    await rejectsWith(pool.signUp(...user), { code: 'CodeDeliveryFailureException' })
    await rejectsWith(pool.adminGetUser('carol'), { code: 'UserNotFoundException' })
  })

  test('a delivery that needs libuv’s thread pool does not deadlock many operations', async () => {
    // Each delivery awaits work that runs on libuv's pool (4 threads by default) while 12
    // operations wait for their deliveries: operations must not hold that pool.
    const dir = mkdtempSync(join(tmpdir(), 'userpool-node-'))
    try {
      const pool = await UserPool.open({
        config: { password_hashing: FAST_HASHING },
        delivery: async (message) => {
          await promisify(pbkdf2)(message.code, 'salt', 1000, 32, 'sha256')
          await writeFile(join(dir, `${message.username}.txt`), message.text)
        },
      })
      const names = Array.from({ length: 12 }, (_, i) => `user${i}`)
      const results = await Promise.all(names.map((n) => pool.signUp(n, PASSWORD, { email: `${n}@example.com` })))
      assert.equal(results.length, 12)
      assert.match(readFileSync(join(dir, 'user11.txt'), 'utf8'), /\d{6}/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('clock', () => {
  test('time comes from the clock function, for asynchronous and synchronous calls', async () => {
    const ctx = await openPool()
    const tokens = await signedIn(ctx)
    ctx.clock.now += 3599_000
    assert.equal(ctx.pool.verifyAccessTokenSync(tokens.accessToken).username, 'alice')
    ctx.clock.now += 1_000
    assert.throws(() => ctx.pool.verifyAccessTokenSync(tokens.accessToken), { code: 'NotAuthorizedException' })
    await rejectsWith(ctx.pool.verifyAccessToken(tokens.accessToken), { code: 'NotAuthorizedException', message: /expired/ })
    assert.equal((await ctx.pool.refresh(tokens.refreshToken)).tokenType, 'Bearer')
  })

  test('a clock function that fails after giving readings leaves a success standing, with a warning', async () => {
    const cause = new Error('no time')
    let broken = false
    const pool = await UserPool.open({
      config: { password_hashing: FAST_HASHING },
      delivery: () => {},
      clock: () => {
        if (broken) throw cause
        return 1_700_000_000_000
      },
    })
    broken = true
    const warned = new Promise((resolve) => process.once('warning', resolve))
    // The user is made (a retry would find the name taken), so the result must not be lost.
    const signUp = await pool.signUp('dave', PASSWORD, { email: 'dave@example.com' })
    assert.equal(signUp.nextStep, 'CONFIRM_SIGN_UP')
    const warning = await warned
    assert.match(warning.message, /clock function threw or did not return a number; the operation went on from its last good reading \(no time\)/)
    // A failure keeps the engine's code (and the delivery's cause), the clock a warning.
    const warnedAgain = new Promise((resolve) => process.once('warning', resolve))
    await rejectsWith(pool.signIn('nobody', PASSWORD), { code: 'NotAuthorizedException' })
    assert.match((await warnedAgain).message, /clock function threw/)
    broken = false
    const created = (await pool.adminGetUser('dave')).createdMs
    assert.ok(created >= 1_700_000_000_000 && created < 1_700_000_060_000, `in the clock's own time: ${created}`)
    // A synchronous call reads the clock before anything runs: nothing to keep, so it throws.
    broken = true
    assert.throws(() => pool.verifyAccessTokenSync('a.b.c'), (e) => e instanceof TypeError && e.cause === cause)
  })

  test('a clock function that returns something other than a number is refused', async () => {
    // Opening a pool reads the clock (new signing keys are dated), so open already fails.
    await rejectsWith(
      UserPool.open({ config: { password_hashing: FAST_HASHING }, clock: () => 'noon' }),
      (e) => e instanceof TypeError && /clock function threw or did not return a number/.test(e.message),
    )
    await rejectsWith(
      UserPool.open({ config: { password_hashing: FAST_HASHING }, clock: () => Number.NaN }),
      (e) => e instanceof TypeError && /finite number of unix milliseconds, not NaN/.test(e.message),
    )
    for (const epoch of [0, -5, 0.5]) {
      await rejectsWith(
        UserPool.open({ config: { password_hashing: FAST_HASHING }, clock: () => epoch }),
        (e) => e instanceof TypeError && /at or before 1970/.test(e.message),
      )
    }
    // Seconds and time since start are not unix milliseconds.
    for (const reading of [Math.floor(Date.now() / 1000), performance.now() + 1]) {
      await rejectsWith(
        UserPool.open({ config: { password_hashing: FAST_HASHING }, clock: () => reading }),
        (e) => e instanceof TypeError && /between the years 2000 and 3000/.test(e.message),
      )
    }
  })

  test('a clock function that fails at once fails the open before a file is made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'userpool-clock-'))
    try {
      const path = join(dir, 'users.sqlite3')
      const cause = new Error('no time')
      await rejectsWith(
        UserPool.open({ path, config: { password_hashing: FAST_HASHING }, clock: () => { throw cause } }),
        (e) => e instanceof TypeError && e.cause === cause,
      )
      assert.equal(existsSync(path), false, 'the open made the file before it failed')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('clients', () => {
  const config = {
    password_hashing: FAST_HASHING,
    clients: [{ id: 'web' }, { id: 'server', secret: 's3cret-0123456789abcdef' }],
  }

  test('withClient and withClientSecretHash act as another app client', async () => {
    const ctx = await openPool(config)
    assert.throws(() => ctx.pool.withClient('nope'), { code: 'ResourceNotFoundException' })
    assert.throws(() => ctx.pool.withClient('server', 'wrong'), { code: 'NotAuthorizedException' })
    await rejectsWith(ctx.pool.withClient('server').signUp('erin', PASSWORD, { email: 'erin@example.com' }), {
      code: 'NotAuthorizedException',
    })
    const server = ctx.pool.withClient('server', 's3cret-0123456789abcdef')
    assert.doesNotMatch(ctx.pool.config(), /s3cret/, 'config() may be logged: no client secret in it')
    await server.signUp('erin', PASSWORD, { email: 'erin@example.com' })
    await server.confirmSignUp('erin', ctx.lastCode('erin@example.com'))
    const tokens = (await server.signIn('erin', PASSWORD)).tokens
    assert.equal(server.verifyAccessTokenSync(tokens.accessToken).client_id, 'server')

    const hash = userpool.secretHash('s3cret-0123456789abcdef', 'erin', 'server')
    assert.equal(hash, createHmac('sha256', 's3cret-0123456789abcdef').update('erinserver').digest('base64'))
    const hashed = ctx.pool.withClientSecretHash('server', hash)
    assert.equal((await hashed.signIn('erin', PASSWORD)).nextStep, 'DONE')
    await rejectsWith(ctx.pool.withClientSecretHash('server', 'bm9wZQ==').signIn('erin', PASSWORD), {
      code: 'NotAuthorizedException',
    })
    const claims = await ctx.pool.withClient('web').verifyIdToken(tokens.idToken, 'server')
    assert.equal(claims.aud, 'server')
  })
})

describe('import', () => {
  test('adminImportUsers resolves with one outcome per user, in order', async () => {
    const { pool } = await openPool()
    const outcomes = await pool.adminImportUsers([
      { username: 'ivan', attributes: { email: 'ivan@example.com', email_verified: 'true' } },
      { username: 'ivan', attributes: { email: 'other@example.com' } },
      { username: 'bad name with spaces' },
    ])
    assert.equal(outcomes.length, 3)
    assert.match(outcomes[0].sub, /^[0-9a-f-]{36}$/)
    assert.equal(outcomes[1].code, 'UsernameExistsException')
    assert.equal(outcomes[2].code, 'InvalidParameterException')
    assert.equal(typeof outcomes[2].message, 'string')
    assert.equal((await pool.adminGetUser('ivan')).status, 'RESET_REQUIRED')
    await rejectsWith(pool.adminImportUsers({ username: 'x' }), typeError(/users must be an array of users/))
    await rejectsWith(pool.adminImportUsers([{ name: 'x' }]), typeError(/users\[0\] has no option "name"/))
  })
})

describe('storage', () => {
  test('a path opens a SQLite file that a second pool sees', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'userpool-node-'))
    try {
      const path = join(dir, 'users.db')
      const options = { path, config: { password_hashing: FAST_HASHING }, delivery: () => {} }
      const first = await UserPool.open(options)
      await first.adminCreateUser('frank', { email: 'frank@example.com' }, PASSWORD, false)
      const second = await UserPool.open(options)
      assert.equal((await second.adminGetUser('frank')).status, 'FORCE_CHANGE_PASSWORD')
      assert.deepEqual(second.jwks(), first.jwks())
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a backup opens as the pool it copied, and never replaces a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'userpool-node-'))
    try {
      const options = { config: { password_hashing: FAST_HASHING }, delivery: () => {} }
      const pool = await UserPool.open({ path: join(dir, 'users.db'), ...options })
      await pool.adminCreateUser('frank', { email: 'frank@example.com' }, PASSWORD, false)
      const dest = join(dir, 'backup.db')
      assert.equal(await pool.backupTo(dest), undefined)
      await pool.adminCreateUser('grace', { email: 'grace@example.com' }, PASSWORD, false)
      assert.equal(statSync(dest).mode & 0o777, 0o600)
      const copy = await UserPool.open({ path: dest, existingOnly: true, ...options })
      assert.equal((await copy.adminGetUser('frank')).status, 'FORCE_CHANGE_PASSWORD')
      await rejectsWith(copy.adminGetUser('grace'), { code: 'UserNotFoundException' })
      assert.deepEqual(copy.jwks(), pool.jwks())
      await rejectsWith(pool.backupTo(dest), { code: 'InvalidParameterException', message: /exists already/ })
      await rejectsWith(pool.backupTo(join(dir, 'missing', 'b.db')), { code: 'InvalidParameterException' })
      await rejectsWith(pool.backupTo(7), typeError(/dest must be a string, not a number/))
      const inMemory = await UserPool.open(options)
      await rejectsWith(inMemory.backupTo(join(dir, 'm.db')), { code: 'InvalidParameterException', message: /in memory/ })
      copy.close()
      pool.close()
      // Without opening the file as a pool.
      await UserPool.backupFile(join(dir, 'users.db'), join(dir, 'offline.db'))
      const offline = await UserPool.open({ path: join(dir, 'offline.db'), existingOnly: true, ...options })
      assert.equal((await offline.adminGetUser('grace')).status, 'FORCE_CHANGE_PASSWORD')
      offline.close()
      await rejectsWith(UserPool.backupFile(join(dir, 'nothing.db'), join(dir, 'x.db')), {
        code: 'InvalidParameterException',
        message: /does not exist/,
      })
      await rejectsWith(UserPool.backupFile(7, 'x.db'), typeError(/path must be a string, not a number/))
      const names = readdirSync(dir).filter((name) => !/^(users|backup|offline)\.db/.test(name))
      assert.deepEqual(names, [], 'nothing else is left in the directory')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('existingOnly opens what is there and creates nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'userpool-node-'))
    try {
      const config = { pool_id: 'local_node', password_hashing: FAST_HASHING }
      const missing = join(dir, 'missing.db')
      await rejectsWith(UserPool.open({ path: missing, config, existingOnly: true }), (e) => {
        assert.equal(e.code, 'InvalidParameterException')
        assert.match(e.message, /does not exist/)
        return true
      })
      assert.equal(existsSync(missing), false)
      const otherApp = join(dir, 'other.db')
      writeFileSync(otherApp, '')
      await rejectsWith(UserPool.open({ path: otherApp, config, existingOnly: true }), {
        code: 'InvalidParameterException',
        message: /holds no userpool pools/,
      })
      assert.equal(readFileSync(otherApp).length, 0)

      const path = join(dir, 'users.db')
      const pool = await UserPool.open({ path, config, delivery: () => {} })
      await pool.adminCreateUser('frank', { email: 'frank@example.com' }, PASSWORD, false)
      const mistyped = { ...config, pool_id: 'local_ndoe' }
      for (let attempt = 0; attempt < 2; attempt++) {
        // The second attempt is refused too: the first made nothing.
        await rejectsWith(UserPool.open({ path, config: mistyped, existingOnly: true }), {
          code: 'ResourceNotFoundException',
          message: /User pool local_ndoe does not exist/,
        })
      }
      const admin = await UserPool.open({ path, config, existingOnly: true })
      assert.deepEqual((await admin.listUsers()).users.map((u) => u.username), ['frank'])
      await rejectsWith(UserPool.open({ config, existingOnly: true }), { code: 'ResourceNotFoundException' })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('closing', () => {
  test('a closed handle refuses new calls, lets running ones finish, and closes twice', async () => {
    const { pool } = await openPool()
    const view = pool.withClient('default')
    const running = pool.adminCreateUser('gina', { email: 'gina@example.com' }, null, false)
    pool.close()
    pool.close()
    assert.equal((await running).user.username, 'gina')
    await rejectsWith(pool.listUsers(), { code: 'InvalidParameterException', message: /closed/ })
    assert.throws(() => pool.verifyAccessTokenSync('x.y.z'), { code: 'InvalidParameterException' })
    assert.throws(() => pool.withClient('default'), { code: 'InvalidParameterException' })
    assert.equal(pool.poolId, view.poolId, 'what the handle was stays readable')
    assert.equal(pool.config(), view.config())
    assert.deepEqual((await view.listUsers()).users.map((u) => u.username), ['gina'], 'a view is a handle of its own')
  })

  test('a closed pool lets a delivery that refers to it be collected', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc')
    let collected = false
    const registry = new FinalizationRegistry(() => {
      collected = true
    })
    await (async () => {
      let pool
      const delivery = async () => {
        await pool.listUsers()
      }
      registry.register(delivery, 'delivery')
      pool = await UserPool.open({ config: { password_hashing: FAST_HASHING }, delivery })
      await pool.signUp('carol', PASSWORD, { email: 'carol@example.com' })
      pool.close()
    })()
    for (let round = 0; round < 50 && !collected; round++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.ok(collected, 'the delivery (and with it the pool) was never collected')
  })
})

describe('the event loop', () => {
  test('stays free while 20 sign-ins run', async () => {
    // OWASP's default hashing (19 MiB, two passes): each sign-in is real work.
    const ctx = await openPool({ password_hashing: { max_concurrent: 2 } })
    const names = Array.from({ length: 20 }, (_, i) => `member${i}`)
    for (const name of names) {
      await ctx.pool.adminCreateUser(name, { email: `${name}@example.com` }, null, false)
      await ctx.pool.adminSetUserPassword(name, PASSWORD, true)
    }
    const started = performance.now()
    const ticks = [started]
    const timer = setInterval(() => ticks.push(performance.now()), 1)
    let results
    try {
      results = await Promise.all(names.map((name) => ctx.pool.signIn(name, PASSWORD)))
    } finally {
      clearInterval(timer)
    }
    ticks.push(performance.now())
    assert.ok(results.every((r) => r.nextStep === 'DONE'))
    // Had the sign-ins hashed on this thread, the timer would have waited for all of them at
    // once: its longest wait would be about the whole run. (That it ticks at all proves
    // nothing: a Promise always settles on a later turn, after any timer that is due.)
    const longest = Math.max(...ticks.slice(1).map((at, i) => at - ticks[i]))
    const whole = ticks.at(-1) - started
    assert.ok(longest < whole / 2, `the event loop waited ${longest.toFixed(0)} ms of ${whole.toFixed(0)} ms`)
  })
})
