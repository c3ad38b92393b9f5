/**
 * Transfer learning (CS231n; Agrawal et al. §3; ZF §5.2): a pretrained model gets a new classifier for the
 * person's classes, then one of four strategies trains it:
 *   features — every pretrained layer frozen; only the new classifier learns
 *   fc       — convolution layers frozen; the dense layers and the new classifier learn (Agrawal's fc-ft)
 *   all      — everything learns; pretrained layers at 0.1× the learning rate, the new classifier at 1×
 *   scratch  — same architecture, fresh random weights, everything at 1× (the control every comparison needs)
 * Data: a stratified, seeded train/validation split of the dataset; inputs preprocessed as the model expects.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Dataset } from '../data/dataset';
import { InspectorError, toErrorInfo } from '../../../shared/errors';
import { FINETUNE_STRATEGIES, type FinetuneStrategy, type SkippedFile } from '../../../shared/contract';
import type { LoadedModel } from '../model/loaded-model';
import type { JobContext } from '../base/job-context';
import { collectActivations, mapsReader, noUsableImages } from '../features/collect';
import { NpyRowReader, NpyStreamWriter } from '../files/npy-stream';
import { workspaceRoot } from '../files/workspace';
import { predictClasses, trainClassifier, type LabelledArray, type TrainOptions, type TrainProgress, type TrainResult, type TrainState } from './loop';
import { stratifiedSplit } from '../features/splits';
import { trainLinearSvm } from '../features/linear-svm';
import { gatherRows } from '../features/rows';

export type Strategy = FinetuneStrategy;
export const STRATEGIES: readonly Strategy[] = FINETUNE_STRATEGIES;

export interface FinetuneOptions {
  strategy: Strategy;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Multiplier of pretrained layers' learning rate in the "all" strategy (default 0.1). */
  pretrainedMultiplier?: number;
  /**
   * Per-layer multipliers for the "all" strategy (layer name → factor of the learning rate; "new_classifier" is
   * the new last step, 1× unless given): 0 keeps a layer as it is, 0.1 is "a tenth of the original rate".
   */
  layerMultipliers?: Record<string, number>;
  seed?: number;
  validationFraction?: number;
  /**
   * Share of each class set aside as a final test set, never seen while training or choosing the best epoch
   * (default 0: none; then the held-back images serve both purposes).
   */
  testFraction?: number;
  augment?: boolean;
  /** Mirror images left↔right while training (off when left and right matter, e.g. arrows or digits). */
  flip?: boolean;
  /** Random shifted crops while training (default on; off when where things sit in the picture matters). */
  crop?: boolean;
  /** Stop when the held-back accuracy has not improved for a while, keeping the best epoch (default on). */
  earlyStopping?: boolean;
  /** 'sgd' (momentum, default) or 'adam'. */
  optimizer?: 'sgd' | 'adam';
  /** The new last step of the "features" strategy: a softmax classifier (default) or linear SVMs (CS231n). */
  classifier?: 'softmax' | 'svm';
}

export interface FinetuneResult {
  model: tfl.LayersModel;
  classes: string[];
  strategy: Strategy;
  trainImages: number;
  validationImages: number;
  validationAccuracy: number;
  /** With a test set: its size and the accuracy on it; perClass, confusion and outcomes are then the test set's. */
  testImages: number;
  testAccuracy?: number;
  reportedOn: 'validation' | 'test';
  history: TrainResult['history'];
  /** Held-back accuracy of each class, and confusion[true][predicted] on the held-back images. */
  perClass: Record<string, number>;
  confusion: number[][];
  /** Each held-back image: its dataset index, true class and the class the new model gave it. */
  outcomes: Array<{ index: number; trueClass: number; predicted: number }>;
  bestEpoch?: number;
  stoppedEarly?: boolean;
  stopReason?: 'no-improvement' | 'asked';
  /** Images per class used for training (after the split). */
  trainPerClass: Record<string, number>;
  frozen: string[];
  skipped: SkippedFile[];
  settings: Required<Omit<FinetuneOptions, 'strategy'>>;
}

