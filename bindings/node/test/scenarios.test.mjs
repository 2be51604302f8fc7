// Replays every fixtures/scenarios/*.json through the Node API, as core/tests/scenarios.rs does
// through Rust: the clock is the pool's `clock` function over a mutable time, `fail_delivery`
// makes the pool's `delivery` function reject, `totp` is otplib (an authenticator app
// independent of the engine), and results are turned into the canonical
// snake_case shapes of core's `scenario::result_json` here, in the runner, before `expect`.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'

import { generateSync } from 'otplib'

import { UserPool } from './helpers.mjs'

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'scenarios')
const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()

// ── the canonical shapes (core/src/scenario.rs, `result_json`) ────────────────────────────

const orNull = (value, shape) => (value === undefined || value === null ? null : shape(value))
const delivery = (d) => ({ channel: d.channel, destination: d.destination, attribute: d.attribute })
const tokens = (t) => ({
  id_token: t.idToken,
  access_token: t.accessToken,
  refresh_token: t.refreshToken,
  expires_in: t.expiresIn,
  token_type: t.tokenType,
})
const signUp = (r) => ({
  user_sub: r.userSub,
  confirmed: r.confirmed,
  next_step: r.nextStep,
  code_delivery: orNull(r.codeDelivery, delivery),
})
const totpSetup = (t) => ({ secret: t.secret, uri: t.uri })
const signIn = (r) => ({
  next_step: r.nextStep,
  tokens: orNull(r.tokens, tokens),
  session: r.session ?? null,
  missing_attributes: r.missingAttributes,
  code_delivery: orNull(r.codeDelivery, delivery),
  allowed_mfa_types: r.allowedMfaTypes,
  totp_setup: orNull(r.totpSetup, totpSetup),
})
const user = (u) => ({
  username: u.username,
  sub: u.sub,
  status: u.status,
  enabled: u.enabled,
  attributes: u.attributes,
  mfa_enabled: u.mfaEnabled,
  preferred_mfa: u.preferredMfa ?? null,
  groups: u.groups,
  username_attribute: u.usernameAttribute ?? null,
})
const group = (g) => ({ name: g.name, description: g.description ?? null, precedence: g.precedence ?? null })
const userList = (l) => ({ users: l.users.map(user), pagination_token: l.paginationToken ?? null })
const preferences = (a) => ({ totp: a.totp, sms: a.sms, email: a.email })
const event = (e) => ({ kind: e.kind, success: e.success, detail: e.detail })
const done = () => null

// ── each operation: its Node method, and the canonical shape of its result ─────────────────

