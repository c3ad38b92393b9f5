/**
 * What every operator converter shares while one ONNX graph becomes a TF.js Layers model: the values computed so
 * far (symbolic tensors or constants), the graph's initializers read lazily, who consumes what, the names in use,
 * and the helpers that read constants, refuse what cannot run and place layers.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../shared/errors';
import { attrInt, attrInts, attrString, where } from './attributes';
import type { OnnxGraph, OnnxNode } from './proto';
import { elementCount, tensorToFloat32 } from './tensor-data';

export type Pair = [number, number];

export interface ConstValue {
  dims: number[];
  data: Float32Array;
}

/** A value flowing through the graph: a symbolic tensor of the model being built, or a constant. */
export type Value =
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
  | ({ kind: 'const' } & ConstValue);

export type TensorValue = Value & { kind: 'tensor' };

/** Most values a ConstantOfShape may make (a VGG fc6 weight has 103 M): beyond that a file only claims memory. */
export const MAX_CONSTANT_VALUES = 2 ** 28;

/** Whether a pooling window gives one output per axis and covers the whole (unpadded) input. */
export function coversWholeMap(inShape: number[], k: number[], strides: number[], pads: Array<[number, number]>): boolean {
  return [0, 1].every((a) => Math.floor((inShape[a] + pads[a][0] + pads[a][1] - k[a]) / strides[a]) + 1 === 1 && k[a] - pads[a][0] >= inShape[a]);
}

/** A constant's values per channel when it is per channel or scalar for a rank-`rank` tensor; else undefined. */
export function perChannel(c: ConstValue, rank: number, channels: number): Float32Array | undefined {
  const n = c.data.length;
  if (n === 1) return new Float32Array(channels).fill(c.data[0]);
  if (n !== channels) return undefined;
  // Shapes that broadcast to the channel axis only: [C] for rank 2, [C,1,1] / [1,C,1,1] for images.
  const nonOne = c.dims.map((d, i) => ({ d, i })).filter((x) => x.d !== 1);
  if (nonOne.length === 0) return c.data; // one channel
  const axisFromEnd = c.dims.length - nonOne[0].i;
  return nonOne.length === 1 && (rank === 2 ? axisFromEnd === 1 : axisFromEnd === 3) ? c.data : undefined;
}

/**
 * A constant that broadcasts onto a tensor of ONNX shape `onnx` ([1, C, H, W] or [1, F]), in the engine's layout:
 * its broadcast shape without the batch ([H|1, W|1, C|1] for maps) and its values in that order; else undefined.
 */
export function mapConstant(c: ConstValue, onnx: number[]): { shape: number[]; data: Float32Array } | undefined {
  const rank = onnx.length;
  if (c.dims.length > rank || (rank !== 2 && rank !== 4)) return undefined;
  const dims = [...Array(rank - c.dims.length).fill(1), ...c.dims];
  if (dims[0] !== 1 || dims.some((d, i) => d !== 1 && d !== onnx[i])) return undefined;
  if (rank === 2) return { shape: [dims[1]], data: c.data };
  const [, ch, h, w] = dims;
  const data = new Float32Array(c.data.length);
  for (let k = 0; k < ch; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(y * w + x) * ch + k] = c.data[(k * h + y) * w + x];
  return { shape: [h, w, ch], data };
}

