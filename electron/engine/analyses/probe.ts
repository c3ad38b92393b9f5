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
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { PROBE_ABLATIONS, type ProbeAblation, type ProbeRow, type SkippedFile } from '../../../shared/contract';
import { InspectorError, isErrorCode, type ErrorInfo } from '../../../shared/errors';
import { currentBackend } from '../backend';
import { builtScript } from '../paths';
import { NpyRowReader } from '../files/npy-stream';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { prefetchBatches } from '../data/batch';
import { batchForward, startHelperThread } from '../runtime/batch-forward';
import { collectActivations, mapsFile } from '../features/collect';
import { mulberry32, shuffledIndices } from '../base/random';
import type { JobContext } from '../base/job-context';
import { readTidy } from '../base/tensors';
import { gatherRows } from '../features/rows';
import { stratifiedSplit } from '../features/splits';
import type { JobDescriptor } from '../features/job-host';

/** The loss's L2 penalty on the weights, λ·‖w‖². */
export const WEIGHT_DECAY = 1e-4;

export const ABLATIONS: readonly ProbeAblation[] = PROBE_ABLATIONS;

/** Applies an ablation to one image's features, laid out [positions, channels]. */
export function ablate(features: Float32Array, positions: number, channels: number, ablation: ProbeAblation, random: () => number): Float32Array {
  if (ablation === 'original') return features;
  const out = new Float32Array(ablation === 'maxpool' ? channels : features.length);
  ablateInto(out, features, positions, channels, ablation, random);
  return out;
}

/** As ablate, written into `out` (a batch's row: no allocation per image). */
function ablateInto(out: Float32Array, features: Float32Array, positions: number, channels: number, ablation: ProbeAblation, random: () => number): void {
  switch (ablation) {
    case 'original':
      out.set(features);
      return;
    case 'binarised':
      for (let k = 0; k < features.length; k++) out[k] = features[k] > 0 ? 1 : 0;
      return;
    case 'shuffled': {
      const order = shuffledIndices(positions, random);
      for (let p = 0; p < positions; p++) out.set(features.subarray(order[p] * channels, (order[p] + 1) * channels), p * channels);
      return;
    }
    case 'maxpool': {
      out.fill(-Infinity, 0, channels);
      for (let p = 0; p < positions; p++) for (let c = 0, base = p * channels; c < channels; c++) if (features[base + c] > out[c]) out[c] = features[base + c];
      return;
    }
  }
}

/** A probe's features: rows (images) fetched on demand, `dims` values each. */
export interface ProbeFeatures {
  dims: number;
  /** The rows, one after another, written into `out` when it is given (a buffer reused batch after batch). */
  rows(indices: number[], out?: Float32Array): Float32Array;
}

/** Features held in memory, one array per image. */
export function featuresInMemory(x: Float32Array[]): ProbeFeatures {
  const dims = x[0]?.length ?? 0;
  return {
    dims,
    rows: (indices, out = new Float32Array(indices.length * dims)) => {
      indices.forEach((i, r) => out.set(x[i], r * dims));
      return out;
    },
  };
}

const PROBE_EPOCHS = 30;
const PROBE_BATCH = 256;
const MIN_STEPS = 300;

/**
 * `rows`×`dims` row-major → `dims`×`rows` (into `out` when given). Four rows at a time, so that each write is four
 * neighbouring floats, and 256 columns at a time, so that the rows being read and the columns being written stay
 * in cache (2× faster than a plain loop on conv1's 256×25 088 batches).
 */
