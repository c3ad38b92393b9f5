#!/usr/bin/env node
// Package bin: runs the built CLI (npm run build first, or use `npm run cli -- …`, which builds if needed).
const path = require('node:path');
const fs = require('node:fs');
const cli = path.join(__dirname, '..', 'dist', 'electron', 'cli.cjs');
if (!fs.existsSync(cli)) {
  process.stderr.write('error INTERNAL: CNN Inspector is not built: run `npm run build` in its folder\n');
  process.exit(1);
}
require(cli).cliMain();