/** The pretrained network up to its last dense layer, topped with a new classifier for `classes` outputs. */
function withNewClassifier(
  base: tfl.LayersModel,
  classes: number,
  seed: number,
): { model: tfl.LayersModel; body: tfl.layers.Layer[]; head: tfl.layers.Layer[] } {
  const dense = base.layers.filter((l) => l.getClassName() === 'Dense');
  const last = dense[dense.length - 1];
  if (!last) throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', 'The model has no dense classifier layer to replace');
  const lastIndex = base.layers.indexOf(last);
  const body = base.layers.slice(0, lastIndex).filter((l) => l.getClassName() !== 'InputLayer');
  const classifier = tfl.layers.dense({ name: 'new_classifier', units: classes, kernelInitializer: tfl.initializers.glorotNormal({ seed }) });
  const softmax = tfl.layers.activation({ name: 'new_prob', activation: 'softmax' });
  const output = softmax.apply(classifier.apply(last.input as tfl.SymbolicTensor)) as tfl.SymbolicTensor;
  return { model: tfl.model({ inputs: base.inputs, outputs: output, name: `${base.name}_finetuned` }), body, head: [classifier, softmax] };
}

/** Preprocessed images held in memory up to this many bytes; a bigger folder goes to a float16 .npy on disk. */
const imagesInMemory = () => Number(process.env.CNN_INSPECTOR_IMAGES_IN_MEMORY ?? 2 ** 30);

/**
 * Every readable image of the folder, preprocessed for the model, with its class. Up to about 1 GiB they are
 * held in memory; beyond, they are written once to a float16 .npy in the workspace and training reads each batch's
 * rows from it (8-bit pictures lose nothing visible at float16), so a big folder does not exhaust memory.
 * `release()` removes that file; call it when done.
 */
export async function loadAll(loaded: LoadedModel, dataset: Dataset, ctx: JobContext) {
  const [h, w, c] = loaded.summary.inputShape;
  const size = h * w * c;
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  /** The dataset index of each image read (unreadable ones are skipped). */
  const indices: number[] = [];
  const skipped: SkippedFile[] = [];
  const file = dataset.entries.length * size * 4 > imagesInMemory() ? path.join(workspaceRoot(), 'tmp', `images-${process.pid}-${Date.now()}.npy`) : undefined;
  if (file) fs.mkdirSync(path.dirname(file), { recursive: true });
  const writer = file ? new NpyStreamWriter(file, 'float16', [h, w, c]) : undefined;
  try {
    for (const [i, e] of dataset.entries.entries()) {
      ctx.throwIfCancelled();
      try {
        const x = await dataset.loadInput(e.index, loaded.summary.preprocessing, loaded.summary.inputShape);
        if (writer) writer.append(x, 1);
        else xs.push(x);
        ys.push(e.classIndex);
        indices.push(e.index);
      } catch (error) {
        const info = toErrorInfo(error);
        skipped.push({ file: e.file, code: info.code, message: info.message });
      }
      if (i % 32 === 0) {
        ctx.progress(i, dataset.entries.length, `Reading images${writer ? ' (to disk: too many to hold in memory)' : ''}: ${i} of ${dataset.entries.length}`);
        await ctx.yield();
      }
    }
    writer?.close();
  } catch (error) {
    writer?.abort();
    throw error;
  }
  const release = () => {
    if (file) fs.rmSync(file, { force: true });
  };
  if (ys.length === 0) {
    release();
    throw noUsableImages(dataset.entries.length, skipped);
  }
  const reader = file ? new NpyRowReader(file) : undefined;
  const pack = (idx: number[]): LabelledArray => {
    const y = Int32Array.from(idx.map((k) => ys[k]));
    if (reader) return { x: new Float32Array(0), y, shape: [idx.length, h, w, c], read: (rows) => reader.readRows(Array.from(rows, (r) => idx[r])) };
    const x = new Float32Array(idx.length * size);
    idx.forEach((k, r) => x.set(xs[k], r * size));
    return { x, y, shape: [idx.length, h, w, c] };
  };
  return { ys, indices, pack, skipped, release, onDisk: Boolean(file) };
}

/**
 * CS231n's "CNN as a fixed feature extractor" done the fast way: the frozen network's features of every image
 * (and of its mirror image, when mirroring is on) come from the shared activation collection — one pass, kept on
 * disk in the workspace and reused by the next run on the same images — and only the new classifier trains on
 * them, epochs taking milliseconds. The images themselves are never all held in memory. Random crops are not
 * applied here (each would need its own forward pass); mirroring is.
 */
