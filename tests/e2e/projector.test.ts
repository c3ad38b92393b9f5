/**
 * What a classroom projector shows (issue 17): every view at 1280×720, in the dark and the light theme, with its
 * results drawn — no control past the right edge, no serious or critical accessibility violation (axe-core), and a
 * screenshot of each (test-results/projector-<view>-<theme>.png). Also the keyboard:
 * the skip link reaches the unit tiles, Esc gives the focus back to the tile that opened the unit, a part box is
 * drawn with keys, a confusion-matrix cell opens with keys; and the theme is remembered after a reload.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../electron/server/server';
import { launchChromium, TEST_RESULTS } from '../helpers/chromium';

// What the page.evaluate callbacks use of the page (this file compiles without the DOM library).
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const window: any;
declare function getComputedStyle(element: unknown): { getPropertyValue(name: string): string };
/* eslint-enable @typescript-eslint/no-explicit-any */

const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const VIEWS = ['inspect', 'filters', 'atlas', 'occlusion', 'invariance', 'correspondence', 'selectivity', 'evolution', 'train'];

interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/** Visible controls whose right edge lies past the viewport (reachable only by scrolling sideways, or not at all). */
function controlsPastTheEdge(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('button, select, input, a[href], [role="tab"], [tabindex="0"]')]
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && (r.right > window.innerWidth + 1 || r.left < -1) && !e.classList.contains('skip-link');
      })
      .map((e) => e.outerHTML.slice(0, 100)),
  );
}

/** axe-core's serious and critical findings on the page as it is now (evaluated, as the page's CSP forbids inline scripts). */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(
    async () =>
      (
        await (window as unknown as { axe: { run: (c: Document, o: object) => Promise<{ violations: AxeViolation[] }> } }).axe.run(document, {
          resultTypes: ['violations'],
        })
      ).violations,
  );
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} (${n.failureSummary?.split('\n')[1]?.trim()})`).join('; ')}`);
}

