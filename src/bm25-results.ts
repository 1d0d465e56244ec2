/**
 * The results of {@link BM25Index.searchColumns}: many queries' hits as flat typed arrays.
 * @module
 */
import type { NativeBm25Columns } from '../binding'
import { callNative, invalidRange, invalidType } from './errors'
import type { Hit } from './types'

/**
 * Hits of a batch of queries as columns: no JavaScript object per hit (creating one costs more
 * than finding it on a small corpus), one typed array per column.
 *
 * Query `q`'s hits are `[offsets[q], offsets[q + 1])` of `docs` and `scores`, best first (ties
 * in insertion order), exactly the hits {@link BM25Index.search} returns for that query.
 * External ids are resolved only when asked for ({@link BM25Results.ids}), against the index
 * as it was searched: a later `add`, `delete` or `compact` does not change them (the results
 * keep that snapshot of the index alive while they are reachable).
 *
 * @example
 * ```ts
 * const r = bm25.searchColumnsSync(queries, { k: 10, threads: 1 })
 * for (let q = 0; q < r.length; q++) {
 *   const ids = r.ids(q)                                   // Float64Array or string[]
 *   const scores = r.scores.subarray(r.offsets[q], r.offsets[q + 1])
 * }
 * ```
 */
export class BM25Results {
  /** `length + 1` offsets into `docs` / `scores`; `offsets[length]` is the total hit count. */
  readonly offsets: Uint32Array
  /**
   * Internal document numbers of the hits: the position in insertion order since the last
   * `build` / `compact` (after one `build`, the index into its `docs` array; deleted documents
   * keep their numbers until `compact`).
   */
  readonly docs: Uint32Array
  /** BM25 scores of the hits (float32: the values `search` returns, losslessly). */
  readonly scores: Float32Array
  readonly #native: NativeBm25Columns

  /** @internal */
  constructor(native: NativeBm25Columns) {
    const a = native.arrays()
    this.#native = native
    this.offsets = a.offsets
    this.docs = a.docs
    this.scores = a.scores
  }

  /** Number of queries. */
  get length(): number {
    return this.offsets.length - 1
  }

  /**
   * External ids of query `q`'s hits, or of every hit (in `docs` order) when `q` is omitted:
   * a `Float64Array` for an index with numeric ids, else a `string[]`.
   */
  ids(q?: number): Float64Array | string[] {
    const [start, end] = q === undefined ? [0, this.docs.length] : this.#range(q)
    return callNative(() => this.#native.ids(start, end))
  }

  /** Query `q`'s hits as `{ id, score }` objects (what {@link BM25Index.search} returns). */
  hits(q: number): Hit[] {
    const [start, end] = this.#range(q)
    const ids = callNative(() => this.#native.ids(start, end))
    const hits: Hit[] = new Array(end - start)
    for (let i = 0; i < hits.length; i++) hits[i] = { id: ids[i], score: this.scores[start + i] }
    return hits
  }

  #range(q: number): [number, number] {
    if (typeof q !== 'number') throw invalidType('query index must be a number')
    if (!Number.isInteger(q) || q < 0 || q >= this.length) throw invalidRange(`query index must be an integer in [0, ${this.length}) (got ${q})`)
    return [this.offsets[q], this.offsets[q + 1]]
  }
}
