// Shared benchmark plumbing: machine description, statistics, alternating side-by-side runs,
// and the results writer (benches/results/<suite>.json + .md). See ../../shared/BENCHMARKS.md.
import { cpus, totalmem, platform, release } from 'node:os'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..')
export const resultsDir = join(benchDir, 'results')

export async function loadSlimdex() {
  try {
    return await import('../../dist/index.mjs')
  } catch (e) {
    throw new Error(`benchmarks need the built package: run \`npm run build\` first (${e.message})`)
  }
}

export async function loadBinding() {
  const { createRequire } = await import('node:module')
  return createRequire(import.meta.url)('../../binding.js')
}

export async function machine() {
  const { nativeInfo } = await loadSlimdex()
  const c = cpus()
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    os: `${platform()} ${release()}`,
    node: process.version,
    native: nativeInfo(),
    date: new Date().toISOString(),
  }
}

// V8's gc() without --expose-gc on the command line: the flag is set, then a fresh context
// exposes the function.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')

/**
 * A full garbage collection, for the start of a timed pass: without it a contender's pass pays
 * for the major GC that the previous contenders' garbage (or their large result arrays) made
 * due, which on a heap of millions of strings is 0.3–0.5 s plus incremental marking.
 */
export function collectGarbage() {
  gc()
}

export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
  return { median, min: s[0], max: s[s.length - 1], n: s.length }
}

/**
 * Runs `contenders` alternately (A B A B …, rotating who goes first) `reps` times after one
 * warm-up round. Each contender is an async function returning seconds for one repetition.
 */
export async function alternate(contenders, reps) {
  const names = Object.keys(contenders)
  const times = Object.fromEntries(names.map((n) => [n, []]))
  for (const n of names) await contenders[n]() // warm-up
  for (let r = 0; r < reps; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length])
    for (const n of order) times[n].push(await contenders[n]())
  }
  return times
}

/** Per-pair ratios a/b (same repetition index) and their statistics. */
export function ratios(a, b) {
  return stats(a.map((x, i) => x / b[i]))
}

export function fmt(x, digits = 2) {
  if (x === undefined || x === null || Number.isNaN(x)) return '—'
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US')
  return x.toFixed(digits)
}

/** Writes results/<suite>.json and results/<suite>.md (a table a reader can scan). */
/**
 * Writes benches/results/<suite>.json and .md. `tables`: further `{ title, columns, rows }`
 * tables after the main one; `charts`: `{ file, alt }` SVGs in benches/results to show.
 */
export function writeResults(suite, { title, data, peers, table, tables = [], charts = [], notes = [], measurements }, { smoke = false } = {}) {
  mkdirSync(resultsDir, { recursive: true })
  const name = smoke ? `${suite}.smoke` : suite
  const json = { suite, title, smoke, data, peers, table, tables, charts, notes, measurements, machine: globalThis.__benchMachine }
  writeFileSync(join(resultsDir, `${name}.json`), JSON.stringify(json, null, 2) + '\n')
  const m = globalThis.__benchMachine
  const lines = [
    `# ${title}`,
    '',
    `Machine: ${m.cpu} (${m.cores} cores), ${m.os}, Node ${m.node}, slimdex ${m.native.version} SIMD ${m.native.simd}; ${m.date}.`,
    `Data: ${data}.`,
    `Peers: ${Object.entries(peers).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}.`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    ...tables.flatMap((t) => [
      `**${t.title}**`,
      '',
      `| ${t.columns.join(' | ')} |`,
      `| ${t.columns.map(() => '---').join(' | ')} |`,
      ...t.rows.map((r) => `| ${r.join(' | ')} |`),
      '',
    ]),
    ...(smoke ? [] : charts.flatMap((c) => [`![${c.alt}](${c.file})`, ''])),
  ]
  writeFileSync(join(resultsDir, `${name}.md`), lines.join('\n'))
  console.log(lines.join('\n'))
}
