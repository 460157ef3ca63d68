// Validation rate of iso-ucan over containers written by the Rust benchmark
// `core/benches/iso_ucan.rs`. Usage: node iso-rate.mjs FILE NOW AUDIENCE
// FILE holds one UCAN container per line (an invocation and its proofs). Every
// container is validated once as a warm-up, then once more while timed; each must be
// valid. Prints {"validations": N, "seconds": S} on one line.
//
// Each proof is read without checking its signature (`Delegation.fromString`), because
// `Invocation.from` checks every proof's signature itself: four signature checks per
// chain, as on the Rust side.
import { readFileSync } from 'node:fs'
import { Delegation } from 'iso-ucan/delegation'
import { Invocation } from 'iso-ucan/invocation'
import { decodeContainer, tokenToBase64 } from './container.mjs'
import { decodeEnvelope, verifierResolver } from './iso.mjs'

const [file, now, audience] = process.argv.slice(2)
// The containers are signed at a fixed moment, and iso-ucan reads the wall clock in some
// of its checks: this process's clock is that moment.
Date.now = () => Number(now) * 1000
const containers = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => line.length > 0)
  .map(decodeContainer)

async function validate(tokens) {
  const proofs = new Map()
  let invocation
  for (const bytes of tokens) {
    if (decodeEnvelope(bytes).spec === 'dlg') {
      const delegation = await Delegation.fromString(tokenToBase64(bytes), { now: Number(now) })
      proofs.set(delegation.cid.toString(), delegation)
    } else {
      invocation = bytes
    }
  }
  return Invocation.from({
    bytes: invocation,
    verifierResolver,
    now: Number(now),
    audience: { did: audience },
    resolveProof: async (cid) => {
      const proof = proofs.get(cid.toString())
      if (!proof) {
        throw new Error(`proof ${cid} is not in the container`)
      }
      return proof
    },
  })
}

async function pass() {
  for (const tokens of containers) {
    await validate(tokens)
  }
}

await pass()
const started = process.hrtime.bigint()
await pass()
const seconds = Number(process.hrtime.bigint() - started) / 1e9
console.log(JSON.stringify({ validations: containers.length, seconds }))
