import test from 'ava'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { BinaryIndex, MultiVectorIndex, PQIndex, SparseIndex, inspectIndex, toNpy, toVecs } from '../index.ts'
import { rng } from '../benches/lib/data.mjs'
import { runCli } from '../src/cli.ts'

const CLI = join(process.cwd(), 'src', 'cli.ts')
// Resolved from the repository, so that the CLI can run with a temporary directory as cwd.
const TSX = pathToFileURL(join(process.cwd(), 'node_modules', 'tsx', 'dist', 'loader.mjs')).href

function slimdex(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', TSX, CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Runs the CLI in this process, capturing its output. */
async function inProcess(...args: string[]) {
  return inProcessTTY(false, ...args)
}

async function inProcessTTY(stderrIsTTY: boolean, ...args: string[]) {
  let stdout = ''
  let stderr = ''
  const sink = (append: (s: string) => void) => new Writable({ write: (chunk, _enc, done) => (append(String(chunk)), done()) })
  const code = await runCli(args, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), stderrIsTTY })
  return { code, stdout, stderr }
}

/** CRC-32C (Castagnoli), as the container format uses, to relabel a file's kind in a test. */
function crc32c(bytes: Uint8Array): number {
  let c = ~0
  for (const b of bytes) {
    c ^= b
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return ~c >>> 0
}

const DIM = 16
const N = 200
const NQ = 5

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-cli-'))
  const r = rng(42)
  const docs = Float32Array.from({ length: N * DIM }, () => r.normal())
  const queries = Float32Array.from({ length: NQ * DIM }, () => r.normal())
  writeFileSync(join(dir, 'docs.npy'), toNpy(docs, [N, DIM]))
  writeFileSync(join(dir, 'ids.txt'), Array.from({ length: N }, (_, i) => `doc-${i}`).join('\n') + '\n')
  writeFileSync(join(dir, 'queries.fvecs'), toVecs(queries, DIM))
  writeFileSync(join(dir, 'qids.txt'), Array.from({ length: NQ }, (_, i) => `q${i}`).join('\n') + '\n')
  // Qrels: each query's exact top 3 by inner product (grades 3, 2, 1).
  const lines = ['query-id\tcorpus-id\tscore']
  for (let q = 0; q < NQ; q++) {
    const scores = Array.from({ length: N }, (_, i) => {
      let s = 0
      for (let j = 0; j < DIM; j++) s += queries[q * DIM + j] * docs[i * DIM + j]
      return { i, s }
    }).sort((a, b) => b.s - a.s)
    scores.slice(0, 3).forEach(({ i }, g) => lines.push(`q${q}\tdoc-${i}\t${3 - g}`))
  }
  writeFileSync(join(dir, 'qrels.tsv'), lines.join('\n') + '\n')
  return { dir, docs, queries }
}

