import * as dagCbor from '@ipld/dag-cbor'
import { gunzipSync } from 'node:zlib'

const CONTAINER_KEY = 'ctn-v1'

export function tokenFromBase64(text) {
  return new Uint8Array(Buffer.from(text.trim(), 'base64'))
}

export function tokenToBase64(bytes) {
  return Buffer.from(bytes).toString('base64')
}

export function encodeContainer(tokens) {
  const cbor = dagCbor.encode({
    [CONTAINER_KEY]: tokens.map((token) => new Uint8Array(token)),
  })
  return `B${Buffer.from(cbor).toString('base64')}`
}

function containerBytes(header, body) {
  switch (header) {
    case 'B':
      return Buffer.from(body, 'base64')
    case 'C':
      return Buffer.from(body, 'base64url')
    case 'O':
      return gunzipSync(Buffer.from(body, 'base64'))
    case 'P':
      return gunzipSync(Buffer.from(body, 'base64url'))
    default:
      throw new Error(`unsupported container header ${JSON.stringify(header)}`)
  }
}

export function decodeContainer(text) {
  const trimmed = text.trim()
  const decoded = dagCbor.decode(
    new Uint8Array(containerBytes(trimmed[0], trimmed.slice(1)))
  )
  const keys = Object.keys(decoded)
  if (keys.length !== 1 || keys[0] !== CONTAINER_KEY) {
    throw new Error(`not a ${CONTAINER_KEY} container: keys ${keys}`)
  }
  return decoded[CONTAINER_KEY]
}