export async function featuresOfDataset(
  pretrained: LoadedModel,
  dataset: Dataset,
  layer: string,
  mirror: boolean,
  ctx: JobContext,
): Promise<{ x: Float32Array; mirrored?: Float32Array; dims: number; ys: number[]; indices: number[]; skipped: SkippedFile[] }> {
  const read = async (mirrorImages: boolean) => {
    const acts = await collectActivations(pretrained, dataset, [layer], { maps: true, mapsDtype: 'float32', ...(mirrorImages ? { mirror: true } : {}) }, ctx);
    const reader = mapsReader(acts, layer)!;
    return { acts, x: reader.read(0, reader.rows) as Float32Array, dims: reader.rowSize };
  };
  const plain = await read(false);
  const flipped = mirror ? await read(true) : undefined;
  const unreadable = new Set(plain.acts.skipped.map((f) => f.file));
  return {
    x: plain.x,
    ...(flipped ? { mirrored: flipped.x } : {}),
    dims: plain.dims,
    ys: Array.from(plain.acts.labels),
    indices: dataset.entries.filter((e) => !unreadable.has(e.file)).map((e) => e.index),
    skipped: plain.acts.skipped,
  };
}

/** Two labelled arrays of the same row shape, one after the other. */
function concatRows(a: LabelledArray, b: LabelledArray): LabelledArray {
  const x = new Float32Array(a.x.length + b.x.length);
  x.set(a.x);
  x.set(b.x, a.x.length);
  const y = new Int32Array(a.y.length + b.y.length);
  y.set(a.y);
  y.set(b.y, a.y.length);
  return { x, y, shape: [a.shape[0] + b.shape[0], a.shape[1], a.shape[2], a.shape[3]] };
}

/** The class the new classifier gives each feature row (what the whole model would say of the image). */
async function predictFromFeatures(classifier: tfl.layers.Layer, data: LabelledArray): Promise<Int32Array> {
  const [kernel, bias] = classifier.getWeights();
  const predicted = tf.tidy(() => tf.argMax(tf.add(tf.matMul(tf.tensor2d(data.x, [data.shape[0], data.shape[3]]), kernel), bias), -1));
  const out = (await predicted.data()) as Int32Array;
  predicted.dispose();
  return out;
}

/** "640 images/s": how fast it trains (the status line says on what). */
function speedNote(p: TrainProgress): string {
  return `${p.imagesPerSecond >= 10 ? Math.round(p.imagesPerSecond) : p.imagesPerSecond.toFixed(1)} images/s`;
}

/** Rows of a [N, dims] feature matrix as the training loop's [rows, 1, 1, dims] array. */
export function featureRows(x: Float32Array, dims: number, rows: number[], labels: number[]): LabelledArray {
  return { x: gatherRows(x, dims, rows), y: Int32Array.from(rows.map((r) => labels[r])), shape: [rows.length, 1, 1, dims] };
}

/**
 * One-vs-rest linear SVMs on the features (CS231n's other linear classifier), trained on standardised features
 * with the standardisation folded back into the weights, so the model's classifier takes the raw features:
 * score_c = Σ_d w_cd (x_d − μ_d) / σ_d + b_c. The model's softmax turns the scores into (uncalibrated) shares.
 */
