/**
 * BEIR datasets: `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv` in one folder.
 * @module
 */
import { join } from 'node:path'
import { badInput } from './errors'
import { readJsonl } from './readers'
import { type QrelsMap, readQrels } from './trec'
import { checkPath } from './validate'

/** A corpus document. */
export interface BeirDocument {
  id: string
  /** Empty when the dataset has no titles. */
  title: string
  text: string
}

/** A query. */
export interface BeirQuery {
  id: string
  text: string
}

/** What {@link loadBeir} returns. */
export interface BeirDataset {
  corpus: BeirDocument[]
  queries: BeirQuery[]
  /** Judgments of the split: query id → document id → grade. */
  qrels: QrelsMap
}

/** Options of {@link loadBeir}. */
export interface LoadBeirOptions {
  /** Which `qrels/<split>.tsv` to read (default `'test'`). */
  split?: string
  /** Keep only queries that have judgments in the split (default true). */
  judgedOnly?: boolean
}

async function readRecords(path: string, withTitle: boolean): Promise<Array<{ id: string; title: string; text: string }>> {
  const out: Array<{ id: string; title: string; text: string }> = []
  for await (const { line, value } of readJsonl(path)) {
    const r = value as { _id?: unknown; title?: unknown; text?: unknown }
    if (r === null || typeof r !== 'object' || (typeof r._id !== 'string' && typeof r._id !== 'number')) {
      throw badInput(`${path}:${line}`, 'each record needs an "_id" (string or number)')
    }
    if (typeof r.text !== 'string') throw badInput(`${path}:${line}`, 'each record needs a "text" string')
    if (withTitle && r.title !== undefined && typeof r.title !== 'string') throw badInput(`${path}:${line}`, '"title" must be a string')
    out.push({ id: String(r._id), title: typeof r.title === 'string' ? r.title : '', text: r.text })
  }
  return out
}

/**
 * Loads a BEIR-layout dataset from `dir`, streaming the JSONL files; malformed lines throw
 * `ERR_SLIMDEX_BAD_INPUT` with the file and line number.
 *
 * @example
 * ```ts
 * const { corpus, queries, qrels } = await loadBeir('datasets/msmarco-sample')
 * ```
 */
export async function loadBeir(dir: string, options: LoadBeirOptions = {}): Promise<BeirDataset> {
  checkPath(dir, 'dir')
  const split = options.split ?? 'test'
  const [corpus, allQueries, qrels] = await Promise.all([
    readRecords(join(dir, 'corpus.jsonl'), true),
    readRecords(join(dir, 'queries.jsonl'), false),
    readQrels(join(dir, 'qrels', `${split}.tsv`)),
  ])
  const queries = allQueries.filter((q) => options.judgedOnly === false || qrels.has(q.id)).map(({ id, text }) => ({ id, text }))
  return { corpus, queries, qrels }
}
