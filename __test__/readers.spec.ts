import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseNpy, parseVecs, readBvecs, readFvecs, readIvecs, readJsonl, readNpy, readVectors, toNpy, toVecs, writeJsonl, writeNpy } from '../index.ts'

const NPY = join(process.cwd(), '__test__', 'fixtures', 'npy')
const tmp = () => mkdtempSync(join(tmpdir(), 'slimdex-readers-'))

test('readNpy reads what np.save wrote: values, shape, dim, count', async (t) => {
  const a = await readNpy(join(NPY, 'f32_3x4.npy'))
  const want = readFileSync(join(NPY, 'f32_3x4.values.txt'), 'utf8').trim().split(' ').map(Number)
  t.deepEqual(a.shape, [3, 4])
  t.is(a.dim, 4)
  t.is(a.count, 3)
  t.deepEqual(Array.from(a.data), want)
  const v = await readNpy(join(NPY, 'f32_vec5.npy'))
  t.deepEqual(v.shape, [5])
  t.deepEqual(Array.from(v.data), [-1, -0.5, 0, 0.5, 1])
  const empty = await readNpy(join(NPY, 'f32_0x4.npy'))
  t.deepEqual([empty.count, empty.dim, empty.data.length], [0, 4, 0])
})

test('readNpy rejects float64, big-endian and Fortran order with a fix in the message', async (t) => {
  await t.throwsAsync(readNpy(join(NPY, 'f64_3x4.npy')), { code: 'ERR_SLIMDEX_PARSE', message: /f64_3x4\.npy: dtype <f8 is not supported.*astype/ })
  await t.throwsAsync(readNpy(join(NPY, 'f32_be_3x4.npy')), { code: 'ERR_SLIMDEX_PARSE', message: /big-endian/ })
  await t.throwsAsync(readNpy(join(NPY, 'f32_fortran_3x4.npy')), { code: 'ERR_SLIMDEX_PARSE', message: /Fortran.*ascontiguousarray/ })
  const good = readFileSync(join(NPY, 'f32_3x4.npy'))
  t.throws(() => parseNpy(good.subarray(0, good.length - 1), 'cut.npy'), { code: 'ERR_SLIMDEX_PARSE', message: /cut\.npy: shape \(3, 4\) needs 48 data bytes but the file has 47/ })
  t.throws(() => parseNpy(Buffer.from('hello world, not numpy'), 'x.npy'), { message: /x\.npy: not a NumPy/ })
  await t.throwsAsync(readNpy(join(NPY, 'missing.npy')), { code: 'ERR_SLIMDEX_IO', message: /missing\.npy: no such file/ })
})

test('toNpy writes files byte-identical to np.save, and they round-trip', async (t) => {
  const a = await readNpy(join(NPY, 'f32_3x4.npy'))
  t.deepEqual(toNpy(a.data, [3, 4]), readFileSync(join(NPY, 'f32_3x4.npy')))
  t.deepEqual(toNpy(Float32Array.of(-1, -0.5, 0, 0.5, 1), [5]), readFileSync(join(NPY, 'f32_vec5.npy')))
  const dir = tmp()
  const data = Float32Array.from({ length: 7 * 3 }, (_, i) => Math.sin(i))
  await writeNpy(join(dir, 'x.npy'), data, [7, 3])
  const back = await readVectors(join(dir, 'x.npy'))
  t.deepEqual([back.count, back.dim], [7, 3])
  t.deepEqual(back.data, data)
  // An odd byte offset inside a larger buffer still parses (the data is copied, not viewed).
  const bytes = toNpy(data, [7, 3])
  const shifted = new Uint8Array(bytes.length + 1)
  shifted.set(bytes, 1)
  t.deepEqual(parseNpy(shifted.subarray(1)).data, data)
})

