/**
 * The training loop: mini-batch SGD with momentum, step learning-rate decay, random crop / flip augmentation,
 * checkpoints on a schedule, progress and cancellation. Data are preprocessed float32 [N,H,W,C] with int labels.
 * Training runs on the model's logits (the input of a final softmax) with softmax cross-entropy, which is
 * numerically safer than cross-entropy on probabilities.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../shared/errors';
import { augmentBatch, type AugmentOptions } from '../features/augment';
import { mulberry32, shuffledIndices } from '../base/random';
import { gatherRows } from '../features/rows';
import { startGradientHelpers, summedLoss, type GradientHelpers } from './parallel-gradients';
import { startOnnxGradients, type OnnxGradients } from './onnx-gradients';
import { ArrayMomentum } from './array-momentum';

export interface LabelledArray {
  /** [N,H,W,C] preprocessed inputs, float32, row-major (empty when `read` serves the rows from disk). */
  x: Float32Array;
  /** Rows read on demand (a folder too big to hold in memory); when present, `x` is not used. */
  read?: (rows: ArrayLike<number>) => Float32Array;
  /** [N] class indices. */
  y: Int32Array;
  shape: [number, number, number, number];
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum: number;
  /** Learning rate is divided by `factor` every `everyEpochs` epochs (step decay). */
  lrDecay?: { everyEpochs: number; factor: number };
  weightDecay?: number;
  augment?: AugmentOptions;
  seed: number;
  /** Epoch numbers (1-based) after which `onCheckpoint` is called. */
  checkpointEpochs?: number[];
  onCheckpoint?: (epoch: number) => Promise<void>;
  onProgress?: (p: TrainProgress) => void;
  shouldCancel?: () => boolean;
  /** Stop after the current batch but end normally (the person chose "stop and keep"). */
  shouldStop?: () => boolean;
  validation?: LabelledArray;
  /**
   * Per-variable learning-rate multipliers (variable name → factor), e.g. 0.1 for pretrained layers and 1 for a
   * new classifier when fine-tuning. Variables not listed train at 1×.
   */
  lrMultipliers?: Map<string, number>;
  /** 'sgd' (momentum SGD, the default) or 'adam' (adaptive steps; learningRate is then Adam's, e.g. 1e-3). */
  optimizer?: 'sgd' | 'adam';
  /**
   * Early stopping on the validation accuracy: stop after `patience` epochs without improvement and put back the
   * weights of the best epoch (needs `validation`).
   */
  earlyStopping?: { patience: number };
  /** Continue a run from a saved state (after a pause, a crash or a kill) instead of starting afresh. */
  resume?: TrainState;
  /**
   * Called with the whole training state at the end of every epoch, and mid-epoch when the person pauses: what
   * `resume` needs to carry on exactly where it stopped. The caller writes it to disk (atomically).
   */
  onState?: (state: TrainState) => Promise<void>;
  /** Pause after the current batch: the state goes to `onState`, then training ends with JOB_PAUSED. */
  shouldPause?: () => boolean;
  /** Train on every core (helper threads; the default for runs of 16 batches or more); false: this thread only. */
  parallel?: boolean;
  /**
   * 'auto' (the default): runs of 16 batches or more compute their gradients on ONNX Runtime where it is installed
   * and the model's layers have gradient rules there (train/onnx-gradients.ts), else on tfjs; 'tfjs': always tfjs.
   */
  engine?: 'auto' | 'tfjs';
}

/**
 * Everything needed to carry on training exactly where it stopped: the weights of the layers that learn, each
 * optimizer's state (momentum / Adam moments, step count), the early-stopping copy, and how far it got. Shuffles
 * and augmentation are seeded per epoch and per batch, so a resumed run draws the same images in the same order.
 */
