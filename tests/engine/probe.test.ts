/**
 * Linear probes: ablations checked element by element, the stratified split keeps every class on both sides and is
 * seeded, and the probe reaches 100 % on separable features and chance level on label-independent noise.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ablate, linearProbeAccuracy, probeGradients, transposeRows, WEIGHT_DECAY } from '../../electron/engine/analyses/probe';
import { initBackend } from '../../electron/engine/backend';
import { mulberry32 } from '../../electron/engine/base/random';
import { maxRelError } from '../helpers/numeric';
import { stratifiedSplit } from '../../electron/engine/features/splits';

describe('linear probes', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  it('ablations: binarise, per-image position shuffle keeping channels together, spatial max', () => {
    // 3 positions × 2 channels: [[1,-2],[0,5],[-3,4]]
    const f = Float32Array.from([1, -2, 0, 5, -3, 4]);
    expect(Array.from(ablate(f, 3, 2, 'original', Math.random))).toEqual([1, -2, 0, 5, -3, 4]);
    expect(Array.from(ablate(f, 3, 2, 'binarised', Math.random))).toEqual([1, 0, 0, 1, 0, 1]);
    expect(Array.from(ablate(f, 3, 2, 'maxpool', Math.random))).toEqual([1, 5]);
    const shuffled = Array.from(ablate(f, 3, 2, 'shuffled', mulberry32(3)));
    const pairs = (a: number[]) => [0, 1, 2].map((p) => `${a[p * 2]},${a[p * 2 + 1]}`).sort();
    expect(pairs(shuffled)).toEqual(pairs([1, -2, 0, 5, -3, 4]));
  });

  it('stratified split: every class on both sides, about 70/30, same seed → same split', () => {
    const labels = Array.from({ length: 60 }, (_, i) => i % 3);
    const a = stratifiedSplit(labels, 0.7, 5);
    expect(a.train.length + a.test.length).toBe(60);
    expect(new Set(a.train.concat(a.test)).size).toBe(60);
    for (const c of [0, 1, 2]) {
      expect(a.train.filter((i) => labels[i] === c)).toHaveLength(14);
      expect(a.test.filter((i) => labels[i] === c)).toHaveLength(6);
    }
    expect(stratifiedSplit(labels, 0.7, 5)).toEqual(a);
    expect(stratifiedSplit(labels, 0.7, 6)).not.toEqual(a);
  });

  it('separable features → 100 %; noise → near chance; no tensors leak', async () => {
    const random = mulberry32(1);
    const labels = Array.from({ length: 90 }, (_, i) => i % 3);
    const separable = labels.map((l) => Float32Array.from({ length: 8 }, (_, k) => (k === l ? 3 : 0) + (random() - 0.5) * 0.5));
    const noise = labels.map(() => Float32Array.from({ length: 8 }, () => random() - 0.5));
    const split = stratifiedSplit(labels, 0.7, 2);
    const before = tf.memory().numTensors;
    expect(await linearProbeAccuracy(separable, labels, 3, split, 1)).toBe(1);
    expect(await linearProbeAccuracy(noise, labels, 3, split, 1)).toBeLessThan(0.7);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('transposeRows: every element lands at [k, r], row counts not a multiple of four included', () => {
    for (const [rows, dims] of [
      [7, 5],
      [8, 3],
      [1, 9],
      [13, 70],
    ]) {
      const x = Float32Array.from({ length: rows * dims }, (_, i) => i * 1.5 - 7);
      const t = transposeRows(x, rows, dims);
      const expected = new Float32Array(rows * dims);
      for (let r = 0; r < rows; r++) for (let k = 0; k < dims; k++) expected[k * rows + r] = x[r * dims + k];
      expect(Array.from(t)).toEqual(Array.from(expected));
    }
  });

  it('the written-out gradient equals autodiff of the standardised softmax loss with weight decay', () => {
    const random = mulberry32(11);
    const [rows, d, classes] = [13, 9, 4];
    const xv = Float32Array.from({ length: rows * d }, () => random() * 3 - 1);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.tensor2d(xv, [rows, d]);
      const xt = tf.tensor2d(transposeRows(xv, rows, d), [d, rows]);
      const onehot = tf.oneHot(
        tf.tensor1d(
          Array.from({ length: rows }, (_, i) => i % classes),
          'int32',
        ),
        classes,
      ) as tf.Tensor2D;
      const w = tf.tensor2d(
        Array.from({ length: d * classes }, () => random() - 0.5),
        [d, classes],
      );
      const b = tf.tensor1d(Array.from({ length: classes }, () => random() - 0.5));
      const mean = tf.tensor2d(
        Array.from({ length: d }, () => random()),
        [d, 1],
      );
      const scale = tf.tensor2d(
        Array.from({ length: d }, () => 0.5 + random()),
        [d, 1],
      );
      const { dW, db } = probeGradients(x, xt, onehot, w, b, mean, scale);
      // Independent: standardise the rows themselves and let autodiff differentiate the textbook loss.
      const standardised = tf.mul(tf.sub(x, tf.reshape(mean, [1, d])), tf.reshape(scale, [1, d]));
      const loss = (wv: tf.Tensor, bv: tf.Tensor) =>
        tf.add(tf.losses.softmaxCrossEntropy(onehot, tf.add(tf.matMul(standardised, wv), bv)), tf.mul(WEIGHT_DECAY, tf.sum(tf.square(wv)))) as tf.Scalar;
      const [gw, gb] = tf.grads(loss)([w, b]);
      expect(maxRelError(dW.dataSync(), gw.dataSync())).toBeLessThan(1e-4);
      expect(maxRelError(db.dataSync(), gb.dataSync())).toBeLessThan(1e-4);
    });
    expect(tf.memory().numTensors).toBe(before);
  });
});
