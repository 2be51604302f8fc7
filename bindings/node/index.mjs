// The ESM entry point of `userpool`: the same binding as the CommonJS `index.js`.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const binding = require('./index.js')

export const { UserPool, errorCodes, secretHash, __napiBindingTarget } = binding
export default binding
