// One request: who asks, what for and why, what would change, the exact arguments, the
// policy in words and a countdown. The person may narrow it, then approve — signing the
// device → service delegation built from what this screen shows — or deny with a reason.
// The request's state follows the service live (server-sent events over fetch).

import * as api from '../api.js'
import { approvalDraft, signApproval } from '../approval.js'
import * as base64 from '../base64.js'
import { announce, h, replace } from '../dom.js'
import { countdown, duration, iso, timeLeft, when } from '../format.js'
import { denialClaims, sign } from '../jwt.js'
import * as json from '../json.js'
import { currencyOf, decimalsOf, fieldOf, formatMinor, narrowableLimits, operand, parseMajor, stricter } from '../policy.js'
import { shortDid } from '../did.js'
import { kindOf } from '../values.js'
import { badge, diffNode, policyList } from './parts.js'

const LIFETIMES = [60, 300, 900, 3600, 4 * 3600, 86400, 7 * 86400]
const RECONNECT_MS = 3000

export function requestView(ctx, { id }, root) {
  const state = {
    request: null,
    /** Set once this screen decided: {kind: 'approved' | 'denied' | 'counted', …}. */
    decided: null,
    lifetime: null,
    limits: new Map(),
    match: null,
    busy: false,
    denyOpen: false,
  }
  let stopped = false
  const streamAbort = new AbortController()
  let reconnect = null
  const tick = setInterval(() => updateClock(), 1000)

  const status = h('div', { class: 'banner', role: 'alert', hidden: true })
  const body = h('div', {})
  root.append(h('p', { class: 'back' }, h('a', { href: '#/' }, '← Inbox')), status, body)
  replace(body, h('h1', {}, 'Loading the request…'))

  function showProblem(text, retry) {
    replace(status, h('p', {}, text), retry ? h('button', { type: 'button', class: 'secondary', onclick: retry }, 'Try again') : null)
    status.hidden = false
  }

  async function load() {
    try {
      const { data } = await api.get(`/v1/requests/${encodeURIComponent(id)}`)
      if (stopped) return
      status.hidden = true
      setRequest(data, true)
      follow()
    } catch (e) {
      if (stopped) return
      if (api.isUnpaired(e)) return ctx.unpaired()
      if (e instanceof api.ApiError && e.status === 404) {
        replace(body,
          h('h1', {}, 'Request not found'),
          h('p', {}, 'The service does not know this request. It may be from another service, or the link is wrong.'),
          h('a', { class: 'button primary', href: '#/' }, 'Go to the inbox'))
        return
      }
      replace(body, h('h1', {}, 'The request could not be loaded'))
      showProblem(api.explain(e), load)
    }
  }

  /** Follows the request's state until it is final, reconnecting after a dropped stream. */
  async function follow() {
    if (stopped || state.request?.state !== 'pending') return
    try {
      await api.events(`/v1/requests/${encodeURIComponent(id)}/events`, (name, data) => {
        status.hidden = true
        if (name === 'state') setRequest(json.parse(data), false)
      }, { signal: streamAbort.signal })
    } catch (e) {
      if (stopped) return
      if (api.isUnpaired(e)) return ctx.unpaired()
      // Dropped or refused: try again shortly (a fresh token each time).
      if (e instanceof api.NetworkError) showProblem('The connection to the service was lost; reconnecting…')
    }
    if (!stopped && state.request?.state === 'pending') {
      reconnect = setTimeout(follow, RECONNECT_MS)
    }
  }

  function setRequest(request, first) {
    const before = state.request
    state.request = request
    if (first || !before || before.state !== request.state) {
      if (!first && before?.state === 'pending' && request.state !== 'pending' && !state.decided) {
        announce(`This request is now ${request.state}`)
      }
      render()
    }
  }

  function draftNow() {
    const r = state.request
    const added = []
    for (const limit of narrowableLimits(r)) {
      const v = state.limits.get(limit.index)
      if (v === undefined || v === null) continue
      const s = stricter(limit, v)
      if (s) added.push(s)
    }
    return approvalDraft({
      request: r,
      device: ctx.device.did,
      service: ctx.service.did,
      now: api.now(),
      lifetime: state.lifetime ?? r.lifetime,
      added,
      match: r.match_choices ? state.match : undefined,
    })
  }

  // Elements that change without a full render.
  let clockEl = null
  let untilEl = null
  let approveBtn = null
  let policyBox = null

  function updateClock() {
    const r = state.request
    if (!r || r.state !== 'pending' || state.decided) return
    const left = r.expires_at - api.now()
    if (clockEl) {
      clockEl.textContent = countdown(left)
      clockEl.setAttribute('aria-label', timeLeft(left))
    }
    if (untilEl) {
      const exp = api.now() + (state.lifetime ?? r.lifetime)
      untilEl.textContent = when(exp)
    }
    if (left <= 0 && r.state === 'pending') {
      // The service expires it within a second; show it now.
      state.request = { ...r, state: 'expired' }
      announce('This request expired')
      render()
    }
  }

  function render() {
    const r = state.request
    const ctxPolicy = { currency: currencyOf(r.policy, r.args) }
    const pending = r.state === 'pending' && !state.decided && r.expires_at > api.now()
    clockEl = untilEl = approveBtn = policyBox = null
    const parts = []

    if (state.decided) parts.push(confirmation(r))
    else if (r.state !== 'pending') parts.push(closedNotice(r))

    const head = h('div', { class: 'request-head' }, badge(r.state))
    if (pending) {
      clockEl = h('span', { class: 'clock', role: 'timer' }, countdown(r.expires_at - api.now()))
      head.append(h('span', { class: 'deadline' }, 'Decide within ', clockEl))
    }
    parts.push(head, h('h1', { class: 'summary-title' }, r.summary))

    parts.push(section('Who asks',
      h('p', {}, h('strong', {}, r.agent.name)),
      h('p', { class: 'did' }, h('span', { class: 'muted' }, 'Agent DID '), h('code', {}, r.agent.did))))

    policyBox = h('div', {})
    parts.push(section('What it would be allowed to do',
      h('p', {}, 'Run ', h('code', { class: 'cmd' }, r.cmd), r.args ? ' with exactly these arguments:' : ' for any call where:'),
      policyBox))

    parts.push(section('Why', r.reason ? h('p', { class: 'prose' }, r.reason) : h('p', { class: 'muted' }, 'The agent gave no reason.')))
    parts.push(section('What would change', diffNode(r.diff)))
    parts.push(section('Exact arguments',
      r.args
        ? h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Exact arguments as JSON' }, json.stringify(r.args, 2))
        : h('p', { class: 'muted' }, 'None: the agent asks for a range of calls, limited by the policy above.')))
    parts.push(section('How long',
      h('p', {}, 'Once approved, the capability lasts ', h('strong', {}, duration(r.lifetime)), ' at most.'),
      h('p', { class: 'muted' }, 'Asked ', h('time', { datetime: iso(r.created_at) }, when(r.created_at)),
        r.state === 'pending' ? ['; the request expires at ', h('time', { datetime: iso(r.expires_at) }, when(r.expires_at)), '.'] : '.')))

    if (pending) parts.push(decide(r, ctxPolicy))
    parts.push(details(r))
    replace(body, parts)
    renderPolicy()
  }

  function renderPolicy() {
    if (!policyBox) return
    const r = state.request
    const ctxPolicy = { currency: currencyOf(r.policy, r.args) }
    const pending = r.state === 'pending' && !state.decided
    if (pending) {
      const draft = draftNow()
      replace(policyBox, policyList(draft.pol, ctxPolicy, r.policy.length))
    } else if (state.decided?.draft) {
      // What this device signed, narrowings included.
      replace(policyBox, policyList(state.decided.draft.pol, ctxPolicy, r.policy.length))
    } else {
      replace(policyBox, policyList(r.policy, ctxPolicy))
    }
  }

  function section(title, ...children) {
    return h('section', { class: 'block' }, h('h2', {}, title), children)
  }

  function decide(r, ctxPolicy) {
    const form = h('form', { class: 'panel decide', novalidate: true, 'aria-labelledby': 'decide-title' })
    form.append(h('h2', { id: 'decide-title' }, 'Your decision'))
    const error = h('p', { class: 'error', role: 'alert', hidden: true })

    if (r.match_choices) {
      const group = h('fieldset', { class: 'match' },
        h('legend', {}, 'Which number does the agent show?'),
        h('p', { class: 'hint' }, 'The agent was given a number when it asked. Pick the same one; a wrong pick approves nothing.'))
      const row = h('div', { class: 'choices' })
      for (const choice of r.match_choices) {
        const input = h('input', {
          type: 'radio', name: 'match', id: `match-${choice}`, value: choice, checked: state.match === choice,
          onchange: () => {
            state.match = choice
            renderPolicy()
          },
        })
        row.append(h('label', { class: 'choice', for: `match-${choice}` }, input, h('span', {}, choice)))
      }
      group.append(row)
      form.append(group)
    }

    const narrow = h('fieldset', { class: 'narrow' }, h('legend', {}, 'Narrow before approving (optional)'))
    for (const limit of narrowableLimits(r)) {
      const field = fieldOf(limit.selector)
      const money = ctxPolicy.currency && operand(limit.selector, limit.value, ctxPolicy).money
      const minor = money && kindOf(limit.value) === 'integer'
      const inputId = `limit-${limit.index}`
      const current = state.limits.get(limit.index)
      const shown = current === undefined
        ? ''
        : minor
          ? formatMinor(current, decimalsOf(ctxPolicy.currency)).replace(/,/g, '')
          : String(current)
      const hint = h('p', { class: 'hint', id: `${inputId}-hint` },
        'Asked for: ', limit.op === '<=' ? 'at most ' : 'less than ',
        money || json.stringify(limit.value), '. Leave empty to keep it.')
      const input = h('input', {
        id: inputId, inputmode: 'decimal', autocomplete: 'off', value: shown, 'aria-describedby': `${inputId}-hint`,
        placeholder: minor ? formatMinor(limit.value, decimalsOf(ctxPolicy.currency)).replace(/,/g, '') : json.stringify(limit.value),
      })
      const problem = h('p', { class: 'error', hidden: true, id: `${inputId}-error` })
      input.addEventListener('input', () => {
        const text = input.value.trim()
        problem.hidden = true
        input.removeAttribute('aria-invalid')
        if (text === '') {
          state.limits.delete(limit.index)
        } else {
          const value = minor ? parseMajor(text, decimalsOf(ctxPolicy.currency)) : Number(text)
          const ok = value !== null && Number.isFinite(Number(value)) && stricter(limit, value)
          if (!ok) {
            state.limits.delete(limit.index)
            problem.textContent = `Give a number lower than what was asked${minor ? `, with at most ${decimalsOf(ctxPolicy.currency)} decimals` : ''}.`
            problem.hidden = false
            input.setAttribute('aria-invalid', 'true')
          } else {
            state.limits.set(limit.index, value)
          }
        }
        renderPolicy()
      })
      const label = field ? `Lower the limit on ${field}` : `Lower the limit on ${limit.selector}`
      narrow.append(h('div', { class: 'field' },
        h('label', { for: inputId }, label, money ? ` (${ctxPolicy.currency})` : ''), hint, input, problem))
    }
    const select = h('select', { id: 'lifetime', 'aria-describedby': 'lifetime-hint' })
    const options = [...new Set([...LIFETIMES.filter((s) => s < r.lifetime), r.lifetime])]
    for (const s of options) {
      select.append(h('option', { value: String(s), selected: (state.lifetime ?? r.lifetime) === s }, s === r.lifetime ? `${duration(s)} (as asked)` : duration(s)))
    }
    select.addEventListener('change', () => {
      state.lifetime = Number(select.value)
      updateClock()
    })
    untilEl = h('strong', {}, when(api.now() + (state.lifetime ?? r.lifetime)))
    narrow.append(h('div', { class: 'field' },
      h('label', { for: 'lifetime' }, 'Capability lifetime'),
      h('p', { class: 'hint', id: 'lifetime-hint' }, 'Valid until about ', untilEl, ' if approved now.'),
      select))
    form.append(narrow)

    approveBtn = h('button', { type: 'submit', class: 'primary approve' }, 'Approve')
    const denyBtn = h('button', { type: 'button', class: 'danger' }, 'Deny…')
    const reason = h('textarea', { id: 'deny-reason', rows: '3', maxlength: '500', required: true, 'aria-describedby': 'deny-hint' })
    const denyPanel = h('div', { class: 'deny-panel', hidden: !state.denyOpen },
      h('label', { for: 'deny-reason' }, 'Why deny?'),
      h('p', { class: 'hint', id: 'deny-hint' }, 'Signed with this device’s key and kept in the audit log.'),
      reason,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', onclick: () => doDeny(reason.value, error) }, 'Deny this request'),
        h('button', { type: 'button', class: 'secondary', onclick: () => {
          state.denyOpen = false
          denyPanel.hidden = true
          denyBtn.focus()
        } }, 'Cancel')))
    denyBtn.addEventListener('click', () => {
      state.denyOpen = true
      denyPanel.hidden = false
      reason.focus()
    })
    form.append(
      h('p', { class: 'sign-note' }, 'Approving signs exactly what this screen shows with this device’s key.'),
      error,
      h('div', { class: 'actions' }, approveBtn, denyBtn),
      denyPanel)
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      doApprove(error)
    })
    return form
  }

  async function doApprove(error) {
    if (state.busy) return
    const r = state.request
    error.hidden = true
    if (r.match_choices && !state.match) {
      error.textContent = 'Pick the number the agent shows first.'
      error.hidden = false
      document.getElementById(`match-${r.match_choices[0]}`)?.focus()
      return
    }
    state.busy = true
    approveBtn.disabled = true
    approveBtn.textContent = 'Signing…'
    try {
      const draft = draftNow()
      const signed = await signApproval(draft, ctx.signer)
      const { status: code, data } = await api.post(`/v1/requests/${encodeURIComponent(id)}/approve`, {
        delegation: base64.encode(signed.bytes),
      })
      state.decided = { kind: code === 202 ? 'counted' : 'approved', draft, cid: signed.cid.toString() }
      state.request = data
      announce(code === 202 ? 'Approval recorded; another device must approve too' : 'Approved')
      render()
      focusConfirmation()
    } catch (e) {
      state.busy = false
      if (api.isUnpaired(e)) return ctx.unpaired()
      if (e instanceof api.ApiError && e.status === 409) {
        await load()
        showProblem(api.explain(e))
        return
      }
      if (approveBtn) {
        approveBtn.disabled = false
        approveBtn.textContent = 'Approve'
      }
      error.textContent = e instanceof api.ApiError && e.code === 'match_wrong'
        ? 'That is not the number the agent holds. Nothing was approved. If the agent shows none of these numbers, deny the request.'
        : api.explain(e)
      error.hidden = false
    } finally {
      state.busy = false
    }
  }

  async function doDeny(text, error) {
    if (state.busy) return
    const reason = text.trim()
    error.hidden = true
    if (!reason) {
      error.textContent = 'Say why you deny it; the reason is kept with the decision.'
      error.hidden = false
      document.getElementById('deny-reason')?.focus()
      return
    }
    state.busy = true
    try {
      const claims = denialClaims({ iss: ctx.device.did, aud: ctx.service.did, now: api.now(), id, reason })
      const statement = await sign(claims, ctx.signer)
      const { data } = await api.post(`/v1/requests/${encodeURIComponent(id)}/deny`, { reason, statement })
      state.decided = { kind: 'denied', reason }
      state.request = data
      announce('Denied')
      render()
      focusConfirmation()
    } catch (e) {
      if (api.isUnpaired(e)) return ctx.unpaired()
      if (e instanceof api.ApiError && e.status === 409) {
        await load()
        showProblem(api.explain(e))
        return
      }
      error.textContent = api.explain(e)
      error.hidden = false
    } finally {
      state.busy = false
    }
  }

  function focusConfirmation() {
    requestAnimationFrame(() => {
      const el = document.getElementById('decision-title')
      el?.setAttribute('tabindex', '-1')
      el?.focus()
    })
  }

  function confirmation(r) {
    const d = state.decided
    if (d.kind === 'denied') {
      return h('section', { class: 'panel notice denied-panel', 'aria-labelledby': 'decision-title' },
        h('h2', { id: 'decision-title' }, 'Denied'),
        h('p', {}, r.agent.name, ' gets nothing for this request. Your reason: “', d.reason, '”'),
        h('a', { class: 'button primary', href: '#/' }, 'Back to the inbox'))
    }
    const until = when(d.draft.exp)
    return h('section', { class: 'panel notice success-panel', 'aria-labelledby': 'decision-title' },
      h('h2', { id: 'decision-title' }, d.kind === 'counted' ? 'Approval recorded' : 'Approved'),
      d.kind === 'counted'
        ? h('p', {}, 'Your signed approval counts towards this request; another device must approve it too before anything is issued.')
        : h('p', {}, r.agent.name, ' may now run ', h('code', {}, d.draft.cmd), ' within the policy below, for ',
          duration(d.draft.lifetime), ', until ', h('strong', {}, until), '.'),
      h('p', { class: 'muted did' }, 'Signed approval ', h('code', {}, d.cid)),
      h('a', { class: 'button primary', href: '#/' }, 'Back to the inbox'))
  }

  function closedNotice(r) {
    const by = r.decided_by ? (r.decided_by === ctx.device.did ? 'this device' : `device ${shortDid(r.decided_by)}`) : null
    const at = r.decided_at ? [' at ', h('time', { datetime: iso(r.decided_at) }, when(r.decided_at))] : ''
    const text = {
      approved: ['Approved by ', by ?? 'an approver', at, '.'],
      denied: ['Denied by ', by ?? 'an approver', at, '.', r.denial_reason ? [' Reason: “', r.denial_reason, '”'] : ''],
      expired: ['This request expired before anyone decided. Nothing was issued; the agent must ask again.'],
      withdrawn: ['The agent withdrew this request. Nothing was issued.'],
    }[r.state] ?? [`This request is ${r.state}.`]
    return h('section', { class: ['panel', 'notice', `closed-${r.state}`], 'aria-labelledby': 'closed-title' },
      h('h2', { id: 'closed-title' }, r.state === 'expired' ? 'Expired' : r.state === 'withdrawn' ? 'Withdrawn' : 'Already decided'),
      h('p', {}, text),
      h('a', { class: 'button secondary', href: '#/' }, 'Back to the inbox'))
  }

  function details(r) {
    return h('details', { class: 'block tech' },
      h('summary', {}, 'Technical details'),
      h('dl', {},
        h('dt', {}, 'Request'), h('dd', {}, h('code', {}, r.id)),
        h('dt', {}, 'Subject (owner)'), h('dd', {}, h('code', {}, r.subject)),
        h('dt', {}, 'Approval goes to the service'), h('dd', {}, h('code', {}, ctx.service.did)),
        h('dt', {}, 'Signed by this device'), h('dd', {}, h('code', {}, ctx.device.did)),
        h('dt', {}, 'Policy as the capability carries it'),
        h('dd', {}, h('pre', { class: 'json', tabindex: '0' }, json.stringify(r.policy, 2)))))
  }

  load()
  return () => {
    stopped = true
    clearInterval(tick)
    if (reconnect) clearTimeout(reconnect)
    streamAbort.abort()
  }
}

