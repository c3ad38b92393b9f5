/**
 * The engine's layer graph (a TF.js Layers model) → an ONNX model (opset 13), for users who continue in PyTorch /
 * ONNX Runtime, and for the engine's own ONNX Runtime batch path.
 *
 * Layout: the ONNX graph computes in NCHW like every ONNX consumer expects. Kernels go HWIO → OIHW; TF's SAME
 * padding becomes explicit pads (static shapes are known); a Flatten of a map goes through a Transpose to NHWC first
 * so the flattened order — and so the dense weights after it — stay exactly TF's. With `inputLayout: 'nhwc'`, the
 * graph takes the engine's NHWC batches directly (a Transpose is its first node); `extraOutputs` adds layer outputs
 * as graph outputs, transposed back to NHWC so they read like the engine's activations.
 *
 * Errors: MODEL_UNSUPPORTED_OP (a layer with no ONNX equivalent here, named).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelMetadata } from '../../../../shared/contract';
import { InspectorError } from '../../../../shared/errors';
import { encodeOnnxModel, ONNX_DTYPE } from './proto';
import { ChannelShuffle, type CountedAveragePooling2D } from '../layers/onnx-ops';
import type { Clip, MapAffine, MapMatMul, PickChannels } from '../layers/onnx-tensor-ops';
import type { DilatedPooling2D, EdgePadding2D, ZeroInsertion2D } from '../layers/onnx-windows';

export interface OnnxExportOptions {
  metadata?: ModelMetadata;
  inputLayout?: 'nchw' | 'nhwc';
  /** Layer names whose outputs become extra graph outputs (NHWC for maps), named after the layer. */
  extraOutputs?: string[];
  /**
   * Instead of the outputs: for each of `extraOutputs`, every channel's largest value over the map
   * (`max:<layer>`, [N, C]) and where it is (`argmax:<layer>`, int64 [N, C], y·W + x, the first on ties) — what a
   * top-k scan keeps, without moving whole maps out of the graph. Dense layers give `max:` only (their values).
   */
  spatialMaxima?: boolean;
  /** Compute and output only `extraOutputs` (and what they depend on), not the model's own output. */
  extraOutputsOnly?: boolean;
  producerVersion?: string;
}

export type Pair = [number, number];
export const pair = (v: unknown, d: number): Pair =>
  v === undefined || v === null ? [d, d] : Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)];

export interface Attr {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  ints?: number[];
  floats?: number[];
}
export const intAttr = (name: string, i: number): Attr => ({ name, type: 2, i });
const floatAttr = (name: string, f: number): Attr => ({ name, type: 1, f });
export const intsAttr = (name: string, ints: number[]): Attr => ({ name, type: 7, ints });
export const stringAttr = (name: string, s: string): Attr => ({ name, type: 3, s: Buffer.from(s, 'utf8') });

export function samePads(inSize: number, kEff: number, stride: number): Pair {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kEff - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Output shape without the batch dimension, as the engine sees it (NHWC for maps). */
export function shapeOf(t: tfl.SymbolicTensor): number[] {
  return (t.shape as Array<number | null>).slice(1).map((d) => d ?? -1);
}

export class GraphWriter {
  nodes: Array<{ input: string[]; output: string[]; name: string; opType: string; attribute: Attr[] }> = [];
  initializers: Array<{ name: string; dims: number[]; dataType: number; rawData: Uint8Array }> = [];
  private used = new Set<string>();

  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  node(opType: string, inputs: string[], name: string, attrs: Attr[] = [], output?: string): string {
    const out = output ?? this.fresh(name);
    this.nodes.push({ input: inputs, output: [out], name: this.fresh(`${name}/${opType}`), opType, attribute: attrs });
    return out;
  }

  /** A node with several outputs (MaxPool's values and indices): their fresh names, in order. */
  nodeOutputs(opType: string, inputs: string[], names: string[], attrs: Attr[] = []): string[] {
    const outs = names.map((n) => this.fresh(n));
    this.nodes.push({ input: inputs, output: outs, name: this.fresh(`${names[0]}/${opType}`), opType, attribute: attrs });
    return outs;
  }

  constant(name: string, dims: number[], data: Float32Array | number[], dataType: number = ONNX_DTYPE.FLOAT): string {
    const n = this.fresh(name);
    const raw =
      dataType === ONNX_DTYPE.INT64
        ? new Uint8Array(BigInt64Array.from((data as number[]).map((x) => BigInt(x))).buffer)
        : new Uint8Array(Float32Array.from(data).buffer);
    this.initializers.push({ name: n, dims, dataType, rawData: raw });
    return n;
  }
}

function unsupported(layer: tfl.layers.Layer, what: string): never {
  throw new InspectorError('MODEL_UNSUPPORTED_OP', `Layer "${layer.name}" (${layer.getClassName()}) cannot be exported to ONNX: ${what}`);
}

/** HWIO kernel data → OIHW (or, with `depthwise`, [kh, kw, C, M] → [C·M, 1, kh, kw]). */
export function toOihw(data: Float32Array, [kh, kw, i, o]: number[]): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let ii = 0; ii < i; ii++)
        for (let oo = 0; oo < o; oo++) {
          out[((oo * i + ii) * kh + y) * kw + x] = data[((y * kw + x) * i + ii) * o + oo];
        }
  return out;
}