test('fvecs / ivecs / bvecs: hand-built records parse, write back identically, and bad files name themselves', async (t) => {
  // Two dim-3 float vectors as the TEXMEX format lays them out.
  const f = Buffer.alloc(2 * 16)
  ;[
    [1.5, -2, 3],
    [0, 0.25, -8],
  ].forEach((v, i) => {
    f.writeInt32LE(3, i * 16)
    v.forEach((x, j) => f.writeFloatLE(x, i * 16 + 4 + 4 * j))
  })
  const dir = tmp()
  writeFileSync(join(dir, 'a.fvecs'), f)
  const fv = await readFvecs(join(dir, 'a.fvecs'))
  t.deepEqual([fv.count, fv.dim], [2, 3])
  t.deepEqual(Array.from(fv.data), [1.5, -2, 3, 0, 0.25, -8])
  t.deepEqual(toVecs(fv.data, 3), f)
  const iv = Int32Array.of(5, -1, 7, 2 ** 31 - 1)
  writeFileSync(join(dir, 'g.ivecs'), toVecs(iv, 2))
  t.deepEqual((await readIvecs(join(dir, 'g.ivecs'))).data, iv)
  const bv = Uint8Array.of(0, 255, 9, 1, 2, 3)
  writeFileSync(join(dir, 'b.bvecs'), toVecs(bv, 3))
  const b = await readBvecs(join(dir, 'b.bvecs'))
  t.deepEqual([b.count, b.dim, Array.from(b.data)], [2, 3, [0, 255, 9, 1, 2, 3]])
  t.deepEqual(Array.from((await readVectors(join(dir, 'b.bvecs'))).data), [0, 255, 9, 1, 2, 3])
  t.deepEqual((await readVectors(join(dir, 'a.fvecs'))).data, fv.data)
  writeFileSync(join(dir, 'cut.fvecs'), f.subarray(0, 30))
  await t.throwsAsync(readFvecs(join(dir, 'cut.fvecs')), { code: 'ERR_SLIMDEX_PARSE', message: /cut\.fvecs: size 30 bytes is not a multiple of the 16-byte record/ })
  const wrong = Buffer.concat([f.subarray(0, 16), Buffer.from(Int32Array.of(1, 0, 0, 0).buffer)])
  t.throws(() => parseVecs(wrong, 'fvecs', 'w.fvecs'), { code: 'ERR_SLIMDEX_PARSE', message: /w\.fvecs: vector 1 has dimension 1, the first had 3/ })
  await t.throwsAsync(readVectors(join(dir, 'x.csv')), { code: 'ERR_SLIMDEX_INVALID_ARG', message: /x\.csv.*\.npy, \.fvecs or \.bvecs/ })
  t.deepEqual(parseVecs(new Uint8Array(0), 'fvecs').count, 0)
})

test('readJsonl streams records with line numbers, skips blank lines and a BOM, and names file:line on bad JSON', async (t) => {
  const dir = tmp()
  const path = join(dir, 'a.jsonl')
  writeFileSync(path, '\ufeff{"a":1}\n\n  \n{"a":2}\r\n[3]\n')
  const got = []
  for await (const r of readJsonl(path)) got.push(r)
  t.deepEqual(got, [
    { value: { a: 1 }, line: 1 },
    { value: { a: 2 }, line: 4 },
    { value: [3], line: 5 },
  ])
  writeFileSync(path, '{"a":1}\n{"a":\n')
  const seen: unknown[] = []
  await t.throwsAsync(
    (async () => {
      for await (const r of readJsonl(path)) seen.push(r.value)
    })(),
    { code: 'ERR_SLIMDEX_PARSE', message: new RegExp(`a\\.jsonl:2: invalid JSON`) },
  )
  t.deepEqual(seen, [{ a: 1 }])
  await t.throwsAsync(
    (async () => {
      for await (const _ of readJsonl(join(dir, 'nope.jsonl'))) void _
    })(),
    { code: 'ERR_SLIMDEX_IO', message: /nope\.jsonl: no such file/ },
  )
  await t.throwsAsync(
    (async () => {
      for await (const _ of readJsonl(dir)) void _
    })(),
    { code: 'ERR_SLIMDEX_IO', message: /is a directory/ },
  )
  await writeJsonl(join(dir, 'w.jsonl'), [{ x: 'é' }, 2])
  t.is(readFileSync(join(dir, 'w.jsonl'), 'utf8'), '{"x":"é"}\n2\n')
})

test('readJsonl streams a large file without reading it whole', async (t) => {
  const dir = tmp()
  const path = join(dir, 'big.jsonl')
  const n = 50_000
  writeFileSync(path, Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, text: 'x'.repeat(20) })).join('\n'))
  let count = 0
  let last = -1
  for await (const { value, line } of readJsonl<{ id: number }>(path)) {
    count++
    last = value.id
    if (line !== value.id + 1) t.fail(`line ${line} for id ${value.id}`)
  }
  t.is(count, n)
  t.is(last, n - 1)
})
