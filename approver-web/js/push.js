// Web Push: when the service offers it (`GET /v1/push/vapid`), this device subscribes with
// the service's VAPID key and registers the subscription, so requests reach it while the
// app is closed. A service without push answers 404, and the app goes on without it.

import * as api from './api.js'
import * as base64 from './base64.js'
import { equal } from './bytes.js'

const SUBSCRIPTIONS = '/v1/push/subscriptions'
const SUBSCRIBE_TIMEOUT_MS = 20000

/** The service has no Web Push: an older service (404) or push not configured (503). */
function noPush(e) {
  return e instanceof api.ApiError && (e.status === 404 || e.status === 405 || e.code === 'push_unavailable')
}

/** The service's VAPID public key (bytes), or null when it offers no push. */
export async function vapidKey() {
  try {
    const { data } = await api.get('/v1/push/vapid', { auth: false })
    const text = data?.public_key
    return typeof text === 'string' ? base64.decodeUrl(text.replace(/=+$/, '')) : null
  } catch (e) {
    if (noPush(e)) return null
    throw e
  }
}

/** Whether this browser can receive push at all. */
export function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in globalThis && 'Notification' in globalThis
}

/**
 * Subscribes and registers, if the service offers push and notifications are allowed.
 * `ask`: ask for permission (only from a person's click). Answers one of
 * `unsupported`, `unavailable` (the service has no push), `default` (not asked yet),
 * `denied`, `on`, or `failed` (with `error`).
 */
export async function enable({ ask = false } = {}) {
  if (!supported()) return { state: 'unsupported' }
  let key
  try {
    key = await vapidKey()
  } catch (error) {
    return { state: 'failed', error }
  }
  if (!key) return { state: 'unavailable' }
  let permission = Notification.permission
  if (permission === 'default' && ask) permission = await Notification.requestPermission()
  if (permission !== 'granted') return { state: permission }
  try {
    const registration = await navigator.serviceWorker.ready
    let sub = await registration.pushManager.getSubscription()
    const current = sub?.options?.applicationServerKey
    if (sub && !(current && equal(new Uint8Array(current), key))) {
      await sub.unsubscribe()
      sub = null
    }
    // A browser whose push service cannot be reached may never answer: give up after a while.
    sub ??= await Promise.race([
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('the browser’s push service did not answer')), SUBSCRIBE_TIMEOUT_MS)),
    ])
    const j = sub.toJSON()
    try {
      await api.post(SUBSCRIPTIONS, { endpoint: j.endpoint, keys: { p256dh: j.keys.p256dh, auth: j.keys.auth } })
    } catch (e) {
      if (noPush(e)) return { state: 'unavailable' }
      throw e
    }
    return { state: 'on' }
  } catch (error) {
    return { state: 'failed', error }
  }
}

/** Stops push to this browser: tells the service (best effort), then unsubscribes. */
export async function disable() {
  if (!supported()) return
  try {
    const registration = await navigator.serviceWorker.ready
    const sub = await registration.pushManager.getSubscription()
    if (!sub) return
    try {
      await api.call('DELETE', SUBSCRIPTIONS, { body: { endpoint: sub.endpoint } })
    } catch {
      // The service may be unreachable or have forgotten it; the browser side still ends.
    }
    await sub.unsubscribe()
  } catch {
    // Nothing more can be done here.
  }
}
