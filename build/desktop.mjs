/**
 * What `npm start` opens, in this order (README, "The two commands"):
 *  1. Electron's window — its binary from ELECTRON_OVERRIDE_DIST_PATH, the `electron` package, or an `electron`
 *     on the PATH; where none is installed, fetched once with a progress line (where the network allows).
 *  2. Else the same UI as a desktop window of a Chromium-family browser found on the machine, in app mode
 *     (`--app=URL`: no tabs, no address bar) with a profile folder of its own; the server stops when it closes.
 *  3. Else the default browser (the server then stops with Ctrl+C); with no display at all, only the link.
 * Pure functions here (the candidates, the arguments); start.mjs runs them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** `name` on the PATH (with Windows' extensions), or undefined. */
export function onPath(name, env = process.env, platform = process.platform, exists = fs.existsSync) {
  const dirs = (env.PATH ?? '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
  const names = platform === 'win32' ? [`${name}.exe`, `${name}.cmd`] : [name];
  for (const dir of dirs) for (const n of names) if (exists(path.join(dir, n))) return path.join(dir, n);
  return undefined;
}

/** Electron's binary, or why there is none. `requireElectron` is the `electron` package's own lookup. */
export function findElectron({ env = process.env, platform = process.platform, exists = fs.existsSync, requireElectron }) {
  const reasons = [];
  try {
    const found = requireElectron();
    if (typeof found === 'string' && exists(found)) return { path: found };
    reasons.push(
      env.ELECTRON_OVERRIDE_DIST_PATH
        ? `ELECTRON_OVERRIDE_DIST_PATH (${env.ELECTRON_OVERRIDE_DIST_PATH}) has no Electron binary`
        : 'the electron package names a binary that is not there',
    );
  } catch {
    reasons.push("the electron package's binary is not installed");
  }
  // npm puts node_modules/.bin on the PATH of its scripts: that `electron` is the same missing package.
  const paths = (env.PATH ?? '').split(platform === 'win32' ? ';' : ':').filter((dir) => !dir.split(/[\\/]/).includes('node_modules'));
  const installed = onPath('electron', { ...env, PATH: paths.join(platform === 'win32' ? ';' : ':') }, platform, exists);
  if (installed) return { path: installed };
  return { reason: reasons.join('; ') };
}

/** Chromium-family browsers where they are usually installed, most app-like first. */
export function browserCandidates(platform = process.platform, env = process.env) {
  if (platform === 'darwin') {
    return ['Google Chrome', 'Chromium', 'Microsoft Edge', 'Brave Browser'].map((app) => `/Applications/${app}.app/Contents/MacOS/${app}`);
  }
  if (platform === 'win32') {
    const roots = [env.PROGRAMFILES, env['PROGRAMFILES(X86)'], env.LOCALAPPDATA].filter(Boolean);
    const apps = [
      'Google\\Chrome\\Application\\chrome.exe',
      'Microsoft\\Edge\\Application\\msedge.exe',
      'Chromium\\Application\\chrome.exe',
      'BraveSoftware\\Brave-Browser\\Application\\brave.exe',
    ];
    return roots.flatMap((root) => apps.map((app) => path.win32.join(root, app)));
  }
  return ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'microsoft-edge', 'brave-browser'];
}

/** The first Chromium-family browser installed, or undefined. */
export function findBrowser({ platform = process.platform, env = process.env, exists = fs.existsSync } = {}) {
  for (const candidate of browserCandidates(platform, env)) {
    const found =
      path.isAbsolute(candidate) || path.win32.isAbsolute(candidate) ? (exists(candidate) ? candidate : undefined) : onPath(candidate, env, platform, exists);
    if (found) return found;
  }
  return undefined;
}

/**
 * The browser's arguments for an app window on `url` with its own profile (so it is a process of its own that
 * ends when the window closes, not a tab handed to a running browser).
 */
export function appWindowArgs(url, profileDir, { asRoot = false } = {}) {
  return [
    `--app=${url}`,
    `--user-data-dir=${profileDir}`,
    // The screen's size, whatever it is (a 1280×720 projector): a fixed size larger than the screen runs off it.
    '--start-maximized',
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-sync',
    // Chromium refuses to start as root without it (a classroom laptop run as root, a container).
    ...(asRoot ? ['--no-sandbox'] : []),
  ];
}

/** The command that opens `url` in the default browser. */
export function defaultBrowserCommand(url, platform = process.platform) {
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', url] };
  return { command: 'xdg-open', args: [url] };
}

/** Whether windows can be shown at all (Linux needs an X or Wayland display). */
export function hasDisplay(env = process.env, platform = process.platform) {
  return platform !== 'linux' || Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}
