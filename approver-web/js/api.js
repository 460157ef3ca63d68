// Calls to the service. Every authenticated call carries a fresh EdDSA JWT signed by the
// device key (`iss` = the device DID, `aud` = the service DID, one minute, a unique
// `jti`). Answers are parsed with json.js so policies keep their exact values.

import * as json from './json.js'
import { callClaims, sign } from './jwt.js'

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** The service could not be reached (offline, DNS, refused, timed out). */
export class NetworkError extends Error {}

let session = null
/** Seconds to add to this device's clock to get the service's. */
let offset = 0

/** Who signs the calls, and for which service. */
export function setSession(s) {
  session = s
}

export function getSession() {
  return session
}

/** The time by the service's clock, in Unix seconds. */
export function now() {
  return Math.floor(Date.now() / 1000) + offset
}

export function clockOffset() {
  return offset
}

/** Follows the service's clock (its Date header) when ours is off by more than 5 s. */
function learnClock(res) {
  const date = Date.parse(res.headers.get('date') ?? '')
  if (Number.isNaN(date)) return
  const diff = Math.round(date / 1000 - Date.now() / 1000)
  offset = Math.abs(diff) > 5 ? diff : 0
}

async function token() {
  if (!session) throw new Error('this device is not set up to call the service')
  const claims = callClaims({ iss: session.signer.did, aud: session.service, now: now() })
  return sign(claims, session.signer)
}

function withTimeout(signal, ms) {
  const timeout = AbortSignal.timeout(ms)
  return signal ? AbortSignal.any([signal, timeout]) : timeout
}

/**
 * One call: `{status, data}` on success; ApiError with the service's code and message,
 * or NetworkError, otherwise.
 */
export async function call(method, path, { body, auth = true, signal, timeout = 20000 } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (auth) headers.authorization = `Bearer ${await token()}`
    let res
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: withTimeout(signal, timeout),
        cache: 'no-store',
        credentials: 'omit',
      })
    } catch (e) {
      if (signal?.aborted) throw e
      throw new NetworkError('the service cannot be reached')
    }
    learnClock(res)
    const text = await res.text()
    let data = null
    try {
      data = text ? json.parse(text) : null
    } catch {
      data = null
    }
    if (res.ok) return { status: res.status, data }
    // A token refused for its time is retried once, with the clock learnt from the answer.
    if (res.status === 401 && auth && attempt === 0 && offset !== 0) continue
    const error = data && typeof data === 'object' ? data.error : null
    throw new ApiError(
      res.status,
      error?.code ?? `http_${res.status}`,
      error?.message ?? (res.statusText || `the service answered ${res.status}`)
    )
  }
}

export const get = (path, options) => call('GET', path, options)
export const post = (path, body, options) => call('POST', path, { ...options, body })

/**
 * Reads a server-sent-events stream with the Authorization header (which EventSource
 * cannot send): calls `onEvent(name, data)` per event until the stream ends.
 */
export async function events(path, onEvent, { signal } = {}) {
  let res
  try {
    res = await fetch(path, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${await token()}` },
      signal,
      cache: 'no-store',
      credentials: 'omit',
    })
  } catch (e) {
    if (signal?.aborted) throw e
    throw new NetworkError('the service cannot be reached')
  }
  learnClock(res)
  if (!res.ok || !res.body) {
    let data = null
    try {
      data = json.parse(await res.text())
    } catch {
      data = null
    }
    const error = data?.error
    throw new ApiError(res.status, error?.code ?? `http_${res.status}`, error?.message ?? res.statusText)
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  let name = 'message'
  let data = []
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value
    let nl
    while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1))
      if (line === '') {
        if (data.length) onEvent(name, data.join('\n'))
        name = 'message'
        data = []
      } else if (line.startsWith(':')) {
        // A keep-alive comment.
      } else {
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const v = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
        if (field === 'event') name = v
        else if (field === 'data') data.push(v)
      }
    }
  }
}

/** A message for a person, for any error a call can end with. */
export function explain(error) {
  if (error instanceof NetworkError) {
    return 'The service cannot be reached. Check the connection and try again.'
  }
  if (error instanceof ApiError) {
    switch (error.code) {
      case 'request_expired':
        return 'This request expired before it was decided. Nothing was issued.'
      case 'request_decided':
        return 'This request was already decided, on this or another device.'
      case 'unauthorized':
        return /future|expired/.test(error.message)
          ? "The service refused this device's signature because the clocks disagree. Check this device's date and time."
          : `The service refused this device's signature: ${error.message}`
      case 'not_paired':
        return 'This device is no longer paired with the service.'
      case 'forbidden':
        return `Not allowed: ${error.message}`
      case 'not_found':
        return 'The service does not know this request.'
      case 'rate_limited':
        return 'Too many calls for now. Wait a moment and try again.'
      case 'internal':
        return 'The service had an internal error. Try again; if it persists, check the service log.'
      default:
        return `${error.message} (${error.code})`
    }
  }
  return error?.message ?? String(error)
}

/** Whether an error means this device is no longer paired. */
export function isUnpaired(error) {
  return error instanceof ApiError && error.status === 403 &&
    (error.code === 'not_paired' || /not known|only the owner or a paired device/.test(error.message))
}
