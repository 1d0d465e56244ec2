// npm run bench -- [suite ...] [--smoke] [--charts]
// Runs benchmark suites (benches/<suite>.mjs, each exporting `run({ smoke })`); all suites
// when none is named. --smoke runs each on tiny inputs in seconds (used by CI to prove the
// suites still execute; its results go to results/<suite>.smoke.*, not the real tables).
// After the suites, the cross-index charts (lib/summary.mjs) are redrawn from the results
// JSON; --charts alone redraws them without running anything.
import { readdirSync } from 'node:fs'
import { benchDir, machine, resultsDir } from './lib/report.mjs'
import { writeSummaryCharts } from './lib/summary.mjs'

const args = process.argv.slice(2)
const smoke = args.includes('--smoke')
if (args.includes('--charts') && args.every((a) => a === '--charts' || a === '--smoke')) {
  console.log(`chart: ${writeSummaryCharts(resultsDir, { smoke }) ?? 'no results to draw'}`)
  process.exit(0)
}
const named = args.filter((a) => !a.startsWith('--'))
const available = readdirSync(benchDir)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .map((f) => f.replace(/\.mjs$/, ''))
  .sort()
const suites = named.length ? named : available
for (const s of suites) {
  if (!available.includes(s)) {
    console.error(`unknown suite ${JSON.stringify(s)}; available: ${available.join(', ')}`)
    process.exit(2)
  }
}
globalThis.__benchMachine = await machine()
for (const s of suites) {
  console.log(`\n=== ${s}${smoke ? ' (smoke)' : ''} ===`)
  const mod = await import(`./${s}.mjs`)
  await mod.run({ smoke })
}
const chart = writeSummaryCharts(resultsDir, { smoke })
if (chart) console.log(`\nchart: ${chart}`)
