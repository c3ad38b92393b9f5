/**
 * The training core on the wasm backend (which needs the project's Conv2DBackpropFilter kernel): a small conv net
 * learns a task it cannot solve by chance, checkpoints fire on schedule, the learning rate steps down,
 * cancellation stops it, and no tensor is leaked. Augmentation is checked against hand-made expectations.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../electron/engine/backend';
import { augmentBatch } from '../../electron/engine/features/augment';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { evaluateAccuracy, trainClassifier, type LabelledArray, type TrainState } from '../../electron/engine/train/loop';
import { createRun, loadState, readRun, saveState } from '../../electron/engine/train/run-store';
import { maxRelError } from '../helpers/numeric';
import { mulberry32 } from '../../electron/engine/base/random';

/** 8×8 grey images: class 0 = a vertical bar, class 1 = a horizontal bar, at random positions, with noise. */
function bars(n: number, seed: number): LabelledArray {
  const random = mulberry32(seed);
  const x = new Float32Array(n * 64);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    const at = 1 + Math.floor(random() * 6);
    for (let p = 0; p < 64; p++) x[i * 64 + p] = (random() - 0.5) * 0.6;
    for (let k = 0; k < 8; k++) x[i * 64 + (y[i] === 0 ? k * 8 + at : at * 8 + k)] += 1.5;
  }
  return { x, y, shape: [n, 8, 8, 1] };
}

function smallNet(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      inputShape: [8, 8, 1],
      filters: 4,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: tfl.initializers.heNormal({ seed: 1 }),
    }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotNormal({ seed: 2 }) }));
  m.add(tfl.layers.activation({ activation: 'softmax' }));
  return m;
}