test('CLI end to end: index → search → eval → info in a temporary directory', (t) => {
  const { dir, docs, queries } = setup()
  const built = slimdex(dir, 'index', '--kind', 'binary', '--input', 'docs.npy', '--ids', 'ids.txt', '--output', 'docs.slmdx', '--rescore', 'float32', '--json')
  t.is(built.code, 0, built.stderr)
  t.is(built.stderr, '') // not a TTY: no progress output
  const b = JSON.parse(built.stdout)
  t.like(b, { kind: 'BinaryIndex', output: 'docs.slmdx', items: N })
  t.is(b.bytes, statSync(join(dir, 'docs.slmdx')).size)

  // search → TREC run file, equal to the library's own answers.
  const searched = slimdex(dir, 'search', '--index', 'docs.slmdx', '--queries', 'queries.fvecs', '--query-ids', 'qids.txt', '-k', '10', '--candidates', String(N), '--output', 'run.trec')
  t.is(searched.code, 0, searched.stderr)
  t.is(searched.stderr, '')
  const index = new BinaryIndex({ dim: DIM, rescore: 'float32' })
  index.addSync(
    Array.from({ length: N }, (_, i) => `doc-${i}`),
    docs,
  )
  const runLines = readFileSync(join(dir, 'run.trec'), 'utf8').trim().split('\n')
  t.is(runLines.length, NQ * 10)
  for (let q = 0; q < NQ; q++) {
    const want = index.search(queries.subarray(q * DIM, (q + 1) * DIM), { k: 10, candidates: N })
    const got = runLines.filter((l) => l.startsWith(`q${q} `)).map((l) => l.split(' '))
    t.deepEqual(
      got.map((c) => c[2]),
      want.map((h) => h.id),
    )
    got.forEach((c, i) => {
      t.is(c[3], String(i + 1))
      t.is(Number(c[4]), want[i].score)
      t.is(c[5], 'slimdex')
    })
  }
  // The same search to stdout, as TREC lines and as JSON.
  const stdoutRun = slimdex(dir, 'search', '--index', 'docs.slmdx', '--queries', 'queries.fvecs', '--query-ids', 'qids.txt', '-k', '10', '--candidates', String(N))
  t.is(stdoutRun.stdout, readFileSync(join(dir, 'run.trec'), 'utf8'))
  const asJson = JSON.parse(slimdex(dir, 'search', '--index', 'docs.slmdx', '--queries', 'queries.fvecs', '-k', '3', '--json').stdout)
  t.is(asJson.k, 3)
  t.deepEqual(Object.keys(asJson.results), ['0', '1', '2', '3', '4'])
  t.is(asJson.results['0'].length, 3)

  // eval: exact search finds every judged document in its ideal order.
  const table = slimdex(dir, 'eval', '--run', 'run.trec', '--qrels', 'qrels.tsv', '--metrics', 'ndcg@10,recall@3,mrr@10')
  t.is(table.code, 0, table.stderr)
  t.is(table.stdout, 'ndcg@10   1.0000\nrecall@3  1.0000\nmrr@10    1.0000\n(5 queries)\n')
  const ev = JSON.parse(slimdex(dir, 'eval', '--run', 'run.trec', '--qrels', 'qrels.tsv', '--json').stdout)
  t.deepEqual(Object.keys(ev.mean), ['ndcg@10', 'recall@100', 'mrr@10', 'map'])
  t.is(ev.queries, NQ)
  t.true(Math.abs(ev.mean['ndcg@10'] - 1) < 1e-12)

  // info: kind, parameters, sections, memory.
  const info = JSON.parse(slimdex(dir, 'info', 'docs.slmdx', '--json').stdout)
  const inspected = inspectIndex(join(dir, 'docs.slmdx'))
  t.like(info, { kind: 'BinaryIndex', items: N, bytes: inspected.bytes, parameters: { dim: DIM, rescore: 'float32' } })
  t.deepEqual(info.sections, inspected.sections)
  t.true(info.memory.total >= N * DIM * 4)
  const text = slimdex(dir, 'info', 'docs.slmdx')
  t.is(text.code, 0)
  t.regex(text.stdout, /docs\.slmdx: BinaryIndex, format v\d+, \d+ bytes/)
  t.regex(text.stdout, /parameters: dim=16, .*rescore=float32/)
})

test('CLI indexes JSONL vectors and reports malformed lines with their line number', (t) => {
  const { dir } = setup()
  writeFileSync(join(dir, 'v.jsonl'), '{"_id":"a","vector":[1,0,0]}\n{"_id":"b","vector":[0,1,0]}\n{"id":"c","vector":[0,0,1]}\n')
  const ok = slimdex(dir, 'index', '--kind', 'binary', '--input', 'v.jsonl', '--output', 'v.slmdx', '--rescore', 'float32')
  t.is(ok.code, 0, ok.stderr)
  t.regex(ok.stdout, /BinaryIndex: 3 items → v\.slmdx/)
  writeFileSync(join(dir, 'q.jsonl'), '{"_id":"qc","vector":[0,0,2]}\n')
  const hit = slimdex(dir, 'search', '--index', 'v.slmdx', '--queries', 'q.jsonl', '-k', '1')
  t.is(hit.stdout, 'qc Q0 c 1 2 slimdex\n')
  writeFileSync(join(dir, 'bad.jsonl'), '{"_id":"a","vector":[1,0]}\n\n{"_id":"b","vector":[1,\n')
  const bad = slimdex(dir, 'index', '--kind', 'binary', '--input', 'bad.jsonl', '--output', 'x.slmdx')
  t.is(bad.code, 1)
  t.regex(bad.stderr, /bad\.jsonl:3: invalid JSON/)
  writeFileSync(join(dir, 'ragged.jsonl'), '{"_id":"a","vector":[1,0]}\n{"_id":"b","vector":[1,0,3]}\n')
  const ragged = slimdex(dir, 'index', '--kind', 'binary', '--input', 'ragged.jsonl', '--output', 'x.slmdx')
  t.is(ragged.code, 1)
  t.regex(ragged.stderr, /ragged\.jsonl:2: "vector" has 3 values, earlier lines had 2/)
})

