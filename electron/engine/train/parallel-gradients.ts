/**
 * Training on every core: each batch is cut into slices, one computed here and one in each helper thread
 * (gradient-worker.ts, its own WebAssembly instance with a copy of the model). Every helper gets that step's
 * weights and returns the gradient of its slice's summed loss; the sums add up to the whole batch's, so the step
 * is the single-thread step up to float rounding (tests/engine/parallel-training.test.ts). Dropout masks are drawn
 * per thread and batch normalisation's running statistics follow this thread's slice.
 */
import * as os from 'node:os';
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError, type ErrorInfo } from '../../../shared/errors';
import { builtScript } from '../paths';
import { startHelperThread } from '../runtime/batch-forward';

export interface HelperStart {
  artifacts: tf.io.ModelArtifacts;
  numClasses: number;
}

export interface GradientRequest {
  id: number;
  /** The trainable weights of this step, in the loss model's trainableWeights order. */
  weights: Float32Array[];
  x: Float32Array;
  shape: [number, number, number, number];
  y: Int32Array;
}

/** The loss summed over the slice (not averaged: slices of different sizes add up to the batch's sum). */
export function summedLoss(
  lossModel: tfl.LayersModel,
  fromLogits: boolean,
  numClasses: number,
  x: Float32Array,
  shape: [number, number, number, number],
  y: Int32Array,
): tf.Scalar {
  const yb = tf.oneHot(tf.tensor1d(y, 'int32'), numClasses);
  const out = lossModel.apply(tf.tensor4d(x, shape), { training: true }) as tf.Tensor;
  const loss = fromLogits
    ? tf.losses.softmaxCrossEntropy(yb, out, undefined, 0, tf.Reduction.SUM)
    : tf.neg(tf.sum(tf.mul(yb, tf.log(tf.clipByValue(out, 1e-7, 1)))));
  return loss as tf.Scalar;
}

export interface GradientHelpers {
  /** Helper threads (the slices per batch are one more). */
  readonly count: number;
  /** Each slice's gradients (trainable order) and summed loss, computed by one helper each. */
  gradients(weights: Float32Array[], slices: Array<Omit<GradientRequest, 'id' | 'weights'>>): Promise<Array<{ grads: Float32Array[]; lossSum: number }>>;
  close(): Promise<void>;
}

/** Helper threads for training: one per further core (CNN_INSPECTOR_TRAIN_THREADS sets the total; 1 = none). */
export function trainingHelperCount(): number {
  const set = Number(process.env.CNN_INSPECTOR_TRAIN_THREADS);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(0, (Number.isInteger(set) && set >= 1 ? set : cores) - 1);
}

/** The model as in-memory artifacts (topology with its trainable flags, and weights). */
async function artifactsOf(model: tfl.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

/** Starts the helpers for `model`, or undefined where there is one core or no built helper script. */
export async function startGradientHelpers(model: tfl.LayersModel, numClasses: number, count = trainingHelperCount()): Promise<GradientHelpers | undefined> {
  const script = builtScript('gradient-worker.cjs');
  if (count === 0 || !script || tf.getBackend() !== 'wasm') return undefined;
  const start: HelperStart = { artifacts: await artifactsOf(model), numClasses };
  const workers: Worker[] = await Promise.all(Array.from({ length: count }, () => startHelperThread(script, start)));
  let nextId = 1;
  const ask = (worker: Worker, request: GradientRequest) =>
    new Promise<{ grads: Float32Array[]; lossSum: number }>((resolve, reject) => {
      const onMessage = (m: { id: number; grads?: Float32Array[]; lossSum?: number; error?: ErrorInfo }) => {
        if (m.id !== request.id) return;
        worker.off('message', onMessage);
        if (m.grads) resolve({ grads: m.grads, lossSum: m.lossSum! });
        else reject(new InspectorError(m.error?.code ?? 'INTERNAL', m.error?.message ?? 'a training thread failed'));
      };
      worker.on('message', onMessage);
      worker.postMessage(request);
    });
  return {
    count,
    gradients: (weights, slices) => Promise.all(slices.map((s, i) => ask(workers[i], { id: nextId++, weights, ...s }))),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