async function trainSvmHead(train: LabelledArray, classifier: tfl.layers.Layer, seed: number, ctx: JobContext): Promise<TrainResult> {
  const [n, , , dims] = train.shape;
  const classes = (classifier.getConfig() as { units: number }).units;
  const mean = new Float64Array(dims);
  const sd = new Float64Array(dims);
  for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) mean[d] += train.x[i * dims + d] / n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dims; d++) sd[d] += (train.x[i * dims + d] - mean[d]) ** 2 / n;
  const scale = Float64Array.from(sd, (v) => 1 / (Math.sqrt(v) || 1));
  const rows = Array.from({ length: n }, (_, i) => Float32Array.from(train.x.subarray(i * dims, (i + 1) * dims), (v, d) => (v - mean[d]) * scale[d]));
  const all = Array.from({ length: dims }, (_, d) => d);
  const everyRow = Array.from({ length: n }, (_, i) => i);
  const kernel = new Float32Array(dims * classes);
  const bias = new Float32Array(classes);
  const start = Date.now();
  for (let c = 0; c < classes; c++) {
    ctx.throwIfCancelled();
    const { w, b } = trainLinearSvm(
      rows,
      Array.from(train.y, (y) => y === c),
      everyRow,
      all,
      seed + c,
    );
    let shift = b;
    for (let d = 0; d < dims; d++) {
      kernel[d * classes + c] = w[d] * scale[d];
      shift -= w[d] * scale[d] * mean[d];
    }
    bias[c] = shift;
    ctx.progress(c + 1, classes, `Linear SVM for class ${c + 1} of ${classes}`);
    await ctx.yield();
  }
  const tensors = [tf.tensor2d(kernel, [dims, classes]), tf.tensor1d(bias)];
  classifier.setWeights(tensors);
  tensors.forEach((t) => t.dispose());
  return { history: [], imagesPerSecond: n / Math.max(1e-3, (Date.now() - start) / 1000), threads: 1, engine: 'tfjs' };
}

/**
 * A softmax classifier on feature vectors ([N, 1, 1, D] as the training loop takes them), started from `initial`
 * weights (kernel [D, classes], bias [classes]); returns its trained weights (the caller disposes them).
 */
export async function trainSoftmaxHead(
  train: LabelledArray,
  validation: LabelledArray | undefined,
  initial: tf.Tensor[],
  options: TrainOptions,
): Promise<{ weights: tf.Tensor[]; result: TrainResult }> {
  const dims = train.shape[3];
  const units = initial[0].shape[1] as number;
  const input = tfl.input({ shape: [1, 1, dims] });
  const dense = tfl.layers.dense({ units, name: 'cached_classifier', kernelInitializer: 'zeros' });
  const head = tfl.model({
    inputs: input,
    outputs: tfl.layers.activation({ activation: 'softmax' }).apply(dense.apply(tfl.layers.flatten().apply(input))) as tfl.SymbolicTensor,
  });
  try {
    dense.setWeights(initial);
    // The head on cached features is too small a step to share out: helper threads would only add their start.
    const result = await trainClassifier(head, train, { ...options, augment: undefined, lrMultipliers: undefined, validation, parallel: false });
    return { weights: dense.getWeights().map((w) => tf.clone(w)), result };
  } finally {
    head.dispose();
  }
}

/** The layer whose output feeds the model's last dense layer: the features a new classifier is trained on. */
export function featureLayerOf(model: tfl.LayersModel): string | undefined {
  const dense = model.layers.filter((l) => l.getClassName() === 'Dense');
  const last = dense[dense.length - 1];
  return last ? ((last.input as tfl.SymbolicTensor).sourceLayer as tfl.layers.Layer | undefined)?.name : undefined;
}

/** How a run on disk hooks into training: where it carries on from, and where each checkpoint goes. */
export interface RunHooks {
  resume?: TrainState;
  onState?: (state: TrainState) => Promise<void>;
  /** Called with the whole model after the scheduled epochs (feature evolution and probes over the run). */
  onCheckpoint?: (epoch: number, model: tfl.LayersModel) => Promise<void>;
}

/**
 * Epochs after which a run keeps a checkpoint of the whole model: every one, unless that would pass ~200 MB of
 * checkpoints; then about five, spread to the end.
 */
export function checkpointSchedule(epochs: number, parameters: number): number[] {
  const all = Array.from({ length: epochs }, (_, i) => i + 1);
  if (parameters * 4 * epochs <= 200 * 2 ** 20) return all;
  const keep = Math.max(1, Math.min(5, Math.floor((200 * 2 ** 20) / (parameters * 4))));
  return [...new Set(Array.from({ length: keep }, (_, i) => Math.round(((i + 1) * epochs) / keep)))];
}

