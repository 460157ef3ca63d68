// did:key for Ed25519 keys: `did:key:z` + base58btc(0xed 0x01 ‖ the 32-byte public key).

import * as base58 from './base58.js'

const ED25519_PUB = [0xed, 0x01]

export function didFromPublicKey(raw) {
  if (raw.length !== 32) throw new TypeError('an Ed25519 public key is 32 bytes')
  const bytes = new Uint8Array(34)
  bytes.set(ED25519_PUB)
  bytes.set(raw, 2)
  return `did:key:z${base58.encode(bytes)}`
}

export function publicKeyFromDid(did) {
  if (typeof did !== 'string' || !did.startsWith('did:key:z')) {
    throw new TypeError('not a did:key in base58btc')
  }
  const bytes = base58.decode(did.slice('did:key:z'.length))
  if (bytes.length !== 34 || bytes[0] !== ED25519_PUB[0] || bytes[1] !== ED25519_PUB[1]) {
    throw new TypeError('not an Ed25519 did:key')
  }
  return bytes.slice(2)
}

/** Whether `s` looks like an Ed25519 did:key. */
export function isEd25519Did(s) {
  try {
    publicKeyFromDid(s)
    return true
  } catch {
    return false
  }
}

/** A short form for people: the start and end of the key part. */
export function shortDid(did) {
  const key = did.startsWith('did:key:') ? did.slice(8) : did
  return key.length > 16 ? `${key.slice(0, 8)}…${key.slice(-6)}` : key
}
