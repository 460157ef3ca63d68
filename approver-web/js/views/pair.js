// Pairing: take the one-time code (from the link or typed), create this device's key,
// claim the code with it, show the verification string to compare with the owner's
// terminal, and wait until the owner confirms.

import * as api from '../api.js'
import { announce, h, replace } from '../dom.js'
import { countdown } from '../format.js'
import { generateKeyPair, signerFor } from '../keys.js'
import { formatCode, looksLikeCode } from '../pairing.js'
import * as push from '../push.js'
import { saveDevice } from '../store.js'

const POLL_MS = 2000

function defaultName() {
  const ua = navigator.userAgent
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom/.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser'
  const system = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Linux/.test(ua) ? 'Linux' : ''
  return system ? `${browser} on ${system}` : browser
}

export function pairView(ctx, { code }, root) {
  let stopped = false
  let timer = null
  const stop = () => {
    stopped = true
    if (timer) clearTimeout(timer)
  }

  if (ctx.device?.state === 'paired') {
    root.append(
      h('section', { class: 'panel' },
        h('h1', {}, 'This device is already paired'),
        h('p', {}, `It approves as “${ctx.device.name}”. To pair it again, forget it first on the “This device” screen.`),
        h('a', { class: 'button primary', href: '#/' }, 'Go to the inbox'))
    )
    return stop
  }
  if (ctx.device?.state === 'claimed') {
    waiting(ctx, root, { stopped: () => stopped, setTimer: (t) => (timer = t) })
    return stop
  }
  form(ctx, root, code, { stopped: () => stopped, setTimer: (t) => (timer = t) })
  return stop
}

function form(ctx, root, code, life) {
  const error = h('p', { class: 'error', role: 'alert', hidden: true })
  const codeInput = h('input', {
    id: 'pair-code', name: 'code', required: true, autocomplete: 'off', autocapitalize: 'characters',
    spellcheck: 'false', value: code ? formatCode(code) : '', 'aria-describedby': 'pair-code-hint',
    class: 'code-input', maxlength: '20',
  })
  const nameInput = h('input', {
    id: 'pair-name', name: 'name', required: true, maxlength: '64', autocomplete: 'off',
    value: defaultName(), 'aria-describedby': 'pair-name-hint',
  })
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Pair this device')
  const formEl = h('form', { class: 'panel', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'pair-code' }, 'Pairing code'),
      h('p', { class: 'hint', id: 'pair-code-hint' }, 'Ten letters and digits, like ABCDE\u201112345.'),
      codeInput),
    h('div', { class: 'field' },
      h('label', { for: 'pair-name' }, 'Name for this device'),
      h('p', { class: 'hint', id: 'pair-name-hint' }, 'The owner sees this name, e.g. “Ana’s phone”.'),
      nameInput),
    error,
    submit
  )
  const fail = (text) => {
    error.textContent = text
    error.hidden = false
    submit.disabled = false
    submit.textContent = 'Pair this device'
  }
  formEl.addEventListener('submit', async (event) => {
    event.preventDefault()
    error.hidden = true
    const typed = codeInput.value
    const name = nameInput.value.trim()
    if (!looksLikeCode(typed)) {
      codeInput.setAttribute('aria-invalid', 'true')
      codeInput.focus()
      return fail('That is not a pairing code: it has ten letters and digits, like ABCDE-12345.')
    }
    codeInput.removeAttribute('aria-invalid')
    if (!name) {
      nameInput.focus()
      return fail('Give this device a name.')
    }
    submit.disabled = true
    submit.textContent = 'Creating this device’s key…'
    try {
      const keys = await generateKeyPair()
      const signer = await signerFor(keys)
      api.setSession({ signer, service: ctx.service.did })
      const { data } = await api.post('/v1/pairings/claim', { code: typed, name })
      const record = {
        state: 'claimed',
        privateKey: keys.privateKey,
        publicKey: keys.publicKey,
        did: signer.did,
        name,
        service: ctx.service.did,
        owner: ctx.service.owner,
        pairingId: data.pairing_id,
        verification: data.verification,
        confirmBy: data.confirm_by,
        claimedAt: api.now(),
      }
      await saveDevice(record)
      await ctx.setDevice(record)
      replace(root)
      waiting(ctx, root, life)
    } catch (e) {
      api.setSession(null)
      if (e?.name === 'NotSupportedError') {
        return fail('This browser cannot create Ed25519 keys. Use a current Chrome, Edge, Firefox or Safari.')
      }
      if (e instanceof api.ApiError && (e.status === 409 || e.status === 404)) {
        return fail('This code cannot be used: it was already claimed, or it expired. Run “countersign device pair” again for a new code.')
      }
      fail(api.explain(e))
    }
  })
  root.append(
    h('h1', {}, 'Pair this device'),
    h('p', {},
      'This device gets its own key, which never leaves it, to approve what agents ask. ',
      'On the owner’s computer, run ', h('code', {}, 'countersign device pair'),
      '. It shows a link and a code: open the link on this device, or type the code here.'),
    formEl
  )
  if (!code) requestAnimationFrame(() => codeInput.focus())
}

