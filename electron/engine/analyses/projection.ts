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
 * Works on any layer graph — chains, branches, concatenations, residual adds (signals split at a concatenation,
 * are copied down both sides of an add, and add up where branches meet); the signal is [N,H,W,C] or [N,C].
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { backend_util } from '@tensorflow/tfjs-core';
import { InspectorError } from '../../../shared/errors';
import { PROJECTION_METHODS, type ProjectionMethod, type ProjectionResult } from '../../../shared/contract';
import type { LoadedModel } from '../model/loaded-model';
import { projectOnOnnxRuntime } from '../runtime/batch-projection';
import { DECONV_PASS_THROUGH } from '../model/onnx/deconvnet';

export type { ProjectionMethod };
export { PROJECTION_METHODS };

export type Projection = ProjectionResult;

interface LayerConfigLike {
  activation?: string;
  strides?: number | number[];
  padding?: string;
  poolSize?: number | number[];
  dilationRate?: number | number[];
}

/**
 * Linear layers whose deconvnet step is their transpose — which, for a linear map, is exactly its vector–Jacobian
 * product (max-pooling's switches included: the gradient routes to the window's maximum).
 */
const TRANSPOSE_BY_VJP_IN_DECONV = new Set([
  'ZeroPadding2D',
  'ConstantPadding2D',
  'Cropping2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'GroupedConv2D',
  'FlatReorder',
  'Permute',
  'ChannelShuffle',
  'CountedAveragePooling2D',
  'EdgePadding2D',
  'PickChannels',
  'MapMatMul',
  'ZeroInsertion2D',
  // Max pooling with dilated taps: its vector–Jacobian product routes the signal to each window's maximum, as
  // the switches do.
  'DilatedPooling2D',
]);

interface GraphStep {
  layer: tfl.layers.Layer;
  /** Names of the layers feeding it, in call order ('' = the model input). */
  inputs: string[];
}

/**
 * The layers `layerName` depends on, in topological order (TF.js keeps model.layers in that order), each with
 * the layers that feed it: chains, branches, concatenations and residual adds alike. A layer applied twice
 * (shared weights) has no single backward path and is refused.
 */
function subgraphTo(model: tfl.LayersModel, layerName: string): GraphStep[] {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  if (!byName.has(layerName)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${layerName}"`);
  const inboundOf = (layer: tfl.layers.Layer): string[] => {
    const nodes: Array<{ inboundLayers: tfl.layers.Layer[] }> = (layer as unknown as { inboundNodes: Array<{ inboundLayers: tfl.layers.Layer[] }> })
      .inboundNodes;
    if (nodes.length > 1)
      throw new InspectorError(
        'MODEL_UNSUPPORTED_OP',
        `Projections cannot follow "${layer.name}": the layer is applied ${nodes.length} times (shared weights)`,
      );
    return (nodes[0]?.inboundLayers ?? []).map((l) => (l.getClassName() === 'InputLayer' ? '' : l.name));
  };
  const needed = new Set<string>();
  const visit = (name: string) => {
    if (!name || needed.has(name)) return;
    needed.add(name);
    for (const inbound of inboundOf(byName.get(name)!)) visit(inbound);
  };
  visit(layerName);
  return model.layers.filter((l) => needed.has(l.name) && l.getClassName() !== 'InputLayer').map((layer) => ({ layer, inputs: inboundOf(layer) }));
}

/** The signal for each input of a layer with several inputs (residual add, concatenation, …). */
function splitDown(layer: tfl.layers.Layer, signal: tf.Tensor, inputs: tf.Tensor[]): tf.Tensor[] {
  switch (layer.getClassName()) {
    case 'Add':
      return inputs.map(() => signal);
    case 'Average':
      return inputs.map(() => tf.div(signal, inputs.length));
    case 'Concatenate': {
      const axis = inputs[0].shape.length - 1;
      return tf.split(
        signal,
        inputs.map((t) => t.shape[axis] as number),
        axis,
      );
    }
    default:
      // Multiply, Maximum, …: the exact vector–Jacobian product with respect to each input.
      return tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(layer.apply(xs) as tf.Tensor, signal)))(inputs);
  }
}