describe('the projector: every view at 1280×720 in both themes', () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    process.env.CNN_INSPECTOR_WORKSPACE = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-projector-'));
    server = await startServer({ port: 0, quiet: true, workers: 2 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector('[data-unit-tile="0"]', { timeout: 60_000 });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('fills the views with results: accuracy, atlas, occlusion, invariance, selectivity, evolution', async () => {
    await page.getByRole('button', { name: /Check accuracy/ }).click();
    await page.waitForSelector('[data-confusion] canvas', { timeout: 120_000 });
    await page.locator('[data-view="atlas"]').click();
    await page.getByRole('button', { name: 'Build atlas' }).click();
    await page.waitForSelector('[data-atlas-unit="31"] img', { timeout: 240_000 });
    await page.locator('[data-view="occlusion"]').click();
    await page.getByRole('button', { name: 'Slide the square' }).click();
    for (const kind of ['probability', 'topLabel', 'feature']) await page.waitForSelector(`[data-occlusion-map="${kind}"] canvas`, { timeout: 60_000 });
    await page.locator('[data-view="invariance"]').click();
    await page.getByRole('button', { name: /Move, scale and rotate/ }).click();
    await expect.poll(() => page.getByRole('button', { name: 'CSV' }).isDisabled(), { timeout: 120_000 }).toBe(false);
    await page.locator('[data-view="selectivity"]').click();
    await page.locator('section[aria-label="Sparsity"]').getByRole('button', { name: 'Measure' }).click();
    await page.locator('section[aria-label="Class selectivity"]').getByRole('button', { name: 'Measure' }).click();
    await page.waitForSelector('[data-sparsity] tr', { timeout: 120_000 });
    await expect.poll(() => page.locator('section[aria-label="Class selectivity"] button:has-text("PNG")').isDisabled(), { timeout: 120_000 }).toBe(false);
    await page.locator('[data-view="evolution"]').click();
    await page.getByRole('button', { name: 'Show evolution' }).click();
    await page.waitForSelector('[data-evolution-grid] tbody tr:nth-child(8) td img', { timeout: 120_000 });
  }, 600_000);

  for (const theme of ['dark', 'light'] as const) {
    it(`${theme} theme: no control past the edge, no serious axe violation, a screenshot per view`, async () => {
      if ((await page.evaluate(() => document.documentElement.dataset.theme ?? 'dark')) !== theme) await page.locator('[data-theme-toggle]').click();
      expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(theme);
      const problems: string[] = [];
      for (const view of VIEWS) {
        await page.locator(`[data-view="${view}"]`).click();
        await page.waitForTimeout(800); // charts draw after mount and on the theme's re-creation
        // Pictures the view fetched again on mounting (atlas sheets, evolution cells) are drawn before the screenshot.
        await page.waitForFunction(
          () =>
            [...document.querySelectorAll('main img')].every(
              (i: { complete: boolean; naturalWidth: number; getAttribute(n: string): string | null }) =>
                i.complete && (i.naturalWidth > 0 || !i.getAttribute('src')),
            ),
          undefined,
          { timeout: 30_000 },
        );
        // A result computed before is drawn again when its tab is opened again, pictures included.
        const shown = { atlas: '[data-atlas-unit] img', evolution: '[data-evolution-grid] td img', occlusion: '[data-occlusion-map] canvas' }[view as 'atlas'];
        if (shown && (await page.locator(shown).count()) === 0) problems.push(`${view}: the earlier result is not drawn again`);
        for (const c of await controlsPastTheEdge(page)) problems.push(`${view}: past the edge: ${c}`);
        for (const v of await seriousViolations(page)) problems.push(`${view}: ${v}`);
        await page.screenshot({ path: path.join(TEST_RESULTS, `projector-${view}-${theme}.png`) });
      }
      expect(problems).toEqual([]);
      // The chart background follows the theme: the page's panel colour differs between the two.
      const panel = await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--panel').trim());
      expect(panel).toBe(theme === 'dark' ? '#19202a' : '#ffffff');
    }, 300_000);
  }

  it('the long jobs show their progress and stop on Cancel: how many images, the probes, the report', async () => {
    const cases = [
      { view: 'train', scope: '[data-images-per-class]', start: 'How many images do I need?' },
      { view: 'selectivity', scope: '[data-probe-panel]', start: 'Probe' },
      { view: 'selectivity', scope: '[data-report]', start: 'Report of all four (HTML)' },
    ];
    for (const c of cases) {
      await page.locator(`[data-view="${c.view}"]`).click();
      const scope = page.locator(c.scope);
      await scope.getByRole('button', { name: c.start, exact: true }).click();
      await scope.locator('[data-job-bar] [role="progressbar"]').first().waitFor({ timeout: 30_000 });
      await scope.locator('[data-job-bar] [data-cancel]').first().click();
      await expect.poll(() => scope.textContent(), { timeout: 60_000 }).toMatch(/Cancelled\./);
      expect(await scope.getByRole('button', { name: c.start, exact: true }).isDisabled()).toBe(false);
    }
  }, 180_000);

  it('remembers the light theme after a reload, and the dark one after switching back', async () => {
    await page.reload();
    await page.waitForSelector('[data-unit-tile="0"]', { timeout: 60_000 });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    await page.locator('[data-theme-toggle]').click();
    await page.reload();
    await page.waitForSelector('[data-unit-tile="0"]', { timeout: 60_000 });
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
  });

  it('keyboard: the skip link reaches the tiles, Esc gives the focus back, a part box, a confusion cell and a glossary word by keys', async () => {
    await page.locator('[data-view="inspect"]').click();
    // The skip link is the page's first Tab stop, hidden until it has the focus.
    expect(await page.evaluate(() => document.querySelector('a[href], button, input, select, [tabindex="0"]')?.classList.contains('skip-link'))).toBe(true);
    await page.locator('.skip-link').focus();
    await expect(page.locator('.skip-link').textContent()).resolves.toMatch(/Skip to the unit tiles/);
    expect((await page.locator('.skip-link').boundingBox())!.x).toBeGreaterThanOrEqual(0);
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-unit-tile'))).toBe('0');
    // The tiles are one Tab stop: the arrows move within them.
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-unit-tile'))).toBe('1');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[role="dialog"]');
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(TEST_RESULTS, 'projector-unit-detail-dark.png') });
    // The unit's map over the image is the dialog's main picture: at least a third of the projector's height.
    expect((await page.locator('[role="dialog"] canvas.overlay').boundingBox())!.height).toBeGreaterThanOrEqual(240);
    // Where the unit responds most, in words first (the map's own row and column follow in small print).
    await expect(page.locator('[role="dialog"]').textContent()).resolves.toMatch(
      /Strongest response [\d.]+\s+(in|at) the (upper |middle |lower )?(left |middle |right )?(middle )?of the image/,
    );
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[role="dialog"]').count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-unit-tile'))).toBe('1');

    await page.locator('[data-view="correspondence"]').click();
    await page.waitForSelector('[data-corr-image="0"] img');
    await page.locator('[data-corr-image="0"]').focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Shift+ArrowDown');
    // 28-pixel images: a centred box of 9 × 9 pixels at rows 9–18, moved one pixel right and grown one pixel down.
    await expect(page.locator('[data-corr-image="0"]').getAttribute('aria-label')).resolves.toMatch(/box for part 1 at rows 9–19, columns 10–19/);
    await expect(page.locator('.part button').first().textContent()).resolves.toMatch(/1\/5 boxes/);

    await page.locator('[data-view="inspect"]').click();
    await page.getByRole('button', { name: /Check accuracy/ }).click(); // the page was reloaded: from the engine's cache
    await page.waitForSelector('[data-confusion] canvas', { timeout: 60_000 });
    await page.locator('[data-confusion]').focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowRight');
    await expect(page.locator('[data-confusion]').getAttribute('aria-label')).resolves.toMatch(/Now at \S+ called right/);
    await page.keyboard.press('Enter');
    await expect(page.locator('[data-drill] p').first().textContent()).resolves.toMatch(/recognised correctly/);
    // The commonest mistakes are named in words, each a button.
    expect(await page.locator('[data-mistakes] button').count()).toBeGreaterThan(0);

    // A technical word opens its explanation from the keyboard, and Esc closes it.
    await page.locator('[data-view="selectivity"]').click();
    const term = page.locator('[data-glossary] button', { hasText: 'area under that curve' });
    await term.focus();
    await page.keyboard.press('Enter');
    await expect(page.locator('[role="tooltip"]').textContent()).resolves.toMatch(/entropy curve, in bits/);
    expect(await seriousViolations(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[role="tooltip"]').count()).toBe(0);
    expect(errors).toEqual([]);
  }, 120_000);
});
