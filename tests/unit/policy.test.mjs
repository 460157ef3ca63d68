// Policies in plain words, the money rule, narrowing, and the approval draft: what the
// person reads is what the app signs.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MATCH_META, approvalDraft } from '../../approver-web/js/approval.js'
import * as json from '../../approver-web/js/json.js'
import {
  currencyOf, describe as describeStatement, describePolicy, formatMinor, narrowableLimits, parseMajor, stricter,
} from '../../approver-web/js/policy.js'
import { Float } from '../../approver-web/js/values.js'

/** A line of segments as plain text, nested lines indented. */
function text(line, indent = '') {
  const seg = (s) => {
    if (typeof s === 'string') return s
    if (s.code !== undefined) return `\`${s.code}\``
    if (s.money !== undefined) return s.money + (s.raw ? ` (${s.raw})` : '')
    if (s.json !== undefined) return json.stringify(s.json)
    return typeof s.value === 'string' ? s.value : json.stringify(s.value)
  }
  return [indent + line.segments.map(seg).join(''), ...line.children.map((c) => text(c, `${indent}  `))].join('\n')
}

const words = (statement, ctx = {}) => text(describeStatement(json.parse(JSON.stringify(statement)), ctx))

describe('policies in words', () => {
  test('amounts in minor units of the named currency', () => {
    const ctx = { currency: 'USD' }
    assert.equal(words(['<=', '.amount', 4900], ctx), 'amount at most 49.00 USD (4900)')
    assert.equal(words(['<', '.amount', 5], ctx), 'amount less than 0.05 USD (5)')
    assert.equal(words(['>=', '.total', 123456789], ctx), 'total at least 1,234,567.89 USD (123456789)')
    assert.equal(words(['<=', '.amount', 4900], { currency: 'JPY' }), 'amount at most 4,900 JPY (4900)')
    assert.equal(words(['<=', '.amount', 4900], { currency: 'KWD' }), 'amount at most 4.900 KWD (4900)')
    assert.equal(words(['<=', '.refund_amount', 150], ctx), '`.refund_amount` at most 1.50 USD (150)')
    // A float is not minor units; without a currency a number is just a number.
    assert.equal(words(['<=', '.amount', 49.5], ctx), 'amount at most 49.5 USD')
    assert.equal(words(['<=', '.amount', 4900]), 'amount at most 4900')
    assert.equal(words(['<=', '.count', 3], ctx), '`.count` at most 3')
  })

  test('the currency comes from the args or an == statement', () => {
    assert.equal(currencyOf([], { currency: 'eur' }), 'EUR')
    assert.equal(currencyOf([['==', '.currency', 'USD']], null), 'USD')
    assert.equal(currencyOf([['==', '.currency', 'dollars']], null), null)
    assert.equal(currencyOf([['<=', '.amount', 1]], {}), null)
  })

  test('known fields by name, others by selector', () => {
    assert.equal(words(['==', '.to', 'alice@example.com']), 'recipient is alice@example.com')
    assert.equal(words(['!=', '.to', 'eve@example.com']), 'recipient is not eve@example.com')
    assert.equal(words(['==', '.x', 'y']), '`.x` equals y')
    assert.equal(words(['==', '.x', { a: [1, 2.5] }]), '`.x` equals {"a":[1,2.5]}')
    assert.equal(words(['!=', '.x', null]), '`.x` does not equal null')
    assert.equal(words(['like', '.to', '*@example.com']), 'recipient matches *@example.com (where * stands for any text)')
    assert.equal(words(['==', '.', {}]), 'the arguments equals {}')
  })

  test('nested statements read as nested lists', () => {
    assert.equal(words(['and', [['==', '.a', 1], ['not', ['==', '.b', 2]]]]),
      'all of these:\n  `.a` equals 1\n  not this:\n    `.b` equals 2')
    assert.equal(words(['or', []]), 'no condition (an empty "one of" always holds)')
    assert.equal(words(['any', '.tags', ['==', '.', 'x']]), 'at least one item of `.tags` satisfies:\n  the arguments equals x')
    assert.equal(words(['all', '.items', ['<', '.price', 10]], { currency: 'USD' }),
      'every item of `.items` satisfies:\n  price less than 0.10 USD (10)')
  })

  test('anything unknown is shown as it is, never hidden', () => {
    assert.equal(words(['frob', '.x', 1]), '["frob",".x",1]')
    assert.equal(text(describePolicy([])[0]), 'any arguments (no condition)')
  })
})