function waiting(ctx, root, life) {
  const d = ctx.device
  const status = h('p', { class: 'status', role: 'status' }, 'Waiting for the owner to confirm…')
  const left = h('span', {})
  const digits = d.verification.replace(/\s/g, '').split('').join(' ')
  root.append(
    h('h1', {}, 'Compare this code'),
    h('section', { class: 'panel' },
      h('p', {}, 'The owner’s terminal shows a verification code too. If it is the same, confirm there.'),
      h('p', { class: 'verification', 'aria-label': `Verification code: ${digits}` }, d.verification),
      h('p', { class: 'warning' },
        'If the codes differ, do not confirm: another device may have claimed the code. Start over with a new one.'),
      status,
      h('p', { class: 'muted' }, 'Device “', d.name, '” — time left to confirm: ', left),
      h('button', {
        type: 'button',
        class: 'secondary',
        onclick: async () => {
          await ctx.forget()
          ctx.go('#/pair')
        },
      }, 'Start over')
    )
  )
  const tick = async () => {
    if (life.stopped()) return
    const remaining = d.confirmBy - api.now()
    left.textContent = countdown(remaining)
    if (remaining <= 0) {
      status.textContent = 'The pairing lapsed before the owner confirmed it. Start over with a new code.'
      status.classList.add('error')
      return
    }
    try {
      const { data } = await api.get('/v1/devices/me')
      const record = { ...d, state: 'paired', deviceId: data.id, name: data.name, pairedAt: data.created_at }
      delete record.verification
      await saveDevice(record)
      await ctx.setDevice(record)
      replace(root)
      paired(ctx, root)
      return
    } catch (e) {
      if (e instanceof api.NetworkError) {
        status.textContent = 'The service cannot be reached; still trying…'
      } else if (e instanceof api.ApiError && e.status === 403) {
        status.textContent = 'Waiting for the owner to confirm…'
      } else {
        status.textContent = api.explain(e)
      }
    }
    life.setTimer(setTimeout(tick, POLL_MS))
  }
  tick()
}

function paired(ctx, root) {
  const pushStatus = h('p', { role: 'status' })
  const pushButton = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Turn on notifications')
  const describe = (result) => {
    pushButton.hidden = true
    switch (result.state) {
      case 'on':
        pushStatus.textContent = 'Notifications are on: new requests reach this device even when the app is closed.'
        break
      case 'default':
        pushStatus.textContent = 'Turn on notifications to hear of new requests while the app is closed.'
        pushButton.hidden = false
        break
      case 'denied':
        pushStatus.textContent = 'Notifications are blocked in this browser’s settings; open the app to see new requests.'
        break
      case 'unavailable':
        pushStatus.textContent = 'This service sends no notifications; the inbox shows new requests while the app is open.'
        break
      case 'unsupported':
        pushStatus.textContent = 'This browser cannot receive notifications; the inbox shows new requests while the app is open.'
        break
      default:
        pushStatus.textContent = `Notifications could not be set up (${result.error?.message ?? 'unknown error'}); the inbox still works.`
    }
  }
  pushButton.addEventListener('click', async () => describe(await push.enable({ ask: true })))
  root.append(
    h('h1', {}, 'Paired'),
    h('section', { class: 'panel success-panel' },
      h('p', {}, 'This device, “', ctx.device.name, '”, can now approve requests. Its key stays here and cannot be exported.'),
      pushStatus,
      pushButton,
      h('p', {}, h('a', { class: 'button primary', href: '#/' }, 'Go to the inbox')))
  )
  announce('Paired')
  push.enable().then(describe)
}
