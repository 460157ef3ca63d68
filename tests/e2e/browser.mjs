// Debian's Chromium, driven by playwright-core (which never downloads a browser here).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const CHROMIUM = process.env.COUNTERSIGN_CHROMIUM ?? '/usr/bin/chromium'

export const ARTIFACTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../artifacts')

let playwright = null
try {
  playwright = await import('playwright-core')
} catch {
  playwright = null
}

export const browserMissing = !playwright
  ? 'playwright-core is not installed (run "npm ci" in tests/)'
  : !existsSync(CHROMIUM)
    ? `Chromium not found at ${CHROMIUM} (apt-get install chromium)`
    : null

export const PHONE = { width: 360, height: 740 }
export const DESKTOP = { width: 1280, height: 800 }

/**
 * A persistent Chromium profile (a fresh --user-data-dir), so the service worker, its push
 * messages and IndexedDB behave as in an installed browser.
 */
export async function launch({ origin, colorScheme = 'light', viewport = PHONE } = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), 'cs-chromium-'))
  const context = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport,
    colorScheme,
    locale: 'en-GB',
    timezoneId: 'UTC',
  })
  if (origin) await context.grantPermissions(['notifications'], { origin })
  const close = async () => {
    await context.close().catch(() => {})
    rmSync(profile, { recursive: true, force: true })
  }
  return { context, close }
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true })
  const file = path.join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

/** The service worker's registration id, for CDP's ServiceWorker domain. */
export async function serviceWorkerRegistration(cdp, origin, timeout = 10000) {
  let found = null
  const seen = (event) => {
    for (const r of event.registrations) {
      if (!r.isDeleted && r.scopeURL === `${origin}/`) found = r.registrationId
    }
  }
  cdp.on('ServiceWorker.workerRegistrationUpdated', seen)
  await cdp.send('ServiceWorker.enable')
  const deadline = Date.now() + timeout
  while (!found && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  cdp.off('ServiceWorker.workerRegistrationUpdated', seen)
  if (!found) throw new Error('the app registered no service worker')
  return found
}
