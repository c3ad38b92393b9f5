/**
 * The Zeiler & Fergus deconvnet of one layer as an ONNX graph, so ONNX Runtime projects a whole batch of
 * (image, unit, position) seeds in one run instead of tfjs-wasm doing one backward pass per unit.
 *
 * The graph: the forward pass up to the last max-pooling below the layer (only what the switches need), each
 * MaxPool also giving its argmax indices; then, from a one-hot seed at the layer's output, down every layer in
 * reverse with the same rules as `analyses/projection.ts` (the reference the tests compare against):
 * rectify the signal at every ReLU (fused or its own layer), transposed convolution with the layer's own kernel
 * (no bias), unpooling through the switches (a scatter-add, so overlapping windows that chose the same input add
 * up, as in the per-unit path; MaxUnpool where windows cannot overlap), crops for paddings, pass-through for
 * normalisations and dropout, copies down both sides of a residual add and a split at a concatenation.
 * Guided backprop and the plain gradient (exportDeconvnetOnnx's `method`) are the same way down with the forward
 * pass to the layer: ReLUs open where their forward output was positive, LRN and channel affines by their
 * vector–Jacobian products (see WayDown).
 *
 * Inputs: `input` [N, H, W, C] (NHWC, preprocessed), `seed_at` int64 [N, 1] — the seed's flat index in one
 * sample's NCHW output (channel·h·w + y·w + x; the unit for a dense layer), `seed_value` [N, 1].
 * Output: `projection` [N, H, W, C].
 * A layer the rules do not cover is refused with MODEL_UNSUPPORTED_OP, and callers use the per-unit path.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { ProjectionMethod } from '../../../../shared/contract';
import { InspectorError } from '../../../../shared/errors';
import { lrnTerms } from './lrn-terms';
import { encodeOnnxModel, ONNX_DTYPE } from './proto';
import {
  channelAffine,
  GraphWriter,
  inboundLayers,
  layersBelow,
  type WrittenLayers,
  intAttr,
  intsAttr,
  pair,
  samePads,
  shapeOf,
  stringAttr,
  toOihw,
  weightData,
  writeLayers,
} from './export';

/** Layers the deconvnet passes the signal through unchanged (here and in analyses/projection.ts). */
export const DECONV_PASS_THROUGH: ReadonlySet<string> = new Set([
  'Dropout',
  'SpatialDropout2D',
  'LRN',
  'BatchNormalization',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'ChannelAffine',
  'Normalization',
  'Rescaling',
  'MapAffine',
]);

/** The opset of the deconvnet graph: ScatterElements adds duplicates from opset 16. */
const DECONV_OPSET = 17;

function refuse(layer: tfl.layers.Layer, what: string): never {
  throw new InspectorError('MODEL_UNSUPPORTED_OP', `The batched deconvnet cannot pass through "${layer.name}" (${layer.getClassName()}): ${what}`);
}

/** One layer's step down being written: the signal at its output (NCHW) and what the rules need to know. */
interface StepDown {
  g: GraphWriter;
  layer: tfl.layers.Layer;
  type: string;
  config: Record<string, unknown>;
  name: string;
  signal: string;
  /** The shapes of its inputs as the engine sees them (NHWC for maps), without the batch. */
  inShapes: number[][];
  /** Each max-pooling layer's switches: int64 indices flat over the whole NCHW batch, as MaxPool gives them. */
  switches: Map<string, string>;
  /** The batch size, a one-element int64 tensor. */
  batch: string;
  /** The signal rectified as a fused activation asks (ReLU) or passed as it is (linear); others are refused. */
  rectified(act: unknown): string;
}

/**
 * How the signal crosses a ReLU: the deconvnet rectifies it; plain backprop keeps it where the forward output was
 * positive; guided backprop does both (analyses/projection.ts's reluRule). The last two need the forward pass up
 * to the layer (`forward`: each layer's NCHW output).
 */
interface WayDown {
  method: ProjectionMethod;
  forward?: Map<string, string>;
}

/**
 * The layer types whose gradient and guided rules are the deconvnet's own with ReLUs as `WayDown` says (the
 * reference's rules, not a generic VJP); VJP_RULES adds the layers the deconvnet passes the signal through.
 */
