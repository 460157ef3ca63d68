// A capability's policy in plain words, and the narrowings a person may add.
//
// Each statement becomes a line of segments — plain text, {code} for selectors, {value}
// for operands, {money} for amounts — with nested lines for and/or/not/all/any.
//
// Amounts: when the policy or the args name a three-letter currency (`.currency`) and an
// amount-like field (amount, total, price, fee, or a name ending in _amount) is compared
// with a whole number, that number is read as minor units of the currency, as payment
// APIs take them (4900 with USD is 49.00 USD; 4900 with JPY is 4,900 JPY). Floats are
// shown as they are, followed by the currency.

import { Float, isNumber, kindOf } from './values.js'

const LABELS = {
  to: 'recipient',
  recipient: 'recipient',
  recipients: 'recipients',
  cc: 'cc',
  bcc: 'bcc',
  from: 'sender',
  subject: 'subject',
  amount: 'amount',
  currency: 'currency',
  charge: 'charge',
  customer: 'customer',
  account: 'account',
  total: 'total',
  price: 'price',
  fee: 'fee',
}

const DECIMALS = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
  UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
}

const COMPARE = { '<': 'less than', '<=': 'at most', '>': 'more than', '>=': 'at least' }

/** The field a simple selector names (`.to` → "to"), or null. */
export function fieldOf(selector) {
  const m = /^\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(selector) ?? /^\.\["([^"\\]+)"\]$/.exec(selector)
  return m ? m[1] : null
}

function isAmountField(name) {
  return name !== null && /^(amount|total|price|fee)$|_amount$|^amount_/i.test(name)
}

/** The currency a request is in, from its args or an `==` statement on `.currency`. */
export function currencyOf(policy, args) {
  const ok = (c) => (typeof c === 'string' && /^[A-Za-z]{3}$/.test(c) ? c.toUpperCase() : null)
  if (args && kindOf(args) === 'map' && ok(args.currency)) return ok(args.currency)
  for (const s of policy ?? []) {
    if (Array.isArray(s) && s[0] === '==' && fieldOf(s[1]) === 'currency' && ok(s[2])) {
      return ok(s[2])
    }
  }
  return null
}

export function decimalsOf(currency) {
  return DECIMALS[currency] ?? 2
}

function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/** Minor units as a decimal amount: (4900, 2) → "49.00". */
export function formatMinor(n, decimals) {
  const big = BigInt(n)
  const negative = big < 0n
  const digits = (negative ? -big : big).toString().padStart(decimals + 1, '0')
  const whole = group(digits.slice(0, digits.length - decimals))
  const frac = decimals ? `.${digits.slice(digits.length - decimals)}` : ''
  return `${negative ? '−' : ''}${whole}${frac}`
}

/** A decimal amount typed by a person as minor units: ("20.5", 2) → 2050, or null. */
export function parseMajor(text, decimals) {
  const m = /^\s*(\d+)(?:[.,](\d*))?\s*$/.exec(text)
  if (!m) return null
  const frac = m[2] ?? ''
  if (frac.length > decimals) return null
  const n = BigInt(m[1] + frac.padEnd(decimals, '0'))
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
}

/** How an operand of `selector` reads: money when the rule above applies. */
export function operand(selector, value, ctx) {
  const field = fieldOf(selector)
  if (ctx.currency && isAmountField(field) && isNumber(value)) {
    if (kindOf(value) === 'integer') {
      return { money: `${formatMinor(value, decimalsOf(ctx.currency))} ${ctx.currency}`, raw: String(value) }
    }
    return { money: `${value instanceof Float ? value.value : value} ${ctx.currency}` }
  }
  return { value }
}

function subject(selector) {
  if (selector === '.') return ['the arguments']
  const label = LABELS[fieldOf(selector)]
  return label ? [label] : [{ code: selector }]
}

/**
 * One statement in words: `{segments, children}`. Unknown shapes fall back to the
 * statement as JSON, so nothing is ever hidden.
 */
export function describe(statement, ctx = {}) {
  const raw = { segments: [{ json: statement }], children: [] }
  if (!Array.isArray(statement) || typeof statement[0] !== 'string') return raw
  const [op, a, b] = statement
  const labelled = typeof a === 'string' && LABELS[fieldOf(a)] !== undefined
  switch (op) {
    case '==':
      return {
        segments: labelled
          ? [...subject(a), ' is ', operand(a, b, ctx)]
          : [...subject(a), ' equals ', operand(a, b, ctx)],
        children: [],
      }
    case '!=':
      return {
        segments: labelled
          ? [...subject(a), ' is not ', operand(a, b, ctx)]
          : [...subject(a), ' does not equal ', operand(a, b, ctx)],
        children: [],
      }
    case '<':
    case '<=':
    case '>':
    case '>=':
      return { segments: [...subject(a), ` ${COMPARE[op]} `, operand(a, b, ctx)], children: [] }
    case 'like':
      return {
        segments: [
          ...subject(a),
          ' matches ',
          { value: b },
          typeof b === 'string' && /(^|[^\\])\*/.test(b) ? ' (where * stands for any text)' : '',
        ],
        children: [],
      }
    case 'not':
      return { segments: ['not this:'], children: [describe(a, ctx)] }
    case 'and':
      if (!Array.isArray(a)) return raw
      return a.length
        ? { segments: ['all of these:'], children: a.map((s) => describe(s, ctx)) }
        : { segments: ['no condition (an empty "all of" always holds)'], children: [] }
    case 'or':
      if (!Array.isArray(a)) return raw
      return a.length
        ? { segments: ['at least one of these:'], children: a.map((s) => describe(s, ctx)) }
        : { segments: ['no condition (an empty "one of" always holds)'], children: [] }
    case 'all':
      return { segments: ['every item of ', { code: a }, ' satisfies:'], children: [describe(b, ctx)] }
    case 'any':
      return {
        segments: ['at least one item of ', { code: a }, ' satisfies:'],
        children: [describe(b, ctx)],
      }
    default:
      return raw
  }
}

/** The whole policy in words; an empty policy says so. */
export function describePolicy(policy, ctx = {}) {
  if (!Array.isArray(policy) || policy.length === 0) {
    return [{ segments: ['any arguments (no condition)'], children: [] }]
  }
  return policy.map((s) => describe(s, ctx))
}

/**
 * Limits a person may lower before approving a policy-range request: top-level `<=` and
 * `<` statements on a number. (With exact args there is nothing to narrow: they are
 * bound with `==`.)
 */
export function narrowableLimits(request) {
  if (request.args !== undefined && request.args !== null) return []
  const out = []
  ;(request.policy ?? []).forEach((s, index) => {
    if (Array.isArray(s) && (s[0] === '<=' || s[0] === '<') && typeof s[1] === 'string' && isNumber(s[2])) {
      out.push({ index, op: s[0], selector: s[1], value: s[2] })
    }
  })
  return out
}

/**
 * The stricter statement for a lowered limit, or null if `value` does not lower it.
 * The new operand keeps the kind of the old one (an integer limit stays an integer).
 */
export function stricter(limit, value) {
  const old = limit.value instanceof Float ? limit.value.value : Number(limit.value)
  const v = typeof value === 'bigint' ? Number(value) : value
  if (typeof v !== 'number' || !Number.isFinite(v) || v >= old) return null
  if (kindOf(limit.value) === 'integer') {
    if (!Number.isSafeInteger(v)) return null
    return [limit.op, limit.selector, v]
  }
  return [limit.op, limit.selector, new Float(v)]
}
