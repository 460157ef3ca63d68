// Canonical DAG-CBOR: the one encoding of a value that UCAN signatures and CIDs rest on.
// Map keys are strings in length-first, then bytewise order; integers and lengths take
// their shortest form; floats are always 64-bit; links are tag 42 over 0x00 + the CID.
// The decoder accepts only that encoding, so re-encoding decoded bytes gives them back.

import { compareKeys, fromUtf8, utf8 } from './bytes.js'
import { CID } from './cid.js'
import { Float, kindOf, newMap } from './values.js'

const MAX_DEPTH = 64
const TWO_64 = 1n << 64n

class Writer {
  constructor() {
    this.chunks = []
    this.length = 0
  }

  push(bytes) {
    this.chunks.push(bytes)
    this.length += bytes.length
  }

  byte(b) {
    this.push(Uint8Array.of(b))
  }

  /** A major type with its argument in the shortest form. */
  header(major, arg) {
    const m = major << 5
    if (typeof arg === 'bigint') {
      if (arg < 0n || arg >= TWO_64) throw new RangeError('integer out of the 64-bit range')
      if (arg <= 0xffffffffn) return this.header(major, Number(arg))
      const out = new Uint8Array(9)
      out[0] = m | 27
      new DataView(out.buffer).setBigUint64(1, arg)
      return this.push(out)
    }
    if (arg < 24) return this.byte(m | arg)
    if (arg <= 0xff) return this.push(Uint8Array.of(m | 24, arg))
    if (arg <= 0xffff) return this.push(Uint8Array.of(m | 25, arg >> 8, arg & 0xff))
    if (arg <= 0xffffffff) {
      const out = new Uint8Array(5)
      out[0] = m | 26
      new DataView(out.buffer).setUint32(1, arg)
      return this.push(out)
    }
    return this.header(major, BigInt(arg))
  }

  bytes() {
    const out = new Uint8Array(this.length)
    let at = 0
    for (const c of this.chunks) {
      out.set(c, at)
      at += c.length
    }
    return out
  }
}

function encodeInto(w, value, depth) {
  if (depth > MAX_DEPTH) throw new RangeError(`nested deeper than ${MAX_DEPTH}`)
  switch (kindOf(value)) {
    case 'null':
      return w.byte(0xf6)
    case 'bool':
      return w.byte(value ? 0xf5 : 0xf4)
    case 'integer': {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) {
        throw new RangeError(`integer ${value} is not exact in JavaScript; use a BigInt`)
      }
      const n = BigInt(value)
      return n >= 0n ? w.header(0, n) : w.header(1, -1n - n)
    }
    case 'float': {
      const out = new Uint8Array(9)
      out[0] = 0xfb
      new DataView(out.buffer).setFloat64(1, value instanceof Float ? value.value : value)
      return w.push(out)
    }
    case 'string': {
      const b = utf8(value)
      w.header(3, b.length)
      return w.push(b)
    }
    case 'bytes':
      w.header(2, value.length)
      return w.push(Uint8Array.from(value))
    case 'link':
      w.push(Uint8Array.of(0xd8, 0x2a))
      w.header(2, value.bytes.length + 1)
      w.byte(0)
      return w.push(value.bytes)
    case 'list':
      w.header(4, value.length)
      for (const item of value) encodeInto(w, item, depth + 1)
      return
    case 'map': {
      const entries = Object.keys(value).map((k) => [utf8(k), value[k]])
      entries.sort((a, b) => compareKeys(a[0], b[0]))
      w.header(5, entries.length)
      for (const [k, v] of entries) {
        w.header(3, k.length)
        w.push(k)
        encodeInto(w, v, depth + 1)
      }
      return
    }
  }
}

/** The canonical DAG-CBOR bytes of a value. */
export function encode(value) {
  const w = new Writer()
  encodeInto(w, value, 0)
  return w.bytes()
}

export class CborError extends Error {}

class Reader {
  constructor(bytes) {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.at = 0
  }

  need(n) {
    if (this.at + n > this.bytes.length) throw new CborError('unexpected end of input')
  }