describe('narrowing', () => {
  const range = json.parse('{"cmd": "/payment/refund", "subject": "did:key:z6MkOwner", "policy": [["==", ".currency", "USD"], ["<=", ".amount", 4900], ["<", ".fee", 2.5]], "lifetime": 300}')

  test('offers the <= and < limits of a range request, none for exact args', () => {
    assert.deepEqual(narrowableLimits(range).map((l) => [l.index, l.op, l.selector]), [[1, '<=', '.amount'], [2, '<', '.fee']])
    assert.deepEqual(narrowableLimits({ ...range, args: { amount: 1 } }), [])
  })

  test('only lowers, and keeps the kind of the number', () => {
    const [amount, fee] = narrowableLimits(range)
    assert.deepEqual(stricter(amount, 2000), ['<=', '.amount', 2000])
    assert.equal(stricter(amount, 4900), null)
    assert.equal(stricter(amount, 5000), null)
    assert.equal(stricter(amount, 20.5), null, 'an integer limit stays an integer')
    const f = stricter(fee, 1)
    assert.ok(f[2] instanceof Float && f[2].value === 1)
  })

  test('amounts typed by a person become minor units', () => {
    assert.equal(parseMajor('20', 2), 2000)
    assert.equal(parseMajor('20.5', 2), 2050)
    assert.equal(parseMajor('20,05', 2), 2005)
    assert.equal(parseMajor('20.555', 2), null)
    assert.equal(parseMajor('-1', 2), null)
    assert.equal(parseMajor('1', 0), 1)
    assert.equal(formatMinor(5, 2), '0.05')
    assert.equal(formatMinor(-12345, 2), '−123.45')
  })
})

describe('the approval draft', () => {
  const request = json.parse('{"cmd": "/payment/refund", "subject": "did:key:z6MkOwner", "args": null, "policy": [["==", ".currency", "USD"], ["<=", ".amount", 4900], ["==", ".rate", 1.0]], "lifetime": 300, "match_choices": ["12", "47", "80"]}')

  test('keeps every requested statement, in order, exactly, then the added ones', () => {
    const d = approvalDraft({ request, device: 'did:key:z6MkDev', service: 'did:key:z6MkSvc', now: 1000, added: [['<=', '.amount', 2000]] })
    assert.equal(json.stringify(d.pol), '[["==",".currency","USD"],["<=",".amount",4900],["==",".rate",1.0],["<=",".amount",2000]]')
    assert.equal(d.cmd, '/payment/refund')
    assert.equal(d.sub, 'did:key:z6MkOwner')
    assert.equal(d.aud, 'did:key:z6MkSvc')
    assert.equal(d.iss, 'did:key:z6MkDev')
  })

  test('expires after the chosen lifetime, never after the requested one', () => {
    assert.equal(approvalDraft({ request, device: 'a', service: 'b', now: 1000 }).exp, 1300)
    assert.equal(approvalDraft({ request, device: 'a', service: 'b', now: 1000, lifetime: 60 }).exp, 1060)
    assert.equal(approvalDraft({ request, device: 'a', service: 'b', now: 1000, lifetime: 9999 }).exp, 1300)
  })

  test('carries the matched number in meta', () => {
    const d = approvalDraft({ request, device: 'a', service: 'b', now: 1000, match: '47' })
    assert.equal(d.meta[MATCH_META], '47')
    assert.equal(approvalDraft({ request, device: 'a', service: 'b', now: 1000 }).meta, undefined)
  })
})
