// The inbox: pending requests, newest first, kept current by short polling (each call
// with a fresh token) and by pushes the service worker passes on.

import * as api from '../api.js'
import { announce, h, replace } from '../dom.js'
import { countdown, timeLeft } from '../format.js'
import * as push from '../push.js'
import { poll } from './parts.js'

const POLL_MS = 3000

export function inboxView(ctx, _params, root) {
  const list = h('ul', { class: 'cards', 'aria-label': 'Requests waiting for a decision' })
  const empty = h('p', { class: 'empty', hidden: true }, 'Nothing is waiting for you. New requests appear here.')
  const count = h('p', { class: 'muted', role: 'status' }, 'Loading…')
  const problem = h('div', { class: 'banner error', role: 'alert', hidden: true })
  const notify = h('div', { class: 'banner', hidden: true })
  root.append(h('h1', {}, 'Requests waiting'), count, problem, notify, list, empty)

  let requests = []
  let lastIds = ''
  const timers = new Map()

  const render = () => {
    const now = api.now()
    const shown = requests.filter((r) => r.state === 'pending' && r.expires_at > now)
    timers.clear()
    replace(
      list,
      shown.map((r) => {
        const left = h('span', { class: 'left', role: 'timer', 'aria-label': timeLeft(r.expires_at - now) }, countdown(r.expires_at - now))
        timers.set(r.id, { el: left, at: r.expires_at })
        return h('li', {},
          h('a', { class: 'card', href: `#/requests/${encodeURIComponent(r.id)}` },
            h('span', { class: 'card-top' },
              h('span', { class: 'agent' }, r.agent.name),
              h('span', { class: 'expires' }, h('span', { class: 'sr-only' }, 'time left '), left)),
            h('span', { class: 'summary' }, r.summary),
            h('span', { class: 'card-bottom' },
              h('code', {}, r.cmd),
              r.match_choices ? h('span', { class: 'tag' }, 'number matching') : null)))
      })
    )
    empty.hidden = shown.length > 0
    count.textContent = shown.length === 0 ? '' : shown.length === 1 ? '1 request waiting' : `${shown.length} requests waiting`
    const ids = shown.map((r) => r.id).join(',')
    if (ids !== lastIds && lastIds !== '') {
      const fresh = shown.filter((r) => !lastIds.split(',').includes(r.id)).length
      if (fresh) announce(fresh === 1 ? 'A new request' : `${fresh} new requests`)
    }
    lastIds = ids || ' '
  }

  const load = async () => {
    try {
      const { data } = await api.get('/v1/requests?state=pending')
      requests = Array.isArray(data) ? data : []
      problem.hidden = true
      render()
    } catch (e) {
      if (api.isUnpaired(e)) {
        stop()
        return ctx.unpaired()
      }
      replace(problem,
        h('p', {}, api.explain(e), requests.length ? ' The list below may be out of date.' : ''),
        h('button', { type: 'button', class: 'secondary', onclick: () => poller.now() }, 'Retry now'))
      problem.hidden = false
      if (!requests.length) count.textContent = ''
    }
  }

  const tick = setInterval(() => {
    const now = api.now()
    let expired = false
    for (const { el, at } of timers.values()) {
      el.textContent = countdown(at - now)
      el.setAttribute('aria-label', timeLeft(at - now))
      if (at <= now) expired = true
    }
    if (expired) render()
  }, 1000)

  const poller = poll(load, POLL_MS)
  const refresh = () => poller.now()
  ctx.events.addEventListener('refresh', refresh)
  ctx.events.addEventListener('online', refresh)

  // Offer notifications when the service has them and nobody has asked yet.
  push.enable().then((result) => {
    if (result.state !== 'default') return
    replace(notify,
      h('p', {}, 'Get a notification when an agent asks, even with the app closed.'),
      h('button', {
        type: 'button',
        class: 'secondary',
        onclick: async () => {
          const r = await push.enable({ ask: true })
          replace(notify, h('p', { role: 'status' }, r.state === 'on' ? 'Notifications are on.' : 'Notifications stay off.'))
        },
      }, 'Turn on notifications'))
    notify.hidden = false
  })

  function stop() {
    poller.stop()
    clearInterval(tick)
    ctx.events.removeEventListener('refresh', refresh)
    ctx.events.removeEventListener('online', refresh)
  }
  return stop
}
