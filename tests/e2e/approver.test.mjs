// The approver app in Debian's Chromium against a real `countersign serve`: pairing with
// the CLI, a push delivered into the service worker, approving with number matching and
// narrowing (the agent's chain then verifies), denying, expiry, a refused tampered
// approval, the non-exportable key, the offline shell, and screenshots.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { DESKTOP, PHONE, browserMissing, launch, screenshot, serviceWorkerRegistration } from './browser.mjs'
import { Service, cliMissing } from './service.mjs'

const skip = cliMissing ?? browserMissing ?? false

const CONFIG = `
[requests]
number_matching = ["/payment/refund"]
`

let svc
let browser
let page
/** Content-Security-Policy violations and page errors seen anywhere: must stay empty. */
const problems = []

function watch(p) {
  p.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`)
  })
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  return p
}

/** Starts `countersign request … --wait` as `agent`; resolves to `{id, code, run}`. */
async function ask(agent, args) {
  const run = svc.background(['request', '--key', agent.key, ...args, '--wait'])
  const id = (await Service.waitFor(run.stderr, /request: (req_[a-z0-9]+)/, { what: 'the request id' }))[1]
  const code = (await Service.waitFor(run.stderr, /code: (\d+)/, { what: 'the matching code' }))[1]
  return { id, code, run }
}

function jsonLines(text) {
  return text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l))
}

async function notifications(p, tag) {
  return p.evaluate(async (tag) => {
    const r = await navigator.serviceWorker.ready
    return (await r.getNotifications({ tag })).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }))
  }, tag)
}

async function until(fn, { timeout = 10000, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('the approver app in Chromium', { skip, concurrency: false }, () => {
  let agent
  let mailer
  let gateway
  /** A request of mail-bot's, pending, for the tamper and deny tests. */
  let pendingMail

  before(async () => {
    svc = await Service.start({ config: CONFIG })
    browser = await launch({ origin: svc.url, viewport: PHONE })
    page = watch(browser.context.pages()[0] ?? (await browser.context.newPage()))
    browser.context.on('page', watch)
    agent = svc.addAgent('billing-bot', ['/payment'])
    mailer = svc.addAgent('mail-bot', ['/email'])
    gateway = svc.cli(['key', 'generate', '--out', `${svc.dir}/gateway.pem`]).stdout.trim()
  })

  after(async () => {
    await browser?.close()
    await svc?.stop()
  })

  test('serves the app under its Content-Security-Policy', async () => {
    const res = await fetch(`${svc.url}/`)
    assert.equal(res.status, 200)
    const csp = res.headers.get('content-security-policy')
    assert.match(csp, /default-src 'none'/)
    assert.match(csp, /script-src 'self'/)
    assert.match(csp, /frame-ancestors 'none'/)
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin')
    assert.ok(res.headers.get('permissions-policy'))
    const missing = await fetch(`${svc.url}/v1/no-such-thing`)
    assert.equal(missing.status, 404)
    assert.equal((await missing.json()).error.code, 'not_found')
  })

  test('pairs with `device pair`, both showing the same verification string', async () => {
    const pair = svc.background(['device', 'pair', '--yes', '--allow', '/payment', '--allow', '/email', '--output', 'json'])
    const url = (await Service.waitFor(pair.stdout, /"url":\s*"([^"]+)"/, { what: 'the pairing link' }))[1]
    assert.match(url, /#\/pair\?code=/)
    await page.goto(url)
    await page.getByRole('heading', { name: 'Pair this device' }).waitFor()
    const name = page.getByLabel('Name for this device')
    await name.fill('Test phone')
    await screenshot(page, 'pair-phone-light')
    await page.getByRole('button', { name: 'Pair this device' }).click()
    await page.getByRole('heading', { name: 'Compare this code' }).waitFor()
    const shown = (await page.locator('.verification').textContent()).trim()
    assert.match(shown, /^\d{3} \d{3}$/)
    await screenshot(page, 'pair-verify-phone-light')
    assert.equal(await pair.exited, 0, pair.stderr())
    const done = jsonLines(pair.stdout()).at(-1)
    assert.equal(done.verification, shown, 'the CLI and the app show the same verification string')
    await page.getByRole('heading', { name: 'Paired' }).waitFor({ timeout: 15000 })
    // The service has no Web Push configured: the app says so and goes on.
    await page.getByText('This service sends no notifications').waitFor()
    const did = await page.evaluate(async () => (await (await import('/js/store.js')).loadDevice()).did)
    assert.equal(did, done.device_did)
    await screenshot(page, 'paired-phone-light')
  })

  test('the device key cannot be exported', async () => {
    const result = await page.evaluate(async () => {
      const device = await (await import('/js/store.js')).loadDevice()
      const attempt = async (format) => {
        try {
          await crypto.subtle.exportKey(format, device.privateKey)
          return 'exported'
        } catch (e) {
          return e.name
        }
      }
      return {
        extractable: device.privateKey.extractable,
        algorithm: device.privateKey.algorithm.name,
        usages: device.privateKey.usages,
        pkcs8: await attempt('pkcs8'),
        jwk: await attempt('jwk'),
        raw: await attempt('raw'),
      }
    })
    assert.equal(result.extractable, false)
    assert.equal(result.algorithm, 'Ed25519')
    assert.deepEqual(result.usages, ['sign'])
    for (const format of ['pkcs8', 'jwk', 'raw']) {
      assert.notEqual(result[format], 'exported', `${format} export must fail`)
      assert.equal(result[format], 'InvalidAccessError', format)
    }
  })

  test('a push shows a notification; opening it, narrowing and approving gives the agent a chain that verifies', async () => {
    const { id, code, run } = await ask(agent, [
      '--cmd', '/payment/refund',
      '--policy', '[["==", ".currency", "USD"], ["<=", ".amount", 4900]]',
      '--summary', 'Refunds up to 49.00 USD for order 1234',
      '--reason', 'The customer was charged twice for order 1234.',
      '--diff', JSON.stringify({
        fields: [{ path: 'order.status', before: 'paid', after: 'refunded' }],
        text: '--- a/notes.txt\n+++ b/notes.txt\n@@ -1,2 +1,2 @@\n order 1234\n-status: paid\n+status: refunded\n',
      }),
    ])
    await page.goto(`${svc.url}/#/`)
    await page.getByRole('heading', { name: 'Requests waiting' }).waitFor()
    await page.locator('.card', { hasText: 'order 1234' }).waitFor()
    await screenshot(page, 'inbox-phone-light')

    // Deliver the service's push message into the service worker (no push service needed).
    const cdp = await browser.context.newCDPSession(page)
    const registrationId = await serviceWorkerRegistration(cdp, svc.url)
    const expiresAt = Math.floor(Date.now() / 1000) + 240
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: svc.url,
      registrationId,
      data: JSON.stringify({
        type: 'pending', id, agent: 'billing-bot', summary: 'Refunds up to 49.00 USD for order 1234',
        expires_at: expiresAt, number_matching: true,
      }),
    })
    const [shown] = await until(async () => {
      const n = await notifications(page, `request-${id}`)
      return n.length ? n : null
    }, { what: 'the notification' })
    assert.equal(shown.title, 'billing-bot asks for approval')
    assert.match(shown.body, /Refunds up to 49\.00 USD for order 1234/)
    assert.match(shown.body, /Number matching/)
    assert.equal(shown.data.url, `/#/requests/${id}`)

    // Headless Chromium cannot click a notification: run what the click handler runs
    // (openRequest with the notification's URL) in the worker, with the app open.
    const worker = await until(() => browser.context.serviceWorkers().find((w) => w.url().endsWith('/sw.js')), { what: 'the service worker' })
    await worker.evaluate((url) => openRequest(url), shown.data.url)
    await page.waitForURL(`**/#/requests/${id}`)
    await page.getByRole('heading', { name: 'Your decision' }).waitFor()
    assert.match(await page.locator('.policy').textContent(), /amount at most 49\.00 USD/)
    assert.match(await page.locator('.policy').textContent(), /currency is USD/)
    assert.equal(await page.locator('.textdiff .add').textContent(), 'added: +status: refunded\n')

    // Number matching: pick the agent's code; narrow to 20.00 and one minute.
    await page.getByLabel(code, { exact: true }).check()
    await page.getByLabel('Lower the limit on amount (USD)').fill('20.00')
    await page.getByLabel('Capability lifetime').selectOption('60')
    const words = await page.locator('.policy').textContent()
    assert.match(words, /amount at most 20\.00 USD/)
    assert.match(words, /added by you/)
    await screenshot(page, 'request-narrowed-phone-light')
    await page.getByRole('button', { name: 'Approve' }).click()
    await page.getByRole('heading', { name: 'Approved' }).waitFor()
    await screenshot(page, 'approved-phone-light')

    assert.equal(await run.exited, 0, run.stderr())
    const container = run.stdout().trim()
    const tokens = JSON.parse(svc.cli(['inspect', container, '--output', 'json']).stdout).tokens
    const approval = tokens.find((t) => JSON.stringify(t).includes(svc.info.did) && JSON.stringify(t).includes('countersign/match'))
    assert.ok(approval, `no device approval in ${JSON.stringify(tokens)}`)
    assert.match(JSON.stringify(approval), /\["<=",".amount",2000\]/)
    assert.match(JSON.stringify(approval), new RegExp(`"countersign/match":"${code}"`))

    const invoke = (amount) =>
      svc.cli(['invoke', '--key', agent.key, '--to', gateway, '--cmd', '/payment/refund',
        '--args', JSON.stringify({ amount, currency: 'USD' }), '--proof', container]).stdout.trim()
    const verify = (inv) => svc.cli(['verify', '--output', 'json', '--audience', gateway, inv], { allowFail: true })
    const ok = verify(invoke(1500))
    assert.equal(ok.status, 0, ok.stdout + ok.stderr)
    // 30.00 is within what the agent asked but above what the person approved.
    const over = verify(invoke(3000))
    assert.equal(over.status, 1, over.stdout)
    assert.match(over.stdout, /MatchError/)

    // The service's "closed" message takes the notification away.
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: svc.url,
      registrationId,
      data: JSON.stringify({ type: 'closed', id, state: 'approved' }),
    })
    await until(async () => (await notifications(page, `request-${id}`)).length === 0, { what: 'the notification to close' })
    await cdp.detach()
  })

  test('a notification shows while the app is closed', async () => {
    const { id, run } = await ask(mailer, ['--cmd', '/email/send', '--args', '{"to": "carol@example.com"}', '--summary', 'Email Carol'])
    await page.goto(`${svc.url}/#/`)
    const cdp = await browser.context.newCDPSession(page)
    const registrationId = await serviceWorkerRegistration(cdp, svc.url)
    await cdp.detach()
    const helper = await browser.context.newPage()
    await helper.goto('about:blank')
    await page.close()
    // No window of the app is open now; the push still reaches the worker.
    const cdpBlank = await browser.context.newCDPSession(helper)
    await cdpBlank.send('ServiceWorker.enable')
    await cdpBlank.send('ServiceWorker.deliverPushMessage', {
      origin: svc.url,
      registrationId,
      data: JSON.stringify({ type: 'pending', id, agent: 'mail-bot', summary: 'Email Carol', expires_at: Math.floor(Date.now() / 1000) + 200, number_matching: false }),
    })
    await cdpBlank.detach()
    page = await browser.context.newPage()
    await page.goto(`${svc.url}/#/`)
    const [n] = await until(async () => {
      const list = await notifications(page, `request-${id}`)
      return list.length ? list : null
    }, { what: 'the notification' })
    assert.equal(n.title, 'mail-bot asks for approval')
    await helper.close()
    // Left pending for the next tests.
    pendingMail = { id, run }
  })

  test('an approval altered after signing, or wider than asked, is refused', async () => {
    const { id } = pendingMail
    const results = await page.evaluate(async (id) => {
      const api = await import('/js/api.js')
      const { approvalDraft, signApproval } = await import('/js/approval.js')
      const { encode, decode } = await import('/js/cbor.js')
      const base64 = await import('/js/base64.js')
      const { loadDevice } = await import('/js/store.js')
      const { signerFor } = await import('/js/keys.js')
      const device = await loadDevice()
      const signer = await signerFor(device)
      const service = (await api.get('/v1/service', { auth: false })).data
      api.setSession({ signer, service: service.did })
      const request = (await api.get(`/v1/requests/${id}`)).data
      const send = async (bytes) => {
        try {
          await api.post(`/v1/requests/${id}/approve`, { delegation: base64.encode(bytes) })
          return 'accepted'
        } catch (e) {
          return `${e.status} ${e.code}`
        }
      }
      const draft = approvalDraft({ request, device: signer.did, service: service.did, now: api.now() })
      // 1. Signed, then one byte of the recipient changed.
      const signed = await signApproval(draft, signer)
      const flipped = Uint8Array.from(signed.bytes)
      const at = new TextDecoder().decode(flipped).lastIndexOf('carol')
      flipped[at] = 'k'.charCodeAt(0)
      // 2. Signed, then the policy replaced (re-encoded with the old signature).
      const [sig, payload] = decode(signed.bytes)
      payload['ucan/dlg@1.0.0'].pol = [['like', '.to', '*']]
      const swapped = encode([sig, payload])
      // 3. Signed honestly, but without the requested statement.
      const wider = await signApproval({ ...draft, pol: [['like', '.to', '*@example.com']] }, signer)
      return {
        flipped: await send(flipped),
        swapped: await send(swapped),
        wider: await send(wider.bytes),
        still: (await api.get(`/v1/requests/${id}`)).data.state,
      }
    }, id)
    assert.equal(results.flipped, '422 invalid_approval')
    assert.equal(results.swapped, '422 invalid_approval')
    assert.equal(results.wider, '422 policy_wider')
    assert.equal(results.still, 'pending')
  })

  test('denying with a reason; another open window sees the decision at once', async () => {
    const { id, run } = pendingMail
    const other = await browser.context.newPage()
    await other.goto(`${svc.url}/#/requests/${id}`)
    await other.getByRole('heading', { name: 'Your decision' }).waitFor()
    await page.goto(`${svc.url}/#/requests/${id}`)
    await page.getByRole('heading', { name: 'Your decision' }).waitFor()
    assert.match(await page.locator('.policy').textContent(), /recipient is carol@example\.com/)
    await page.getByRole('button', { name: 'Deny…' }).click()
    await page.getByLabel('Why deny?').fill('Carol asked not to be emailed.')
    await page.getByRole('button', { name: 'Deny this request' }).click()
    await page.getByRole('heading', { name: 'Denied' }).waitFor()
    await screenshot(page, 'denied-phone-light')
    // The other window follows the request's events: decided elsewhere, no buttons left.
    await other.getByRole('heading', { name: 'Already decided' }).waitFor({ timeout: 5000 })
    assert.equal(await other.getByRole('button', { name: 'Approve' }).count(), 0)
    await other.close()
    assert.equal(await run.exited, 3)
    assert.match(run.stderr(), /denied: Carol asked not to be emailed\./)
  })

  test('an expired request shows as expired at once and cannot be approved', async () => {
    const { id, run } = await ask(mailer, [
      '--cmd', '/email/send', '--args', '{"to": "dave@example.com"}', '--summary', 'Email Dave', '--expires-in', '8s',
    ])
    await page.goto(`${svc.url}/#/requests/${id}`)
    await page.getByRole('heading', { name: 'Your decision' }).waitFor()
    await page.getByRole('heading', { name: 'Expired' }).waitFor({ timeout: 15000 })
    assert.equal(await page.getByRole('button', { name: 'Approve' }).count(), 0)
    assert.equal(await run.exited, 4)
    await page.goto(`${svc.url}/#/history`)
    await page.locator('.card', { hasText: 'Email Dave' }).getByText('Expired').first().waitFor()
    await page.locator('.card', { hasText: 'Email Carol' }).getByText('Denied by this device').waitFor()
    await screenshot(page, 'history-phone-light')
  })

  test('the app shell works offline and recovers', async () => {
    await page.goto(`${svc.url}/#/`)
    await page.getByRole('heading', { name: 'Requests waiting' }).waitFor()
    await browser.context.setOffline(true)
    await page.reload()
    await page.getByRole('heading', { name: 'Cannot reach the service' }).waitFor()
    await screenshot(page, 'offline-phone-light')
    // Trying again while still offline says so again.
    await page.getByRole('button', { name: 'Try again' }).click()
    await page.getByRole('heading', { name: 'Cannot reach the service' }).waitFor()
    // Back online, the app carries on by itself.
    await browser.context.setOffline(false)
    await page.getByRole('heading', { name: 'Requests waiting' }).waitFor()
  })

  test('screenshots at phone and desktop sizes, light and dark', async () => {
    const { id, run } = await ask(agent, [
      '--cmd', '/payment/refund',
      '--args', '{"charge": "ch_3PzL", "amount": 12550, "currency": "EUR"}',
      '--summary', 'Refund 125.50 EUR to Ana Lima',
      '--reason', 'Duplicate charge on 2 November; the customer sent the bank statement.',
      '--diff', JSON.stringify({
        fields: [
          { path: 'charge.ch_3PzL.refunded', before: 0, after: 12550 },
          { path: 'order.8812.status', before: 'paid', after: 'refunded' },
        ],
      }),
    ])
    for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
      for (const scheme of ['light', 'dark']) {
        await page.setViewportSize(viewport)
        await page.emulateMedia({ colorScheme: scheme })
        await page.goto(`${svc.url}/#/`)
        await page.locator('.card', { hasText: 'Ana Lima' }).waitFor()
        await screenshot(page, `inbox-${size}-${scheme}`)
        await page.goto(`${svc.url}/#/requests/${id}`)
        await page.getByRole('heading', { name: 'Your decision' }).waitFor()
        await screenshot(page, `request-${size}-${scheme}`)
        // Nothing is wider than the screen.
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
        assert.ok(overflow <= 0, `the page is ${overflow}px wider than the ${size} screen`)
      }
    }
    await page.goto(`${svc.url}/#/device`)
    await page.getByText('Paired and active.').waitFor()
    await screenshot(page, 'device-desktop-dark')
    await page.setViewportSize(PHONE)
    await page.emulateMedia({ colorScheme: 'light' })
    await page.goto(`${svc.url}/#/requests/${id}`)
    await page.getByRole('heading', { name: 'Your decision' }).waitFor()
    // Every form control has a label and every button a name.
    const unlabelled = await page.evaluate(() => {
      const bad = []
      for (const el of document.querySelectorAll('input, select, textarea')) {
        if (!(el.labels?.length || el.getAttribute('aria-label'))) bad.push(el.outerHTML)
      }
      for (const el of document.querySelectorAll('button, a')) {
        if (!el.textContent.trim() && !el.getAttribute('aria-label')) bad.push(el.outerHTML)
      }
      return bad
    })
    assert.deepEqual(unlabelled, [])
    run.child.kill('SIGTERM')
  })

  test('no Content-Security-Policy violation or page error happened', () => {
    assert.deepEqual(problems, [])
  })
})
