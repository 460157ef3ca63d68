// The app's tokens: a delegation it builds and signs with a non-extractable WebCrypto
// key is canonical DAG-CBOR, has the CID others compute, verifies in iso-ucan and in the
// Rust core, and works as the device link of a chain that `countersign verify` and
// iso-ucan accept. Its JWTs verify and carry the claims the service checks.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as dagCbor from '@ipld/dag-cbor'
import { CID as MfCID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { approvalDraft, signApproval } from '../../approver-web/js/approval.js'
import * as base64 from '../../approver-web/js/base64.js'
import { utf8 } from '../../approver-web/js/bytes.js'
import { publicKeyFromDid } from '../../approver-web/js/did.js'
import { callClaims, claimsOf, denialClaims, sign } from '../../approver-web/js/jwt.js'
import { generateKeyPair, importPublicKey, signerFor, verify as verifySignature } from '../../approver-web/js/keys.js'
import { narrowableLimits, stricter } from '../../approver-web/js/policy.js'
import { VARSIG_ED25519_DAG_CBOR, delegationPayload, newNonce, sealDelegation, signedPart } from '../../approver-web/js/ucan.js'
import { Float } from '../../approver-web/js/values.js'
import { decode, encode } from '../../approver-web/js/cbor.js'
import { encodeContainer } from '../interop/container.mjs'
import { readDelegation, validateTokens } from '../interop/iso.mjs'

const testsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CLI = process.env.COUNTERSIGN_BIN ? path.resolve(process.env.COUNTERSIGN_BIN) : path.resolve(testsDir, '../target/debug/countersign')
const cliSkip = existsSync(CLI) ? false : `countersign binary not found at ${CLI}`

function cli(args, { allowFail = false } = {}) {
  const r = spawnSync(CLI, args, { encoding: 'utf8', timeout: 10000 })
  if (r.error) throw r.error
  if (r.status !== 0 && !allowFail) throw new Error(`countersign ${args[0]} exited ${r.status}: ${r.stderr}`)
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr }
}

const now = () => Math.floor(Date.now() / 1000)

/** A policy with every kind of statement. */
const POLICY = [
  ['==', '.currency', 'USD'],
  ['<=', '.amount', 4900],
  ['like', '.to', '*@example.com'],
  ['==', '.fee', 0.25],
  ['any', '.tags', ['==', '.', 'refund']],
  ['not', ['==', '.draft', true]],
  ['or', [['>', '.amount', 0], ['==', '.free', true]]],
]

/**
 * With a float whose value is whole (1.0): the service keeps it a float, and so must the
 * app. JavaScript's DAG-CBOR libraries cannot (they read 1.0 as the integer 1), so only
 * the app's own codec and the Rust core check these.
 */
const FLOAT_POLICY = [...POLICY, ['==', '.rate', new Float(1)]]

let tmp
let keys
let device

before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'cs-unit-'))
  device = await signerFor(await generateKeyPair())
  if (!cliSkip) {
    keys = {}
    for (const name of ['owner', 'service', 'agent', 'gateway']) {
      const file = path.join(tmp, `${name}.pem`)
      keys[name] = { file, did: cli(['key', 'generate', '--out', file]).stdout }
    }
  }
})

after(() => rmSync(tmp, { recursive: true, force: true }))

async function sample(extra = {}, pol = POLICY) {
  const other = await signerFor(await generateKeyPair())
  const payload = delegationPayload({
    iss: device.did,
    aud: other.did,
    sub: other.did,
    cmd: '/payment/refund',
    pol,
    nonce: newNonce(),
    meta: Object.assign(Object.create(null), { 'countersign/match': '47' }),
    exp: now() + 300,
    ...extra,
  })
  return sealDelegation(payload, device)
}

