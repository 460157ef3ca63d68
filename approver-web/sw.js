// The approver app's service worker: keeps the app's files for offline use, shows the
// service's push notifications (also while the app is closed), opens the request when a
// notification is clicked, and closes notifications of requests decided or expired.
// It never touches calls to the API (/v1/…): those always go to the network.

const CACHE = 'countersign-shell-v1'
const SHELL = [
  '/',
  '/index.html',
  '/manifest.webmanifest',
  '/css/app.css',
  '/icons/icon.svg',
  '/icons/icon-192.png',
  '/icons/icon-512.png',
  '/icons/icon-maskable-512.png',
  '/js/api.js',
  '/js/app.js',
  '/js/approval.js',
  '/js/base32.js',
  '/js/base58.js',
  '/js/base64.js',
  '/js/bytes.js',
  '/js/cbor.js',
  '/js/cid.js',
  '/js/did.js',
  '/js/dom.js',
  '/js/format.js',
  '/js/json.js',
  '/js/jwt.js',
  '/js/keys.js',
  '/js/pairing.js',
  '/js/policy.js',
  '/js/push.js',
  '/js/store.js',
  '/js/ucan.js',
  '/js/values.js',
  '/js/views/device.js',
  '/js/views/errors.js',
  '/js/views/history.js',
  '/js/views/inbox.js',
  '/js/views/pair.js',
  '/js/views/parts.js',
  '/js/views/request.js',
]

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: 'no-cache' }))))
      .then(() => self.skipWaiting())
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  )
})

// The network first, so a new version shows at once; the cached copy when offline.
self.addEventListener('fetch', (event) => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/v1/')) {
    return
  }
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE)
      try {
        const response = await fetch(request)
        if (response.ok && SHELL.includes(url.pathname)) cache.put(request, response.clone())
        return response
      } catch (error) {
        const cached =
          (await cache.match(request, { ignoreSearch: true })) ??
          (request.mode === 'navigate' ? await cache.match('/') : undefined)
        if (cached) return cached
        throw error
      }
    })()
  )
})

function tagOf(id) {
  return `request-${id}`
}

async function tellClients(message) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
  for (const client of windows) client.postMessage(message)
}

async function closeRequest(id) {
  const shown = await self.registration.getNotifications({ tag: tagOf(id) })
  for (const n of shown) n.close()
  await tellClients({ type: 'closed', id })
}

function timeOf(unix) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}

async function showRequest(msg) {
  const id = String(msg.id ?? '')
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(id)) return
  const expiry = Number(msg.expires_at ?? msg.expiry ?? msg.expires ?? 0)
  await tellClients({ type: 'refresh', id })
  // A push that arrives late, for a request already past its expiry, shows nothing.
  if (expiry && expiry * 1000 <= Date.now()) return
  const agent = typeof msg.agent === 'string' ? msg.agent : msg.agent?.name ?? 'An agent'
  const summary = typeof msg.summary === 'string' ? msg.summary : 'asks for approval'
  const lines = [summary]
  if (expiry) lines.push(`Decide by ${timeOf(expiry)}`)
  if (msg.number_matching ?? msg.matching) lines.push('Number matching: have the agent’s number ready')
  await self.registration.showNotification(`${agent} asks for approval`, {
    body: lines.join('\n'),
    tag: tagOf(id),
    renotify: true,
    requireInteraction: true,
    icon: '/icons/icon-192.png',
    badge: '/icons/icon-192.png',
    timestamp: Date.now(),
    data: { id, url: `/#/requests/${encodeURIComponent(id)}` },
  })
}

self.addEventListener('push', (event) => {
  let msg = {}
  try {
    msg = event.data ? event.data.json() : {}
  } catch {
    msg = {}
  }
  if (msg.type === 'closed') {
    event.waitUntil(closeRequest(String(msg.id ?? '')))
  } else if (msg.id) {
    event.waitUntil(showRequest(msg))
  } else {
    // Something the app does not understand: still say a request may be waiting.
    event.waitUntil(
      self.registration.showNotification('Countersign', {
        body: 'Open the app to see what is waiting.',
        tag: 'countersign',
        icon: '/icons/icon-192.png',
        data: { url: '/#/' },
      })
    )
  }
})

/**
 * Opens `url` (the app's page of a request): in a window of the app that is already open
 * if there is one, else in a new window. What a click on a notification does.
 */
async function openRequest(url) {
  const target = new URL(url, self.location.origin)
  if (target.origin !== self.location.origin) return
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
  const open = windows.find((c) => new URL(c.url).origin === self.location.origin)
  if (open) {
    open.postMessage({ type: 'open', hash: target.hash })
    try {
      await open.focus()
    } catch {
      // Focusing needs a click; the window has moved to the request all the same.
    }
    return
  }
  await self.clients.openWindow(target.href)
}

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  event.waitUntil(openRequest(event.notification.data?.url ?? '/#/'))
})