function reluRule(signal: tf.Tensor, forwardOut: tf.Tensor, method: ProjectionMethod): tf.Tensor {
  if (method === 'deconv') return tf.relu(signal);
  const open = tf.cast(tf.greater(forwardOut, 0), 'float32');
  return method === 'gradient' ? tf.mul(signal, open) : tf.mul(tf.relu(signal), open);
}

/** Max-unpooling with the switches of the forward pass: each output's signal goes to its window's first maximum. */
function unpool(signal: tf.Tensor, input: tf.Tensor, config: LayerConfigLike): tf.Tensor {
  const pool = Array.isArray(config.poolSize) ? config.poolSize : [config.poolSize ?? 2, config.poolSize ?? 2];
  const strides =
    config.strides === undefined || config.strides === null ? pool : Array.isArray(config.strides) ? config.strides : [config.strides, config.strides];
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    [pool[0], pool[1]],
    [strides[0], strides[1]],
    1,
    (config.padding ?? 'valid') as 'valid' | 'same',
  );
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
    if (method === 'deconv')
      throw new InspectorError('MODEL_UNSUPPORTED_OP', `The deconvnet passes through ReLU layers only; "${layer.name}" uses ${activation}`);
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
      return tf.conv2dTranspose(
        s as tf.Tensor4D,
        kernel,
        input.shape as [number, number, number, number],
        [strides[0], strides[1]],
        config.padding as 'same' | 'valid',
      );
    }
    case 'Dense': {
      if (activation !== 'relu' && activation !== 'linear' && method !== 'deconv') return vjp(layer, input, signal);
      const s = applyActivation(signal);
      const kernel = layer.getWeights()[0] as tf.Tensor2D;
      return tf.reshape(tf.matMul(tf.reshape(s, [-1, kernel.shape[1]]) as tf.Tensor2D, kernel, false, true), input.shape);
    }
    case 'Activation':
    case 'ReLU':
    case 'LeakyReLU':
    case 'PReLU':
      // ZF rectify the signal at every ReLU-like unit (ReLU6, leaky and parametric ReLU included) on the way down.
      if (type === 'ReLU' || activation === 'relu' || ((type === 'LeakyReLU' || type === 'PReLU') && method === 'deconv'))
        return reluRule(signal, output, method);
      if (type === 'LeakyReLU' || type === 'PReLU') return vjp(layer, input, signal);
      if (activation === 'linear') return signal;
      if (method === 'deconv')
        throw new InspectorError('MODEL_UNSUPPORTED_OP', `The deconvnet passes through ReLU layers only; "${layer.name}" is ${activation}`);
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
        if (DECONV_PASS_THROUGH.has(type)) return signal;
        if (TRANSPOSE_BY_VJP_IN_DECONV.has(type)) {
          // A fused activation: rectify the signal first, as for Conv2D.
          const act = (config.activation ?? 'linear') as string;
          if (act !== 'linear' && act !== 'relu')
            throw new InspectorError('MODEL_UNSUPPORTED_OP', `The deconvnet passes through ReLU layers only; "${layer.name}" uses ${act}`);
          return vjp(layer, input, act === 'relu' ? tf.relu(signal) : signal);
        }
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
 * Where a projection starts in one image's output of the layer (NHWC values, `shape` without the batch): at
 * `position`, or at the unit's strongest activation (largest value; first in row-major order on ties). `at` is the
 * flat NHWC index.
 */
export function chooseSeed(
  values: Float32Array,
  shape: number[],
  layerName: string,
  unit: number,
  position: number[] | undefined,
): { at: number; value: number; position: number[] } {
  const units = shape[shape.length - 1];
  if (!Number.isInteger(unit) || unit < 0 || unit >= units) {
    throw new InspectorError('UNIT_OUT_OF_RANGE', `Layer ${layerName} has units 0–${units - 1}; there is no unit ${unit}`);
  }
  const spatial = shape.length === 3;
  const [height, width] = spatial ? shape : [1, 1];
  let p = 0;
  if (position && position.length > 0) {
    if (!spatial || position.length !== 2) throw new InspectorError('BAD_ARGUMENT', `Layer ${layerName} has no spatial positions`);
    const [py, px] = position;
    if (!Number.isInteger(py) || !Number.isInteger(px) || py < 0 || px < 0 || py >= height || px >= width) {
      throw new InspectorError('BAD_ARGUMENT', `Position (${py}, ${px}) is outside the ${height}×${width} map of ${layerName}`);
    }
    p = py * width + px;
  } else {
    for (let q = 1; q < height * width; q++) if (values[q * units + unit] > values[p * units + unit]) p = q;
  }
  return { at: p * units + unit, value: values[p * units + unit], position: spatial ? [Math.floor(p / width), p % width] : [] };
}

