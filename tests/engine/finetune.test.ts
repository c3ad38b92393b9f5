/**
 * Transfer learning strategies on a small image folder made here (bright top half vs bright bottom half — not
 * left vs right, which the horizontal-flip augmentation would make indistinguishable):
 * every strategy beats chance on held-out images; frozen layers stay bit-for-bit unchanged; the learning-rate
 * multiplier of pretrained layers is applied (0 → unchanged); the CLI writes a model that reopens with its labels.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { makeJobContext } from '../../electron/engine/analyses/job-context';
import { initBackend } from '../../electron/engine/backend';
import { openDataset, type Dataset } from '../../electron/engine/data/dataset';
import { openModel } from '../../electron/engine/model/loaded-model';
import { finetune, type Strategy } from '../../electron/engine/train/finetune';
import { topBottom, writeImageFolder } from '../helpers/image-folders';

const ROOT = path.resolve(__dirname, '..', '..');
const TINY = path.join(ROOT, 'tests/fixtures/models/tiny-functional/model.json');
const quiet = makeJobContext(() => undefined, () => false);
let dir: string;
let dataset: Dataset;

const weightsOf = (m: { getLayer(n: string): { getWeights(): tf.Tensor[] } }, name: string) => m.getLayer(name).getWeights().map((t) => Array.from(t.dataSync()));

describe('fine-tuning strategies', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-'));
    await writeImageFolder(path.join(dir, 'data'), ['top', 'bottom'], 20, 7, topBottom);
    dataset = openDataset(path.join(dir, 'data'), 'lr');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const strategy of ['features', 'fc', 'all', 'scratch'] as Strategy[]) {
    it(`${strategy}: beats chance on the held-out images`, async () => {
      const pretrained = await openModel(TINY, 'tiny');
      const c1Before = weightsOf(pretrained.model, 'c1');
      const r = await finetune(pretrained, dataset, { strategy, epochs: strategy === 'scratch' ? 20 : 12, batchSize: 8, seed: 3 }, quiet);
      expect(r.classes).toEqual(['bottom', 'top']);
      expect(r.validationImages).toBe(8);
      expect(r.validationAccuracy).toBeGreaterThanOrEqual(0.75);
      if (strategy === 'features' || strategy === 'fc') {
        expect(r.frozen).toContain('c1');
        expect(weightsOf(r.model, 'c1')).toEqual(c1Before);
      } else {
        expect(weightsOf(r.model, 'c1')).not.toEqual(c1Before);
      }
      r.model.dispose();
    });
  }

  it('all: a pretrained multiplier of 0 leaves the pretrained layers unchanged while the classifier learns', async () => {
    const pretrained = await openModel(TINY, 'tiny');
    const c1Before = weightsOf(pretrained.model, 'c1');
    const r = await finetune(pretrained, dataset, { strategy: 'all', epochs: 2, batchSize: 8, pretrainedMultiplier: 0 }, quiet);
    expect(weightsOf(r.model, 'c1')).toEqual(c1Before);
    expect(r.history[1].loss).toBeLessThan(r.history[0].loss + 1);
    r.model.dispose();
  });

  it('left-vs-right images are learnable only with mirroring turned off', async () => {
    const lr = path.join(dir, 'left-right');
    await writeImageFolder(lr, ['left', 'right'], 20, 11, (cls, _y, x, _c, random) => ((cls === 'left') === x < 6 ? 190 : 50) + random() * 60);
    const data = openDataset(lr, 'left-right');
    const r1 = await finetune(await openModel(TINY, 'tiny'), data, { strategy: 'features', epochs: 12, batchSize: 8, seed: 3, flip: false }, quiet);
    expect(r1.validationAccuracy).toBeGreaterThanOrEqual(0.75);
    r1.model.dispose();
  });

  it('refuses a single class and a class with one image', async () => {
    const pretrained = await openModel(TINY, 'tiny');
    const one = openDataset(path.join(dir, 'data', 'top'), 'one');
    await expect(finetune(pretrained, one, { strategy: 'features' }, quiet)).rejects.toMatchObject({ code: 'DATASET_EMPTY_CLASS' });
    const mixed = openDataset(path.join(ROOT, 'tests/fixtures/datasets/mixed'), 'mixed');
    await expect(finetune(pretrained, mixed, { strategy: 'features' }, quiet)).rejects.toMatchObject({ code: 'DATASET_EMPTY_CLASS' });
    await expect(finetune(pretrained, dataset, { strategy: 'features', validationFraction: 0.7 }, quiet)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    pretrained.dispose();
  });

  it('features with linear SVMs as the new last step: learns the task; other strategies refuse SVMs', async () => {
    const pretrained = await openModel(TINY, 'tiny');
    await expect(finetune(pretrained, dataset, { strategy: 'fc', classifier: 'svm' }, quiet)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    const r = await finetune(pretrained, dataset, { strategy: 'features', classifier: 'svm', seed: 3 }, quiet);
    expect(r.validationAccuracy).toBeGreaterThanOrEqual(0.75);
    expect(r.history).toEqual([]);
    r.model.dispose();
  });

  it('holds back the chosen share of each class', async () => {
    const pretrained = await openModel(TINY, 'tiny');
    const r = await finetune(pretrained, dataset, { strategy: 'features', epochs: 2, batchSize: 8, validationFraction: 0.5 }, quiet);
    expect([r.trainImages, r.validationImages]).toEqual([20, 20]);
    expect(Object.values(r.trainPerClass)).toEqual([10, 10]);
    r.model.dispose(); // shares the pretrained layers, so this frees both
  });

  it('the CLI writes a TF.js model with labels and preprocessing that evaluates on the folder', async () => {
    const run = promisify(execFile);
    const cli = path.join(ROOT, 'dist/electron/cli.cjs');
    const out = path.join(dir, 'tuned');
    const { stdout } = await run(process.execPath, [cli, 'finetune', '--model', TINY, '--data', path.join(dir, 'data'), '--strategy', 'features', '--epochs', '10', '--batch', '8', '--out', out]);
    const printed = JSON.parse(stdout);
    expect(printed.classes).toEqual(['bottom', 'top']);
    // Per-class accuracy and the confusion matrix agree with the overall figure on the held-back images.
    const confusion = printed.confusion as number[][];
    expect(confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(printed.validation);
    expect((confusion[0][0] + confusion[1][1]) / printed.validation).toBeCloseTo(printed.validation_accuracy, 10);
    expect(printed.per_class.bottom).toBeCloseTo(confusion[0][0] / (confusion[0][0] + confusion[0][1]), 10);
    // The model card sits beside the model and names the classes and the held-back accuracy.
    const card = fs.readFileSync(printed.model_card, 'utf8');
    expect(card).toMatch(/\| bottom \| \d+ \| [\d.]+ % \|/);
    expect(card).toContain(`${(printed.validation_accuracy * 100).toFixed(1)} %`);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
    expect(json.userDefinedMetadata.labels).toEqual(['bottom', 'top']);
    expect(json.userDefinedMetadata.preprocessing.inputSize).toEqual([12, 12]);
    const evaluation = JSON.parse((await run(process.execPath, [cli, 'evaluate', '--model', out, '--data', path.join(dir, 'data')])).stdout);
    expect(evaluation.classes).toEqual(['bottom', 'top']);
    expect(evaluation.accuracy).toBeGreaterThan(0.75);
  });
});
