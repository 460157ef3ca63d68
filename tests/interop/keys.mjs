import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { EdDSASigner } from 'iso-signatures/signers/eddsa.js'

const ED25519_OID = Buffer.from('06032b6570', 'hex')
const SEED_OCTETS = Buffer.from('04220420', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

export function seedFromPem(pem) {
  const match = pem.match(
    /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/
  )
  if (!match) {
    throw new Error('not a PKCS#8 PEM private key')
  }
  const der = Buffer.from(match[1].replace(/\s+/g, ''), 'base64')
  const oid = der.indexOf(ED25519_OID)
  const octets = oid + ED25519_OID.length
  if (oid < 0 || !der.subarray(octets, octets + 4).equals(SEED_OCTETS)) {
    throw new Error('not an Ed25519 PKCS#8 private key')
  }
  return new Uint8Array(der.subarray(octets + 4, octets + 4 + 32))
}

export function pemFromSeed(seed) {
  const der = Buffer.concat([PKCS8_PREFIX, Buffer.from(seed)])
  const lines = der.toString('base64').match(/.{1,64}/g)
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`
}

export function signerFromKeyFile(file) {
  return EdDSASigner.generate(seedFromPem(readFileSync(file, 'utf8')))
}

export async function newIsoKey(dir, name) {
  const seed = new Uint8Array(randomBytes(32))
  const file = path.join(dir, `${name}.pem`)
  writeFileSync(file, pemFromSeed(seed), { mode: 0o600 })
  const signer = await EdDSASigner.generate(seed)
  return { name, file, signer, did: signer.did }
}