const OPS = {
  sign_up: (p, a) => p.signUp(a.username, a.password, a.attributes).then(signUp),
  confirm_sign_up: (p, a) => p.confirmSignUp(a.username, a.code).then(done),
  resend_sign_up_code: (p, a) => p.resendSignUpCode(a.username).then(delivery),
  sign_in: (p, a) => p.signIn(a.username, a.password).then(signIn),
  confirm_sign_in: (p, a) => p.confirmSignIn(a.session, a.answer, a.attributes).then(signIn),
  refresh: (p, a) => p.refresh(a.refresh_token).then(tokens),
  sign_out: (p, a) => p.signOut(a.refresh_token).then(done),
  global_sign_out: (p, a) => p.globalSignOut(a.access_token).then(done),
  verify_access_token: (p, a) => p.verifyAccessToken(a.token),
  verify_id_token: (p, a) => p.verifyIdToken(a.token, a.client_id),
  jwks: async (p) => p.jwks(),
  get_user: (p, a) => p.getUser(a.access_token).then(user),
  change_password: (p, a) => p.changePassword(a.access_token, a.old_password, a.new_password).then(done),
  update_user_attributes: (p, a) =>
    p.updateUserAttributes(a.access_token, a.attributes ?? {}).then((updates) =>
      updates.map((u) => ({ attribute: u.attribute, needs_code: u.needsCode, code_delivery: orNull(u.codeDelivery, delivery) })),
    ),
  get_user_attribute_verification_code: (p, a) =>
    p.getUserAttributeVerificationCode(a.access_token, a.attribute).then(delivery),
  verify_user_attribute: (p, a) => p.verifyUserAttribute(a.access_token, a.attribute, a.code).then(done),
  delete_user_attributes: (p, a) => p.deleteUserAttributes(a.access_token, a.names ?? []).then(done),
  delete_user: (p, a) => p.deleteUser(a.access_token).then(done),
  forgot_password: (p, a) => p.forgotPassword(a.username).then(delivery),
  confirm_forgot_password: (p, a) => p.confirmForgotPassword(a.username, a.code, a.new_password).then(done),
  admin_create_user: (p, a) =>
    p
      .adminCreateUser(a.username, a.attributes ?? {}, a.temporary_password, a.send_invitation ?? true)
      .then((c) => ({ user: user(c.user), code_delivery: orNull(c.codeDelivery, delivery) })),
  admin_get_user: (p, a) => p.adminGetUser(a.username).then(user),
  admin_delete_user: (p, a) => p.adminDeleteUser(a.username).then(done),
  admin_disable_user: (p, a) => p.adminDisableUser(a.username).then(done),
  admin_enable_user: (p, a) => p.adminEnableUser(a.username).then(done),
  admin_confirm_sign_up: (p, a) => p.adminConfirmSignUp(a.username).then(done),
  admin_reset_user_password: (p, a) => p.adminResetUserPassword(a.username).then((d) => orNull(d, delivery)),
  admin_set_user_password: (p, a) => p.adminSetUserPassword(a.username, a.password, a.permanent ?? false).then(done),
  admin_update_user_attributes: (p, a) => p.adminUpdateUserAttributes(a.username, a.attributes ?? {}).then(done),
  admin_delete_user_attributes: (p, a) => p.adminDeleteUserAttributes(a.username, a.names ?? []).then(done),
  admin_user_global_sign_out: (p, a) => p.adminUserGlobalSignOut(a.username).then(done),
  admin_import_users: (p, a) =>
    p
      .adminImportUsers(a.users.map((u) => ({ username: u.username, attributes: u.attributes, passwordHash: u.password_hash })))
      .then((outcomes) => outcomes.map((o) => ({ sub: o.sub ?? null, code: o.code ?? null }))),
  list_users: (p, a) => p.listUsers({ filter: a.filter, limit: a.limit, paginationToken: a.pagination_token }).then(userList),
  admin_list_user_auth_events: (p, a) => p.adminListUserAuthEvents(a.username, a.limit).then((e) => e.map(event)),
  rotate_signing_keys: (p) => p.rotateSigningKeys().then(done),
  revoke_signing_keys: (p) => p.revokeSigningKeys().then(done),
  associate_software_token: (p, a) =>
    (a.session === undefined ? p.associateSoftwareToken(a.access_token) : p.associateSoftwareTokenWithSession(a.session)).then(
      totpSetup,
    ),
  verify_software_token: (p, a) => p.verifySoftwareToken(a.access_token, a.code, a.friendly_name).then(done),
  set_mfa_preference: (p, a) => p.setMfaPreference(a.access_token, preferences(a)).then(done),
  admin_set_user_mfa_preference: (p, a) => p.adminSetUserMfaPreference(a.username, preferences(a)).then(done),
  create_group: (p, a) => p.createGroup(a.name, a.description, a.precedence).then(group),
  update_group: (p, a) => p.updateGroup(a.name, a.description, a.precedence).then(group),
  get_group: (p, a) => p.getGroup(a.name).then(group),
  list_groups: (p, a) =>
    p
      .listGroups({ limit: a.limit, paginationToken: a.pagination_token })
      .then((l) => ({ groups: l.groups.map(group), pagination_token: l.paginationToken ?? null })),
  delete_group: (p, a) => p.deleteGroup(a.name).then(done),
  admin_add_user_to_group: (p, a) => p.adminAddUserToGroup(a.username, a.group).then(done),
  admin_remove_user_from_group: (p, a) => p.adminRemoveUserFromGroup(a.username, a.group).then(done),
  admin_list_groups_for_user: (p, a) => p.adminListGroupsForUser(a.username).then((groups) => groups.map(group)),
  list_users_in_group: (p, a) => p.listUsersInGroup(a.group, { limit: a.limit, paginationToken: a.pagination_token }).then(userList),
}

// ── the runner ───────────────────────────────────────────────────────────────────────────

function lookup(value, path) {
  if (path === '') return value
  let current = value
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined
    current = Array.isArray(current) ? current[Number(part)] : current[part]
  }
  return current
}

function resolve(value, saved, messages) {
  if (typeof value === 'string' && value.startsWith('${') && value.endsWith('}')) {
    const reference = value.slice(2, -1)
    if (reference.startsWith('code:')) {
      // DEST#N: the code N messages before the newest to DEST.
      const [destination, back = '0'] = reference.slice('code:'.length).split('#')
      const message = messages.filter((m) => m.destination === destination).at(-1 - Number(back))
      if (!message) throw new Error(`no code #${back} was delivered to ${destination}`)
      return message.code
    }
    const dot = reference.indexOf('.')
    const [name, path] = dot < 0 ? [reference, ''] : [reference.slice(0, dot), reference.slice(dot + 1)]
    if (!(name in saved)) throw new Error(`nothing saved as ${name}`)
    const found = lookup(saved[name], path)
    if (found === undefined) throw new Error(`${reference} is not in the saved result`)
    return found
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, saved, messages))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v, saved, messages)]))
  }
  return value
}

