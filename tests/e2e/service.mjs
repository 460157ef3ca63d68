// A real `countersign serve` for the browser tests: its own config and data directories,
// a free loopback port, and the CLI run against it as the owner and as agents.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const testsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export const CLI_BIN = process.env.COUNTERSIGN_BIN
  ? path.resolve(process.env.COUNTERSIGN_BIN)
  : path.resolve(testsDir, '../target/debug/countersign')

export const cliMissing = existsSync(CLI_BIN)
  ? null
  : `countersign binary not found at ${CLI_BIN} (run "cargo build -p countersign-cli" or set COUNTERSIGN_BIN)`

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** The environment with no COUNTERSIGN_* settings of the caller's leaking in. */
function cleanEnv(extra) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('COUNTERSIGN_')) env[k] = v
  }
  return { ...env, ...extra }
}

export class Service {
  /** `config`: TOML text for the service's configuration file. */
  static async start({ config = '' } = {}) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-e2e-'))
    const port = await freePort()
    const configFile = path.join(dir, 'countersign.toml')
    writeFileSync(configFile, config)
    const service = new Service(dir, port, configFile)
    await service.spawn()
    return service
  }

  constructor(dir, port, configFile) {
    this.dir = dir
    this.port = port
    this.url = `http://127.0.0.1:${port}`
    this.configFile = configFile
    this.env = cleanEnv({
      COUNTERSIGN_CONFIG_DIR: path.join(dir, 'config'),
      COUNTERSIGN_SERVICE: this.url,
      NO_COLOR: '1',
    })
    this.log = ''
    this.children = new Set()
  }

  async spawn() {
    this.process = spawn(CLI_BIN, ['serve'], {
      env: {
        ...this.env,
        COUNTERSIGN_CONFIG: this.configFile,
        COUNTERSIGN_DATA_DIR: path.join(this.dir, 'data'),
        COUNTERSIGN_LISTEN: `127.0.0.1:${this.port}`,
        COUNTERSIGN_LOG: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.process.stdout.on('data', (d) => (this.log += d))
    this.process.stderr.on('data', (d) => (this.log += d))
    const deadline = Date.now() + 20000
    for (;;) {
      if (this.process.exitCode !== null) throw new Error(`countersign serve exited:\n${this.log}`)
      try {
        const res = await fetch(`${this.url}/v1/service`)
        if (res.ok) {
          this.info = await res.json()
          return
        }
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`countersign serve did not start:\n${this.log}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** Runs the CLI to completion; throws on a non-zero exit unless `allowFail`. */
  cli(args, { allowFail = false, timeout = 30000 } = {}) {
    const r = spawnSync(CLI_BIN, args, { env: this.env, encoding: 'utf8', timeout })
    if (r.error) throw r.error
    if (r.status !== 0 && !allowFail) {
      throw new Error(`countersign ${args.join(' ')} exited ${r.status}\n${r.stderr}`)
    }
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }

  /**
   * Starts the CLI in the background: `{child, stdout(), stderr(), exited}` where `exited`
   * resolves to the exit code.
   */
  background(args) {
    const child = spawn(CLI_BIN, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.children.add(child)
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const exited = new Promise((resolve) => child.on('close', (code) => {
      this.children.delete(child)
      resolve(code)
    }))
    return { child, stdout: () => out, stderr: () => err, exited }
  }

  /** Waits until `text()` matches `pattern`; the match. */
  static async waitFor(text, pattern, { timeout = 15000, what = String(pattern) } = {}) {
    const deadline = Date.now() + timeout
    for (;;) {
      const m = pattern.exec(text())
      if (m) return m
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; have:\n${text()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** A new agent key registered with `allow`: `{name, key, did}`. */
  addAgent(name, allow) {
    const key = path.join(this.dir, `${name}.pem`)
    const did = this.cli(['key', 'generate', '--out', key]).stdout.trim().split(/\s+/).find((w) => w.startsWith('did:key:'))
    this.cli(['agent', 'add', name, '--did', did, ...allow.flatMap((a) => ['--allow', a])])
    return { name, key, did }
  }

  async stop() {
    for (const child of this.children) child.kill('SIGTERM')
    if (this.process && this.process.exitCode === null) {
      const done = new Promise((r) => this.process.once('close', r))
      this.process.kill('SIGTERM')
      await Promise.race([done, new Promise((r) => setTimeout(r, 8000))])
      if (this.process.exitCode === null) this.process.kill('SIGKILL')
    }
    rmSync(this.dir, { recursive: true, force: true })
  }
}