const BACKPROP_RULES: ReadonlySet<string> = new Set([
  'Conv2D',
  'Dense',
  'Activation',
  'ReLU',
  'MaxPooling2D',
  'ZeroPadding2D',
  'ConstantPadding2D',
  'Flatten',
  'Add',
  'Average',
  'Concatenate',
  'Dropout',
  'SpatialDropout2D',
]);

/** Conv2D, GroupedConv2D, DepthwiseConv2D: the transpose of the convolution with its own kernel. */
function convDown(e: StepDown): string[] {
  const { g, layer, type, config, name, inShapes } = e;
  const inShape = inShapes[0];
  const s = e.rectified(config.activation);
  const k = pair(config.kernelSize, 1);
  const st = pair(config.strides, 1);
  const d = pair(config.dilationRate, 1);
  // The per-unit path transposes dilated grouped and depthwise convolutions (by their VJP), not a plain one.
  if (type === 'Conv2D' && (d[0] !== 1 || d[1] !== 1)) return refuse(layer, 'dilated convolutions are not supported by the deconvnet');
  const span = [0, 1].map((axis) => (k[axis] - 1) * d[axis] + 1);
  const [kernel] = weightData(layer);
  // The conv's OIHW kernel, [out, in / group, kh, kw] — which is ConvTranspose's [in, out / group, kh, kw].
  const m = kernel.shape[2] * kernel.shape[3];
  const depthwise = type === 'DepthwiseConv2D';
  const w = {
    dims: depthwise ? [m, 1, k[0], k[1]] : [kernel.shape[3], kernel.shape[2], k[0], k[1]],
    data: depthwise ? toOihw(kernel.data, [k[0], k[1], 1, m]) : toOihw(kernel.data, kernel.shape),
  };
  const group = depthwise ? inShape[2] : type === 'GroupedConv2D' ? Number(config.groups) : 1;
  const outShape = shapeOf(layer.output as tfl.SymbolicTensor);
  const pads = [0, 1].map((axis) => (config.padding === 'same' ? samePads(inShape[axis], span[axis], st[axis]) : ([0, 0] as [number, number])));
  // The transposed convolution's size falls short of the input where the stride left cells unread: pad it out.
  const outputPadding = [0, 1].map((axis) => inShape[axis] - (st[axis] * (outShape[axis] - 1) + span[axis] - pads[axis][0] - pads[axis][1]));
  if (outputPadding.some((p, axis) => p < 0 || (p > 0 && p >= st[axis]))) return refuse(layer, 'its padding has no transposed convolution here');
  const attrs = [intsAttr('kernel_shape', k), intsAttr('dilations', d), intAttr('group', group)];
  if (st[0] === 1 && st[1] === 1) {
    // Stride 1: the transpose is a convolution with the kernel flipped and its in/out channels swapped, which
    // ONNX Runtime runs with its fast convolution kernels (its ConvTranspose is an im2col product).
    const flipped = g.constant(`${name}.kernel_flipped`, [w.dims[1] * group, w.dims[0] / group, k[0], k[1]], flipForTranspose(w.data, w.dims, group));
    const convPads = [span[0] - 1 - pads[0][0], span[1] - 1 - pads[1][0], span[0] - 1 - pads[0][1], span[1] - 1 - pads[1][1]];
    return [g.node('Conv', [s, flipped], `${name}.down`, [...attrs, intsAttr('pads', convPads)])];
  }
  return [
    g.node('ConvTranspose', [s, g.constant(`${name}.kernel`, w.dims, w.data)], `${name}.down`, [
      ...attrs,
      intsAttr('strides', st),
      intsAttr('pads', [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]),
      intsAttr('output_padding', outputPadding),
    ]),
  ];
}

/** Dense: the signal times the transposed weights (no bias). */
function denseDown(e: StepDown): string[] {
  const { g, layer, config, name, inShapes } = e;
  if (inShapes[0].length !== 1) return refuse(layer, 'a dense layer on a map');
  const [kernel] = weightData(layer);
  const w = g.constant(`${name}.kernel`, kernel.shape, kernel.data);
  return [g.node('Gemm', [e.rectified(config.activation), w], `${name}.down`, [intAttr('transB', 1)])];
}