function checkExpectations(value, expect) {
  for (const [path, expected] of Object.entries(expect)) {
    let actual
    if (path === 'length' || path.endsWith('.length')) {
      const list = lookup(value, path === 'length' ? '' : path.slice(0, -'.length'.length))
      actual = Array.isArray(list) ? list.length : null
    } else {
      actual = lookup(value, path) ?? null
    }
    assert.deepStrictEqual(actual, expected, `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
  }
}

// The fields of the format (core/src/scenario.rs): any other is a typo that would turn a
// check off, and is refused.
const SCENARIO_FIELDS = ['name', 'description', 'config', 'start_ms', 'steps']
const STEP_FIELDS = ['op', 'args', 'secs', 'expect', 'expect_error', 'save', 'expect_messages', 'note']
const unknownFields = (object, known) => Object.keys(object).filter((key) => !known.includes(key))

async function run(scenario) {
  assert.deepEqual(unknownFields(scenario, SCENARIO_FIELDS), [], 'unknown scenario fields')
  assert.ok(Array.isArray(scenario.steps), 'a scenario needs steps')
  let now = scenario.start_ms ?? 1_700_000_000_000
  let failing = false
  const messages = []
  const pool = await UserPool.open({
    config: scenario.config ?? {},
    // Asynchronous, so that every scenario also exercises a delivery that returns a Promise.
    delivery: async (message) => {
      if (failing) throw new Error('the scenario made delivery fail')
      messages.push(message)
    },
    clock: () => now,
  })
  const saved = {}
  for (const [i, step] of scenario.steps.entries()) {
    const at = `step ${i + 1} (${step.op})`
    assert.deepEqual(unknownFields(step, STEP_FIELDS), [], `${at}: unknown step fields`)
    const before = messages.length
    let outcome
    try {
      if (step.op === 'advance') {
        assert.equal(typeof step.secs, 'number', `${at}: advance needs secs`)
        now += step.secs * 1000
        outcome = { ok: null }
      } else if (step.op === 'totp') {
        // The authenticator app: otplib's RFC 6238, independent of the engine, at the pool's time.
        const args = resolve(step.args ?? {}, saved, messages)
        const epoch = Math.floor(now / 1000) + (args.offset_secs ?? 0)
        outcome = { ok: { code: generateSync({ secret: args.secret, epoch }) } }
      } else if (step.op === 'fail_delivery') {
        failing = step.args?.failing ?? true
        outcome = { ok: null }
      } else {
        const op = OPS[step.op]
        assert.ok(op, `${at}: the Node runner does not know the operation ${step.op}`)
        const args = resolve(step.args ?? {}, saved, messages)
        outcome = await op(pool, args).then(
          (ok) => ({ ok }),
          (error) => ({ error }),
        )
      }
    } catch (error) {
      throw new Error(`${at}: ${error.message}`, { cause: error })
    }
    const delivered = messages.length - before
    if (step.expect_messages !== undefined) {
      assert.equal(delivered, step.expect_messages, `${at}: expected ${step.expect_messages} messages, ${delivered} were delivered`)
    }
    if ('error' in outcome) {
      const { error } = outcome
      assert.ok(step.expect_error, `${at}: unexpected error ${error.code}: ${error.message}`)
      assert.ok(error instanceof Error, `${at}: rejected with something other than an Error`)
      assert.equal(error.code, step.expect_error, `${at}: expected ${step.expect_error}, got ${error.code}: ${error.message}`)
      assert.ok(error.message.length > 0, `${at}: the error has no message`)
    } else {
      assert.ok(!step.expect_error, `${at}: expected ${step.expect_error}, got success ${JSON.stringify(outcome.ok)}`)
      const expect = resolve(step.expect ?? {}, saved, messages)
      try {
        checkExpectations(outcome.ok, expect)
      } catch (error) {
        throw new Error(`${at}: ${error.message}`, { cause: error })
      }
      if (step.save) saved[step.save] = outcome.ok
    }
  }
}

test('the scenario fixtures are there', () => {
  assert.ok(files.length >= 30, `only ${files.length} scenario files in ${FIXTURES}`)
})

for (const file of files) {
  test(`scenario ${file}`, async () => {
    await run(JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')))
  })
}
