/**
 * Classroom mode in real Chromium at a projector's 1280×720: an instructor and two students, each in a browser
 * profile of its own (their own cookie, as on three machines). The instructor's window counts the students and
 * puts the student link up as a QR code and leads; a student's window says it is one, follows the instructor's
 * layer, and can step away. Screenshots of each go to test-results/.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../electron/server/server';
import { launchChromium, TEST_RESULTS } from '../helpers/chromium';

const OUT = TEST_RESULTS;

describe('classroom in Chromium: an instructor and two students', () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    process.env.CNN_INSPECTOR_WORKSPACE = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-class-'));
    server = await startServer({ port: 0, quiet: true, workers: 2, graceMs: 500 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A window in a fresh browser profile on `link`, waiting for the first activation grid. */
  async function windowOn(link: string): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(link);
    await page.waitForSelector('[data-unit-tile="0"]', { timeout: 60_000 });
    return { page, errors };
  }

  it('the instructor sees the class and its QR link; the students see they are students, on their own choices', async () => {
    const teacher = await windowOn(server.url);
    const first = await windowOn(server.studentUrl);
    const second = await windowOn(server.studentUrl);
    await expect.poll(() => teacher.page.locator('[data-classroom="instructor"]').textContent(), { timeout: 10_000 }).toMatch(/2 students/);
    for (const s of [first, second]) await expect(s.page.locator('[data-classroom="student"]').textContent()).resolves.toMatch(/Student window/);
    expect(await first.page.locator('[data-student-link]').count()).toBe(0);

    // One student looks at conv2, the other stays on conv1: each window keeps its own layer.
    expect(await second.page.locator('[data-unit-tile]').count()).toBe(32);
    await first.page.locator('[data-layer="conv2"]').click();
    await expect.poll(() => first.page.locator('[data-unit-tile]').count(), { timeout: 60_000 }).toBeGreaterThan(32);
    expect(await second.page.locator('[data-unit-tile]').count()).toBe(32);

    // The instructor leads: both students follow, one steps away, the other is taken to the instructor's layer.
    const unitsOf = (page: Page) =>
      page
        .getByText(/What each unit of/)
        .first()
        .textContent();
    await teacher.page.locator('[data-lead]').click();
    await expect.poll(() => teacher.page.locator('[data-classroom="instructor"]').textContent(), { timeout: 10_000 }).toMatch(/2 following/);
    await expect.poll(() => unitsOf(first.page), { timeout: 20_000 }).toMatch(/conv1/);
    await first.page.locator('[data-follow="off"]').click();
    await first.page.locator('[data-layer="conv2"]').click();
    await expect.poll(() => teacher.page.locator('[data-classroom="instructor"]').textContent(), { timeout: 10_000 }).toMatch(/1 following/);
    await teacher.page.locator('[data-layer="conv3"]').click();
    await expect.poll(() => unitsOf(second.page), { timeout: 20_000 }).toMatch(/conv3/);
    expect(await unitsOf(first.page)).toMatch(/conv2/);
    await expect(second.page.locator('[data-classroom="student"]').textContent()).resolves.toMatch(/Following the instructor/);
    await expect(first.page.locator('[data-classroom="student"]').textContent()).resolves.toMatch(/Follow again/);

    // The instructor measures sparsity while leading: the follower is shown the table without running anything.
    await teacher.page.locator('[data-view="selectivity"]').click();
    await teacher.page.locator('button.primary', { hasText: 'Measure' }).first().click();
    await teacher.page.waitForSelector('table[data-sparsity]', { timeout: 60_000 });
    await second.page.waitForSelector('table[data-sparsity]', { timeout: 20_000 });
    expect(await second.page.locator('table[data-sparsity]').textContent()).toBe(await teacher.page.locator('table[data-sparsity]').textContent());
    expect(await first.page.locator('table[data-sparsity]').count()).toBe(0);
    await second.page.screenshot({ path: path.join(OUT, 'classroom-student-shown-result-1280.png') });
    // The student cannot start sparsity (the instructor has not allowed it): the button is off and says why.
    const studentMeasure = second.page.locator('section[aria-label="Sparsity"] button.primary', { hasText: 'Measure' });
    expect(await studentMeasure.isDisabled()).toBe(true);
    await expect(studentMeasure.getAttribute('title')).resolves.toMatch(/instructor runs this for everyone/);
    await teacher.page.locator('[data-view="inspect"]').click();

    await teacher.page.locator('[data-student-link]').click();
    await teacher.page.waitForSelector('img.qr');
    expect(await teacher.page.locator('[data-student-url]').textContent()).toBe(server.studentUrl);
    const qrSize = await teacher.page.locator('img.qr').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth);
    expect(qrSize).toBeGreaterThan(0);

    await teacher.page.screenshot({ path: path.join(OUT, 'classroom-instructor-1280.png') });
    await first.page.screenshot({ path: path.join(OUT, 'classroom-student-a-1280.png') });
    await second.page.screenshot({ path: path.join(OUT, 'classroom-student-b-1280.png') });
    for (const w of [teacher, first, second]) expect(w.errors).toEqual([]);
    for (const w of [teacher, first, second]) await w.page.context().close();
    await expect.poll(() => server.classroom.size, { timeout: 10_000 }).toBe(0);
  }, 180_000);

  it("a student's photo from the camera (Chromium's stand-in camera) is analysed as their own image", async () => {
    const withCamera = await launchChromium(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
    try {
      const context = await withCamera.newContext({ viewport: { width: 1280, height: 720 } });
      await context.grantPermissions(['camera']);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(server.studentUrl);
      await page.waitForSelector('[data-unit-tile="0"]', { timeout: 60_000 });
      await page.locator('[data-camera]').click();
      type InPage = { document: { querySelector(s: string): { videoWidth: number } | null } };
      await page.waitForFunction(() => ((globalThis as unknown as InPage).document.querySelector('video')?.videoWidth ?? 0) > 0, undefined, {
        timeout: 20_000,
      });
      await page.screenshot({ path: path.join(OUT, 'classroom-camera-1280.png') });
      await page.locator('[data-camera-take]').click();
      await expect.poll(() => page.locator('main').textContent(), { timeout: 30_000 }).toMatch(/your file · camera-\d{6}\.png/);
      await expect.poll(() => page.locator('.verdict').textContent(), { timeout: 30_000 }).toMatch(/The network says/);
      // The photo is this student's: the server holds it in their session only.
      expect(server.gates().filter((g) => g.uploadBytes > 0)).toHaveLength(1);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await withCamera.close();
    }
  }, 120_000);
});