export interface TrainState {
  epochsDone: number;
  /** Batches already done of epoch `epochsDone + 1` (non-zero after a mid-epoch pause). */
  batchesDone: number;
  epochLoss: number;
  seenThisEpoch: number;
  imagesSeen: number;
  history: TrainResult['history'];
  weights: StateTensor[];
  /** Per optimizer (one per learning-rate multiplier, in the loop's order), its weights as getWeights() gives them. */
  optimizers: StateTensor[][];
  best?: { epoch: number; accuracy: number; weights: StateTensor[] };
}

export interface StateTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

export interface TrainProgress {
  epoch: number;
  batch: number;
  batchesPerEpoch: number;
  loss: number;
  learningRate: number;
  imagesPerSecond: number;
  validationAccuracy?: number;
}

export interface TrainResult {
  history: Array<{ epoch: number; loss: number; validationAccuracy?: number; learningRate: number }>;
  imagesPerSecond: number;
  /** Threads the steps ran on (1: this one; more: data-parallel helpers or ONNX Runtime's). */
  threads: number;
  /** What computed the gradients: ONNX Runtime's gradient graph, or tfjs's autodiff. */
  engine: 'onnxruntime' | 'tfjs';
  /** With early stopping: the epoch whose weights the model has, and whether training ended before `epochs`. */
  bestEpoch?: number;
  stoppedEarly?: boolean;
  /** Why it stopped before `epochs`: held-back accuracy stopped improving, or the person pressed Stop and keep. */
  stopReason?: 'no-improvement' | 'asked';
}

/** The tensor the loss should be computed on: the input of a trailing softmax, if the model ends in one. */
export function logitsModel(model: tfl.LayersModel): { model: tfl.LayersModel; fromLogits: boolean } {
  const last = model.layers[model.layers.length - 1];
  const config = last.getConfig() as { activation?: string };
  if (last.getClassName() === 'Activation' && config.activation === 'softmax') {
    const input = last.input as tfl.SymbolicTensor;
    return { model: tfl.model({ inputs: model.inputs, outputs: input }), fromLogits: true };
  }
  if (last.getClassName() === 'Softmax') {
    return { model: tfl.model({ inputs: model.inputs, outputs: last.input as tfl.SymbolicTensor }), fromLogits: true };
  }
  return { model, fromLogits: config.activation !== 'softmax' };
}

/** The variables a training state must keep: every weight of the layers that learn (frozen ones never change). */
function stateVariables(model: tfl.LayersModel): tf.Variable[] {
  const seen = new Set<string>();
  const out: tf.Variable[] = [];
  for (const layer of model.layers) {
    if (!layer.trainable) continue;
    for (const w of layer.weights) {
      const v = w.read() as tf.Variable;
      if (!seen.has(v.name)) {
        seen.add(v.name);
        out.push(v);
      }
    }
  }
  return out;
}

function toState(t: tf.Tensor): StateTensor {
  return { shape: t.shape.slice(), dtype: t.dtype === 'int32' ? 'int32' : 'float32', data: t.dataSync() as Float32Array | Int32Array };
}

function checkShapes(what: string, saved: StateTensor[], expected: number[][]): void {
  const same = saved.length === expected.length && saved.every((t, i) => t.shape.join() === expected[i].join());
  if (!same) throw new InspectorError('RUN_MODEL_CHANGED', `The saved ${what} do not fit this model: it is not the model the run started with`);
}

/** Seeded generators per epoch and per batch, so a run resumed mid-epoch draws exactly what it would have. */
const epochRandom = (seed: number, epoch: number) => mulberry32((seed * 1_000_003 + epoch * 7_919) >>> 0);
const batchRandom = (seed: number, epoch: number, batch: number) => mulberry32((seed * 1_000_003 + epoch * 7_919 + (batch + 1) * 104_729) >>> 0);
const dropoutRandom = (seed: number, epoch: number, batch: number) => mulberry32((seed * 1_000_033 + epoch * 7_927 + (batch + 1) * 104_723) >>> 0);

/** The inputs of the given rows of `data`, one after another (from memory, or read from disk). */
export function inputRows(data: LabelledArray, rows: ArrayLike<number>): Float32Array {
  const [, h, w, c] = data.shape;
  return data.read ? data.read(rows) : gatherRows(data.x, h * w * c, rows);
}

