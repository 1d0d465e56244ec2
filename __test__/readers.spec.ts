import test from 'ava'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readBvecs, readFvecs, readIvecs, readJsonl, readNpy } from '../index.ts'

const fixtures = join(process.cwd(), '__test__', 'fixtures')
const fixture = (name: string) => join(fixtures, name)
// What NumPy wrote (see fixtures/README.md).
const small = Float32Array.from({ length: 12 }, (_, i) => (i - 5.5) / 4)

test('readNpy reads float32 C-order arrays written by NumPy (2-D and 1-D)', async (t) => {
  const m = await readNpy(fixture('small-f32.npy'))
  t.is(m.count, 3)
  t.is(m.dim, 4)
  t.deepEqual(m.data, small)
  const v = await readNpy(fixture('vector-f32.npy'))
  t.deepEqual([v.count, v.dim], [1, 4])
  t.deepEqual(v.data, small.subarray(0, 4))
})

test('readNpy names the fix for other dtypes, Fortran order, truncation and non-npy files', async (t) => {
  await t.throwsAsync(readNpy(fixture('small-f64.npy')), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /<f8.*astype\(np\.float32\)/ })
  await t.throwsAsync(readNpy(fixture('small-fortran.npy')), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /ascontiguousarray/ })
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-npy-'))
  const bytes = readFileSync(fixture('small-f32.npy'))
  writeFileSync(join(dir, 'cut.npy'), bytes.subarray(0, bytes.length - 4))
  await t.throwsAsync(readNpy(join(dir, 'cut.npy')), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /needs 48/ })
  writeFileSync(join(dir, 'text.npy'), 'hello world')
  await t.throwsAsync(readNpy(join(dir, 'text.npy')), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /bad magic/ })
  await t.throwsAsync(readNpy(join(dir, 'absent.npy')), { code: 'ERR_SLIMDEX_IO', message: /absent\.npy/ })
})

test('readFvecs / readIvecs / readBvecs read the ANN-benchmark formats', async (t) => {
  const f = await readFvecs(fixture('small.fvecs'))
  t.deepEqual([f.count, f.dim], [3, 4])
  t.deepEqual(f.data, small)
  const i = await readIvecs(fixture('small.ivecs'))
  t.deepEqual([i.count, i.dim], [2, 3])
  t.deepEqual([...i.data], [-1, 999, 1999, 2999, 3999, 4999])
  const b = await readBvecs(fixture('small.bvecs'))
  t.deepEqual([b.count, b.dim], [3, 2])
  t.deepEqual([...b.data], [0, 40, 80, 120, 160, 200])
})

test('readFvecs rejects ragged and truncated files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-vecs-'))
  const bytes = readFileSync(fixture('small.fvecs'))
  writeFileSync(join(dir, 'cut.fvecs'), bytes.subarray(0, bytes.length - 2))
  await t.throwsAsync(readFvecs(join(dir, 'cut.fvecs')), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /whole number/ })
  const ragged = Buffer.from(bytes)
  ragged.writeInt32LE(5, 20) // vector 1 claims 5 dimensions
  writeFileSync(join(dir, 'ragged.fvecs'), ragged)
  await t.throwsAsync(readFvecs(join(dir, 'ragged.fvecs')), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /vector 1 declares dimension 5/ })
})

test('readJsonl streams records with line numbers, skips blank lines, reports the bad line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'slimdex-jsonl-'))
  const path = join(dir, 'x.jsonl')
  writeFileSync(path, '{"a": 1}\r\n\n[2, 3]\n"four"\n')
  const got = []
  for await (const r of readJsonl(path)) got.push(r)
  t.deepEqual(got, [{ line: 1, value: { a: 1 } }, { line: 3, value: [2, 3] }, { line: 4, value: 'four' }])
  writeFileSync(path, '{"a": 1}\n{oops}\n')
  const consume = async () => {
    for await (const _ of readJsonl(path)) void _
  }
  await t.throwsAsync(consume(), { code: 'ERR_SLIMDEX_BAD_INPUT', message: /x\.jsonl:2: malformed JSON/ })
})
