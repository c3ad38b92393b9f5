#!/usr/bin/env node
/**
 * Layering check (like VS Code's code-layering rule): folders are layers.
 *   shared/           imports nothing outside shared/ and no packages (no Node, DOM or Electron dependency)
 *   renderer/         imports renderer/, shared/ and browser packages only — never electron/ or Node built-ins
 *   electron/engine/  never imports 'electron' nor the shell files beside it (main, preload, ipc, menu, server, cli)
 *   'electron' itself only from electron/{main,preload,ipc,menu}.ts
 * Exits 1 with one line per violation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const ELECTRON_SHELL = new Set(['main.ts', 'preload.ts', 'ipc.ts', 'menu.ts']);

function files(dir, exts = ['.ts', '.vue', '.mts', '.mjs']) {
  const out = [];
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p, exts));
    else if (exts.includes(path.extname(e.name)) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function imports(file) {
  const text = fs.readFileSync(file, 'utf8');
  const found = [];
  for (const m of text.matchAll(IMPORT)) found.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
  return found;
}

const violations = [];
const rel = (p) => path.relative(root, p);
const inside = (target, dir) => target === dir || target.startsWith(dir + path.sep);

for (const file of files(path.join(root, 'shared'))) {
  for (const spec of imports(file)) {
    if (!spec.startsWith('.')) violations.push(`${rel(file)}: shared/ must not import the package "${spec}"`);
    else if (!inside(path.resolve(path.dirname(file), spec), path.join(root, 'shared'))) violations.push(`${rel(file)}: shared/ must not import ${spec}`);
  }
}
for (const file of files(path.join(root, 'renderer'))) {
  if (file.endsWith('vite.config.ts')) continue; // build configuration, runs in Node
  for (const spec of imports(file)) {
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec);
      if (!inside(target, path.join(root, 'renderer')) && !inside(target, path.join(root, 'shared'))) {
        violations.push(`${rel(file)}: renderer/ may import shared/ only, not ${spec}`);
      }
    } else if (spec === 'electron' || spec.startsWith('node:') || ['fs', 'path', 'child_process', 'worker_threads', 'os'].includes(spec)) {
      violations.push(`${rel(file)}: renderer/ must not import "${spec}"`);
    }
  }
}
for (const file of files(path.join(root, 'electron', 'engine'))) {
  for (const spec of imports(file)) {
    if (spec === 'electron' || spec.startsWith('electron/')) violations.push(`${rel(file)}: electron/engine must not import "electron"`);
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec);
      if (inside(target, path.join(root, 'renderer'))) violations.push(`${rel(file)}: the engine must not import renderer/`);
      if (path.dirname(target) === path.join(root, 'electron')) violations.push(`${rel(file)}: the engine must not import the shell (${spec})`);
    }
  }
}
for (const file of files(path.join(root, 'electron'))) {
  if (inside(file, path.join(root, 'electron', 'engine'))) continue;
  if (ELECTRON_SHELL.has(path.basename(file))) continue;
  for (const spec of imports(file)) if (spec === 'electron') violations.push(`${rel(file)}: only ${[...ELECTRON_SHELL].join(', ')} may import "electron"`);
}

if (violations.length) {
  console.error(`Layering violations (${violations.length}):`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log('layering: ok');
