// This device: its name and DID, the service it approves for, notifications, and
// forgetting it.

import * as api from '../api.js'
import { h, replace } from '../dom.js'
import { iso, when } from '../format.js'
import * as push from '../push.js'

export function deviceView(ctx, _params, root) {
  const d = ctx.device
  const since = h('dd', {}, d.pairedAt ? h('time', { datetime: iso(d.pairedAt) }, when(d.pairedAt)) : '—')
  const check = h('p', { class: 'muted', role: 'status' }, 'Checking with the service…')
  const pushStatus = h('p', { role: 'status' }, 'Checking notifications…')
  const pushButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Turn on notifications')
  const confirmForget = h('div', { class: 'panel warning-panel', hidden: true },
    h('p', {}, 'Forgetting deletes this device’s key from this browser. It cannot approve again until it is paired anew. ',
      'The owner should also remove it with ', h('code', {}, 'countersign device remove'), '.'),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'danger', onclick: async () => {
        await ctx.forget()
        ctx.go('#/pair')
      } }, 'Forget this device'),
      h('button', { type: 'button', class: 'secondary', onclick: () => {
        confirmForget.hidden = true
        forgetButton.focus()
      } }, 'Cancel')))
  const forgetButton = h('button', { type: 'button', class: 'danger', onclick: () => {
    confirmForget.hidden = false
    confirmForget.querySelector('button')?.focus()
  } }, 'Forget this device…')

  root.append(
    h('h1', {}, 'This device'),
    h('section', { class: 'panel' },
      h('dl', { class: 'facts' },
        h('dt', {}, 'Name'), h('dd', {}, d.name),
        h('dt', {}, 'Device DID'), h('dd', {}, h('code', {}, d.did)),
        h('dt', {}, 'Paired since'), since,
        h('dt', {}, 'Service'), h('dd', {}, h('code', {}, ctx.service.did)),
        h('dt', {}, 'Owner'), h('dd', {}, h('code', {}, ctx.service.owner)),
        h('dt', {}, 'Key'), h('dd', {}, 'Ed25519, kept in this browser; it cannot be exported.')),
      check),
    h('section', { class: 'panel' }, h('h2', {}, 'Notifications'), pushStatus, pushButton),
    h('section', { class: 'panel' }, h('h2', {}, 'Forget'), forgetButton, confirmForget)
  )

  api.get('/v1/devices/me').then(
    ({ data }) => {
      replace(check, 'Paired and active.')
      if (data.created_at) replace(since, h('time', { datetime: iso(data.created_at) }, when(data.created_at)))
    },
    (e) => {
      if (api.isUnpaired(e)) return ctx.unpaired()
      replace(check, api.explain(e))
    }
  )

  const describe = (r) => {
    pushButton.hidden = r.state !== 'default'
    pushStatus.textContent = {
      on: 'On: new requests reach this device even when the app is closed.',
      default: 'Off. Turn them on to hear of new requests while the app is closed.',
      denied: 'Blocked in this browser’s settings.',
      unavailable: 'This service sends no notifications.',
      unsupported: 'This browser cannot receive notifications.',
    }[r.state] ?? `Could not be set up: ${r.error?.message ?? 'unknown error'}.`
  }
  pushButton.addEventListener('click', async () => describe(await push.enable({ ask: true })))
  push.enable().then(describe)
}
