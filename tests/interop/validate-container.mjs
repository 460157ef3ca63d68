// Validates the invocation in a UCAN container with iso-ucan, for Rust tests that hold a
// chain the service issued. Usage: node validate-container.mjs FILE NOW [AUDIENCE]
// Prints {"ok": true} or {"ok": false, "error": "..."} and exits 0 or 1.
import { readFileSync } from 'node:fs'
import { decodeContainer } from './container.mjs'
import { validateTokens } from './iso.mjs'

const [file, now, audience] = process.argv.slice(2)
try {
  const tokens = decodeContainer(readFileSync(file, 'utf8'))
  await validateTokens(tokens, { now: Number(now), audience: audience && { did: audience } })
  console.log(JSON.stringify({ ok: true }))
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.message ?? error) }))
  process.exit(1)
}