/** Refuses options and folders fine-tuning cannot honour, each with its reason. */
function checkFinetuneOptions(pretrained: LoadedModel, dataset: Dataset, options: FinetuneOptions): void {
  if (!STRATEGIES.includes(options.strategy)) throw new InspectorError('BAD_ARGUMENT', `Strategy must be one of ${STRATEGIES.join(', ')}`);
  if (options.classifier === 'svm' && options.strategy !== 'features') {
    throw new InspectorError('BAD_ARGUMENT', 'Linear SVMs replace only the last step: choose the "features" strategy for them');
  }
  if (options.validationFraction !== undefined && !(options.validationFraction >= 0.05 && options.validationFraction <= 0.5)) {
    throw new InspectorError('BAD_ARGUMENT', 'The held-back share must be between 5 % and 50 % of each class');
  }
  if (dataset.summary.classes.length < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'Fine-tuning needs at least two classes (one sub-folder each)');
  if (options.testFraction !== undefined && options.testFraction !== 0 && !(options.testFraction >= 0.05 && options.testFraction <= 0.4)) {
    throw new InspectorError('BAD_ARGUMENT', 'The test share must be 0 (none) or between 5 % and 40 % of each class');
  }
  if (options.layerMultipliers) {
    if (options.strategy !== 'all')
      throw new InspectorError('BAD_ARGUMENT', 'Per-layer learning rates belong to the "adjust the whole network" strategy (all)');
    for (const [name, factor] of Object.entries(options.layerMultipliers)) {
      if (name !== 'new_classifier' && !pretrained.summary.layers.some((l) => l.name === name))
        throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}" to set a learning rate for`);
      if (!(factor >= 0 && factor <= 10)) throw new InspectorError('BAD_ARGUMENT', `The learning-rate multiplier of ${name} must be between 0 and 10`);
    }
  }
  const minimum = options.testFraction ? 3 : 2;
  const small = dataset.summary.classes.find((c) => c.count < minimum);
  if (small)
    throw new InspectorError(
      'DATASET_EMPTY_CLASS',
      `Class "${small.name}" has ${small.count} image(s); each class needs at least ${minimum}${minimum === 3 ? ' with a test set' : ''}`,
    );
}

/** The options with their defaults filled in (what the model card records). */
function settingsOf(options: FinetuneOptions) {
  return {
    epochs: options.epochs ?? 10,
    batchSize: options.batchSize ?? 32,
    learningRate: options.learningRate ?? (options.optimizer === 'adam' ? 1e-3 : options.strategy === 'features' ? 0.05 : 0.01),
    pretrainedMultiplier: options.pretrainedMultiplier ?? 0.1,
    seed: options.seed ?? 1,
    validationFraction: options.validationFraction ?? 0.2,
    testFraction: options.testFraction ?? 0,
    augment: options.augment ?? true,
    flip: options.flip ?? true,
    crop: options.crop ?? true,
    earlyStopping: options.earlyStopping ?? true,
    optimizer: options.optimizer ?? 'sgd',
    classifier: options.classifier ?? 'softmax',
    layerMultipliers: options.layerMultipliers ?? {},
  };
}

