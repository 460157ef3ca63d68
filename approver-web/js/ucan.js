// UCAN 1.0 delegations, built and sealed here byte for byte:
// envelope = [signature, {"h": varsig, "ucan/dlg@1.0.0": payload}] in canonical DAG-CBOR,
// the signature made by the issuer's Ed25519 key over the encoded second element.

import { randomBytes } from './bytes.js'
import { encode } from './cbor.js'
import { CID } from './cid.js'
import { isEd25519Did } from './did.js'
import { kindOf, newMap } from './values.js'

/** Varsig v1 header: Ed25519 over SHA-512, payload encoded as DAG-CBOR. */
export const VARSIG_ED25519_DAG_CBOR = Uint8Array.of(0x34, 0x01, 0xed, 0x01, 0xed, 0x01, 0x13, 0x71)
export const DELEGATION_TAG = 'ucan/dlg@1.0.0'
/** Nonce length the spec recommends (and the Rust core uses). */
export const NONCE_LEN = 12
const MAX_TIMESTAMP = 2 ** 53 - 1

/** Whether `cmd` is a command: lowercase `/`-segments, no empty segment or trailing `/`. */
export function isCommand(cmd) {
  return (
    typeof cmd === 'string' &&
    (cmd === '/' || /^(\/[^/]+)+$/.test(cmd)) &&
    cmd === cmd.toLowerCase()
  )
}

function time(t, field) {
  if (!Number.isSafeInteger(t) || t < 0 || t > MAX_TIMESTAMP) {
    throw new TypeError(`${field} must be an integer Unix time`)
  }
  return t
}

/**
 * The payload of a delegation from `iss` to `aud` of `cmd` over `sub` (null: powerline),
 * limited by the policy `pol` (a list of statements), valid until `exp` (null: forever).
 */
export function delegationPayload({ iss, aud, sub, cmd, pol, nonce, meta, nbf, exp }) {
  if (!isEd25519Did(iss)) throw new TypeError('iss must be an Ed25519 did:key')
  if (!isEd25519Did(aud)) throw new TypeError('aud must be an Ed25519 did:key')
  if (sub !== null && !isEd25519Did(sub)) throw new TypeError('sub must be a did:key or null')
  if (!isCommand(cmd)) throw new TypeError(`${JSON.stringify(cmd)} is not a command`)
  if (!Array.isArray(pol)) throw new TypeError('pol must be a list of statements')
  if (!(nonce instanceof Uint8Array)) throw new TypeError('nonce must be bytes')
  const payload = newMap()
  payload.iss = iss
  payload.aud = aud
  payload.sub = sub
  payload.cmd = cmd
  payload.pol = pol
  payload.nonce = nonce
  if (meta !== undefined && meta !== null) {
    if (kindOf(meta) !== 'map') throw new TypeError('meta must be a map')
    payload.meta = meta
  }
  if (nbf !== undefined && nbf !== null) payload.nbf = time(nbf, 'nbf')
  payload.exp = exp === null ? null : time(exp, 'exp')
  return payload
}

export function newNonce() {
  return randomBytes(NONCE_LEN)
}

/** Signs a delegation payload: the envelope bytes and their CID. */
export async function sealDelegation(payload, signer) {
  if (payload.iss !== signer.did) throw new Error('a delegation must be signed by its issuer')
  const signed = newMap()
  signed.h = VARSIG_ED25519_DAG_CBOR
  signed[DELEGATION_TAG] = payload
  const signature = await signer.sign(encode(signed))
  if (signature.length !== 64) throw new Error('an Ed25519 signature is 64 bytes')
  const bytes = encode([signature, signed])
  return { bytes, cid: await CID.dagCbor(bytes), payload }
}

/** The bytes an envelope's signature covers (everything after `[sig`). */
export function signedPart(envelope) {
  // array(2), bytes(64) header, 64 signature bytes.
  if (envelope[0] !== 0x82 || envelope[1] !== 0x58 || envelope[2] !== 0x40) {
    throw new TypeError('not an Ed25519 UCAN envelope')
  }
  return envelope.subarray(67)
}
