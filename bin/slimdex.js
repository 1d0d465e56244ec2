#!/usr/bin/env node
// The `slimdex` command (package.json "bin"). The CLI itself is src/cli.ts, compiled to dist/.
'use strict'
let cli
try {
  cli = require('../dist/src/cli.js')
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && /dist[\\/]src[\\/]cli/.test(e.message)) {
    process.stderr.write('slimdex: dist/ is missing; run `npm run build` (or `npm run build:ts`) first\n')
    process.exit(1)
  }
  throw e
}
cli.runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
