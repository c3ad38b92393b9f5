/**
 * Transfer learning strategies on a small image folder made here (bright top half vs bright bottom half — not
 * left vs right, which the horizontal-flip augmentation would make indistinguishable):
 * every strategy beats chance on held-out images; frozen layers stay bit-for-bit unchanged; the learning-rate
 * multiplier of pretrained layers is applied (0 → unchanged); the CLI writes a model that reopens with its labels.
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { initBackend } from '../../electron/engine/backend';
import { openDataset, type Dataset } from '../../electron/engine/data/dataset';
import { openModel } from '../../electron/engine/model/loaded-model';
import { checkpointSchedule, finetune, type Strategy } from '../../electron/engine/train/finetune';
import { readRun } from '../../electron/engine/train/run-store';
import { topBottom, writeImageFolder } from '../helpers/image-folders';

const ROOT = path.resolve(__dirname, '..', '..');
const TINY = path.join(ROOT, 'tests/fixtures/models/tiny-functional/model.json');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let dir: string;
let dataset: Dataset;

const weightsOf = (m: { getLayer(n: string): { getWeights(): tf.Tensor[] } }, name: string) =>
  m
    .getLayer(name)
    .getWeights()
    .map((t) => Array.from(t.dataSync()));

/** Starts the CLI, sends `signal` once the run in `out` has `epochs` epochs saved, and says how the process ended. */
function interruptCli(out: string, args: string[], epochs: number, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/electron/cli.cjs'), ...args]);
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setInterval(() => {
      if (fs.existsSync(path.join(out, 'run.json')) && readRun(out).progress.epochsDone >= epochs) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 10);
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ code, stderr });
    });
  });
}

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

  it('all: per-layer multipliers are applied — after one step a layer moves in proportion to its factor', async () => {
    const change = async (factor: number) => {
      const pretrained = await openModel(TINY, 'tiny');
      const before = weightsOf(pretrained.model, 'c1').flat();
      // One step: every training image in one batch, no augmentation, so both runs see the same gradient.
      const r = await finetune(
        pretrained,
        dataset,
        { strategy: 'all', epochs: 1, batchSize: 64, augment: false, earlyStopping: false, layerMultipliers: { c1: factor, new_classifier: 1 } },
        quiet,
      );
      const after = weightsOf(r.model, 'c1').flat();
      r.model.dispose();
      return Math.sqrt(after.reduce((sum, v, i) => sum + (v - before[i]) ** 2, 0));
    };
    const big = await change(0.5);
    const small = await change(0.05);
    expect(big).toBeGreaterThan(0);
    expect(big / small).toBeCloseTo(10, 3);
    expect(await change(0)).toBe(0);
    const pretrained = await openModel(TINY, 'tiny');
    await expect(finetune(pretrained, dataset, { strategy: 'all', layerMultipliers: { conv9: 1 } }, quiet)).rejects.toMatchObject({ code: 'LAYER_NOT_FOUND' });
    await expect(finetune(pretrained, dataset, { strategy: 'fc', layerMultipliers: { c1: 1 } }, quiet)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    pretrained.dispose();
  });

  it('checkpoints: every pass while they stay under ~200 MB, else about five spread to the end', () => {
    expect(checkpointSchedule(10, 1e6)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(checkpointSchedule(20, 10e6)).toEqual([4, 8, 12, 16, 20]);
    expect(checkpointSchedule(10, 100e6)).toEqual([10]);
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

  it('"keep what it knows" collects the features once: a second run on the same images reuses them', async () => {
    const messages: string[] = [];
    const watching = makeJobContext(
      (_d, _t, m) => void messages.push(m),
      () => false,
    );
    const first = await finetune(await openModel(TINY, 'tiny'), dataset, { strategy: 'features', epochs: 2, batchSize: 8, seed: 5 }, watching);
    first.model.dispose();
    messages.length = 0;
    const second = await finetune(await openModel(TINY, 'tiny'), dataset, { strategy: 'features', epochs: 2, batchSize: 8, seed: 5 }, watching);
    expect(messages.filter((m) => m.startsWith('Collecting activations'))).toEqual([]);
    expect(messages.filter((m) => m === 'Using the activations collected before')).toHaveLength(2); // as is, and mirrored
    expect(second.validationAccuracy).toBe(first.validationAccuracy);
    second.model.dispose();
  });

  it('a folder too big to hold in memory trains from a float16 file on disk, which is removed afterwards', async () => {
    const tmp = path.join(process.env.CNN_INSPECTOR_WORKSPACE!, 'tmp');
    const inMemory = await finetune(await openModel(TINY, 'tiny'), dataset, { strategy: 'fc', epochs: 8, batchSize: 8, seed: 3 }, quiet);
    process.env.CNN_INSPECTOR_IMAGES_IN_MEMORY = '1000'; // bytes: every folder is "too big"
    try {
      const messages: string[] = [];
      const before = tf.memory().numTensors;
      const pretrained = await openModel(TINY, 'tiny');
      const c1Before = weightsOf(pretrained.model, 'c1');
      const onDisk = await finetune(
        pretrained,
        dataset,
        { strategy: 'fc', epochs: 8, batchSize: 8, seed: 3 },
        makeJobContext(
          (_d, _t, m) => void messages.push(m),
          () => false,
        ),
      );
      expect(messages.some((m) => m.includes('to disk'))).toBe(true);
      expect(onDisk.validationAccuracy).toBeGreaterThanOrEqual(0.75);
      // float16 inputs change little: the same held-back verdicts give or take one image.
      expect(Math.abs(onDisk.validationAccuracy - inMemory.validationAccuracy)).toBeLessThanOrEqual(1 / 8 + 1e-9);
      expect(weightsOf(onDisk.model, 'c1')).toEqual(c1Before);
      expect(fs.existsSync(tmp) ? fs.readdirSync(tmp) : []).toEqual([]);
      // The new model shares the pretrained layers; the replaced classifier is the pretrained model's alone.
      for (const layer of pretrained.model.layers) if (!onDisk.model.layers.includes(layer) && layer.weights.length) layer.dispose();
      onDisk.model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      delete process.env.CNN_INSPECTOR_IMAGES_IN_MEMORY;
      inMemory.model.dispose();
    }
  });

  it('holds back the chosen share of each class', async () => {
    const pretrained = await openModel(TINY, 'tiny');
    const r = await finetune(pretrained, dataset, { strategy: 'features', epochs: 2, batchSize: 8, validationFraction: 0.5 }, quiet);
    expect([r.trainImages, r.validationImages]).toEqual([20, 20]);
    expect(Object.values(r.trainPerClass)).toEqual([10, 10]);
    r.model.dispose(); // shares the pretrained layers, so this frees both
  });

  it('with a test set: three disjoint stratified parts; per-class results, confusion and outcomes are the test set’s', async () => {
    const pretrained = await openModel(TINY, 'tiny');
    const r = await finetune(pretrained, dataset, { strategy: 'features', epochs: 6, batchSize: 8, seed: 3, testFraction: 0.2 }, quiet);
    // 20 per class: 4 to the test set, then a fifth of the other 16 (3) held back, 13 to learn from.
    expect([r.trainImages, r.validationImages, r.testImages]).toEqual([26, 6, 8]);
    expect(Object.values(r.trainPerClass)).toEqual([13, 13]);
    expect(r.reportedOn).toBe('test');
    expect(r.confusion.flat().reduce((a, b) => a + b, 0)).toBe(8);
    expect(r.outcomes).toHaveLength(8);
    expect((r.confusion[0][0] + r.confusion[1][1]) / 8).toBeCloseTo(r.testAccuracy!, 10);
    expect(r.outcomes.filter((o) => o.trueClass === o.predicted).length / 8).toBeCloseTo(r.testAccuracy!, 10);
    // The test images are none of the held-back ones of the same seed without a test set... and all differ from each other.
    expect(new Set(r.outcomes.map((o) => o.index)).size).toBe(8);
    r.model.dispose();
    const withoutTest = await finetune(await openModel(TINY, 'tiny'), dataset, { strategy: 'features', epochs: 2, batchSize: 8, seed: 3 }, quiet);
    expect([withoutTest.testImages, withoutTest.reportedOn, withoutTest.validationImages]).toEqual([0, 'validation', 8]);
    withoutTest.model.dispose();
    await expect(finetune(await openModel(TINY, 'tiny'), dataset, { strategy: 'features', testFraction: 0.7 }, quiet)).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
  });

  it('the CLI writes a TF.js model with labels and preprocessing that evaluates on the folder', async () => {
    const run = promisify(execFile);
    const cli = path.join(ROOT, 'dist/electron/cli.cjs');
    const out = path.join(dir, 'tuned');
    const { stdout } = await run(process.execPath, [
      cli,
      'finetune',
      '--model',
      TINY,
      '--data',
      path.join(dir, 'data'),
      '--strategy',
      'features',
      '--epochs',
      '10',
      '--batch',
      '8',
      '--out',
      out,
    ]);
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
    // The same card as data and as a page: its numbers are the run's, the confusion matrix cell by cell.
    const cardJson = JSON.parse(fs.readFileSync(path.join(out, 'model-card.json'), 'utf8'));
    expect(cardJson.validation_accuracy).toBe(printed.validation_accuracy);
    expect(cardJson.per_class_accuracy).toEqual(printed.per_class);
    expect(cardJson.confusion.rows_true_columns_predicted).toEqual(confusion);
    const html = fs.readFileSync(path.join(out, 'model-card.html'), 'utf8');
    const cells = [...html.matchAll(/<tr><th>(bottom|top)<\/th>(.*?)<\/tr>/g)].map((m) =>
      [...m[2].matchAll(/<td[^>]*>(\d*)<\/td>/g)].map((c) => Number(c[1] || 0)),
    );
    expect(cells).toEqual(confusion);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
    expect(json.userDefinedMetadata.labels).toEqual(['bottom', 'top']);
    expect(json.userDefinedMetadata.preprocessing.inputSize).toEqual([12, 12]);
    const evaluation = JSON.parse((await run(process.execPath, [cli, 'evaluate', '--model', out, '--data', path.join(dir, 'data')])).stdout);
    expect(evaluation.classes).toEqual(['bottom', 'top']);
    expect(evaluation.accuracy).toBeGreaterThan(0.75);
  });

  it('a CLI run paused with Ctrl-C, then killed outright, resumes each time from its last checkpoint and finishes', async () => {
    const cli = path.join(ROOT, 'dist/electron/cli.cjs');
    const out = path.join(dir, 'interrupted');
    const data = path.join(dir, 'data');
    const first = await interruptCli(
      out,
      ['finetune', '--model', TINY, '--data', data, '--strategy', 'all', '--epochs', '40', '--batch', '4', '--no-early-stop', '--seed', '2', '--out', out],
      2,
      'SIGINT',
    );
    expect(first.code).not.toBe(0);
    expect(first.stderr).toMatch(/error JOB_PAUSED: .*cnn-inspect finetune --resume/);
    const paused = readRun(out);
    expect(paused.status).toBe('paused');
    expect(paused.progress.epochsDone).toBeGreaterThanOrEqual(2);
    expect(paused.progress.epochsDone).toBeLessThan(40);
    const pausedHistory = paused.history;

    const second = await interruptCli(out, ['finetune', '--resume', out], paused.progress.epochsDone + 3, 'SIGKILL');
    expect(second.code).toBeNull(); // killed: no chance to save anything more than its epoch checkpoints
    const killed = readRun(out);
    expect(killed.status).toBe('running'); // what a crash leaves: shown as "interrupted"
    expect(killed.progress.epochsDone).toBeGreaterThanOrEqual(paused.progress.epochsDone + 3);
    expect(killed.history.slice(0, pausedHistory.length)).toEqual(pausedHistory);

    const run = promisify(execFile);
    const printed = JSON.parse((await run(process.execPath, [cli, 'finetune', '--resume', out])).stdout);
    expect(printed.history.map((h: { epoch: number }) => h.epoch)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(printed.history.slice(0, killed.history.length)).toEqual(killed.history);
    expect(printed.validation_accuracy).toBeGreaterThanOrEqual(0.75);
    expect(fs.existsSync(path.join(out, 'model.json'))).toBe(true);
    expect(readRun(out).status).toBe('done');
    expect(fs.readdirSync(out).filter((f) => f.startsWith('state-'))).toEqual([]);
    await expect(run(process.execPath, [cli, 'finetune', '--resume', out])).rejects.toMatchObject({ stderr: expect.stringContaining('error RUN_FINISHED') });
  }, 120_000);

  it("`cnn-inspect runs` lists the app's unfinished runs, and `finetune --resume NAME` carries one on", async () => {
    const cli = path.join(ROOT, 'dist/electron/cli.cjs');
    const out = path.join(process.env.CNN_INSPECTOR_WORKSPACE!, 'finetuned', 'paused-in-the-app');
    await interruptCli(
      out,
      ['finetune', '--model', TINY, '--data', path.join(dir, 'data'), '--strategy', 'all', '--epochs', '30', '--batch', '4', '--no-early-stop', '--out', out],
      1,
      'SIGINT',
    );
    const run = promisify(execFile);
    const listed = JSON.parse((await run(process.execPath, [cli, 'runs'])).stdout).runs;
    expect(listed).toEqual([expect.objectContaining({ id: 'paused-in-the-app', status: 'paused', strategy: 'all', epochs: 30, folder: out })]);
    const printed = JSON.parse((await run(process.execPath, [cli, 'finetune', '--resume', 'paused-in-the-app'])).stdout);
    expect(printed.history).toHaveLength(30);
    expect(JSON.parse((await run(process.execPath, [cli, 'runs'])).stdout).runs).toEqual([]);
  }, 120_000);

  it('resuming refuses a run whose images changed (RUN_DATASET_CHANGED) and a folder without a run (RUN_NOT_FOUND)', async () => {
    const cli = path.join(ROOT, 'dist/electron/cli.cjs');
    const data = path.join(dir, 'changing');
    await writeImageFolder(data, ['top', 'bottom'], 10, 7, topBottom);
    const out = path.join(dir, 'changed');
    await interruptCli(
      out,
      ['finetune', '--model', TINY, '--data', data, '--strategy', 'all', '--epochs', '60', '--batch', '4', '--no-early-stop', '--out', out],
      1,
      'SIGKILL',
    );
    fs.rmSync(path.join(data, 'top', fs.readdirSync(path.join(data, 'top'))[0]));
    const run = promisify(execFile);
    await expect(run(process.execPath, [cli, 'finetune', '--resume', out])).rejects.toMatchObject({
      stderr: expect.stringContaining('error RUN_DATASET_CHANGED'),
    });
    await expect(run(process.execPath, [cli, 'finetune', '--resume', path.join(dir, 'data')])).rejects.toMatchObject({
      stderr: expect.stringContaining('error RUN_NOT_FOUND'),
    });
  }, 60_000);
});
