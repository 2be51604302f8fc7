// Run once per JavaScript environment by src/redact.rs. Its value is the helpers the binding
// hands its results and messages to, so that printing them (console.log, the REPL,
// util.inspect) shows '<redacted>' in place of tokens, sessions, TOTP secrets, codes and a
// message's address and username; and
// the one that writes an object `config` as JSON.
// Reading a property, destructuring and JSON.stringify still give the values themselves: an
// app sends tokens to its clients and codes to its users.
(() => {
  'use strict'
  const custom = Symbol.for('nodejs.util.inspect.custom')
  const TOKENS = ['idToken', 'accessToken', 'refreshToken']
  const TOTP_SETUP = ['secret', 'uri']
  const SIGN_IN = ['session']
  // A message's address and username are personal data: left out of a log line, as the
  // engine's and Python's printing of a message leave them out (Kotlin's and Swift's show them,
  // as docs/bindings/kotlin.md says).
  const MESSAGE = ['code', 'text', 'destination', 'username']

  function inspectHiding(keys) {
    return function inspectWithoutSecrets(depth, options, inspect) {
      const shown = {}
      for (const key of Object.keys(this)) {
        const value = this[key]
        shown[key] = keys.includes(key) && typeof value === 'string' ? '<redacted>' : value
      }
      return inspect(shown, { ...options, depth })
    }
  }
  const inspectors = new Map([TOKENS, TOTP_SETUP, SIGN_IN, MESSAGE].map((keys) => [keys, inspectHiding(keys)]))

  // Not enumerable: spread, Object.keys, JSON.stringify and deepStrictEqual do not see it.
  // Never throws: the result stands (a refresh has rotated its token), marked or not, should
  // the app have replaced Object.defineProperty.
  function hide(object, keys) {
    try {
      Object.defineProperty(object, custom, { value: inspectors.get(keys), writable: true, configurable: true })
    } catch {
      // Left unmarked.
    }
    return object
  }

  return {
    tokens: (tokens) => hide(tokens, TOKENS),
    totpSetup: (setup) => hide(setup, TOTP_SETUP),
    signInResult(result) {
      if (result.tokens) hide(result.tokens, TOKENS)
      if (result.totpSetup) hide(result.totpSetup, TOTP_SETUP)
      return hide(result, SIGN_IN)
    },
    // An async function's Promise adopts whatever the host returns: a native Promise, another
    // library's, or any thenable, whose rejection then fails the operation as it should.
    delivery: (deliver) => async (message) => deliver(hide(message, MESSAGE)),
    // JSON.stringify writes NaN and ±Infinity as null and leaves out functions and symbols,
    // which the engine would take as "not set": a bound or a client secret gone unnoticed.
    configJson: (config) =>
      JSON.stringify(config, function checkValue(key, value) {
        const where = key === '' ? 'options.config' : `options.config's "${key}"`
        if (typeof value === 'number' && !Number.isFinite(value)) {
          throw new TypeError(`${where} is ${value}, not a finite number`)
        }
        if (typeof value === 'function' || typeof value === 'symbol') {
          throw new TypeError(`${where} is a ${typeof value}, which JSON cannot hold`)
        }
        return value
      }),
  }
})()
