/**
 * "How many images do I need?": the curve's points are the requested counts below the smallest class plus that
 * class's size, runs are reproducible, a learnable task reaches ≥ 90 % with every image, and one class is refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { initBackend } from '../../electron/engine/backend';
import { openDataset } from '../../electron/engine/data/dataset';
import { openModel } from '../../electron/engine/model/loaded-model';
import { imagesPerClassCurve } from '../../electron/engine/train/images-per-class';
import * as tf from '@tensorflow/tfjs-core';
import { topBottom, writeImageFolder } from '../helpers/image-folders';

const TINY = path.resolve(__dirname, '..', 'fixtures', 'models', 'tiny-functional', 'model.json');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let dir: string;

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipc-'));
  await writeImageFolder(path.join(dir, 'two'), ['top', 'bottom'], 20, 4, topBottom);
  await writeImageFolder(path.join(dir, 'one'), ['top'], 5, 4, topBottom);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('images per class', () => {
  it('accuracy on the same held-back images for 1, 2, 5, 10 and all 16 training images per class', async () => {
    const model = await openModel(TINY, 'tiny');
    try {
      const data = openDataset(path.join(dir, 'two'), 'two');
      const a = await imagesPerClassCurve(model, data, { counts: [1, 2, 5, 10, 50], seeds: 2, epochs: 40 }, quiet);
      expect(a.rows.map((r) => r.perClass)).toEqual([1, 2, 5, 10, 16]); // 20 per class, 4/5 to learn from
      expect(a.validationImages).toBe(8);
      expect(a.rows.every((r) => r.runs === 2 && r.accuracy >= 0 && r.accuracy <= 1)).toBe(true);
      expect(a.rows.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.9);
      const b = await imagesPerClassCurve(model, data, { counts: [1, 2, 5, 10, 50], seeds: 2, epochs: 40 }, quiet);
      expect(b.rows).toEqual(a.rows);
      await expect(imagesPerClassCurve(model, openDataset(path.join(dir, 'one'), 'one'), {}, quiet)).rejects.toMatchObject({ code: 'DATASET_EMPTY_CLASS' });
    } finally {
      model.dispose();
    }
  });

  it("with the paper's comparison: the same network from random weights at each count, same held-back images, tensors back", async () => {
    const model = await openModel(TINY, 'tiny');
    try {
      const data = openDataset(path.join(dir, 'two'), 'two');
      const before = tf.memory().numTensors;
      const r = await imagesPerClassCurve(model, data, { counts: [1, 16], seeds: 1, epochs: 20, scratch: true, scratchSeeds: 2 }, quiet);
      expect(r.scratchRows?.map((x) => x.perClass)).toEqual([1, 16]);
      for (const row of r.scratchRows!) {
        expect(row.runs).toBe(2);
        // Each run's accuracy is a whole number of the 8 held-back images: the mean of two is a multiple of 1/16.
        expect(Math.abs(row.accuracy * 16 - Math.round(row.accuracy * 16))).toBeLessThan(1e-9);
      }
      // With every training image and 100 steps, the small network learns top-vs-bottom from scratch too.
      expect(r.scratchRows!.at(-1)!.accuracy).toBeGreaterThanOrEqual(0.75);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
  });
});
