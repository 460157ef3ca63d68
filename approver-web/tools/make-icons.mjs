// Draws the app's PNG icons (the same picture as icons/icon.svg: a white check on a
// blue rounded square) without any image library, and writes them to icons/.
// Run: node approver-web/tools/make-icons.mjs
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { deflateSync } from 'node:zlib'

const BLUE = [0x1d, 0x4f, 0x91]
const WHITE = [0xff, 0xff, 0xff]
// The check, in the SVG's 64×64 units.
const CHECK = [[17, 33], [27, 43], [47, 21]]
const STROKE = 7
const RADIUS = 14
const SAMPLES = 4

function distanceToSegment(px, py, [ax, ay], [bx, by]) {
  const dx = bx - ax
  const dy = by - ay
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy))
}

function insideRoundedSquare(x, y, r) {
  const cx = Math.min(Math.max(x, r), 64 - r)
  const cy = Math.min(Math.max(y, r), 64 - r)
  return Math.hypot(x - cx, y - cy) <= r
}

/** RGBA pixels of the icon at `size`; `maskable`: full-bleed, the check in the safe zone. */
export function renderIcon(size, { maskable = false } = {}) {
  const rgba = new Uint8Array(size * size * 4)
  const scale = maskable ? 0.72 : 1
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let bg = 0
      let fg = 0
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const u = ((x + (sx + 0.5) / SAMPLES) / size) * 64
          const v = ((y + (sy + 0.5) / SAMPLES) / size) * 64
          if (!maskable && !insideRoundedSquare(u, v, RADIUS)) continue
          bg++
          // Undo the safe-zone scaling around the centre to test against the check.
          const cu = 32 + (u - 32) / scale
          const cv = 32 + (v - 32) / scale
          const d = Math.min(distanceToSegment(cu, cv, CHECK[0], CHECK[1]), distanceToSegment(cu, cv, CHECK[1], CHECK[2]))
          if (d <= STROKE / 2) fg++
        }
      }
      const n = SAMPLES * SAMPLES
      const i = (y * size + x) * 4
      for (let c = 0; c < 3; c++) {
        rgba[i + c] = bg ? Math.round((BLUE[c] * (bg - fg) + WHITE[c] * fg) / bg) : 0
      }
      rgba[i + 3] = Math.round((255 * bg) / n)
    }
  }
  return rgba
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes) {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'latin1')
  Buffer.from(data).copy(out, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

/** A PNG file of RGBA pixels (8 bits per channel, no filtering). */
export function png(size, rgba) {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header[8] = 8 // bit depth
  header[9] = 6 // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1))
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0
    Buffer.from(rgba.subarray(y * size * 4, (y + 1) * size * 4)).copy(raw, y * (size * 4 + 1) + 1)
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

export const ICONS = [
  ['icon-192.png', 192, {}],
  ['icon-512.png', 512, {}],
  ['icon-maskable-512.png', 512, { maskable: true }],
]

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../icons')
  for (const [name, size, options] of ICONS) {
    writeFileSync(path.join(dir, name), png(size, renderIcon(size, options)))
    console.log(`wrote icons/${name}`)
  }
}
