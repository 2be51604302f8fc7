// The Amplify journey in TypeScript: every name the package exports is typed (no `any`), so
// mistakes such as a misspelt step are compile errors. The test suite compiles it (`tsc -p
// examples/tsconfig.json`, into examples/build) and runs `journey()`.
import { createHmac } from 'node:crypto'
import { createLocalJWKSet, jwtVerify } from 'jose'
import {
  type Claims,
  type ErrorCode,
  type Message,
  type MfaMethod,
  type SignInResult,
  type Tokens,
  type UserPoolError,
  UserPool,
  errorCodes,
  secretHash,
} from 'userpool'

const outbox: Message[] = []

/** The code an authenticator app shows for a base32 secret now (RFC 6238: 30 s, 6 digits). */
function authenticatorCode(secret: string, nowMs: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  const bits = [...secret.replace(/=+$/, '')].map((c) => alphabet.indexOf(c).toString(2).padStart(5, '0')).join('')
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => parseInt(byte, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 30_000)))
  const mac = createHmac('sha1', key).update(counter).digest()
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0')
}

function isUserPoolError(error: unknown): error is UserPoolError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string'
}

async function nextStepOf(result: SignInResult): Promise<string> {
  switch (result.nextStep) {
    case 'DONE':
      return `signed in, the access token lasts ${result.tokens?.expiresIn ?? 0} s`
    case 'CONFIRM_SIGN_UP':
      return 'confirm the account first'
    case 'RESET_PASSWORD':
      return 'reset the password'
    case 'CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED':
      return `choose a new password and give ${result.missingAttributes.join(', ')}`
    case 'CONFIRM_SIGN_IN_WITH_TOTP_CODE':
      return 'enter the code from the authenticator app'
    case 'CONFIRM_SIGN_IN_WITH_SMS_CODE':
    case 'CONFIRM_SIGN_IN_WITH_EMAIL_CODE':
      return `enter the code sent to ${result.codeDelivery?.destination ?? 'you'}`
    case 'CONTINUE_SIGN_IN_WITH_MFA_SELECTION': {
      const methods: MfaMethod[] = result.allowedMfaTypes
      return `choose one of ${methods.join(', ')}`
    }
    case 'CONTINUE_SIGN_IN_WITH_TOTP_SETUP':
      return `scan ${result.totpSetup?.uri ?? ''}`
  }
}

export async function journey(): Promise<Claims> {
  const pool: UserPool = await UserPool.open({
    config: {
      pool_id: 'typed_example',
      password_hashing: { memory_kib: 256, iterations: 1, dangerous_allow_weak: true },
      mfa: { mode: 'optional' },
    },
    delivery: async (message: Message): Promise<void> => {
      outbox.push(message)
    },
    clock: () => Date.now(),
  })

  const signUp = await pool.signUp('alice', 'correct horse battery staple', { email: 'alice@example.com' })
  if (signUp.nextStep === 'CONFIRM_SIGN_UP') {
    const code: string = outbox[outbox.length - 1]?.code ?? ''
    await pool.confirmSignUp('alice', code)
  }

  try {
    await pool.signUp('alice', 'correct horse battery staple')
  } catch (error: unknown) {
    if (isUserPoolError(error) && error.code === 'UsernameExistsException') {
      const known: ErrorCode[] = errorCodes()
      console.log(`taken (one of ${known.length} codes)`)
    }
  }

  const signIn: SignInResult = await pool.signIn('alice', 'correct horse battery staple')
  console.log(await nextStepOf(signIn))
  const tokens: Tokens | undefined = signIn.tokens
  if (!tokens) throw new Error('MFA or another step is pending')

  const claims: Claims = pool.verifyAccessTokenSync(tokens.accessToken)
  const username = claims.username
  if (typeof username === 'string') console.log(`hello ${username}, token_use=${claims.token_use}`)

  const jwks = createLocalJWKSet(pool.jwks())
  const { payload } = await jwtVerify(tokens.idToken, jwks, { issuer: pool.issuer, audience: 'default' })
  console.log(payload.email)

  const user = await pool.getUser(tokens.accessToken)
  const status: 'UNCONFIRMED' | 'CONFIRMED' | 'FORCE_CHANGE_PASSWORD' | 'RESET_REQUIRED' = user.status
  console.log(status, user.attributes.email, new Date(user.createdMs))

  const page = await pool.listUsers({ filter: 'email ^= "ali"', limit: 10 })
  console.log(page.users.length, page.paginationToken ?? 'last page')

  const server = pool.withClient('default')
  const hash: string = secretHash('a-client-secret-of-16+', 'alice', 'default')
  console.log(server.poolId, hash.length)

  const setup = await pool.associateSoftwareToken(tokens.accessToken)
  console.log(setup.uri.startsWith('otpauth://'))
  await pool.verifySoftwareToken(tokens.accessToken, authenticatorCode(setup.secret, Date.now()), 'phone')
  await pool.setMfaPreference(tokens.accessToken, { totp: 'PREFERRED', sms: null })
  const group = await pool.createGroup('admins', 'Administrators', 1)
  await pool.adminAddUserToGroup('alice', group.name)
  const groups: string[] = (await pool.adminGetUser('alice')).groups
  console.log(groups, claims['cognito:groups'])

  await pool.globalSignOut(tokens.accessToken)
  return claims
}