export function transposeRows(x: Float32Array, rows: number, dims: number, out = new Float32Array(rows * dims)): Float32Array {
  const whole = rows - (rows % 4);
  for (let k0 = 0; k0 < dims; k0 += 256) {
    const k1 = Math.min(dims, k0 + 256);
    for (let r = 0; r < whole; r += 4) {
      const b0 = r * dims;
      const b1 = b0 + dims;
      const b2 = b1 + dims;
      const b3 = b2 + dims;
      for (let k = k0, o = k0 * rows + r; k < k1; k++, o += rows) {
        out[o] = x[b0 + k];
        out[o + 1] = x[b1 + k];
        out[o + 2] = x[b2 + k];
        out[o + 3] = x[b3 + k];
      }
    }
  }
  for (let r = whole; r < rows; r++) for (let k = 0; k < dims; k++) out[k * rows + r] = x[r * dims + k];
  return out;
}

/** Logits of raw feature rows `x` through the classifier (w, b) on standardised features: x·(s∘w) + b − (m∘s)·w. */
export function probeLogits(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, mean: tf.Tensor2D, scale: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, tf.mul(w, scale)), tf.sub(b, tf.sum(tf.mul(tf.mul(mean, scale), w), 0)));
}

/**
 * Gradients of the probe's loss — mean softmax cross-entropy of probeLogits plus WEIGHT_DECAY·‖w‖² — with respect
 * to w and b, from the batch in both layouts (`x` rows×d, `xt` d×rows): dW = s∘(xtᵀ·G − m⊗ΣG) + 2λw, db = ΣG,
 * where G = (softmax − onehot) / rows is the gradient at the logits. `mean` and `scale` are d×1.
 */
export function probeGradients(
  x: tf.Tensor2D,
  xt: tf.Tensor2D,
  onehot: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  mean: tf.Tensor2D,
  scale: tf.Tensor2D,
): { dW: tf.Tensor2D; db: tf.Tensor1D } {
  return tf.tidy(() => {
    const g = tf.div(tf.sub(tf.softmax(probeLogits(x, w, b, mean, scale)), onehot), x.shape[0]);
    const db = tf.sum(g, 0) as tf.Tensor1D;
    const dW = tf.add(tf.mul(scale, tf.sub(tf.matMul(xt, g), tf.mul(mean, db))), tf.mul(2 * WEIGHT_DECAY, w)) as tf.Tensor2D;
    return { dW, db };
  });
}

/**
 * Softmax regression on standardised features (training-split statistics), trained with Adam in minibatches of
 * 256 for 30 passes (at least 300 steps); returns the held-out accuracy. Rows are fetched a batch at a time, so a
 * wide layer over many images (conv1: 25 088 values per image) never has to sit in memory whole.
 *
 * The gradient is written out rather than left to autodiff, for speed on the WebAssembly backend: there a matrix
 * product is fast only when neither operand is transposed and the second is the small one. Autodiff's Xᵀ·G asks for
 * the big batch transposed (113 ms of a ~140 ms step on conv1); handed the batch in both layouts, Xᵀ·G becomes an
 * ordinary product (10 ms). Standardisation is folded into the weights, z = X·(s∘W) + b − (m∘s)·W, so the batch itself is
 * never rescaled: the gradient is s∘(XᵀG − m⊗ΣG), all of it on d×classes arrays.
 */
