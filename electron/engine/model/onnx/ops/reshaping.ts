/** ONNX operators — Reshaping: concatenation of channels, flatten (and the reshapes that mean it, the channel shuffle), layout transposes, padding (constant, reflect, edge), picking features or channels. */
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../../shared/errors';
import { ChannelShuffle, ConstantPadding2D, FlatReorder } from '../../layers/onnx-ops';
import { PickChannels } from '../../layers/onnx-tensor-ops';
import { EdgePadding2D } from '../../layers/onnx-windows';
import { attrFloat, attrInt, attrInts, attrString, where } from '../attributes';
import { onnxShape, type GraphContext, type NodeContext, type OpTable, type Pair } from '../graph-context';
import type { OnnxNode } from '../proto';
import { elementCount } from '../tensor-data';

/**
 * ShuffleNet's channel shuffle starting at the Reshape `node` of a [C, H, W] tensor to [N, g, C/g, H, W]: its only
 * consumer a Transpose [0, 2, 1, 3, 4], whose only consumer a Reshape back to [N, C, H, W]. Returns that last
 * Reshape and g (and marks the two as converted), or undefined when the nodes are anything else.
 */
function channelShuffle(cx: GraphContext, node: OnnxNode, onnx: number[], target: number[]): { last: OnnxNode; groups: number } | undefined {
  const [c, h, w] = onnx;
  if (onnx.length !== 3 || target.length !== 5 || target[1] * target[2] !== c || target[3] !== h || target[4] !== w) return undefined;
  const transpose = cx.consumers.get(node.output[0]) ?? [];
  if (transpose.length !== 1 || transpose[0].opType !== 'Transpose' || attrInts(transpose[0], 'perm')?.join(',') !== '0,2,1,3,4') return undefined;
  const back = cx.consumers.get(transpose[0].output[0]) ?? [];
  if (back.length !== 1 || back[0].opType !== 'Reshape' || cx.graph.output.some((o) => o.name === node.output[0] || o.name === transpose[0].output[0]))
    return undefined;
  const shape =
    cx.values.get(back[0].input[1]) ??
    (cx.initializers.has(back[0].input[1]) ? { kind: 'const' as const, ...cx.constOf(back[0].input[1], back[0], 0, 'target shape') } : undefined);
  if (!shape || shape.kind !== 'const') return undefined;
  const dims = Array.from(shape.data, (d, i) => (d === 0 ? ([1, target[1] * target[2], h, w][i] ?? d) : d));
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = dims.map((d) => (d === -1 ? (c * h * w) / known : d));
  if (resolved.length !== 4 || resolved[1] !== c || resolved[2] !== h || resolved[3] !== w) return undefined;
  cx.folded.add(transpose[0]).add(back[0]);
  return { last: back[0], groups: target[1] };
}

/** Concat. */
function convertConcat(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { tensorOf, unsupported, apply } = cx;
  const parts = node.input.filter(Boolean).map((n) => tensorOf(n, node, index));
  const rank = parts[0].shape.length;
  const axis = attrInt(node, 'axis', 1);
  if (!(axis === 1 || axis === 1 - rank)) unsupported(node, index, `concatenation along axis ${axis} (only channels)`);
  const currentName = nameFor();
  defineLayer(apply(tfl.layers.concatenate({ axis: -1, name: currentName }), parts));
}

