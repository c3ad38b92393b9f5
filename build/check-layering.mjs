#!/usr/bin/env node
/**
 * Layering check (like VS Code's code-layering rule): folders are layers.
 *   shared/           imports nothing outside shared/ and no packages (no Node, DOM or Electron dependency)
 *   renderer/         imports renderer/, shared/ and browser packages only — never electron/ or Node built-ins
 *   electron/engine/  never imports 'electron' nor its siblings electron/shell/, electron/server/, electron/cli/
 *   'electron' itself only from electron/shell/
 * Inside the engine, layers from the bottom up (docs/ARCHITECTURE.md); a file imports its own layer or lower:
 *   base      paths.ts, backend.ts, base/, files/, kernels/   (job context, seeded random, tensors, files on disk)
 *   runtime   data/, model/, runtime/                        (datasets and images, model formats, batch passes)
 *   features  features/                                      (activation collection, splits, learners, rows)
 *   work      analyses/ | train/ | zoo/                      (siblings: none imports another)
 *   top       the engine's own files (core, jobs, service, host, worker, validate, …)
 * And no import cycles in electron/ or shared/, type-only imports included.
 * Exits 1 with one line per violation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\brequire\(\s*['"]([^'"]+)['"]\s*\)|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
const SHELL = path.join(root, 'electron', 'shell');
/** electron/'s parts beside the engine, which the engine never imports. */
const BESIDE_ENGINE = ['shell', 'server', 'cli'].map((d) => path.join(root, 'electron', d));

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
      if (BESIDE_ENGINE.some((d) => inside(target, d))) violations.push(`${rel(file)}: the engine must not import the shell, the server or the CLI (${spec})`);
    }
  }
}
for (const file of files(path.join(root, 'electron'))) {
  if (inside(file, path.join(root, 'electron', 'engine'))) continue;
  if (inside(file, SHELL)) continue;
  for (const spec of imports(file)) if (spec === 'electron') violations.push(`${rel(file)}: only electron/shell/ may import "electron"`);
}

// The engine's inner order.
const engine = path.join(root, 'electron', 'engine');
const ENGINE_LAYERS = [
  ['base', ['paths.ts', 'backend.ts', 'base', 'files', 'kernels']],
  ['runtime', ['data', 'model', 'runtime']],
  ['features', ['features']],
  ['work', ['analyses', 'train', 'zoo']],
];
/** [layer rank, its folder] of an engine file; the engine's own top-level files are the top. */
function engineLayer(file) {
  const first = path.relative(engine, file).split(path.sep)[0];
  const rank = ENGINE_LAYERS.findIndex(([, parts]) => parts.includes(first));
  return rank < 0 ? [ENGINE_LAYERS.length, 'top'] : [rank, first];
}
const resolveTs = (from, spec) => {
  const p = path.resolve(path.dirname(from), spec);
  return [p, `${p}.ts`, path.join(p, 'index.ts')].find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
};
for (const file of files(engine, ['.ts'])) {
  const [rank, folder] = engineLayer(file);
  for (const spec of imports(file)) {
    if (!spec.startsWith('.')) continue;
    const target = resolveTs(file, spec);
    if (!target || !inside(target, engine)) continue;
    const [targetRank, targetFolder] = engineLayer(target);
    if (targetRank > rank)
      violations.push(
        `${rel(file)}: the ${ENGINE_LAYERS[rank]?.[0] ?? 'top'} layer imports ${rel(target)} of the ${ENGINE_LAYERS[targetRank]?.[0] ?? 'top'} layer above it`,
      );
    else if (targetRank === rank && rank === 3 && targetFolder !== folder)
      violations.push(`${rel(file)}: ${folder}/ imports its sibling ${targetFolder}/ (${spec}); shared code goes down to features/`);
  }
}

// Import cycles (Tarjan's strongly connected components over relative imports, type-only ones included).
const graph = new Map();
for (const file of [...files(path.join(root, 'electron'), ['.ts']), ...files(path.join(root, 'shared'), ['.ts'])]) {
  graph.set(
    file,
    imports(file)
      .filter((s) => s.startsWith('.'))
      .map((s) => resolveTs(file, s))
      .filter(Boolean),
  );
}
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
function strongConnect(v) {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!index.has(w)) {
      strongConnect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) violations.push(`import cycle: ${component.map(rel).join(' → ')}`);
  }
}
for (const v of graph.keys()) if (!index.has(v)) strongConnect(v);

if (violations.length) {
  console.error(`Layering violations (${violations.length}):`);
  for (const v of violations) console.error(`  ${v}`);
  process.exit(1);
}
console.log('layering: ok');
