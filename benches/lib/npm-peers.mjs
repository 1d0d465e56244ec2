// npm peers (simsimd, minisearch, …) are installed into a cache folder outside the repo, with
// pinned versions, so the package itself never depends on them.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { cacheDir } from './python.mjs'

/**
 * Installs `specs` (e.g. ['simsimd@6.5.5']) if needed and returns `{ require, versions }`, or
 * null when npm cannot install them (the bench then reports the peer as unavailable).
 */
export function ensureNpmPeers(specs) {
  const dir = join(cacheDir, 'npm')
  mkdirSync(dir, { recursive: true })
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{"name":"slimdex-bench-peers","private":true}\n')
  const missing = specs.filter((spec) => {
    const [name, version] = splitSpec(spec)
    const pkg = join(dir, 'node_modules', name, 'package.json')
    return !existsSync(pkg) || JSON.parse(readFileSync(pkg, 'utf8')).version !== version
  })
  if (missing.length) {
    console.log(`installing ${missing.join(' ')} into ${dir}`)
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, ...missing], { stdio: 'inherit' })
    if (r.status !== 0) return null
  }
  const req = createRequire(join(dir, 'package.json'))
  const versions = Object.fromEntries(specs.map((s) => splitSpec(s)))
  return { require: req, versions }
}

function splitSpec(spec) {
  const at = spec.lastIndexOf('@')
  return [spec.slice(0, at), spec.slice(at + 1)]
}
