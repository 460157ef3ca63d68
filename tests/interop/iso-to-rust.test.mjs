import assert from 'node:assert/strict'
import { after, describe } from 'node:test'
import { cliTest, keyDid, verify } from './cli.mjs'
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
import { encodeContainer } from './container.mjs'

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
  assert.equal(result.status, 1, result.message)
  assert.equal(result.valid, false)
  if (kind !== undefined) {
    assert.equal(result.error, kind, result.message)
  }
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
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    assertValid(verify(container, { now: chain.now }))
  })

  cliTest('accepts the invocation when the executor is the audience', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    assertValid(verify(container, { now: chain.now, audience: chain.owner.did }))
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

  cliTest('rejects the chain after its delegations expire', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    assertInvalid(verify(container, { now: chain.exp + 1 }))
  })

  cliTest('rejects a container that lacks a proof', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const invocation = await isoInvocation(chain, GOOD_ARGS)
    assertInvalid(verify(encodeContainer([invocation, chain.root.bytes]), { now: chain.now }))
  })

  cliTest('rejects an invocation whose signature was altered', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const invocation = await isoInvocation(chain, GOOD_ARGS)
    assert.deepEqual([...invocation.subarray(0, SIGNATURE_OFFSET)], [0x82, 0x58, 0x40])
    const tampered = invocation.slice()
    tampered[SIGNATURE_OFFSET] ^= 0x01
    assertInvalid(verify(chainContainer(chain, tampered), { now: chain.now }))
  })
})
