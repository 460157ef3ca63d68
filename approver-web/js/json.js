// JSON in, IPLD values out — without losing what JSON.parse loses: `1.0` stays a float
// (the service compares policy operands by kind), integers past 2^53 stay exact (BigInt),
// and DAG-JSON's `{"/": "bafy…"}` links and `{"/": {"bytes": "…"}}` bytes become CIDs
// and Uint8Arrays, as the service reads them. Also prints values back for people.

import * as base64 from './base64.js'
import { CID } from './cid.js'
import { Float, kindOf, newMap } from './values.js'

const MAX_DEPTH = 128
const I64_MIN = -(1n << 63n)
const U64_MAX = (1n << 64n) - 1n

export class JsonError extends Error {}

class Parser {
  constructor(text) {
    this.text = text
    this.at = 0
  }

  fail(what) {
    throw new JsonError(`${what} at position ${this.at}`)
  }

  space() {
    while (this.at < this.text.length && ' \t\n\r'.includes(this.text[this.at])) this.at++
  }

  value(depth) {
    if (depth > MAX_DEPTH) this.fail('nested too deeply')
    this.space()
    const c = this.text[this.at]
    if (c === '{') return this.object(depth)
    if (c === '[') return this.array(depth)
    if (c === '"') return this.string()
    if (c === '-' || (c >= '0' && c <= '9')) return this.number()
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ]) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length
        return v
      }
    }
    return this.fail('unexpected character')
  }

  object(depth) {
    this.at++
    const out = newMap()
    this.space()
    if (this.text[this.at] === '}') {
      this.at++
      return out
    }
    for (;;) {
      this.space()
      if (this.text[this.at] !== '"') this.fail('expected a key')
      const key = this.string()
      this.space()
      if (this.text[this.at++] !== ':') this.fail('expected ":"')
      out[key] = this.value(depth + 1)
      this.space()
      const c = this.text[this.at++]
      if (c === '}') return specialForm(out)
      if (c !== ',') this.fail('expected "," or "}"')
    }
  }

  array(depth) {
    this.at++
    const out = []
    this.space()
    if (this.text[this.at] === ']') {
      this.at++
      return out
    }
    for (;;) {
      out.push(this.value(depth + 1))
      this.space()
      const c = this.text[this.at++]
      if (c === ']') return out
      if (c !== ',') this.fail('expected "," or "]"')
    }
  }

  string() {
    // The JSON string grammar is JavaScript's: find the closing quote, let JSON.parse
    // handle the escapes.
    const start = this.at
    this.at++
    while (this.at < this.text.length) {
      const c = this.text[this.at]
      if (c === '\\') this.at += 2
      else if (c === '"') {
        this.at++
        try {
          return JSON.parse(this.text.slice(start, this.at))
        } catch {
          return this.fail('invalid string')
        }
      } else this.at++
    }
    return this.fail('unterminated string')
  }

  number() {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.at))
    if (!m) this.fail('invalid number')
    this.at += m[0].length
    const lexeme = m[0]
    if (m[2] || m[3]) return new Float(Number(lexeme))
    const n = BigInt(lexeme)
    // As the service reads JSON: integers within i64/u64 are integers, others floats.
    if (n < I64_MIN || n > U64_MAX) return new Float(Number(lexeme))
    return Number.isSafeInteger(Number(lexeme)) ? Number(lexeme) : n
  }
}

/** DAG-JSON's link and bytes forms; anything else that looks like one stays a map. */
function specialForm(map) {
  const keys = Object.keys(map)
  if (keys.length !== 1 || keys[0] !== '/') return map
  const inner = map['/']
  try {
    if (typeof inner === 'string') return CID.parse(inner)
    if (kindOf(inner) === 'map') {
      const k = Object.keys(inner)
      if (k.length === 1 && k[0] === 'bytes' && typeof inner.bytes === 'string') {
        return base64.decode(inner.bytes.replace(/=+$/, ''))
      }
    }
  } catch {
    // Not a valid link or bytes: keep it as it came.
  }
  return map
}

/** Parses JSON text into IPLD values (see the module comment). */
export function parse(text) {
  const p = new Parser(text)
  const value = p.value(0)
  p.space()
  if (p.at !== text.length) p.fail('unexpected text after the value')
  return value
}

function floatText(f) {
  const s = String(f)
  return /[.eE]/.test(s) ? s : `${s}.0`
}

/** JSON text of an IPLD value, in DAG-JSON form, indented by `indent` spaces. */
export function stringify(value, indent = 0) {
  const pad = (level) => (indent ? `\n${' '.repeat(indent * level)}` : '')
  const walk = (v, level) => {
    switch (kindOf(v)) {
      case 'null':
        return 'null'
      case 'bool':
        return v ? 'true' : 'false'
      case 'integer':
        return String(v)
      case 'float':
        return floatText(v instanceof Float ? v.value : v)
      case 'string':
        return JSON.stringify(v)
      case 'bytes':
        return `{"/": {"bytes": ${JSON.stringify(base64.encodeNoPad(v))}}}`
      case 'link':
        return `{"/": ${JSON.stringify(v.toString())}}`
      case 'list':
        if (v.length === 0) return '[]'
        return `[${v.map((x) => pad(level + 1) + walk(x, level + 1)).join(',')}${pad(level)}]`
      case 'map': {
        const keys = Object.keys(v)
        if (keys.length === 0) return '{}'
        const sep = indent ? ': ' : ':'
        const items = keys.map(
          (k) => pad(level + 1) + JSON.stringify(k) + sep + walk(v[k], level + 1)
        )
        return `{${items.join(',')}${pad(level)}}`
      }
    }
  }
  return walk(value, 0)
}
