import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { after, describe, test } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { EdDSASigner } from 'iso-signatures/signers/eddsa.js'
import { decodeContainer } from './container.mjs'
import {
  GOOD_ARGS,
  OVER_NARROWED_LIMIT_ARGS,
  WRONG_RECIPIENT_ARGS,
  tempDir,
} from './fixtures.mjs'
import {
  buildIsoChain,
  chainContainer,
  isoInvocation,
  isoInvocationUnchecked,
} from './iso-chain.mjs'
import {
  decodeEnvelope,
  readDelegation,
  signDelegationWithVersion,
  validateTokens,
} from './iso.mjs'
import { pemFromSeed, seedFromPem } from './keys.mjs'

const tmp = tempDir()
after(() => tmp.remove())

function rawPublicKey(keyObject) {
  return new Uint8Array(Buffer.from(keyObject.export({ format: 'jwk' }).x, 'base64url'))
}

describe('key conversion', () => {
  test('a PKCS#8 PEM from node:crypto gives iso-ucan the same public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' })
    const signer = await EdDSASigner.generate(seedFromPem(pem))
    assert.deepEqual(signer.verifiableDid.publicKey, rawPublicKey(publicKey))
  })

  test('a seed written as PEM reads back in node:crypto with the same public key', async () => {
    const seed = new Uint8Array(32).map((_, i) => i + 1)
    const pem = pemFromSeed(seed)
    const signer = await EdDSASigner.generate(seed)
    const publicKey = createPublicKey(createPrivateKey(pem))
    assert.deepEqual(signer.verifiableDid.publicKey, rawPublicKey(publicKey))
    assert.deepEqual(seedFromPem(pem), seed)
  })
})

describe('iso-ucan against itself', () => {
  test('emits the ucan/dlg@1.0.0-rc.1 and ucan/inv@1.0.0-rc.1 tags', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const invocation = await isoInvocation(chain, GOOD_ARGS)
    const [, dlgPayload] = dagCbor.decode(chain.root.bytes)
    const [, invPayload] = dagCbor.decode(invocation.bytes)
    assert.deepEqual(Object.keys(dlgPayload), ['h', 'ucan/dlg@1.0.0-rc.1'])
    assert.deepEqual(Object.keys(invPayload), ['h', 'ucan/inv@1.0.0-rc.1'])
  })

  test('validates its chain read back from a ctn-v1 container', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    const tokens = decodeContainer(container)
    assert.equal(tokens.length, 3)
    const invocation = await validateTokens(tokens, { now: chain.now })
    assert.deepEqual(invocation.payload.args, GOOD_ARGS)
    assert.deepEqual(
      invocation.delegations.map((d) => d.cid.toString()),
      [chain.root.cid.toString(), chain.middle.cid.toString()]
    )
  })

  test('validates a powerline chain', async () => {
    const chain = await buildIsoChain(tmp.dir, { powerline: true })
    assert.equal(decodeEnvelope(chain.middle.bytes).payload.sub, null)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    await validateTokens(decodeContainer(container), { now: chain.now })
  })

  test('rejects arguments that break the root policy', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocationUnchecked(chain, WRONG_RECIPIENT_ARGS))
    await assert.rejects(validateTokens(decodeContainer(container)), /invalid arguments/)
  })

  test('rejects arguments that break only the narrowed policy', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocationUnchecked(chain, OVER_NARROWED_LIMIT_ARGS))
    await assert.rejects(validateTokens(decodeContainer(container)), /invalid arguments/)
  })

  test('rejects proofs past their expiry', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    await assert.rejects(
      validateTokens(decodeContainer(container), { now: chain.exp + 1 }),
      /expiration/
    )
  })

  test('accepts a chain tagged ucan/dlg@1.0.0 and ucan/inv@1.0.0', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const retag = async (delegation, key) =>
      readDelegation(
        await signDelegationWithVersion(key.signer, delegation.envelope.payload, '1.0.0'),
        chain.now
      )
    const root = await retag(chain.root, chain.owner)
    const middle = await retag(chain.middle, chain.alice)
    assert.equal(root.envelope.version, '1.0.0')
    const retagged = { ...chain, root, middle }
    const invocation = await isoInvocationUnchecked(retagged, GOOD_ARGS, '1.0.0')
    const [, payload] = dagCbor.decode(invocation.bytes)
    assert.deepEqual(Object.keys(payload), ['h', 'ucan/inv@1.0.0'])
    await validateTokens(decodeContainer(chainContainer(retagged, invocation)), { now: chain.now })
  })
})
