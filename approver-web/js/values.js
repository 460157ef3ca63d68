// The IPLD data model as the app holds it in JavaScript:
//   null, true/false, strings, integers (safe-integer numbers or BigInt), floats
//   (non-integer numbers, or `Float` for a float whose value is integral, like 1.0),
//   bytes (Uint8Array), links (CID), lists (arrays) and maps (plain objects).
// Integers and floats are different kinds in DAG-CBOR, so `1` and `1.0` stay distinct.

import { CID } from './cid.js'

/** A float, kept distinct from an integer of the same value. */
export class Float {
  constructor(value) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new TypeError('a float must be a finite number')
    }
    this.value = value
    Object.freeze(this)
  }

  valueOf() {
    return this.value
  }
}

/** A map whose keys cannot collide with Object.prototype (e.g. "__proto__"). */
export function newMap() {
  return Object.create(null)
}

export function kindOf(v) {
  if (v === null) return 'null'
  switch (typeof v) {
    case 'boolean':
      return 'bool'
    case 'string':
      return 'string'
    case 'bigint':
      return 'integer'
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError('NaN and infinities are not IPLD values')
      return Number.isInteger(v) ? 'integer' : 'float'
    case 'object':
      if (v instanceof Float) return 'float'
      if (v instanceof Uint8Array) return 'bytes'
      if (v instanceof CID) return 'link'
      if (Array.isArray(v)) return 'list'
      return 'map'
    default:
      throw new TypeError(`${typeof v} is not an IPLD value`)
  }
}

/** The numeric value of an integer or float, as a JS number (may round big integers). */
export function numberOf(v) {
  if (v instanceof Float) return v.value
  if (typeof v === 'bigint') return Number(v)
  return v
}

export function isNumber(v) {
  const k = kindOf(v)
  return k === 'integer' || k === 'float'
}

/** Deep equality in the data model (integers never equal floats, as in the service). */
export function same(a, b) {
  const ka = kindOf(a)
  if (ka !== kindOf(b)) return false
  switch (ka) {
    case 'integer':
      return BigInt(a) === BigInt(b)
    case 'float':
      return numberOf(a) === numberOf(b)
    case 'bytes':
      return a.length === b.length && a.every((x, i) => x === b[i])
    case 'link':
      return a.equals(b)
    case 'list':
      return a.length === b.length && a.every((x, i) => same(x, b[i]))
    case 'map': {
      const keys = Object.keys(a)
      return (
        keys.length === Object.keys(b).length &&
        keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && same(a[k], b[k]))
      )
    }
    default:
      return a === b
  }
}
