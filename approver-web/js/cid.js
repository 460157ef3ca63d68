// Content identifiers: CIDv1, DAG-CBOR, SHA-256 of a token's envelope bytes, printed in
// base32 (`bafy…`), as UCAN revocation and proofs address tokens.

import * as base32 from './base32.js'
import * as base58 from './base58.js'
import { concat, equal, sha256 } from './bytes.js'

export const DAG_CBOR = 0x71
const SHA2_256 = 0x12

function readVarint(bytes, at) {
  let value = 0
  let shift = 0
  for (let i = at; i < bytes.length && i < at + 4; i++) {
    value += (bytes[i] & 0x7f) * 2 ** shift
    if ((bytes[i] & 0x80) === 0) {
      // Minimal encoding only: no trailing zero groups.
      if (i > at && bytes[i] === 0) throw new TypeError('non-minimal varint in CID')
      return [value, i + 1]
    }
    shift += 7
  }
  throw new TypeError('truncated varint in CID')
}

function varint(n) {
  const out = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}

export class CID {
  /** `bytes`: the binary CID (a CIDv0 is the bare SHA-256 multihash). */
  constructor(bytes) {
    CID.check(bytes)
    this.bytes = Uint8Array.from(bytes)
    Object.freeze(this)
  }

  static check(bytes) {
    if (bytes.length === 34 && bytes[0] === SHA2_256 && bytes[1] === 32) return
    const [version, a] = readVarint(bytes, 0)
    if (version !== 1) throw new TypeError(`unsupported CID version ${version}`)
    const [, b] = readVarint(bytes, a)
    const [, c] = readVarint(bytes, b)
    const [length, d] = readVarint(bytes, c)
    if (bytes.length !== d + length) throw new TypeError('CID digest length does not match')
  }

  /** The CID of DAG-CBOR bytes, as UCAN tokens are addressed. */
  static async dagCbor(bytes) {
    const digest = await sha256(bytes)
    return new CID(concat(varint(1), varint(DAG_CBOR), varint(SHA2_256), varint(32), digest))
  }

  static parse(text) {
    if (text.startsWith('Qm')) return new CID(base58.decode(text))
    if (text.startsWith('b')) return new CID(base32.decode(text.slice(1)))
    if (text.startsWith('z')) return new CID(base58.decode(text.slice(1)))
    throw new TypeError(`unsupported CID text ${JSON.stringify(text.slice(0, 12))}`)
  }

  get version() {
    return this.bytes[0] === SHA2_256 ? 0 : 1
  }

  equals(other) {
    return other instanceof CID && equal(this.bytes, other.bytes)
  }

  toString() {
    return this.version === 0 ? base58.encode(this.bytes) : `b${base32.encode(this.bytes)}`
  }

  toJSON() {
    return { '/': this.toString() }
  }
}