export async function linearProbeAccuracy(
  features: ProbeFeatures | Float32Array[],
  y: number[],
  classes: number,
  split: { train: number[]; test: number[] },
  seed: number,
  epochs = PROBE_EPOCHS,
  onPass?: (done: number, passes: number) => void,
): Promise<number> {
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
  const meanT = tf.tensor2d(
    Float32Array.from(mean, (v) => v / n),
    [d, 1],
  );
  const scaleT = tf.tensor2d(
    Float32Array.from(square, (v, k) => 1 / (Math.sqrt(Math.max(0, v / n - (mean[k] / n) ** 2)) || 1)),
    [d, 1],
  );
  // Inside tidy: the initial values are freed, the variables kept.
  const w = tf.tidy(() => tf.variable(tf.randomNormal([d, classes], 0, 0.01, 'float32', seed))) as tf.Variable<tf.Rank.R2>;
  const b = tf.tidy(() => tf.variable(tf.zeros([classes]))) as tf.Variable<tf.Rank.R1>;
  const logits = (x: tf.Tensor2D) => probeLogits(x, w, b, meanT, scaleT);
  const optimizer = tf.train.adam(0.005);
  const random = mulberry32(seed * 7919 + 17);
  // Small sets take more passes, so that every probe gets at least MIN_STEPS updates.
  const passes = Math.max(epochs, Math.ceil(MIN_STEPS / Math.ceil(n / PROBE_BATCH)));
  // The batch in both layouts, allocated once (conv1: 25 MB each, which cost more to allocate than to fill).
  const rowBuffer = new Float32Array(Math.min(n, PROBE_BATCH) * d);
  const columnBuffer = new Float32Array(rowBuffer.length);
  try {
    for (let e = 0; e < passes; e++) {
      const order = shuffledIndices(n, random);
      for (let start = 0; start < n; start += PROBE_BATCH) {
        const rows = Array.from(order.subarray(start, Math.min(n, start + PROBE_BATCH)), (i) => split.train[i]);
        const xb = data.rows(rows, rowBuffer.subarray(0, rows.length * d));
        const xt = transposeRows(xb, rows.length, d, columnBuffer.subarray(0, rows.length * d));
        tf.tidy(() => {
          const onehot = tf.oneHot(
            tf.tensor1d(
              rows.map((i) => y[i]),
              'int32',
            ),
            classes,
          ) as tf.Tensor2D;
          const { dW, db } = probeGradients(tf.tensor2d(xb, [rows.length, d]), tf.tensor2d(xt, [d, rows.length]), onehot, w, b, meanT, scaleT);
          optimizer.applyGradients([
            { name: w.name, tensor: dW },
            { name: b.name, tensor: db },
          ]);
        });
      }
      onPass?.(e + 1, passes);
      await new Promise((r) => setImmediate(r));
    }
    let correct = 0;
    for (let start = 0; start < split.test.length; start += 512) {
      const rows = split.test.slice(start, start + 512);
      const [{ data: predicted }] = readTidy(() => tf.argMax(logits(tf.tensor2d(data.rows(rows), [rows.length, d])), -1));
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

/** One probe to train — a layer, an ablation, a seed — with all a helper thread needs to train it on its own. */
export interface ProbeTask {
  /** The layer's maps as the activation collection kept them (.npy, one row per image). */
  file: string;
  /** Per image: [height, width, channels] or [units]. */
  shape: number[];
  ablation: ProbeAblation;
  /** Seed index: picks the split, the initial weights and the shuffles. */
  seed: number;
  labels: number[];
  classes: number;
  trainFraction: number;
}

/** Features above this size are read from disk a batch at a time instead of held in memory. */
const IN_MEMORY_BYTES = 256 * 2 ** 20;

/** A layer's kept maps as probe features: held in memory when they fit, else read from disk a batch at a time. */
export function layerFeatures(reader: NpyRowReader): ProbeFeatures {
  const width = reader.rowSize;
  if (reader.rows * width * 4 > IN_MEMORY_BYTES) return { dims: width, rows: (indices, out) => reader.readRows(indices, out) };
  const all = reader.read(0, reader.rows) as Float32Array;
  return { dims: width, rows: (indices, out) => gatherRows(all, width, indices, out) };
}

/** `source` with an ablation applied to every row fetched; each image's shuffle is its own, fixed for the seed. */
export function ablatedFeatures(source: ProbeFeatures, shape: number[], ablation: ProbeAblation, seed: number): ProbeFeatures {
  if (ablation === 'original') return source;
  const channels = shape[shape.length - 1];
  const positions = shape.length === 3 ? shape[0] * shape[1] : 1;
  const width = source.dims;
  const dims = ablation === 'maxpool' ? channels : width;
  let raw = new Float32Array(0);
  return {
    dims,
    rows: (indices, out = new Float32Array(indices.length * dims)) => {
      if (raw.length < indices.length * width) raw = new Float32Array(indices.length * width);
      source.rows(indices, raw.subarray(0, indices.length * width));
      indices.forEach((image, r) =>
        ablateInto(
          out.subarray(r * dims, (r + 1) * dims),
          raw.subarray(r * width, (r + 1) * width),
          positions,
          channels,
          ablation,
          mulberry32((1000 + seed) * 1_000_003 + image),
        ),
      );
      return out;
    },
  };
}

/** Held-out accuracy of one probe task on `source` (the task's layer features, unablated). */
export function probeTaskAccuracy(task: Omit<ProbeTask, 'file'>, source: ProbeFeatures, onPass?: (done: number, passes: number) => void): Promise<number> {
  const split = stratifiedSplit(task.labels, task.trainFraction, 1 + task.seed);
  return linearProbeAccuracy(
    ablatedFeatures(source, task.shape, task.ablation, task.seed),
    task.labels,
    task.classes,
    split,
    7 + task.seed,
    PROBE_EPOCHS,
    onPass,
  );
}

/** Accuracy (mean ± std over seeds) of a linear probe per layer × ablation. */
export async function linearProbes(loaded: LoadedModel, dataset: Dataset, options: ProbeOptions, ctx: JobContext): Promise<ProbeRow[]> {
  const classes = dataset.summary.classes.length;
  if (classes < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'A probe needs at least two classes');
  const empty = dataset.summary.classes.find((c) => c.count < 2);
  if (empty) throw new InspectorError('DATASET_EMPTY_CLASS', `Class "${empty.name}" has ${empty.count} image(s); a probe needs at least 2 per class`);
  const ablations = options.ablations ?? [...ABLATIONS];
  const seeds = options.seeds ?? 3;
  const trainFraction = options.trainFraction ?? 0.7;
  for (const l of options.layers)
    if (!loaded.summary.layers.some((x) => x.name === l)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${l}"`);
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
  if (skipped.length)
    throw new InspectorError(isErrorCode(skipped[0].code) ? skipped[0].code : 'IMAGE_DECODE_FAILED', `${skipped[0].file}: ${skipped[0].message}`);

  const tasks = options.layers.flatMap((layer, li) =>
    ablations.flatMap((ablation) =>
      Array.from({ length: seeds }, (_, seed): ProbeTask & { layerIndex: number } => ({
        layerIndex: li,
        file: kept ? mapsFile(acts, layer) : '',
        shape: shapes[li],
        ablation,
        seed,
        labels,
        classes,
        trainFraction,
      })),
    ),
  );
  // Progress: finished tasks plus the passes done of running ones.
  const fraction = new Float64Array(tasks.length);
  const threads = kept ? probeThreadCount() : 1;
  const report = (i: number, value: number) => {
    fraction[i] = value;
    const done = fraction.reduce((a, b) => a + b, 0);
    const t = tasks[i];
    ctx.progress(
      dataset.entries.length * (1 + done / tasks.length),
      dataset.entries.length * 2,
      `Probing ${options.layers[t.layerIndex]} (${t.ablation})${threads > 1 ? ` · ${threads} cores` : ''}`,
    );
  };
  const accuracies =
    threads > 1
      ? await runOnThreads(tasks, threads, report, ctx)
      : await runHere(tasks, (t) => (kept ? layerFeatures(new NpyRowReader(t.file)) : featuresInMemory(features[t.layerIndex])), report, ctx);
  const rows: ProbeRow[] = [];
  for (const [li, layer] of options.layers.entries())
    for (const ablation of ablations) {
      const values = tasks.flatMap((t, i) => (t.layerIndex === li && t.ablation === ablation ? [accuracies[i]] : []));
      const mean = values.reduce((a, b) => a + b, 0) / seeds;
      const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / seeds);
      rows.push({ layer, ablation, accuracy: mean, std, seeds });
    }
  return rows;
}

/**
 * Probe threads: one per core, when the engine computes on WebAssembly (a native backend uses every core itself) —
 * at most 8, and no more than free memory allows at ~512 MB each (a layer's features in memory, up to
 * IN_MEMORY_BYTES, plus the batch in two layouts and the thread's WebAssembly heap).
 */
export function probeThreadCount(): number {
  if (currentBackend()?.name !== 'wasm' || !builtScript('probe-worker.cjs')) return 1;
  const set = Number(process.env.CNN_INSPECTOR_PROBE_THREADS);
  if (Number.isInteger(set) && set >= 1) return set;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, 8, Math.floor(os.freemem() / 2 ** 29)));
}

/** Tasks one after another in this thread; a layer's features are loaded once for all its tasks. */
async function runHere(
  tasks: (ProbeTask & { layerIndex: number })[],
  load: (t: ProbeTask & { layerIndex: number }) => ProbeFeatures,
  report: (i: number, value: number) => void,
  ctx: JobContext,
): Promise<number[]> {
  const out: number[] = [];
  let loaded: { layer: number; source: ProbeFeatures } | undefined;
  for (const [i, t] of tasks.entries()) {
    ctx.throwIfCancelled();
    if (loaded?.layer !== t.layerIndex) loaded = { layer: t.layerIndex, source: load(t) };
    out.push(
      await probeTaskAccuracy(t, loaded.source, (done, passes) => {
        ctx.throwIfCancelled();
        report(i, done / passes);
      }),
    );
    report(i, 1);
    await ctx.yield();
  }
  return out;
}

/**
 * Tasks spread over helper threads (probe-worker.ts, each its own WebAssembly instance reading the kept maps
 * itself), widest layers first so that the longest probes do not start last. The results do not depend on which
 * thread ran a task: every task is seeded on its own.
 */
async function runOnThreads(tasks: ProbeTask[], threads: number, report: (i: number, value: number) => void, ctx: JobContext): Promise<number[]> {
  const script = builtScript('probe-worker.cjs')!;
  const width = (t: ProbeTask) => t.shape.reduce((a, b) => a * b, 1);
  const queue = tasks.map((_, i) => i).sort((a, b) => width(tasks[b]) - width(tasks[a]) || a - b);
  const out = new Array<number>(tasks.length);
  const workers: Worker[] = [];
  let watch: NodeJS.Timeout | undefined;
  const cancelled = new Promise<never>((_, reject) => {
    watch = setInterval(() => ctx.isCancelled() && reject(new InspectorError('JOB_CANCELLED', 'The job was cancelled')), 100);
  });
  const run = async (worker: Worker) => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const index = i;
      out[index] = await new Promise<number>((resolve, reject) => {
        const onMessage = (m: { pass?: number; passes?: number; accuracy?: number; error?: ErrorInfo }) => {
          if (m.pass !== undefined) return report(index, m.pass / m.passes!);
          worker.off('message', onMessage).off('error', reject).off('exit', onExit);
          if (m.accuracy !== undefined) resolve(m.accuracy);
          else reject(new InspectorError(m.error?.code ?? 'INTERNAL', m.error?.message ?? 'a probe thread failed'));
        };
        const onExit = (code: number) => reject(new InspectorError('INTERNAL', `a probe thread stopped (exit code ${code})`));
        worker.on('message', onMessage).once('error', reject).once('exit', onExit);
        worker.postMessage(tasks[index]);
      });
      report(index, 1);
    }
  };
  try {
    for (let k = 0; k < Math.min(threads, tasks.length); k++) workers.push(await startHelperThread(script));
    await Promise.race([Promise.all(workers.map(run)), cancelled]);
    return out;
  } finally {
    clearInterval(watch);
    cancelled.catch(() => undefined);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** The linear-probes job. */
export const probeJob: JobDescriptor<'probe'> = {
  run: async (host, params, ctx) => ({ rows: await linearProbes(host.requireModel(), host.requireDataset(), params, ctx) }),
  cache: {},
};
