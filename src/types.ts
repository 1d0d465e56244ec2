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
