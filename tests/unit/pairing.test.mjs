// The app's pairing code and did:key against vectors the service itself computed
// (tests/unit/vectors/pairing.json, kept current by `cargo test -p countersign-server`).
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { didFromPublicKey, publicKeyFromDid, shortDid } from '../../approver-web/js/did.js'
import { formatCode, looksLikeCode, normalizeCode, verificationString } from '../../approver-web/js/pairing.js'

const vectors = JSON.parse(readFileSync(new URL('./vectors/pairing.json', import.meta.url), 'utf8'))

/** The Ed25519 public key of a 32-byte seed, through WebCrypto. */
async function publicKeyOfSeed(seedHex) {
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')])
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign'])
  const jwk = await crypto.subtle.exportKey('jwk', key)
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'))
}

describe('pairing', () => {
  test('the verification string is the service’s, byte for byte', async () => {
    assert.ok(vectors.verification.length >= 5)
    for (const v of vectors.verification) {
      assert.equal(await verificationString(v.code, v.device, v.service), v.verification, JSON.stringify(v.code))
    }
  })

  test('codes normalize as the service normalizes them', () => {
    assert.equal(normalizeCode('abcde-fghjk'), 'ABCDEFGHJK')
    assert.equal(normalizeCode(' o1l0i '), '01101')
    assert.equal(normalizeCode('Ünïcode-12345-é'), 'NC0DE12345')
    assert.equal(formatCode('abcdefghjk'), 'ABCDE-FGHJK')
    assert.ok(looksLikeCode('7qw2m k9prt'))
    assert.ok(!looksLikeCode('7qw2m'))
  })

  test('did:key from a public key is the service’s', async () => {
    for (const { seed, did } of vectors.dids) {
      const pub = await publicKeyOfSeed(seed)
      assert.equal(didFromPublicKey(pub), did)
      assert.deepEqual([...publicKeyFromDid(did)], [...pub])
    }
    assert.throws(() => publicKeyFromDid('did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme'), TypeError)
    assert.match(shortDid(vectors.dids[0].did), /^z6Mk.{4}….{6}$/)
  })
})
