// Python peers (faiss-cpu, datasketch, bm25s, …) run in a virtualenv outside the repo,
// created on demand with pinned versions. A peer is a long-lived worker speaking JSON lines,
// so its repetitions can alternate with ours in one run.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export const cacheDir = process.env.SLIMDEX_BENCH_CACHE ?? join(homedir(), '.cache', 'slimdex-bench')

/**
 * Returns the venv's python with `packages` (pinned specs like 'faiss-cpu==1.15.1') installed, or null.
 * `name` picks a separate venv under the cache for peers whose dependencies would clash with
 * the shared one (e.g. fastembed pulls its own numpy).
 */
export function ensureVenv(packages, name = 'venv') {
  mkdirSync(cacheDir, { recursive: true })
  const venv = join(cacheDir, name)
  const python = join(venv, 'bin', 'python')
  if (!existsSync(python)) {
    const r = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' })
    if (r.status !== 0) return null
  }
  const missing = packages.filter((spec) => {
    const [name, version] = spec.split('==')
    const r = spawnSync(python, ['-m', 'pip', 'show', name], { encoding: 'utf8' })
    return r.status !== 0 || (version && !r.stdout.includes(`Version: ${version}`))
  })
  if (missing.length) {
    console.log(`installing ${missing.join(' ')} into ${venv}`)
    const r = spawnSync(python, ['-m', 'pip', 'install', '-q', ...missing], { stdio: 'inherit' })
    if (r.status !== 0) return null
  }
  return python
}

/** A Python worker: `await worker.call({ cmd, ... })` sends one JSON line and reads one back. */
export class PyWorker {
  constructor(python, script, env = {}) {
    this.proc = spawn(python, ['-u', script], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1', ...env },
    })
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]()
  }

  async call(message) {
    this.proc.stdin.write(JSON.stringify(message) + '\n')
    const { value, done } = await this.lines.next()
    if (done) throw new Error('python worker exited')
    const reply = JSON.parse(value)
    if (reply.error) throw new Error(`python worker: ${reply.error}`)
    return reply
  }

  close() {
    this.proc.stdin.end()
  }
}