  /** A header: [major, argument], refusing any but the shortest form. */
  header() {
    this.need(1)
    const first = this.bytes[this.at++]
    const major = first >> 5
    const info = first & 31
    if (major === 7) {
      if (info === 27) {
        this.need(8)
        const f = this.view.getFloat64(this.at)
        this.at += 8
        return [major, f, info]
      }
      if (info < 24) return [major, info, info]
      throw new CborError('only 64-bit floats, true, false and null are DAG-CBOR')
    }
    if (info < 24) return [major, info, info]
    let arg
    if (info === 24) {
      this.need(1)
      arg = this.bytes[this.at]
      this.at += 1
      if (arg < 24) throw new CborError('integer not in its shortest form')
    } else if (info === 25) {
      this.need(2)
      arg = this.view.getUint16(this.at)
      this.at += 2
      if (arg <= 0xff) throw new CborError('integer not in its shortest form')
    } else if (info === 26) {
      this.need(4)
      arg = this.view.getUint32(this.at)
      this.at += 4
      if (arg <= 0xffff) throw new CborError('integer not in its shortest form')
    } else if (info === 27) {
      this.need(8)
      arg = this.view.getBigUint64(this.at)
      this.at += 8
      if (arg <= 0xffffffffn) throw new CborError('integer not in its shortest form')
      if (arg <= BigInt(Number.MAX_SAFE_INTEGER)) arg = Number(arg)
    } else {
      throw new CborError('indefinite lengths and reserved values are not DAG-CBOR')
    }
    return [major, arg, info]
  }

  length(arg) {
    if (typeof arg === 'bigint' || arg > this.bytes.length - this.at) {
      throw new CborError('a length runs past the end of the input')
    }
    return arg
  }

  take(n) {
    this.need(n)
    const out = this.bytes.subarray(this.at, this.at + n)
    this.at += n
    return out
  }

  value(depth) {
    if (depth > MAX_DEPTH) throw new CborError(`nested deeper than ${MAX_DEPTH}`)
    const [major, arg, info] = this.header()
    switch (major) {
      case 0:
        return arg
      case 1:
        return typeof arg === 'bigint' || arg > Number.MAX_SAFE_INTEGER - 1
          ? -1n - BigInt(arg)
          : -1 - arg
      case 2:
        return Uint8Array.from(this.take(this.length(arg)))
      case 3:
        try {
          return fromUtf8(this.take(this.length(arg)))
        } catch {
          throw new CborError('a string is not valid UTF-8')
        }
      case 4: {
        const n = this.length(arg)
        const out = []
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1))
        return out
      }
      case 5: {
        const n = this.length(arg)
        const out = newMap()
        let previous = null
        for (let i = 0; i < n; i++) {
          const [kmajor, klen] = this.header()
          if (kmajor !== 3) throw new CborError('map keys must be strings')
          const raw = this.take(this.length(klen))
          if (previous && compareKeys(previous, raw) >= 0) {
            throw new CborError('map keys out of canonical order, or repeated')
          }
          previous = raw
          let key
          try {
            key = fromUtf8(raw)
          } catch {
            throw new CborError('a map key is not valid UTF-8')
          }
          out[key] = this.value(depth + 1)
        }
        return out
      }
      case 6: {
        if (arg !== 42) throw new CborError(`tag ${arg} is not allowed (only 42, CID)`)
        const [bmajor, blen] = this.header()
        if (bmajor !== 2) throw new CborError('a CID must be bytes')
        const raw = this.take(this.length(blen))
        if (raw[0] !== 0) throw new CborError('a CID must start with the identity multibase')
        try {
          return new CID(raw.subarray(1))
        } catch (e) {
          throw new CborError(`invalid CID: ${e.message}`)
        }
      }
      case 7:
        if (info === 20) return false
        if (info === 21) return true
        if (info === 22) return null
        if (info === 27) {
          if (!Number.isFinite(arg)) throw new CborError('NaN and infinities are not DAG-CBOR')
          return new Float(arg)
        }
        throw new CborError('only 64-bit floats, true, false and null are DAG-CBOR')
    }
  }
}

/** Decodes canonical DAG-CBOR; floats come back as `Float`. */
export function decode(bytes) {
  const r = new Reader(bytes)
  const value = r.value(0)
  if (r.at !== bytes.length) throw new CborError('bytes after the value')
  return value
}
