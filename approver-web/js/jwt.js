// EdDSA JWTs signed with the device key: one per API call (`{iss, aud, iat, exp, jti}`)
// and the signed statement of a denial (adding `sub`: the request id, and `reason`).

import * as base64 from './base64.js'
import { randomBytes, utf8 } from './bytes.js'

const HEADER = base64.encodeUrl(utf8(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })))

/** Lifetime of the token signed for one call; the service accepts up to 5 minutes. */
export const CALL_LIFETIME = 60

export async function sign(claims, signer) {
  if (claims.iss !== signer.did) throw new Error('a JWT must be issued by its signer')
  const input = `${HEADER}.${base64.encodeUrl(utf8(JSON.stringify(claims)))}`
  const signature = await signer.sign(utf8(input))
  return `${input}.${base64.encodeUrl(signature)}`
}

/** A fresh, unique id for a token. */
export function jti() {
  return base64.encodeUrl(randomBytes(16))
}

/** Claims for one authenticated call: used once, a minute at most. */
export function callClaims({ iss, aud, now, lifetime = CALL_LIFETIME }) {
  return { iss, aud, iat: now, exp: now + lifetime, jti: jti() }
}

/** Claims of a signed denial of request `id` for `reason`. */
export function denialClaims({ iss, aud, now, id, reason }) {
  return { iss, aud, iat: now, exp: now + CALL_LIFETIME, jti: jti(), sub: id, reason }
}

/** Decodes a JWT's claims without checking anything (for display and tests). */
export function claimsOf(token) {
  const [, body] = token.split('.')
  return JSON.parse(new TextDecoder().decode(base64.decodeUrl(body)))
}