test('CLI errors: bad paths, wrong index kinds, bad usage — clear messages and non-zero exits', async (t) => {
  const { dir } = setup()
  t.is(slimdex(dir, 'index', '--kind', 'binary', '--input', 'docs.npy', '--output', 'docs.slmdx').code, 0)

  const missing = slimdex(dir, 'index', '--kind', 'binary', '--input', 'nope.npy', '--output', 'x.slmdx')
  t.is(missing.code, 1)
  t.regex(missing.stderr, /nope\.npy: no such file or directory/)
  const missingIndex = slimdex(dir, 'search', '--index', 'gone.slmdx', '--queries', 'queries.fvecs')
  t.is(missingIndex.code, 1)
  t.regex(missingIndex.stderr, /gone\.slmdx/)
  t.is(slimdex(dir, 'info', 'gone.slmdx').code, 1)

  // A file that is not an index at all.
  const notIndex = slimdex(dir, 'search', '--index', 'qrels.tsv', '--queries', 'queries.fvecs')
  t.is(notIndex.code, 1)
  t.regex(notIndex.stderr, /qrels\.tsv: .*ERR_SLIMDEX_CORRUPT_FILE/)
  // A valid container of a kind this CLI cannot search: relabel the binary index as kind 5 (MinHashLSH).
  const bytes = readFileSync(join(dir, 'docs.slmdx'))
  bytes.writeUInt16LE(5, 8) // kind 5: MinHashLSH, which has no query vectors to search with
  const sections = bytes.readUInt32LE(12)
  const header = Buffer.concat([bytes.subarray(0, 24), bytes.subarray(28, 32 + 32 * sections)])
  bytes.writeUInt32LE(crc32c(header), 24)
  writeFileSync(join(dir, 'other.slmdx'), bytes)
  const otherKind = inspectIndex(join(dir, 'other.slmdx')).kind
  t.not(otherKind, 'BinaryIndex')
  const wrongKind = slimdex(dir, 'search', '--index', 'other.slmdx', '--queries', 'queries.fvecs')
  t.is(wrongKind.code, 1)
  t.regex(wrongKind.stderr, new RegExp(`other\\.slmdx: a ${otherKind} file; this version of the CLI cannot search it yet`))
  t.is(JSON.parse(slimdex(dir, 'info', 'other.slmdx', '--json').stdout).kind, otherKind)

  // Queries of the wrong dimension.
  writeFileSync(join(dir, 'q8.fvecs'), toVecs(new Float32Array(8), 8))
  const dims = slimdex(dir, 'search', '--index', 'docs.slmdx', '--queries', 'q8.fvecs')
  t.is(dims.code, 1)
  t.regex(dims.stderr, /q8\.fvecs: queries have dimension 8 but docs\.slmdx \(BinaryIndex\) has dim 16/)
  // A malformed run file and qrels file.
  writeFileSync(join(dir, 'bad.trec'), 'q0 Q0 d 1 0.5 t\nq0 Q0 e 2\n')
  const badRun = slimdex(dir, 'eval', '--run', 'bad.trec', '--qrels', 'qrels.tsv')
  t.is(badRun.code, 1)
  t.regex(badRun.stderr, /bad\.trec:2: expected 6 columns/)

  // Usage errors exit 2 (run in-process: same code path, no process start-up per case).
  const usage: string[][] = [
    ['frobnicate'],
    ['index', '--kind', 'multivector', '--input', 'docs.npy', '--output', 'x'],
    ['index', '--kind', 'pq', '--input', 'docs.npy', '--output', 'x'],
    ['index', '--kind', 'pq', '--input', 'docs.npy', '--output', 'x', '--m', '4', '--nbits', '6'],
    ['index', '--kind', 'bm25', '--input', 'docs.npy', '--output', 'x', '--method', 'tfidf'],
    ['index', '--kind', 'nope', '--input', 'docs.npy', '--output', 'x'],
    ['index', '--input', 'docs.npy', '--output', 'x'],
    ['index', '--kind', 'binary', '--input', 'docs.npy', '--output', 'x', '--rescore', 'int4'],
    ['search', '--index', 'docs.slmdx', '--queries', 'queries.fvecs', '-k', '0'],
    ['search', '--index', 'docs.slmdx', '--queries', 'queries.fvecs', '--bogus'],
    ['eval', '--run', 'x', '--qrels', 'y', '--metrics', 'ndcg@0'],
    ['dedup'],
    ['dedup', '--input', 'a.jsonl', '--mode', 'exact'],
    [],
  ]
  for (const args of usage) {
    const r = await inProcess(...args)
    t.is(r.code, 2, `slimdex ${args.join(' ')}: ${r.stderr}`)
  }
  t.regex((await inProcess('index', '--kind', 'multivector', '--input', join(dir, 'docs.npy'), '--output', 'b')).stderr, /docs\.npy: a token matrix needs --offsets <file>/)
  t.regex((await inProcess('frobnicate')).stderr, /unknown command "frobnicate"/)
  t.regex((await inProcess('search', '--index', 'docs.slmdx', '--queries', 'queries.fvecs', '-k', '0')).stderr, /-k must be a positive integer/)
  t.regex((await inProcess('eval', '--run', 'x', '--qrels', 'y', '--metrics', 'ndcg@0')).stderr, /unknown metric "ndcg@0"/)
  const noRun = await inProcess('eval', '--run', join(dir, 'x'), '--qrels', 'y')
  t.is(noRun.code, 1)
  t.regex(noRun.stderr, /x: no such file/)
  const help = slimdex(dir, '--help')
  t.is(help.code, 0)
  t.regex(help.stdout, /Usage: slimdex <command>/)
})

