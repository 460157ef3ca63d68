import path from 'node:path'
import { delegate, generateKey, invoke } from './cli.mjs'
import { ALICE_POLICY, LEAF_CMD, OWNER_POLICY, ROOT_CMD } from './fixtures.mjs'

export function cliKey(dir, name) {
  const file = path.join(dir, `${name}.pem`)
  const did = generateKey(file)
  return { name, file, did }
}

export function cliKeys(dir) {
  return {
    owner: cliKey(dir, 'owner'),
    alice: cliKey(dir, 'alice'),
    bob: cliKey(dir, 'bob'),
  }
}

export function cliDelegations({ owner, alice, bob }, { powerline = false } = {}) {
  const root = delegate({
    key: owner.file,
    to: alice.did,
    subject: owner.did,
    cmd: ROOT_CMD,
    policy: OWNER_POLICY,
    expiresIn: '10m',
  })
  const middle = delegate({
    key: alice.file,
    to: bob.did,
    subject: powerline ? undefined : owner.did,
    cmd: LEAF_CMD,
    policy: ALICE_POLICY,
    expiresIn: '10m',
  })
  return { root, middle }
}

export function cliInvocation(keys, proofs, args) {
  return invoke({
    key: keys.bob.file,
    to: keys.owner.did,
    subject: keys.owner.did,
    cmd: LEAF_CMD,
    args,
    proofs,
    expiresIn: '5m',
  })
}