/**
 * MaxPooling2D: unpooling through the switches — a scatter-add, so windows that chose the same input add up. Where
 * the windows cannot overlap (strides at least the pool, as in VGG and most Keras models) no two switches meet, and
 * ONNX's MaxUnpool places the signal: the same numbers without ScatterElements' copy into zeros (a tenth off a
 * VGG-11 conv5 projection run).
 */
function unpoolDown(e: StepDown): string[] {
  const { g, layer, config, name, signal, switches, batch, inShapes } = e;
  const indices = switches.get(name);
  if (!indices) return refuse(layer, 'its switches were not recorded');
  const [h, w, c] = inShapes[0];
  const shape = g.node('Concat', [batch, g.constant(`${name}.in_chw`, [3], [c, h, w], ONNX_DTYPE.INT64)], `${name}.in_shape`, [intAttr('axis', 0)]);
  const pool = pair(config.poolSize, 2);
  const strides = config.strides === undefined || config.strides === null ? pool : pair(config.strides, 1);
  if (strides[0] >= pool[0] && strides[1] >= pool[1]) {
    // The pads only let ONNX Runtime check the shape against the pool's (the switches say where each value goes).
    const pads = [0, 1].map((axis) => (config.padding === 'same' ? samePads([h, w][axis], pool[axis], strides[axis]) : [0, 0]));
    const attrs = [intsAttr('kernel_shape', pool), intsAttr('strides', strides), intsAttr('pads', [pads[0][0], pads[1][0], pads[0][1], pads[1][1]])];
    return [g.node('MaxUnpool', [signal, indices, shape], `${name}.down`, attrs)];
  }
  const flat = g.constant(`${name}.flat`, [1], [-1], ONNX_DTYPE.INT64);
  const zeros = g.node('Reshape', [g.node('ConstantOfShape', [shape], `${name}.zeros`), flat], `${name}.zeros_flat`);
  const scattered = g.node(
    'ScatterElements',
    [zeros, g.node('Reshape', [indices, flat], `${name}.switches_flat`), g.node('Reshape', [signal, flat], `${name}.signal_flat`)],
    `${name}.unpooled_flat`,
    [intAttr('axis', 0), stringAttr('reduction', 'add')],
  );
  return [g.node('Reshape', [scattered, shape], `${name}.down`)];
}

/** ZeroPadding2D, ConstantPadding2D: the padding cropped off. */
function cropDown(e: StepDown): string[] {
  const { g, config, name, signal, inShapes } = e;
  const p = config.padding as number | number[] | number[][];
  const [t, l] =
    typeof p === 'number' ? [p, p] : Array.isArray(p[0]) ? [(p as number[][])[0][0], (p as number[][])[1][0]] : [(p as number[])[0], (p as number[])[1]];
  const [h, w] = inShapes[0];
  const starts = g.constant(`${name}.starts`, [2], [t, l], ONNX_DTYPE.INT64);
  const ends = g.constant(`${name}.ends`, [2], [t + h, l + w], ONNX_DTYPE.INT64);
  const axes = g.constant(`${name}.axes`, [2], [2, 3], ONNX_DTYPE.INT64);
  return [g.node('Slice', [signal, starts, ends, axes], `${name}.down`)];
}

/** Flatten: back to the map (the engine flattens in (h, w, c) order). */
function unflattenDown(e: StepDown): string[] {
  const { g, layer, name, signal, inShapes } = e;
  const inShape = inShapes[0];
  if (inShape.length === 1) return [signal];
  if (inShape.length !== 3) return refuse(layer, 'a flatten of a rank other than 3');
  const [h, w, c] = inShape;
  if (h * w === 1) return [g.node('Reshape', [signal, g.constant(`${name}.shape`, [4], [-1, c, 1, 1], ONNX_DTYPE.INT64)], `${name}.down`)];
  const nhwc = g.node('Reshape', [signal, g.constant(`${name}.shape`, [4], [-1, h, w, c], ONNX_DTYPE.INT64)], `${name}.down_nhwc`);
  return [g.node('Transpose', [nhwc], `${name}.down`, [intsAttr('perm', [0, 3, 1, 2])])];
}

