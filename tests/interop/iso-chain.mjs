import { encodeContainer } from './container.mjs'
import {
  ALICE_POLICY,
  LEAF_CMD,
  OWNER_POLICY,
  ROOT_CMD,
} from './fixtures.mjs'
import {
  delegate,
  invoke,
  nowInSeconds,
  signInvocationUnchecked,
} from './iso.mjs'
import { newIsoKey } from './keys.mjs'

export async function buildIsoChain(dir, { powerline = false, now = nowInSeconds(), nbf } = {}) {
  const owner = await newIsoKey(dir, 'owner')
  const alice = await newIsoKey(dir, 'alice')
  const bob = await newIsoKey(dir, 'bob')
  const exp = now + 600
  const root = await delegate({
    iss: owner.signer,
    aud: alice.did,
    sub: owner.did,
    cmd: ROOT_CMD,
    pol: OWNER_POLICY,
    exp,
    nbf,
  })
  const middle = await delegate({
    iss: alice.signer,
    aud: bob.did,
    sub: powerline ? null : owner.did,
    cmd: LEAF_CMD,
    pol: ALICE_POLICY,
    exp,
  })
  return { owner, alice, bob, root, middle, now, exp }
}

function invocationOptions(chain, args) {
  return {
    iss: chain.bob.signer,
    sub: chain.owner.did,
    cmd: LEAF_CMD,
    args,
    prf: [chain.root, chain.middle],
    exp: chain.exp,
  }
}

export function isoInvocation(chain, args) {
  return invoke({ ...invocationOptions(chain, args), now: chain.now })
}

export async function isoInvocationUnchecked(chain, args, version) {
  const bytes = await signInvocationUnchecked({ ...invocationOptions(chain, args), version })
  return { bytes }
}

export function chainContainer(chain, invocation) {
  return encodeContainer([invocation.bytes, chain.root.bytes, chain.middle.bytes])
}
