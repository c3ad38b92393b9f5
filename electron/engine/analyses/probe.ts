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
import { gatherRows } from '../train/loop';
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

/** A probe's features: rows (images) fetched on demand, `dims` values each. */
export interface ProbeFeatures {
  dims: number;
  rows(indices: number[]): Float32Array;
}

/** Features held in memory, one array per image. */
export function featuresInMemory(x: Float32Array[]): ProbeFeatures {
  const dims = x[0]?.length ?? 0;
  return {
    dims,
    rows: (indices) => {
      const out = new Float32Array(indices.length * dims);
      indices.forEach((i, r) => out.set(x[i], r * dims));
      return out;
    },
  };
}

const PROBE_EPOCHS = 30;
const PROBE_BATCH = 256;
const MIN_STEPS = 300;

/**
 * Softmax regression on standardised features (training-split statistics), trained with Adam in minibatches of
 * 256 for 30 passes (at least 300 steps); returns the held-out accuracy. Rows are fetched a batch at a time, so a wide layer over many
 * images (conv1: 25 088 values per image) never has to sit in memory whole, and the work grows with the layer's
 * width once, not with 150 full passes.
 */
export async function linearProbeAccuracy(features: ProbeFeatures | Float32Array[], y: number[], classes: number, split: { train: number[]; test: number[] }, seed: number, epochs = PROBE_EPOCHS): Promise<number> {
  const data = Array.isArray(features) ? featuresInMemory(features) : features;
  const d = data.dims;
  // Standardise with training statistics (features of different layers differ in scale by orders of magnitude).
  const mean = new Float64Array(d);
  const square = new Float64Array(d);
  for (let start = 0; start < split.train.length; start += 512) {
    const rows = split.train.slice(start, start + 512);
    const block = data.rows(rows);
    for (let r = 0; r < rows.length; r++)
      for (let k = 0; k < d; k++) {
        const v = block[r * d + k];
        mean[k] += v;
        square[k] += v * v;
      }
  }
  const n = split.train.length;
  const meanT = tf.tensor1d(Float32Array.from(mean, (v) => v / n));
  const scaleT = tf.tensor1d(Float32Array.from(square, (v, k) => 1 / (Math.sqrt(Math.max(0, v / n - (mean[k] / n) ** 2)) || 1)));
  const standardised = (x: Float32Array, rows: number) => tf.mul(tf.sub(tf.tensor2d(x, [rows, d]), meanT), scaleT);
  // Inside tidy: the initial values are freed, the variables kept.
  const w = tf.tidy(() => tf.variable(tf.randomNormal([d, classes], 0, 0.01, 'float32', seed)));
  const b = tf.tidy(() => tf.variable(tf.zeros([classes])));
  const optimizer = tf.train.adam(0.005);
  const random = mulberry32(seed * 7919 + 17);
  // Small sets take more passes, so that every probe gets at least MIN_STEPS updates.
  const passes = Math.max(epochs, Math.ceil(MIN_STEPS / Math.ceil(n / PROBE_BATCH)));
  try {
    for (let e = 0; e < passes; e++) {
      const order = shuffledIndices(n, random);
      for (let start = 0; start < n; start += PROBE_BATCH) {
        const rows = Array.from(order.subarray(start, Math.min(n, start + PROBE_BATCH)), (i) => split.train[i]);
        const xb = data.rows(rows);
        tf.tidy(() => {
          const xt = standardised(xb, rows.length);
          const yt = tf.oneHot(tf.tensor1d(rows.map((i) => y[i]), 'int32'), classes);
          optimizer.minimize(() => tf.add(tf.losses.softmaxCrossEntropy(yt, tf.add(tf.matMul(xt, w), b)), tf.mul(1e-4, tf.sum(tf.square(w)))) as tf.Scalar, false, [w, b]);
        });
      }
      await new Promise((r) => setImmediate(r));
    }
    let correct = 0;
    for (let start = 0; start < split.test.length; start += 512) {
      const rows = split.test.slice(start, start + 512);
      const [{ data: predicted }] = readTidy(() => tf.argMax(tf.add(tf.matMul(standardised(data.rows(rows), rows.length), w), b), -1));
      rows.forEach((i, r) => (correct += predicted[r] === y[i] ? 1 : 0));
    }
    return correct / split.test.length;
  } finally {
    optimizer.dispose();
    w.dispose();
    b.dispose();
    meanT.dispose();
    scaleT.dispose();
  }
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
    options.layers.forEach((layer, li) => (shapes[li] = acts.layers[layer].shape));
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
    // The layer's features: in memory when they fit (~256 MB), else read from the kept maps a batch at a time.
    const width = shape.reduce((a, b) => a * b, 1);
    const reader = kept ? mapsReader(acts, layer)! : undefined;
    const source: ProbeFeatures = !reader
      ? featuresInMemory(features[li])
      : labels.length * width * 4 <= 256 * 2 ** 20
        ? (() => {
            const all = reader.read(0, reader.rows) as Float32Array;
            return { dims: width, rows: (indices: number[]) => gatherRows(all, width, indices) };
          })()
        : { dims: width, rows: (indices: number[]) => reader.readRows(indices) };
    for (const ablation of ablations) {
      ctx.throwIfCancelled();
      const accuracies: number[] = [];
      for (let s = 0; s < seeds; s++) {
        // Each image's shuffle is its own, fixed for the run (the rows are fetched again every pass).
        const ablated: ProbeFeatures =
          ablation === 'original'
            ? source
            : {
                dims: ablation === 'maxpool' ? channels : width,
                rows: (indices) => {
                  const out = new Float32Array(indices.length * (ablation === 'maxpool' ? channels : width));
                  const raw = source.rows(indices);
                  indices.forEach((image, r) => out.set(ablate(raw.subarray(r * width, (r + 1) * width), positions, channels, ablation, mulberry32((1000 + s) * 1_000_003 + image)), r * (out.length / indices.length)));
                  return out;
                },
              };
        accuracies.push(await linearProbeAccuracy(ablated, labels, classes, stratifiedSplit(labels, options.trainFraction ?? 0.7, 1 + s), 7 + s));
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
