// The app's byte-level codecs: canonical DAG-CBOR (against @ipld/dag-cbor, and strict on
// input), lossless JSON, base64/base58/base32 and CIDs (against multiformats).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { base32 } from 'multiformats/bases/base32'
import { base58btc } from 'multiformats/bases/base58'
import { CID as MfCID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as base32App from '../../approver-web/js/base32.js'
import * as base58App from '../../approver-web/js/base58.js'
import * as base64 from '../../approver-web/js/base64.js'
import { CborError, decode, encode } from '../../approver-web/js/cbor.js'
import { CID } from '../../approver-web/js/cid.js'
import * as json from '../../approver-web/js/json.js'
import { Float, same } from '../../approver-web/js/values.js'

const hex = (bytes) => Buffer.from(bytes).toString('hex')
const fromHex = (h) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))

/** A deterministic generator, so a failure can be replayed. */
function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALPHABET = ['a', 'b', 'z', 'A', '_', '/', 'é', 'ß', '中', '😀', '\u0000', ' ', '"']

function randomString(r, max = 8) {
  let s = ''
  const n = Math.floor(r() * max)
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)]
  return s
}

function randomInteger(r) {
  const pick = Math.floor(r() * 6)
  const edges = [0, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296, Number.MAX_SAFE_INTEGER]
  switch (pick) {
    case 0:
      return edges[Math.floor(r() * edges.length)] * (r() < 0.5 ? -1 : 1) || 0
    case 1:
      return Math.floor(r() * 30) - 15
    case 2:
      return Math.floor(r() * 2 ** 40) - 2 ** 39
    case 3:
      return BigInt(Number.MAX_SAFE_INTEGER) + BigInt(Math.floor(r() * 1e6)) + 1n
    case 4:
      return -(BigInt(Number.MAX_SAFE_INTEGER) + BigInt(Math.floor(r() * 1e6)) + 2n)
    default:
      return Math.floor(r() * 1000)
  }
}

async function randomCid(r) {
  return CID.dagCbor(new TextEncoder().encode(randomString(r, 20)))
}

async function randomValue(r, depth = 0) {
  const kinds = depth > 3 ? 7 : 9
  switch (Math.floor(r() * kinds)) {
    case 0:
      return null
    case 1:
      return r() < 0.5
    case 2:
      return randomInteger(r)
    case 3:
      return (r() - 0.5) * 10 ** Math.floor(r() * 12) + 0.5
    case 4:
      return randomString(r)
    case 5:
      return Uint8Array.from({ length: Math.floor(r() * 40) }, () => Math.floor(r() * 256))
    case 6:
      return randomCid(r)
    case 7: {
      const out = []
      const n = Math.floor(r() * 5)
      for (let i = 0; i < n; i++) out.push(await randomValue(r, depth + 1))
      return out
    }
    default: {
      const out = Object.create(null)
      const n = Math.floor(r() * 6)
      for (let i = 0; i < n; i++) out[randomString(r, 6)] = await randomValue(r, depth + 1)
      return out
    }
  }
}

/** The same value in @ipld/dag-cbor's model (multiformats CIDs, plain objects). */
function toIpld(v) {
  if (v instanceof CID) return MfCID.decode(v.bytes)
  if (Array.isArray(v)) return v.map(toIpld)
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out = {}
    for (const k of Object.keys(v)) out[k] = toIpld(v[k])
    return out
  }
  return v
}

describe('DAG-CBOR encoding', () => {
  test('is byte for byte what @ipld/dag-cbor encodes, for 500 random values', async () => {
    const r = rng(20261101)
    for (let i = 0; i < 500; i++) {
      const value = await randomValue(r)
      const mine = encode(value)
      const theirs = dagCbor.encode(toIpld(value))
      assert.equal(hex(mine), hex(theirs), `value #${i}`)
      // And decoding gives the value back, which re-encodes to the same bytes.
      assert.equal(hex(encode(decode(mine))), hex(mine), `round trip #${i}`)
    }
  })

  test('orders map keys by length, then bytewise (UTF-8)', () => {
    const m = Object.create(null)
    for (const k of ['bb', 'a', 'é', 'ab', 'b', 'aaa', 'Z', '']) m[k] = 0
    const decoded = dagCbor.decode(encode(m))
    assert.deepEqual(Object.keys(decoded), ['', 'Z', 'a', 'b', 'ab', 'bb', 'é', 'aaa'])
  })

  test('uses the shortest integer forms, and 64-bit floats always', () => {
    assert.equal(hex(encode(23)), '17')
    assert.equal(hex(encode(24)), '1818')
    assert.equal(hex(encode(255)), '18ff')
    assert.equal(hex(encode(256)), '190100')
    assert.equal(hex(encode(65536)), '1a00010000')
    assert.equal(hex(encode(4294967296)), '1b0000000100000000')
    assert.equal(hex(encode(-1)), '20')
    assert.equal(hex(encode(-25)), '3818')
    assert.equal(hex(encode(18446744073709551615n)), '1bffffffffffffffff')
    assert.equal(hex(encode(-18446744073709551616n)), '3bffffffffffffffff')
    assert.equal(hex(encode(new Float(1))), 'fb3ff0000000000000')
    assert.equal(hex(encode(0.5)), 'fb3fe0000000000000')
    assert.throws(() => encode(18446744073709551616n), RangeError)
    assert.throws(() => encode(2 ** 60), RangeError)
    assert.throws(() => encode(Number.NaN), TypeError)
    assert.throws(() => encode(undefined), TypeError)
    assert.throws(() => encode('\ud800'), TypeError)
  })

  test('keeps integers and floats apart', () => {
    assert.notEqual(hex(encode(1)), hex(encode(new Float(1))))
    assert.ok(decode(encode(new Float(2))) instanceof Float)
    assert.equal(decode(encode(2)), 2)
    assert.ok(!same(1, new Float(1)))
    assert.ok(same(new Float(1.5), 1.5))
  })

  test('encodes links as tag 42 over the identity prefix and the CID', async () => {
    const cid = await CID.dagCbor(new Uint8Array([1, 2, 3]))
    const theirs = MfCID.create(1, dagCbor.code, await sha256.digest(new Uint8Array([1, 2, 3])))
    assert.equal(cid.toString(), theirs.toString())
    assert.equal(hex(encode(cid)), hex(dagCbor.encode(theirs)))
    assert.ok(CID.parse(cid.toString()).equals(cid))
    assert.ok(CID.parse(theirs.toString(base58btc)).equals(cid))
  })
})

