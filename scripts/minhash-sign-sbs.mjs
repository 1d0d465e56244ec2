// Side-by-side signing of pre-split shingles (numPerm 128, single thread): this checkout's
// slimdex against another build (SLIMDEX_BASE, e.g. /work/main) and rensa, alternated rep by rep,
// wall and process CPU time. A focused companion of benches/minhash.mjs for the string[][] gap.
// Run: node scripts/minhash-sign-sbs.mjs [reps]   (needs the bench venv with rensa 0.5.0)
import { mkdtempSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { spamAssassin, syntheticTexts } from '../benches/lib/data.mjs'
import { ensureVenv, PyWorker } from '../benches/lib/python.mjs'
import { collectGarbage, fmt, stats } from '../benches/lib/report.mjs'

const reps = Number(process.argv[2] ?? 3)
const here = await import('../dist/index.mjs')
const base = process.env.SLIMDEX_BASE ? await import(join(process.env.SLIMDEX_BASE, 'dist', 'index.mjs')) : null
const python = ensureVenv(['rensa==0.5.0', 'datasketch==1.6.5'])
const worker = python ? new PyWorker(python, join(import.meta.dirname, '..', 'benches', 'py', 'minhash_peers.py'), { RAYON_NUM_THREADS: '1' }) : null
const dir = mkdtempSync(join(tmpdir(), 'slimdex-sbs-'))
console.log(`load average at start ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)

// Every pass starts from a collected heap (the Python worker collects too), as in benches/minhash.mjs.
const timed = (f) => async () => {
  collectGarbage()
  const c = process.cpuUsage()
  const t = process.hrtime.bigint()
  f()
  const wall = Number(process.hrtime.bigint() - t) / 1e9
  const cpu = process.cpuUsage(c)
  return { wall, cpu: (cpu.user + cpu.system) / 1e6 }
}
const corpora = [
  ['SpamAssassin', await spamAssassin()],
  ['synthetic', syntheticTexts({ n: 100_000, words: 100, seed: 1 })],
]
for (const [name, texts] of corpora) {
  const h = new here.MinHasher({ numPerm: 128, seed: 1 })
  const sets = texts.map((t) => h.shingles(t))
  const packed = here.packTokenSets(sets)
  const n = sets.length
  const contenders = {
    'this: signTokens string[][]': timed(() => h.signTokensSync(sets, { threads: 1 })),
    'this: signTokenOffsets packed': timed(() => h.signTokenOffsetsSync(packed, { threads: 1 })),
  }
  const want = h.signTokensSync(sets)
  if (Buffer.compare(Buffer.from(h.signTokenOffsetsSync(packed).buffer), Buffer.from(want.buffer)) !== 0) throw new Error('packed ≠ string[][]')
  if (base) {
    const b = new base.MinHasher({ numPerm: 128, seed: 1 })
    if (Buffer.compare(Buffer.from(b.signTokensSync(sets).buffer), Buffer.from(want.buffer)) !== 0) throw new Error('base ≠ this')
    contenders['base: signTokens string[][]'] = timed(() => b.signTokensSync(sets, { threads: 1 }))
    contenders['base: signTokenOffsets packed'] = timed(() => b.signTokenOffsetsSync(packed, { threads: 1 }))
  }
  if (worker) {
    const path = join(dir, `${name}.jsonl`)
    writeFileSync(path, sets.map((s) => JSON.stringify(s)).join('\n') + '\n')
    await worker.call({ cmd: 'load', shingles: path })
    await worker.call({ cmd: 'sign', lib: 'rensa', numPerm: 128, seed: 1, limit: 1000 })
    contenders.rensa = async () => {
      const r = await worker.call({ cmd: 'sign', lib: 'rensa', numPerm: 128, seed: 1 })
      return { wall: r.seconds, cpu: r.cpuSeconds }
    }
  }
  for (const f of Object.values(contenders)) await f() // warm-up
  const res = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]))
  for (let r = 0; r < reps; r++) for (const [k, f] of Object.entries(contenders)) res[k].push(await f())
  const ref = res['this: signTokens string[][]']
  console.log(`\n${name}: ${n} docs, ${fmt(sets.reduce((a, s) => a + s.length, 0) / n, 1)} shingles/doc, ${reps} reps alternated`)
  for (const [k, xs] of Object.entries(res)) {
    const w = stats(xs.map((x) => x.wall * 1e6 / n))
    const c = stats(xs.map((x) => x.cpu * 1e6 / n))
    const rw = stats(xs.map((x, i) => x.wall / ref[i].wall))
    const rc = stats(xs.map((x, i) => x.cpu / ref[i].cpu))
    console.log(`${k.padEnd(32)} wall ${fmt(w.median, 2)} µs/doc (${fmt(w.min, 2)}–${fmt(w.max, 2)})  cpu ${fmt(c.median, 2)} µs/doc  | time ÷ this string[][]: wall ${fmt(rw.median)}× (${fmt(rw.min)}–${fmt(rw.max)}), cpu ${fmt(rc.median)}×`)
  }
}
worker?.close()
console.log(`load average at end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