/** The ONNX axis (NCHW for maps) of an engine axis (NHWC; −1 the last) of a rank-`rank` tensor. */
function onnxAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  return rank === 4 ? [0, 2, 3, 1][a] : a;
}

/**
 * The layers made for imported ONNX graphs' less common operators (reflect/edge padding, dilated pooling, clipping,
 * channel picking, map products, PReLU, ELU) as their ONNX nodes; undefined for any other layer.
 */
function exportTensorOp(g: GraphWriter, layer: tfl.layers.Layer, x: string, inShape: number[], outShape: number[]): string | undefined {
  const name = layer.name;
  const config = layer.getConfig() as Record<string, unknown>;
  switch (layer.getClassName()) {
    case 'EdgePadding2D': {
      const [[t, b], [l, r]] = (layer as unknown as EdgePadding2D).padding;
      return g.node('Pad', [x, g.constant(`${name}.pads`, [8], [0, 0, t, l, 0, 0, b, r], ONNX_DTYPE.INT64)], name, [stringAttr('mode', String(config.mode))]);
    }
    case 'DilatedPooling2D': {
      const pool = layer as unknown as DilatedPooling2D;
      const attrs = [intsAttr('kernel_shape', pool.poolSize), intsAttr('strides', pool.strides), intsAttr('dilations', pool.dilationRate)];
      if (pool.mode === 'max') return g.node('MaxPool', [x], name, attrs);
      // AveragePool has dilations from opset 19 only; this export writes opset 13.
      if (pool.dilationRate.some((d) => d !== 1)) return unsupported(layer, 'average pooling with dilated taps (ONNX opset 13 has none)');
      const pooled = g.node('AveragePool', [x], `${name}_pool`, attrs.slice(0, 2));
      const counts = pool.averageCorrection([inShape[0], inShape[1]]);
      return g.node('Mul', [pooled, g.constant(`${name}.counts`, [1, 1, outShape[0], outShape[1]], counts)], name);
    }
    case 'Clip': {
      const clip = layer as unknown as Clip;
      const bound = (v: number) => Math.max(-3.4028234663852886e38, Math.min(3.4028234663852886e38, v));
      return g.node('Clip', [x, g.constant(`${name}.min`, [], [bound(clip.min)]), g.constant(`${name}.max`, [], [bound(clip.max)])], name);
    }
    case 'PickChannels': {
      const idx = Array.from((layer as unknown as PickChannels).indices);
      return g.node('Gather', [x, g.constant(`${name}.indices`, [idx.length], idx, ONNX_DTYPE.INT64)], name, [intAttr('axis', 1)]);
    }
    case 'MapAffine': {
      const affine = layer as unknown as MapAffine;
      // Engine [H, W, C] (or [F]) → ONNX [1, C, H, W] (or [1, F]).
      const toOnnx = (v: Float32Array): { dims: number[]; data: Float32Array } => {
        if (affine.shape.length !== 3) return { dims: [1, ...affine.shape], data: v };
        const [h, w, c] = affine.shape;
        const data = new Float32Array(v.length);
        for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) data[(k * h + y) * w + xx] = v[(y * w + xx) * c + k];
        return { dims: [1, c, h, w], data };
      };
      let y = x;
      if (affine.scale) {
        const s = toOnnx(affine.scale);
        y = g.node('Mul', [y, g.constant(`${name}.scale`, s.dims, s.data)], affine.offset ? `${name}_scale` : name);
      }
      if (affine.offset) {
        const o = toOnnx(affine.offset);
        y = g.node('Add', [y, g.constant(`${name}.offset`, o.dims, o.data)], name);
      }
      return y;
    }
    case 'ZeroInsertion2D': {
      // Zeros between cells: a per-channel transposed convolution by a 1×1 kernel of one at the stride.
      const c = inShape[2];
      const ones = g.constant(`${name}.ones`, [c, 1, 1, 1], new Float32Array(c).fill(1));
      return g.node('ConvTranspose', [x, ones], name, [
        intAttr('group', c),
        intsAttr('kernel_shape', [1, 1]),
        intsAttr('strides', (layer as unknown as ZeroInsertion2D).strides),
      ]);
    }
    case 'MapMatMul': {
      const mm = layer as unknown as MapMatMul;
      return g.node('MatMul', [x, g.constant(`${name}.matrices`, [1, mm.count, mm.width, mm.columns], mm.matrices)], name);
    }
    case 'PReLU': {
      const [slope] = weightData(layer);
      const c = inShape[inShape.length - 1];
      if (slope.data.length !== c && slope.data.length !== 1) return unsupported(layer, 'a slope per position (only per channel)');
      return g.node('PRelu', [x, g.constant(`${name}.slope`, inShape.length === 3 ? [slope.data.length, 1, 1] : [slope.data.length], slope.data)], name);
    }
    case 'ELU':
    case 'ScaledElu':
      return g.node('Elu', [x], name, [floatAttr('alpha', Number(config.alpha ?? 1))]);
    default:
      return undefined;
  }
}