test('CLI end to end for text: bm25 index → search → eval → info, and dedup of JSONL with clear errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-cli-text-'))
  const docs = [
    { _id: 'd1', title: 'Concrete', text: 'cost of interior concrete flooring per square foot' },
    { _id: 'd2', text: 'ventricular hypertrophy causes and symptoms' },
    { _id: 'd3', text: 'military suicide causes and prevention programs' },
    { _id: 'd4', text: 'cost of interior concrete flooring per square foot installed' },
  ]
  writeFileSync(join(dir, 'corpus.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n') + '\n')
  writeFileSync(join(dir, 'queries.jsonl'), JSON.stringify({ _id: 'q1', text: 'concrete flooring cost' }) + '\n' + JSON.stringify({ _id: 'q2', text: 'causes of military suicide' }) + '\n')
  writeFileSync(join(dir, 'qrels.tsv'), 'q1\td1\t2\nq1\td4\t1\nq2\td3\t1\n')
  const built = await inProcess('index', '--kind', 'bm25', '--input', join(dir, 'corpus.jsonl'), '--output', join(dir, 'bm25.slmdx'), '--json')
  t.is(built.code, 0, built.stderr)
  t.is(JSON.parse(built.stdout).items, 4)
  const searched = await inProcess('search', '--index', join(dir, 'bm25.slmdx'), '--queries', join(dir, 'queries.jsonl'), '-k', '2', '--output', join(dir, 'run.trec'))
  t.is(searched.code, 0, searched.stderr)
  const run = readFileSync(join(dir, 'run.trec'), 'utf8').trim().split('\n')
  t.regex(run[0], /^q1 Q0 d1 1 /)
  t.regex(run[2], /^q2 Q0 d3 1 /)
  const evaluated = await inProcess('eval', '--run', join(dir, 'run.trec'), '--qrels', join(dir, 'qrels.tsv'), '--metrics', 'ndcg@10', '--json')
  t.is(evaluated.code, 0, evaluated.stderr)
  t.is(JSON.parse(evaluated.stdout).mean['ndcg@10'], 1)
  const info = await inProcess('info', join(dir, 'bm25.slmdx'))
  t.regex(info.stdout, /BM25Index/)

  const mails = ['the same long message about a meeting on friday at noon in the big room', 'a different note on lunch plans', 'the same long message about a meeting on friday at noon in the big room']
  writeFileSync(join(dir, 'mails.jsonl'), mails.map((text, i) => JSON.stringify({ id: `m${i}`, text })).join('\n') + '\n')
  const deduped = await inProcess('dedup', '--input', join(dir, 'mails.jsonl'), '--output', join(dir, 'clusters.jsonl'), '--json')
  t.is(deduped.code, 0, deduped.stderr)
  t.is(JSON.parse(deduped.stdout).duplicates, 1)
  t.deepEqual(readFileSync(join(dir, 'clusters.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)), [
    { id: 'm0', cluster: 'm0', duplicate: false },
    { id: 'm1', cluster: 'm1', duplicate: false },
    { id: 'm2', cluster: 'm0', duplicate: true },
  ])
  writeFileSync(join(dir, 'bad.jsonl'), '{"id": "a", "text": "fine"}\n{"id": "b", "body": "no text"}\n')
  const bad = await inProcess('dedup', '--input', join(dir, 'bad.jsonl'))
  t.is(bad.code, 1)
  t.regex(bad.stderr, /bad\.jsonl:2: each record needs a string "text" field/)
  const missing = await inProcess('index', '--kind', 'bm25', '--input', join(dir, 'nope.jsonl'), '--output', join(dir, 'x.slmdx'))
  t.is(missing.code, 1)
  t.regex(missing.stderr, /nope\.jsonl/)
})

test('CLI bench forwards to benches/run.mjs and its exit code', (t) => {
  const r = slimdex(process.cwd(), 'bench', 'no-such-suite')
  t.is(r.code, 2)
  t.regex(r.stderr, /unknown suite "no-such-suite"/)
})