describe('DAG-CBOR decoding accepts only the canonical form', () => {
  const refused = {
    'an integer not in its shortest form': '1805',
    'a length not in its shortest form': '780161',
    'map keys out of order': 'a2616201616102',
    'a repeated map key': 'a2616101616102',
    'a key that is not a string': 'a10101',
    'an indefinite length': '5f4101ff',
    'a 32-bit float': 'fa3f800000',
    'a 16-bit float': 'f93c00',
    'undefined': 'f7',
    'a simple value': 'f0',
    'a tag other than 42': 'c100',
    'NaN': 'fb7ff8000000000000',
    'bytes after the value': '0101',
    'a truncated string': '6461',
    'invalid UTF-8': '62c328',
    'a CID without the identity prefix': 'd82a4501711220ff',
  }
  for (const [what, bytes] of Object.entries(refused)) {
    test(`refuses ${what}`, () => {
      assert.throws(() => decode(fromHex(bytes)), CborError)
    })
  }
})

describe('JSON as the service writes it', () => {
  test('keeps floats written with a point or exponent as floats', () => {
    const v = json.parse('[1, 1.0, 1e3, -0.5, 2.50]')
    assert.equal(v[0], 1)
    assert.ok(v[1] instanceof Float && v[1].value === 1)
    assert.ok(v[2] instanceof Float && v[2].value === 1000)
    assert.equal(Number(v[3]), -0.5)
    assert.equal(json.stringify(v), '[1,1.0,1000.0,-0.5,2.5]')
  })

  test('keeps big integers exact, as the service does within 64 bits', () => {
    const v = json.parse('[9007199254740993, -9223372036854775808, 18446744073709551615, 18446744073709551616]')
    assert.equal(v[0], 9007199254740993n)
    assert.equal(v[1], -9223372036854775808n)
    assert.equal(v[2], 18446744073709551615n)
    assert.ok(v[3] instanceof Float, 'beyond 64 bits the service reads a float')
  })

  test('reads DAG-JSON links and bytes', async () => {
    const cid = await CID.dagCbor(new Uint8Array([9]))
    const v = json.parse(`{"l": {"/": "${cid}"}, "b": {"/": {"bytes": "AQID"}}, "not": {"/": 5}}`)
    assert.ok(v.l instanceof CID && v.l.equals(cid))
    assert.deepEqual([...v.b], [1, 2, 3])
    assert.equal(Object.keys(v.not)[0], '/', 'anything else stays a map')
    assert.equal(json.stringify(v.b), '{"/": {"bytes": "AQID"}}')
  })

  test('treats "__proto__" as an ordinary key', () => {
    const v = json.parse('{"__proto__": {"polluted": true}, "a": 1}')
    assert.deepEqual(Object.keys(v), ['__proto__', 'a'])
    assert.equal({}.polluted, undefined)
    assert.equal(hex(encode(v)), hex(dagCbor.encode({ a: 1, ['__proto__']: { polluted: true } })))
  })

  test('refuses what is not JSON', () => {
    for (const bad of ['', '{', '[1,]', '01', 'tru', '"\u0001"', '{"a" 1}', '1 2']) {
      assert.throws(() => json.parse(bad), json.JsonError, bad)
    }
  })
})

describe('bases', () => {
  test('base64 (standard, padded and not) and base64url agree with Node', () => {
    const r = rng(7)
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(r() * 256))
      const b = Buffer.from(bytes)
      assert.equal(base64.encode(bytes), b.toString('base64'))
      assert.equal(base64.encodeUrl(bytes), b.toString('base64url'))
      assert.equal(base64.encodeNoPad(bytes), b.toString('base64').replace(/=+$/, ''))
      assert.deepEqual([...base64.decode(b.toString('base64'))], [...bytes])
      assert.deepEqual([...base64.decodeUrl(b.toString('base64url'))], [...bytes])
    }
    assert.throws(() => base64.decode('AB'), TypeError, 'non-zero leftover bits')
    assert.throws(() => base64.decode('A*=='), TypeError)
  })

  test('base58btc and base32 agree with multiformats', () => {
    const r = rng(11)
    for (let n = 0; n < 60; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i < 3 && n % 4 === 0 ? 0 : Math.floor(r() * 256)))
      assert.equal(base58App.encode(bytes), base58btc.encode(bytes).slice(1))
      assert.deepEqual([...base58App.decode(base58App.encode(bytes))], [...bytes])
      assert.equal(base32App.encode(bytes), base32.encode(bytes).slice(1))
      assert.deepEqual([...base32App.decode(base32App.encode(bytes))], [...bytes])
    }
  })
})
