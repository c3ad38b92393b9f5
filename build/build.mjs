#!/usr/bin/env node
/**
 * Builds everything into dist/: the Node side with esbuild (CommonJS bundles, dependencies left external so
 * native and wasm packages load from node_modules) and the renderer with Vite.
 *   --if-needed  skip when dist/ is newer than every source file
 *   --quiet      print nothing (so `npm run --silent cli` prints only the CLI's JSON)
 *   --node-only  skip the renderer
 *   --gpu-check  only dist/gpu-check.cjs: build/gpu-check.ts with its dependencies bundled in (to carry to a
 *                machine with a GPU, where no node_modules exist; Dawn's dawn.node is named at run time)
 */
import { build as esbuild } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const log = (...m) => quiet || console.error(...m);

const nodeEntries = {
  'electron/main': 'electron/shell/main.ts',
  'electron/preload': 'electron/shell/preload.ts',
  'electron/worker': 'electron/engine/worker.ts',
  'electron/forward-worker': 'electron/engine/runtime/forward-worker.ts',
  'electron/gradient-worker': 'electron/engine/train/gradient-worker.ts',
  'electron/probe-worker': 'electron/engine/analyses/probe-worker.ts',
  'electron/server': 'electron/server/server.ts',
  'electron/cli': 'electron/cli/cli.ts',
  'build/train-default-model': 'build/train-default-model.ts',
  'build/bench': 'build/bench.ts',
};

function newestMtime(dir) {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function upToDate() {
  const stamp = path.join(root, 'dist', '.stamp');
  if (!fs.existsSync(stamp)) return false;
  const built = fs.statSync(stamp).mtimeMs;
  const sources = Math.max(
    ...['electron', 'renderer', 'shared', 'build'].map((d) => newestMtime(path.join(root, d))),
    fs.statSync(path.join(root, 'package.json')).mtimeMs,
  );
  return built > sources;
}

async function buildNode() {
  await esbuild({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(Object.entries(nodeEntries).filter(([, src]) => fs.existsSync(path.join(root, src)))),
    outdir: 'dist',
    outExtension: { '.js': '.cjs' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: quiet ? 'error' : 'warning',
    define: { 'process.env.CNN_INSPECTOR_VERSION': JSON.stringify(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version) },
  });
}

async function buildRenderer() {
  const { build } = await import('vite');
  await build({
    configFile: path.join(root, 'renderer', 'vite.config.ts'),
    logLevel: quiet ? 'silent' : 'warn',
  });
}

if (args.has('--gpu-check')) {
  await esbuild({
    absWorkingDir: root,
    entryPoints: ['build/gpu-check.ts'],
    outfile: 'dist/gpu-check.cjs',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Packages with native parts stay out (the check uses none of them); tfjs's side-effect imports stay in.
    external: ['sharp', 'onnxruntime-node', 'electron', 'h5wasm'],
    ignoreAnnotations: true,
    logLevel: 'error',
  });
  log('built dist/gpu-check.cjs');
  process.exit(0);
}
if (args.has('--if-needed') && upToDate()) process.exit(0);
const t0 = Date.now();
await buildNode();
if (!args.has('--node-only') && fs.existsSync(path.join(root, 'renderer', 'vite.config.ts'))) await buildRenderer();
fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
fs.writeFileSync(path.join(root, 'dist', '.stamp'), String(Date.now()));
log(`built dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