export function weightData(layer: tfl.layers.Layer): Array<{ data: Float32Array; shape: number[] }> {
  return layer.getWeights().map((w) => ({ data: w.dataSync() as Float32Array, shape: w.shape }));
}

/** One layer being exported: the writer, the layer, its input tensors and shapes, and helpers bound to it. */
interface LayerExport {
  g: GraphWriter;
  layer: tfl.layers.Layer;
  type: string;
  config: Record<string, unknown>;
  inputs: string[];
  x: string;
  /** Shapes as the engine sees them (NHWC for maps), without the batch. */
  inShape: number[];
  outShape: number[];
  name: string;
  /** A fused activation's node after `t` (rank: of the tensor, with the batch). */
  activation(t: string, act: unknown, rank: number): string;
  /** ONNX pads [top, left, bottom, right] for TF's padding of a window. */
  windowPads(k: Pair, s: Pair, d: Pair): number[];
  /** When set, max-pooling layers also output their argmax indices ("switches"), recorded here by layer name. */
  switches?: Map<string, string>;
}

/** Conv2D, GroupedConv2D, DepthwiseConv2D, SeparableConv2D. */
function exportConv2D(e: LayerExport): string {
  const { g, layer, type, config, x, inShape, name, activation, windowPads } = e;
  let out: string;
  const k = pair(config.kernelSize, 1);
  const s = pair(config.strides, 1);
  const d = pair(config.dilationRate, 1);
  const attrs = [intsAttr('kernel_shape', k), intsAttr('strides', s), intsAttr('dilations', d), intsAttr('pads', windowPads(k, s, d))];
  const weights = weightData(layer);
  const c = inShape[2];
  if (type === 'SeparableConv2D') {
    const [dw, pw, bias] = weights;
    const mult = dw.shape[3];
    const dwName = g.constant(`${name}.depthwise_kernel`, [c * mult, 1, k[0], k[1]], toOihw(dw.data, [k[0], k[1], 1, c * mult]));
    const mid = g.node('Conv', [x, dwName], `${name}_depthwise`, [...attrs, intAttr('group', c)]);
    const pwName = g.constant(`${name}.pointwise_kernel`, [pw.shape[3], pw.shape[2], 1, 1], toOihw(pw.data, pw.shape));
    const biasName = bias ? [g.constant(`${name}.bias`, [bias.shape[0]], bias.data)] : [];
    out = g.node('Conv', [mid, pwName, ...biasName], `${name}_pointwise`, [intsAttr('kernel_shape', [1, 1])]);
  } else {
    const [kernel, bias] = weights;
    let wName: string;
    let group = 1;
    if (type === 'DepthwiseConv2D') {
      const m = kernel.shape[2] * kernel.shape[3];
      // [kh, kw, C, mult] read as HWIO with I = 1, O = C·mult: filter c·mult + j, as ONNX orders it.
      wName = g.constant(`${name}.kernel`, [m, 1, k[0], k[1]], toOihw(kernel.data, [k[0], k[1], 1, m]));
      group = c;
    } else {
      wName = g.constant(`${name}.kernel`, [kernel.shape[3], kernel.shape[2], k[0], k[1]], toOihw(kernel.data, kernel.shape));
      group = type === 'GroupedConv2D' ? Number(config.groups) : 1;
    }
    const biasName = bias ? [g.constant(`${name}.bias`, [bias.shape[0]], bias.data)] : [];
    out = g.node('Conv', [x, wName, ...biasName], config.activation && config.activation !== 'linear' ? `${name}_conv` : name, [
      ...attrs,
      intAttr('group', group),
    ]);
  }
  out = activation(out, config.activation, 4);
  return out;
}

