/**
 * Linear probes (Agrawal et al. §5, Fig. 6, Table 7): how much class information a layer holds, measured by a
 * linear softmax classifier trained on the layer's features of a stratified, seeded train split and scored on
 * the held-out split. Ablations of the features, per image:
 *   original  — the layer output as is (flattened)
 *   binarised — x > 0 → 1, else 0
 *   shuffled  — positions permuted at random (one permutation per image; a position's channels move together)
 *   maxpool   — the spatial max of each channel
 * Dense layers have no positions: shuffled and maxpool equal original there.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ProbeAblation, ProbeRow, SkippedFile } from '../../../shared/contract';
import { InspectorError, isErrorCode } from '../../../shared/errors';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { prefetchBatches } from '../data/batch';
import { batchForward } from '../runtime/batch-forward';
import { collectActivations, mapsReader } from './collect';
import { mulberry32, shuffledIndices } from '../train/random';
import type { JobContext } from './job-context';
import { readTidy } from './read';

export const ABLATIONS: readonly ProbeAblation[] = ['original', 'binarised', 'shuffled', 'maxpool'];

/** Applies an ablation to one image's features, laid out [positions, channels]. */
export function ablate(features: Float32Array, positions: number, channels: number, ablation: ProbeAblation, random: () => number): Float32Array {
  switch (ablation) {
    case 'original':
      return features;
    case 'binarised':
      return features.map((v) => (v > 0 ? 1 : 0));
    case 'shuffled': {
      const order = shuffledIndices(positions, random);
      const out = new Float32Array(features.length);
      for (let p = 0; p < positions; p++) out.set(features.subarray(order[p] * channels, (order[p] + 1) * channels), p * channels);
      return out;
    }
    case 'maxpool': {
      const out = new Float32Array(channels).fill(-Infinity);
      for (let p = 0; p < positions; p++) for (let c = 0; c < channels; c++) out[c] = Math.max(out[c], features[p * channels + c]);
      return out;
    }
  }
}

