/**
 * Progress reports and cancellation of long native work (builds, training, dedup).
 * @module
 */
import { NativeCancelToken } from '../binding'
import { invalidType } from './errors'
import type { AsyncOptions } from './types'
import { checkSignal } from './validate'

/** Options of a long asynchronous call (a corpus-sized add, a build, training). */
export interface LongTaskOptions extends AsyncOptions {
  /**
   * Called on the main thread with the units done so far and the total (vectors, documents,
   * iterations: each method says which), at most every 100 ms and once at the end.
   */
  onProgress?: (done: number, total: number) => void
}

/** A validated long-task call: the progress callback and the cancel token to pass natively. */
export interface LongTask {
  signal: AbortSignal | undefined
  onProgress: ((done: number, total: number) => void) | undefined
  token: NativeCancelToken | undefined
}

/**
 * Runs `call` with `options.signal` wired to a native cancel token, so aborting stops the work
 * while it runs (with `ABORT_ERR`), not only before it starts.
 */
export async function runLongTask<T>(options: LongTaskOptions, call: (task: LongTask) => Promise<T>): Promise<T> {
  const signal = checkSignal(options.signal)
  const onProgress = options.onProgress
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalidType('onProgress must be a function (done, total) => void')
  }
  if (signal === undefined) return call({ signal, onProgress, token: undefined })
  const token = new NativeCancelToken()
  const abort = (): void => token.cancel()
  signal.addEventListener('abort', abort, { once: true })
  try {
    return await call({ signal, onProgress, token })
  } finally {
    signal.removeEventListener('abort', abort)
  }
}
