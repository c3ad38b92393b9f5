/**
 * Training steps' gradients on ONNX Runtime: the model's gradient graph (model/onnx/gradient-graph.ts) in one
 * session for the whole run, fed each step's weights, batch, one-hot labels and dropout masks. The loop applies
 * the gradients with its own optimizers, so momentum, Adam, per-layer rates, weight decay, pauses and checkpoints
 * are the same whichever engine computed them. Where ONNX Runtime is missing or switched off
 * (CNN_INSPECTOR_TRAIN_ENGINE=tfjs, CNN_INSPECTOR_ONNXRUNTIME=0) or the graph cannot be written (a layer without a
 * gradient rule, batch normalisation), the loop keeps to tfjs and `lastTrainingFallback` says why.
 *
 * Memory: a batch of large images runs as several slices of at most RUN_BYTES of working memory each (a
 * 224-pixel ResNet-18 takes about 200 MiB per image), their summed gradients adding up to the batch's.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import {
  exportGradientGraph,
  gradientFloatsPerImage,
  kernelFromLayout,
  kernelInLayout,
  type GradientGraph,
  type MapLayout,
} from '../model/onnx/gradient-graph';
import { createOrtSession, onnxRuntime, type OrtTensor } from '../runtime/onnx-runtime';
import { InspectorError } from '../../../shared/errors';

export interface OnnxGradients {
  /** The threads ONNX Runtime computes on. */
  readonly threads: number;
  /** How the graph holds maps (CHWN for batches of 16 and more where every layer has a CHWN rule). */
  readonly layout: MapLayout;
  /** The gradients (in `trainable` order) of the batch's summed loss, and that sum (in slices where the batch is large). */
  gradients(
    weights: Float32Array[],
    x: Float32Array,
    shape: [number, number, number, number],
    y: Int32Array,
    random: () => number,
  ): Promise<{ grads: Float32Array[]; lossSum: number }>;
  close(): Promise<void>;
}

const RUN_BYTES = 1024 * 2 ** 20;

/** The smallest run that holds maps batch-innermost (CHWN): below it, blocks of a few floats copy no faster than CNHW's rows. */
const CHWN_FROM_BATCH = 16;

export interface OnnxGradientOptions {
  /** The training batch size (the layout is chosen for the runs it makes). */
  batchSize?: number;
  /** The working memory one run of the graph may take (larger batches run in slices). */
  runBytes?: number;
  /** A layout to use instead of choosing one (tests). */
  layout?: MapLayout;
}

/** Why the last run that asked did not train on ONNX Runtime (for the bench and the run's note). */
export let lastTrainingFallback: string | undefined;

