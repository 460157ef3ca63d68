// The app's files: the service worker keeps every one of them for offline use, the
// manifest names icons that exist, and the PNG icons are what the script draws.
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { inflateSync } from 'node:zlib'
import { ICONS, renderIcon } from '../../approver-web/tools/make-icons.mjs'

const app = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../approver-web')

function files(dir, prefix = '') {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    const rel = `${prefix}/${name}`
    return statSync(full).isDirectory() ? files(full, rel) : [rel]
  })
}

/** The pixels of an 8-bit RGBA PNG without filtering (what the script writes). */
function pixels(png) {
  let at = 8
  const idat = []
  let width = 0
  while (at < png.length) {
    const len = png.readUInt32BE(at)
    const type = png.toString('latin1', at + 4, at + 8)
    const data = png.subarray(at + 8, at + 8 + len)
    if (type === 'IHDR') width = data.readUInt32BE(0)
    if (type === 'IDAT') idat.push(data)
    at += 12 + len
  }
  const raw = inflateSync(Buffer.concat(idat))
  const out = Buffer.alloc(width * width * 4)
  for (let y = 0; y < width; y++) raw.copy(out, y * width * 4, y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1))
  return out
}

describe('the app files', () => {
  test('the service worker keeps every file of the app for offline use', () => {
    const sw = readFileSync(path.join(app, 'sw.js'), 'utf8')
    const shell = JSON.parse(sw.match(/const SHELL = (\[[\s\S]*?\])/)[1].replace(/'/g, '"').replace(/,\s*\]/, ']'))
    const served = files(app).filter((f) => !f.startsWith('/tools/') && f !== '/sw.js')
    assert.deepEqual([...shell].filter((f) => f !== '/').sort(), served.sort())
  })

  test('every module is plain JavaScript the browser loads as it is', () => {
    for (const f of files(app).filter((f) => f.endsWith('.js'))) {
      const src = readFileSync(path.join(app, f), 'utf8')
      assert.doesNotMatch(src, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, f)
      for (const [, spec] of src.matchAll(/^import .* from '([^']+)'/gm)) {
        assert.match(spec, /^\.\.?\/.*\.js$/, `${f} imports ${spec}: only relative .js modules, no packages`)
      }
    }
  })

  test('the page loads no script or style but its own files', () => {
    const html = readFileSync(path.join(app, 'index.html'), 'utf8')
    assert.doesNotMatch(html, /<script(?![^>]*src="\/js\/)/)
    assert.doesNotMatch(html, /<style|\sstyle="|\son[a-z]+="/i)
  })

  test('the manifest names icons that exist', () => {
    const manifest = JSON.parse(readFileSync(path.join(app, 'manifest.webmanifest'), 'utf8'))
    assert.equal(manifest.display, 'standalone')
    assert.ok(manifest.theme_color)
    for (const icon of manifest.icons) statSync(path.join(app, icon.src))
    assert.ok(manifest.icons.some((i) => i.sizes === '192x192'))
    assert.ok(manifest.icons.some((i) => i.sizes === '512x512' && i.purpose === 'maskable'))
  })

  test('the PNG icons are what tools/make-icons.mjs draws', () => {
    for (const [name, size, options] of ICONS) {
      const committed = pixels(readFileSync(path.join(app, 'icons', name)))
      assert.ok(Buffer.from(renderIcon(size, options)).equals(committed), `${name}: run node approver-web/tools/make-icons.mjs`)
    }
  })
})
