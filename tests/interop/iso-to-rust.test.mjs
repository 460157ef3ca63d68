import assert from 'node:assert/strict'
import { after, describe } from 'node:test'
import { cliTest, keyDid, verify } from './cli.mjs'
import { encodeContainer, tokenToBase64 } from './container.mjs'
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

const SIGNATURE_OFFSET = 3

const tmp = tempDir()
after(() => tmp.remove())

function assertValid(result) {
  assert.deepEqual(
    { status: result.status, valid: result.valid, error: result.error },
    { status: 0, valid: true, error: null },
    result.message
  )
}

function assertInvalid(result, kind) {
  assert.deepEqual(
    { status: result.status, valid: result.valid, error: result.error },
    { status: 1, valid: false, error: kind },
    result.message
  )
}

describe('iso-ucan tokens verified by countersign', () => {
  cliTest('countersign reads the DID of a key written for iso-ucan', async () => {
    const chain = await buildIsoChain(tmp.dir)
    for (const key of [chain.owner, chain.alice, chain.bob]) {
      assert.equal(keyDid(key.file), key.did)
    }
  })

  cliTest('accepts an invocation whose arguments match every policy', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const invocation = await isoInvocation(chain, GOOD_ARGS)
    const result = verify(chainContainer(chain, invocation), { now: chain.now })
    assertValid(result)
    assert.equal(result.cid, invocation.cid.toString())
  })

  cliTest('accepts the invocation when the executor is its audience', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    assertValid(verify(container, { now: chain.now, audience: chain.owner.did }))
  })

  cliTest('rejects the invocation at an executor that is not its audience', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    assertInvalid(verify(container, { now: chain.now, audience: chain.alice.did }), 'InvalidAudience')
  })

  cliTest('rejects arguments that break the root policy with MatchError', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const invocation = await isoInvocationUnchecked(chain, WRONG_RECIPIENT_ARGS)
    assertInvalid(verify(chainContainer(chain, invocation), { now: chain.now }), 'MatchError')
  })

  cliTest('rejects arguments that break only the narrowed policy with MatchError', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const invocation = await isoInvocationUnchecked(chain, OVER_NARROWED_LIMIT_ARGS)
    assertInvalid(verify(chainContainer(chain, invocation), { now: chain.now }), 'MatchError')
  })

  cliTest('accepts a powerline delegation in the middle of the chain', async () => {
    const chain = await buildIsoChain(tmp.dir, { powerline: true })
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    assertValid(verify(container, { now: chain.now }))
  })

  cliTest('rejects the chain once it has expired', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    assertInvalid(verify(container, { now: chain.exp + 1 }), 'Expired')
  })

  cliTest('honours a root delegation not valid before a given time', async () => {
    const now = Math.floor(Date.now() / 1000)
    const chain = await buildIsoChain(tmp.dir, { now, nbf: now + 60 })
    const invocation = await isoInvocation({ ...chain, now: now + 60 }, GOOD_ARGS)
    const container = chainContainer(chain, invocation)
    assertInvalid(verify(container, { now: now + 59 }), 'TooEarly')
    assertValid(verify(container, { now: now + 60 }))
  })

  cliTest('rejects a container that lacks a proof', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const invocation = await isoInvocation(chain, GOOD_ARGS)
    const container = encodeContainer([invocation.bytes, chain.root.bytes])
    assertInvalid(verify(container, { now: chain.now }), 'UnavailableProof')
  })

  cliTest('rejects an invocation whose signature was altered', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const { bytes } = await isoInvocation(chain, GOOD_ARGS)
    assert.deepEqual([...bytes.subarray(0, SIGNATURE_OFFSET)], [0x82, 0x58, 0x40])
    const tampered = bytes.slice()
    tampered[SIGNATURE_OFFSET] ^= 0x01
    const container = chainContainer(chain, { bytes: tampered })
    assertInvalid(verify(container, { now: chain.now }), 'InvalidSignature')
  })

  cliTest('rejects a delegation given alone as if it were an invocation', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const result = verify(tokenToBase64(chain.root.bytes), { now: chain.now })
    assert.equal(result.status, 1, result.message)
    assert.equal(result.valid, false)
  })
})
