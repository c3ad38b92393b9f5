/**
 * What `npm start` opens (build/desktop.mjs): Electron from the override, the package or the PATH; else a
 * Chromium-family browser's app window with its own profile; else the default browser — decided on stand-in
 * file systems, so every platform's order is checked here.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, without type declarations
import { appWindowArgs, browserCandidates, defaultBrowserCommand, findBrowser, findElectron, hasDisplay, onPath } from '../../build/desktop.mjs';

const filesystem = (files: string[]) => (p: string) => files.includes(p);

describe('finding Electron', () => {
  it('takes the package’s binary where it exists', () => {
    expect(
      findElectron({
        env: {},
        exists: filesystem(['/app/node_modules/electron/dist/electron']),
        requireElectron: () => '/app/node_modules/electron/dist/electron',
      }),
    ).toEqual({ path: '/app/node_modules/electron/dist/electron' });
  });

  it('says why when the override names a folder without the binary, and falls back to an electron on the PATH', () => {
    const env = { ELECTRON_OVERRIDE_DIST_PATH: '/opt/e', PATH: '/usr/bin:/usr/local/bin' };
    const missing = findElectron({ env, platform: 'linux', exists: filesystem([]), requireElectron: () => '/opt/e/electron' });
    expect(missing.path).toBeUndefined();
    expect(missing.reason).toMatch(/ELECTRON_OVERRIDE_DIST_PATH \(\/opt\/e\) has no Electron binary/);
    expect(findElectron({ env, platform: 'linux', exists: filesystem(['/usr/local/bin/electron']), requireElectron: () => '/opt/e/electron' })).toEqual({
      path: '/usr/local/bin/electron',
    });
  });

  it('says the binary is not installed when the package throws (its download was skipped)', () => {
    const throwing = () => {
      throw new Error('Electron failed to install correctly');
    };
    // npm's own node_modules/.bin/electron (on the PATH of `npm start`) is that same package, not an Electron.
    const env = { PATH: '/app/node_modules/.bin:/usr/bin' };
    const none = findElectron({ env, platform: 'linux', exists: filesystem(['/app/node_modules/.bin/electron']), requireElectron: throwing });
    expect(none).toEqual({ reason: "the electron package's binary is not installed" });
  });
});

describe('finding a browser for an app window', () => {
  it('Linux: Chromium first, then Chrome, Edge, Brave — on the PATH', () => {
    expect(browserCandidates('linux')).toEqual(['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'microsoft-edge', 'brave-browser']);
    const env = { PATH: '/usr/bin:/snap/bin' };
    expect(findBrowser({ platform: 'linux', env, exists: filesystem(['/snap/bin/chromium', '/usr/bin/google-chrome']) })).toBe('/snap/bin/chromium');
    expect(findBrowser({ platform: 'linux', env, exists: filesystem(['/usr/bin/google-chrome']) })).toBe('/usr/bin/google-chrome');
    expect(findBrowser({ platform: 'linux', env, exists: filesystem(['/usr/bin/firefox']) })).toBeUndefined();
  });

  it('macOS: the applications folder', () => {
    const edge = '/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge';
    expect(findBrowser({ platform: 'darwin', env: {}, exists: filesystem([edge]) })).toBe(edge);
  });

  it('Windows: Program Files and the user’s local programs (Edge is on every Windows 10/11)', () => {
    const env = { PROGRAMFILES: 'C:\\Program Files', 'PROGRAMFILES(X86)': 'C:\\Program Files (x86)', LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local', PATH: '' };
    const edge = 'C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe';
    expect(findBrowser({ platform: 'win32', env, exists: filesystem([edge]) })).toBe(edge);
    expect(onPath('electron', { PATH: 'C:\\tools;D:\\bin' }, 'win32', filesystem([path.join('D:\\bin', 'electron.cmd')]))).toBe(
      path.join('D:\\bin', 'electron.cmd'),
    );
  });

  it('opens the link as an app window with a profile of its own (no tabs, no address bar), no sandbox only as root', () => {
    const args = appWindowArgs('http://127.0.0.1:8765/?token=abc', '/home/a/.cnn-inspector/browser-window');
    expect(args).toContain('--app=http://127.0.0.1:8765/?token=abc');
    expect(args).toContain('--user-data-dir=/home/a/.cnn-inspector/browser-window');
    expect(args).not.toContain('--no-sandbox');
    expect(appWindowArgs('http://x/', '/p', { asRoot: true })).toContain('--no-sandbox');
  });

  it('else the default browser, per platform; and windows need a display on Linux only', () => {
    expect(defaultBrowserCommand('http://x/', 'linux')).toEqual({ command: 'xdg-open', args: ['http://x/'] });
    expect(defaultBrowserCommand('http://x/', 'darwin')).toEqual({ command: 'open', args: ['http://x/'] });
    expect(defaultBrowserCommand('http://x/', 'win32').command).toBe('cmd');
    expect(hasDisplay({}, 'linux')).toBe(false);
    expect(hasDisplay({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toBe(true);
    expect(hasDisplay({}, 'darwin')).toBe(true);
  });
});
