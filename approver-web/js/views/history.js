// Decided requests: what was approved, denied, withdrawn or let expire, by whom and when.

import * as api from '../api.js'
import { h, replace } from '../dom.js'
import { iso, when } from '../format.js'
import { shortDid } from '../did.js'
import { badge } from './parts.js'

export function historyView(ctx, _params, root) {
  const list = h('ul', { class: 'cards history' })
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading…')
  root.append(h('h1', {}, 'History'), status, list)
  let stopped = false

  const who = (did) => (did === ctx.device.did ? 'this device' : `device ${shortDid(did)}`)

  const load = async () => {
    status.textContent = 'Loading…'
    try {
      const { data } = await api.get('/v1/requests?state=all&limit=200')
      if (stopped) return
      const decided = (Array.isArray(data) ? data : []).filter((r) => r.state !== 'pending')
      status.textContent = decided.length ? '' : 'No request has been decided yet.'
      replace(list, decided.map((r) => {
        const at = r.decided_at ?? r.expires_at
        let line
        if (r.state === 'approved') line = ['Approved by ', who(r.decided_by), ' at ']
        else if (r.state === 'denied') line = ['Denied by ', who(r.decided_by), ' at ']
        else if (r.state === 'expired') line = ['Expired undecided at ']
        else if (r.state === 'withdrawn') line = ['Withdrawn by the agent at ']
        else line = [`${r.state} at `]
        return h('li', {},
          h('a', { class: 'card', href: `#/requests/${encodeURIComponent(r.id)}` },
            h('span', { class: 'card-top' }, h('span', { class: 'agent' }, r.agent.name), badge(r.state)),
            h('span', { class: 'summary' }, r.summary),
            h('span', { class: 'card-bottom' },
              h('span', {}, line, h('time', { datetime: iso(at) }, when(at)))),
            r.denial_reason ? h('span', { class: 'reason' }, 'Reason: ', r.denial_reason) : null))
      }))
    } catch (e) {
      if (stopped) return
      if (api.isUnpaired(e)) return ctx.unpaired()
      replace(status, api.explain(e), ' ', h('button', { type: 'button', class: 'secondary', onclick: load }, 'Retry'))
    }
  }
  load()
  return () => {
    stopped = true
  }
}