/** Flatten, Reshape, Squeeze. */
function convertFlatten(n: NodeContext): void {
  const { node, index, op, out, define, defineLayer, nameFor, cx } = n;
  const { lookup, constOf, shapeOf, unsupported, apply, uniqueName, values, consumers, graph, opset } = cx;
  const v = lookup(node.input[0], node, index);
  if (v.kind !== 'tensor') return unsupported(node, index, 'reshaping a constant');
  const s = shapeOf(v.t);
  if (op === 'Flatten') {
    // Axis 1 keeps the batch apart; 0 or a later axis would fold images together.
    const axis = attrInt(node, 'axis', 1);
    if ((axis < 0 ? axis + s.length + 1 : axis) !== 1) unsupported(node, index, `flattening from axis ${axis} (only from axis 1, keeping each image apart)`);
  }
  if (op === 'Reshape') {
    const target = Array.from(constOf(node.input[1], node, index, 'target shape').data);
    const onnx = v.channelsLast ? shapeOf(v.t) : onnxShape(v.t).slice(1);
    const shuffle = !v.channelsLast ? channelShuffle(cx, node, onnx, target) : undefined;
    if (shuffle) {
      const currentName = nameFor();
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
    const ok =
      s.length === 3 && s[0] === 1 && s[1] === 1 && (!axes || JSON.stringify([...axes].sort()) === '[2,3]' || JSON.stringify([...axes].sort()) === '[-2,-1]');
    if (!ok) unsupported(node, index, 'squeezing axes other than a 1×1 map');
  }
  if (s.length === 1) {
    define(v);
    return;
  }
  const currentName = nameFor();
  const t = apply(tfl.layers.flatten({ name: currentName }), v.t);
  const order = s.length === 3 && s[0] * s[1] > 1 && !v.channelsLast ? ([s[0], s[1], s[2]] as [number, number, number]) : undefined;
  // Dense consumers take the TF order (their weights are permuted); anything else — a graph output too —
  // gets it reordered here.
  const next = consumers.get(out) ?? [];
  const feedsDenseOnly = next.length > 0 && next.every((n) => n.opType === 'Gemm' || n.opType === 'MatMul') && !graph.output.some((o) => o.name === out);
  if (order && !feedsDenseOnly) {
    const reorderName = uniqueName(`${currentName}_reorder`);
    defineLayer(apply(new FlatReorder({ from: order, name: reorderName }), t));
  } else defineLayer(t, { hwcFlat: order });
}

/** Transpose. */
function convertTranspose(n: NodeContext): void {
  const { node, index, define, cx } = n;
  const { lookup, unsupported } = cx;
  const v = lookup(node.input[0], node, index);
  const perm = attrInts(node, 'perm');
  const identity = perm && perm.every((p, i) => p === i);
  if (v.kind === 'tensor' && v.t.shape.length === 4 && perm?.join(',') === '0,2,3,1' && !v.channelsLast) {
    define({ kind: 'tensor', t: v.t, channelsLast: true });
    return;
  }
  if (!identity) unsupported(node, index, `transposing with perm [${(perm ?? []).join(', ')}] (only layout-preserving transposes)`);
  define(v);
}

/** The full-rank pads [begin…, end…] of a Pad node: from its attribute (before opset 11) or inputs, with opset 18's axes. */
function padsOf(n: NodeContext, rank: number): number[] {
  const { node, index, cx } = n;
  const given = cx.opset >= 11 ? Array.from(cx.constOf(node.input[1], node, index, 'pads').data) : (attrInts(node, 'pads') ?? []);
  if (!node.input[3]) return given;
  const axes = Array.from(cx.constOf(node.input[3], node, index, 'axes').data, (a) => (a < 0 ? a + rank : a));
  const full = new Array(2 * rank).fill(0);
  axes.forEach((a, i) => {
    full[a] = given[i];
    full[rank + a] = given[axes.length + i];
  });
  return full;
}

/** Pad: a constant, or the image itself (reflect, edge), around the two spatial axes. */
function convertPad(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { constOf, tensorOf, unsupported, apply, opset } = cx;
  const x = tensorOf(node.input[0], node, index);
  const mode = attrString(node, 'mode', 'constant');
  if (!['constant', 'reflect', 'edge'].includes(mode)) unsupported(node, index, `"${mode}" padding`);
  const pads = padsOf(n, 4);
  const value = opset >= 11 ? (node.input[2] ? constOf(node.input[2], node, index, 'value').data[0] : 0) : attrFloat(node, 'value', 0);
  if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) unsupported(node, index, 'padding other than the two spatial axes');
  if (pads.some((p) => p < 0)) unsupported(node, index, 'negative padding (cropping)');
  const currentName = nameFor();
  const spatial: [Pair, Pair] = [
    [pads[2], pads[6]],
    [pads[3], pads[7]],
  ];
  const [h, w] = cx.shapeOf(x);
  if (mode === 'reflect' && (Math.max(...spatial[0]) >= h || Math.max(...spatial[1]) >= w)) unsupported(node, index, 'reflect padding as wide as the map');
  const layer =
    mode !== 'constant'
      ? new EdgePadding2D({ padding: spatial, mode: mode as 'reflect' | 'edge', name: currentName })
      : value === 0
        ? tfl.layers.zeroPadding2d({ padding: spatial, name: currentName })
        : new ConstantPadding2D({ padding: spatial, value, name: currentName });
  defineLayer(apply(layer, x));
}

/** Gather with constant indices: features of a vector, or channels of a map. */
function convertGather(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { constOf, tensorOf, unsupported, apply } = cx;
  const x = tensorOf(node.input[0], node, index);
  const idx = constOf(node.input[1], node, index, 'indices');
  const rank = x.shape.length;
  const axis = attrInt(node, 'axis', 0);
  if ((rank !== 2 && rank !== 4) || (axis < 0 ? axis + rank : axis) !== 1 || idx.dims.length !== 1)
    unsupported(node, index, 'Gather other than picking features of a vector or channels of a map');
  const count = x.shape[rank - 1] as number;
  const indices = Array.from(idx.data, (i) => (i < 0 ? i + count : i));
  if (indices.some((i) => i < 0 || i >= count || !Number.isInteger(i)))
    throw new InspectorError('ONNX_INVALID', `${where(node, index)} (Gather): indices outside 0…${count - 1}`);
  const currentName = nameFor();
  defineLayer(apply(rank === 2 ? new FlatReorder({ indices, name: currentName }) : new PickChannels({ indices, name: currentName }), x));
}

export const RESHAPING_OPS: OpTable = {
  Concat: { since: 1, convert: convertConcat },
  Flatten: { since: 1, convert: convertFlatten },
  Reshape: { since: 1, convert: convertFlatten },
  Squeeze: { since: 1, convert: convertFlatten },
  Transpose: { since: 1, convert: convertTranspose },
  Pad: { since: 1, convert: convertPad },
  Gather: { since: 1, convert: convertGather },
  Unsqueeze: { since: 1, convert: (n) => n.cx.unsupported(n.node, n.index, 'Unsqueeze on a feature map') },
};
