// Validation rate of iso-ucan over containers written by the Rust benchmark
// `core/benches/iso_ucan.rs`. Usage: node iso-rate.mjs FILE NOW AUDIENCE
// FILE holds one UCAN container per line (an invocation and its proofs). Every
// container is validated once as a warm-up, then once more while timed; each must be
// valid. Prints {"validations": N, "seconds": S} on one line.
import { readFileSync } from 'node:fs'
import { decodeContainer } from './container.mjs'
import { validateTokens } from './iso.mjs'

const [file, now, audience] = process.argv.slice(2)
// The containers are signed at a fixed moment, and iso-ucan reads the wall clock in some
// of its checks: this process's clock is that moment.
Date.now = () => Number(now) * 1000
const containers = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.length > 0)
  .map(decodeContainer)
const options = { now: Number(now), audience: { did: audience } }

async function pass() {
  for (const tokens of containers) {
    await validateTokens(tokens, options)
  }
}

await pass()
const started = process.hrtime.bigint()
await pass()
const seconds = Number(process.hrtime.bigint() - started) / 1e9
console.log(JSON.stringify({ validations: containers.length, seconds }))
