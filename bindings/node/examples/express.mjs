// An Express app on userpool: sign-up, confirmation, sign-in, and a middleware that lets
// through only requests bearing a valid access token.
//
//   node examples/express.mjs            # listens on http://127.0.0.1:3000, codes printed here
//
//   curl -X POST localhost:3000/sign-up -H 'content-type: application/json' \
//        -d '{"username":"alice","password":"correct horse battery staple","email":"alice@example.com"}'
//   curl -X POST localhost:3000/confirm-sign-up -H 'content-type: application/json' \
//        -d '{"username":"alice","code":"123456"}'
//   curl -X POST localhost:3000/sign-in -H 'content-type: application/json' \
//        -d '{"username":"alice","password":"correct horse battery staple"}'
//   curl localhost:3000/me -H "authorization: Bearer $ACCESS_TOKEN"
import { pathToFileURL } from 'node:url'

import express from 'express'

import { UserPool } from '../index.mjs'

/** HTTP status for each userpool error code this app expects; anything else is a 400. */
const STATUS = {
  NotAuthorizedException: 401,
  UserNotConfirmedException: 403,
  PasswordResetRequiredException: 403,
  UsernameExistsException: 409,
  AliasExistsException: 409,
  LimitExceededException: 429,
  TooManyRequestsException: 429,
  CodeDeliveryFailureException: 502,
  InternalErrorException: 500,
}

/**
 * Verifies `Authorization: Bearer <access token>` and puts its claims on `req.claims`.
 * `verifyAccessTokenSync` is fast: the pool remembers tokens it has verified, while expiry and
 * revocation (sign-out) are still checked on every call.
 */
export function requireUser(pool) {
  return (req, res, next) => {
    const [scheme, token] = (req.get('authorization') ?? '').split(' ')
    if (scheme !== 'Bearer' || !token) {
      res.status(401).set('www-authenticate', 'Bearer').json({ code: 'NotAuthorizedException', message: 'Sign in first.' })
      return
    }
    try {
      req.claims = pool.verifyAccessTokenSync(token)
      req.accessToken = token
      next()
    } catch (error) {
      next(error)
    }
  }
}

/** The app's routes over `pool`. */
export function createApp(pool) {
  const app = express()
  app.use(express.json())

  app.get('/.well-known/jwks.json', (req, res) => res.json(pool.jwks()))

  app.post('/sign-up', async (req, res) => {
    const { username, password, email } = req.body
    const result = await pool.signUp(username, password, { email })
    res.status(201).json({ userSub: result.userSub, nextStep: result.nextStep, codeDelivery: result.codeDelivery })
  })

  app.post('/confirm-sign-up', async (req, res) => {
    await pool.confirmSignUp(req.body.username, req.body.code)
    res.json({ nextStep: 'DONE' })
  })

  app.post('/sign-in', async (req, res) => {
    const result = await pool.signIn(req.body.username, req.body.password)
    res.json(result)
  })

  app.get('/me', requireUser(pool), async (req, res) => {
    const user = await pool.getUser(req.accessToken)
    res.json({ username: req.claims.username, attributes: user.attributes })
  })

  app.post('/sign-out', requireUser(pool), async (req, res) => {
    await pool.globalSignOut(req.accessToken)
    res.status(204).end()
  })

  // Every userpool rejection carries a Cognito-named `code`; bad arguments are TypeErrors.
  app.use((error, req, res, next) => {
    if (res.headersSent) return next(error)
    if (typeof error.code !== 'string') return next(error) // not from userpool: Express's own handler
    res.status(STATUS[error.code] ?? 400).json({ code: error.code, message: error.message })
  })
  return app
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const pool = await UserPool.open({
    path: process.env.USERPOOL_DB, // in memory when unset
    // Development only: prints the codes. Send them by email or SMS in a real app.
    delivery: (message) => console.log(`[${message.channel} to ${message.destination}] ${message.text}`),
  })
  const port = Number(process.env.PORT ?? 3000)
  createApp(pool).listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`))
}