/** Add, Average, Concatenate: the signal copied (or shared) down every input, or split between them. */
function mergeDown(e: StepDown): string[] {
  const { g, layer, type, config, name, signal, inShapes } = e;
  if (type === 'Add') return inShapes.map(() => signal);
  if (type === 'Average') {
    const part = g.node('Mul', [signal, g.constant(`${name}.share`, [], [1 / inShapes.length])], `${name}.down`);
    return inShapes.map(() => part);
  }
  const axis = Number(config.axis ?? -1);
  if (axis !== -1 && axis !== inShapes[0].length) return refuse(layer, `concatenation along axis ${axis}`);
  const sizes = inShapes.map((s) => s[s.length - 1]);
  return g.nodeOutputs(
    'Split',
    [signal, g.constant(`${name}.sizes`, [sizes.length], sizes, ONNX_DTYPE.INT64)],
    sizes.map((_, i) => `${name}.down_${i}`),
    [intAttr('axis', 1)],
  );
}

/** ZF rectify the signal at every ReLU-like unit on the way down (leaky and parametric too), as the per-unit path does. */
const reluDown = (e: StepDown): string[] => [e.rectified('relu')];

/** LRN's vector–Jacobian product (lrn-terms.ts; the deconvnet passes the signal through it), on NCHW maps. */
function lrnBack(e: StepDown, forward: Map<string, string>): string[] {
  const c = e.inShapes[0][2];
  const terms = lrnTerms(e.g, e.name, forward.get(inboundLayers(e.layer)[0].name)!, c, e.config, [0, c, -1]);
  return [terms.inputGradient(e.signal, forward.get(e.name)!)];
}

/** ChannelAffine, Rescaling, Normalization: the signal times each channel's scale (the deconvnet passes it through). */
function affineBack(e: StepDown): string[] {
  const shape = e.inShapes[0];
  const c = shape[shape.length - 1];
  const dims = shape.length === 3 ? [1, c, 1, 1] : [1, c];
  return [e.g.node('Mul', [e.signal, e.g.constant(`${e.name}.scale`, dims, channelAffine(e.layer, c).scale)], `${e.name}.down`)];
}

/** Backprop's rules for layers the deconvnet passes the signal through unchanged. */
const VJP_RULES: Record<string, (e: StepDown, forward: Map<string, string>) => string[]> = {
  LRN: lrnBack,
  ChannelAffine: affineBack,
  Rescaling: affineBack,
  Normalization: affineBack,
};

/** Layer class → its rule for the way down (the pass-through layers aside). */
const DOWN_RULES: Record<string, (e: StepDown) => string[]> = {
  Conv2D: convDown,
  GroupedConv2D: convDown,
  DepthwiseConv2D: convDown,
  Dense: denseDown,
  Activation: (e) => [e.rectified(e.config.activation)],
  ReLU: reluDown,
  LeakyReLU: reluDown,
  PReLU: reluDown,
  MaxPooling2D: unpoolDown,
  ZeroPadding2D: cropDown,
  ConstantPadding2D: cropDown,
  Flatten: unflattenDown,
  Add: mergeDown,
  Average: mergeDown,
  Concatenate: mergeDown,
};

/** Nodes for one layer's step down: the signal at its output (NCHW) → the signal at each of its inputs. */
function stepDown(
  g: GraphWriter,
  layer: tfl.layers.Layer,
  signal: string,
  inShapes: number[][],
  switches: Map<string, string>,
  batch: string,
  how: WayDown,
): string[] {
  const type = layer.getClassName();
  const backprop = how.method !== 'deconv';
  // Backprop passes a layer the reference takes a generic vector–Jacobian product of (normalisations, leaky
  // ReLUs, depthwise kernels…) to tfjs: refused here.
  if (backprop && !BACKPROP_RULES.has(type) && !VJP_RULES[type]) return refuse(layer, `no ${how.method} rule for it in the batched projections`);
  const name = layer.name;
  const config = layer.getConfig() as Record<string, unknown>;
  const vjpRule = backprop ? VJP_RULES[type] : undefined;
  if (vjpRule) return vjpRule({ g, layer, type, config, name, signal, inShapes, switches, batch, rectified: () => signal }, how.forward!);
  // (Dropout and SpatialDropout2D, the backprop rules' pass-throughs, are among them.)
  if (DECONV_PASS_THROUGH.has(type)) return [signal];
  const rule = DOWN_RULES[type];
  if (!rule) return refuse(layer, 'no rule for it in the batched deconvnet');
  const rectified = (act: unknown): string => {
    if (act === undefined || act === null || act === 'linear') return signal;
    if (act !== 'relu') return refuse(layer, `the batched projections pass through ReLU layers only, not ${String(act)}`);
    if (!backprop) return g.node('Relu', [signal], `${name}.down_relu`);
    const open = g.node('Cast', [g.node('Greater', [how.forward!.get(name)!, g.constant(`${name}.zero`, [], [0])], `${name}.was_on`)], `${name}.open`, [
      intAttr('to', ONNX_DTYPE.FLOAT),
    ]);
    const passed = how.method === 'guided' ? g.node('Relu', [signal], `${name}.down_relu`) : signal;
    return g.node('Mul', [passed, open], `${name}.down_${how.method}`);
  };
  return rule({ g, layer, type, config, name, signal, inShapes, switches, batch, rectified });
}