describe('delegations the app signs', () => {
  test('are the envelope [sig, {h, ucan/dlg@1.0.0}] with the Ed25519 varsig header', async () => {
    const { bytes } = await sample()
    const [sig, signed] = dagCbor.decode(bytes)
    assert.equal(sig.length, 64)
    assert.deepEqual(Object.keys(signed).sort(), ['h', 'ucan/dlg@1.0.0'])
    assert.deepEqual([...signed.h], [...VARSIG_ED25519_DAG_CBOR])
    assert.equal(Buffer.from(signed.h).toString('hex'), '3401ed01ed011371')
    const payload = signed['ucan/dlg@1.0.0']
    assert.deepEqual(Object.keys(payload).sort(), ['aud', 'cmd', 'exp', 'iss', 'meta', 'nonce', 'pol', 'sub'])
    assert.equal(payload.nonce.length, 12)
    // The signature covers the encoded second element, and verifies with the device key.
    const key = await importPublicKey(publicKeyFromDid(device.did))
    assert.ok(await verifySignature(key, sig, signedPart(bytes)))
  })

  test('are canonical: re-encoding gives the same bytes, and the CIDs agree', async () => {
    for (let i = 0; i < 20; i++) {
      const { bytes, cid } = await sample()
      assert.equal(Buffer.from(dagCbor.encode(dagCbor.decode(bytes))).toString('hex'), Buffer.from(bytes).toString('hex'))
      const theirs = MfCID.create(1, dagCbor.code, await sha256.digest(bytes))
      assert.equal(cid.toString(), theirs.toString())
    }
  })

  test('verify in iso-ucan with the same CID and fields', async () => {
    const { bytes, cid, payload } = await sample()
    const d = await readDelegation(bytes, now())
    assert.equal(d.cid.toString(), cid.toString())
    assert.equal(d.iss, device.did)
    assert.equal(d.aud, payload.aud)
    assert.equal(d.sub, payload.sub)
    assert.equal(d.cmd, '/payment/refund')
    assert.equal(d.exp, payload.exp)
    assert.equal(d.meta['countersign/match'], '47')
  })

  test('keep a whole float a float: the app decodes its own bytes back exactly', async () => {
    const { bytes } = await sample({}, FLOAT_POLICY)
    assert.equal(Buffer.from(encode(decode(bytes))).toString('hex'), Buffer.from(bytes).toString('hex'))
    assert.ok(decode(bytes)[1]['ucan/dlg@1.0.0'].pol.at(-1)[2] instanceof Float)
  })

  test('verify in the Rust core, which reads back every field, floats included', { skip: cliSkip }, async () => {
    const { bytes, cid, payload } = await sample({}, FLOAT_POLICY)
    const [token] = JSON.parse(cli(['inspect', base64.encode(bytes), '--output', 'json']).stdout).tokens
    assert.equal(token.signature_valid, true)
    assert.equal(token.kind, 'delegation')
    assert.equal(token.cid, cid.toString())
    assert.equal(token.iss, device.did)
    assert.equal(token.aud, payload.aud)
    assert.equal(token.exp, payload.exp)
    assert.deepEqual(token.meta, { 'countersign/match': '47' })
    // The Rust side prints 1.0 for the float operand: its kind survived.
    const raw = cli(['inspect', base64.encode(bytes), '--output', 'json']).stdout
    assert.match(raw, /\["==",".rate",1\.0\]/)
    assert.match(raw, /\["<=",".amount",4900\]/)
  })

  test('fail to verify once a byte is changed after signing', { skip: cliSkip }, async () => {
    const { bytes } = await sample()
    const tampered = Uint8Array.from(bytes)
    const at = Buffer.from(tampered).lastIndexOf('USD')
    tampered[at] = 'E'.charCodeAt(0)
    const [token] = JSON.parse(cli(['inspect', base64.encode(tampered), '--output', 'json']).stdout).tokens
    assert.equal(token.signature_valid, false)
    await assert.rejects(readDelegation(tampered, now()))
  })

  test('are the device link of a chain that countersign verify and iso-ucan accept', { skip: cliSkip }, async () => {
    const standing = cli(['delegate', '--key', keys.owner.file, '--to', device.did, '--subject', keys.owner.did,
      '--cmd', '/payment', '--expires-in', '1h']).stdout
    // What a request for refunds up to 49.00 USD looks like to the app; the person
    // lowers the limit to 20.00 before approving.
    const request = {
      cmd: '/payment/refund',
      subject: keys.owner.did,
      args: null,
      policy: [['==', '.currency', 'USD'], ['<=', '.amount', 4900]],
      lifetime: 300,
    }
    const [limit] = narrowableLimits(request)
    const draft = approvalDraft({
      request, device: device.did, service: keys.service.did, now: now(), added: [stricter(limit, 2000)], match: '47',
    })
    const approval = await signApproval(draft, device)
    const policyJson = JSON.stringify([['==', '.currency', 'USD'], ['<=', '.amount', 4900], ['<=', '.amount', 2000]])
    const issued = cli(['delegate', '--key', keys.service.file, '--to', keys.agent.did, '--subject', keys.owner.did,
      '--cmd', '/payment/refund', '--policy', policyJson, '--expires-in', '5m']).stdout
    const proofs = [standing, base64.encode(approval.bytes), issued]
    const invoke = (amount) => cli(['invoke', '--key', keys.agent.file, '--to', keys.gateway.did, '--cmd', '/payment/refund',
      '--args', JSON.stringify({ amount, currency: 'USD' }), '--proof', ...proofs]).stdout

    const ok = cli(['verify', '--output', 'json', '--audience', keys.gateway.did, invoke(1500)], { allowFail: true })
    assert.equal(ok.status, 0, ok.stdout)
    const over = cli(['verify', '--output', 'json', '--audience', keys.gateway.did, invoke(3000)], { allowFail: true })
    assert.equal(over.status, 1)
    assert.equal(JSON.parse(over.stdout).error, 'MatchError', 'the narrowing the app signed binds the agent')

    const tokens = (text) => {
      const c = text.trim()
      return dagCbor.decode(new Uint8Array(Buffer.from(c.slice(1), 'base64')))['ctn-v1']
    }
    await validateTokens(tokens(invoke(1500)), { audience: { did: keys.gateway.did } })
    await assert.rejects(validateTokens(tokens(invoke(3000)), { audience: { did: keys.gateway.did } }))
    assert.ok(encodeContainer(tokens(invoke(1500))).startsWith('B'))
  })

  test('are refused when malformed before signing', async () => {
    const base = { iss: device.did, aud: device.did, sub: null, cmd: '/a', pol: [], nonce: newNonce(), exp: null }
    assert.throws(() => delegationPayload({ ...base, cmd: '/A' }), TypeError)
    assert.throws(() => delegationPayload({ ...base, cmd: '/a/' }), TypeError)
    assert.throws(() => delegationPayload({ ...base, aud: 'did:web:example.com' }), TypeError)
    assert.throws(() => delegationPayload({ ...base, exp: 1.5 }), TypeError)
    assert.throws(() => delegationPayload({ ...base, pol: {} }), TypeError)
    const other = await signerFor(await generateKeyPair())
    await assert.rejects(sealDelegation(delegationPayload(base), other), /signed by its issuer/)
  })
})