/** Dense. */
function exportDense(e: LayerExport): string {
  const { g, layer, config, x, inShape, name, activation } = e;
  let out: string;
  if (inShape.length !== 1) unsupported(layer, 'a dense layer on a map (apply Flatten first)');
  const [kernel, bias] = weightData(layer);
  const wName = g.constant(`${name}.kernel`, kernel.shape, kernel.data);
  const biasName = bias ? [g.constant(`${name}.bias`, bias.shape, bias.data)] : [];
  out = g.node('Gemm', [x, wName, ...biasName], config.activation && config.activation !== 'linear' ? `${name}_gemm` : name);
  out = activation(out, config.activation, 2);
  return out;
}

/** MaxPooling2D, AveragePooling2D. */
function exportMaxPooling2D(e: LayerExport): string {
  const { g, type, config, x, name, windowPads } = e;
  const k = pair(config.poolSize, 2);
  const s = pair(config.strides ?? config.poolSize, 2);
  const attrs = [intsAttr('kernel_shape', k), intsAttr('strides', s), intsAttr('pads', windowPads(k, s, [1, 1]))];
  if (type === 'MaxPooling2D' && e.switches) {
    // Indices flat over the whole NCHW input, first maximum of each window: the deconvnet's switches.
    const [out, indices] = g.nodeOutputs('MaxPool', [x], [name, `${name}.switches`], attrs);
    e.switches.set(name, indices);
    return out;
  }
  // TF's SAME average pooling divides by the cells inside the image: count_include_pad = 0 (ONNX's default).
  const out = g.node(type === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [x], name, attrs);
  return out;
}

/** GlobalAveragePooling2D, GlobalMaxPooling2D. */
function exportGlobalAveragePooling2D(e: LayerExport): string {
  const { g, type, x, name } = e;
  const pooled = g.node(type === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x], `${name}_pool`);
  const out = g.node('Flatten', [pooled], name, [intAttr('axis', 1)]);
  return out;
}

/** Flatten. */
function exportFlatten(e: LayerExport): string {
  const { g, x, inShape, name } = e;
  let out: string;
  if (inShape.length === 3 && inShape[0] * inShape[1] > 1) {
    // Flatten in TF's (h, w, c) order, so the dense weights that follow need no change.
    const nhwc = g.node('Transpose', [x], `${name}_to_nhwc`, [intsAttr('perm', [0, 2, 3, 1])]);
    out = g.node('Flatten', [nhwc], name, [intAttr('axis', 1)]);
  } else out = inShape.length === 1 ? x : g.node('Flatten', [x], name, [intAttr('axis', 1)]);
  return out;
}

/** BatchNormalization. */
function exportBatchNormalization(e: LayerExport): string {
  const { g, layer, config, x, inShape, name } = e;
  const axis = Number(Array.isArray(config.axis) ? config.axis[0] : (config.axis ?? -1));
  if (axis !== -1 && axis !== inShape.length) unsupported(layer, `normalisation over axis ${axis}`);
  const ws = weightData(layer);
  const cfg = config as { center?: boolean; scale?: boolean; epsilon?: number };
  const c = inShape[inShape.length - 1];
  let i = 0;
  const gamma = cfg.scale === false ? new Float32Array(c).fill(1) : ws[i++].data;
  const beta = cfg.center === false ? new Float32Array(c) : ws[i++].data;
  const mean = ws[i++].data;
  const variance = ws[i++].data;
  const names = [gamma, beta, mean, variance].map((d, j) => g.constant(`${name}.${['scale', 'bias', 'mean', 'var'][j]}`, [c], d));
  const out = g.node('BatchNormalization', [x, ...names], name, [floatAttr('epsilon', cfg.epsilon ?? 1e-3)]);
  return out;
}

/** Activation. */
function exportActivation(e: LayerExport): string {
  const { config, x, inShape, activation } = e;
  return activation(x, config.activation, inShape.length + 1);
}

/** ReLU. */
function exportReLU(e: LayerExport): string {
  const { g, config, x, name } = e;
  let out: string;
  const max = config.maxValue as number | null | undefined;
  if (max === null || max === undefined) out = g.node('Relu', [x], name);
  else out = g.node('Clip', [x, g.constant(`${name}.min`, [], [0]), g.constant(`${name}.max`, [], [max])], name);
  return out;
}

/** LeakyReLU. */
function exportLeakyReLU(e: LayerExport): string {
  const { g, config, x, name } = e;
  return g.node('LeakyRelu', [x], name, [floatAttr('alpha', Number(config.alpha ?? 0.3))]);
}