/**
 * The kernel of a stride-1 transposed convolution as a plain one: ConvTranspose weight [O, I/g, kh, kw] → Conv
 * weight [I, O/g, kh, kw], flipped in both spatial axes, group by group.
 */
function flipForTranspose(src: Float32Array, [o, ig, kh, kw]: number[], group: number): Float32Array {
  const og = o / group;
  const out = new Float32Array(src.length);
  for (let gi = 0; gi < group; gi++)
    for (let oo = 0; oo < og; oo++)
      for (let ii = 0; ii < ig; ii++)
        for (let a = 0; a < kh; a++)
          for (let b = 0; b < kw; b++)
            out[(((gi * ig + ii) * og + oo) * kh + a) * kw + b] = src[(((gi * og + oo) * ig + ii) * kh + (kh - 1 - a)) * kw + (kw - 1 - b)];
  return out;
}

/** The seed: zeros of the layer's NCHW output shape with one value per sample at `seed_at`. */
function seedTensor(g: GraphWriter, layerShape: number[], batch: string): string {
  const perSample = layerShape.reduce((a, b) => a * b, 1);
  const flatShape = g.node('Concat', [batch, g.constant('seed.per_sample', [1], [perSample], ONNX_DTYPE.INT64)], 'seed.flat_shape', [intAttr('axis', 0)]);
  const scattered = g.node('ScatterElements', [g.node('ConstantOfShape', [flatShape], 'seed.zeros'), 'seed_at', 'seed_value'], 'seed.flat', [
    intAttr('axis', 1),
  ]);
  // NHWC shape [h, w, c] → NCHW [c, h, w].
  const nchw = layerShape.length === 3 ? [layerShape[2], layerShape[0], layerShape[1]] : layerShape;
  return g.node('Reshape', [scattered, g.constant('seed.nchw', [nchw.length + 1], [-1, ...nchw], ONNX_DTYPE.INT64)], 'seed');
}

/** The batch size of `tensor` as a one-element int64 tensor. */
function batchOf(g: GraphWriter, tensor: string, name: string): string {
  const zero = g.constant(`${name}.zero`, [1], [0], ONNX_DTYPE.INT64);
  const one = g.constant(`${name}.one`, [1], [1], ONNX_DTYPE.INT64);
  return g.node('Slice', [g.node('Shape', [tensor], `${name}.shape`), zero, one], name);
}

/** [N, 1, 1, 1] int64: n × `size` per sample (MaxPool's indices count across the batch; one sample's do not). */
function sampleOffsets(g: GraphWriter, batch: string, size: number, name: string): string {
  const n = g.node('Squeeze', [batch, g.constant(`${name}.axis`, [1], [0], ONNX_DTYPE.INT64)], `${name}.n`);
  const range = g.node(
    'Range',
    [g.constant(`${name}.start`, [], [0], ONNX_DTYPE.INT64), n, g.constant(`${name}.step`, [], [1], ONNX_DTYPE.INT64)],
    `${name}.range`,
  );
  const scaled = g.node('Mul', [range, g.constant(`${name}.size`, [], [size], ONNX_DTYPE.INT64)], `${name}.scaled`);
  return g.node('Reshape', [scaled, g.constant(`${name}.shape4`, [4], [-1, 1, 1, 1], ONNX_DTYPE.INT64)], name);
}

