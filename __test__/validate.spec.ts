import test from 'ava'
import { z } from 'zod'
import { FdeEncoder, FlatIndex, asRetriever } from '../index.ts'
import { TYPE_CHECK, checkInt, parseOptions, positiveInt } from '../src/validate.ts'

const schema = z.strictObject({ k: positiveInt(), ratio: z.number().finite().optional(), name: z.string().optional() })

test('parseOptions: wrong types and unknown keys are TypeErrors; non-integers, non-finite and out-of-range numbers RangeErrors', (t) => {
  const bad = (value: unknown, instanceOf: typeof TypeError | typeof RangeError, message: RegExp) => {
    const err = t.throws(() => parseOptions(schema, value, 'opts'), { code: 'ERR_SLIMDEX_INVALID_ARG', message })
    // TypeError and RangeError are siblings: instanceOf alone would not tell them apart.
    t.is(err?.constructor, instanceOf, `${JSON.stringify(value)}: ${err?.message}`)
  }
  bad({ k: '3' }, TypeError, /opts: k: .*expected number/)
  bad({ k: 3, name: 4 }, TypeError, /opts: name:/)
  bad({ k: 3, kk: 1 }, TypeError, /^opts: Unrecognized key: "kk"$/)
  bad({ k: null }, TypeError, /opts: k:/)
  bad({ k: 1.5 }, RangeError, /opts: k: .*int/)
  bad({ k: Number.NaN }, RangeError, /opts: k: .*NaN/)
  bad({ k: Infinity }, RangeError, /opts: k: .*Infinity/)
  bad({ k: 3, ratio: -Infinity }, RangeError, /opts: ratio: .*-Infinity/)
  bad({ k: 0 }, RangeError, /opts: k: .*>=1/)
  bad({ k: 2 ** 32 }, RangeError, /opts: k: /)
  t.deepEqual(parseOptions(schema, { k: 3, ratio: 0.5 }, 'opts'), { k: 3, ratio: 0.5 })
  // Unions: wrong type when every alternative failed on its type, a range error otherwise.
  const ids = z.strictObject({ id: z.union([z.string(), z.number().int()]), cb: z.custom((v) => typeof v === 'function', { message: 'must be a function', params: TYPE_CHECK }).optional() })
  const idErr = (value: unknown) => t.throws(() => parseOptions(ids, value, 'ids'))?.constructor
  t.is(idErr({ id: {} }), TypeError)
  t.is(idErr({ id: 1.5 }), RangeError)
  t.is(idErr({ id: 'a', cb: 3 }), TypeError)
  t.is(t.throws(() => parseOptions(z.custom((v) => v === 1, 'must be 1'), 2, 'one'))?.constructor, RangeError)
  // The same classes as checkInt, which guards arguments outside option objects.
  t.throws(() => checkInt(1.5, 'n', 0, 10), { instanceOf: RangeError })
  t.throws(() => checkInt('1', 'n', 0, 10), { instanceOf: TypeError })
})

test('public APIs report a non-integer option as a RangeError and a string as a TypeError', async (t) => {
  const index = new FlatIndex({ dim: 2 })
  index.addSync(undefined, Float32Array.of(1, 0, 0, 1))
  const q = Float32Array.of(1, 0)
  const isClass = (e: Error | undefined, cls: typeof TypeError | typeof RangeError) => t.is(e?.constructor, cls, e?.message)
  isClass(t.throws(() => index.search(q, { k: 1.5 })), RangeError)
  isClass(t.throws(() => index.search(q, { k: '1' as unknown as number })), TypeError)
  const r = asRetriever(index)
  isClass(await t.throwsAsync(r.search(q, { k: 2.5 })), RangeError)
  isClass(await t.throwsAsync(r.search(q, { k: Number.NaN })), RangeError)
  isClass(t.throws(() => new FdeEncoder({ dim: 8, repetitions: 1.5 })), RangeError)
  isClass(t.throws(() => new FdeEncoder({ dim: 8, seeed: 1 } as never)), TypeError)
})