describe('the device key', () => {
  test('is generated non-extractable: no export format gets the private key out', async () => {
    const pair = await generateKeyPair()
    assert.equal(pair.privateKey.extractable, false)
    for (const format of ['pkcs8', 'jwk', 'raw']) {
      await assert.rejects(crypto.subtle.exportKey(format, pair.privateKey), undefined, format)
    }
    // The public half is what the DID is made of, and can be read.
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
    assert.equal(raw.length, 32)
  })
})

describe('JWTs the app signs', () => {
  test('per call: EdDSA, iss/aud/iat/exp/jti, a minute, a fresh jti each time', async () => {
    const claims = callClaims({ iss: device.did, aud: 'did:key:z6MkService', now: 1800000000 })
    const token = await sign(claims, device)
    const [h, b, s] = token.split('.')
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url')), { alg: 'EdDSA', typ: 'JWT' })
    assert.deepEqual(claimsOf(token), claims)
    assert.equal(claims.exp - claims.iat, 60)
    assert.notEqual(callClaims({ iss: device.did, aud: 'x', now: 1 }).jti, claims.jti)
    const key = await importPublicKey(publicKeyFromDid(device.did))
    assert.ok(await verifySignature(key, base64.decodeUrl(s), utf8(`${h}.${b}`)))
  })

  test('for a denial: the request id as sub, and the reason', async () => {
    const claims = denialClaims({ iss: device.did, aud: 'did:key:z6MkService', now: 1800000000, id: 'req_abc', reason: 'Not now' })
    const token = await sign(claims, device)
    assert.equal(claimsOf(token).sub, 'req_abc')
    assert.equal(claimsOf(token).reason, 'Not now')
    await assert.rejects(sign({ ...claims, iss: 'did:key:z6MkOther' }, device), /issued by its signer/)
  })
})