export async function finetune(
  pretrained: LoadedModel,
  dataset: Dataset,
  options: FinetuneOptions,
  ctx: JobContext,
  run: RunHooks = {},
): Promise<FinetuneResult> {
  checkFinetuneOptions(pretrained, dataset, options);
  const classes = dataset.summary.classes.map((c) => c.name);
  const settings = settingsOf(options);
  // "Keep what it knows" needs only the frozen network's features (collected once, kept on disk); the other
  // strategies train on the images.
  const featureLayerName = featureLayerOf(pretrained.model);
  const cacheable = options.strategy === 'features' && featureLayerName !== undefined && pretrained.summary.layers.some((l) => l.name === featureLayerName);
  const cached = cacheable ? await featuresOfDataset(pretrained, dataset, featureLayerName!, settings.augment && settings.flip, ctx) : undefined;
  const images = cached ? undefined : await loadAll(pretrained, dataset, ctx);
  try {
    const { ys, indices, skipped } = cached ?? images!;
    if (new Set(ys).size < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'Fewer than two classes have readable images');
    // Test set first (when asked for), then the held-back validation images from the rest; both stratified.
    const outer = settings.testFraction > 0 ? stratifiedSplit(ys, 1 - settings.testFraction, settings.seed + 7919) : { train: ys.map((_, i) => i), test: [] };
    const inner = stratifiedSplit(
      outer.train.map((k) => ys[k]),
      1 - settings.validationFraction,
      settings.seed,
    );
    const split = { train: inner.train.map((i) => outer.train[i]), validation: inner.test.map((i) => outer.train[i]), test: outer.test };
    /** The rows as what is trained on: features for the cached way, images otherwise. */
    const rowsOf = (rows: number[]): LabelledArray => (cached ? featureRows(cached.x, cached.dims, rows, ys) : images!.pack(rows));
    const train = rowsOf(split.train);
    const validation = rowsOf(split.validation);

    let base = pretrained.model;
    if (options.strategy === 'scratch') {
      // Same architecture, fresh random initialisation (the layers' own initialisers).
      const config = base.toJSON(undefined, false) as unknown as tf.serialization.ConfigDict;
      base = (await tfl.models.modelFromJSON({ modelTopology: config })) as tfl.LayersModel;
    }
    const { model, body, head } = withNewClassifier(base, classes.length, settings.seed);
    const frozen: string[] = [];
    const firstDense = body.findIndex((l) => l.getClassName() === 'Dense');
    body.forEach((layer, i) => {
      const freeze = options.strategy === 'features' || (options.strategy === 'fc' && (firstDense < 0 || i < firstDense));
      layer.trainable = !freeze;
      if (freeze && layer.weights.length) frozen.push(layer.name);
    });
    let lrMultipliers: Map<string, number> | undefined;
    if (options.strategy === 'all') {
      lrMultipliers = new Map();
      const chosen = options.layerMultipliers ?? {};
      for (const layer of body)
        for (const w of layer.trainableWeights) lrMultipliers.set((w.read() as tf.Variable).name, chosen[layer.name] ?? settings.pretrainedMultiplier);
      for (const layer of head) for (const w of layer.trainableWeights) lrMultipliers.set((w.read() as tf.Variable).name, chosen[layer.name] ?? 1);
    }
    const [h] = pretrained.summary.inputShape;
    const pre = pretrained.summary.preprocessing;
    const trainOptions: TrainOptions = {
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      learningRate: settings.learningRate,
      momentum: 0.9,
      lrDecay: { everyEpochs: Math.max(1, Math.ceil(settings.epochs * 0.7)), factor: 10 },
      weightDecay: 5e-4,
      seed: settings.seed,
      augment: settings.augment
        ? { cropPad: settings.crop ? Math.max(1, Math.round(h / 14)) : 0, flip: settings.flip, fill: (0 - pre.mean[0]) / pre.std[0] }
        : undefined,
      validation,
      lrMultipliers,
      optimizer: settings.optimizer,
      ...(settings.earlyStopping ? { earlyStopping: { patience: Math.max(3, Math.ceil(settings.epochs / 4)) } } : {}),
      shouldCancel: () => ctx.isCancelled(),
      shouldStop: () => ctx.shouldFinish?.() ?? false,
      shouldPause: () => ctx.shouldPause?.() ?? false,
      ...(run.resume ? { resume: run.resume } : {}),
      ...(run.onState ? { onState: run.onState } : {}),
      ...(run.onCheckpoint && !cached
        ? { checkpointEpochs: checkpointSchedule(settings.epochs, model.countParams()), onCheckpoint: (epoch: number) => run.onCheckpoint!(epoch, model) }
        : {}),
      onProgress: (p) =>
        ctx.progress(
          (p.epoch - 1) * p.batchesPerEpoch + p.batch,
          settings.epochs * p.batchesPerEpoch,
          `Epoch ${p.epoch} of ${settings.epochs}: loss ${p.loss.toFixed(3)}${p.validationAccuracy !== undefined ? `, validation accuracy ${(p.validationAccuracy * 100).toFixed(1)} %` : ''} · ${speedNote(p)}`,
          {
            epoch: p.epoch,
            progress: p.epoch - 1 + p.batch / p.batchesPerEpoch,
            loss: p.loss,
            ...(p.validationAccuracy !== undefined ? { validationAccuracy: p.validationAccuracy } : {}),
          },
        ),
    };
    if (run.resume) replayHistory(run.resume, settings.epochs, train.y.length, ctx);
    let result: TrainResult;
    try {
      if (cached) {
        // The features of the training images and of their mirror images; the new classifier learns on them alone.
        const trainFeatures = cached.mirrored ? concatRows(train, featureRows(cached.mirrored, cached.dims, split.train, ys)) : train;
        if (settings.classifier === 'svm') result = await trainSvmHead(trainFeatures, head[0], settings.seed, ctx);
        else {
          const trained = await trainSoftmaxHead(trainFeatures, validation, head[0].getWeights(), trainOptions);
          head[0].setWeights(trained.weights);
          trained.weights.forEach((t) => t.dispose());
          result = trained.result;
        }
      } else result = await trainClassifier(model, train, trainOptions);
    } catch (error) {
      // Paused, cancelled or failed: free what this run made (the new classifier; a scratch model's fresh layers).
      for (const layer of head) layer.dispose();
      if (base !== pretrained.model) for (const layer of base.layers) if (layer.weights.length) layer.dispose();
      throw error;
    }
    const score = async (rows: number[]) => {
      const predicted = cached ? await predictFromFeatures(head[0], rowsOf(rows)) : await predictClasses(model, rowsOf(rows));
      const confusion = classes.map(() => new Array<number>(classes.length).fill(0));
      predicted.forEach((p, i) => confusion[ys[rows[i]]][p]++);
      const accuracy = confusion.reduce((s, row, i) => s + row[i], 0) / Math.max(1, rows.length);
      return { confusion, accuracy, outcomes: rows.map((k, i) => ({ index: indices[k], trueClass: ys[k], predicted: predicted[i] })) };
    };
    const onValidation = await score(split.validation);
    const onTest = split.test.length ? await score(split.test) : undefined;
    const { confusion, outcomes } = onTest ?? onValidation;
    const validationAccuracy = onValidation.accuracy;
    const perClass = Object.fromEntries(
      classes.map((name, i) => [name, confusion[i].reduce((a, b) => a + b, 0) ? confusion[i][i] / confusion[i].reduce((a, b) => a + b, 0) : 0]),
    );
    const trainPerClass = Object.fromEntries(classes.map((name, i) => [name, split.train.filter((k) => ys[k] === i).length]));
    if (base !== pretrained.model) {
      // The scratch model's unused old classifier layers are not part of `model`; free the whole base.
      for (const layer of base.layers) if (!model.layers.includes(layer)) layer.dispose();
    }
    return {
      model,
      classes,
      strategy: options.strategy,
      trainImages: split.train.length,
      validationImages: split.validation.length,
      validationAccuracy,
      testImages: split.test.length,
      ...(onTest ? { testAccuracy: onTest.accuracy } : {}),
      reportedOn: onTest ? 'test' : 'validation',
      history: result.history,
      perClass,
      confusion,
      outcomes,
      trainPerClass,
      ...(result.bestEpoch !== undefined
        ? { bestEpoch: result.bestEpoch, stoppedEarly: result.stoppedEarly, ...(result.stopReason ? { stopReason: result.stopReason } : {}) }
        : {}),
      frozen,
      skipped,
      settings,
    };
  } finally {
    // The images' temporary file on disk, when the folder was too big to hold in memory.
    images?.release();
  }
}

