// Base64 (RFC 4648): the standard alphabet with padding for tokens in API bodies and
// unpadded for DAG-JSON bytes; the URL alphabet without padding for JWTs and Web Push.

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function encodeWith(bytes, alphabet, pad) {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2]
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + alphabet[n & 63]
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = bytes[i] << 16
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + (pad ? '==' : '')
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8)
    out += alphabet[n >> 18] + alphabet[(n >> 12) & 63] + alphabet[(n >> 6) & 63] + (pad ? '=' : '')
  }
  return out
}

function decodeWith(text, alphabet) {
  const s = text.replace(/=+$/, '')
  if (s.length % 4 === 1) throw new TypeError('invalid base64 length')
  const out = new Uint8Array(Math.floor((s.length * 3) / 4))
  let bits = 0
  let value = 0
  let at = 0
  for (const ch of s) {
    const v = alphabet.indexOf(ch)
    if (v < 0) throw new TypeError(`invalid base64 character ${JSON.stringify(ch)}`)
    value = (value << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[at++] = (value >> bits) & 0xff
    }
  }
  // Leftover bits must be zero, so every text has one decoding.
  if (value & ((1 << bits) - 1)) throw new TypeError('non-canonical base64')
  return out
}

/** Standard alphabet, padded (what the API takes for token envelopes). */
export const encode = (bytes) => encodeWith(bytes, STD, true)
export const decode = (text) => decodeWith(text, STD)
/** Standard alphabet, unpadded (DAG-JSON bytes). */
export const encodeNoPad = (bytes) => encodeWith(bytes, STD, false)
/** URL alphabet, unpadded (JWTs, Web Push keys). */
export const encodeUrl = (bytes) => encodeWith(bytes, URL, false)
export const decodeUrl = (text) => decodeWith(text, URL)
