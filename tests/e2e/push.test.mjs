// Web Push end to end: the service encrypts its messages for a subscription whose endpoint
// is a stand-in push service on loopback; the test decrypts them as a browser would and
// hands the exact payload to the app's service worker (CDP ServiceWorker.deliverPushMessage).
// The notification shows, leads to the request, and closes when the service says the
// request was decided.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { PHONE, browserMissing, launch, screenshot, serviceWorkerRegistration } from './browser.mjs'
import { Service, cliMissing } from './service.mjs'
import { decrypt, pushService, subscriberKeys } from './webpush.mjs'

const skip = cliMissing ?? browserMissing ?? false

const CONFIG = `
[push]
contact = "mailto:operator@countersign.dev"
allow_insecure_endpoints = true
`

async function until(fn, { timeout = 15000, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeout
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('Web Push from the service to the app', { skip, concurrency: false }, () => {
  let svc
  let browser
  let page
  let relay
  const errors = []

  before(async () => {
    relay = await pushService()
    svc = await Service.start({ config: CONFIG })
    browser = await launch({ origin: svc.url, viewport: PHONE })
    page = browser.context.pages()[0] ?? (await browser.context.newPage())
    page.on('pageerror', (e) => errors.push(e.message))
  })

  after(async () => {
    await browser?.close()
    await svc?.stop()
    await relay?.close()
  })

  test('pushes reach the service worker as the service sent them', async () => {
    // Pair.
    const pair = svc.background(['device', 'pair', '--yes', '--allow', '/email', '--output', 'json'])
    const url = (await Service.waitFor(pair.stdout, /"url":\s*"([^"]+)"/, { what: 'the pairing link' }))[1]
    await page.goto(url)
    await page.getByLabel('Name for this device').fill('Push phone')
    await page.getByRole('button', { name: 'Pair this device' }).click()
    assert.equal(await pair.exited, 0, pair.stderr())
    await page.getByRole('heading', { name: 'Paired' }).waitFor({ timeout: 15000 })
    // The service offers push; this headless browser has no push service of its own, so
    // the app says it could not subscribe (and the inbox still works).
    await page.getByText(/Notifications (are on|could not be set up)/).waitFor({ timeout: 30000 })

    // Register a subscription whose endpoint is the stand-in push service, as the device.
    const keys = subscriberKeys()
    const registered = await page.evaluate(async ({ endpoint, p256dh, auth }) => {
      const api = await import('/js/api.js')
      const { status } = await api.post('/v1/push/subscriptions', { endpoint, keys: { p256dh, auth } })
      return status
    }, { endpoint: `${relay.url}/push/phone`, p256dh: keys.p256dh.toString('base64url'), auth: keys.auth.toString('base64url') })
    assert.ok(registered === 200 || registered === 201, String(registered))

    // An agent asks; the service pushes.
    const mailer = svc.addAgent('mail-bot', ['/email'])
    const run = svc.background(['request', '--key', mailer.key, '--cmd', '/email/send',
      '--args', '{"to": "erin@example.com"}', '--summary', 'Email Erin the invoice', '--wait'])
    const id = (await Service.waitFor(run.stderr, /request: (req_[a-z0-9]+)/))[1]
    const first = await until(() => relay.messages[0], { what: 'the pending push' })
    assert.equal(first.path, '/push/phone')
    assert.equal(first.headers['content-encoding'], 'aes128gcm')
    assert.equal(first.headers.urgency, 'high')
    assert.ok(Number(first.headers.ttl) > 0)
    assert.ok(first.headers.topic)
    assert.match(first.headers.authorization ?? '', /^vapid t=/)
    const pending = JSON.parse(decrypt(first.body, keys).toString('utf8'))
    assert.equal(pending.type, 'pending')
    assert.equal(pending.id, id)
    assert.equal(pending.agent, 'mail-bot')
    assert.equal(pending.summary, 'Email Erin the invoice')

    await page.goto(`${svc.url}/#/`)
    const cdp = await browser.context.newCDPSession(page)
    const registrationId = await serviceWorkerRegistration(cdp, svc.url)
    const deliver = (plaintext) =>
      cdp.send('ServiceWorker.deliverPushMessage', { origin: svc.url, registrationId, data: plaintext.toString('utf8') })
    const shown = () => page.evaluate(async (tag) => {
      const r = await navigator.serviceWorker.ready
      return (await r.getNotifications({ tag })).map((n) => ({ title: n.title, body: n.body, url: n.data?.url }))
    }, `request-${id}`)

    await deliver(decrypt(first.body, keys))
    const [n] = await until(async () => {
      const list = await shown()
      return list.length ? list : null
    }, { what: 'the notification' })
    assert.equal(n.title, 'mail-bot asks for approval')
    assert.match(n.body, /Email Erin the invoice/)
    await screenshot(page, 'push-inbox-phone-light')

    // The notification leads to the request; approving there makes the service push
    // `closed`, which takes the notification away.
    await page.goto(`${svc.url}${n.url}`)
    await page.getByRole('heading', { name: 'Your decision' }).waitFor()
    await page.getByRole('button', { name: 'Approve' }).click()
    await page.getByRole('heading', { name: 'Approved' }).waitFor()
    assert.equal(await run.exited, 0, run.stderr())
    const closedMessage = await until(
      () => relay.messages.map((m) => JSON.parse(decrypt(m.body, keys).toString('utf8'))).find((m) => m.type === 'closed'),
      { what: 'the closed push' }
    )
    assert.equal(closedMessage.id, id)
    await deliver(Buffer.from(JSON.stringify(closedMessage)))
    await until(async () => (await shown()).length === 0, { what: 'the notification to close' })
    await cdp.detach()
    assert.deepEqual(errors, [])
  })
})
