import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { cliSkip, cliTest, delegate, inspect, keyDid, verify } from './cli.mjs'
import { cliDelegations, cliInvocation, cliKeys } from './cli-chain.mjs'
import { decodeContainer, tokenFromBase64 } from './container.mjs'
import {
  GOOD_ARGS,
  LEAF_CMD,
  OVER_NARROWED_LIMIT_ARGS,
  OWNER_POLICY,
  ROOT_CMD,
  WRONG_RECIPIENT_ARGS,
  tempDir,
} from './fixtures.mjs'
import { nowInSeconds, readDelegation, validateTokens, verifierResolver } from './iso.mjs'
import { signerFromKeyFile } from './keys.mjs'

const tmp = tempDir()
let keys

before(() => {
  if (!cliSkip) {
    keys = cliKeys(tmp.dir)
  }
})
after(() => tmp.remove())

function timed(fn) {
  const start = nowInSeconds()
  const value = fn()
  return { value, start, end: nowInSeconds() }
}

function assertExpiresIn(exp, { start, end }, seconds) {
  assert.ok(
    exp >= start + seconds && exp <= end + seconds,
    `exp ${exp} is not ${seconds}s after ${start}..${end}`
  )
}

describe('countersign tokens verified by iso-ucan', () => {
  cliTest('keys from countersign key generate load into iso-ucan with the same DID', async () => {
    for (const key of Object.values(keys)) {
      const signer = await signerFromKeyFile(key.file)
      assert.equal(signer.did, key.did)
      assert.equal(keyDid(key.file), key.did)
    }
  })

  cliTest('delegation fields decode as requested', async (t) => {
    const meta = { purpose: 'interop', attempt: 1 }
    const issued = timed(() =>
      delegate({
        key: keys.owner.file,
        to: keys.alice.did,
        subject: keys.owner.did,
        cmd: ROOT_CMD,
        policy: OWNER_POLICY,
        expiresIn: '10m',
        meta,
      })
    )
    const bytes = tokenFromBase64(issued.value)
    const delegation = await readDelegation(bytes)
    const { payload, version } = delegation.envelope
    t.diagnostic(`countersign delegation tag: ucan/dlg@${version}`)
    assert.equal(payload.iss, keys.owner.did)
    assert.equal(payload.aud, keys.alice.did)
    assert.equal(payload.sub, keys.owner.did)
    assert.equal(payload.cmd, ROOT_CMD)
    assert.deepEqual(payload.pol, OWNER_POLICY)
    assert.deepEqual(payload.meta, meta)
    assert.equal(payload.nbf, undefined)
    assertExpiresIn(payload.exp, issued, 600)
    assert.ok(payload.nonce instanceof Uint8Array && payload.nonce.length > 0)
    const [, signed] = dagCbor.decode(bytes)
    assert.deepEqual(Object.keys(signed), ['h', `ucan/dlg@${version}`])
    const [inspected] = inspect(issued.value).tokens
    assert.equal(inspected.nonce, Buffer.from(payload.nonce).toString('hex'))
    assert.equal(inspected.exp, payload.exp)
  })

  cliTest('not-before and no-expiry become nbf and a null exp', async () => {
    const notBefore = nowInSeconds() + 3600
    const token = delegate({
      key: keys.owner.file,
      to: keys.alice.did,
      subject: keys.owner.did,
      cmd: ROOT_CMD,
      notBefore,
    })
    const delegation = await readDelegation(tokenFromBase64(token))
    assert.equal(delegation.exp, null)
    assert.equal(delegation.nbf, notBefore)
    assert.deepEqual(delegation.pol, [])
    await assert.rejects(delegation.validate({ verifierResolver, now: notBefore - 1 }), /not valid yet/)
    assert.equal(await delegation.validate({ verifierResolver, now: notBefore }), true)
  })

  cliTest('a powerline delegation decodes with a null subject', async () => {
    const { middle } = cliDelegations(keys, { powerline: true })
    const bytes = tokenFromBase64(middle)
    const [, signed] = dagCbor.decode(bytes)
    const payload = Object.values(signed)[1]
    assert.ok('sub' in payload, 'sub must be present and null')
    assert.equal(payload.sub, null)
    const delegation = await readDelegation(bytes)
    assert.equal(delegation.sub, null)
    assert.equal(delegation.cmd, LEAF_CMD)
  })

  cliTest('an invocation container validates against its proofs', async (t) => {
    const { root, middle } = cliDelegations(keys)
    const issued = timed(() => cliInvocation(keys, [root, middle], GOOD_ARGS))
    const invocation = await validateTokens(decodeContainer(issued.value))
    const { payload, version } = invocation.envelope
    t.diagnostic(`countersign invocation tag: ucan/inv@${version}`)
    assert.equal(payload.iss, keys.bob.did)
    assert.equal(payload.sub, keys.owner.did)
    assert.equal(payload.aud, keys.owner.did)
    assert.equal(payload.cmd, LEAF_CMD)
    assert.deepEqual(payload.args, GOOD_ARGS)
    assertExpiresIn(payload.exp, issued, 300)
    assert.ok(payload.nonce instanceof Uint8Array && payload.nonce.length > 0)
    const rootCid = (await readDelegation(tokenFromBase64(root))).cid.toString()
    const middleCid = (await readDelegation(tokenFromBase64(middle))).cid.toString()
    assert.deepEqual(payload.prf.map(String), [rootCid, middleCid])
  })

  cliTest('the chain validates at a given time and not after it expires', async () => {
    const { root, middle } = cliDelegations(keys)
    const tokens = decodeContainer(cliInvocation(keys, [root, middle], GOOD_ARGS))
    const exp = (await readDelegation(tokenFromBase64(root))).exp
    await validateTokens(tokens, { now: exp - 60 })
    await assert.rejects(validateTokens(tokens, { now: exp + 1 }), /expiration/)
  })

  cliTest('a powerline chain validates', async () => {
    const { root, middle } = cliDelegations(keys, { powerline: true })
    const container = cliInvocation(keys, [root, middle], GOOD_ARGS)
    const invocation = await validateTokens(decodeContainer(container))
    assert.equal(invocation.delegations[1].sub, null)
  })

  cliTest('proofs given as a delegation container validate', async () => {
    const { root } = cliDelegations(keys)
    const middle = delegate({
      key: keys.alice.file,
      to: keys.bob.did,
      subject: keys.owner.did,
      cmd: LEAF_CMD,
      expiresIn: '10m',
      container: true,
      proofs: [root],
    })
    assert.equal(decodeContainer(middle).length, 2)
    const container = cliInvocation(keys, [middle], GOOD_ARGS)
    await validateTokens(decodeContainer(container))
  })

  for (const [name, args] of [
    ['the root policy', WRONG_RECIPIENT_ARGS],
    ['only the narrowed policy', OVER_NARROWED_LIMIT_ARGS],
  ]) {
    cliTest(`an invocation breaking ${name} is rejected by iso-ucan`, async () => {
      const { root, middle } = cliDelegations(keys)
      const container = cliInvocation(keys, [root, middle], args)
      assert.equal(verify(container).error, 'MatchError')
      await assert.rejects(validateTokens(decodeContainer(container)), /invalid arguments/)
    })
  }
})
