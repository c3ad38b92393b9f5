/**
 * Occlusion sensitivity (Zeiler & Fergus §4.2, Fig. 7): a square of `patch` pixels, filled with `fill` in every
 * channel of the input tensor, is slid over the image with `stride`; top-left corners y, x = 0, S, 2S, … while
 * y + P ≤ H (and x + P ≤ W). For each position:
 *   probability[y][x] = softmax output of class K (default: the unoccluded top-1 class)
 *   topLabel[y][x]    = the most probable class
 *   feature[y][x]     = sum over positions of one feature map: in the last Conv2D layer (or `layer`), the map whose
 *                       maximum is largest on the unoccluded input (ZF Fig. 7b)
 * The default fill is 0 in input-tensor space: the model's mean input after its mean/std normalisation.
 */
import type { OcclusionMaps } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { LoadedModel } from '../model/loaded-model';
import { batchForward } from '../runtime/batch-forward';
import { endsInSoftmax, softmaxRows } from '../base/tensors';
import type { JobContext } from '../base/job-context';
import type { JobDescriptor } from '../features/job-host';

export interface OcclusionOptions {
  patch: number;
  stride: number;
  /** Fill value in input-tensor space (default 0). */
  fill?: number;
  /** Class whose probability is mapped (default: unoccluded top-1). */
  classIndex?: number;
  /** Spatial layer for the feature map (default: the last Conv2D). */
  layer?: string;
  batchSize?: number;
}

/** The maps, as the contract declares them. */
export type OcclusionResult = OcclusionMaps;

/** Hides a square of the input [H,W,C] in place: rows y..y+patch, columns x..x+patch, every channel = fill. */
export function occlude(input: Float32Array, [h, w, c]: number[], o: { y: number; x: number; patch: number; fill?: number }, offset = 0): void {
  if (o.patch < 1 || o.y < 0 || o.x < 0 || o.y + o.patch > h || o.x + o.patch > w) {
    throw new InspectorError('BAD_ARGUMENT', `The square (${o.y}, ${o.x}) of ${o.patch} pixels does not fit in the ${h}×${w} input`);
  }
  for (let y = o.y; y < o.y + o.patch; y++) input.fill(o.fill ?? 0, offset + (y * w + o.x) * c, offset + (y * w + o.x + o.patch) * c);
}

export async function occlusionSensitivity(loaded: LoadedModel, input: Float32Array, options: OcclusionOptions, ctx: JobContext): Promise<OcclusionResult> {
  const [h, w, c] = loaded.summary.inputShape;
  const { patch, stride } = options;
  if (!Number.isInteger(patch) || patch < 1)
    throw new InspectorError('BAD_ARGUMENT', `The patch size must be a positive whole number of pixels (got ${patch})`);
  if (!Number.isInteger(stride) || stride < 1) throw new InspectorError('BAD_ARGUMENT', `The stride must be a positive whole number of pixels (got ${stride})`);
  if (patch > h || patch > w) throw new InspectorError('BAD_ARGUMENT', `A ${patch}-pixel square does not fit in the ${h}×${w} input`);
  const fill = options.fill ?? 0;
  if (!Number.isFinite(fill)) throw new InspectorError('BAD_ARGUMENT', 'The fill value must be a number');
  const featureLayer = options.layer ?? [...loaded.summary.layers].reverse().find((l) => l.type === 'Conv2D')?.name;
  if (!featureLayer) throw new InspectorError('LAYER_NOT_SPATIAL', 'The model has no Conv2D layer; pass --layer with a spatial layer');
  const featureInfo = loaded.summary.layers.find((l) => l.name === featureLayer);
  if (!featureInfo) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${featureLayer}"`);
  if (featureInfo.outputShape.length !== 3)
    throw new InspectorError('LAYER_NOT_SPATIAL', `Layer ${featureLayer} has no spatial map (output ${featureInfo.outputShape.join('×')})`);

  const softmax = !endsInSoftmax(loaded.model);
  // Hundreds of occluded copies of one image: the batch path (ONNX Runtime where installed).
  const forward = await batchForward(loaded, [loaded.model.outputLayers[0].name, featureLayer]);
  const run = async (batch: Float32Array, n: number) => {
    const [out, feat] = await forward.run(batch, n);
    const probs = softmax ? softmaxRows(out.data, n) : out.data;
    return { probs, feat: feat.data };
  };

  const base = await run(input, 1);
  const classes = base.probs.length;
  let classIndex = options.classIndex;
  if (classIndex === undefined) {
    classIndex = 0;
    for (let k = 1; k < classes; k++) if (base.probs[k] > base.probs[classIndex]) classIndex = k;
  } else if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classes) {
    throw new InspectorError('BAD_ARGUMENT', `Class ${classIndex} does not exist (the model has classes 0–${classes - 1})`);
  }
  const units = featureInfo.outputShape[2];
  const positionsPerMap = base.feat.length / units;
  let featureUnit = 0;
  let strongest = -Infinity;
  for (let u = 0; u < units; u++)
    for (let p = 0; p < positionsPerMap; p++)
      if (base.feat[p * units + u] > strongest) {
        strongest = base.feat[p * units + u];
        featureUnit = u;
      }

  const gridY = Math.floor((h - patch) / stride) + 1;
  const gridX = Math.floor((w - patch) / stride) + 1;
  const total = gridY * gridX;
  const probability = new Float32Array(total);
  const topLabel = new Int32Array(total);
  const feature = new Float32Array(total);
  const batchSize = options.batchSize ?? 32;
  const size = h * w * c;
  for (let start = 0; start < total; start += batchSize) {
    ctx.throwIfCancelled();
    const n = Math.min(batchSize, total - start);
    const batch = new Float32Array(n * size);
    for (let i = 0; i < n; i++) {
      const cell = start + i;
      batch.set(input, i * size);
      occlude(batch, [h, w, c], { y: Math.floor(cell / gridX) * stride, x: (cell % gridX) * stride, patch, fill }, i * size);
    }
    const { probs, feat } = await run(batch, n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (probs[i * classes + k] > probs[i * classes + best]) best = k;
      probability[start + i] = probs[i * classes + classIndex];
      topLabel[start + i] = best;
      let sum = 0;
      for (let p = 0; p < positionsPerMap; p++) sum += feat[(i * positionsPerMap + p) * units + featureUnit];
      feature[start + i] = sum;
    }
    ctx.progress(start + n, total, `Occluded ${start + n} of ${total} positions`);
    await ctx.yield();
  }
  return {
    classIndex,
    baseProbability: base.probs[classIndex],
    featureLayer,
    featureUnit,
    grid: [gridY, gridX],
    patch,
    stride,
    fill,
    probability,
    topLabel,
    feature,
  };
}

/** The occlusion job: one image's occlusion maps. */
export const occlusionJob: JobDescriptor<'occlusion'> = {
  run: async (host, params, ctx) => {
    const { input } = await host.modelInput(params.image);
    return occlusionSensitivity(host.requireModel(), input, params, ctx);
  },
};