/** The layers below `layerName` in topological order, and the max-pooling ones among them with their input sizes. */
function belowLayer(model: tfl.LayersModel, layerName: string): { order: tfl.layers.Layer[]; pools: Array<{ name: string; inSize: number; shape: number[] }> } {
  const below = layersBelow(model, layerName);
  const order = model.layers.filter((l) => below.has(l.name) && l.getClassName() !== 'InputLayer');
  const pools = order
    .filter((l) => l.getClassName() === 'MaxPooling2D')
    .map((l) => {
      const inShape = shapeOf(inboundLayers(l)[0].output as tfl.SymbolicTensor);
      const out = shapeOf(l.output as tfl.SymbolicTensor);
      return { name: l.name, inSize: inShape.reduce((a, b) => a * b, 1), shape: [out[2], out[0], out[1]] };
    });
  return { order, pools };
}

/** The forward pass as far as the pools below the layer need, recording their switches. */
function writeForwardToSwitches(
  g: GraphWriter,
  model: tfl.LayersModel,
  pools: Array<{ name: string }>,
): { switches: Map<string, string>; written: WrittenLayers } {
  const forward = new Set<string>();
  for (const p of pools) for (const a of layersBelow(model, p.name)) forward.add(a);
  return writeForwardTo(g, model, forward);
}

/** The forward pass of the layers `only`, recording the switches of its pools. */
function writeForwardTo(g: GraphWriter, model: tfl.LayersModel, only: Set<string>): { switches: Map<string, string>; written: WrittenLayers } {
  const switches = new Map<string, string>();
  const written = writeLayers(g, model, { nhwcInput: true, only, switches });
  if (written.inputShape.length !== 3) throw new InspectorError('MODEL_UNSUPPORTED_OP', 'The batched projections need an image input');
  return { switches, written };
}

/** From the seed at `layerName` down to the input: the NCHW signal there. */
function writeWayDown(
  g: GraphWriter,
  model: tfl.LayersModel,
  layerName: string,
  order: tfl.layers.Layer[],
  switches: Map<string, string>,
  batch: string,
  how: WayDown = { method: 'deconv' },
): string {
  const inputLayer = model.inputs[0].sourceLayer as tfl.layers.Layer;
  const layerShape = shapeOf(model.getLayer(layerName).output as tfl.SymbolicTensor);
  const signals = new Map<string, string[]>([[layerName, [seedTensor(g, layerShape, batch)]]]);
  const signalAt = (name: string): string | undefined => {
    const parts = signals.get(name);
    if (!parts) return undefined;
    return parts.length === 1 ? parts[0] : g.node('Sum', parts, `${name}.signal`);
  };
  for (let i = order.length - 1; i >= 0; i--) {
    const layer = order[i];
    const signal = signalAt(layer.name);
    if (!signal) continue;
    const inbound = inboundLayers(layer);
    const inShapes = inbound.map((l) => shapeOf(l.output as tfl.SymbolicTensor));
    stepDown(g, layer, signal, inShapes, switches, batch, how).forEach((s, j) => {
      const from = inbound[j].name;
      signals.set(from, [...(signals.get(from) ?? []), s]);
    });
  }
  const atInput = signalAt(inputLayer.name);
  if (!atInput) throw new InspectorError('MODEL_UNSUPPORTED_OP', `No path from "${layerName}" down to the input`);
  return atInput;
}

