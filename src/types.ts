/**
 * Types shared by every index.
 * @module
 */
import type { Id } from './validate'

export type { Id, VectorInput, VectorsInput } from './validate'

/** One search result. Results are sorted by `score` descending; ties by insertion order. */
export interface Hit {
  /** The id given to `add`. */
  id: Id
  /** Larger is better; the meaning depends on the index (inner product, cosine, BM25, …). */
  score: number
}

/** What an index holds in memory, in bytes. */
export interface MemoryUsage {
  /** Sum of all components, in bytes. */
  total: number
  /** Bytes per component (e.g. `codes`, `ids`, `float32`). */
  components: Record<string, number>
}

/** Options of every asynchronous call. */
export interface AsyncOptions {
  /** Cancels the call if it has not started yet (work already running completes). */
  signal?: AbortSignal
}

/** Converts the native `{ name, bytes }[]` report. */
export function toMemoryUsage(parts: ReadonlyArray<{ name: string; bytes: number }>): MemoryUsage {
  const components: Record<string, number> = {}
  let total = 0
  for (const p of parts) {
    components[p.name] = p.bytes
    total += p.bytes
  }
  return { total, components }
}

/** A batch of results as native columns; query q owns `[offsets[q], offsets[q + 1])`. */
export interface NativeHitBatch {
  ids: Float64Array | string[]
  scores: Float64Array
  offsets: Uint32Array
}

function toHits(out: NativeHitBatch, start: number, end: number): Hit[] {
  const hits: Hit[] = new Array(end - start)
  for (let i = start; i < end; i++) hits[i - start] = { id: out.ids[i], score: out.scores[i] }
  return hits
}

/** Splits a native batch into one `Hit[]` per query. */
export function toHitBatches(out: NativeHitBatch): Hit[][] {
  const result: Hit[][] = new Array(out.offsets.length - 1)
  for (let q = 0; q + 1 < out.offsets.length; q++) result[q] = toHits(out, out.offsets[q], out.offsets[q + 1])
  return result
}

/**
 * One result buffer for a native single-query search that writes ids into its first half and
 * scores into its second, and returns the hit count (or the string ids). When the hits do not
 * fit, the native side writes nothing and returns their count: {@link HalvesBuffer.search}
 * grows the buffer and asks again (once a buffer is large enough it stays so). No `size`
 * lookup per query, one typed array crossing. @internal
 */
export class HalvesBuffer {
  #buffer = new Float64Array(64)

  /** Runs `native(buffer)` until its hits fit, then zips them into `{ id, score }` objects. */
  search(native: (buffer: Float64Array) => number | string[]): Hit[] {
    let result = native(this.#buffer)
    while (typeof result === 'number' && result > this.#buffer.length >> 1) {
      this.#buffer = new Float64Array(2 * Math.max(result, this.#buffer.length))
      result = native(this.#buffer)
    }
    const buffer = this.#buffer
    const scoresAt = buffer.length >> 1
    if (typeof result === 'number') {
      const hits: Hit[] = new Array(result)
      for (let i = 0; i < result; i++) hits[i] = { id: buffer[i], score: buffer[scoresAt + i] }
      return hits
    }
    const hits: Hit[] = new Array(result.length)
    for (let i = 0; i < result.length; i++) hits[i] = { id: result[i], score: buffer[scoresAt + i] }
    return hits
  }
}

/**
 * Reusable result columns for single-query searches: the native side writes into them, so a
 * search allocates nothing across the boundary. Grows to the largest `k` seen.
 */
export class ResultBuffers {
  ids = new Float64Array(16)
  scores = new Float64Array(16)

  /** Makes room for `k` results. */
  reserve(k: number): this {
    if (this.ids.length < k) {
      const size = Math.max(k, this.ids.length * 2)
      this.ids = new Float64Array(size)
      this.scores = new Float64Array(size)
    }
    return this
  }

  /** Zips what the native call wrote: `result` is the hit count (integer ids) or the string ids. */
  hits(result: number | string[]): Hit[] {
    const n = typeof result === 'number' ? result : result.length
    const hits: Hit[] = new Array(n)
    for (let i = 0; i < n; i++) {
      hits[i] = { id: typeof result === 'number' ? this.ids[i] : result[i], score: this.scores[i] }
    }
    return hits
  }
}
