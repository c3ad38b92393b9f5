/**
 * Projections of one unit's activation down to input space (Zeiler & Fergus §2.1), three ways:
 *  - deconv:   forward pass recording max-pool switches; keep only the unit's chosen activation (with its value);
 *              then down every layer in reverse: unpool via switches (overlapping windows add), ReLU on the signal,
 *              transposed convolution / transposed dense weights (no bias), reshape for Flatten, pass-through for
 *              Dropout, LRN and BatchNorm. The chosen layer's own activation is rectified, then its filter applied.
 *  - gradient: d(activation at that position)/d(input), seeded with 1 (plain backprop: ReLUs pass where their
 *              forward input was positive).
 *  - guided:   as gradient, but every ReLU passes only signal that is positive AND whose forward input was
 *              positive (Springenberg et al.).
 * Works on chain-shaped models (each layer fed by one layer); the signal is [1,H,W,C] or [1,C] float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { backend_util } from '@tensorflow/tfjs-core';
import { InspectorError } from '../../../shared/errors';
import type { ProjectionMethod, ProjectionResult } from '../../../shared/contract';
import type { LoadedModel } from '../model/loaded-model';

export type { ProjectionMethod };
export const PROJECTION_METHODS: readonly ProjectionMethod[] = ['deconv', 'gradient', 'guided'];

export type Projection = ProjectionResult;

interface LayerConfigLike {
  activation?: string;
  strides?: number | number[];
  padding?: string;
  poolSize?: number | number[];
  dilationRate?: number | number[];
}

const PASS_THROUGH_IN_DECONV = new Set(['Dropout', 'SpatialDropout2D', 'LRN', 'BatchNormalization', 'GaussianNoise', 'GaussianDropout']);

/** The layers from the input up to `layerName`, each fed by exactly one layer. */
function chainTo(model: tfl.LayersModel, layerName: string): tfl.layers.Layer[] {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  const target = byName.get(layerName);
  if (!target) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${layerName}"`);
  const chain: tfl.layers.Layer[] = [];
  let layer: tfl.layers.Layer | undefined = target;
  while (layer && layer.getClassName() !== 'InputLayer') {
    chain.unshift(layer);
    const nodes: Array<{ inboundLayers: tfl.layers.Layer[] }> = (layer as unknown as { inboundNodes: Array<{ inboundLayers: tfl.layers.Layer[] }> }).inboundNodes;
    const inbound: tfl.layers.Layer[] = nodes[0]?.inboundLayers ?? [];
    if (nodes.length > 1 || inbound.length > 1) {
      throw new InspectorError('MODEL_UNSUPPORTED_OP', `Projections follow chains of layers; "${layer.name}" has several inputs (branches are not supported yet)`);
    }
    layer = inbound[0];
  }
  return chain;
}

function reluRule(signal: tf.Tensor, forwardOut: tf.Tensor, method: ProjectionMethod): tf.Tensor {
  if (method === 'deconv') return tf.relu(signal);
  const open = tf.cast(tf.greater(forwardOut, 0), 'float32');
  return method === 'gradient' ? tf.mul(signal, open) : tf.mul(tf.relu(signal), open);
}

/** Max-unpooling with the switches of the forward pass: each output's signal goes to its window's first maximum. */
function unpool(signal: tf.Tensor, input: tf.Tensor, config: LayerConfigLike): tf.Tensor {
  const pool = Array.isArray(config.poolSize) ? config.poolSize : [config.poolSize ?? 2, config.poolSize ?? 2];
  const strides = config.strides === undefined || config.strides === null ? pool : Array.isArray(config.strides) ? config.strides : [config.strides, config.strides];
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], [pool[0], pool[1]], [strides[0], strides[1]], 1, (config.padding ?? 'valid') as 'valid' | 'same');
  const x = input.dataSync();
  const s = signal.dataSync();
  const out = new Float32Array(x.length);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  for (let n = 0; n < batchSize; n++) {
  const inBase = n * inHeight * inWidth * inChannels;
  const outBase = n * outHeight * outWidth * inChannels;
  for (let oy = 0; oy < outHeight; oy++)
    for (let ox = 0; ox < outWidth; ox++)
      for (let c = 0; c < inChannels; c++) {
        const v = s[outBase + (oy * outWidth + ox) * inChannels + c];
        if (v === 0) continue;
        let best = -Infinity;
        let at = -1;
        for (let ky = 0; ky < filterHeight; ky++) {
          const iy = oy * strideHeight + ky - info.padInfo.top;
          if (iy < 0 || iy >= inHeight) continue;
          for (let kx = 0; kx < filterWidth; kx++) {
            const ix = ox * strideWidth + kx - info.padInfo.left;
            if (ix < 0 || ix >= inWidth) continue;
            const i = inBase + (iy * inWidth + ix) * inChannels + c;
            if (at < 0 || x[i] > best) {
              best = x[i];
              at = i;
            }
          }
        }
        if (at >= 0) out[at] += v;
      }
  }
  return tf.tensor(out, input.shape);
}

