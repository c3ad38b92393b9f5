/**
 * Correspondence (ZF Table 1): sign-change statistics against hand counts; identical images give Δ = 0; the
 * random control has the same number of rows; bad boxes are coded errors; the CLI reads a boxes CSV.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { correspondence, signChangeStats } from '../../electron/engine/analyses/correspondence';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { initBackend } from '../../electron/engine/backend';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';

const ROOT = path.resolve(__dirname, '..', '..');
const TINY = path.join(ROOT, 'tests/fixtures/models/tiny-functional/model.json');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let loaded: LoadedModel;

describe('correspondence', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    loaded = await openModel(TINY, 'tiny');
  });
  afterAll(() => loaded?.dispose());

  it('sign-change statistics count differing signs over ordered pairs', () => {
    const a = Float32Array.from([1, -1, 2, 0]);
    const b = Float32Array.from([1, 1, -2, 0]); // differs from a in 2 of 4
    const c = Float32Array.from([-1, -1, 2, 3]); // differs from a in 2 of 4, from b in 4 of 4
    const s = signChangeStats([a, b, c]);
    // ordered pairs: ab, ac, ba, bc, ca, cb → 0.5, 0.5, 0.5, 1, 0.5, 1
    expect(s.sum).toBeCloseTo(4, 10);
    expect(s.mean).toBeCloseTo(4 / 6, 10);
    expect(s.std).toBeCloseTo(Math.sqrt((4 * (0.5 - 4 / 6) ** 2 + 2 * (1 - 4 / 6) ** 2) / 6), 10);
  });

  it('identical images with the same part give Δ = 0; random boxes are reported alongside', async () => {
    const x = Float32Array.from({ length: 432 }, (_, i) => Math.cos(i * 0.7) * 2);
    const images = [0, 1, 2].map((i) => ({ input: x, label: `copy${i}` }));
    const r = await correspondence(
      loaded,
      images,
      [
        {
          name: 'corner',
          boxes: [
            [0, 0, 4, 4],
            [0, 0, 4, 4],
            [0, 0, 4, 4],
          ],
        },
      ],
      { layers: ['c1', 'out'], randomDraws: 3 },
      quiet,
    );
    const part = r.rows.filter((row) => row.part === 'corner');
    expect(part.map((row) => row.layer)).toEqual(['c1', 'out']);
    for (const row of part) {
      expect(row.delta).toBe(0);
      expect(row.meanSignChange).toBe(0);
    }
    expect(r.rows.filter((row) => row.part.startsWith('random'))).toHaveLength(2);
    await expect(
      correspondence(
        loaded,
        images,
        [
          {
            name: 'bad',
            boxes: [
              [0, 0, 13, 4],
              [0, 0, 4, 4],
              [0, 0, 4, 4],
            ],
          },
        ],
        {},
        quiet,
      ),
    ).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(correspondence(loaded, images.slice(0, 1), [{ name: 'p', boxes: [[0, 0, 4, 4]] }], {}, quiet)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('the CLI reads image,part,top,left,bottom,right and writes a CSV table', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corr-'));
    const boxes = path.join(dir, 'boxes.csv');
    fs.writeFileSync(boxes, 'image,part,top,left,bottom,right\nBag/a.png,handle,0,0,5,5\nBag/b-rgb.jpg,handle,1,1,6,6\nTrouser/rgba.png,handle,2,2,7,7\n');
    const out = path.join(dir, 'table.csv');
    const { stdout } = await promisify(execFile)(process.execPath, [
      path.join(ROOT, 'dist/electron/cli.cjs'),
      'correspondence',
      '--model',
      TINY,
      '--data',
      path.join(ROOT, 'tests/fixtures/datasets/mixed'),
      '--boxes',
      boxes,
      '--layers',
      'c1',
      '--random',
      '2',
      '--out',
      out,
    ]);
    expect(JSON.parse(stdout).images).toEqual(['Bag/a.png', 'Bag/b-rgb.jpg', 'Trouser/rgba.png']);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('part,layer,mean_sign_change,std,delta');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^handle,c1,0(\.\d+)?,/); // RFC 4180: quoted only when needed
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
