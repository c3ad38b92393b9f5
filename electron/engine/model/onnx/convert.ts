/**
 * ONNX graph → TF.js Layers functional model, so every analysis runs on imported models unchanged.
 *
 * Layout: ONNX image tensors are NCHW, the engine's are NHWC. The conversion happens once, here: convolution
 * kernels are transposed OIHW → HWIO, channel axes map to the last axis, and a Flatten of a map with H·W > 1 keeps
 * TF's (h, w, c) order while the dense layer after it gets its weight rows permuted to match ONNX's (c, h, w)
 * order (a FlatReorder layer is inserted where the flattened vector goes anywhere else).
 *
 * Constant sub-graphs (Shape → Gather → Unsqueeze → Concat feeding a Reshape, as older PyTorch exports write
 * `x.view(x.size(0), -1)`) are folded at load time, with the batch dimension taken as 1.
 *
 * Errors: MODEL_UNSUPPORTED_OP (each unsupported operator named with its node), ONNX_INVALID,
 * MODEL_WEIGHTS_INCONSISTENT.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../shared/errors';
import { LocalResponseNormalization } from '../layers/lrn';
import { ChannelAffine, ChannelShuffle, ConstantPadding2D, CountedAveragePooling2D, FlatReorder, GroupedConv2D } from '../layers/onnx-ops';
import type { OnnxAttribute, OnnxGraph, OnnxNode } from './proto';
import { elementCount, tensorToFloat32 } from './tensor-data';

export const SUPPORTED_ONNX_OPS = new Set([
  'Conv', 'Relu', 'LeakyRelu', 'Clip', 'Sigmoid', 'Tanh', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool',
  'LRN', 'BatchNormalization', 'Gemm', 'MatMul', 'Add', 'Sub', 'Mul', 'Div', 'Concat', 'Flatten', 'Reshape', 'Transpose',
  'Dropout', 'Identity', 'Softmax', 'Pad', 'Constant', 'ConstantOfShape', 'Shape', 'Gather', 'Unsqueeze', 'Squeeze', 'Cast', 'Sum', 'Max', 'Min',
  'Mean', 'Elu',
]);

type Pair = [number, number];

/** A value flowing through the graph: a symbolic tensor of the model being built, or a constant. */
type Value =
  | {
      kind: 'tensor';
      t: tfl.SymbolicTensor;
      /** For a flattened map kept in TF's (h, w, c) order: the shape it came from. Only ever read by the dense
       *  layers it feeds (Flatten reorders at once for any other consumer, graph outputs included). */
      hwcFlat?: [number, number, number];
      /** A map transposed to channels-last by the graph (NCHW → NHWC, as CNN Inspector's own export writes
       *  before a Flatten): the engine's tensor already is that; only a Flatten may consume it. */
      channelsLast?: boolean;
    }
  | { kind: 'const'; dims: number[]; data: Float32Array };

/** Whether a pooling window gives one output per axis and covers the whole (unpadded) input. */
function coversWholeMap(inShape: number[], k: number[], strides: number[], pads: Array<[number, number]>): boolean {
  return [0, 1].every((a) => Math.floor((inShape[a] + pads[a][0] + pads[a][1] - k[a]) / strides[a]) + 1 === 1 && k[a] - pads[a][0] >= inShape[a]);
}

/** Most values a ConstantOfShape may make (a VGG fc6 weight has 103 M): beyond that a file only claims memory. */
const MAX_CONSTANT_VALUES = 2 ** 28;

const attr = (node: OnnxNode, name: string): OnnxAttribute | undefined => node.attribute.find((a) => a.name === name);
const attrInt = (node: OnnxNode, name: string, d: number): number => {
  const a = attr(node, name);
  return a && a.i !== undefined && (a.type === 2 || a.type === undefined || a.type === 0) ? Number(a.i) : d;
};
const attrFloat = (node: OnnxNode, name: string, d: number): number => {
  const a = attr(node, name);
  return a && a.type === 1 ? Number(a.f) : d;
};
const attrInts = (node: OnnxNode, name: string): number[] | undefined => {
  const a = attr(node, name);
  return a && a.type === 7 ? a.ints.map(Number) : undefined;
};
const attrString = (node: OnnxNode, name: string, d: string): string => {
  const a = attr(node, name);
  return a && a.s && a.s.length ? Buffer.from(a.s).toString('utf8') : d;
};

function where(node: OnnxNode, index: number): string {
  return node.name ? `node "${node.name}"` : `node #${index + 1}`;
}