/** The gradient session for `lossModel` (its output: logits), or undefined with `lastTrainingFallback` set. */
export async function startOnnxGradients(
  lossModel: tfl.LayersModel,
  trainable: tf.Variable[],
  options: OnnxGradientOptions = {},
): Promise<OnnxGradients | undefined> {
  lastTrainingFallback = undefined;
  if (process.env.CNN_INSPECTOR_TRAIN_ENGINE === 'tfjs') return fallback('CNN_INSPECTOR_TRAIN_ENGINE=tfjs');
  const ort = onnxRuntime();
  if (!ort.module) return fallback(ort.reason ?? 'ONNX Runtime is not available');
  // Images per run of the graph (a batch larger runs in slices); the layout is chosen for the runs' size.
  const perRun = Math.max(1, Math.floor((options.runBytes ?? RUN_BYTES) / (4 * gradientFloatsPerImage(lossModel))));
  const layout = options.layout ?? (Math.min(options.batchSize ?? 0, perRun) >= CHWN_FROM_BATCH ? 'chwn' : 'cnhw');
  let graph: GradientGraph;
  try {
    graph = exportInLayout(lossModel, trainable, layout);
  } catch (error) {
    return fallback(error instanceof Error ? error.message : String(error));
  }
  const module = ort.module;
  let started: Awaited<ReturnType<typeof createOrtSession>>;
  try {
    started = await createOrtSession(module, graph.bytes);
  } catch (error) {
    return fallback(`ONNX Runtime could not start the training graph (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
  }
  const { session, threads } = started;
  const float = (data: Float32Array, dims: number[]) => new module.Tensor('float32', data, dims);
  /** One run of the graph on a slice of a batch. */
  const run = async (weightFeeds: Record<string, OrtTensor>, x: Float32Array, shape: number[], y: Int32Array, random: () => number) => {
    const n = shape[0];
    const labels = new Float32Array(n * graph.numClasses);
    y.forEach((c, i) => (labels[i * graph.numClasses + c] = 1));
    const feeds: Record<string, OrtTensor> = { ...weightFeeds, input: float(x, shape), labels: float(labels, [n, graph.numClasses]) };
    for (const mask of graph.masks) {
      const dims = mask.shape.map((d) => (d === -1 ? n : d));
      const size = dims.reduce((a, b) => a * b, 1);
      feeds[mask.input] = float(dropoutMask(size, mask.rate, random), dims);
    }
    const out = await session.run(feeds);
    return { grads: graph.weightShapes.map((_, i) => out[`grad:${i}`].data), lossSum: out.loss_sum.data[0] };
  };
  return {
    threads,
    layout: graph.layout,
    async gradients(weights, x, shape, y, random) {
      const [n, ...image] = shape;
      // The weights, and the kernels the backward pass wants in other layouts, once for all the slices.
      const weightFeeds: Record<string, OrtTensor> = {};
      graph.weightShapes.forEach((shape, i) => (weightFeeds[`w:${i}`] = float(weights[i], shape)));
      for (const k of graph.kernelLayouts) weightFeeds[k.input] = float(kernelInLayout(weights[k.weight], graph.weightShapes[k.weight], k.layout), k.shape);
      const size = image.reduce((a, b) => a * b, 1);
      let total: { grads: Float32Array[]; lossSum: number } | undefined;
      // Slices of even size (16 in three: 6, 5, 5 — not 7, 7, 2).
      const per = Math.ceil(n / Math.ceil(n / perRun));
      for (let from = 0; from < n; from += per) {
        const to = Math.min(n, from + per);
        const part = await run(weightFeeds, x.subarray(from * size, to * size), [to - from, ...image], y.subarray(from, to), random);
        if (!total) total = part;
        else {
          total.lossSum += part.lossSum;
          total.grads.forEach((g, i) => {
            const add = part.grads[i];
            for (let j = 0; j < g.length; j++) g[j] += add[j];
          });
        }
      }
      // Kernel gradients that came out in another layout, back to HWIO.
      for (const { weight, layout } of graph.gradientLayouts) total!.grads[weight] = kernelFromLayout(total!.grads[weight], graph.weightShapes[weight], layout);
      return total!;
    },
    close: () => session.release(),
  };
}

/** The graph in `layout`, or in CNHW where a layer has no CHWN rule (a refusal; any other error is not retried). */
function exportInLayout(lossModel: tfl.LayersModel, trainable: tf.Variable[], layout: MapLayout): GradientGraph {
  if (layout === 'cnhw') return exportGradientGraph(lossModel, trainable, 'cnhw');
  try {
    return exportGradientGraph(lossModel, trainable, layout);
  } catch (error) {
    if (!(error instanceof InspectorError && error.code === 'MODEL_UNSUPPORTED_OP')) throw error;
    return exportGradientGraph(lossModel, trainable, 'cnhw');
  }
}

function fallback(reason: string): undefined {
  lastTrainingFallback = reason;
  return undefined;
}

/** Inverted dropout's mask: 0 with probability `rate`, else 1 / (1 − rate), so the expected value is kept. */
function dropoutMask(size: number, rate: number, random: () => number): Float32Array {
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(size);
  for (let i = 0; i < size; i++) mask[i] = random() < rate ? 0 : keep;
  return mask;
}
