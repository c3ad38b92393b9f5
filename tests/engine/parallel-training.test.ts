/**
 * Training on every core (train/parallel-gradients.ts): a run split over helper threads ends with the weights of
 * the same run on one thread, within float rounding — convolutions, overlapping max pooling, dense layers, a frozen layer,
 * per-layer learning rates, weight decay and momentum — and leaves no tensor behind. Models without dropout, whose
 * steps are deterministic (dropout masks are drawn per thread).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../electron/engine/backend';
import { builtScript } from '../../electron/engine/paths';
import { trainClassifier, type TrainOptions } from '../../electron/engine/train/loop';
import { maxRelError } from '../helpers/numeric';

const hasHelperScript = builtScript('gradient-worker.cjs') !== undefined;
if (!hasHelperScript) console.log('skipped: parallel training (npm run build makes dist/electron/gradient-worker.cjs)');

function net(): tfl.LayersModel {
  const m = tfl.sequential({ name: 'parallel-test' });
  m.add(
    tfl.layers.conv2d({
      inputShape: [12, 12, 2],
      filters: 6,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      name: 'c1',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'p1' }));
  m.add(
    tfl.layers.conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      activation: 'relu',
      name: 'c2',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
    }),
  );
  m.add(tfl.layers.flatten({ name: 'f' }));
  m.add(tfl.layers.dense({ units: 16, activation: 'relu', name: 'd1', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }));
  m.add(tfl.layers.dense({ units: 4, activation: 'softmax', name: 'out', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }));
  return m;
}

function data(n: number) {
  let s = 3;
  const x = Float32Array.from({ length: n * 12 * 12 * 2 }, () => ((s = (s * 69069 + 1) % 4294967296), s / 4294967296));
  return { x, y: Int32Array.from({ length: n }, (_, i) => (i * 7) % 4), shape: [n, 12, 12, 2] as [number, number, number, number] };
}

async function train(parallel: boolean, options: Partial<TrainOptions>, prepare?: (m: tfl.LayersModel) => void) {
  const m = net();
  prepare?.(m);
  const result = await trainClassifier(m, data(160), {
    epochs: 2,
    batchSize: 10,
    learningRate: 0.05,
    momentum: 0.9,
    seed: 4,
    parallel,
    engine: 'tfjs',
    ...options,
  });
  const weights = m.getWeights().map((w) => w.dataSync() as Float32Array);
  m.dispose();
  return { result, weights };
}

describe.skipIf(!hasHelperScript)('data-parallel training', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  it('ends with the one-thread weights and losses (momentum, weight decay)', async () => {
    const before = tf.memory().numTensors;
    const one = await train(false, { weightDecay: 5e-3 });
    const all = await train(true, { weightDecay: 5e-3 });
    expect(one.result.threads).toBe(1);
    expect(all.result.threads).toBeGreaterThan(1);
    all.weights.forEach((w, i) => expect(maxRelError(w, one.weights[i]), `weight ${i}`).toBeLessThan(1e-4));
    all.result.history.forEach((e, i) => expect(e.loss).toBeCloseTo(one.result.history[i].loss, 4));
    // It learned something, so the comparison is of trained weights, not of the starting ones.
    expect(all.result.history[1].loss).toBeLessThan(all.result.history[0].loss);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps a frozen layer frozen and per-layer learning rates apart', async () => {
    const runs: Array<{ result: Awaited<ReturnType<typeof trainClassifier>>; weights: Float32Array[] }> = [];
    for (const parallel of [false, true]) {
      const m = net();
      m.getLayer('c1').trainable = false;
      // Variable names are unique per model built: the multipliers are matched by layer.
      const multipliers = new Map(
        m.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.originalName.startsWith('c2') ? 0.1 : 1] as [string, number]),
      );
      const frozen = m.getLayer('c1').getWeights()[0].dataSync().slice();
      const result = await trainClassifier(m, data(160), {
        epochs: 2,
        batchSize: 10,
        learningRate: 0.05,
        momentum: 0.9,
        seed: 4,
        parallel,
        lrMultipliers: multipliers,
      });
      expect(m.getLayer('c1').getWeights()[0].dataSync()).toEqual(frozen);
      runs.push({ result, weights: m.getWeights().map((w) => w.dataSync() as Float32Array) });
      m.dispose();
    }
    expect(runs[1].result.threads).toBeGreaterThan(1);
    runs[1].weights.forEach((w, i) => expect(maxRelError(w, runs[0].weights[i]), `weight ${i}`).toBeLessThan(1e-4));
  });

  it('runs on one thread when told to (CNN_INSPECTOR_TRAIN_THREADS=1)', async () => {
    process.env.CNN_INSPECTOR_TRAIN_THREADS = '1';
    try {
      expect((await train(true, {})).result.threads).toBe(1);
    } finally {
      delete process.env.CNN_INSPECTOR_TRAIN_THREADS;
    }
  });
});
