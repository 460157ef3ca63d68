// The device key: Ed25519 in WebCrypto, generated non-extractable, so the private key
// can sign but can never be read out — not by this app, not by a script, not by an export.

import { didFromPublicKey } from './did.js'

const ED25519 = { name: 'Ed25519' }

/** A new key pair whose private half cannot be exported. */
export async function generateKeyPair() {
  const pair = await globalThis.crypto.subtle.generateKey(ED25519, false, ['sign', 'verify'])
  return { privateKey: pair.privateKey, publicKey: pair.publicKey }
}

export async function didOf(publicKey) {
  const raw = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', publicKey))
  return didFromPublicKey(raw)
}

/** Something that signs bytes as `did`: what the token and JWT code need of a key. */
export async function signerFor({ privateKey, publicKey }) {
  const did = await didOf(publicKey)
  return {
    did,
    async sign(bytes) {
      const sig = await globalThis.crypto.subtle.sign(ED25519, privateKey, bytes)
      return new Uint8Array(sig)
    },
  }
}

export async function verify(publicKey, signature, bytes) {
  return globalThis.crypto.subtle.verify(ED25519, publicKey, signature, bytes)
}

/** Imports a raw Ed25519 public key (for checking signatures in tests and tools). */
export async function importPublicKey(raw) {
  return globalThis.crypto.subtle.importKey('raw', raw, ED25519, true, ['verify'])
}
