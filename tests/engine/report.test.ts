/**
 * The HTML report: one page with the four analyses of the open model on the open folder — the numbers in it are
 * the cached jobs' numbers, the charts are inline SVG (no script), and class names are escaped.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { EngineCore } from '../../electron/engine/core';
import { findChromium } from '../../electron/engine/files/pdf';
import { topBottom, writeImageFolder } from '../helpers/image-folders';

const TINY = path.resolve(__dirname, '..', 'fixtures', 'models', 'tiny-functional', 'model.json');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
  process.env.CNN_INSPECTOR_WORKSPACE = path.join(dir, 'ws');
  await writeImageFolder(path.join(dir, 'data'), ['top', 'bottom', 'a <b> & "c"'], 10, 3, topBottom);
});
afterAll(() => {
  delete process.env.CNN_INSPECTOR_WORKSPACE;
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('HTML report', () => {
  it('gathers sparsity, selectivity, grandmother cells and probes of the open model and folder', async () => {
    const core = new EngineCore();
    await core.init({ preferred: 'wasm' });
    await core.openModel(TINY);
    await core.openDataset(path.join(dir, 'data'));
    const { html } = await core.runJob('report', {}, quiet);
    const sparsity = await core.runJob('sparsity', {}, quiet);
    for (const row of sparsity.rows) expect(html).toContain(`<td>${row.layer}</td><td class="n">${row.mean_nonzero_pct.toFixed(1)} %</td>`);
    // Selectivity curves, grandmother-cell APs, their precision–recall curves, probe bars.
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).toMatch(/Precision–recall curves of the \d best units for/);
    expect(html).not.toContain('<script');
    expect(html).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
    expect(html).not.toContain('a <b> & "c"');
    expect(html).toMatch(/Where is the information\?[\s\S]*<td>c1<\/td><td class="n">[\d.]+ %<\/td>/);
    // The paper's Table 7: every ablation, each row a layer.
    expect(html).toContain('<tr><th>layer</th><th>as is</th><th>on/off</th><th>shuffled</th><th>max only</th></tr>');
  });

  it.skipIf(!findChromium())(
    'the CLI also prints it to PDF where a Chromium-family browser is installed',
    async () => {
      const html = path.join(dir, 'r.html');
      const pdf = path.join(dir, 'r.pdf');
      const stdout = execFileSync(
        process.execPath,
        [
          path.resolve(__dirname, '..', '..', 'dist/electron/cli.cjs'),
          'report',
          '--model',
          TINY,
          '--data',
          path.join(dir, 'data'),
          '--out',
          html,
          '--pdf',
          pdf,
        ],
        { encoding: 'utf8' },
      );
      expect(JSON.parse(stdout).pdf).toBe(pdf);
      const bytes = fs.readFileSync(pdf);
      expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      expect(bytes.length).toBeGreaterThan(5000);
      // Without a browser the HTML is still written and the answer says why there is no PDF.
      const none = execFileSync(
        process.execPath,
        [
          path.resolve(__dirname, '..', '..', 'dist/electron/cli.cjs'),
          'report',
          '--model',
          TINY,
          '--data',
          path.join(dir, 'data'),
          '--out',
          html,
          '--pdf',
          pdf,
        ],
        { encoding: 'utf8', env: { ...process.env, PATH: path.join(dir, 'no-browsers-here'), CHROMIUM_PATH: '' } },
      );
      expect(JSON.parse(none)).toMatchObject({ pdf: null, pdf_not_made: expect.stringMatching(/no Chromium/) });
    },
    120_000,
  );
});