/** Vector–Jacobian product of a layer at its forward input: the exact gradient for layers without a rule. */
function vjp(layer: tfl.layers.Layer, input: tf.Tensor, signal: tf.Tensor): tf.Tensor {
  return tf.grad((x: tf.Tensor) => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, signal)))(input);
}

function stepDown(layer: tfl.layers.Layer, signal: tf.Tensor, input: tf.Tensor, output: tf.Tensor, method: ProjectionMethod): tf.Tensor {
  const type = layer.getClassName();
  const config = layer.getConfig() as LayerConfigLike;
  const activation = config.activation ?? 'linear';
  const applyActivation = (s: tf.Tensor): tf.Tensor => {
    if (activation === 'relu') return reluRule(s, output, method);
    if (activation === 'linear') return s;
    if (method === 'deconv') throw new InspectorError('MODEL_UNSUPPORTED_OP', `The deconvnet passes through ReLU layers only; "${layer.name}" uses ${activation}`);
    return s; // gradient / guided of other activations: handled by the caller's vjp
  };
  switch (type) {
    case 'Conv2D': {
      if (activation !== 'relu' && activation !== 'linear' && method !== 'deconv') return vjp(layer, input, signal);
      const s = applyActivation(signal);
      const kernel = layer.getWeights()[0] as tf.Tensor4D;
      const strides = Array.isArray(config.strides) ? config.strides : [config.strides ?? 1, config.strides ?? 1];
      const dilation = Array.isArray(config.dilationRate) ? config.dilationRate : [config.dilationRate ?? 1, config.dilationRate ?? 1];
      if (dilation[0] !== 1 || dilation[1] !== 1) return method === 'deconv' ? unsupportedDilation(layer) : vjp(layer, input, signal);
      return tf.conv2dTranspose(s as tf.Tensor4D, kernel, input.shape as [number, number, number, number], [strides[0], strides[1]], config.padding as 'same' | 'valid');
    }
    case 'Dense': {
      if (activation !== 'relu' && activation !== 'linear' && method !== 'deconv') return vjp(layer, input, signal);
      const s = applyActivation(signal);
      const kernel = layer.getWeights()[0] as tf.Tensor2D;
      return tf.reshape(tf.matMul(tf.reshape(s, [-1, kernel.shape[1]]) as tf.Tensor2D, kernel, false, true), input.shape);
    }
    case 'Activation':
    case 'ReLU':
      if (type === 'ReLU' || activation === 'relu') return reluRule(signal, output, method);
      if (activation === 'linear') return signal;
      if (method === 'deconv') throw new InspectorError('MODEL_UNSUPPORTED_OP', `The deconvnet passes through ReLU layers only; "${layer.name}" is ${activation}`);
      return vjp(layer, input, signal);
    case 'MaxPooling2D':
      return unpool(signal, input, config);
    case 'Flatten':
    case 'Reshape':
      return tf.reshape(signal, input.shape);
    case 'InputLayer':
      return signal;
    default:
      if (method === 'deconv') {
        if (PASS_THROUGH_IN_DECONV.has(type)) return signal;
        if (type === 'ZeroPadding2D' || type === 'AveragePooling2D' || type === 'Cropping2D') return vjp(layer, input, signal);
        throw new InspectorError('MODEL_UNSUPPORTED_OP', `The deconvnet cannot pass through a ${type} layer ("${layer.name}")`);
      }
      if (type === 'Dropout' || type === 'SpatialDropout2D') return signal;
      return vjp(layer, input, signal);
  }
}