/** Stratified split: within each class, a seeded shuffle, the first `trainFraction` for training. */
export function stratifiedSplit(labels: number[], trainFraction: number, seed: number): { train: number[]; test: number[] } {
  const random = mulberry32(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => byClass.set(l, [...(byClass.get(l) ?? []), i]));
  const train: number[] = [];
  const test: number[] = [];
  for (const members of byClass.values()) {
    const order = shuffledIndices(members.length, random);
    const cut = Math.max(1, Math.min(members.length - 1, Math.round(members.length * trainFraction)));
    order.forEach((o, k) => (k < cut ? train : test).push(members[o]));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/** Softmax regression with Adam on standardised features; returns held-out accuracy. */
export function linearProbeAccuracy(x: Float32Array[], y: number[], classes: number, split: { train: number[]; test: number[] }, seed: number, epochs = 150): number {
  const d = x[0].length;
  const pack = (idx: number[]) => {
    const m = new Float32Array(idx.length * d);
    idx.forEach((i, r) => m.set(x[i], r * d));
    return m;
  };
  const trainX = pack(split.train);
  const testX = pack(split.test);
  // Standardise with training statistics (features of different layers differ in scale by orders of magnitude).
  const mean = new Float32Array(d);
  const std = new Float32Array(d);
  for (let r = 0; r < split.train.length; r++) for (let k = 0; k < d; k++) mean[k] += trainX[r * d + k] / split.train.length;
  for (let r = 0; r < split.train.length; r++) for (let k = 0; k < d; k++) std[k] += (trainX[r * d + k] - mean[k]) ** 2 / split.train.length;
  for (let k = 0; k < d; k++) std[k] = Math.sqrt(std[k]) || 1;
  for (const [m, n] of [[trainX, split.train.length], [testX, split.test.length]] as const)
    for (let r = 0; r < n; r++) for (let k = 0; k < d; k++) m[r * d + k] = (m[r * d + k] - mean[k]) / std[k];
  const [{ data: predicted }] = readTidy(() => {
    const xt = tf.tensor2d(trainX, [split.train.length, d]);
    const yt = tf.oneHot(tf.tensor1d(split.train.map((i) => y[i]), 'int32'), classes);
    const w = tf.variable(tf.randomNormal([d, classes], 0, 0.01, 'float32', seed));
    const b = tf.variable(tf.zeros([classes]));
    const optimizer = tf.train.adam(0.01);
    for (let e = 0; e < epochs; e++) {
      optimizer.minimize(() => tf.add(tf.losses.softmaxCrossEntropy(yt, tf.add(tf.matMul(xt, w), b)), tf.mul(1e-4, tf.sum(tf.square(w)))) as tf.Scalar);
    }
    const out = tf.argMax(tf.add(tf.matMul(tf.tensor2d(testX, [split.test.length, d]), w), b), -1);
    optimizer.dispose();
    w.dispose();
    b.dispose();
    return out;
  });
  let correct = 0;
  split.test.forEach((i, r) => (correct += predicted[r] === y[i] ? 1 : 0));
  return correct / split.test.length;
}

export interface ProbeOptions {
  layers: string[];
  ablations?: ProbeAblation[];
  seeds?: number;
  trainFraction?: number;
}

/** Accuracy (mean ± std over seeds) of a linear probe per layer × ablation. */
export async function linearProbes(loaded: LoadedModel, dataset: Dataset, options: ProbeOptions, ctx: JobContext): Promise<ProbeRow[]> {
  const classes = dataset.summary.classes.length;
  if (classes < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'A probe needs at least two classes');
  const empty = dataset.summary.classes.find((c) => c.count < 2);
  if (empty) throw new InspectorError('DATASET_EMPTY_CLASS', `Class "${empty.name}" has ${empty.count} image(s); a probe needs at least 2 per class`);
  const ablations = options.ablations ?? [...ABLATIONS];
  const seeds = options.seeds ?? 3;
  for (const l of options.layers) if (!loaded.summary.layers.some((x) => x.name === l)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${l}"`);
  const features: Float32Array[][] = options.layers.map(() => []);
  const shapes: number[][] = [];
  const labels: number[] = [];
  const skipped: SkippedFile[] = [];
  // The shared activation collection keeps the layers' maps on disk for the next analysis; a layer too big to keep
  // (the collection says so) is computed here instead, in memory.
  const acts = await collectActivations(loaded, dataset, options.layers, { maps: true }, ctx);
  const kept = options.layers.every((l) => acts.layers[l].maps);
  if (kept) {
    skipped.push(...acts.skipped);
    labels.push(...acts.labels);
    options.layers.forEach((layer, li) => {
      const reader = mapsReader(acts, layer)!;
      shapes[li] = acts.layers[layer].shape;
      for (const block of reader.blocks(256)) for (let i = 0; i < block.count; i++) features[li].push(block.data.subarray(i * reader.rowSize, (i + 1) * reader.rowSize) as Float32Array);
    });
  }
  const forward = kept ? undefined : await batchForward(loaded, options.layers);
  for await (const { batch, used, end } of forward ? prefetchBatches(dataset, dataset.entries, loaded, 32, skipped) : []) {
    ctx.throwIfCancelled();
    if (used.length) {
      const outs = await forward!.run(batch, used.length);
      outs.forEach((o, li) => {
        shapes[li] = o.shape.slice(1);
        const per = o.data.length / used.length;
        for (let i = 0; i < used.length; i++) features[li].push(Float32Array.from(o.data.subarray(i * per, (i + 1) * per)));
      });
      used.forEach((e) => labels.push(e.classIndex));
    }
    ctx.progress(end, dataset.entries.length * 2, 'Collecting features');
    await ctx.yield();
  }
  if (skipped.length) throw new InspectorError(isErrorCode(skipped[0].code) ? skipped[0].code : 'IMAGE_DECODE_FAILED', `${skipped[0].file}: ${skipped[0].message}`);
  const rows: ProbeRow[] = [];
  const total = options.layers.length * ablations.length;
  let done = 0;
  for (const [li, layer] of options.layers.entries()) {
    const shape = shapes[li];
    const channels = shape[shape.length - 1];
    const positions = shape.length === 3 ? shape[0] * shape[1] : 1;
    for (const ablation of ablations) {
      ctx.throwIfCancelled();
      const accuracies: number[] = [];
      for (let s = 0; s < seeds; s++) {
        const random = mulberry32(1000 + s);
        const x = features[li].map((f) => ablate(f, positions, channels, ablation, random));
        accuracies.push(linearProbeAccuracy(x, labels, classes, stratifiedSplit(labels, options.trainFraction ?? 0.7, 1 + s), 7 + s));
      }
      const mean = accuracies.reduce((a, b) => a + b, 0) / seeds;
      const std = Math.sqrt(accuracies.reduce((a, b) => a + (b - mean) ** 2, 0) / seeds);
      rows.push({ layer, ablation, accuracy: mean, std, seeds });
      ctx.progress(dataset.entries.length + ((++done) / total) * dataset.entries.length, dataset.entries.length * 2, `Probing ${layer} (${ablation})`);
      await ctx.yield();
    }
  }
  return rows;
}
