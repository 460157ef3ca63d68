// Base32 (RFC 4648), lowercase and unpadded, as multibase `b` uses it for CIDs.

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'

export function encode(bytes) {
  let out = ''
  let bits = 0
  let value = 0
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(value >>> bits) & 31]
    }
    value &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

export function decode(text) {
  const s = text.toLowerCase()
  const out = []
  let bits = 0
  let value = 0
  for (const ch of s) {
    const v = ALPHABET.indexOf(ch)
    if (v < 0) throw new TypeError(`invalid base32 character ${JSON.stringify(ch)}`)
    value = (value << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out.push((value >>> bits) & 0xff)
    }
    value &= (1 << bits) - 1
  }
  if (value !== 0 || bits >= 5) throw new TypeError('non-canonical base32')
  return Uint8Array.from(out)
}