function unsupportedDilation(layer: tfl.layers.Layer): never {
  throw new InspectorError('MODEL_UNSUPPORTED_OP', `Dilated convolutions ("${layer.name}") are not supported by the deconvnet yet`);
}

/**
 * Projects unit `unit` of `layerName` for one preprocessed input [H,W,C], at `position` or at the unit's strongest
 * activation (largest value; first in row-major order on ties).
 */
export function projectUnit(
  loaded: LoadedModel,
  input: Float32Array,
  layerName: string,
  unit: number,
  method: ProjectionMethod,
  position?: number[],
): Projection {
  return projectUnitBatch(loaded, [input], layerName, unit, method, [position])[0];
}

/**
 * The same for several images at once (one forward and one backward pass for the batch): image i is projected
 * from positions[i], or from its own strongest activation when that is undefined or [].
 */
export function projectUnitBatch(
  loaded: LoadedModel,
  inputs: Float32Array[],
  layerName: string,
  unit: number,
  method: ProjectionMethod,
  positions: Array<number[] | undefined> = [],
): Projection[] {
  if (!PROJECTION_METHODS.includes(method)) throw new InspectorError('BAD_ARGUMENT', `Unknown method "${method}" (deconv, gradient or guided)`);
  const chain = chainTo(loaded.model, layerName);
  const [h, w, c] = loaded.summary.inputShape;
  const n = inputs.length;
  const size = h * w * c;
  const meta: Array<{ position: number[]; value: number }> = [];
  // Only the projected signal leaves the scope; every intermediate tensor is freed by tidy.
  const projected = tf.tidy(() => {
    const batch = new Float32Array(n * size);
    inputs.forEach((x, i) => batch.set(x, i * size));
    const layerInputs: tf.Tensor[] = [];
    const layerOutputs: tf.Tensor[] = [];
    let x: tf.Tensor = tf.tensor4d(batch, [n, h, w, c]);
    for (const layer of chain) {
      layerInputs.push(x);
      x = layer.apply(x, { training: false }) as tf.Tensor;
      layerOutputs.push(x);
    }
    const top = layerOutputs[layerOutputs.length - 1];
    const units = top.shape[top.shape.length - 1] as number;
    if (!Number.isInteger(unit) || unit < 0 || unit >= units) {
      throw new InspectorError('UNIT_OUT_OF_RANGE', `Layer ${layerName} has units 0–${units - 1}; there is no unit ${unit}`);
    }
    const values = top.dataSync();
    const spatial = top.shape.length === 4;
    const height = spatial ? (top.shape[1] as number) : 1;
    const width = spatial ? (top.shape[2] as number) : 1;
    const perImage = values.length / n;
    const positionsPerImage = perImage / units;
    const seed = new Float32Array(values.length);
    for (let i = 0; i < n; i++) {
      const base = i * perImage;
      const position = positions[i];
      let at: number;
      if (position && position.length > 0) {
        if (!spatial || position.length !== 2) throw new InspectorError('BAD_ARGUMENT', `Layer ${layerName} has no spatial positions`);
        const [py, px] = position;
        if (!Number.isInteger(py) || !Number.isInteger(px) || py < 0 || px < 0 || py >= height || px >= width) {
          throw new InspectorError('BAD_ARGUMENT', `Position (${py}, ${px}) is outside the ${height}×${width} map of ${layerName}`);
        }
        at = py * width + px;
      } else {
        at = 0;
        for (let p = 1; p < positionsPerImage; p++) if (values[base + p * units + unit] > values[base + at * units + unit]) at = p;
      }
      const value = values[base + at * units + unit];
      seed[base + at * units + unit] = method === 'deconv' ? value : 1;
      meta.push({ position: spatial ? [Math.floor(at / width), at % width] : [], value });
    }
    let signal: tf.Tensor = tf.tensor(seed, top.shape);
    for (let i = chain.length - 1; i >= 0; i--) signal = stepDown(chain[i], signal, layerInputs[i], layerOutputs[i], method);
    return signal;
  });
  const data = projected.dataSync() as Float32Array;
  projected.dispose();
  return meta.map((m, i) => ({ layer: layerName, unit, method, ...m, shape: [h, w, c], data: data.slice(i * size, (i + 1) * size) }));
}