/** TF's SAME padding (extra cell at the end) for one axis. */
function samePads(inSize: number, kEff: number, stride: number): Pair {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + kEff - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** The ONNX (NCHW) shape of a symbolic tensor, with the batch dimension as 1. */
export function onnxShape(t: tfl.SymbolicTensor): number[] {
  const s = (t.shape as Array<number | null>).map((d) => d ?? 1);
  if (s.length === 4) return [1, s[3], s[1], s[2]];
  return [1, ...s.slice(1)];
}

export const validName = (raw: string): string => raw.replace(/[^A-Za-z0-9_.\-/]/g, '_').replace(/^[^A-Za-z0-9]+/, '');

export function uniqueName(base: string, used: Set<string>): string {
  const clean = validName(base) || 'layer';
  let name = clean;
  for (let k = 1; used.has(name); k++) name = `${clean}_${k}`;
  used.add(name);
  return name;
}

export function makeGraphContext(graph: OnnxGraph, opset: number, baseDir: string, usedNames: Set<string>) {
  const values = new Map<string, Value>();
  const notices: string[] = [];
  // Consumers of every tensor, to know whether a Flatten feeds only dense layers.
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.node) for (const name of node.input) if (name) consumers.set(name, [...(consumers.get(name) ?? []), node]);
  // Constants are read lazily: a model's initializers are read once, when the node that uses them converts.
  const initializers = new Map(graph.initializer.map((t) => [t.name, t]));
  // Nodes already converted as part of a pattern (a channel shuffle's Transpose and second Reshape).
  const folded = new Set<OnnxNode>();

  const unsupported = (node: OnnxNode, index: number, what: string): never => {
    throw new InspectorError('MODEL_UNSUPPORTED_OP', `${where(node, index)} (${node.opType}): ${what} is not supported`);
  };
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
  const constOf = (name: string, node: OnnxNode, index: number, what: string): ConstValue => {
    const v = lookup(name, node, index);
    if (v.kind !== 'const') {
      throw new InspectorError('MODEL_UNSUPPORTED_OP', `${where(node, index)} (${node.opType}): its ${what} must be a constant for CNN Inspector to run it`);
    }
    return v;
  };
  /** The symbolic tensor of a value, refusing a channels-last transposed map anywhere but before a Flatten. */
  const materialize = (v: TensorValue, node: OnnxNode, index: number): tfl.SymbolicTensor => {
    if (v.channelsLast && node.opType !== 'Flatten' && node.opType !== 'Reshape') {
      unsupported(node, index, 'a channels-last transposed map feeding anything but a Flatten');
    }
    return v.t;
  };
  const tensorOf = (name: string, node: OnnxNode, index: number): tfl.SymbolicTensor => {
    const v = lookup(name, node, index);
    if (v.kind !== 'tensor') throw new InspectorError('MODEL_UNSUPPORTED_OP', `${where(node, index)} (${node.opType}) applied to a constant`);
    return materialize(v, node, index);
  };
  const shapeOf = (t: tfl.SymbolicTensor): number[] => (t.shape as Array<number | null>).slice(1).map((d) => d ?? -1);
  const apply = (layer: tfl.layers.Layer, input: tfl.SymbolicTensor | tfl.SymbolicTensor[]): tfl.SymbolicTensor => layer.apply(input) as tfl.SymbolicTensor;
  const setWeights = (layer: tfl.layers.Layer, arrays: Array<{ data: Float32Array; shape: number[] }>): void => {
    const tensors = arrays.map((a) => tf.tensor(a.data, a.shape, 'float32'));
    try {
      layer.setWeights(tensors);
    } finally {
      tensors.forEach((t) => t.dispose());
    }
  };

  /** Explicit pads [[top, bottom], [left, right]] for a windowed op, from pads / auto_pad. */
  const windowPads = (node: OnnxNode, index: number, inHw: Pair, kEff: Pair, strides: Pair): [Pair, Pair] => {
    const autoPad = attrString(node, 'auto_pad', 'NOTSET');
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const ph = samePads(inHw[0], kEff[0], strides[0]);
      const pw = samePads(inHw[1], kEff[1], strides[1]);
      return autoPad === 'SAME_UPPER'
        ? [ph, pw]
        : [
            [ph[1], ph[0]],
            [pw[1], pw[0]],
          ];
    }
    if (autoPad === 'VALID')
      return [
        [0, 0],
        [0, 0],
      ];
    const pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
    if (pads.length !== 4) unsupported(node, index, `padding over ${pads.length / 2} axes`);
    if (pads.some((p) => p < 0)) unsupported(node, index, 'negative padding');
    return [
      [pads[0], pads[2]],
      [pads[1], pads[3]],
    ];
  };
  const isTfSame = (pads: [Pair, Pair], inHw: Pair, kEff: Pair, strides: Pair): boolean => {
    const h = samePads(inHw[0], kEff[0], strides[0]);
    const w = samePads(inHw[1], kEff[1], strides[1]);
    return pads[0][0] === h[0] && pads[0][1] === h[1] && pads[1][0] === w[0] && pads[1][1] === w[1];
  };
  const isZero = (pads: [Pair, Pair]) => pads.every((p) => p[0] === 0 && p[1] === 0);

  /** A per-channel (or scalar) constant for an elementwise op on a tensor with `channels` channels. */
  const channelConstant = (c: ConstValue, rank: number, channels: number, node: OnnxNode, index: number): Float32Array =>
    perChannel(c, rank, channels) ?? unsupported(node, index, `an elementwise constant of shape [${c.dims.join(', ')}] that is not per channel`);
  /**
   * Before opset 7 a constant operand lined up with the tensor from the `axis` attribute (broadcast=1), not from
   * the right as NumPy does: a [C] bias with axis=1 is per channel. Its shape is rewritten to the full rank.
   */
  const legacyBroadcast = (c: ConstValue, rank: number, node: OnnxNode): ConstValue => {
    if (attrInt(node, 'broadcast', 0) !== 1 || c.dims.length >= rank) return c;
    const axis = attrInt(node, 'axis', rank - c.dims.length);
    return { ...c, dims: [...Array(axis).fill(1), ...c.dims, ...Array(Math.max(0, rank - axis - c.dims.length)).fill(1)] };
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

  return {
    graph,
    opset,
    baseDir,
    values,
    notices,
    consumers,
    initializers,
    folded,
    unsupported,
    lookup,
    constOf,
    materialize,
    tensorOf,
    shapeOf,
    apply,
    setWeights,
    windowPads,
    isTfSame,
    isZero,
    channelConstant,
    legacyBroadcast,
    unsqueezeDims,
    squeezeDims,
    resolveReshape,
    uniqueName: (base: string) => uniqueName(base, usedNames),
  };
}

export type GraphContext = ReturnType<typeof makeGraphContext>;

/** One node being converted: what it is, and how its result is recorded. */
export interface NodeContext {
  cx: GraphContext;
  node: OnnxNode;
  index: number;
  op: string;
  /** The node's (first) output name. */
  out: string;
  define(v: Value): void;
  defineLayer(t: tfl.SymbolicTensor, extra?: Partial<TensorValue>): void;
  /** The layer name this node's layer takes (its module path where the exporter wrote one). */
  nameFor(): string;
}

/**
 * Operator name → the first opset whose semantics the converter follows and the converter. The supported list
 * is this table's keys; a converter refuses the variants it cannot run with MODEL_UNSUPPORTED_OP.
 */
export type OpTable = Record<string, { since: number; convert: (n: NodeContext) => void }>;