describe('training loop', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  it('learns vertical vs horizontal bars to ≥ 95 % on held-out images, with scheduled checkpoints and LR steps', async () => {
    const model = smallNet();
    const before = tf.memory().numTensors;
    const checkpoints: number[] = [];
    const rates = new Set<number>();
    const test = bars(200, 99);
    const chance = await evaluateAccuracy(model, test);
    const result = await trainClassifier(model, bars(400, 1), {
      epochs: 4,
      batchSize: 32,
      learningRate: 0.05,
      momentum: 0.9,
      lrDecay: { everyEpochs: 3, factor: 10 },
      weightDecay: 1e-4,
      augment: { cropPad: 1, flip: true, fill: 0 },
      seed: 5,
      checkpointEpochs: [1, 4],
      onCheckpoint: async (epoch) => void checkpoints.push(epoch),
      onProgress: (p) => rates.add(p.learningRate),
    });
    const accuracy = await evaluateAccuracy(model, test);
    expect(chance).toBeLessThan(0.8);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    expect(result.history[3].loss).toBeLessThan(result.history[0].loss);
    expect(checkpoints).toEqual([1, 4]);
    expect([...rates].sort()).toEqual([0.005, 0.05]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('Adam learns the bars too, leaking nothing', async () => {
    const model = smallNet();
    const before = tf.memory().numTensors;
    await trainClassifier(model, bars(400, 8), { epochs: 4, batchSize: 32, learningRate: 0.01, momentum: 0.9, seed: 3, optimizer: 'adam' });
    expect(await evaluateAccuracy(model, bars(200, 98))).toBeGreaterThanOrEqual(0.95);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('early stopping keeps the best epoch: the model ends with that epoch’s held-back accuracy', async () => {
    const model = smallNet();
    const before = tf.memory().numTensors;
    // Held-back labels are noise, so held-back accuracy wanders and the best epoch is rarely the last.
    const noisy = bars(60, 7);
    const random = mulberry32(3);
    noisy.y = noisy.y.map(() => (random() < 0.5 ? 0 : 1));
    const patience = 2;
    const result = await trainClassifier(model, bars(200, 4), {
      epochs: 12,
      batchSize: 16,
      learningRate: 0.05,
      momentum: 0.9,
      seed: 2,
      validation: noisy,
      earlyStopping: { patience },
    });
    const accuracies = result.history.map((h) => h.validationAccuracy!);
    const firstBest = accuracies.indexOf(Math.max(...accuracies)) + 1;
    expect(result.bestEpoch).toBe(firstBest);
    if (result.stoppedEarly) expect([result.history.length, result.stopReason]).toEqual([firstBest + patience, 'no-improvement']);
    else expect([result.history.length, result.stopReason]).toEqual([12, undefined]);
    expect(await evaluateAccuracy(model, noisy)).toBe(accuracies[firstBest - 1]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('"stop and keep" ends training normally mid-epoch, keeping its best epoch, leaking nothing', async () => {
    const model = smallNet();
    const before = tf.memory().numTensors;
    let batches = 0;
    const result = await trainClassifier(model, bars(320, 6), {
      epochs: 6,
      batchSize: 32,
      learningRate: 0.05,
      momentum: 0.9,
      seed: 4,
      validation: bars(100, 61),
      earlyStopping: { patience: 10 },
      onProgress: (p) => void (p.batch < p.batchesPerEpoch && batches++),
      shouldStop: () => batches >= 13, // during the second epoch (10 batches each)
    });
    expect(result.history.length).toBe(2);
    expect(result.stoppedEarly).toBe(true);
    // Recorded as the person's stop, not as accuracy that stopped improving.
    expect(result.stopReason).toBe('asked');
    const best = Math.max(...result.history.map((h) => h.validationAccuracy!));
    expect(await evaluateAccuracy(model, bars(100, 61))).toBe(best);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  for (const optimizer of ['sgd', 'adam'] as const) {
    it(`${optimizer}: a run paused mid-epoch, saved to disk and resumed in a fresh model ends exactly where an unbroken run ends`, async () => {
      const data = bars(160, 8);
      const validation = bars(60, 81);
      const options = (model: tfl.LayersModel) => ({
        epochs: 4,
        batchSize: 16,
        learningRate: optimizer === 'adam' ? 0.01 : 0.05,
        momentum: 0.9,
        seed: 5,
        optimizer,
        weightDecay: 5e-4,
        lrDecay: { everyEpochs: 3, factor: 10 },
        augment: { cropPad: 1, flip: true, fill: 0 },
        validation,
        earlyStopping: { patience: 10 },
        // two learning-rate groups: two optimizers whose states must both come back
        lrMultipliers: new Map([[(model.layers[0].trainableWeights[0].read() as tf.Variable).name, 0.5]]),
      });
      const unbroken = smallNet();
      const full = await trainClassifier(unbroken, data, options(unbroken));
      const expected = unbroken.getWeights().map((t) => Array.from(t.dataSync()));
      unbroken.dispose();

      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resume-'));
      const before = tf.memory().numTensors;
      const first = smallNet();
      const run = createRun(dir, {
        model: { id: 'm', file: 'm', stamp: 's', name: 'm' },
        dataset: { id: 'd', path: 'd', name: 'd', count: 160, fingerprint: 'f' },
        options: { strategy: 'all' },
        epochs: 4,
      });
      let batches = 0;
      await expect(
        trainClassifier(first, data, {
          ...options(first),
          onProgress: (p) => void (p.batch < p.batchesPerEpoch && batches++),
          shouldPause: () => batches >= 13, // 9 counted in epoch 1 (its last batch is not), so after 4 of epoch 2
          onState: async (state) => saveState(dir, run, state),
        }),
      ).rejects.toMatchObject({ code: 'JOB_PAUSED' });
      first.dispose();
      const saved = loadState(dir, readRun(dir))!;
      expect(saved.epochsDone).toBe(1);
      expect(saved.batchesDone).toBe(4);
      expect(saved.history).toHaveLength(1);
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('state-'))).toHaveLength(1); // the epoch-1 state was replaced

      const second = smallNet();
      // Scramble it: the resumed weights must come from the saved state, not from the same initialisation.
      tf.tidy(() => second.weights.forEach((w) => (w.read() as tf.Variable).assign(tf.randomNormal(w.shape as number[], 0, 1, 'float32', 9))));
      const resumed = await trainClassifier(second, data, { ...options(second), resume: saved });
      expect(resumed.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4]);
      expect(resumed.history.map((h) => h.validationAccuracy)).toEqual(full.history.map((h) => h.validationAccuracy));
      second.getWeights().forEach((t, i) => expect(maxRelError(t.dataSync(), expected[i])).toBeLessThan(1e-5));
      second.dispose();
      expect(tf.memory().numTensors).toBe(before);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  it('a saved state refuses a model of another shape (RUN_MODEL_CHANGED)', async () => {
    const model = smallNet();
    let state: TrainState | undefined;
    await trainClassifier(model, bars(64, 3), { epochs: 2, batchSize: 32, learningRate: 0.05, momentum: 0.9, seed: 1, onState: async (s) => void (state = s) });
    model.dispose();
    const other = tfl.sequential();
    other.add(tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }));
    other.add(tfl.layers.flatten());
    other.add(tfl.layers.dense({ units: 2, activation: 'softmax' }));
    await expect(
      trainClassifier(other, bars(64, 3), { epochs: 2, batchSize: 32, learningRate: 0.05, momentum: 0.9, seed: 1, resume: state }),
    ).rejects.toMatchObject({ code: 'RUN_MODEL_CHANGED' });
    other.dispose();
  });

  it('stops with JOB_CANCELLED when cancelled, leaking nothing', async () => {
    const model = smallNet();
    const before = tf.memory().numTensors;
    let batches = 0;
    await expect(
      trainClassifier(model, bars(400, 2), {
        epochs: 5,
        batchSize: 16,
        learningRate: 0.01,
        momentum: 0.9,
        seed: 1,
        onProgress: () => void batches++,
        shouldCancel: () => batches >= 3,
      }),
    ).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
    expect(batches).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('augmentation: a flip mirrors columns, a crop shifts with fill, no-ops leave data unchanged', () => {
    // 1 image 2×3×1: [[1,2,3],[4,5,6]]
    const img = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const same = augmentBatch(img, [1, 2, 3, 1], { cropPad: 0, flip: false, fill: 0 }, () => 0.9);
    expect(Array.from(same)).toEqual([1, 2, 3, 4, 5, 6]);
    const flipped = augmentBatch(img, [1, 2, 3, 1], { cropPad: 0, flip: true, fill: 0 }, () => 0.1);
    expect(Array.from(flipped)).toEqual([3, 2, 1, 6, 5, 4]);
    // random() = 0 → dy = dx = −1: the window moves up-left by one, so row 0 and column 0 are padding.
    const shifted = augmentBatch(img, [1, 2, 3, 1], { cropPad: 1, flip: false, fill: -9 }, () => 0);
    expect(Array.from(shifted)).toEqual([-9, -9, -9, -9, 1, 2]);
  });
});
