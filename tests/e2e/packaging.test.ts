/**
 * The desktop package: `npm run dist -- --linux --dir` builds the unpacked app with electron-builder, and this
 * checks what went into app.asar and what was unpacked beside it, then runs the packaged engine with plain Node
 * from that layout (its native modules resolved there, not from the repository). Electron's own binary cannot be
 * downloaded here, so electron-builder is given a stand-in for it (`-c.electronDist`): everything else — the
 * archive, the unpacking rules, the per-platform trimming — is electron-builder's real work. Where no Electron
 * binary is installed, `npm run dist` without a stand-in must stop cleanly and say why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-dist-'));
const out = path.join(tmp, 'out');
const unpackedApp = path.join(out, 'linux-unpacked');
const asarFile = path.join(unpackedApp, 'resources', 'app.asar');
const asar = require('@electron/asar') as { listPackage(file: string): string[]; extractAll(file: string, dest: string): void };

function electronInstalled(): boolean {
  return fs.existsSync(path.join(ROOT, 'node_modules', 'electron', 'path.txt')) || Boolean(process.env.ELECTRON_OVERRIDE_DIST_PATH);
}

describe.skipIf(process.platform !== 'linux')('npm run dist -- --linux --dir', () => {
  let entries: string[] = [];
  beforeAll(() => {
    const standIn = path.join(tmp, 'electron-stand-in');
    fs.mkdirSync(standIn);
    fs.writeFileSync(path.join(standIn, 'electron'), '#!/bin/sh\necho "stand-in for the Electron binary"\n', { mode: 0o755 });
    fs.writeFileSync(path.join(standIn, 'version'), JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')).version);
    const built = spawnSync(
      process.execPath,
      [path.join(ROOT, 'build', 'dist.mjs'), '--linux', '--dir', `-c.electronDist=${standIn}`, `-c.directories.output=${out}`],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(built.status, built.stderr + built.stdout).toBe(0);
    entries = asar.listPackage(asarFile);
  }, 300_000);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('names the app: an executable cnn-inspector, the package name and version inside', () => {
    expect(fs.existsSync(path.join(unpackedApp, 'cnn-inspector'))).toBe(true);
    const inner = path.join(tmp, 'package.json');
    fs.writeFileSync(
      inner,
      Buffer.from(
        execFileSync(process.execPath, ['-e', `process.stdout.write(require('@electron/asar').extractFile(${JSON.stringify(asarFile)}, 'package.json'))`], {
          cwd: ROOT,
        }),
      ),
    );
    const pkg = JSON.parse(fs.readFileSync(inner, 'utf8'));
    const ours = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect({ name: pkg.name, version: pkg.version, main: pkg.main }).toEqual({ name: ours.name, version: ours.version, main: 'dist/electron/main.cjs' });
  });

  it('app.asar holds the bundles, the renderer, the bundled model and samples and the runtime packages — not sources, tests or dev tools', () => {
    for (const wanted of ['main.cjs', 'preload.cjs', 'worker.cjs', 'forward-worker.cjs', 'probe-worker.cjs', 'server.cjs', 'cli.cjs']) {
      expect(entries, wanted).toContain(`/dist/electron/${wanted}`);
    }
    expect(entries).toContain('/dist/renderer/index.html');
    expect(entries).toContain('/resources/model/model.json');
    expect(entries.filter((e) => e.startsWith('/resources/samples/') && e.endsWith('.png')).length).toBeGreaterThanOrEqual(100);
    for (const runtime of [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-layers',
      'onnxruntime-node',
      'sharp',
      'h5wasm',
      'ws',
      'echarts',
    ]) {
      expect(entries, runtime).toContain(`/node_modules/${runtime}/package.json`);
    }
    const forbidden = (e: string) =>
      /^\/(tests|electron|renderer|shared|build|docs|\.ci)\//.test(e) ||
      e.endsWith('.map') ||
      e.endsWith('.ts') ||
      /^\/node_modules\/(electron|electron-builder|vitest|vite|typescript|esbuild|playwright-core|vue|pinia)\//.test(e);
    expect(entries.filter(forbidden).slice(0, 5)).toEqual([]);
    // Only this platform's ONNX Runtime (the package ships five, 290 MB).
    expect(entries.filter((e) => /onnxruntime-node\/bin\/[^/]+\/(darwin|win32|linux\/arm64)\//.test(e))).toEqual([]);
  });

  it('the native binaries and WebAssembly files are unpacked beside it', () => {
    const unpacked = path.join(unpackedApp, 'resources', 'app.asar.unpacked');
    const present = (p: string) => fs.existsSync(path.join(unpacked, p));
    expect(present(`node_modules/onnxruntime-node/bin/napi-v6/linux/${process.arch}/onnxruntime_binding.node`)).toBe(true);
    expect(present(`node_modules/onnxruntime-node/bin/napi-v6/linux/${process.arch}/libonnxruntime.so.1`)).toBe(true);
    const sharpNode = fs.readdirSync(path.join(unpacked, 'node_modules', '@img', `sharp-linux-${process.arch}`, 'lib'));
    expect(sharpNode.some((f) => f.endsWith('.node'))).toBe(true);
    expect(fs.readdirSync(path.join(unpacked, 'node_modules', '@img', `sharp-libvips-linux-${process.arch}`, 'lib')).some((f) => f.startsWith('libvips'))).toBe(
      true,
    );
    for (const wasm of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'])
      expect(present(`node_modules/@tensorflow/tfjs-backend-wasm/dist/${wasm}`), wasm).toBe(true);
  });

  it('the packaged engine runs with plain Node from that layout: sharp decodes, ONNX Runtime loads, the CLI predicts and evaluates', () => {
    const app = path.join(tmp, 'extracted');
    asar.extractAll(asarFile, app); // unpacked files come along from app.asar.unpacked
    // Resolved inside the package (tmp is outside the repository, so nothing can come from its node_modules).
    const resolved = execFileSync(
      process.execPath,
      ['-e', "for (const m of ['onnxruntime-node', 'sharp', '@tensorflow/tfjs-backend-wasm']) console.log(require.resolve(m))"],
      { cwd: path.join(app, 'dist', 'electron'), encoding: 'utf8' },
    );
    for (const line of resolved.trim().split('\n')) expect(line.startsWith(app)).toBe(true);
    const fixture = path.join(ROOT, 'tests', 'fixtures', 'onnx', 'cnn-ops.onnx');
    const session = execFileSync(
      process.execPath,
      ['-e', `require('onnxruntime-node').InferenceSession.create(${JSON.stringify(fixture)}).then((s) => console.log(JSON.stringify(s.inputNames)))`],
      { cwd: path.join(app, 'dist', 'electron'), encoding: 'utf8' },
    );
    expect(JSON.parse(session)).toEqual(['input']);
    const cli = (...args: string[]) =>
      JSON.parse(
        execFileSync(process.execPath, [path.join(app, 'dist', 'electron', 'cli.cjs'), ...args], {
          cwd: tmp,
          encoding: 'utf8',
          env: { ...process.env, CNN_INSPECTOR_WORKSPACE: path.join(tmp, 'workspace') },
        }),
      );
    const model = path.join(app, 'resources', 'model', 'model.json');
    const samples = path.join(app, 'resources', 'samples');
    const boot = fs.readdirSync(path.join(samples, 'Ankle-boot'))[0];
    const predicted = cli('predict', '--model', model, '--image', path.join(samples, 'Ankle-boot', boot), '--top', '1');
    expect(predicted.predictions[0].label).toBe('Ankle-boot');
    expect(cli('info', '--model', model, '--backend')).toMatchObject({ backend: 'wasm', batchEngine: 'onnxruntime' });
    const evaluated = cli('evaluate', '--model', model, '--data', samples, '--limit', '20');
    expect(evaluated.accuracy).toBeGreaterThan(0.6);
  }, 120_000);
});

describe.skipIf(electronInstalled())('npm run dist without an Electron binary', () => {
  it('stops before building, exit 2, saying which binary is missing and how to get it', () => {
    const ran = spawnSync(process.execPath, [path.join(ROOT, 'build', 'dist.mjs'), '--linux', '--dir'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, ELECTRON_CACHE: path.join(tmp, 'no-cache') },
    });
    expect(ran.status).toBe(2);
    expect(ran.stderr).toMatch(/Electron [\d.]+'s binary for linux-\w+ is not on this machine/);
    expect(ran.stderr).toMatch(/ELECTRON_OVERRIDE_DIST_PATH/);
    expect(ran.stderr).toMatch(/Nothing was built/);
    expect(ran.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});
