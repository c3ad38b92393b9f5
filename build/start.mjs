#!/usr/bin/env node
/**
 * `npm start`: builds if needed, then opens CNN Inspector as a desktop window — Electron's where its binary is
 * there (fetched on first start where the network allows), else the browser-mode UI in a Chromium-family
 * browser's app window, else the default browser; with no display, the link (desktop.mjs says the order).
 * `--browser` skips Electron.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appWindowArgs, defaultBrowserCommand, findBrowser, findElectron, hasDisplay } from './desktop.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const built = spawnSync(process.execPath, [path.join(root, 'build', 'build.mjs'), '--if-needed'], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

const argv = process.argv.slice(2);
const browserAsked = argv.includes('--browser');
const passOn = argv.filter((a) => a !== '--browser');
const display = hasDisplay();

/** The electron package's own lookup, read afresh (after a fetch its path.txt exists). */
function requireElectron() {
  const id = require.resolve('electron');
  delete require.cache[id];
  return require(id);
}

/** Electron's binary: installed, or fetched now with its installer (it prints its progress). */
function electronBinary() {
  const found = findElectron({ requireElectron });
  if (found.path || browserAsked || !display) return found;
  let installer;
  try {
    installer = require.resolve('electron/install.js');
  } catch {
    return found;
  }
  console.log("CNN Inspector: fetching Electron's binary once (about 100 MB)…");
  const fetched = spawnSync(process.execPath, [installer], { stdio: ['ignore', 'inherit', 'pipe'], timeout: 600_000, encoding: 'utf8' });
  if (fetched.status === 0) return findElectron({ requireElectron });
  const cause = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET/.exec(fetched.stderr ?? '')?.[0] ?? (fetched.error ? 'timed out' : 'failed');
  return {
    reason: `${found.reason}, and fetching it ${cause === 'failed' || cause === 'timed out' ? cause : `failed (${cause}: its download host cannot be reached)`}`,
  };
}

const electron = electronBinary();
if (electron.path && display && !browserAsked) {
  const child = spawn(electron.path, [path.join(root, 'dist', 'electron', 'main.cjs'), ...passOn], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  const why = browserAsked ? 'browser mode was asked for' : !display ? 'there is no display (DISPLAY is not set)' : electron.reason;
  console.log(`CNN Inspector: no Electron window — ${why}.`);
  startBrowserMode();
}

/** The server, then a window on its link; the server stops when that window closes. */
function startBrowserMode() {
  const server = spawn(process.execPath, [path.join(root, 'dist', 'electron', 'server.cjs'), ...passOn], { stdio: ['ignore', 'pipe', 'inherit'] });
  let window;
  let opened = false;
  server.stdout.setEncoding('utf8');
  server.stdout.on('data', (text) => {
    process.stdout.write(text);
    const url = /Open (http\S+)/.exec(text)?.[1];
    if (url && !opened) {
      opened = true;
      window = openWindow(url, () => server.kill('SIGTERM'));
    }
  });
  server.on('exit', (code) => {
    window?.kill();
    process.exit(code ?? 0);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
}

/** An app window of a Chromium-family browser (calls `onClosed` when it closes), else the default browser. */
function openWindow(url, onClosed) {
  if (!display) return undefined;
  const browser = findBrowser();
  if (!browser) {
    const { command, args } = defaultBrowserCommand(url);
    spawn(command, args, { stdio: 'ignore', detached: true })
      .on('error', () => undefined)
      .unref();
    console.log('Opened in your default browser (no Chromium, Chrome or Edge found for a window of its own). Stop the server with Ctrl+C.');
    return undefined;
  }
  const profile = path.join(os.homedir(), '.cnn-inspector', 'browser-window');
  const child = spawn(browser, appWindowArgs(url, profile, { asRoot: process.getuid?.() === 0 }), { stdio: 'ignore' });
  child.on('error', (error) => console.log(`Could not open ${browser}: ${error.message}. Open the link above instead.`));
  child.on('exit', () => {
    console.log('The CNN Inspector window was closed: stopping.');
    onClosed();
  });
  console.log(`Opened CNN Inspector in a window of ${path.basename(browser)}; closing it stops CNN Inspector.`);
  return child;
}
