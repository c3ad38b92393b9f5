/**
 * Layers over training time (Agrawal et al. Table 3): the probe at each checkpoint equals a probe run directly on
 * that checkpoint's model, and "converged at" is the first checkpoint within a point of the final accuracy — here
 * a checkpoint whose convolution is all zeros (no information: chance) followed by the trained weights.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { linearProbes } from '../../electron/engine/analyses/probe';
import { probeOverTraining } from '../../electron/engine/analyses/probe-training';
import { initBackend } from '../../electron/engine/backend';
import { openDataset, type Dataset } from '../../electron/engine/data/dataset';
import { openModel } from '../../electron/engine/model/loaded-model';
import { topBottom, writeImageFolder } from '../helpers/image-folders';

const TINY = path.resolve(__dirname, '..', 'fixtures', 'models', 'tiny-functional');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let dir: string;
let dataset: Dataset;

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-training-'));
  await writeImageFolder(path.join(dir, 'data'), ['top', 'bottom'], 16, 5, topBottom);
  dataset = openDataset(path.join(dir, 'data'), 'tb');
  // The model, a checkpoint with its convolution zeroed (its output carries no information), and one trained.
  const modelDir = path.join(dir, 'model');
  for (const sub of ['', 'checkpoints/epoch-1', 'checkpoints/epoch-2']) {
    fs.mkdirSync(path.join(modelDir, sub), { recursive: true });
    for (const f of ['model.json', 'weights.bin']) fs.copyFileSync(path.join(TINY, f), path.join(modelDir, sub, f));
  }
  const weights = fs.readFileSync(path.join(TINY, 'weights.bin'));
  weights.fill(0, 0, (3 * 3 * 3 * 4 + 4) * 4); // c1/kernel and c1/bias come first
  fs.writeFileSync(path.join(modelDir, 'checkpoints/epoch-1/weights.bin'), weights);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('probes over training checkpoints', () => {
  it('equal direct probes of each checkpoint, and name where each layer converged', async () => {
    const file = path.join(dir, 'model', 'model.json');
    const model = await openModel(file, file);
    try {
      const r = await probeOverTraining(model, file, dataset, { layers: ['c1'], seeds: 2 }, quiet);
      expect(r.checkpoints).toEqual(['epoch-1', 'epoch-2', 'final']);
      expect(r.rows.map((x) => x.epoch)).toEqual([1, 2, null]);
      for (const stage of ['epoch-1', 'final']) {
        const stageFile = stage === 'final' ? file : path.join(dir, 'model', 'checkpoints', stage, 'model.json');
        const m = await openModel(stageFile, stageFile);
        const [direct] = await linearProbes(m, dataset, { layers: ['c1'], ablations: ['original'], seeds: 2 }, quiet);
        m.dispose();
        expect(r.rows.find((x) => x.checkpoint === stage)!.accuracy).toBe(direct.accuracy);
      }
      const [zeroed, trained, final] = r.rows.map((x) => x.accuracy);
      expect(zeroed).toBeLessThanOrEqual(0.75); // constant features: no better than the class balance allows
      expect(trained).toBe(final);
      expect(final).toBeGreaterThan(0.9);
      expect(r.convergedAt).toEqual({ c1: 'epoch-2' });
    } finally {
      model.dispose();
    }
  });

  it('a model without checkpoints is a coded error', async () => {
    const model = await openModel(path.join(TINY, 'model.json'), 'tiny');
    try {
      await expect(probeOverTraining(model, path.join(TINY, 'model.json'), dataset, {}, quiet)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    } finally {
      model.dispose();
    }
  });
});
