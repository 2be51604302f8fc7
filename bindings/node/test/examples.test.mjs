// The typed example, as test.sh compiled it: its journey runs to the end against the package.
import assert from 'node:assert/strict'
import { test } from 'node:test'

test('the typed example runs its journey to the end', async () => {
  const { journey } = await import('../examples/build/typed.mjs')
  const claims = await journey()
  assert.equal(claims.username, 'alice')
  assert.equal(claims.token_use, 'access')
})