/**
 * A resumed run first reports what it learned before the pause (each pass's mean loss at its middle, its held-back
 * accuracy at its end, and the mean loss of the part of the interrupted pass), so the learning curve goes on from
 * where it stopped instead of starting empty.
 */
function replayHistory(resume: TrainState, epochs: number, trainImages: number, ctx: JobContext): void {
  for (const h of resume.history) {
    ctx.progress(h.epoch, epochs, `Resuming after epoch ${resume.epochsDone} of ${epochs}`, { epoch: h.epoch, progress: h.epoch - 0.5, loss: h.loss });
    if (h.validationAccuracy !== undefined) {
      ctx.progress(h.epoch, epochs, `Resuming after epoch ${resume.epochsDone} of ${epochs}`, {
        epoch: h.epoch,
        progress: h.epoch,
        loss: h.loss,
        validationAccuracy: h.validationAccuracy,
      });
    }
  }
  if (resume.seenThisEpoch > 0) {
    const epoch = resume.epochsDone + 1;
    ctx.progress(resume.epochsDone, epochs, `Resuming in epoch ${epoch} of ${epochs}`, {
      epoch,
      // The middle of the part of the pass already done.
      progress: resume.epochsDone + Math.min(1, resume.seenThisEpoch / Math.max(1, trainImages)) / 2,
      loss: resume.epochLoss / resume.seenThisEpoch,
    });
  }
}