/** Softmax, SoftmaxAlong. */
function exportSoftmax(e: LayerExport): string {
  const { g, config, x, inShape, name } = e;
  return g.node(config.log ? 'LogSoftmax' : 'Softmax', [x], name, [intAttr('axis', onnxAxis(Number(config.axis ?? -1), inShape.length + 1))]);
}

/** Dropout, SpatialDropout2D, GaussianNoise, GaussianDropout, AlphaDropout. */
function exportDropout(e: LayerExport): string {
  const { x } = e;
  return x; // inference: identity
}

/** Add, Multiply, Maximum, Minimum, Average. */
function exportAdd(e: LayerExport): string {
  const { g, type, inputs, name } = e;
  const op = { Add: 'Sum', Multiply: 'Mul', Maximum: 'Max', Minimum: 'Min', Average: 'Mean' }[type] as string;
  const out =
    type === 'Multiply' && inputs.length === 2
      ? g.node('Mul', inputs, name)
      : type === 'Add' && inputs.length === 2
        ? g.node('Add', inputs, name)
        : g.node(op, inputs, name);
  return out;
}

/** Concatenate. */
function exportConcatenate(e: LayerExport): string {
  const { g, layer, config, inputs, inShape, name } = e;
  const axis = Number(config.axis ?? -1);
  if (axis !== -1 && axis !== inShape.length) unsupported(layer, `concatenation along axis ${axis}`);
  const out = g.node('Concat', inputs, name, [intAttr('axis', 1)]);
  return out;
}

/** A padding layer's config (one number, [rows, columns] or [[top, bottom], [left, right]]) as [[t, b], [l, r]]. */
export function paddingPairs(p: unknown): [Pair, Pair] {
  if (typeof p === 'number') return [pair(p, 0), pair(p, 0)];
  // [rows, columns] or [[top, bottom], [left, right]]: pair() reads a number as both sides and a pair as it is.
  const [rows, columns] = p as Array<number | number[]>;
  return [pair(rows, 0), pair(columns, 0)];
}

/** ZeroPadding2D, ConstantPadding2D. */
function exportZeroPadding2D(e: LayerExport): string {
  const { g, type, config, x, name } = e;
  const [[t, b], [l, r]] = paddingPairs(config.padding);
  const value = type === 'ConstantPadding2D' ? (config.value === '-Infinity' ? -3.4028234663852886e38 : Number(config.value)) : 0;
  const pads = g.constant(`${name}.pads`, [8], [0, 0, t, l, 0, 0, b, r], ONNX_DTYPE.INT64);
  const out = g.node('Pad', [x, pads, g.constant(`${name}.value`, [], [value])], name, [stringAttr('mode', 'constant')]);
  return out;
}

/** LRN. */
function exportLRN(e: LayerExport): string {
  const { g, config, x, name } = e;
  const r = Number(config.depthRadius);
  const size = 2 * r + 1;
  // The engine's LRN is TF's (alpha per element); ONNX divides alpha by the window size.
  const out = g.node('LRN', [x], name, [
    intAttr('size', size),
    floatAttr('alpha', Number(config.alpha) * size),
    floatAttr('beta', Number(config.beta)),
    floatAttr('bias', Number(config.bias)),
  ]);
  return out;
}

/** The per-channel scale and offset of a ChannelAffine, Rescaling or Normalization layer (y = x · scale + offset). */
export function channelAffine(layer: tfl.layers.Layer, c: number): { scale: Float32Array; offset: Float32Array } {
  const type = layer.getClassName();
  const config = layer.getConfig() as Record<string, unknown>;
  if (type === 'Rescaling') return { scale: new Float32Array(c).fill(Number(config.scale)), offset: new Float32Array(c).fill(Number(config.offset ?? 0)) };
  if (type === 'Normalization') {
    const [mean, variance] = weightData(layer);
    const scale = Float32Array.from(variance.data, (v) => 1 / Math.max(Math.sqrt(v), 1e-7));
    return { scale, offset: Float32Array.from(mean.data, (m, i) => -m * scale[i]) };
  }
  const [s, o] = weightData(layer);
  return { scale: s.data, offset: o.data };
}

/** ChannelAffine, Rescaling, Normalization. */
function exportChannelAffine(e: LayerExport): string {
  const { g, layer, x, inShape, name } = e;
  const c = inShape[inShape.length - 1];
  const dims = inShape.length === 3 ? [1, c, 1, 1] : [1, c];
  const { scale, offset } = channelAffine(layer, c);
  const scaled = g.node('Mul', [x, g.constant(`${name}.scale`, dims, scale)], `${name}_scale`);
  const out = g.node('Add', [scaled, g.constant(`${name}.offset`, dims, offset)], name);
  return out;
}

