// Copies each benchmark table (benches/results/<suite>.md) into README.md between the markers
// <!-- bench:<suite> --> and <!-- /bench:<suite> -->. Run after `npm run bench`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const readmePath = join(root, 'README.md')
let readme = readFileSync(readmePath, 'utf8')
const markers = [...readme.matchAll(/<!-- bench:([a-z0-9-]+) -->/g)].map((m) => m[1])
for (const suite of markers) {
  const md = join(root, 'benches', 'results', `${suite}.md`)
  if (!existsSync(md)) {
    console.log(`no results for ${suite} (run npm run bench -- ${suite})`)
    continue
  }
  // Demote the suite's title to a subsection inside the README.
  // Chart links are relative to benches/results/; the README sits at the root.
  const body = readFileSync(md, 'utf8').trim().replace(/^# /, '### ').replace(/\]\(([\w.-]+\.svg)\)/g, '](benches/results/$1)')
  const re = new RegExp(`(<!-- bench:${suite} -->)[\\s\\S]*?(<!-- /bench:${suite} -->)`)
  readme = readme.replace(re, `$1\n${body}\n$2`)
  console.log(`README: updated ${suite}`)
}
writeFileSync(readmePath, readme)
