// Pairing codes as people type them, and the six-digit verification string both sides
// show: SHA-256 over the code, the device's DID and the service's DID. If someone else
// claimed the code, the string on the device differs from the owner's.

import { concat, sha256, utf8 } from './bytes.js'

/** Uppercase, separators dropped, I and L read as 1 and O as 0 (Crockford base32). */
export function normalizeCode(code) {
  let out = ''
  for (const c of code) {
    if (!/^[A-Za-z0-9]$/.test(c)) continue
    const u = c.toUpperCase()
    out += u === 'I' || u === 'L' ? '1' : u === 'O' ? '0' : u
  }
  return out
}

/** Whether a typed code could be a pairing code (10 characters once normalized). */
export function looksLikeCode(code) {
  return /^[0-9A-Z]{10}$/.test(normalizeCode(code))
}

/** `XXXXX-XXXXX`, for showing a normalized code. */
export function formatCode(code) {
  const n = normalizeCode(code)
  return n.length === 10 ? `${n.slice(0, 5)}-${n.slice(5)}` : n
}

export async function verificationString(code, deviceDid, serviceDid) {
  const zero = Uint8Array.of(0)
  const digest = await sha256(
    concat(
      utf8('countersign pairing v1'),
      zero,
      utf8(normalizeCode(code)),
      zero,
      utf8(deviceDid),
      zero,
      utf8(serviceDid)
    )
  )
  const n = new DataView(digest.buffer).getUint32(0) % 1_000_000
  const three = (x) => String(x).padStart(3, '0')
  return `${three(Math.floor(n / 1000))} ${three(n % 1000)}`
}
