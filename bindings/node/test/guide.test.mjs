// The guide's quick start (docs/bindings/node.md) runs: what a new user copies first must
// work. Its three placeholders (a mailer, the two codes from the emails) are filled in with a
// recording mailer and the codes it recorded; everything else runs as written.
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

function quickStart() {
  const guide = readFileSync(join(here, '../../../docs/bindings/node.md'), 'utf8')
  const section = guide.slice(guide.indexOf('## Quick start'))
  const start = section.indexOf('```js\n') + '```js\n'.length
  return section.slice(start, section.indexOf('```', start))
}

test('the quick start runs as written', async () => {
  const placeholders = ['mailer.send(', 'codeFromTheEmail', 'codeFromTheResetEmail', "from 'userpool'"]
  let code = quickStart()
  for (const placeholder of placeholders) assert.ok(code.includes(placeholder), `the guide still has ${placeholder}`)
  const pkg = pathToFileURL(join(here, '../index.mjs')).href
  code = code
    .replace("from 'userpool'", `from '${pkg}'`)
    .replaceAll('codeFromTheResetEmail', 'globalThis.codeInLastEmail()')
    .replaceAll('codeFromTheEmail', 'globalThis.codeInLastEmail()')
  const dir = mkdtempSync(join(tmpdir(), 'userpool-guide-'))
  const cwd = process.cwd()
  try {
    process.chdir(dir) // the guide keeps its pool in users.db
    globalThis.sent = []
    globalThis.mailer = { send: async (email) => globalThis.sent.push(email) }
    // As a person would: the digits in the last email's text.
    globalThis.codeInLastEmail = () => globalThis.sent.at(-1).text.match(/\d{6}/)[0]
    const file = join(dir, 'quick-start.mjs')
    writeFileSync(file, `${code}\nexport { claims }\n`)
    const { claims } = await import(pathToFileURL(file).href)
    assert.equal(claims.username, 'alice')
    assert.equal(globalThis.sent.length, 2, 'the sign-up and the reset code went out')
  } finally {
    process.chdir(cwd)
    delete globalThis.sent
    delete globalThis.mailer
    delete globalThis.codeInLastEmail
    rmSync(dir, { recursive: true, force: true })
  }
})