/** ChannelShuffle. */
function exportChannelShuffle(e: LayerExport): string {
  const { g, config, x, inShape, name } = e;
  const idx = Array.from(ChannelShuffle.indices(inShape[2], Number(config.groups)));
  const out = g.node('Gather', [x, g.constant(`${name}.indices`, [idx.length], idx, ONNX_DTYPE.INT64)], name, [intAttr('axis', 1)]);
  return out;
}

/** CountedAveragePooling2D. */
function exportCountedAveragePooling2D(e: LayerExport): string {
  const { g, layer, x, inShape, outShape, name } = e;
  // The padding is the ZeroPadding2D before it; here a valid average times the per-position correction.
  const counted = layer as unknown as CountedAveragePooling2D;
  const pooled = g.node('AveragePool', [x], `${name}_pool`, [intsAttr('kernel_shape', counted.poolSize), intsAttr('strides', counted.strides)]);
  const [oh, ow] = [outShape[0], outShape[1]];
  const out = g.node('Mul', [pooled, g.constant(`${name}.counts`, [1, 1, oh, ow], counted.correction([inShape[0], inShape[1]]))], name);
  return out;
}

/** FlatReorder. */
function exportFlatReorder(e: LayerExport): string {
  const { g, layer, x, name } = e;
  const idx = Array.from((layer as unknown as { indices: Int32Array }).indices);
  const out = g.node('Gather', [x, g.constant(`${name}.indices`, [idx.length], idx, ONNX_DTYPE.INT64)], name, [intAttr('axis', 1)]);
  return out;
}

/** Layer class → its exporter (the layers made for imported ONNX operators: exportTensorOp). */
const LAYER_EXPORTERS: Record<string, (e: LayerExport) => string> = {
  Conv2D: exportConv2D,
  GroupedConv2D: exportConv2D,
  DepthwiseConv2D: exportConv2D,
  SeparableConv2D: exportConv2D,
  Dense: exportDense,
  MaxPooling2D: exportMaxPooling2D,
  AveragePooling2D: exportMaxPooling2D,
  GlobalAveragePooling2D: exportGlobalAveragePooling2D,
  GlobalMaxPooling2D: exportGlobalAveragePooling2D,
  Flatten: exportFlatten,
  BatchNormalization: exportBatchNormalization,
  Activation: exportActivation,
  ReLU: exportReLU,
  LeakyReLU: exportLeakyReLU,
  Softmax: exportSoftmax,
  SoftmaxAlong: exportSoftmax,
  Dropout: exportDropout,
  SpatialDropout2D: exportDropout,
  GaussianNoise: exportDropout,
  GaussianDropout: exportDropout,
  AlphaDropout: exportDropout,
  Add: exportAdd,
  Multiply: exportAdd,
  Maximum: exportAdd,
  Minimum: exportAdd,
  Average: exportAdd,
  Concatenate: exportConcatenate,
  ZeroPadding2D: exportZeroPadding2D,
  ConstantPadding2D: exportZeroPadding2D,
  LRN: exportLRN,
  ChannelAffine: exportChannelAffine,
  Rescaling: exportChannelAffine,
  Normalization: exportChannelAffine,
  ChannelShuffle: exportChannelShuffle,
  CountedAveragePooling2D: exportCountedAveragePooling2D,
  FlatReorder: exportFlatReorder,
};

/** The forward graph written so far: each layer's ONNX tensor (NCHW for maps) and the graph's input. */
export interface WrittenLayers {
  tensorOf: Map<string, string>;
  inputName: string;
  /** The model input's shape as the engine sees it (NHWC for images), without the batch. */
  inputShape: number[];
  inputLayer: tfl.layers.Layer;
  nhwcInput: boolean;
}

/** Layers that feed a layer more than once (shared weights) cannot be written: their inbound layers otherwise. */
export function inboundLayers(layer: tfl.layers.Layer): tfl.layers.Layer[] {
  const nodes = (layer as unknown as { inboundNodes: Array<{ inboundLayers: tfl.layers.Layer[] }> }).inboundNodes;
  if (nodes.length > 1) unsupported(layer, 'a layer applied more than once (shared weights)');
  return nodes[0]?.inboundLayers ?? [];
}

/**
 * Writes the model's layers as ONNX nodes into `g`, in TF.js's topological order: all of them, or only those in
 * `only` (which must hold every layer they depend on). With `switches`, max-pooling layers also output indices.
 */
