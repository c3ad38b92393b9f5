/**
 * Training steps' gradients on ONNX Runtime: the model's gradient graph (model/onnx/gradient-graph.ts) in one
 * session for the whole run, fed each step's weights, batch, one-hot labels and dropout masks. The loop applies
 * the gradients with its own optimizers, so momentum, Adam, per-layer rates, weight decay, pauses and checkpoints
 * are the same whichever engine computed them. Where ONNX Runtime is missing or switched off
 * (CNN_INSPECTOR_TRAIN_ENGINE=tfjs, CNN_INSPECTOR_ONNXRUNTIME=0) or the graph cannot be written (a layer without a
 * gradient rule, batch normalisation), the loop keeps to tfjs and `reason` says why.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { exportGradientGraph, type GradientGraph } from '../model/onnx/gradient-graph';
import { createOrtSession, onnxRuntime } from '../runtime/onnx-runtime';

export interface OnnxGradients {
  /** The execution provider, e.g. "cpu, 2 threads". */
  readonly provider: string;
  /** The threads ONNX Runtime computes on. */
  readonly threads: number;
  /** The gradients (in `trainable` order) of the batch's summed loss, and that sum. */
  gradients(
    weights: Float32Array[],
    x: Float32Array,
    shape: [number, number, number, number],
    y: Int32Array,
    random: () => number,
  ): Promise<{ grads: Float32Array[]; lossSum: number }>;
  close(): Promise<void>;
}

/** Why the last run that asked did not train on ONNX Runtime (for the bench and the run's note). */
export let lastTrainingFallback: string | undefined;

/** The gradient session for `lossModel` (its output: logits), or undefined with `lastTrainingFallback` set. */
export async function startOnnxGradients(lossModel: tfl.LayersModel, trainable: tf.Variable[]): Promise<OnnxGradients | undefined> {
  lastTrainingFallback = undefined;
  if (process.env.CNN_INSPECTOR_TRAIN_ENGINE === 'tfjs') return fallback('CNN_INSPECTOR_TRAIN_ENGINE=tfjs');
  const ort = onnxRuntime();
  if (!ort.module) return fallback(ort.reason ?? 'ONNX Runtime is not available');
  let graph: GradientGraph;
  try {
    graph = exportGradientGraph(lossModel, trainable);
  } catch (error) {
    return fallback(error instanceof Error ? error.message : String(error));
  }
  const module = ort.module;
  const { session, provider, threads } = await createOrtSession(module, graph.bytes);
  const float = (data: Float32Array, dims: number[]) => new module.Tensor('float32', data, dims);
  return {
    provider,
    threads,
    async gradients(weights, x, shape, y, random) {
      const n = shape[0];
      const labels = new Float32Array(n * graph.numClasses);
      y.forEach((c, i) => (labels[i * graph.numClasses + c] = 1));
      const feeds: Record<string, ReturnType<typeof float>> = { input: float(x, shape), labels: float(labels, [n, graph.numClasses]) };
      graph.weights.forEach((w, i) => (feeds[`w:${i}`] = float(weights[i], w.shape)));
      for (const mask of graph.masks) {
        const dims = mask.shape.map((d) => (d === -1 ? n : d));
        feeds[mask.input] = float(
          dropoutMask(
            dims.reduce((a, b) => a * b, 1),
            mask.rate,
            random,
          ),
          dims,
        );
      }
      const out = await session.run(feeds);
      return { grads: graph.weights.map((_, i) => out[`grad:${i}`].data), lossSum: out.loss_sum.data[0] };
    },
    close: () => session.release(),
  };
}

function fallback(reason: string): undefined {
  lastTrainingFallback = reason;
  return undefined;
}

/** Inverted dropout's mask: 0 with probability `rate`, else 1 / (1 − rate), so the expected value is kept. */
export function dropoutMask(size: number, rate: number, random: () => number): Float32Array {
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(size);
  for (let i = 0; i < size; i++) mask[i] = random() < rate ? 0 : keep;
  return mask;
}
