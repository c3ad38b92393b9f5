/**
 * Browser mode end to end, in real Chromium (Debian's /usr/bin/chromium via playwright-core): the app opens on
 * the bundled model, `conv1` shows a grid of 32 activation tiles, a tile opens its map over the image, the
 * accuracy job runs with progress; a screenshot is saved to test-results/. Also: the token guard of
 * `--host 0.0.0.0`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../electron/server/server';
import { launchChromium, TEST_RESULTS } from '../helpers/chromium';
import { topBottom, writeImageFolder } from '../helpers/image-folders';

const ROOT = path.resolve(__dirname, '..', '..');
const OUT = TEST_RESULTS;

describe('browser mode in Chromium', () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    // A fresh workspace: the atlas test builds its atlas from scratch (worker threads inherit the variable).
    process.env.CNN_INSPECTOR_WORKSPACE = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-ws-'));
    server = await startServer({ port: 0, quiet: true, workers: 2 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A new 1600×900 page on the app (optionally waiting for the first grid), collecting page errors. */
  async function openApp(options: { waitForGrid?: boolean } = {}): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    if (options.waitForGrid !== false) await page.waitForSelector('[data-unit-tile="0"]', { timeout: 60_000 });
    return { page, errors };
  }

  it('shows the layer tree, predictions and the conv1 activation grid; a tile opens its map', async () => {
    const { page, errors } = await openApp({ waitForGrid: false });
    await page.locator('[data-layer="conv1"]').click();
    await page.waitForSelector('[data-unit-tile="31"]', { timeout: 60_000 });
    expect(await page.locator('[data-unit-tile]').count()).toBe(32);
    // Layer tree with shapes and parameter counts.
    await expect(page.locator('[data-layer="conv1"]').textContent()).resolves.toMatch(/28 × 28 × 32.*832/);
    // Predictions chart (ECharts canvas) and the verdict line.
    await page.waitForSelector('.verdict');
    expect(await page.locator('.chart canvas').count()).toBeGreaterThan(0);
    // Status bar names the model, the images and the backend.
    const status = await page.locator('footer.status').textContent();
    expect(status).toMatch(/ZF-Fashion/);
    expect(status).toMatch(/Sample images/);
    expect(status).toMatch(/wasm/);
    // Tiles are painted: the canvas of unit 0 is 28×28.
    const size = await page
      .locator('canvas[data-unit="0"]')
      .evaluate((c) => [(c as unknown as { width: number }).width, (c as unknown as { height: number }).height]);
    expect(size).toEqual([28, 28]);
    await page.screenshot({ path: path.join(OUT, 'browser-conv1.png') });

    await page.locator('[data-unit-tile="5"]').click();
    await page.waitForSelector('[role="dialog"]');
    await expect(page.locator('[role="dialog"] h2').textContent()).resolves.toMatch(/conv1 · unit 5/);
    // The unit's strongest activation projected to pixels, three ways, each drawn at input size.
    for (const method of ['deconv', 'guided', 'gradient']) {
      await expect.poll(() => page.locator(`canvas[data-projection="${method}"]`).getAttribute('width'), { timeout: 30_000 }).toBe('28');
    }
    await page.locator('[role="dialog"]').focus();
    await page.keyboard.press('ArrowRight');
    await expect(page.locator('[role="dialog"] h2').textContent()).resolves.toMatch(/unit 6/);
    // Each projection faded (aria-busy) until unit 6's own has come.
    await expect.poll(() => page.locator('canvas[data-projection][aria-busy="false"]').count(), { timeout: 30_000 }).toBe(3);
    await page.screenshot({ path: path.join(OUT, 'browser-unit-detail.png') });
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[role="dialog"]').count()).toBe(0);

    // Keyboard: arrow down in the layer tree moves to pool1 (32 units, 14×14).
    await page.locator('[data-layer="conv1"]').click();
    await page.locator('ul[role="listbox"]').first().press('ArrowDown');
    await expect.poll(() => page.locator('canvas[data-unit="0"]').getAttribute('width'), { timeout: 30_000 }).toBe('14');

    // The accuracy job runs with a progress bar and ends with a per-class result.
    await page.getByRole('button', { name: /Check accuracy/ }).click();
    await page.waitForSelector('.per-class li', { timeout: 120_000 });
    expect(await page.locator('.per-class li').count()).toBe(10);
    expect(await page.locator('[data-confusion] canvas').count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('atlas: builds with progress, shows ZF Fig. 2 sheets per unit, and an image opens in Inspect', async () => {
    const { page, errors } = await openApp();
    await page.locator('[data-view="atlas"]').click();
    await page.getByRole('button', { name: 'Build atlas' }).click();
    await page.waitForSelector('[role="progressbar"]', { timeout: 30_000 });
    await page.waitForSelector('[data-atlas-unit="31"] img', { timeout: 240_000 });
    expect(await page.locator('[data-atlas-unit]').count()).toBe(32);
    expect(await page.locator('[data-atlas-layer]').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/^conv1/), expect.stringMatching(/^conv5/), expect.stringMatching(/^fc7/)]),
    );
    await page.locator('[data-atlas-layer="conv3"]').click();
    await page.waitForSelector('[data-atlas-unit="95"] img', { timeout: 60_000 });
    await page.screenshot({ path: path.join(OUT, 'browser-atlas.png') });
    await page.locator('[data-atlas-unit="5"]').click();
    await page.waitForSelector('.detail .top li');
    expect(await page.locator('.detail .top li').count()).toBe(9);
    await page.locator('.detail .top li button').first().click();
    // Inspect opens on conv3 with the unit's map over the image.
    await page.waitForSelector('[role="dialog"] h2');
    await expect(page.locator('[role="dialog"] h2').textContent()).resolves.toMatch(/conv3 · unit 5/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('invariance: sweeps five images and draws the 3 × 3 plots', async () => {
    const { page, errors } = await openApp();
    await page.locator('[data-view="invariance"]').click();
    const csv = page.getByRole('button', { name: 'CSV' });
    expect(await csv.isDisabled()).toBe(true);
    await page.getByRole('button', { name: /Move, scale and rotate/ }).click();
    await expect.poll(() => csv.isDisabled(), { timeout: 120_000 }).toBe(false);
    expect(await page.locator('[data-invariance-chart] canvas').count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(OUT, 'browser-invariance.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('training evolution: a units × checkpoints grid of projections', async () => {
    const { page } = await openApp();
    await page.locator('[data-view="evolution"]').click();
    await expect(page.locator('[data-evolution-empty]').textContent()).resolves.toMatch(/press Show evolution/);
    await page.getByRole('button', { name: 'Show evolution' }).click();
    await page.waitForSelector('[data-evolution-grid] tbody tr:nth-child(8) td img', { timeout: 120_000 });
    const columns = await page.locator('[data-evolution-grid] thead th').count();
    expect(columns).toBeGreaterThanOrEqual(3); // unit + at least one checkpoint + final
    expect(await page.locator('[data-evolution-grid] tbody tr').count()).toBe(8);
    await page.screenshot({ path: path.join(OUT, 'browser-evolution.png') });
    await page.close();
  });

  it('which layers learn first: a probe of each layer at every checkpoint, with where each settled', async () => {
    const { page, errors } = await openApp();
    await page.locator('[data-view="evolution"]').click();
    await page.locator('section[aria-label="Layers over training time"]').getByRole('button', { name: 'Measure' }).click();
    await page.waitForSelector('[data-probe-training-verdict]', { timeout: 240_000 });
    // Six layers, each settled at one of the saved moments (epoch-N or final).
    await expect(page.locator('[data-probe-training-verdict]').textContent()).resolves.toMatch(
      /^\s*Settled \(within one point of its final accuracy\):(\s*,?\s*\w+ at (epoch-\d+|final)){6}\.\s*$/,
    );
    expect(await page.locator('[data-probe-training-chart]').isVisible()).toBe(true);
    // 500 samples → 150 held out: the sentence says how big a difference that can resolve.
    await expect(page.locator('[data-probe-training-noise]').textContent()).resolves.toMatch(
      /With 150 held-out images, differences under about [3-9] points may be chance/,
    );
    await page.screenshot({ path: path.join(OUT, 'browser-probe-training.png') });
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);

  it('parts correspondence: boxes dragged on five images give a table with a random control', async () => {
    const { page } = await openApp();
    await page.locator('[data-view="correspondence"]').click();
    await page.waitForSelector('[data-corr-image="4"] img');
    for (let i = 0; i < 5; i++) {
      const box = (await page.locator(`[data-corr-image="${i}"]`).boundingBox())!;
      await page.mouse.move(box.x + 20, box.y + 100);
      await page.mouse.down();
      await page.mouse.move(box.x + 70, box.y + 140, { steps: 3 });
      await page.mouse.up();
    }
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.waitForSelector('[data-corr-table] tbody tr:nth-child(2)', { timeout: 60_000 });
    const rows = await page.locator('[data-corr-table] tbody tr').allTextContents();
    expect(rows[0]).toMatch(/^part 1/);
    expect(rows[1]).toMatch(/^random/);
    // The result in words: in which layers the part is coded more alike than random boxes.
    await expect(page.locator('[data-corr-verdict]').first().textContent()).resolves.toMatch(/^“part 1”: .*(conv|fc)\d/);
    await page.screenshot({ path: path.join(OUT, 'browser-parts.png') });
    await page.close();
  });

  it('selectivity: sparsity table, AuE curves, grandmother-cell APs and probes', async () => {
    const { page, errors } = await openApp();
    await page.locator('[data-view="selectivity"]').click();
    for (const button of await page.getByRole('button', { name: 'Measure' }).all()) await button.click();
    await page.waitForSelector('[data-sparsity] tr', { timeout: 120_000 });
    await page.waitForSelector('.verdict', { timeout: 120_000 });
    await expect.poll(() => page.locator('section[aria-label="Class selectivity"] button:has-text("PNG")').isDisabled(), { timeout: 120_000 }).toBe(false);
    expect(await page.locator('[data-sparsity] tr').count()).toBeGreaterThan(10);
    // "Measure" also started the distributed-code analysis of the grandmother-cell layer (SVMs on unit subsets).
    await page.waitForSelector('[data-distributed-overlap]', { timeout: 120_000 });
    await expect(page.locator('[data-distributed-overlap]').textContent()).resolves.toMatch(/random sets of \d+ of the \d+ units would share \d+ %/);
    await page.screenshot({ path: path.join(OUT, 'browser-selectivity.png') });
    // Fig. 3: precision–recall curves of the class's best units against random units.
    expect(await page.locator('[data-pr-chart]').isVisible()).toBe(true);
    await page.locator('[data-pr-chart]').scrollIntoViewIfNeeded();
    await page.locator('[data-pr-chart]').screenshot({ path: path.join(OUT, 'browser-pr-curves.png') });
    // Where is the information: probes of two layers on helper threads inside the engine's own thread.
    await page.getByRole('listbox', { name: 'Layers to compare' }).selectOption(['conv5', 'fc7']);
    await page.locator('[data-probe-panel]').getByRole('button', { name: 'Probe' }).click();
    await page.waitForSelector('[data-probe] tbody tr', { timeout: 180_000 });
    const probeRows = await page.locator('[data-probe] tbody tr').allTextContents();
    expect(probeRows).toHaveLength(2);
    for (const row of probeRows) expect(row).toMatch(/^(conv5|fc7)(\s*\d+\.\d ±\d+\.\d){4}$/);
    await expect(page.locator('[data-probe-readings]').textContent()).resolves.toMatch(/From conv5 to fc7 the accuracy goes from/);
    await page.locator('[data-probe-panel]').scrollIntoViewIfNeeded();
    await page.locator('[data-probe-panel]').screenshot({ path: path.join(OUT, 'browser-probe.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('teach it: fine-tunes on the open folder with live curves, then the new model is used', async () => {
    const { page, errors } = await openApp();
    await page.locator('[data-view="train"]').click();
    // 500 sample images, similar to the model's own → the recommendation is to train only a new last step.
    expect(await page.locator('[data-strategy="features"]').isChecked()).toBe(true);
    // Check the images first: every one is looked at and the verdict is stated.
    await page.getByRole('button', { name: 'Check my images for look-alikes' }).click();
    await expect.poll(() => page.locator('[data-dataset-check]').textContent(), { timeout: 60_000 }).toMatch(/among (the )?500/);
    // How many images are needed: a curve over images per class and a plain verdict.
    await page.getByRole('button', { name: 'How many images do I need?' }).click();
    await page.waitForSelector('[data-images-per-class-verdict]', { timeout: 120_000 });
    await expect(page.locator('[data-images-per-class-verdict]').textContent()).resolves.toMatch(/With 40 per class: \d+ %/);
    await page.locator('input[aria-label="Epochs"]').fill('3');
    await page.getByRole('button', { name: 'Train' }).click();
    await page.waitForSelector('[data-runs] tbody tr', { timeout: 180_000 });
    const row = await page.locator('[data-runs] tbody tr').first().textContent();
    // The run's model downloads as a TF.js zip straight from its row.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('[data-runs] tbody tr').first().getByRole('button', { name: 'TF.js' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/\.zip$/);
    const accuracy = Number(/([\d.]+) %/.exec(row ?? '')?.[1]);
    expect(accuracy).toBeGreaterThan(30); // 10 classes: chance is 10 %
    // Per-class accuracies and the confusion matrix of the run on its held-back images.
    await page.waitForSelector('[data-run-details] .classes li');
    expect(await page.locator('[data-run-details] .classes li').count()).toBe(10);
    expect(await page.locator('[data-run-details] canvas').count()).toBeGreaterThan(0);
    // The run is named by its way, folder and start time; its model card opens in the page (browser mode) and closes
    // with the focus back on its button.
    await expect(page.locator('[data-runs] [data-run-name]').first().textContent()).resolves.toMatch(
      /^\s*Keep what it knows · Sample images.* · \d\d:\d\d\s*$/,
    );
    await page.locator('[data-open-card]').click();
    await expect(page.locator('[data-model-card] h3').first().textContent()).resolves.toBe('What it does');
    await expect(page.locator('[data-model-card] table tbody tr').count()).resolves.toBe(10);
    await page.locator('[data-model-card]').screenshot({ path: path.join(OUT, 'browser-model-card.png') });
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[data-model-card]').count()).toBe(0);
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as { document: { activeElement: { hasAttribute(n: string): boolean } | null } }).document.activeElement?.hasAttribute(
          'data-open-card',
        ),
      ),
    ).toBe(true);
    // What training changed: the "keep what it knows" way leaves every pretrained layer's weights where they were.
    await page.getByRole('button', { name: /^Compare with/ }).click();
    await page.waitForSelector('[data-comparison] tbody tr', { timeout: 180_000 });
    await expect(page.locator('[data-comparison] tbody tr', { hasText: 'conv1' }).textContent()).resolves.toMatch(/kept/);
    // …so a probe on conv1 tells the classes apart exactly as well before as after.
    await expect(page.locator('[data-comparison] tbody tr', { hasText: 'conv1' }).locator('[data-comparison-probe]').textContent()).resolves.toMatch(
      /^\s*(\d+) → \1 %\s*$/,
    );
    await page.screenshot({ path: path.join(OUT, 'browser-train.png') });
    // A confusion cell opens its held-back images; one of them opens in Inspect with the run's own model.
    const matrix = page.locator('[data-run-details] [data-confusion]');
    const box = (await matrix.boundingBox())!;
    // The chart's grid: 124 px left, 10 top, 10 right, 90 bottom; 10 × 10 cells; the top-left one is the first
    // class taken for itself.
    await page.mouse.click(box.x + 124 + (box.width - 134) / 20, box.y + 10 + (box.height - 100) / 20);
    await expect
      .poll(() => page.locator('[data-run-details] [data-drill] p').textContent(), { timeout: 10_000 })
      .toMatch(/^Ankle-boot recognised correctly \(\d+\)/);
    await page.locator('[data-run-details] [data-drill] .thumb').first().click();
    await expect.poll(() => page.locator('footer.status').textContent(), { timeout: 30_000 }).toMatch(/fine-tuned \(features\)/);
    await page.waitForSelector('[data-unit-tile="0"]', { timeout: 30_000 });
    await page.locator('[data-view="train"]').click();
    await page.getByRole('button', { name: 'Use this model' }).click();
    await expect.poll(() => page.locator('footer.status').textContent(), { timeout: 30_000 }).toMatch(/fine-tuned \(features\)/);
    // Back to the default model for the tests that follow.
    await page.getByRole('button', { name: 'Back to the default model' }).click();
    await expect.poll(() => page.locator('footer.status').textContent(), { timeout: 30_000 }).not.toMatch(/fine-tuned/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('teach it: a run paused part way is listed as unfinished and resumes to the end; the ablation table compares versions', async () => {
    const { page, errors } = await openApp();
    await page.locator('[data-view="train"]').click();
    // "Adjust the whole network" offers a learning-rate factor per layer: a tenth for pretrained ones, 1 for the new last step.
    await page.locator('[data-strategy="all"]').check();
    await page.locator('[data-layer-rates] summary').click();
    await expect(page.locator('input[aria-label="Learning rate factor of conv1"]').inputValue()).resolves.toBe('0.1');
    await expect(page.locator('input[aria-label="Learning rate factor of fc7"]').inputValue()).resolves.toBe('0.1');
    await expect(page.locator('input[aria-label="Learning rate factor of fc8"]').count()).resolves.toBe(0); // replaced by the new last step
    await expect(page.locator('input[aria-label="Learning rate factor of the new last step"]').inputValue()).resolves.toBe('1');
    await page.locator('[data-strategy="fc"]').check();
    // Enough passes for a time-left estimate (it waits for 2 s of measured pace; a pass of "retrain the top" on the samples takes a quarter of a second).
    await page.locator('input[aria-label="Epochs"]').fill('30');
    await page.getByRole('button', { name: 'Train' }).click();
    // Pause once the second pass is under way, with a time-left estimate on show.
    await expect.poll(() => page.locator('[role="progressbar"]').textContent(), { timeout: 120_000 }).toMatch(/Epoch 2 of 30/);
    await page.waitForSelector('[data-eta]', { timeout: 30_000 });
    await page.locator('[data-pause]').click();
    await page.waitForSelector('[data-unfinished-runs] [data-resume]', { timeout: 60_000 });
    await expect(page.locator('[data-unfinished-runs]').textContent()).resolves.toMatch(/Paused after pass ([1-9]|1\d|2[0-9]) of 30/);
    await page.screenshot({ path: path.join(OUT, 'browser-train-paused.png') });
    await page.locator('[data-unfinished-runs] [data-resume]').click();
    await page.waitForSelector('[data-runs] tbody tr', { timeout: 180_000 });
    await expect(page.locator('[data-runs] [data-run-name]').first().textContent()).resolves.toMatch(
      /^\s*Keep the pattern detectors · Sample images.* · \d\d:\d\d\s*$/,
    );
    await expect.poll(() => page.locator('[data-unfinished-runs]').count(), { timeout: 10_000 }).toBe(0);
    // Which layers matter: two versions (the full network and one without its middle convolution layers), one pass each.
    await page.locator('[data-ablation] summary').click();
    const boxes = page.locator('[data-ablation] label.check input');
    for (let i = 1; i < (await boxes.count()); i++) await boxes.nth(i).uncheck();
    await page.locator('input[aria-label="Ablation epochs"]').fill('1');
    await page.getByRole('button', { name: 'Train 2 versions' }).click();
    await page.waitForSelector('[data-ablation-table] tbody tr:nth-child(2)', { timeout: 180_000 });
    await expect(page.locator('[data-ablation-table] tbody tr').nth(1).textContent()).resolves.toMatch(/without conv3 \+ conv4/);
    await page.locator('[data-ablation-table]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUT, 'browser-ablation.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('teach it: a folder chosen in the browser is copied to the engine with progress and opens as the image folder', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-folder-'));
    const folder = path.join(dir, 'my clothes');
    await writeImageFolder(folder, ['bags', 'boots'], 8, 28, topBottom);
    fs.writeFileSync(path.join(folder, 'bags', '.DS_Store'), 'hidden');
    const { page, errors } = await openApp();
    await page.locator('[data-view="train"]').click();
    await page.locator('[data-folder-input]').setInputFiles(folder);
    await expect.poll(() => page.locator('footer.status').textContent(), { timeout: 60_000 }).toMatch(/Images:\s*my clothes \(16\)/);
    await expect(page.locator('[data-class-counts] li').allTextContents()).resolves.toEqual([
      expect.stringMatching(/^bags\s*8$/),
      expect.stringMatching(/^boots\s*8$/),
    ]);
    // Each class shows its first images.
    await expect.poll(() => page.locator('[data-class-counts] li img').count(), { timeout: 10_000 }).toBe(6);
    await page.screenshot({ path: path.join(OUT, 'browser-folder-chosen.png') });
    // Back to the bundled samples for the tests that follow.
    await page.locator('[data-view="inspect"]').click();
    await page.getByRole('button', { name: 'Sample images' }).click();
    await expect.poll(() => page.locator('footer.status').textContent(), { timeout: 30_000 }).toMatch(/Sample images/);
    expect(errors).toEqual([]);
    await page.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('results belong to their model and folder: a new folder keeps the layer, hides the old accuracy, and an unreadable first image shows nothing of the one before', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-stale-'));
    const folder = path.join(dir, 'shapes');
    await writeImageFolder(folder, ['bags', 'boots'], 4, 28, topBottom);
    // The first file of the first class cannot be decoded.
    fs.writeFileSync(
      path.join(folder, 'bags', '0-broken.png'),
      Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]),
    );
    const { page } = await openApp();
    await page.locator('[data-layer="conv2"]').click();
    await expect.poll(() => page.locator('canvas[data-unit="0"]').getAttribute('width'), { timeout: 30_000 }).toBe('14');
    await page.getByRole('button', { name: /Check accuracy/ }).click();
    await page.waitForSelector('.per-class li', { timeout: 120_000 });
    await page.waitForSelector('.verdict');

    // Another folder, chosen from Teach it; back in Inspect the layer is still conv2 and the accuracy is gone.
    await page.locator('[data-view="train"]').click();
    await page.locator('[data-folder-input]').setInputFiles(folder);
    await expect.poll(() => page.locator('footer.status').textContent(), { timeout: 60_000 }).toMatch(/Images:\s*shapes \(9\)/);
    // Teach it's class counts leave the broken file out of its class and say why.
    await expect.poll(() => page.locator('[data-unreadable]').textContent(), { timeout: 30_000 }).toMatch(/1 file\(s\) could not be read.*bags\/0-broken\.png/);
    await expect(page.locator('[data-class-counts] li', { hasText: 'bags' }).locator('.num').textContent()).resolves.toMatch(/^\s*4\s*−1\s*$/);
    await page.locator('[data-view="inspect"]').click();
    await expect(page.locator('[data-layer="conv2"]').getAttribute('aria-selected')).resolves.toBe('true');
    await expect.poll(() => page.locator('h2').allTextContents()).toContainEqual(expect.stringMatching(/What each unit of conv2 sees/));
    await expect.poll(() => page.locator('.per-class li').count()).toBe(0);
    // …and the view says where the hidden one came from, with a button to compute it for this folder.
    await expect(page.locator('[data-elsewhere]').textContent()).resolves.toMatch(
      /The last accuracy check was computed for ZF-Fashion.* · Sample images.*, so it is not shown here\.\s*Compute it for these/,
    );
    // The broken first image: its error, and neither the previous image's picture nor its predictions.
    await page.waitForSelector('[role="alert"]', { timeout: 30_000 });
    await expect(page.locator('[role="alert"]').textContent()).resolves.toMatch(/IMAGE_DECODE_FAILED|could not be (read|decoded)/i);
    expect(await page.locator('.verdict').count()).toBe(0);
    expect(await page.locator('img.big').count()).toBe(0);
    // A readable image, then away to another tab and back: it is still shown.
    await page.locator('[data-image-index="1"]').click();
    await page.waitForSelector('.verdict', { timeout: 30_000 });
    await page.locator('[data-view="atlas"]').click();
    await page.locator('[data-view="inspect"]').click();
    await page.waitForSelector('img.big', { timeout: 30_000 });

    // Back to the samples: their accuracy, computed for this model and folder, shows again.
    await page.getByRole('button', { name: 'Sample images' }).click();
    await expect.poll(() => page.locator('footer.status').textContent(), { timeout: 30_000 }).toMatch(/Sample images/);
    await expect.poll(() => page.locator('.per-class li').count(), { timeout: 10_000 }).toBe(10);
    expect(await page.locator('[data-elsewhere]').count()).toBe(0);
    await page.screenshot({ path: path.join(OUT, 'browser-context-kept.png') });
    await page.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('occlusion: slides the square with progress, draws the three maps, and a click shows the occluded answer', async () => {
    const { page, errors } = await openApp();
    await page.locator('[data-view="occlusion"]').click();
    await page.getByRole('button', { name: 'Slide the square' }).click();
    for (const kind of ['probability', 'topLabel', 'feature']) await page.waitForSelector(`[data-occlusion-map="${kind}"] canvas`, { timeout: 60_000 });
    await page.waitForTimeout(500);
    const box = (await page.locator('[data-occlusion-map="probability"]').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 3);
    await page.waitForSelector('.picked ol li');
    expect(await page.locator('.picked ol li').count()).toBe(3);
    await page.screenshot({ path: path.join(OUT, 'browser-occlusion.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('opens an ONNX file picked in the browser, asks once for its labels and input, and exports it', async () => {
    const { page, errors } = await openApp();
    await page.locator('input[aria-label="Model file"]').setInputFiles(path.join(ROOT, 'tests', 'fixtures', 'onnx', 'cnn-ops.onnx'));
    // The file has no labels: the settings dialog opens by itself.
    await page.waitForSelector('[role="dialog"][aria-label="Model settings"]', { timeout: 60_000 });
    await expect(page.locator('aside.left > h2').textContent()).resolves.toBe('cnn-ops');
    await page.screenshot({ path: path.join(OUT, 'browser-model-settings.png') });
    const names = ['apple', 'bee', 'car', 'dog', 'egg', 'fig', 'goat', 'hat', 'ink', 'jar'];
    await page.locator('textarea[aria-label="Class names"]').fill(names.slice(0, 3).join('\n'));
    await expect(page.locator('.dialog .warn').textContent()).resolves.toMatch(/10 outputs; you listed 3/);
    await page.locator('textarea[aria-label="Class names"]').fill(names.join('\n'));
    await page.locator('select[aria-label="Pixel scaling"]').selectOption('imagenet');
    await page.locator('button', { hasText: 'Save and apply' }).click();
    await page.waitForSelector('[role="dialog"][aria-label="Model settings"]', { state: 'detached' });
    // The labels are used at once, and the layer tree shows the imported layers.
    await expect.poll(() => page.locator('.verdict').textContent(), { timeout: 30_000 }).toMatch(new RegExp(names.join('|')));
    await expect(page.locator('[data-layer="gconv"]').textContent()).resolves.toMatch(/GroupedConv2D/);
    await page.locator('[data-layer="dw"]').click();
    await page.waitForSelector('[data-unit-tile="31"]', { timeout: 60_000 });
    await page.screenshot({ path: path.join(OUT, 'browser-onnx-model.png') });
    const download = page.waitForEvent('download');
    await page.locator('button', { hasText: 'Export ONNX' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('cnn-ops.onnx');
    const saved = path.join(OUT, 'exported-cnn-ops.onnx');
    await file.saveAs(saved);
    expect(fs.statSync(saved).size).toBeGreaterThan(60_000);
    // Back to the bundled model for the other tests.
    await page.locator('button', { hasText: 'Back to the default model' }).click();
    await expect.poll(() => page.locator('aside.left > h2').textContent(), { timeout: 30_000 }).toMatch(/ZF-Fashion/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('refuses other sites’ WebSocket connections', async () => {
    const page = await browser.newPage();
    await page.goto('about:blank');
    const wsUrl = server.url.replace('http', 'ws').replace(/\/(\?.*)?$/, '/ws');
    const outcome = await page.evaluate(
      (url) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
        }),
      wsUrl,
    );
    expect(outcome).toBe('refused');
    await page.close();
  });
});

describe('classroom mode (--host 0.0.0.0)', () => {
  it('every request needs the random token from the printed URL', async () => {
    const server = await startServer({ host: '0.0.0.0', port: 0, quiet: true, workers: 1 });
    try {
      expect(server.token).toMatch(/^[\w-]{20,}$/);
      const base = new URL(server.url);
      const port = base.port;
      const without = await fetch(`http://127.0.0.1:${port}/`);
      expect(without.status).toBe(401);
      const wrong = await fetch(`http://127.0.0.1:${port}/?token=nope`);
      expect(wrong.status).toBe(401);
      // The token is swapped for an HttpOnly cookie and a redirect to the same page without it.
      const withToken = await fetch(`http://127.0.0.1:${port}/?token=${server.token}`, { redirect: 'manual' });
      expect(withToken.status).toBe(303);
      const cookie = withToken.headers.get('set-cookie')!.split(';')[0];
      const page = await fetch(`http://127.0.0.1:${port}/`, { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/CNN Inspector/);
    } finally {
      await server.close();
    }
  });
});
