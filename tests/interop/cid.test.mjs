import assert from 'node:assert/strict'
import { after, before, describe } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { cliSkip, cliTest, inspect, verify } from './cli.mjs'
import { cliDelegations, cliInvocation, cliKeys } from './cli-chain.mjs'
import { decodeContainer, tokenFromBase64, tokenToBase64 } from './container.mjs'
import { GOOD_ARGS, tempDir } from './fixtures.mjs'
import { buildIsoChain, chainContainer, isoInvocation } from './iso-chain.mjs'
import { readDelegation, validateTokens } from './iso.mjs'

const tmp = tempDir()
let keys

before(() => {
  if (!cliSkip) {
    keys = cliKeys(tmp.dir)
  }
})
after(() => tmp.remove())

async function bytesCid(bytes) {
  return CID.create(1, dagCbor.code, await sha256.digest(bytes)).toString()
}

function inspectedCids(tokenOrContainer) {
  return inspect(tokenOrContainer).tokens.map((token) => token.cid)
}

async function isoCids(tokens) {
  const invocation = await validateTokens(tokens)
  return [invocation.cid, ...invocation.delegations.map((d) => d.cid)].map(String)
}

describe('CIDs agree between countersign and iso-ucan', () => {
  cliTest('for a countersign delegation', async () => {
    const { root } = cliDelegations(keys)
    const bytes = tokenFromBase64(root)
    const [cid] = inspectedCids(root)
    const { cid: isoCid } = await readDelegation(bytes)
    assert.equal(cid, isoCid.toString())
    assert.equal(cid, await bytesCid(bytes))
  })

  cliTest('for every token of a countersign invocation container', async () => {
    const { root, middle } = cliDelegations(keys)
    const container = cliInvocation(keys, [root, middle], GOOD_ARGS)
    const tokens = decodeContainer(container)
    const expected = await isoCids(tokens)
    assert.deepEqual(
      await Promise.all(tokens.map(bytesCid)).then((cids) => cids.sort()),
      [...expected].sort()
    )
    assert.deepEqual(inspectedCids(container).sort(), [...expected].sort())
    assert.equal(verify(container).cid, expected[0])
  })

  cliTest('for every token of an iso-ucan container', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const container = chainContainer(chain, await isoInvocation(chain, GOOD_ARGS))
    const expected = await isoCids(decodeContainer(container))
    assert.deepEqual(inspectedCids(container).sort(), [...expected].sort())
  })

  cliTest('for an iso-ucan delegation given as a bare token', async () => {
    const chain = await buildIsoChain(tmp.dir)
    const [cid] = inspectedCids(tokenToBase64(chain.root.bytes))
    assert.equal(cid, chain.root.cid.toString())
  })
})