type ValueInfo = ReturnType<typeof valueInfo>;
function valueInfo(name: string, elemType: number, shape: Array<number | string>) {
  return { name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

function encodeDeconvGraph(g: GraphWriter, name: string, inputs: ValueInfo[], outputs: ValueInfo[]): Uint8Array {
  return encodeOnnxModel({
    irVersion: 8,
    producerName: 'CNN Inspector',
    producerVersion: '0',
    opsetImport: [{ domain: '', version: DECONV_OPSET }],
    metadataProps: [],
    graph: { name, node: g.nodes, initializer: g.initializers, input: inputs, output: outputs },
  });
}

const SEED_INPUTS = [valueInfo('seed_at', ONNX_DTYPE.INT64, ['N', 1]), valueInfo('seed_value', ONNX_DTYPE.FLOAT, ['N', 1])];

/**
 * The deconvnet of `layerName` (see the file comment) as ONNX bytes; with `method` gradient or guided, plain or
 * guided backprop instead (seeded with 1 by the caller, as the per-unit path does), for the layers whose rules are
 * the reference's own (BACKPROP_RULES).
 */
export function exportDeconvnetOnnx(model: tfl.LayersModel, layerName: string, method: ProjectionMethod = 'deconv'): Uint8Array {
  const { order, pools } = belowLayer(model, layerName);
  const g = new GraphWriter();
  // Backprop's ReLUs need every forward output below the layer; the deconvnet only the pools' switches.
  const { switches, written } = method === 'deconv' ? writeForwardToSwitches(g, model, pools) : writeForwardTo(g, model, layersBelow(model, layerName));
  const how = { method, forward: written.tensorOf };
  const atInput = writeWayDown(g, model, layerName, order, switches, batchOf(g, 'seed_value', 'batch'), how);
  g.node('Transpose', [atInput], 'projection', [intsAttr('perm', [0, 2, 3, 1])], 'projection');
  const shape = ['N', ...written.inputShape];
  return encodeDeconvGraph(
    g,
    'deconvnet',
    [valueInfo(written.inputName, ONNX_DTYPE.FLOAT, shape), ...SEED_INPUTS],
    [valueInfo('projection', ONNX_DTYPE.FLOAT, shape)],
  );
}

/** The max-pooling layers below `layerName` whose switches the two graphs below pass between them. */
export function poolsBelow(model: tfl.LayersModel, layerName: string): Array<{ name: string; shape: number[] }> {
  return belowLayer(model, layerName).pools.map(({ name, shape }) => ({ name, shape }));
}

/**
 * The first half of the deconvnet, for images rather than seeds: each pool's switches per image
 * (`switches:<pool>`, int32 [N, C, h, w], indices into one image's NCHW input of the pool). An image's switches
 * are the same whichever unit is projected, so a caller computes them once per image.
 */
export function exportSwitchesOnnx(model: tfl.LayersModel, layerName: string): Uint8Array {
  const { pools } = belowLayer(model, layerName);
  const g = new GraphWriter();
  const { switches, written } = writeForwardToSwitches(g, model, pools);
  const batch = batchOf(g, written.inputName, 'batch');
  const outputs = pools.map((p) => {
    const local = g.node('Sub', [switches.get(p.name)!, sampleOffsets(g, batch, p.inSize, `${p.name}.offsets`)], `${p.name}.local`);
    g.node('Cast', [local], `switches:${p.name}`, [intAttr('to', ONNX_DTYPE.INT32)], `switches:${p.name}`);
    return valueInfo(`switches:${p.name}`, ONNX_DTYPE.INT32, ['N', ...p.shape]);
  });
  return encodeDeconvGraph(g, 'deconvnet-switches', [valueInfo(written.inputName, ONNX_DTYPE.FLOAT, ['N', ...written.inputShape])], outputs);
}

/** The second half: the way down from seeds, given each seed's image's switches (as exportSwitchesOnnx gives them). */
export function exportDeconvnetFromSwitchesOnnx(model: tfl.LayersModel, layerName: string): Uint8Array {
  const { order, pools } = belowLayer(model, layerName);
  const g = new GraphWriter();
  const batch = batchOf(g, 'seed_value', 'batch');
  const switches = new Map(
    pools.map((p) => {
      const wide = g.node('Cast', [`switches:${p.name}`], `${p.name}.wide`, [intAttr('to', ONNX_DTYPE.INT64)]);
      return [p.name, g.node('Add', [wide, sampleOffsets(g, batch, p.inSize, `${p.name}.offsets`)], `${p.name}.switches`)] as [string, string];
    }),
  );
  const inputShape = shapeOf(model.inputs[0]);
  if (inputShape.length !== 3) throw new InspectorError('MODEL_UNSUPPORTED_OP', 'The batched deconvnet needs an image input');
  const atInput = writeWayDown(g, model, layerName, order, switches, batch);
  g.node('Transpose', [atInput], 'projection', [intsAttr('perm', [0, 2, 3, 1])], 'projection');
  const inputs = [...SEED_INPUTS, ...pools.map((p) => valueInfo(`switches:${p.name}`, ONNX_DTYPE.INT32, ['N', ...p.shape]))];
  return encodeDeconvGraph(g, 'deconvnet-from-switches', inputs, [valueInfo('projection', ONNX_DTYPE.FLOAT, ['N', ...inputShape])]);
}
