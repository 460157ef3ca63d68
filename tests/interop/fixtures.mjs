import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export const ROOT_CMD = '/msg'
export const LEAF_CMD = '/msg/send'

export const OWNER_POLICY = [
  ['==', '.to', 'bob@example.com'],
  ['<=', '.amount', 100],
]

export const ALICE_POLICY = [
  ['like', '.from', '*@example.com'],
  ['<=', '.amount', 50],
  ['any', '.tags', ['==', '.', 'invoice']],
  ['not', ['==', '.draft', true]],
  ['or', [['>', '.amount', 0], ['==', '.refund', true]]],
]

export const GOOD_ARGS = {
  from: 'alice@example.com',
  to: 'bob@example.com',
  amount: 42,
  tags: ['invoice', 'q3'],
  draft: false,
}

export const WRONG_RECIPIENT_ARGS = { ...GOOD_ARGS, to: 'eve@example.com' }

export const OVER_NARROWED_LIMIT_ARGS = { ...GOOD_ARGS, amount: 75 }

export function tempDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'countersign-interop-'))
  return {
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
