// The approver app: loads this device's record, learns which service it talks to, and
// shows one screen at a time by the address's #/route.

import * as api from './api.js'
import { announce, h, replace } from './dom.js'
import { signerFor } from './keys.js'
import * as push from './push.js'
import { forgetDevice, loadDevice } from './store.js'
import { deviceView } from './views/device.js'
import { historyView } from './views/history.js'
import { inboxView } from './views/inbox.js'
import { pairView } from './views/pair.js'
import { requestView } from './views/request.js'
import { errorView, unpairedView } from './views/errors.js'

const main = document.getElementById('main')
const nav = document.getElementById('nav')

/** What every screen shares. */
const ctx = {
  /** `GET /v1/service`: did, owner, version, approver_url. */
  service: null,
  /** This device's stored record (null before pairing). */
  device: null,
  signer: null,
  /** Screens listen here for `refresh` (a push arrived) and `online`. */
  events: new EventTarget(),
  go(hash) {
    if (location.hash === hash) route()
    else location.hash = hash
  },
  async setDevice(record) {
    ctx.device = record
    ctx.signer = record ? await signerFor(record) : null
    api.setSession(ctx.signer ? { signer: ctx.signer, service: ctx.service.did } : null)
    nav.hidden = record?.state !== 'paired'
  },
  async forget() {
    if (ctx.device?.state === 'paired') await push.disable()
    await forgetDevice()
    await ctx.setDevice(null)
  },
  /** Shows the "no longer paired" screen. */
  unpaired() {
    show(unpairedView, {})
  },
}

let cleanup = null
let shown = 0

function show(view, params) {
  cleanup?.()
  cleanup = null
  const root = h('div', { class: 'view' })
  replace(main, root)
  cleanup = view(ctx, params, root) ?? null
  // On a change of screen (not the first one a page load shows), move focus to the new
  // heading, so keyboard and screen-reader users start there.
  if (shown++ === 0) return
  requestAnimationFrame(() => {
    if (root.contains(document.activeElement) && document.activeElement !== document.body) return
    const heading = root.querySelector('h1')
    if (heading) {
      heading.setAttribute('tabindex', '-1')
      heading.focus({ preventScroll: false })
    }
  })
}

function parseHash() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(1) : '/'
  const [path, query = ''] = hash.split('?')
  return { path, query: new URLSearchParams(query) }
}

function markNav(name) {
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
}

function route() {
  if (!ctx.service) return
  const { path, query } = parseHash()
  const paired = ctx.device?.state === 'paired'
  if (path === '/pair' || !paired) {
    markNav(null)
    return show(pairView, { code: query.get('code') ?? '' })
  }
  const request = /^\/(?:requests|r)\/([A-Za-z0-9_-]{1,100})$/.exec(path)
  if (request) {
    markNav(null)
    return show(requestView, { id: request[1] })
  }
  switch (path) {
    case '/':
      markNav('inbox')
      return show(inboxView, {})
    case '/history':
      markNav('history')
      return show(historyView, {})
    case '/device':
      markNav('device')
      return show(deviceView, {})
    default:
      markNav(null)
      return show(errorView, {
        title: 'Nothing here',
        message: 'This address does not lead to a screen of the app.',
        action: { label: 'Go to the inbox', run: () => ctx.go('#/') },
      })
  }
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' })
  } catch {
    // The app works without it, only not offline and without notifications.
  }
  navigator.serviceWorker.addEventListener('message', (event) => {
    const msg = event.data
    if (msg?.type === 'open' && typeof msg.hash === 'string' && msg.hash.startsWith('#/')) {
      ctx.go(msg.hash)
    } else if (msg?.type === 'refresh' || msg?.type === 'closed') {
      ctx.events.dispatchEvent(new CustomEvent('refresh', { detail: msg }))
    }
  })
}

async function boot() {
  if (!globalThis.isSecureContext || !globalThis.crypto?.subtle || !('indexedDB' in globalThis)) {
    // WebCrypto (the device key) exists only on https:// pages and on this machine's own
    // http://127.0.0.1 or http://localhost.
    show(errorView, {
      title: 'Open this app over HTTPS',
      message: `This browser offers no secure key storage on ${location.origin}. Open the app at an https:// address (set the service's public_url behind a TLS proxy), or on the service's own machine at http://127.0.0.1.`,
    })
    return
  }
  try {
    ctx.service = (await api.get('/v1/service', { auth: false })).data
  } catch (error) {
    show(errorView, {
      title: 'Cannot reach the service',
      message: api.explain(error),
      action: { label: 'Try again', run: boot },
    })
    return
  }
  const record = await loadDevice()
  if (record && record.service !== ctx.service.did) {
    // Paired with another service (a reinstalled or moved service): this key means nothing here.
    show(errorView, {
      title: 'Paired with another service',
      message:
        'This device was paired with a different Countersign service than the one at this address. Forget it here and pair again to approve for this service.',
      action: {
        label: 'Forget and pair again',
        run: async () => {
          await ctx.forget()
          ctx.go('#/pair')
        },
      },
    })
    return
  }
  await ctx.setDevice(record)
  route()
}

window.addEventListener('hashchange', () => {
  // "#main" from the skip link is not a route.
  if (location.hash.startsWith('#/') || location.hash === '') route()
})
window.addEventListener('online', () => {
  ctx.events.dispatchEvent(new Event('online'))
  if (!ctx.service) boot()
})
document.getElementById('skip')?.addEventListener('click', (event) => {
  event.preventDefault()
  main.focus()
})

registerServiceWorker()
boot().catch((error) => {
  show(errorView, {
    title: 'Something went wrong',
    message: api.explain(error),
    action: { label: 'Reload', run: () => location.reload() },
  })
  announce('Something went wrong')
})
