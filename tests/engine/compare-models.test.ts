/**
 * What fine-tuning changed: relative weight change per shared layer equals ‖ΔW‖/‖W‖ computed here (a copy whose
 * first layer is scaled by 1.1 changed by exactly 0.1; the untouched layer by 0); selectivity (AuE) does not move
 * when a ReLU layer's weights are only scaled; models of different architectures are refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { compareModels } from '../../electron/engine/analyses/compare-models';
import { linearProbes } from '../../electron/engine/analyses/probe';
import { initBackend } from '../../electron/engine/backend';
import { openDataset, type Dataset } from '../../electron/engine/data/dataset';
import { openModel } from '../../electron/engine/model/loaded-model';
import { BUNDLED_MODEL_PATH } from '../../electron/engine/paths';
import { writeImageFolder } from '../helpers/image-folders';

const TINY = path.resolve(__dirname, '..', 'fixtures', 'models', 'tiny-functional');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let dir: string;
let dataset: Dataset;

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compare-'));
  await writeImageFolder(path.join(dir, 'data'), ['a', 'b', 'c'], 8, 9, (cls, _y, _x, _c, random) => random() * 255 * (cls === 'a' ? 0.5 : 1));
  dataset = openDataset(path.join(dir, 'data'), 'abc');
  fs.mkdirSync(path.join(dir, 'scaled'));
  fs.copyFileSync(path.join(TINY, 'model.json'), path.join(dir, 'scaled', 'model.json'));
  const weights = fs.readFileSync(path.join(TINY, 'weights.bin'));
  const f = new Float32Array(weights.buffer, weights.byteOffset, weights.byteLength / 4).slice();
  for (let i = 0; i < 3 * 3 * 3 * 4 + 4; i++) f[i] *= 1.1; // c1/kernel and c1/bias
  fs.writeFileSync(path.join(dir, 'scaled', 'weights.bin'), Buffer.from(f.buffer));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('comparing two models of one architecture', () => {
  it('weight change and selectivity per shared layer', async () => {
    const model = await openModel(path.join(TINY, 'model.json'), 'tiny');
    try {
      const r = await compareModels(model, path.join(dir, 'scaled', 'model.json'), dataset, {}, quiet);
      expect(r.rows.map((x) => x.layer)).toEqual(['c1', 'out']);
      expect(r.rows[0].weightChange).toBeCloseTo(0.1, 6);
      expect(r.rows[1].weightChange).toBe(0);
      expect(r.rows[0].aueOther).toBeCloseTo(r.rows[0].aueModel!, 5);
      // Probe accuracy per layer in each model: this model's equal a probe run on it directly; scaling c1 by 1.1
      // changes nothing a standardised probe can see.
      const direct = await linearProbes(model, dataset, { layers: ['c1', 'out'], ablations: ['original'], seeds: 1 }, quiet);
      expect(r.rows.map((x) => x.probeModel)).toEqual(direct.map((d) => d.accuracy));
      expect(r.rows[0].probeOther).toBe(r.rows[0].probeModel);
      expect(r.onlyInModel).toEqual([]);
    } finally {
      model.dispose();
    }
  });

  it('refuses a model of another architecture', async () => {
    const model = await openModel(path.join(TINY, 'model.json'), 'tiny');
    try {
      await expect(compareModels(model, BUNDLED_MODEL_PATH, dataset, { selectivity: false }, quiet)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    } finally {
      model.dispose();
    }
  });
});
