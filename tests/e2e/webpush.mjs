// A stand-in push service on loopback: receives what the service posts to a subscription
// endpoint, and decrypts it as a browser would (aes128gcm, RFC 8188 and RFC 8291), so
// the test can hand the exact payload to the service worker.
import { createDecipheriv, createECDH, createHmac, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'

const hmac = (key, ...data) => {
  const h = createHmac('sha256', key)
  for (const d of data) h.update(d)
  return h.digest()
}

/** A subscriber's keys: the P-256 pair and the 16-byte auth secret. */
export function subscriberKeys() {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  return { ecdh, p256dh: ecdh.getPublicKey(), auth: randomBytes(16) }
}

/** The plaintext of an aes128gcm body sent to `keys`. */
export function decrypt(body, keys) {
  const salt = body.subarray(0, 16)
  const rs = body.readUInt32BE(16)
  const idlen = body[20]
  const serverPublic = body.subarray(21, 21 + idlen)
  const records = body.subarray(21 + idlen)
  if (records.length > rs) throw new Error('a push message of more than one record')
  const ecdhSecret = keys.ecdh.computeSecret(serverPublic)
  const prkKey = hmac(keys.auth, ecdhSecret)
  const ikm = hmac(prkKey, Buffer.from('WebPush: info\0'), keys.p256dh, serverPublic, Buffer.from([1]))
  const prk = hmac(salt, ikm)
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0'), Buffer.from([1])).subarray(0, 16)
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0'), Buffer.from([1])).subarray(0, 12)
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce)
  decipher.setAuthTag(records.subarray(records.length - 16))
  const padded = Buffer.concat([decipher.update(records.subarray(0, records.length - 16)), decipher.final()])
  let end = padded.length - 1
  while (end >= 0 && padded[end] === 0) end--
  if (padded[end] !== 2) throw new Error('the last record lacks its delimiter')
  return padded.subarray(0, end)
}

/** Listens on 127.0.0.1; `messages` collects `{path, headers, body}` of each POST. */
export async function pushService() {
  const messages = []
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      messages.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks) })
      res.writeHead(201, { location: `${req.url}/m${messages.length}` })
      res.end()
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    messages,
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}
