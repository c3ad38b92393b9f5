/**
 * The model zoo as a person uses it, in Chromium against browser mode: "Model zoo…" lists the networks, "Download
 * & open" fetches one from a loopback mirror with a progress bar, and the network opens with ImageNet's class
 * names and nothing to fill in; a corrupted download is refused with a plain message and the app keeps working.
 * The catalog and mirror are the server owner's (CNN_INSPECTOR_ZOO_CATALOG / _MIRROR), never the browser's.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium, TEST_RESULTS } from '../helpers/chromium';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../electron/engine/backend';
import { startServer, type RunningServer } from '../../electron/server/server';
import { tinyImagenetNet } from '../helpers/tiny-imagenet-net';

const OUT = TEST_RESULTS;

describe('model zoo dialog (browser mode)', () => {
  let server: RunningServer;
  let mirror: http.Server;
  let browser: Browser;

  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    const { bytes, entry } = tinyImagenetNet('nets/tiny.onnx');
    // Served slowly (1 KB every 100 ms, about 2 s for the whole file) so the progress bar is seen.
    mirror = http.createServer((req, res) => {
      if (!req.url?.endsWith('/nets/tiny.onnx')) return void res.writeHead(404).end();
      const body = bytes;
      res.writeHead(200, { 'Content-Length': body.length });
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed || at >= body.length) {
          clearInterval(timer);
          return void (res.destroyed || res.end());
        }
        res.write(body.subarray(at, (at += 1024)));
      }, 100);
    });
    await new Promise<void>((resolve) => mirror.listen(0, '127.0.0.1', resolve));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-zoo-'));
    const catalog = path.join(tmp, 'catalog.json');
    fs.writeFileSync(catalog, JSON.stringify([entry, { ...entry, name: 'broken-net', title: 'Broken net', path: 'nets/tiny.onnx', sha256: 'f'.repeat(64) }]));
    process.env.CNN_INSPECTOR_WORKSPACE = path.join(tmp, 'ws');
    process.env.CNN_INSPECTOR_ZOO_CATALOG = catalog;
    process.env.CNN_INSPECTOR_ZOO_MIRROR = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/`;
    server = await startServer({ port: 0, quiet: true, workers: 1 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await new Promise((resolve) => mirror?.close(resolve));
    delete process.env.CNN_INSPECTOR_ZOO_CATALOG;
    delete process.env.CNN_INSPECTOR_ZOO_MIRROR;
  });

  it('downloads a network with progress and opens it with ImageNet labels; a corrupted one is refused plainly', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.locator('[data-open-zoo]').click();
    await page.waitForSelector('[data-zoo="tiny-net"]');
    await page.screenshot({ path: path.join(OUT, 'zoo-dialog-1280.png') });

    await page.locator('[data-zoo="broken-net"] button').click();
    await expect
      .poll(() => page.locator('.problem').textContent(), { timeout: 30_000 })
      .toMatch(/Broken net: .*not the Broken net the project pinned.*deleted/);
    await page.screenshot({ path: path.join(OUT, 'zoo-dialog-refused-1280.png') });

    await page.locator('[data-zoo="tiny-net"] button').click();
    await page.waitForSelector('[role="progressbar"]', { timeout: 10_000 });
    await expect.poll(() => page.locator('[role="progressbar"]').textContent()).toMatch(/Downloading Tiny net: .* of .* MB/);
    await page.screenshot({ path: path.join(OUT, 'zoo-dialog-progress-1280.png') });
    await expect.poll(() => page.locator('footer.status').textContent(), { timeout: 60_000 }).toMatch(/Model: Tiny net/);
    // The status bar names the model as soon as the engine has it; the dialog closes when the open call returns.
    await expect.poll(() => page.locator('[aria-label="Model zoo"]').count()).toBe(0);
    // Opened with ImageNet's names and its preprocessing: no settings dialog asks for them.
    expect(await page.locator('[aria-label="Model settings"]').count()).toBe(0);
    await expect.poll(() => page.locator('.verdict').textContent(), { timeout: 30_000 }).toMatch(/The network says (?!class \d)[a-z]/);
    await page.screenshot({ path: path.join(OUT, 'zoo-opened-1280.png') });

    // Listed as downloaded afterwards.
    await page.locator('[data-open-zoo]').click();
    await expect.poll(() => page.locator('[data-zoo="tiny-net"]').textContent()).toMatch(/Downloaded.*Open/);
    expect(errors).toEqual([]);
    await page.close();
  });
});