/** TF's SAME padding (extra cell at the end) for one axis. */
function samePads(inSize: number, kEff: number, stride: number): Pair {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kEff - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

// Weights go into layers through their initializers: the layer's variable then takes the tensor made from the
// file's numbers as it is, instead of first allocating zeros and copying the weights over them (which, for
// VGG's 400 MB dense layer, held three copies at once).
type InitializerLike = ReturnType<typeof tfl.initializers.zeros>;
const InitializerBase = Object.getPrototypeOf(tfl.initializers.zeros().constructor) as new () => InitializerLike;

class GivenValues extends InitializerBase {
  static className = 'GivenValues';
  constructor(private data: Float32Array) {
    super();
  }
  override apply(shape: number[]): tf.Tensor {
    if (this.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${this.data.length} weights for a layer of shape [${shape.join(', ')}]`);
    }
    const t = tf.tensor(this.data, shape, 'float32');
    this.data = new Float32Array(0); // used once; let the copy go
    return t;
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

const given = (data: Float32Array | undefined): InitializerLike => (data ? (new GivenValues(data) as unknown as InitializerLike) : tfl.initializers.zeros());

/** After building: the layer's config names plain initializers again (saved models must not refer to GivenValues). */
function forgetGiven(layer: tfl.layers.Layer): void {
  const l = layer as unknown as Record<string, unknown>;
  for (const key of ['kernelInitializer', 'biasInitializer', 'depthwiseInitializer']) if (l[key] instanceof GivenValues) l[key] = tfl.initializers.zeros();
}

const validName = (raw: string): string => raw.replace(/[^A-Za-z0-9_.\-/]/g, '_').replace(/^[^A-Za-z0-9]+/, '');

/**
 * The scope of an ONNX node name. PyTorch ≥ 1.13 writes scopes ("/layer2/layer2.0/conv1/Conv"); they become the
 * module path ("layer2.0.conv1") a PyTorch user knows. Other producers' names are kept as they are.
 */
export function scopeOf(node: OnnxNode): string {
  if (!node.name.startsWith('/')) return validName(node.name);
  const segments = node.name.split('/').filter(Boolean);
  segments.pop(); // the op, e.g. "Conv"
  // A container's children are written "<container's segment>.<key>" ("/features/features.1/conv/conv.0/…").
  const parts: string[] = [];
  let previous = '';
  for (const seg of segments) {
    parts.push(previous && seg.startsWith(`${previous}.`) ? seg.slice(previous.length + 1) : seg);
    previous = seg;
  }
  return validName(parts.join('.'));
}

/**
 * One layer name per node, valid for TF.js and unique. Where a module exported as several nodes (a Pad then an
 * AveragePool), the node that produces the module's output gets the module's name, the others a suffixed one.
 */
export function layerNames(nodes: OnnxNode[], reserved: Set<string>): string[] {
  const bases = nodes.map((n) => scopeOf(n) || n.opType.toLowerCase());
  const lastOfBase = new Map<string, number>();
  bases.forEach((b, i) => lastOfBase.set(b, i));
  const names: string[] = [];
  bases.forEach((b, i) => {
    if (lastOfBase.get(b) === i) names[i] = uniqueName(b, reserved);
  });
  bases.forEach((b, i) => {
    if (names[i] === undefined) names[i] = uniqueName(`${b}_${nodes[i].opType.toLowerCase()}`, reserved);
  });
  return names;
}

function uniqueName(base: string, used: Set<string>): string {
  const clean = validName(base) || 'layer';
  let name = clean;
  for (let k = 1; used.has(name); k++) name = `${clean}_${k}`;
  used.add(name);
  return name;
}

export function convertOnnxGraph(
  graph: OnnxGraph,
  opset: number,
  baseDir: string,
  inputHw: Pair | undefined,
  onProgress: (done: number, total: number, message: string) => void = () => undefined,
): { model: tfl.LayersModel; notices: string[] } {
  const notices: string[] = [];
  const values = new Map<string, Value>();
  const usedNames = new Set<string>();
  const initializerNames = new Set(graph.initializer.map((t) => t.name));

  // Consumers of every tensor, to know whether a Flatten feeds only dense layers.
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.node) for (const name of node.input) if (name) consumers.set(name, [...(consumers.get(name) ?? []), node]);

  // Constants are read lazily: a model's initializers are read once, when the node that uses them converts.
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  const lookup = (name: string, node: OnnxNode, index: number): Value => {
    const v = values.get(name);
    if (v) return v;
    const init = initializers.get(name);
    if (init) {
      const c: Value = { kind: 'const', dims: init.dims.map(Number), data: tensorToFloat32(init, baseDir) };
      // Weights are read when their layer is built and not kept afterwards (a model's weights are used once);
      // small constants (shapes, axes) are kept.
      if (c.data.length <= 4096) values.set(name, c);
      return c;
    }
    throw new InspectorError('ONNX_INVALID', `${where(node, index)} (${node.opType}) reads "${name}", which nothing produces`);
  };
  const constOf = (name: string, node: OnnxNode, index: number, what: string): { dims: number[]; data: Float32Array } => {
    const v = lookup(name, node, index);
    if (v.kind !== 'const') {
      throw new InspectorError('MODEL_UNSUPPORTED_OP', `${where(node, index)} (${node.opType}): its ${what} must be a constant for CNN Inspector to run it`);
    }
    return v;
  };
  /** Dims of a constant unsqueezed at `axes` (negative ones counted in the output's rank). */
  const unsqueezeDims = (dims: number[], axes: number[], node: OnnxNode, index: number): number[] => {
    const rank = dims.length + axes.length;
    const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
    if (at.size !== axes.length || [...at].some((a) => a < 0 || a >= rank)) unsupported(node, index, `unsqueezing at axes [${axes.join(', ')}]`);
    const out: number[] = [];
    let next = 0;
    for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : dims[next++]);
    return out;
  };
  /** Dims of a constant squeezed at `axes` (every 1 when none are given). */
  const squeezeDims = (dims: number[], axes: number[] | undefined): number[] => {
    const at = new Set((axes ?? dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => (a < 0 ? a + dims.length : a)));
    return dims.filter((_, i) => !at.has(i));
  };
  /** A Reshape target resolved against the input dims (0 keeps a dim, one −1 takes the rest). */
  const resolveReshape = (dims: number[], target: number[], node: OnnxNode, index: number): number[] => {
    const total = elementCount(dims);
    const out = target.map((d, i) => (d === 0 ? dims[i] : d));
    const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const free = out.filter((d) => d === -1).length;
    if (free > 1 || (free === 1 && (known === 0 || total % known !== 0)) || (free === 0 && known !== total)) {
      unsupported(node, index, `reshaping a constant of shape [${dims.join(', ')}] to [${target.join(', ')}]`);
    }
    return out.map((d) => (d === -1 ? total / known : d));
  };
  const tensorOf = (name: string, node: OnnxNode, index: number): tfl.SymbolicTensor => {
    const v = lookup(name, node, index);
    if (v.kind !== 'tensor') throw new InspectorError('MODEL_UNSUPPORTED_OP', `${where(node, index)} (${node.opType}) applied to a constant`);
    return materialize(v, node, index);
  };
  const shapeOf = (t: tfl.SymbolicTensor): number[] => (t.shape as Array<number | null>).slice(1).map((d) => d ?? -1);

  let currentName = '';
  const unsupported = (node: OnnxNode, index: number, what: string): never => {
    throw new InspectorError('MODEL_UNSUPPORTED_OP', `${where(node, index)} (${node.opType}): ${what} is not supported`);
  };
  const apply = (layer: tfl.layers.Layer, input: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor =>
    layer.apply(input) as tfl.SymbolicTensor;
  const setWeights = (layer: tfl.layers.Layer, arrays: Array<{ data: Float32Array; shape: number[] }>): void => {
    const tensors = arrays.map((a) => tf.tensor(a.data, a.shape, 'float32'));
    try {
      layer.setWeights(tensors);
    } finally {
      tensors.forEach((t) => t.dispose());
    }
  };

  /** The symbolic tensor of a value, refusing a channels-last transposed map anywhere but before a Flatten. */
  function materialize(v: Value & { kind: 'tensor' }, node: OnnxNode, index: number): tfl.SymbolicTensor {
    if (v.channelsLast && node.opType !== 'Flatten' && node.opType !== 'Reshape') {
      unsupported(node, index, 'a channels-last transposed map feeding anything but a Flatten');
    }
    return v.t;
  }

  /** Explicit pads [top, left, bottom, right] for a windowed op, from pads / auto_pad. */
  function windowPads(node: OnnxNode, index: number, inHw: Pair, kEff: Pair, strides: Pair): [Pair, Pair] {
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const ph = samePads(inHw[0], kEff[0], strides[0]);
      const pw = samePads(inHw[1], kEff[1], strides[1]);
      return autoPad === 'SAME_UPPER' ? [ph, pw] : [[ph[1], ph[0]], [pw[1], pw[0]]];
    }
    if (autoPad === 'VALID') return [[0, 0], [0, 0]];
    const pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
    if (pads.length !== 4) unsupported(node, index, `padding over ${pads.length / 2} axes`);
    if (pads.some((p) => p < 0)) unsupported(node, index, 'negative padding');
    return [[pads[0], pads[2]], [pads[1], pads[3]]];
  }

  const isTfSame = (pads: [Pair, Pair], inHw: Pair, kEff: Pair, strides: Pair): boolean => {
    const h = samePads(inHw[0], kEff[0], strides[0]);
    const w = samePads(inHw[1], kEff[1], strides[1]);
    return pads[0][0] === h[0] && pads[0][1] === h[1] && pads[1][0] === w[0] && pads[1][1] === w[1];
  };
  const isZero = (pads: [Pair, Pair]) => pads.every((p) => p[0] === 0 && p[1] === 0);

  /** A per-channel (or scalar) constant for an elementwise op on a tensor with `channels` channels. */
  function channelConstant(c: { dims: number[]; data: Float32Array }, rank: number, channels: number, node: OnnxNode, index: number): Float32Array {
    const n = c.data.length;
    if (n === 1) return new Float32Array(channels).fill(c.data[0]);
    if (n === channels) {
      // Shapes that broadcast to the channel axis only: [C] for rank 2, [C,1,1] / [1,C,1,1] for images.
      const nonOne = c.dims.map((d, i) => ({ d, i })).filter((x) => x.d !== 1);
      const axisFromEnd = c.dims.length - nonOne[0].i;
      const ok = nonOne.length === 1 && (rank === 2 ? axisFromEnd === 1 : axisFromEnd === 3);
      if (ok) return c.data;
    }
    return unsupported(node, index, `an elementwise constant of shape [${c.dims.join(', ')}] that is not per channel`);
  }

  /**
   * Before opset 7 a constant operand lined up with the tensor from the `axis` attribute (broadcast=1), not from
   * the right as NumPy does: a [C] bias with axis=1 is per channel. Its shape is rewritten to the full rank.
   */
  function legacyBroadcast(c: { dims: number[]; data: Float32Array }, rank: number, node: OnnxNode): { dims: number[]; data: Float32Array } {
    if (attrInt(node, 'broadcast', 0) !== 1 || c.dims.length >= rank) return c;
    const axis = attrInt(node, 'axis', rank - c.dims.length);
    return { ...c, dims: [...Array(axis).fill(1), ...c.dims, ...Array(Math.max(0, rank - axis - c.dims.length)).fill(1)] };
  }

  // --- The input. ---
  const graphInputs = graph.input.filter((i) => !initializerNames.has(i.name));
  if (graphInputs.length !== 1) {
    throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', `The model has ${graphInputs.length} inputs (${graphInputs.map((i) => i.name).join(', ')}); CNN Inspector handles single-image models`);
  }
  const inputInfo = graphInputs[0];
  const dims = inputInfo.type?.tensorType?.shape?.dim ?? [];
  if (dims.length !== 4) {
    throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', `The model input "${inputInfo.name}" has ${dims.length} dimensions; an image model takes [batch, channels, height, width]`);
  }
  const dimValue = (d: { dimValue?: number; dimParam?: string }): number | undefined => (d.dimValue && d.dimValue > 0 ? Number(d.dimValue) : undefined);
  const channels = dimValue(dims[1]);
  if (!channels) throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', `The model input "${inputInfo.name}" does not say how many channels it has`);
  let hw: Pair;
  const fileHw: [number | undefined, number | undefined] = [dimValue(dims[2]), dimValue(dims[3])];
  if (fileHw[0] && fileHw[1]) hw = [fileHw[0], fileHw[1]];
  else {
    hw = inputHw ?? [224, 224];
    notices.push(`The model accepts any image size; CNN Inspector runs it at ${hw[0]}×${hw[1]}${inputHw ? ' (from its settings)' : ''}`);
  }
  const inputName = uniqueName(validName(inputInfo.name) || 'input', usedNames);
  const input = tfl.input({ shape: [hw[0], hw[1], channels], name: inputName });
  values.set(inputInfo.name, { kind: 'tensor', t: input });
  const nodeNames = layerNames(graph.node, usedNames);

  // Nodes already converted as part of a pattern (a channel shuffle's Transpose and second Reshape).
  const folded = new Set<OnnxNode>();

  /**
   * ShuffleNet's channel shuffle starting at the Reshape `node` of a [C, H, W] tensor to [N, g, C/g, H, W]: its
   * only consumer a Transpose [0, 2, 1, 3, 4], whose only consumer a Reshape back to [N, C, H, W]. Returns that
   * last Reshape and g, or undefined when the nodes are anything else.
   */
  const channelShuffle = (node: OnnxNode, onnx: number[], target: number[]): { last: OnnxNode; groups: number } | undefined => {
    const [c, h, w] = onnx;
    if (onnx.length !== 3 || target.length !== 5 || target[1] * target[2] !== c || target[3] !== h || target[4] !== w) return undefined;
    const transpose = consumers.get(node.output[0]) ?? [];
    if (transpose.length !== 1 || transpose[0].opType !== 'Transpose' || attrInts(transpose[0], 'perm')?.join(',') !== '0,2,1,3,4') return undefined;
    const back = consumers.get(transpose[0].output[0]) ?? [];
    if (back.length !== 1 || back[0].opType !== 'Reshape' || graph.output.some((o) => o.name === node.output[0] || o.name === transpose[0].output[0])) return undefined;
    const shape = values.get(back[0].input[1]) ?? (initializers.has(back[0].input[1]) ? { kind: 'const' as const, ...constOf(back[0].input[1], back[0], 0, 'target shape') } : undefined);
    if (!shape || shape.kind !== 'const') return undefined;
    const t = Array.from(shape.data);
    const dims = t.map((d, i) => (d === 0 ? [1, target[1] * target[2], h, w][i] ?? d : d));
    const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const resolved = dims.map((d) => (d === -1 ? (c * h * w) / known : d));
    if (resolved.length !== 4 || resolved[1] !== c || resolved[2] !== h || resolved[3] !== w) return undefined;
    folded.add(transpose[0]).add(back[0]);
    return { last: back[0], groups: target[1] };
  };

  // --- Nodes, in the topological order ONNX requires. ---
  graph.node.forEach((node, index) => {
    if (folded.has(node)) return;
    if (index % 8 === 0) onProgress(index, graph.node.length, `Converting layer ${index + 1} of ${graph.node.length}`);
    const op = node.opType;
    const out = node.output[0];
    const define = (v: Value) => values.set(out, v);
    const nameFor = () => (currentName = nodeNames[index]);
    const defineLayer = (t: tfl.SymbolicTensor, extra: Partial<Value & { kind: 'tensor' }> = {}) => {
      define({ kind: 'tensor', t, ...extra });
    };
    const inputsAreConst = node.input.filter(Boolean).every((n) => {
      const v = values.get(n);
      return (v && v.kind === 'const') || (!v && initializers.has(n));
    });

    switch (op) {
      case 'Constant': {
        const a = node.attribute[0];
        if (!a) throw new InspectorError('ONNX_INVALID', `${where(node, index)} (Constant) has no value`);
        if (a.name === 'value' && a.t) define({ kind: 'const', dims: a.t.dims.map(Number), data: tensorToFloat32(a.t, baseDir) });
        else if (a.name === 'value_float') define({ kind: 'const', dims: [], data: Float32Array.of(a.f ?? 0) });
        else if (a.name === 'value_floats') define({ kind: 'const', dims: [a.floats.length], data: Float32Array.from(a.floats) });
        else if (a.name === 'value_int') define({ kind: 'const', dims: [], data: Float32Array.of(Number(a.i ?? 0)) });
        else if (a.name === 'value_ints') define({ kind: 'const', dims: [a.ints.length], data: Float32Array.from(a.ints.map(Number)) });
        else unsupported(node, index, `a constant given as "${a.name}"`);
        return;
      }
      case 'Identity':
      case 'Dropout':
      case 'Cast': {
        // Dropout with training_mode true (opset 12+, its third input) drops units at random: refused, not ignored.
        // Before opset 7, Dropout and BatchNormalization run in training mode unless is_test says otherwise.
        if (op === 'Dropout' && opset < 7 && attrInt(node, 'is_test', 0) === 0) unsupported(node, index, 'dropout in training mode (is_test=0; export the model with model.eval())');
        if (op === 'Dropout' && node.input[2]) {
          const training = lookup(node.input[2], node, index);
          if (training.kind !== 'const' || training.data.some((v) => v !== 0)) unsupported(node, index, 'dropout in training mode (export the model with model.eval())');
        }
        const v = lookup(node.input[0], node, index);
        define(v);
        return;
      }
      case 'Shape': {
        const v = lookup(node.input[0], node, index);
        const full = v.kind === 'const' ? v.dims : onnxShape(v.t);
        // Opset 15 added start / end (PyTorch 2's flatten reads Shape[0:1]); negative counts from the end.
        const at = (i: number) => Math.min(full.length, Math.max(0, i < 0 ? i + full.length : i));
        const shape = full.slice(at(attrInt(node, 'start', 0)), at(attrInt(node, 'end', full.length)));
        define({ kind: 'const', dims: [shape.length], data: Float32Array.from(shape) });
        return;
      }
      case 'ConstantOfShape': {
        const shape = Array.from(constOf(node.input[0], node, index, 'shape').data);
        const a = attr(node, 'value');
        const fill = a?.t ? (tensorToFloat32(a.t, baseDir)[0] ?? 0) : 0;
        const count = elementCount(shape);
        if (!shape.every((d) => Number.isInteger(d) && d >= 0) || count > MAX_CONSTANT_VALUES) {
          unsupported(node, index, `a constant of shape [${shape.join(', ')}]`);
        }
        define({ kind: 'const', dims: shape, data: new Float32Array(count).fill(fill) });
        return;
      }
    }

    // Reshape of a constant (a weight or a per-channel scale written as [C] then reshaped to [1, C, 1, 1]).
    if (op === 'Reshape' && inputsAreConst) {
      const c = constOf(node.input[0], node, index, 'input');
      const target = Array.from(constOf(node.input[1], node, index, 'target shape').data);
      define({ kind: 'const', dims: resolveReshape(c.dims, target, node, index), data: c.data });
      return;
    }

    // Constant folding of small integer arithmetic on shapes.
    if (inputsAreConst && (op === 'Gather' || op === 'Unsqueeze' || op === 'Squeeze' || op === 'Concat')) {
      const parts = node.input.filter(Boolean).map((n) => constOf(n, node, index, 'input'));
      if (op === 'Gather') {
        const idx = Array.from(parts[1].data);
        if (parts[0].dims.length !== 1) unsupported(node, index, 'gathering from a constant of rank > 1');
        const picked = idx.map((i) => parts[0].data[i < 0 ? i + parts[0].data.length : i]);
        define({ kind: 'const', dims: parts[1].dims, data: Float32Array.from(picked) });
      } else if (op === 'Unsqueeze' || op === 'Squeeze') {
        // The axes come from an attribute before opset 13 and from the second input since.
        const axes = opset >= 13 ? (parts[1] ? Array.from(parts[1].data) : undefined) : attrInts(node, 'axes');
        define({ kind: 'const', dims: op === 'Unsqueeze' ? unsqueezeDims(parts[0].dims, axes ?? [], node, index) : squeezeDims(parts[0].dims, axes), data: parts[0].data });
      } else {
        const data = Float32Array.from(parts.flatMap((p) => Array.from(p.data)));
        define({ kind: 'const', dims: [data.length], data });
      }
      return;
    }

    switch (op) {
      case 'Conv': {
        const x = tensorOf(node.input[0], node, index);
        const w = constOf(node.input[1], node, index, 'weight');
        if (w.dims.length !== 4) unsupported(node, index, `a ${w.dims.length - 2}-D convolution (only 2-D image convolutions run)`);
        const [m, cg, kh, kw] = w.dims;
        const inShape = shapeOf(x);
        const cin = inShape[2];
        const group = attrInt(node, 'group', 1);
        if (cg * group !== cin) {
          throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (Conv): its weight expects ${cg * group} input channels, the tensor has ${cin}`);
        }
        const strides = (attrInts(node, 'strides') ?? [1, 1]) as Pair;
        const dil = (attrInts(node, 'dilations') ?? [1, 1]) as Pair;
        const kEff: Pair = [(kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1];
        const pads = windowPads(node, index, [inShape[0], inShape[1]], kEff, strides);
        let padding: 'same' | 'valid' = 'valid';
        let xin = x;
        const name = nameFor();
        if (isZero(pads)) padding = 'valid';
        else if (isTfSame(pads, [inShape[0], inShape[1]], kEff, strides)) padding = 'same';
        else xin = apply(tfl.layers.zeroPadding2d({ padding: pads, name: uniqueName(`${name}_pad`, usedNames) }), x);
        const bias = node.input[2] ? constOf(node.input[2], node, index, 'bias') : undefined;
        if (bias && bias.data.length !== m) throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (Conv): ${bias.data.length} biases for ${m} filters`);
        // OIHW → HWIO (for depthwise: HW C mult, which is the same index map with I = 1 per group).
        const hwio = new Float32Array(w.data.length);
        for (let o = 0; o < m; o++) for (let i = 0; i < cg; i++) for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) {
          hwio[((y * kw + xx) * cg + i) * m + o] = w.data[((o * cg + i) * kh + y) * kw + xx];
        }
        let layer: tfl.layers.Layer;
        const common = { kernelSize: [kh, kw], strides, dilationRate: dil, padding, useBias: !!bias, name };
        const dilated = dil[0] > 1 || dil[1] > 1;
        if (group === 1 && !dilated) {
          layer = tfl.layers.conv2d({ ...common, filters: m, kernelInitializer: given(hwio), biasInitializer: given(bias?.data) });
          const y = apply(layer, xin);
          forgetGiven(layer);
          defineLayer(y);
        } else if (group === cin && cg === 1 && m % cin === 0 && !dilated) {
          const mult = m / cin;
          // Depthwise kernel [kh, kw, C, mult]: ONNX filter o = c·mult + j ↔ (c, j); HWIO above has I = 1, O = m.
          layer = tfl.layers.depthwiseConv2d({ ...common, kernelSize: [kh, kw], depthMultiplier: mult, depthwiseInitializer: given(hwio), biasInitializer: given(bias?.data) });
          const y = apply(layer, xin);
          forgetGiven(layer);
          defineLayer(y);
        } else {
          layer = new GroupedConv2D({ ...common, filters: m, groups: group });
          const y = apply(layer, xin);
          setWeights(layer, [{ data: hwio, shape: [kh, kw, cg, m] }, ...(bias ? [{ data: bias.data, shape: [m] }] : [])]);
          defineLayer(y);
        }
        return;
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh': {
        const v = lookup(node.input[0], node, index);
        if (v.kind !== 'tensor') return unsupported(node, index, 'an activation of a constant');
        nameFor();
        const t = apply(tfl.layers.activation({ activation: op.toLowerCase() as 'relu', name: currentName }), v.t);
        defineLayer(t);
        return;
      }
      case 'LeakyRelu': {
        const v = lookup(node.input[0], node, index);
        if (v.kind !== 'tensor') return unsupported(node, index, 'an activation of a constant');
        nameFor();
        defineLayer(apply(tfl.layers.leakyReLU({ alpha: attrFloat(node, 'alpha', 0.01), name: currentName }), v.t));
        return;
      }
      case 'Clip': {
        const v = lookup(node.input[0], node, index);
        if (v.kind !== 'tensor') return unsupported(node, index, 'clipping a constant');
        let lo: number;
        let hi: number;
        if (opset < 11) {
          lo = attrFloat(node, 'min', -Infinity);
          hi = attrFloat(node, 'max', Infinity);
        } else {
          lo = node.input[1] ? constOf(node.input[1], node, index, 'minimum').data[0] : -Infinity;
          hi = node.input[2] ? constOf(node.input[2], node, index, 'maximum').data[0] : Infinity;
        }
        if (lo !== 0) unsupported(node, index, `clipping to [${lo}, ${hi}] (only ReLU-style clipping from 0, e.g. ReLU6)`);
        nameFor();
        const layer = Number.isFinite(hi) ? tfl.layers.reLU({ maxValue: hi, name: currentName }) : tfl.layers.activation({ activation: 'relu', name: currentName });
        defineLayer(apply(layer, v.t));
        return;
      }
      case 'Softmax': {
        const x = tensorOf(node.input[0], node, index);
        const rank = x.shape.length;
        const axis = attrInt(node, 'axis', opset >= 13 ? -1 : 1);
        const lastAxis = axis === -1 || axis === rank - 1 || (rank === 4 && axis === 1 && opset >= 13);
        if (rank !== 2 && !(rank === 4 && axis === 1)) unsupported(node, index, `softmax over a rank-${rank} tensor`);
        if (rank === 2 && !(axis === 1 || axis === -1)) unsupported(node, index, `softmax over axis ${axis}`);
        if (rank === 4 && !lastAxis) {
          const s = shapeOf(x);
          if (s[0] * s[1] !== 1) unsupported(node, index, 'softmax over a whole feature map (opset < 13 flattening)');
        }
        nameFor();
        defineLayer(apply(tfl.layers.softmax({ axis: -1, name: currentName }), x));
        return;
      }
      case 'MaxPool':
      case 'AveragePool': {
        if (node.output.length > 1 && node.output[1]) unsupported(node, index, 'returning max-pool indices');
        const x = tensorOf(node.input[0], node, index);
        const inShape = shapeOf(x);
        const k = (attrInts(node, 'kernel_shape') ?? []) as Pair;
        if (k.length !== 2) unsupported(node, index, `${k.length}-D pooling`);
        const strides = (attrInts(node, 'strides') ?? [1, 1]) as Pair;
        const dil = attrInts(node, 'dilations') ?? [1, 1];
        if (dil.some((d) => d !== 1)) unsupported(node, index, 'dilated pooling');
        const pads = windowPads(node, index, [inShape[0], inShape[1]], k, strides);
        if (attrInt(node, 'ceil_mode', 0) === 1) {
          // PyTorch/ONNX ceil mode: one more output where a window starts inside the (left-padded) input.
          for (let a = 0; a < 2; a++) {
            const span = inShape[a] + pads[a][0] + pads[a][1];
            let outCeil = Math.ceil((span - k[a]) / strides[a]) + 1;
            if ((outCeil - 1) * strides[a] >= inShape[a] + pads[a][0]) outCeil--;
            const extra = Math.max((outCeil - 1) * strides[a] + k[a] - span, 0);
            if (extra > 0 && op === 'AveragePool') unsupported(node, index, 'average pooling in ceil mode with a partial last window');
            pads[a] = [pads[a][0], pads[a][1] + extra];
          }
        }
        const name = nameFor();
        const poolArgs = { poolSize: k, strides, name };
        let xin = x;
        let padding: 'same' | 'valid' = 'valid';
        if (isZero(pads)) padding = 'valid';
        else if (op === 'MaxPool') {
          if (isTfSame(pads, [inShape[0], inShape[1]], k, strides)) padding = 'same';
          else xin = apply(new ConstantPadding2D({ padding: pads, value: -Infinity, name: uniqueName(`${name}_pad`, usedNames) }), x);
        } else if (attrInt(node, 'count_include_pad', 0) === 1) {
          xin = apply(tfl.layers.zeroPadding2d({ padding: pads, name: uniqueName(`${name}_pad`, usedNames) }), x);
        } else if (isTfSame(pads, [inShape[0], inShape[1]], k, strides)) padding = 'same';
        else if (coversWholeMap(inShape, k, strides, pads)) {
          // One window over the whole map with the padding not counted (Caffe-converted GoogLeNet's last pool, its
          // ceil mode written as end padding): the plain average of the map.
          defineLayer(apply(tfl.layers.averagePooling2d({ poolSize: [inShape[0], inShape[1]], strides: [inShape[0], inShape[1]], padding: 'valid', name }), x));
          return;
        } else {
          const padded = apply(tfl.layers.zeroPadding2d({ padding: pads, name: uniqueName(`${name}_pad`, usedNames) }), x);
          defineLayer(apply(new CountedAveragePooling2D({ poolSize: k, strides, pads, name }), padded));
          return;
        }
        const layer = op === 'MaxPool' ? tfl.layers.maxPooling2d({ ...poolArgs, padding }) : tfl.layers.averagePooling2d({ ...poolArgs, padding });
        defineLayer(apply(layer, xin));
        return;
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool': {
        const x = tensorOf(node.input[0], node, index);
        const [h, w] = shapeOf(x);
        nameFor();
        // Kept 4-D (1×1×C) like ONNX's [N, C, 1, 1]; a following Flatten is then order-free.
        const args = { poolSize: [h, w] as Pair, strides: [h, w] as Pair, padding: 'valid' as const, name: currentName };
        defineLayer(apply(op === 'GlobalAveragePool' ? tfl.layers.averagePooling2d(args) : tfl.layers.maxPooling2d(args), x));
        return;
      }
      case 'LRN': {
        const x = tensorOf(node.input[0], node, index);
        const size = attrInt(node, 'size', 0);
        if (size % 2 !== 1) unsupported(node, index, `LRN over an even window (${size})`);
        nameFor();
        // ONNX/PyTorch/Caffe scale alpha by the window size; TF's LRN does not.
        const layer = new LocalResponseNormalization({
          name: currentName,
          depthRadius: (size - 1) / 2,
          alpha: attrFloat(node, 'alpha', 1e-4) / size,
          beta: attrFloat(node, 'beta', 0.75),
          bias: attrFloat(node, 'bias', 1),
        });
        defineLayer(apply(layer, x));
        return;
      }
      case 'BatchNormalization': {
        // training_mode=1 (opset 14+) normalises with the batch's own statistics: running it with the stored ones
        // would be silently wrong, so it is refused (export the model in eval mode).
        if (attrInt(node, 'training_mode', 0) !== 0 || node.output.filter(Boolean).length > 1 || (opset < 7 && attrInt(node, 'is_test', 0) === 0)) {
          unsupported(node, index, 'batch normalisation in training mode (export the model with model.eval())');
        }
        const x = tensorOf(node.input[0], node, index);
        const [scale, bias, mean, variance] = node.input.slice(1, 5).map((n, i) => constOf(n, node, index, ['scale', 'bias', 'mean', 'variance'][i]));
        const c = shapeOf(x).at(-1)!;
        if ([scale, bias, mean, variance].some((p) => p.data.length !== c)) {
          throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (BatchNormalization): parameters do not match ${c} channels`);
        }
        nameFor();
        const layer = tfl.layers.batchNormalization({ axis: -1, epsilon: attrFloat(node, 'epsilon', 1e-5), name: currentName });
        const t = apply(layer, x);
        setWeights(layer, [scale, bias, mean, variance].map((p) => ({ data: p.data, shape: [c] })));
        defineLayer(t);
        return;
      }
      case 'Gemm':
      case 'MatMul': {
        const v = lookup(node.input[0], node, index);
        if (v.kind !== 'tensor') return unsupported(node, index, 'a product of constants');
        if (v.t.shape.length !== 2) unsupported(node, index, `a matrix product on a rank-${v.t.shape.length} tensor`);
        const b = constOf(node.input[1], node, index, 'weight');
        if (b.dims.length !== 2) unsupported(node, index, `a rank-${b.dims.length} weight`);
        const transA = op === 'Gemm' ? attrInt(node, 'transA', 0) : 0;
        if (transA) unsupported(node, index, 'a transposed input (transA)');
        const transB = op === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
        const alpha = op === 'Gemm' ? attrFloat(node, 'alpha', 1) : 1;
        const beta = op === 'Gemm' ? attrFloat(node, 'beta', 1) : 1;
        const [rows, cols] = b.dims;
        const inF = transB ? cols : rows;
        const outF = transB ? rows : cols;
        const features = v.t.shape[1] as number;
        if (features !== inF) {
          throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (${op}): the weight takes ${inF} features, the tensor has ${features}`);
        }
        // Kernel [in, out]; input row r of ONNX order (c, h, w) is TF row (h, w, c) when the input is hwc-flat.
        const kernel = new Float32Array(inF * outF);
        const rowOf = (r: number): number => {
          if (!v.hwcFlat) return r;
          const [h, w, c] = v.hwcFlat;
          const ci = Math.floor(r / (h * w));
          const rest = r % (h * w);
          return rest * c + ci;
        };
        for (let r = 0; r < inF; r++) {
          const dst = rowOf(r) * outF;
          for (let o = 0; o < outF; o++) kernel[dst + o] = alpha * (transB ? b.data[o * cols + r] : b.data[r * cols + o]);
        }
        let biasData: Float32Array | undefined;
        if (op === 'Gemm' && node.input[2]) {
          const c = constOf(node.input[2], node, index, 'bias');
          if (c.data.length !== outF && c.data.length !== 1) {
            throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (Gemm): ${c.data.length} biases for ${outF} outputs`);
          }
          biasData = new Float32Array(outF);
          for (let o = 0; o < outF; o++) biasData[o] = beta * c.data[c.data.length === 1 ? 0 : o];
        }
        nameFor();
        const layer = tfl.layers.dense({ units: outF, useBias: !!biasData, kernelInitializer: given(kernel), biasInitializer: given(biasData), name: currentName });
        const t = apply(layer, v.t);
        forgetGiven(layer);
        defineLayer(t);
        return;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div': {
        const a = lookup(node.input[0], node, index);
        const b = lookup(node.input[1], node, index);
        if (a.kind === 'tensor' && b.kind === 'tensor') {
          if (op === 'Sub' || op === 'Div') unsupported(node, index, `${op} of two feature maps`);
          const ta = materialize(a, node, index);
          const tb = materialize(b, node, index);
          if (JSON.stringify(ta.shape) !== JSON.stringify(tb.shape)) unsupported(node, index, `broadcasting [${ta.shape.join(', ')}] against [${tb.shape.join(', ')}]`);
          nameFor();
          defineLayer(apply(op === 'Add' ? tfl.layers.add({ name: currentName }) : tfl.layers.multiply({ name: currentName }), [ta, tb]));
          return;
        }
        if (a.kind === 'const' && b.kind === 'const') return unsupported(node, index, 'arithmetic on constants only');
        const tensorFirst = a.kind === 'tensor';
        const tv = (tensorFirst ? a : b) as Value & { kind: 'tensor' };
        const c = (tensorFirst ? b : a) as Value & { kind: 'const' };
        const t = materialize(tv, node, index);
        const ch = t.shape.at(-1) as number;
        const k = channelConstant(opset < 7 ? legacyBroadcast(c, t.shape.length, node) : c, t.shape.length, ch, node, index);
        const scale = new Float32Array(ch).fill(1);
        const offset = new Float32Array(ch);
        for (let i = 0; i < ch; i++) {
          if (op === 'Add') offset[i] = k[i];
          else if (op === 'Mul') scale[i] = k[i];
          else if (op === 'Sub') {
            if (tensorFirst) offset[i] = -k[i];
            else {
              scale[i] = -1;
              offset[i] = k[i];
            }
          } else {
            if (!tensorFirst) unsupported(node, index, 'dividing a constant by a feature map');
            scale[i] = 1 / k[i];
          }
        }
        nameFor();
        const layer = new ChannelAffine({ channels: ch, name: currentName });
        const y = apply(layer, t);
        setWeights(layer, [{ data: scale, shape: [ch] }, { data: offset, shape: [ch] }]);
        defineLayer(y);
        return;
      }
      case 'Sum':
      case 'Max':
      case 'Min':
      case 'Mean': {
        const parts = node.input.filter(Boolean).map((n) => tensorOf(n, node, index));
        nameFor();
        if (parts.length === 1) {
          define({ kind: 'tensor', t: parts[0] });
          return;
        }
        const args = { name: currentName };
        const layer = op === 'Sum' ? tfl.layers.add(args) : op === 'Max' ? tfl.layers.maximum(args) : op === 'Min' ? tfl.layers.minimum(args) : tfl.layers.average(args);
        defineLayer(apply(layer, parts));
        return;
      }
      case 'Elu': {
        const v = lookup(node.input[0], node, index);
        if (v.kind !== 'tensor') return unsupported(node, index, 'an activation of a constant');
        if (attrFloat(node, 'alpha', 1) !== 1) unsupported(node, index, 'ELU with alpha other than 1');
        nameFor();
        defineLayer(apply(tfl.layers.activation({ activation: 'elu', name: currentName }), v.t));
        return;
      }
      case 'Concat': {
        const parts = node.input.filter(Boolean).map((n) => tensorOf(n, node, index));
        const rank = parts[0].shape.length;
        const axis = attrInt(node, 'axis', 1);
        if (!(axis === 1 || axis === 1 - rank)) unsupported(node, index, `concatenation along axis ${axis} (only channels)`);
        nameFor();
        defineLayer(apply(tfl.layers.concatenate({ axis: -1, name: currentName }), parts));
        return;
      }
      case 'Flatten':
      case 'Reshape':
      case 'Squeeze': {
        const v = lookup(node.input[0], node, index);
        if (v.kind !== 'tensor') return unsupported(node, index, 'reshaping a constant');
        const s = shapeOf(v.t);
        if (op === 'Flatten' && attrInt(node, 'axis', 1) !== 1) unsupported(node, index, 'flattening from an axis other than 1');
        if (op === 'Reshape') {
          const target = Array.from(constOf(node.input[1], node, index, 'target shape').data);
          const onnx = v.channelsLast ? shapeOf(v.t) : onnxShape(v.t).slice(1);
          const shuffle = !v.channelsLast ? channelShuffle(node, onnx, target) : undefined;
          if (shuffle) {
            nameFor();
            values.set(shuffle.last.output[0], { kind: 'tensor', t: apply(new ChannelShuffle({ groups: shuffle.groups, name: currentName }), v.t) });
            return;
          }
          const total = elementCount(onnx);
          const flat = target.length === 2 && (target[1] === -1 || target[1] === total) && [-1, 0, 1].includes(target[0]);
          const same = target.length === onnx.length + 1 && target.slice(1).every((d, i) => d === onnx[i] || d === 0);
          if (same) {
            define(v);
            return;
          }
          if (!flat) unsupported(node, index, `reshaping [${onnx.join(', ')}] to [${target.join(', ')}] (only flattening)`);
        }
        if (op === 'Squeeze') {
          const axes = opset >= 13 ? (node.input[1] ? Array.from(constOf(node.input[1], node, index, 'axes').data) : undefined) : attrInts(node, 'axes');
          const ok = s.length === 3 && s[0] === 1 && s[1] === 1 && (!axes || JSON.stringify([...axes].sort()) === '[2,3]' || JSON.stringify([...axes].sort()) === '[-2,-1]');
          if (!ok) unsupported(node, index, 'squeezing axes other than a 1×1 map');
        }
        if (s.length === 1) {
          define(v);
          return;
        }
        nameFor();
        const t = apply(tfl.layers.flatten({ name: currentName }), v.t);
        const order = s.length === 3 && s[0] * s[1] > 1 && !v.channelsLast ? ([s[0], s[1], s[2]] as [number, number, number]) : undefined;
        // Dense consumers take the TF order (their weights are permuted); anything else — a graph output too —
        // gets it reordered here.
        const next = consumers.get(out) ?? [];
        const feedsDenseOnly = next.length > 0 && next.every((n) => n.opType === 'Gemm' || n.opType === 'MatMul') && !graph.output.some((o) => o.name === out);
        if (order && !feedsDenseOnly) {
          const reorderName = uniqueName(`${currentName}_reorder`, usedNames);
          defineLayer(apply(new FlatReorder({ from: order, name: reorderName }), t));
        } else defineLayer(t, { hwcFlat: order });
        return;
      }
      case 'Transpose': {
        const v = lookup(node.input[0], node, index);
        const perm = attrInts(node, 'perm');
        const identity = perm && perm.every((p, i) => p === i);
        if (v.kind === 'tensor' && v.t.shape.length === 4 && perm?.join(',') === '0,2,3,1' && !v.channelsLast) {
          define({ kind: 'tensor', t: v.t, channelsLast: true });
          return;
        }
        if (!identity) unsupported(node, index, `transposing with perm [${(perm ?? []).join(', ')}] (only layout-preserving transposes)`);
        define(v);
        return;
      }
      case 'Pad': {
        const x = tensorOf(node.input[0], node, index);
        const mode = attrString(node, 'mode', 'constant');
        if (mode !== 'constant') unsupported(node, index, `"${mode}" padding`);
        const pads = opset >= 11 ? Array.from(constOf(node.input[1], node, index, 'pads').data) : (attrInts(node, 'pads') ?? []);
        const value = opset >= 11 ? (node.input[2] ? constOf(node.input[2], node, index, 'value').data[0] : 0) : attrFloat(node, 'value', 0);
        if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) unsupported(node, index, 'padding other than the two spatial axes');
        if (pads.some((p) => p < 0)) unsupported(node, index, 'negative padding (cropping)');
        nameFor();
        const spatial: [Pair, Pair] = [[pads[2], pads[6]], [pads[3], pads[7]]];
        const layer = value === 0 ? tfl.layers.zeroPadding2d({ padding: spatial, name: currentName }) : new ConstantPadding2D({ padding: spatial, value, name: currentName });
        defineLayer(apply(layer, x));
        return;
      }
      case 'Gather': {
        const x = tensorOf(node.input[0], node, index);
        const idx = constOf(node.input[1], node, index, 'indices');
        const n = x.shape[1] as number;
        if (x.shape.length !== 2 || attrInt(node, 'axis', 0) !== 1 || idx.dims.length !== 1) unsupported(node, index, 'Gather other than picking features of a vector');
        const indices = Array.from(idx.data, (i) => (i < 0 ? i + n : i));
        if (indices.some((i) => i < 0 || i >= n || !Number.isInteger(i))) throw new InspectorError('ONNX_INVALID', `${where(node, index)} (Gather): indices outside 0…${n - 1}`);
        nameFor();
        defineLayer(apply(new FlatReorder({ indices, name: currentName }), x));
        return;
      }
      case 'Unsqueeze':
        return unsupported(node, index, `${op} on a feature map`);
      default:
        return unsupported(node, index, `the operator ${op}`);
    }
  });

  if (graph.output.length < 1) throw new InspectorError('ONNX_INVALID', 'The model declares no outputs');
  const outName = graph.output[0].name;
  const outValue = values.get(outName);
  if (!outValue || outValue.kind !== 'tensor') throw new InspectorError('ONNX_INVALID', `The model output "${outName}" is not computed from its input`);
  let output = outValue.t;
  if (output.shape.length === 4 && output.shape[1] === 1 && output.shape[2] === 1) {
    output = tfl.layers.flatten({ name: uniqueName('output_flatten', usedNames) }).apply(output) as tfl.SymbolicTensor;
  }
  if (graph.output.length > 1) notices.push(`The model has ${graph.output.length} outputs; CNN Inspector shows the first, "${outName}"`);
  const model = tfl.model({ inputs: input, outputs: output, name: graph.name ? graph.name.replace(/[^A-Za-z0-9_.-]/g, '_') : 'onnx_model' });
  return { model, notices };
}

/** The ONNX (NCHW) shape of a symbolic tensor, with the batch dimension as 1. */
function onnxShape(t: tfl.SymbolicTensor): number[] {
  const s = (t.shape as Array<number | null>).map((d) => d ?? 1);
  if (s.length === 4) return [1, s[3], s[1], s[2]];
  return [1, ...s.slice(1)];
}
