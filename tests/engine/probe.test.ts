/**
 * Linear probes: ablations checked element by element, the stratified split keeps every class on both sides and is
 * seeded, and the probe reaches 100 % on separable features and chance level on label-independent noise.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ablate, linearProbeAccuracy, stratifiedSplit } from '../../electron/engine/analyses/probe';
import { initBackend } from '../../electron/engine/backend';
import { mulberry32 } from '../../electron/engine/train/random';

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
});
