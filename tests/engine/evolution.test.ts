/**
 * Feature evolution (ZF Fig. 4): one cell per unit per checkpoint (then "final"); each cell's image is the top-1
 * of that checkpoint's model (checked against a direct top-k), with projection and patch PNGs the size of the
 * receptive field.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureEvolution } from '../../electron/engine/analyses/evolution';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { buildTopK } from '../../electron/engine/analyses/topk';
import { initBackend } from '../../electron/engine/backend';
import { openDataset } from '../../electron/engine/data/dataset';
import { openModel } from '../../electron/engine/model/loaded-model';

const ROOT = path.resolve(__dirname, '..', '..');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let dir: string;

describe('feature evolution', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evolution-'));
    const src = path.join(ROOT, 'tests/fixtures/models/tiny-functional');
    fs.cpSync(src, path.join(dir, 'model'), { recursive: true });
    // A "checkpoint" whose kernel weights are negated: different units win different images.
    const ckpt = path.join(dir, 'model', 'checkpoints', 'epoch-1');
    fs.cpSync(src, ckpt, { recursive: true });
    const bytes = fs.readFileSync(path.join(ckpt, 'weights.bin'));
    const w = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    for (let i = 0; i < 3 * 3 * 3 * 4; i++) w[i] = -w[i];
    fs.writeFileSync(path.join(ckpt, 'weights.bin'), Buffer.from(w.buffer));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a units × checkpoints grid whose winners match each checkpoint’s own top-1', async () => {
    const modelJson = path.join(dir, 'model', 'model.json');
    const model = await openModel(modelJson, modelJson);
    expect(model.summary.checkpoints).toEqual(['epoch-1']);
    const dataset = openDataset(path.join(ROOT, 'tests/fixtures/datasets/mixed'), 'mixed');
    // One bar for the whole job: the share done only grows across the checkpoints, over one total, to the end.
    const reports: Array<[number, number]> = [];
    const watched = makeJobContext(
      (done, total) => reports.push([done, total]),
      () => false,
    );
    const r = await featureEvolution(model, modelJson, dataset, { layer: 'c1', units: [0, 3] }, watched);
    expect(new Set(reports.map(([, total]) => total)).size).toBe(1);
    for (let i = 1; i < reports.length; i++) expect(reports[i][0]).toBeGreaterThanOrEqual(reports[i - 1][0]);
    expect(reports.at(-1)![0]).toBe(reports.at(-1)![1]);
    expect(reports.some(([done, total]) => done > 0 && done < total)).toBe(true);
    expect(r.checkpoints).toEqual(['epoch-1', 'final']);
    expect(r.cells).toHaveLength(4);
    const checkpoint = await openModel(path.join(dir, 'model', 'checkpoints', 'epoch-1', 'model.json'), 'ckpt');
    for (const [stage, m] of [
      ['epoch-1', checkpoint],
      ['final', model],
    ] as const) {
      const [top] = await buildTopK(m, dataset, { layers: ['c1'], k: 1 }, quiet);
      for (const unit of [0, 3]) {
        const cell = r.cells.find((c) => c.checkpoint === stage && c.unit === unit)!;
        expect(cell.image).toBe(top.units[unit].top[0].image);
        expect(cell.value).toBeCloseTo(top.units[unit].top[0].value, 5);
        const meta = await sharp(Buffer.from(cell.projection)).metadata();
        expect([meta.width, meta.height]).toEqual([3, 3]); // c1's receptive field
        expect((await sharp(Buffer.from(cell.patch)).metadata()).width).toBe(3);
      }
    }
    await expect(featureEvolution(model, modelJson, dataset, { layer: 'c1', units: [4] }, quiet)).rejects.toMatchObject({ code: 'UNIT_OUT_OF_RANGE' });
    await expect(featureEvolution(model, modelJson, dataset, { layer: 'out' }, quiet)).rejects.toMatchObject({ code: 'LAYER_NOT_SPATIAL' });
    checkpoint.dispose();
    model.dispose();
  });
});
