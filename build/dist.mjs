#!/usr/bin/env node
/**
 * `npm run dist [-- ARGS]`: the installers, built by electron-builder from build/electron-builder.config.cjs — AppImage
 * and .deb on Linux, .dmg on macOS, NSIS on Windows; `npm run dist -- --linux --dir` for the unpacked app only.
 * ARGS go on to electron-builder (`--linux`, `--mac`, `--win`, `--dir`, `-c.key=value`).
 *
 * electron-builder puts Electron's own binary for the target into the app. It is taken from
 * ELECTRON_OVERRIDE_DIST_PATH or node_modules/electron/dist (the host's platform), else from Electron's download
 * cache. Where none of these has it — and electron-builder would try to download it — this says so and stops
 * (exit 2) before building anything. `-c.electronDist=DIR` names an unpacked Electron by hand (the packaging
 * test gives a stand-in there).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const args = process.argv.slice(2);

const PLATFORMS = { '--linux': 'linux', '--mac': 'darwin', '--macos': 'darwin', '--win': 'win32', '--windows': 'win32' };
const targets = [...new Set(args.filter((a) => a in PLATFORMS).map((a) => PLATFORMS[a]))];
const platforms = targets.length ? targets : [process.platform];
const arch = args.includes('--arm64') ? 'arm64' : args.includes('--ia32') ? 'ia32' : process.arch;
const version = JSON.parse(fs.readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
const BINARY = { linux: 'electron', darwin: 'Electron.app', win32: 'electron.exe' };

/** An unpacked Electron for `platform` on this machine: the override or the package's own (host platform only). */
function unpackedElectron(platform) {
  if (platform !== process.platform) return undefined;
  const dirs = [process.env.ELECTRON_OVERRIDE_DIST_PATH, path.join(path.dirname(require.resolve('electron/package.json')), 'dist')];
  return dirs.find((dir) => dir && fs.existsSync(path.join(dir, BINARY[platform])));
}

/** Electron's release zip for `platform` in its download cache (any of its hashed sub-folders), or undefined. */
function cachedZip(platform) {
  const cache =
    process.env.ELECTRON_CACHE ??
    (process.platform === 'darwin'
      ? path.join(os.homedir(), 'Library', 'Caches', 'electron')
      : process.platform === 'win32'
        ? path.join(process.env.LOCALAPPDATA ?? os.homedir(), 'electron', 'Cache')
        : path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'electron'));
  const name = `electron-v${version}-${platform}-${arch}.zip`;
  if (!fs.existsSync(cache)) return undefined;
  const candidates = [path.join(cache, name), ...fs.readdirSync(cache).map((d) => path.join(cache, d, name))];
  return candidates.find((f) => fs.existsSync(f));
}

const named = args.some((a) => a.startsWith('-c.electronDist=') || a.startsWith('--config.electronDist='));
const extra = [];
if (!named) {
  for (const platform of platforms) {
    const local = unpackedElectron(platform);
    if (local && platforms.length === 1) extra.push(`-c.electronDist=${local}`);
    else if (!cachedZip(platform)) {
      console.error(
        `npm run dist: Electron ${version}'s binary for ${platform}-${arch} is not on this machine (not in ` +
          `ELECTRON_OVERRIDE_DIST_PATH, not in node_modules/electron/dist, not in Electron's download cache), and ` +
          'building would download it. Fetch it where the network allows (`node node_modules/electron/install.js` ' +
          'for this platform), or set ELECTRON_OVERRIDE_DIST_PATH to an unpacked Electron, then run this again. Nothing was built.',
      );
      process.exit(2);
    }
  }
}

const step = (command, commandArgs) => {
  const ran = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit' });
  if (ran.status !== 0) process.exit(ran.status ?? 1);
};
step(process.execPath, [path.join(root, 'build', 'build.mjs')]);
const builder = path.join(path.dirname(require.resolve('electron-builder/package.json')), 'cli.js');
step(process.execPath, [builder, '--config', path.join('build', 'electron-builder.config.cjs'), ...extra, ...args]);
