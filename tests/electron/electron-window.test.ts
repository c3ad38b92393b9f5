/**
 * The real Electron window via Playwright's _electron. Runs where the Electron binary is installed; otherwise
 * prints why it is skipped (it never pretends to pass).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { _electron as electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');

function electronBinary(): { path?: string; reason?: string } {
  try {
    const p = createRequire(path.join(ROOT, 'package.json'))('electron') as unknown;
    return typeof p === 'string' ? { path: p } : { reason: 'electron package did not return a binary path' };
  } catch (error) {
    return { reason: String(error instanceof Error ? error.message : error).split('\n')[0] };
  }
}

const binary = electronBinary();
const display = process.platform !== 'linux' || Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
const skipReason = !binary.path ? `electron binary not installed (${binary.reason})` : !display ? 'no display (DISPLAY unset)' : undefined;
if (skipReason) console.log(`skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('Electron window', () => {
  it('opens locked down, exposes only window.inspector, and shows the conv1 grid', async () => {
    const app = await electron.launch({ executablePath: binary.path, args: [path.join(ROOT, 'dist', 'electron', 'main.cjs')] });
    try {
      const window = await app.firstWindow();
      await window.waitForSelector('[data-unit-tile="31"]', { timeout: 60_000 });
      const exposed = await window.evaluate(() => ({
        inspector: typeof (window as unknown as { inspector?: unknown }).inspector,
        require: typeof (window as unknown as { require?: unknown }).require,
        process: typeof (window as unknown as { process?: unknown }).process,
      }));
      expect(exposed).toEqual({ inspector: 'object', require: 'undefined', process: 'undefined' });
      const prefs = await app.evaluate(({ BrowserWindow }) => {
        const w = BrowserWindow.getAllWindows()[0];
        const p = (w.webContents as unknown as { getLastWebPreferences(): Record<string, unknown> | null }).getLastWebPreferences();
        return { contextIsolation: p?.contextIsolation, sandbox: p?.sandbox, nodeIntegration: p?.nodeIntegration };
      });
      expect(prefs).toEqual({ contextIsolation: true, sandbox: true, nodeIntegration: false });
      await window.screenshot({ path: path.join(ROOT, 'test-results', 'electron-conv1.png') });
    } finally {
      await app.close();
    }
  });
});
