// Pieces several screens show: policies in words, diffs, state badges, polling.

import { h } from '../dom.js'
import { stringify } from '../json.js'
import { describePolicy } from '../policy.js'
import { kindOf } from '../values.js'

const STATES = {
  pending: 'Waiting',
  approved: 'Approved',
  denied: 'Denied',
  expired: 'Expired',
  withdrawn: 'Withdrawn',
}

export function badge(state) {
  return h('span', { class: ['badge', `badge-${STATES[state] ? state : 'other'}`] }, STATES[state] ?? state)
}

/** A value from the service, as text: strings as they are, anything else as JSON. */
export function valueNode(value) {
  if (typeof value === 'string' && value !== '' && value.trim() === value && !/[\n\t]/.test(value)) {
    return h('strong', { class: 'value' }, value)
  }
  return h('code', { class: 'value' }, stringify(value))
}

function segmentNode(seg) {
  if (typeof seg === 'string') return seg
  if (seg.code !== undefined) return h('code', {}, seg.code)
  if (seg.money !== undefined) {
    return h('span', {},
      h('strong', { class: 'value' }, seg.money),
      seg.raw ? h('span', { class: 'muted' }, ` (${seg.raw} in minor units)`) : null)
  }
  if (seg.json !== undefined) return h('code', {}, stringify(seg.json))
  return valueNode(seg.value)
}

function lineNode(line, added) {
  return h('li', { class: added ? 'added-by-you' : null },
    line.segments.map(segmentNode),
    added ? h('span', { class: 'tag' }, 'added by you') : null,
    line.children.length ? h('ul', {}, line.children.map((c) => lineNode(c, false))) : null)
}

/** The policy in words; statements from `addedFrom` on are marked as the person's own. */
export function policyList(policy, ctx, addedFrom = Infinity) {
  const lines = describePolicy(policy, ctx)
  return h('ul', { class: 'policy' }, lines.map((line, i) => lineNode(line, i >= addedFrom)))
}

function diffValue(v, missing) {
  if (v === undefined || v === null) return h('span', { class: 'muted' }, missing)
  return typeof v === 'string' ? h('span', {}, v) : h('code', {}, stringify(v))
}

/** The side effects the agent described: changed fields, then a unified text diff. */
export function diffNode(diff) {
  if (!diff || kindOf(diff) !== 'map') {
    return h('p', { class: 'muted' }, 'The agent described no side effects.')
  }
  const parts = []
  const fields = Array.isArray(diff.fields) ? diff.fields : []
  if (fields.length) {
    parts.push(
      h('ul', { class: 'fields' },
        fields.map((f) =>
          h('li', {},
            h('div', { class: 'field-path' }, h('code', {}, String(f.path ?? ''))),
            h('div', { class: 'field-change' },
              h('span', { class: 'before' }, h('span', { class: 'sr-only' }, 'before: '), diffValue(f.before, 'not set')),
              h('span', { class: 'arrow', 'aria-hidden': 'true' }, ' → '),
              h('span', { class: 'after' }, h('span', { class: 'sr-only' }, 'after: '), diffValue(f.after, 'removed'))
            )
          )
        )
      )
    )
  }
  if (typeof diff.text === 'string' && diff.text.length) {
    const lines = diff.text.split('\n')
    if (lines.at(-1) === '') lines.pop()
    parts.push(
      h('pre', { class: 'textdiff', tabindex: '0', 'aria-label': 'Text changes' },
        lines.map((line) => {
          let kind = 'context'
          let label = ''
          if (line.startsWith('+++') || line.startsWith('---')) kind = 'file'
          else if (line.startsWith('@@')) kind = 'hunk'
          else if (line.startsWith('+')) [kind, label] = ['add', 'added: ']
          else if (line.startsWith('-')) [kind, label] = ['del', 'removed: ']
          return h('span', { class: ['line', kind] }, label ? h('span', { class: 'sr-only' }, label) : null, line, '\n')
        })
      )
    )
  }
  return parts.length ? parts : h('p', { class: 'muted' }, 'The agent described no side effects.')
}

/**
 * Runs `fn` now and every `ms` while the page is visible; `stop()` ends it. A failing
 * `fn` does not stop the polling.
 */
export function poll(fn, ms) {
  let timer = null
  let stopped = false
  const tick = async () => {
    timer = null
    if (stopped) return
    if (document.visibilityState === 'visible') {
      try {
        await fn()
      } catch {
        // fn shows its own errors.
      }
    }
    if (!stopped) timer = setTimeout(tick, ms)
  }
  const wake = () => {
    if (document.visibilityState === 'visible' && timer !== null) {
      clearTimeout(timer)
      tick()
    }
  }
  document.addEventListener('visibilitychange', wake)
  tick()
  return {
    now: wake,
    stop() {
      stopped = true
      if (timer !== null) clearTimeout(timer)
      document.removeEventListener('visibilitychange', wake)
    },
  }
}