test('CLI progress goes to stderr only on a TTY and never with --quiet or --json', async (t) => {
  const { dir } = setup()
  const args = ['index', '--kind', 'binary', '--input', join(dir, 'docs.npy'), '--output', join(dir, 'p.slmdx')]
  const tty = await inProcessTTY(true, ...args)
  t.is(tty.code, 0, tty.stderr)
  t.regex(tty.stderr, /indexing \[#+\] 100% \(200\/200\)\n$/)
  t.regex(tty.stdout, /BinaryIndex: 200 items/)
  const quiet = await inProcessTTY(true, ...args, '--quiet')
  t.deepEqual([quiet.code, quiet.stderr, quiet.stdout], [0, '', ''])
  const json = await inProcessTTY(true, ...args, '--json')
  t.is(json.stderr, '')
  t.is(JSON.parse(json.stdout).items, 200)
  const plain = await inProcessTTY(false, ...args)
  t.is(plain.stderr, '')
})

test('CLI sparse: JSONL term weights → index → search equals SparseIndex.search; bad lines name file:line', async (t) => {
  const { dir } = setup()
  const r = rng(5)
  const docs = Array.from({ length: 120 }, (_, i) => {
    const terms: Record<string, number> = {}
    for (let j = 0; j < 1 + r.below(6); j++) terms[`w${r.below(30)}`] = 1 + r.below(4)
    return { _id: `d${i}`, terms }
  })
  const queries = Array.from({ length: 4 }, (_, i) => ({ _id: `q${i}`, terms: { [`w${r.below(30)}`]: 1, [`w${r.below(30)}`]: 0.5 } }))
  writeFileSync(join(dir, 'sparse.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n') + '\n')
  writeFileSync(join(dir, 'squeries.jsonl'), queries.map((q) => JSON.stringify(q)).join('\n') + '\n')
  const built = await inProcess('index', '--kind', 'sparse', '--input', join(dir, 'sparse.jsonl'), '--output', join(dir, 's.slmdx'), '--json')
  t.is(built.code, 0, built.stderr)
  t.like(JSON.parse(built.stdout), { kind: 'SparseIndex', items: 120 })
  const res = await inProcess('search', '--index', join(dir, 's.slmdx'), '--queries', join(dir, 'squeries.jsonl'), '-k', '5', '--json')
  t.is(res.code, 0, res.stderr)
  const index = SparseIndex.buildSync(docs.map((d) => ({ id: d._id, terms: d.terms })))
  const got = JSON.parse(res.stdout).results
  for (const q of queries) t.deepEqual(got[q._id], index.search({ terms: q.terms }, { k: 5 }))
  const info = JSON.parse((await inProcess('info', join(dir, 's.slmdx'), '--json')).stdout)
  t.like(info, { kind: 'SparseIndex', items: 120 })
  writeFileSync(join(dir, 'bad.jsonl'), '{"_id":"a","terms":{"x":1}}\n{"_id":"b","terms":{"x":"heavy"}}\n')
  const bad = await inProcess('index', '--kind', 'sparse', '--input', join(dir, 'bad.jsonl'), '--output', join(dir, 'b.slmdx'))
  t.is(bad.code, 1)
  t.regex(bad.stderr, /bad\.jsonl:2: "terms" must be an object of term → finite weight/)
})

test('CLI pq: vectors → PQIndex → search equals PQIndex.search; info shows its parameters', async (t) => {
  const { dir, docs, queries } = setup()
  const built = await inProcess('index', '--kind', 'pq', '--input', join(dir, 'docs.npy'), '--output', join(dir, 'pq.slmdx'), '--m', '4', '--nbits', '4', '--metric', 'ip', '--json')
  t.is(built.code, 0, built.stderr)
  t.like(JSON.parse(built.stdout), { kind: 'PQIndex', items: N })
  writeFileSync(join(dir, 'q.npy'), toNpy(queries, [NQ, DIM]))
  const res = await inProcess('search', '--index', join(dir, 'pq.slmdx'), '--queries', join(dir, 'q.npy'), '-k', '5', '--candidates', '40', '--json')
  t.is(res.code, 0, res.stderr)
  const index = PQIndex.trainSync(docs, { dim: DIM, m: 4, nbits: 4, metric: 'ip' })
  index.addSync(undefined, docs)
  const got = JSON.parse(res.stdout).results
  for (let q = 0; q < NQ; q++) t.deepEqual(got[String(q)], index.search(queries.subarray(q * DIM, (q + 1) * DIM), { k: 5, candidates: 40 }))
  const info = JSON.parse((await inProcess('info', join(dir, 'pq.slmdx'), '--json')).stdout)
  t.like(info, { kind: 'PQIndex', items: N, parameters: { dim: DIM, m: 4, nbits: 4, metric: 'ip' } })
})

test('CLI multivector: JSONL token sets and .npy + offsets → MultiVectorIndex → search equals the library; info; bad inputs exit non-zero', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-cli-mv-'))
  const r = rng(9)
  const dim = 8
  const n = 60
  const lengths = Array.from({ length: n }, () => 1 + r.below(6))
  const total = lengths.reduce((a, b) => a + b, 0)
  const tokens = Float32Array.from({ length: total * dim }, () => r.normal())
  const offsets = [0]
  for (const l of lengths) offsets.push(offsets[offsets.length - 1] + l)
  const docTokens = (i: number) => Array.from({ length: lengths[i] }, (_, j) => Array.from(tokens.subarray((offsets[i] + j) * dim, (offsets[i] + j + 1) * dim)))
  // JSON keeps float32 values exactly (shortest round-trip decimal), so both inputs are the same tokens.
  writeFileSync(join(dir, 'docs.jsonl'), Array.from({ length: n }, (_, i) => JSON.stringify({ _id: `doc-${i}`, tokens: docTokens(i) })).join('\n') + '\n')
  writeFileSync(join(dir, 'tokens.npy'), toNpy(tokens, [total, dim]))
  writeFileSync(join(dir, 'offsets.txt'), offsets.join('\n') + '\n')
  writeFileSync(join(dir, 'ids.txt'), Array.from({ length: n }, (_, i) => `doc-${i}`).join('\n') + '\n')
  const nq = 4
  const qLengths = [2, 3, 1, 4]
  const qTokens = Float32Array.from({ length: 10 * dim }, () => r.normal())
  const qOffsets = [0, 2, 5, 6, 10]
  const queryTokens = (q: number) => qTokens.subarray(qOffsets[q] * dim, qOffsets[q + 1] * dim)
  writeFileSync(
    join(dir, 'queries.jsonl'),
    qLengths.map((_, q) => JSON.stringify({ _id: `q${q}`, tokens: Array.from({ length: qLengths[q] }, (_, j) => Array.from(qTokens.subarray((qOffsets[q] + j) * dim, (qOffsets[q] + j + 1) * dim))) })).join('\n') + '\n',
  )
  writeFileSync(join(dir, 'q.npy'), toNpy(qTokens, [10, dim]))
  writeFileSync(join(dir, 'qoffsets.txt'), qOffsets.join('\n') + '\n')

  const fdeFlags = ['--repetitions', '4', '--simhash-bits', '3', '--projection-dim', '4', '--seed', '7', '--storage', 'f32', '--fde-storage', 'f32']
  const fromJsonl = slimdex(dir, 'index', '--kind', 'multivector', '--input', 'docs.jsonl', '--output', 'mv.slmdx', ...fdeFlags, '--json')
  t.is(fromJsonl.code, 0, fromJsonl.stderr)
  t.is(fromJsonl.stderr, '')
  t.like(JSON.parse(fromJsonl.stdout), { kind: 'MultiVectorIndex', output: 'mv.slmdx', items: n })
  const fromNpy = await inProcess('index', '--kind', 'multivector', '--input', join(dir, 'tokens.npy'), '--offsets', join(dir, 'offsets.txt'), '--ids', join(dir, 'ids.txt'), '--output', join(dir, 'mv2.slmdx'), ...fdeFlags)
  t.is(fromNpy.code, 0, fromNpy.stderr)
  t.regex(fromNpy.stdout, /MultiVectorIndex: 60 items → .*mv2\.slmdx/)
  // Same tokens, ids and options: the same file, byte for byte.
  t.deepEqual(readFileSync(join(dir, 'mv2.slmdx')), readFileSync(join(dir, 'mv.slmdx')))
  // Offsets as an int64 .npy (what np.cumsum writes) give the same index too.
  writeFileSync(join(dir, 'offsets.npy'), int64Npy(offsets))
  const fromNpyOffsets = await inProcess('index', '--kind', 'multivector', '--input', join(dir, 'tokens.npy'), '--offsets', join(dir, 'offsets.npy'), '--ids', join(dir, 'ids.txt'), '--output', join(dir, 'mv3.slmdx'), ...fdeFlags)
  t.is(fromNpyOffsets.code, 0, fromNpyOffsets.stderr)
  t.deepEqual(readFileSync(join(dir, 'mv3.slmdx')), readFileSync(join(dir, 'mv.slmdx')))

  // The library, built the same way, gives the answers the CLI prints.
  const index = new MultiVectorIndex({ dim, fde: { repetitions: 4, simhashBits: 3, projectionDim: 4, seed: 7 }, storage: 'f32', fdeStorage: 'f32' })
  index.addSync(
    Array.from({ length: n }, (_, i) => `doc-${i}`),
    tokens,
    Uint32Array.from(offsets),
  )
  for (const candidates of [10, n]) {
    const res = slimdex(dir, 'search', '--index', 'mv.slmdx', '--queries', 'queries.jsonl', '-k', '5', '--candidates', String(candidates), '--json')
    t.is(res.code, 0, res.stderr)
    const got = JSON.parse(res.stdout).results
    for (let q = 0; q < nq; q++) t.deepEqual(got[`q${q}`], index.search(queryTokens(q), { k: 5, candidates }))
  }
  // .npy queries with offsets → a TREC run; brute force ranks by exact Chamfer.
  const run = await inProcess('search', '--index', join(dir, 'mv.slmdx'), '--queries', join(dir, 'q.npy'), '--query-offsets', join(dir, 'qoffsets.txt'), '-k', '3', '--mode', 'bruteforce')
  t.is(run.code, 0, run.stderr)
  const lines = run.stdout.trim().split('\n').map((l) => l.split(' '))
  t.is(lines.length, nq * 3)
  for (let q = 0; q < nq; q++) {
    const want = index.search(queryTokens(q), { k: 3, mode: 'bruteforce' })
    t.deepEqual(
      lines.filter((c) => c[0] === String(q)).map((c) => [c[2], Number(c[4])]),
      want.map((h) => [h.id, h.score]),
    )
  }

  const info = JSON.parse((await inProcess('info', join(dir, 'mv.slmdx'), '--json')).stdout)
  t.like(info, {
    kind: 'MultiVectorIndex',
    items: n,
    parameters: { dim, tokens: total, repetitions: 4, simhashBits: 3, projectionDim: 4, seed: 7, storage: 'f32', fdeStorage: 'f32', fdeDim: 4 * 8 * 4 },
  })
  t.true(info.memory.components.tokens >= total * dim * 4)
  t.regex((await inProcess('info', join(dir, 'mv.slmdx'))).stdout, /MultiVectorIndex, format v\d+[\s\S]*parameters: .*repetitions=4/)

  // PQ-compressed FDEs: with candidates = n every document is re-ranked by exact Chamfer,
  // so the CLI's answers equal the exact library ranking; info reports the PQ options.
  const pqFlags = [...fdeFlags.slice(0, -1), 'pq', '--m', '8', '--nbits', '4']
  const pqBuilt = await inProcess('index', '--kind', 'multivector', '--input', join(dir, 'docs.jsonl'), '--output', join(dir, 'mvpq.slmdx'), ...pqFlags)
  t.is(pqBuilt.code, 0, pqBuilt.stderr)
  const pqRes = slimdex(dir, 'search', '--index', 'mvpq.slmdx', '--queries', 'queries.jsonl', '-k', '5', '--candidates', String(n), '--json')
  t.is(pqRes.code, 0, pqRes.stderr)
  for (let q = 0; q < nq; q++) t.deepEqual(JSON.parse(pqRes.stdout).results[`q${q}`], index.search(queryTokens(q), { k: 5, mode: 'bruteforce' }))
  t.like(JSON.parse((await inProcess('info', join(dir, 'mvpq.slmdx'), '--json')).stdout), { parameters: { fdeStorage: 'pq', pq: { m: 8, nbits: 4 } } })

  // Bad inputs: the message names the file (and line); data errors exit 1, usage errors 2.
  const cases: Array<[string[], number, RegExp]> = []
  cases.push([['--input', 'docs.jsonl', '--m', '8'], 2, /--m applies to --kind pq, or to --kind multivector with --fde-storage pq/])
  cases.push([['--input', 'docs.jsonl', '--fde-storage', 'pq', '--nbits', '6'], 2, /--nbits must be 4 or 8/])
  // 8-bit codebooks need 256 training documents; 60 is a data error, not a crash.
  cases.push([['--input', 'docs.jsonl', '--fde-storage', 'pq'], 1, /256/])
  writeFileSync(join(dir, 'bad.jsonl'), `${JSON.stringify({ _id: 'a', tokens: [[1, 2]] })}\n${JSON.stringify({ _id: 'b', tokens: [[1, 2], [3]] })}\n`)
  cases.push([['--input', 'bad.jsonl'], 1, /bad\.jsonl:2: "tokens"\[1\] has 1 values, earlier tokens had 2/])
  writeFileSync(join(dir, 'empty.jsonl'), `${JSON.stringify({ _id: 'a', tokens: [] })}\n`)
  cases.push([['--input', 'empty.jsonl'], 1, /empty\.jsonl:1: "tokens" must be a non-empty array of token vectors/])
  writeFileSync(join(dir, 'broken.jsonl'), `${JSON.stringify({ _id: 'a', tokens: [[1, 2]] })}\n{"_id": "b", "tokens": [[1,\n`)
  cases.push([['--input', 'broken.jsonl'], 1, /broken\.jsonl:2: invalid JSON/])
  writeFileSync(join(dir, 'short.txt'), offsets.slice(0, -1).join('\n') + '\n')
  cases.push([['--input', 'tokens.npy', '--offsets', 'short.txt'], 1, new RegExp(`short\\.txt: the last offset is ${offsets[n - 1]} but the token file has ${total} tokens`)])
  writeFileSync(join(dir, 'down.txt'), '0\n3\n2\n')
  cases.push([['--input', 'tokens.npy', '--offsets', 'down.txt'], 1, /down\.txt:3: offsets must not decrease \(2 after 3\)/])
  writeFileSync(join(dir, 'word.txt'), '0\nfive\n')
  cases.push([['--input', 'tokens.npy', '--offsets', 'word.txt'], 1, /word\.txt:2: expected a token offset/])
  cases.push([['--input', 'tokens.npy', '--offsets', 'nope.txt'], 1, /nope\.txt: no such file or directory/])
  writeFileSync(join(dir, 'negative.npy'), int64Npy([0, 2, -1, 4]))
  cases.push([['--input', 'tokens.npy', '--offsets', 'negative.npy'], 1, /negative\.npy: value -1 at index 2 is outside \[0, 2\^32 − 1\]/])
  writeFileSync(join(dir, 'down.npy'), int64Npy([0, 3, 2]))
  cases.push([['--input', 'tokens.npy', '--offsets', 'down.npy'], 1, /down\.npy: offsets must not decrease \(2 after 3\) \(offset 2\)/])
  writeFileSync(join(dir, 'float-offsets.npy'), toNpy(Float32Array.from(offsets), [offsets.length]))
  cases.push([['--input', 'tokens.npy', '--offsets', 'float-offsets.npy'], 1, /float-offsets\.npy: dtype <f4 is not supported here/])
  cases.push([['--input', 'tokens.npy'], 2, /tokens\.npy: a token matrix needs --offsets <file>/])
  cases.push([['--input', 'docs.jsonl', '--projection', 'gaussian'], 2, /--projection must be one of countsketch, identity, dense/])
  cases.push([['--input', 'docs.jsonl', '--repetitions', '0'], 2, /--repetitions must be a positive integer/])
  cases.push([['--input', 'docs.jsonl', '--simhash-bits', '31'], 2, /MultiVectorIndex options: fde\.simhashBits: Too big/])
  // In process (the same code path as the binary, without a process start per case).
  const inDir = (args: string[]) => args.map((a, i) => (i > 0 && args[i - 1].startsWith('--') && /\.(jsonl|npy|txt)$/.test(a) ? join(dir, a) : a))
  for (const [args, code, message] of cases) {
    const res = await inProcess('index', '--kind', 'multivector', '--output', join(dir, 'x.slmdx'), ...inDir(args))
    t.is(res.code, code, `${args.join(' ')}: ${res.stderr}`)
    t.regex(res.stderr, message)
  }
  const wrongKind = await inProcess('index', '--kind', 'binary', '--input', join(dir, 'tokens.npy'), '--output', join(dir, 'x.slmdx'), '--offsets', join(dir, 'offsets.txt'))
  t.is(wrongKind.code, 2)
  t.regex(wrongKind.stderr, /--offsets applies to --kind multivector only/)
  // Query tokens of another dimension, and vector queries for a token index.
  writeFileSync(join(dir, 'q3.jsonl'), `${JSON.stringify({ _id: 'q', tokens: [[1, 2, 3]] })}\n`)
  const dims = await inProcess('search', '--index', join(dir, 'mv.slmdx'), '--queries', join(dir, 'q3.jsonl'))
  t.is(dims.code, 1)
  t.regex(dims.stderr, /q3\.jsonl: query tokens have dimension 3 but .*mv\.slmdx \(MultiVectorIndex\) has dim 8/)
  const noOffsets = await inProcess('search', '--index', join(dir, 'mv.slmdx'), '--queries', join(dir, 'q.npy'))
  t.is(noOffsets.code, 2)
  t.regex(noOffsets.stderr, /q\.npy: a token matrix needs --query-offsets <file>/)
  const badMode = await inProcess('search', '--index', join(dir, 'mv.slmdx'), '--queries', join(dir, 'queries.jsonl'), '--mode', 'exact')
  t.is(badMode.code, 2)
  // Multi-vector search options on another kind of index are usage errors.
  t.is((await inProcess('index', '--kind', 'sparse', '--input', join(dir, 'sp.jsonl'), '--output', join(dir, 'sp.slmdx'))).code, 1)
  writeFileSync(join(dir, 'sp.jsonl'), `${JSON.stringify({ _id: 'a', terms: { x: 1 } })}\n`)
  t.is((await inProcess('index', '--kind', 'sparse', '--input', join(dir, 'sp.jsonl'), '--output', join(dir, 'sp.slmdx'))).code, 0)
  const modeOnSparse = await inProcess('search', '--index', join(dir, 'sp.slmdx'), '--queries', join(dir, 'sp.jsonl'), '--mode', 'bruteforce')
  t.is(modeOnSparse.code, 2)
  t.regex(modeOnSparse.stderr, /--mode applies to multivector indexes only \(.*sp\.slmdx is a SparseIndex\)/)
})

/** A 1-D little-endian int64 `.npy` (format 1.0), as NumPy writes `np.cumsum` output. */
function int64Npy(values: readonly number[]): Buffer {
  let header = `{'descr': '<i8', 'fortran_order': False, 'shape': (${values.length},), }`
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n'
  const out = Buffer.alloc(10 + header.length + values.length * 8)
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(out)
  out.writeUInt16LE(header.length, 8)
  out.write(header, 10, 'latin1')
  values.forEach((v, i) => out.writeBigInt64LE(BigInt(v), 10 + header.length + i * 8))
  return out
}