export function writeLayers(
  g: GraphWriter,
  model: tfl.LayersModel,
  options: { nhwcInput?: boolean; only?: Set<string>; switches?: Map<string, string> } = {},
): WrittenLayers {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new InspectorError('MODEL_UNSUPPORTED_OP', 'Only single-input, single-output models can be exported to ONNX');
  }
  /** Layer name → ONNX tensor name of its output (NCHW for maps). */
  const tensorOf = new Map<string, string>();
  const inputShape = shapeOf(model.inputs[0]);
  const inputName = g.fresh('input');
  const nhwcInput = options.nhwcInput === true && inputShape.length === 3;
  // From the tensors, not model.inputLayers/outputLayers: a Sequential model fills those only once it is built.
  const inputLayer = model.inputs[0].sourceLayer as tfl.layers.Layer;
  tensorOf.set(inputLayer.name, nhwcInput ? g.node('Transpose', [inputName], 'input_to_nchw', [intsAttr('perm', [0, 3, 1, 2])]) : inputName);
  for (const layer of model.layers) {
    if (layer === inputLayer || layer.getClassName() === 'InputLayer') continue;
    if (options.only && !options.only.has(layer.name)) continue;
    tensorOf.set(layer.name, writeLayer(g, model, layer, tensorOf, options.switches));
  }
  return { tensorOf, inputName, inputShape, inputLayer, nhwcInput };
}

/** One layer's nodes; returns the name of its output tensor. */
function writeLayer(g: GraphWriter, model: tfl.LayersModel, layer: tfl.layers.Layer, tensorOf: Map<string, string>, switches?: Map<string, string>): string {
  const type = layer.getClassName();
  const config = layer.getConfig() as Record<string, unknown>;
  const inbound = inboundLayers(layer);
  const inputs = inbound.map((l) => {
    const t = tensorOf.get(l.name);
    if (!t) unsupported(layer, `its input "${l.name}" was not exported`);
    return t;
  });
  const x = inputs[0];
  const inShape = shapeOf((inbound[0]?.output ?? model.inputs[0]) as tfl.SymbolicTensor);
  const outShape = shapeOf(layer.output as tfl.SymbolicTensor);
  const name = layer.name;

  const activation = (t: string, act: unknown, rank: number): string => {
    switch (act ?? 'linear') {
      case 'linear':
        return t;
      case 'relu':
        return g.node('Relu', [t], `${name}_relu`);
      case 'sigmoid':
        return g.node('Sigmoid', [t], `${name}_sigmoid`);
      case 'tanh':
        return g.node('Tanh', [t], `${name}_tanh`);
      case 'elu':
        return g.node('Elu', [t], `${name}_elu`);
      case 'selu':
        return g.node('Selu', [t], `${name}_selu`);
      case 'softmax':
        return g.node('Softmax', [t], `${name}_softmax`, [intAttr('axis', rank === 4 ? 1 : -1)]);
      default:
        return unsupported(layer, `the activation "${String(act)}"`);
    }
  };
  const windowPads = (k: Pair, s: Pair, d: Pair): number[] => {
    if (config.padding !== 'same') return [0, 0, 0, 0];
    const ph = samePads(inShape[0], (k[0] - 1) * d[0] + 1, s[0]);
    const pw = samePads(inShape[1], (k[1] - 1) * d[1] + 1, s[1]);
    return [ph[0], pw[0], ph[1], pw[1]];
  };

  const exporter = LAYER_EXPORTERS[type];
  return exporter
    ? exporter({ g, layer, type, config, inputs, x, inShape, outShape, name, activation, windowPads, switches })
    : (exportTensorOp(g, layer, x, inShape, outShape) ?? unsupported(layer, 'no ONNX equivalent in CNN Inspector yet'));
}

/** `layerName` and every layer it depends on. */
export function layersBelow(model: tfl.LayersModel, layerName: string): Set<string> {
  const needed = new Set<string>();
  const visit = (layer: tfl.layers.Layer) => {
    if (needed.has(layer.name)) return;
    needed.add(layer.name);
    for (const inbound of inboundLayers(layer)) visit(inbound);
  };
  visit(model.getLayer(layerName));
  return needed;
}