function sliceBatch(data: LabelledArray, indices: Int32Array, start: number, end: number): { x: Float32Array; y: Int32Array } {
  const rows = indices.subarray(start, end);
  return { x: inputRows(data, rows), y: Int32Array.from(rows, (r) => data.y[r]) };
}

/** Accuracy of `model` on `data`, in batches; returns fraction correct. */
export async function evaluateAccuracy(model: tfl.LayersModel, data: LabelledArray, batchSize = 256): Promise<number> {
  const confusion = await confusionMatrix(model, data, batchSize);
  const correct = confusion.reduce((s, row, i) => s + row[i], 0);
  return data.y.length ? correct / data.y.length : 0;
}

/** The class `model` gives each image of `data` (its highest output), in batches. */
export async function predictClasses(model: tfl.LayersModel, data: LabelledArray, batchSize = 256): Promise<Int32Array> {
  const n = data.y.length;
  const [, h, w, c] = data.shape;
  const size = h * w * c;
  const out = new Int32Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const predicted = tf.tidy(() => {
      const xb = tf.tensor4d(data.read ? data.read(Array.from({ length: end - start }, (_, i) => start + i)) : data.x.subarray(start * size, end * size), [
        end - start,
        h,
        w,
        c,
      ]);
      return tf.argMax(model.predict(xb) as tf.Tensor, -1);
    });
    out.set((await predicted.data()) as Int32Array, start);
    predicted.dispose();
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

/** confusion[true class][predicted class] counts of `model` on `data`. */
export async function confusionMatrix(model: tfl.LayersModel, data: LabelledArray, batchSize = 256): Promise<number[][]> {
  const classes = model.outputs[0].shape[model.outputs[0].shape.length - 1] as number;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  (await predictClasses(model, data, batchSize)).forEach((p, i) => confusion[data.y[i]][p]++);
  return confusion;
}

type OptimizerGroup = { multiplier: number; names: Set<string>; optimizer: tf.Optimizer };
type BestEpoch = { epoch: number; accuracy: number; weights: tf.Tensor[] };

/** One optimizer per learning-rate multiplier: with Adam, scaling a gradient would not scale its step. */
function optimizerGroups(lossModel: tfl.LayersModel, options: TrainOptions): OptimizerGroup[] {
  const trainableNames = lossModel.trainableWeights.map((v) => (v.read() as tf.Variable).name);
  const multiplierOf = (name: string) => options.lrMultipliers?.get(name) ?? 1;
  return [...new Set(trainableNames.map(multiplierOf))].map((m) => ({
    multiplier: m,
    names: new Set(trainableNames.filter((n) => multiplierOf(n) === m)),
    optimizer: options.optimizer === 'adam' ? tf.train.adam(options.learningRate * m) : tf.train.momentum(options.learningRate * m, options.momentum),
  }));
}

function setRate(opt: tf.Optimizer, rate: number): void {
  const o = opt as unknown as { setLearningRate?: (r: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(rate);
  else o.learningRate = rate; // Adam reads its field at every step
}

/** A paused run's weights and optimizer slots put back; returns its best epoch so far (early stopping). */
async function restoreRun(resume: TrainState, kept: tf.Variable[], trainable: tf.Variable[], groups: OptimizerGroup[]): Promise<BestEpoch | undefined> {
  checkShapes(
    'weights',
    resume.weights,
    kept.map((v) => v.shape),
  );
  if (resume.optimizers.length !== groups.length)
    throw new InspectorError('RUN_MODEL_CHANGED', 'The saved optimizer state does not fit this run’s learning rates');
  const fromState = (t: StateTensor) => tf.tensor(t.data, t.shape, t.dtype);
  tf.tidy(() => kept.forEach((v, i) => v.assign(fromState(resume.weights[i]))));
  for (const [i, g] of groups.entries()) {
    const saved = resume.optimizers[i];
    if (!saved.length) continue;
    // The optimizer keeps its slots by position (the order gradients come in), which is the order they were saved in.
    const tensors = saved.map(fromState);
    await g.optimizer.setWeights(tensors.map((tensor, k) => ({ name: `slot${k}`, tensor })));
    tensors.forEach((t) => t.dispose()); // the optimizer made its own variables of them
  }
  if (!resume.best) return undefined;
  checkShapes(
    'best-epoch weights',
    resume.best.weights,
    trainable.map((v) => v.shape),
  );
  return { epoch: resume.best.epoch, accuracy: resume.best.accuracy, weights: resume.best.weights.map(fromState) };
}

/** What a training step needs of the run. */
interface StepContext {
  lossModel: tfl.LayersModel;
  fromLogits: boolean;
  numClasses: number;
  trainable: tf.Variable[];
  regularised: tf.Variable[];
  groups: OptimizerGroup[];
  weightDecay: number;
  /** Momentum SGD on arrays for the steps on ONNX Runtime (the optimizers hold its state only once synced). */
  arrayMomentum?: ArrayMomentum;
}

interface StepData {
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number, number];
}

/** The mean loss (with weight decay) whose gradient a step follows: what the single-thread step minimises. */
function meanLoss(ctx: StepContext, data: StepData): tf.Scalar {
  let loss = tf.div(summedLoss(ctx.lossModel, ctx.fromLogits, ctx.numClasses, data.x, data.shape, data.y), data.shape[0]);
  if (ctx.weightDecay && ctx.regularised.length) {
    // Summed pairwise, not with addN: tfjs-webgpu's AddN of 8+ tensors exceeds WebGPU's default limit of 8 storage
    // buffers per shader stage and silently yields nothing (seen on an H100 through Dawn).
    const l2 = ctx.regularised.map((v) => tf.sum(tf.square(v))).reduce((a, b) => tf.add(a, b));
    loss = tf.add(loss, tf.mul(l2, ctx.weightDecay / 2));
  }
  return loss as tf.Scalar;
}

/** Each group's optimizer takes its own variables' gradients (per-layer learning rates). */
function applyGroups(ctx: StepContext, grads: tf.NamedTensorMap): void {
  for (const g of ctx.groups)
    g.optimizer.applyGradients(
      Object.entries(grads)
        .filter(([name]) => g.names.has(name))
        .map(([name, tensor]) => ({ name, tensor })),
    );
}

/** One step on this thread; returns the batch's mean loss. */
async function singleStep(ctx: StepContext, data: StepData): Promise<number> {
  const lossTensor = tf.tidy(() => {
    const lossFn = () => meanLoss(ctx, data);
    if (ctx.groups.length === 1) return ctx.groups[0].optimizer.minimize(lossFn, true, ctx.trainable) as tf.Scalar;
    const { value, grads } = ctx.groups[0].optimizer.computeGradients(lossFn, ctx.trainable);
    applyGroups(ctx, grads);
    return value;
  });
  const loss = (await lossTensor.data())[0];
  lossTensor.dispose();
  return loss;
}

/**
 * One step over every core: the helpers' slices start first, this thread computes the first slice meanwhile, the
 * summed gradients are divided by the batch size and weight decay added once — the single-thread step's gradient.
 */
async function parallelStep(ctx: StepContext, data: StepData, helpers: GradientHelpers): Promise<number> {
  const [n, h, w, c] = data.shape;
  const size = h * w * c;
  const per = Math.ceil(n / (helpers.count + 1));
  const slices = Array.from({ length: helpers.count + 1 }, (_, i) => [i * per, Math.min(n, (i + 1) * per)] as const).filter(([a, b]) => b > a);
  const part = ([a, b]: readonly [number, number]): StepData => ({ x: data.x.slice(a * size, b * size), y: data.y.slice(a, b), shape: [b - a, h, w, c] });
  const weights = ctx.trainable.map((v) => v.dataSync() as Float32Array);
  const remote = helpers.gradients(weights, slices.slice(1).map(part));
  const local = tf.tidy(() => {
    const first = part(slices[0]);
    return tf.variableGrads(() => summedLoss(ctx.lossModel, ctx.fromLogits, ctx.numClasses, first.x, first.shape, first.y), ctx.trainable);
  });
  let others: Awaited<typeof remote>;
  try {
    others = await remote;
  } catch (error) {
    local.value.dispose();
    Object.values(local.grads).forEach((g) => g.dispose());
    throw error;
  }
  const lossSum = (await local.value.data())[0] + others.reduce((s, o) => s + o.lossSum, 0);
  const grads = ctx.trainable.map((v, i) => {
    const sum = (local.grads[v.name].dataSync() as Float32Array).slice();
    for (const o of others) for (let j = 0; j < sum.length; j++) sum[j] += o.grads[i][j];
    return sum;
  });
  local.value.dispose();
  Object.values(local.grads).forEach((g) => g.dispose());
  return applySummed(ctx, n, lossSum, grads, weights);
}

/**
 * A step from the batch's summed gradients (`grads`, in trainable order, overwritten) taken at `weights`: divided
 * by the batch size, weight decay added once, applied by the optimizers; returns the mean loss with the decay term
 * at those weights, as the one-thread step reports it. On arrays: fewer small tfjs ops per step.
 */
function applySummed(ctx: StepContext, n: number, lossSum: number, grads: Float32Array[], weights: Float32Array[]): number {
  const decays = ctx.trainable.map((v) => (ctx.weightDecay && ctx.regularised.includes(v) ? ctx.weightDecay : 0));
  let squares = 0;
  if (ctx.arrayMomentum) squares = ctx.arrayMomentum.step(weights, grads, n, decays);
  else {
    // Plain loops with a local sum: a sum captured by a closure is boxed on every add (4 ms a step on 430 000 weights).
    for (let i = 0; i < grads.length; i++) squares += meanAndDecay(grads[i], weights[i], n, decays[i]);
    tf.tidy(() => applyGroups(ctx, Object.fromEntries(ctx.trainable.map((v, i) => [v.name, tf.tensor(grads[i], v.shape)]))));
  }
  return lossSum / n + (ctx.weightDecay / 2) * squares;
}

/** g ← g / n + decay·w, in place; returns Σw² where the weights decay (the loss's decay term), else 0. */
function meanAndDecay(g: Float32Array, w: Float32Array, n: number, decay: number): number {
  if (!decay) {
    for (let j = 0; j < g.length; j++) g[j] = g[j] / n;
    return 0;
  }
  let squares = 0;
  for (let j = 0; j < g.length; j++) {
    g[j] = g[j] / n + decay * w[j];
    squares += w[j] * w[j];
  }
  return squares;
}

/** One step with the gradients from ONNX Runtime (dropout masks drawn from `random`). */
async function onnxStep(ctx: StepContext, data: StepData, onnx: OnnxGradients, random: () => number): Promise<number> {
  const weights = ctx.trainable.map((v) => v.dataSync() as Float32Array);
  const { grads, lossSum } = await onnx.gradients(weights, data.x, data.shape, data.y, random);
  return applySummed(ctx, data.shape[0], lossSum, grads, weights);
}

export async function trainClassifier(model: tfl.LayersModel, data: LabelledArray, options: TrainOptions): Promise<TrainResult> {
  const n = data.y.length;
  if (n === 0) throw new InspectorError('DATASET_EMPTY', 'No training images');
  const numClasses = (model.outputs[0].shape[model.outputs[0].shape.length - 1] as number) ?? 0;
  const { model: lossModel, fromLogits } = logitsModel(model);
  const groups = optimizerGroups(lossModel, options);
  const batchesPerEpoch = Math.ceil(n / options.batchSize);
  const [, h, w, c] = data.shape;
  const history: TrainResult['history'] = options.resume ? options.resume.history.map((e) => ({ ...e })) : [];
  const startTime = Date.now();
  let imagesSeen = options.resume?.imagesSeen ?? 0;
  const imagesAtStart = imagesSeen;
  const trainable = lossModel.trainableWeights.map((v) => v.read() as tf.Variable);
  const regularised = trainable.filter((v) => v.shape.length > 1);
  const kept = stateVariables(lossModel);
  // Early stopping keeps a copy of the trainable weights of the best epoch so far.
  let stoppedEarly = false;
  let stopReason: TrainResult['stopReason'];
  const resume = options.resume;
  let best = resume ? await restoreRun(resume, kept, trainable, groups) : undefined;
  const snapshot = async (epochsDone: number, batchesDone: number, epochLoss: number, seenThisEpoch: number): Promise<TrainState> => {
    await ctx.arrayMomentum?.syncInto();
    return {
      epochsDone,
      batchesDone,
      epochLoss,
      seenThisEpoch,
      imagesSeen,
      history: history.map((e) => ({ ...e })),
      weights: kept.map(toState),
      optimizers: await Promise.all(
        groups.map(async (g) => {
          const named = await g.optimizer.getWeights();
          const out = named.map((nt) => toState(nt.tensor));
          // getWeights() hands out the step count as a new tensor; the slots are the optimizer's own.
          named[0]?.tensor.dispose();
          return out;
        }),
      ),
      ...(best ? { best: { epoch: best.epoch, accuracy: best.accuracy, weights: best.weights.map(toState) } } : {}),
    };
  };
  const ctx: StepContext = { lossModel, fromLogits, numClasses, trainable, regularised, groups, weightDecay: options.weightDecay ?? 0 };
  // Every core for runs long enough to repay starting the helpers (a second or two).
  const steps = batchesPerEpoch * (options.epochs - (resume?.epochsDone ?? 0));
  const long = steps >= 16 && options.batchSize >= 8;
  let onnx =
    long && options.parallel !== false && options.engine !== 'tfjs' && fromLogits
      ? await startOnnxGradients(lossModel, trainable, { batchSize: options.batchSize }).catch(() => undefined)
      : undefined;
  let helpers = !onnx && long && options.parallel !== false ? await startGradientHelpers(model, numClasses).catch(() => undefined) : undefined;
  // tfjs's momentum update is four small ops per weight: on arrays instead, where the gradients are arrays.
  if (onnx && options.optimizer !== 'adam') ctx.arrayMomentum = await ArrayMomentum.start(trainable, groups, options.momentum);
  const threadsUsed = onnx ? onnx.threads : (helpers?.count ?? 0) + 1;
  const engine = onnx ? 'onnxruntime' : 'tfjs';
  try {
    for (let epoch = (resume?.epochsDone ?? 0) + 1; epoch <= options.epochs; epoch++) {
      const decaySteps = options.lrDecay ? Math.floor((epoch - 1) / options.lrDecay.everyEpochs) : 0;
      const learningRate = options.learningRate / Math.pow(options.lrDecay?.factor ?? 1, decaySteps);
      for (const g of groups) setRate(g.optimizer, learningRate * g.multiplier);
      const order = shuffledIndices(n, epochRandom(options.seed, epoch));
      const continuing = resume && epoch === resume.epochsDone + 1;
      let epochLoss = continuing ? resume.epochLoss : 0;
      let stopRequested = false;
      let seenThisEpoch = continuing ? resume.seenThisEpoch : 0;
      for (let b = continuing ? resume.batchesDone : 0; b < batchesPerEpoch; b++) {
        if (options.shouldCancel?.()) throw new InspectorError('JOB_CANCELLED', 'Training cancelled');
        if (b > 0 && options.shouldStop?.()) {
          stopRequested = true;
          break;
        }
        if (options.shouldPause?.() && options.onState) {
          await options.onState(await snapshot(epoch - 1, b, epochLoss, seenThisEpoch));
          throw new InspectorError('JOB_PAUSED', `Training paused in epoch ${epoch} of ${options.epochs}; resume it to carry on from there`);
        }
        const start = b * options.batchSize;
        const end = Math.min(n, start + options.batchSize);
        const batch = sliceBatch(data, order, start, end);
        const shape: [number, number, number, number] = [end - start, h, w, c];
        const xData = options.augment ? augmentBatch(batch.x, shape, options.augment, batchRandom(options.seed, epoch, b)) : batch.x;
        const step = { x: xData, y: batch.y, shape };
        let loss: number | undefined;
        if (onnx) {
          // A failing session (out of memory) leaves the rest of the run to tfjs on this thread.
          loss = await onnxStep(ctx, step, onnx, dropoutRandom(options.seed, epoch, b)).catch(async () => {
            await onnx?.close();
            onnx = undefined;
            await ctx.arrayMomentum?.syncInto();
            ctx.arrayMomentum = undefined;
            return undefined;
          });
        } else if (helpers && shape[0] > helpers.count) {
          // A helper that fails (out of memory, a layer it cannot rebuild) leaves the rest of the run to this thread.
          loss = await parallelStep(ctx, step, helpers).catch(async () => {
            await helpers?.close();
            helpers = undefined;
            return undefined;
          });
        }
        loss ??= await singleStep(ctx, step);
        epochLoss += loss * (end - start);
        seenThisEpoch += end - start;
        imagesSeen += end - start;
        options.onProgress?.({
          epoch,
          batch: b + 1,
          batchesPerEpoch,
          loss,
          learningRate,
          imagesPerSecond: (imagesSeen - imagesAtStart) / ((Date.now() - startTime) / 1000),
        });
        // Yield so cancellation messages and progress events get through.
        if (b % 4 === 0) await new Promise((r) => setImmediate(r));
      }
      const validationAccuracy = options.validation ? await evaluateAccuracy(model, options.validation) : undefined;
      history.push({ epoch, loss: epochLoss / Math.max(1, seenThisEpoch), validationAccuracy, learningRate });
      options.onProgress?.({
        epoch,
        batch: batchesPerEpoch,
        batchesPerEpoch,
        loss: epochLoss / Math.max(1, seenThisEpoch),
        learningRate,
        imagesPerSecond: (imagesSeen - imagesAtStart) / ((Date.now() - startTime) / 1000),
        validationAccuracy,
      });
      if (options.checkpointEpochs?.includes(epoch) && options.onCheckpoint) await options.onCheckpoint(epoch);
      if (options.earlyStopping && validationAccuracy !== undefined) {
        if (!best || validationAccuracy > best.accuracy) {
          best?.weights.forEach((t) => t.dispose());
          best = { epoch, accuracy: validationAccuracy, weights: trainable.map((v) => tf.clone(v)) };
        } else if (epoch - best.epoch >= options.earlyStopping.patience) {
          stoppedEarly = epoch < options.epochs;
          if (stoppedEarly) stopReason = 'no-improvement';
          break;
        }
      }
      if (stopRequested) {
        stoppedEarly = epoch < options.epochs || stoppedEarly;
        if (epoch < options.epochs) stopReason = 'asked';
        break;
      }
      if (options.onState && epoch < options.epochs) await options.onState(await snapshot(epoch, 0, 0, 0));
    }
    if (best && best.epoch !== history.length) trainable.forEach((v, i) => v.assign(best!.weights[i]));
  } finally {
    await helpers?.close();
    await onnx?.close();
    best?.weights.forEach((t) => t.dispose());
    for (const { optimizer } of groups) {
      optimizer.dispose();
      // MomentumOptimizer.dispose() leaves SGD's learning-rate scalar `c` behind (tfjs 4.22): free it here.
      (optimizer as unknown as { c?: tf.Tensor }).c?.dispose();
    }
  }
  return {
    history,
    imagesPerSecond: (imagesSeen - imagesAtStart) / Math.max(1e-3, (Date.now() - startTime) / 1000),
    threads: threadsUsed,
    engine,
    ...(best ? { bestEpoch: best.epoch, stoppedEarly, ...(stopReason ? { stopReason } : {}) } : {}),
  };
}
