/**
 * Relevance judgments (BEIR TSV or TREC qrels) and TREC run files.
 * @module
 */
import { createReadStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { badInput, invalidType } from './errors'
import type { Run } from './eval'
import type { Hit } from './types'
import { checkPath } from './validate'

/** Judgments as {@link evaluate} takes them: query id → document id → grade. */
export type QrelsMap = Map<string, Map<string, number>>

async function* lines(path: string): AsyncGenerator<[number, string]> {
  checkPath(path)
  const input = createReadStream(path, { encoding: 'utf8' })
  const rl = createInterface({ input, crlfDelay: Infinity })
  let n = 0
  try {
    for await (const text of rl) {
      n++
      if (text.trim() !== '') yield [n, text]
    }
  } finally {
    rl.close()
    input.destroy()
  }
}

/**
 * Reads judgments: BEIR's `query-id<TAB>corpus-id<TAB>score` (with or without the header line)
 * or TREC's `query-id 0 doc-id grade`. Grades must be integers.
 */
export async function readQrels(path: string): Promise<QrelsMap> {
  const qrels: QrelsMap = new Map()
  for await (const [line, text] of lines(path)) {
    const f = text.trim().split(/\s+/)
    if (line === 1 && /^(query[-_]?id|qid)$/i.test(f[0])) continue
    let q: string, d: string, g: string
    if (f.length === 3) [q, d, g] = f
    else if (f.length === 4) [q, , d, g] = f
    else throw badInput(`${path}:${line}`, `expected 3 (BEIR) or 4 (TREC) fields, got ${f.length}`)
    const grade = Number(g)
    if (!Number.isInteger(grade)) throw badInput(`${path}:${line}`, `grade ${JSON.stringify(g)} is not an integer`)
    let docs = qrels.get(q)
    if (docs === undefined) qrels.set(q, (docs = new Map()))
    docs.set(d, grade)
  }
  return qrels
}

/** Reads a TREC run file (`qid Q0 docid rank score tag`); ranks are ignored, scores rank. */
export async function readRun(path: string): Promise<Map<string, Hit[]>> {
  const run = new Map<string, Hit[]>()
  for await (const [line, text] of lines(path)) {
    const f = text.trim().split(/\s+/)
    if (f.length !== 6) throw badInput(`${path}:${line}`, `expected 6 fields (qid Q0 docid rank score tag), got ${f.length}`)
    const score = Number(f[4])
    if (!Number.isFinite(score)) throw badInput(`${path}:${line}`, `score ${JSON.stringify(f[4])} is not a number`)
    let hits = run.get(f[0])
    if (hits === undefined) run.set(f[0], (hits = []))
    hits.push({ id: f[2], score })
  }
  return run
}

/**
 * Writes a run in TREC format, each query's hits best first (ranks from 1). `tag` names the
 * system (default `slimdex`). Ids must not contain white space.
 */
export async function writeRun(path: string, run: Run, tag = 'slimdex'): Promise<void> {
  checkPath(path)
  if (/\s/.test(tag) || tag === '') throw invalidType('tag must be a non-empty string without white space')
  const out: string[] = []
  const queries = run instanceof Map ? [...run.entries()] : Object.entries(run)
  for (const [q, hits] of queries) {
    const ranked = [...hits].sort((a, b) => b.score - a.score)
    ranked.forEach((h, i) => {
      const id = String(h.id)
      if (/\s/.test(id) || /\s/.test(q)) throw invalidType(`ids in a TREC run cannot contain white space (query ${JSON.stringify(q)}, document ${JSON.stringify(id)})`)
      out.push(`${q} Q0 ${id} ${i + 1} ${h.score} ${tag}`)
    })
  }
  await writeFile(path, out.length ? out.join('\n') + '\n' : '')
}