export function exportOnnx(model: tfl.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const g = new GraphWriter();
  const only = options.extraOutputsOnly ? new Set((options.extraOutputs ?? []).flatMap((l) => [...layersBelow(model, l)])) : undefined;
  const { tensorOf, inputName, inputShape, inputLayer, nhwcInput } = writeLayers(g, model, { nhwcInput: options.inputLayout === 'nhwc', only });
  if (options.spatialMaxima) return encodeGraph(g, model, options, inputName, nhwcInput, maximaOutputs(g, model, tensorOf, options.extraOutputs ?? []));
  const outputLayer = model.outputs[0].sourceLayer as tfl.layers.Layer;
  const finalName = tensorOf.get(outputLayer.name)!;
  const outputs = options.extraOutputsOnly ? [] : [{ name: 'output', layer: outputLayer.name, tensor: finalName }];
  for (const layerName of options.extraOutputs ?? []) {
    const tensor = tensorOf.get(layerName);
    if (!tensor) throw new InspectorError('LAYER_NOT_FOUND', `The model has no exported layer "${layerName}"`);
    outputs.push({ name: `layer:${layerName}`, layer: layerName, tensor });
  }
  const graphOutputs = outputs.map((o) => {
    // Sequential models' implicit input layer is not in model.layers: its shape is the input's.
    const shape = o.layer === inputLayer.name ? inputShape : shapeOf(model.getLayer(o.layer).output as tfl.SymbolicTensor);
    // Maps leave the graph in the engine's NHWC layout when asked for NHWC input, else in ONNX's NCHW.
    const toNhwc = shape.length === 3 && nhwcInput;
    const tensor = toNhwc ? g.node('Transpose', [o.tensor], `${o.name}_to_nhwc`, [intsAttr('perm', [0, 2, 3, 1])]) : o.tensor;
    const name = g.node('Identity', [tensor], o.name, [], g.fresh(o.name));
    return valueInfoOf(name, toNhwc || shape.length !== 3 ? shape : [shape[2], shape[0], shape[1]]);
  });
  return encodeGraph(g, model, options, inputName, nhwcInput, graphOutputs);
}

type ValueInfo = { name: string; type: { tensorType: { elemType: number; shape: { dim: Array<{ dimParam?: string; dimValue?: number }> } } } };

const valueInfoOf = (name: string, shape: number[], elemType: number = ONNX_DTYPE.FLOAT): ValueInfo => ({
  name,
  type: { tensorType: { elemType, shape: { dim: [{ dimParam: 'N' }, ...shape.map((d) => ({ dimValue: d }))] } } },
});

/** The graph outputs of `spatialMaxima`: per layer, the channels' maxima over the map and where they are. */
function maximaOutputs(g: GraphWriter, model: tfl.LayersModel, tensorOf: Map<string, string>, layers: string[]): ValueInfo[] {
  const outputs: ValueInfo[] = [];
  for (const layerName of layers) {
    const tensor = tensorOf.get(layerName);
    if (!tensor) throw new InspectorError('LAYER_NOT_FOUND', `The model has no exported layer "${layerName}"`);
    const shape = shapeOf(model.getLayer(layerName).output as tfl.SymbolicTensor);
    const c = shape[shape.length - 1];
    if (shape.length !== 3) {
      outputs.push(valueInfoOf(g.node('Identity', [tensor], `max:${layerName}`, [], g.fresh(`max:${layerName}`)), [c]));
      continue;
    }
    const flat = g.node('Reshape', [tensor, g.constant(`${layerName}.flat_map`, [3], [0, c, -1], ONNX_DTYPE.INT64)], `${layerName}_flat_map`);
    const max = g.node('ReduceMax', [flat], `max:${layerName}`, [intsAttr('axes', [2]), intAttr('keepdims', 0)], g.fresh(`max:${layerName}`));
    const at = g.node('ArgMax', [flat], `argmax:${layerName}`, [intAttr('axis', 2), intAttr('keepdims', 0)], g.fresh(`argmax:${layerName}`));
    outputs.push(valueInfoOf(max, [c]), valueInfoOf(at, [c], ONNX_DTYPE.INT64));
  }
  return outputs;
}

/** The model proto around the written graph, its input (NHWC or NCHW) and `outputs`. */
function encodeGraph(
  g: GraphWriter,
  model: tfl.LayersModel,
  options: OnnxExportOptions,
  inputName: string,
  nhwcInput: boolean,
  outputs: ValueInfo[],
): Uint8Array {
  const inputShape = shapeOf(model.inputs[0]);
  const inputDims = inputShape.length === 3 && !nhwcInput ? [inputShape[2], inputShape[0], inputShape[1]] : inputShape;
  const meta = options.metadata ?? {};
  const props = [
    { key: 'cnn_inspector', value: JSON.stringify({ name: meta.name, description: meta.description, labels: meta.labels, preprocessing: meta.preprocessing }) },
  ];
  if (meta.labels) props.push({ key: 'labels', value: JSON.stringify(meta.labels) });
  return encodeOnnxModel({
    irVersion: 7,
    producerName: 'CNN Inspector',
    producerVersion: options.producerVersion ?? '0',
    opsetImport: [{ domain: '', version: 13 }],
    metadataProps: props,
    graph: {
      name: (meta.name ?? model.name ?? 'model').replace(/[^A-Za-z0-9_.-]/g, '_'),
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfoOf(inputName, inputDims)],
      output: outputs,
    },
  });
}
