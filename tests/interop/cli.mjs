import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const testsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export const CLI_BIN = process.env.COUNTERSIGN_BIN
  ? path.resolve(process.env.COUNTERSIGN_BIN)
  : path.resolve(testsDir, '../target/debug/countersign')

export const cliSkip = existsSync(CLI_BIN)
  ? false
  : `countersign binary not found at ${CLI_BIN} (run "cargo build -p countersign-cli" or set COUNTERSIGN_BIN)`

export function run(args, { input } = {}) {
  const result = spawnSync(CLI_BIN, args, {
    input,
    encoding: 'utf8',
    timeout: 5000,
  })
  if (result.error) {
    throw result.error
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

export function cli(args, options) {
  const result = run(args, options)
  if (result.status !== 0) {
    throw new Error(
      `countersign ${args[0]} exited with ${result.status}\n${result.stderr}`
    )
  }
  return result.stdout.trim()
}

export function verify(tokenOrContainer, { now, audience } = {}) {
  const args = ['verify', '--output', 'json']
  if (now !== undefined) {
    args.push('--now', String(now))
  }
  if (audience !== undefined) {
    args.push('--audience', audience)
  }
  args.push(tokenOrContainer)
  const result = run(args)
  if (result.status !== 0 && result.status !== 1) {
    throw new Error(
      `countersign verify exited with ${result.status}\n${result.stderr}`
    )
  }
  return { status: result.status, ...JSON.parse(result.stdout) }
}

export function inspect(tokenOrContainer) {
  return JSON.parse(cli(['inspect', tokenOrContainer, '--output', 'json']))
}

export function generateKey(file) {
  return cli(['key', 'generate', '--out', file])
}

export function keyDid(file) {
  return cli(['key', 'did', file])
}

export function delegate({
  key,
  to,
  subject,
  cmd,
  policy,
  expiresIn,
  notBefore,
  meta,
  container,
  proofs = [],
}) {
  const args = ['delegate', '--key', key, '--to', to, '--cmd', cmd]
  args.push(...(subject ? ['--subject', subject] : ['--powerline']))
  if (policy !== undefined) {
    args.push('--policy', JSON.stringify(policy))
  }
  args.push(...(expiresIn ? ['--expires-in', expiresIn] : ['--no-expiry']))
  if (notBefore !== undefined) {
    args.push('--not-before', String(notBefore))
  }
  if (meta !== undefined) {
    args.push('--meta', JSON.stringify(meta))
  }
  if (container) {
    args.push('--container', '--proof', ...proofs)
  }
  return cli(args)
}

export function invoke({ key, to, subject, cmd, args, proofs, expiresIn }) {
  const argv = ['invoke', '--key', key, '--to', to, '--cmd', cmd]
  argv.push('--args', JSON.stringify(args))
  if (subject !== undefined) {
    argv.push('--subject', subject)
  }
  if (expiresIn !== undefined) {
    argv.push('--expires-in', expiresIn)
  }
  argv.push('--proof', ...proofs)
  return cli(argv)
}

export function cliTest(name, fn) {
  return test(name, { skip: cliSkip }, fn)
}
