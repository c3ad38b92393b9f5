#!/usr/bin/env node
/**
 * `npm start`: builds if needed, then opens the Electron window. Where the Electron binary is not installed
 * (its download was skipped or blocked) or there is no display, it says so and serves the same UI in the
 * browser instead (browser mode).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const built = spawnSync(process.execPath, [path.join(root, 'build', 'build.mjs'), '--if-needed'], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

function electronBinary() {
  try {
    return { path: require('electron') };
  } catch (error) {
    return { reason: String(error instanceof Error ? error.message : error).split('\n')[0] };
  }
}

const electron = electronBinary();
const headless = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
if (electron.path && !headless && !process.argv.includes('--browser')) {
  const child = spawn(electron.path, [path.join(root, 'dist', 'electron', 'main.cjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  const why = !electron.path
    ? 'the Electron binary is not installed (its download was skipped or blocked; `node node_modules/electron/install.js` fetches it)'
    : headless
      ? 'there is no display (DISPLAY is not set)'
      : 'browser mode was asked for';
  console.log(`CNN Inspector: ${why} — starting browser mode instead.`);
  const child = spawn(process.execPath, [path.join(root, 'dist', 'electron', 'server.cjs'), ...process.argv.slice(2).filter((a) => a !== '--browser')], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
}