function checkMethod(method: ProjectionMethod): void {
  if (!PROJECTION_METHODS.includes(method)) throw new InspectorError('BAD_ARGUMENT', `Unknown method "${method}" (deconv, gradient or guided)`);
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
 * The projection the app and the CLI show: on ONNX Runtime where its graph can run (a few times faster on a big
 * network; gradient and guided backprop through the layers whose rules it has), else the per-unit tfjs path. Both
 * give the same numbers (tests/engine/batch-projection.test.ts).
 */
export async function projectUnitFast(
  loaded: LoadedModel,
  input: Float32Array,
  layerName: string,
  unit: number,
  method: ProjectionMethod,
  position?: number[],
): Promise<Projection> {
  checkMethod(method);
  if (loaded.summary.inputShape.length === 3) {
    const done = await projectOnOnnxRuntime(
      loaded,
      input,
      layerName,
      (values, shape) => ({ unit, ...chooseSeed(values, shape, layerName, unit, position) }),
      method,
    );
    if (done) {
      const { value, position: at } = done.seed;
      return { layer: layerName, unit, method, position: at, value, shape: [...loaded.summary.inputShape], data: done.data, engine: 'onnxruntime' };
    }
  }
  return { ...projectUnit(loaded, input, layerName, unit, method, position), engine: 'tfjs' };
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
  checkMethod(method);
  const steps = subgraphTo(loaded.model, layerName);
  const [h, w, c] = loaded.summary.inputShape;
  const n = inputs.length;
  const size = h * w * c;
  const meta: Array<{ position: number[]; value: number }> = [];
  // Only the projected signal leaves the scope; every intermediate tensor is freed by tidy.
  const projected = tf.tidy(() => {
    const batch = new Float32Array(n * size);
    inputs.forEach((x, i) => batch.set(x, i * size));
    const input = tf.tensor4d(batch, [n, h, w, c]);
    const outputs = new Map<string, tf.Tensor>([['', input]]);
    for (const { layer, inputs: from } of steps) {
      const xs = from.map((name) => outputs.get(name)!);
      outputs.set(layer.name, layer.apply(xs.length === 1 ? xs[0] : xs, { training: false }) as tf.Tensor);
    }
    const top = outputs.get(layerName)!;
    const values = top.dataSync() as Float32Array;
    const perImage = values.length / n;
    const seed = new Float32Array(values.length);
    for (let i = 0; i < n; i++) {
      const chosen = chooseSeed(values.subarray(i * perImage, (i + 1) * perImage), top.shape.slice(1) as number[], layerName, unit, positions[i]);
      seed[i * perImage + chosen.at] = method === 'deconv' ? chosen.value : 1;
      meta.push({ position: chosen.position, value: chosen.value });
    }
    // Down the graph in reverse order; where branches meet (a layer feeding several), their signals add up.
    const signals = new Map<string, tf.Tensor>([[layerName, tf.tensor(seed, top.shape)]]);
    const add = (name: string, s: tf.Tensor) => signals.set(name, signals.has(name) ? tf.add(signals.get(name)!, s) : s);
    for (let i = steps.length - 1; i >= 0; i--) {
      const { layer, inputs: from } = steps[i];
      const signal = signals.get(layer.name);
      if (!signal) continue;
      const xs = from.map((name) => outputs.get(name)!);
      if (xs.length === 1) add(from[0], stepDown(layer, signal, xs[0], outputs.get(layer.name)!, method));
      else splitDown(layer, signal, xs).forEach((s, j) => add(from[j], s));
    }
    const signal = signals.get('') ?? tf.zerosLike(input);
    return signal;
  });
  const data = projected.dataSync() as Float32Array;
  projected.dispose();
  return meta.map((m, i) => ({ layer: layerName, unit, method, ...m, shape: [h, w, c], data: data.slice(i * size, (i + 1) * size) }));
}
