/**
 * ONNX operators — Constants and the exporters' shape plumbing: Constant, Identity, Dropout (inference), Cast,
 * Shape, ConstantOfShape; and constant folding — a node whose inputs are all constants (Reshape, Gather, Slice,
 * Unsqueeze, Squeeze, Concat, Cast, arithmetic) is computed at load time, with the batch dimension taken as 1, so
 * `x.view(x.size(0), -1)` written as Shape → Gather → Unsqueeze → Concat → Reshape disappears before conversion.
 */
import { InspectorError } from '../../../../../shared/errors';
import { attr, attrInt, attrInts, where } from '../attributes';
import { MAX_CONSTANT_VALUES, onnxShape, type ConstValue, type NodeContext, type OpTable } from '../graph-context';
import { elementCount, tensorToFloat32 } from '../tensor-data';

/** Constant. */
function convertConstant(n: NodeContext): void {
  const { node, index, define, cx } = n;
  const a = node.attribute[0];
  if (!a) throw new InspectorError('ONNX_INVALID', `${where(node, index)} (Constant) has no value`);
  if (a.name === 'value' && a.t) define({ kind: 'const', dims: a.t.dims.map(Number), data: tensorToFloat32(a.t, cx.baseDir) });
  else if (a.name === 'value_float') define({ kind: 'const', dims: [], data: Float32Array.of(a.f ?? 0) });
  else if (a.name === 'value_floats') define({ kind: 'const', dims: [a.floats.length], data: Float32Array.from(a.floats) });
  else if (a.name === 'value_int') define({ kind: 'const', dims: [], data: Float32Array.of(Number(a.i ?? 0)) });
  else if (a.name === 'value_ints') define({ kind: 'const', dims: [a.ints.length], data: Float32Array.from(a.ints.map(Number)) });
  else cx.unsupported(node, index, `a constant given as "${a.name}"`);
}

/** Identity, Dropout (inference only), Cast: the value passes through. */
function convertPassThrough(n: NodeContext): void {
  const { node, index, op, define, cx } = n;
  // Before opset 7 Dropout runs in training mode unless is_test says otherwise; from opset 12 a third input
  // (training_mode) can ask for it. Dropping units at random is refused, not ignored.
  if (op === 'Dropout' && cx.opset < 7 && attrInt(node, 'is_test', 0) === 0) cx.unsupported(node, index, 'dropout in training mode (is_test=0; export the model with model.eval())');
  if (op === 'Dropout' && node.input[2]) {
    const training = cx.lookup(node.input[2], node, index);
    if (training.kind !== 'const' || training.data.some((v) => v !== 0)) cx.unsupported(node, index, 'dropout in training mode (export the model with model.eval())');
  }
  define(cx.lookup(node.input[0], node, index));
}

/** Shape (with opset 15's start / end; negative ones count from the end). */
function convertShape(n: NodeContext): void {
  const { node, index, define, cx } = n;
  const v = cx.lookup(node.input[0], node, index);
  const full = v.kind === 'const' ? v.dims : onnxShape(v.t);
  const at = (i: number) => Math.min(full.length, Math.max(0, i < 0 ? i + full.length : i));
  const shape = full.slice(at(attrInt(node, 'start', 0)), at(attrInt(node, 'end', full.length)));
  define({ kind: 'const', dims: [shape.length], data: Float32Array.from(shape) });
}

/** ConstantOfShape. */
function convertConstantOfShape(n: NodeContext): void {
  const { node, index, define, cx } = n;
  const shape = Array.from(cx.constOf(node.input[0], node, index, 'shape').data);
  const a = attr(node, 'value');
  const fill = a?.t ? (tensorToFloat32(a.t, cx.baseDir)[0] ?? 0) : 0;
  const count = elementCount(shape);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || count > MAX_CONSTANT_VALUES) cx.unsupported(node, index, `a constant of shape [${shape.join(', ')}]`);
  define({ kind: 'const', dims: shape, data: new Float32Array(count).fill(fill) });
}

export const CONSTANT_OPS: OpTable = {
  Constant: { since: 1, convert: convertConstant },
  Identity: { since: 1, convert: convertPassThrough },
  Dropout: { since: 1, convert: convertPassThrough },
  Cast: { since: 1, convert: convertPassThrough },
  Shape: { since: 1, convert: convertShape },
  ConstantOfShape: { since: 9, convert: convertConstantOfShape },
  // Folded when its inputs are constants (shape plumbing); a feature map is not sliced.
  Slice: { since: 1, convert: (n) => n.cx.unsupported(n.node, n.index, 'slicing a feature map') },
};

/** NumPy broadcasting of two constants' dims (undefined when they do not broadcast). */
function broadcastDims(a: number[], b: number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(Math.max(x, y));
  }
  return out;
}

/** Elementwise arithmetic on two constants, broadcast as NumPy does. */
function foldArithmetic(op: string, a: ConstValue, b: ConstValue, dims: number[]): Float32Array {
  const out = new Float32Array(elementCount(dims));
  const stridesOf = (d: number[]) => {
    const padded = [...Array(dims.length - d.length).fill(1), ...d];
    const strides: number[] = [];
    let s = 1;
    for (let i = padded.length - 1; i >= 0; i--) {
      strides[i] = padded[i] === 1 ? 0 : s;
      s *= padded[i];
    }
    return strides;
  };
  const sa = stridesOf(a.dims);
  const sb = stridesOf(b.dims);
  const f = op === 'Add' ? (x: number, y: number) => x + y : op === 'Sub' ? (x: number, y: number) => x - y : op === 'Mul' ? (x: number, y: number) => x * y : (x: number, y: number) => x / y;
  for (let i = 0; i < out.length; i++) {
    let rest = i;
    let ia = 0;
    let ib = 0;
    for (let d = dims.length - 1; d >= 0; d--) {
      const coord = rest % dims[d];
      rest = Math.floor(rest / dims[d]);
      ia += coord * sa[d];
      ib += coord * sb[d];
    }
    out[i] = f(a.data[ia], b.data[ib]);
  }
  return out;
}

/** Slice of a constant (starts / ends / axes / steps as inputs from opset 10, attributes before). */
function foldSlice(n: NodeContext, parts: ConstValue[]): ConstValue {
  const { node, index, cx } = n;
  const x = parts[0];
  const rank = x.dims.length;
  const list = (k: number, name: string) => (cx.opset >= 10 ? (parts[k] ? Array.from(parts[k].data) : undefined) : attrInts(node, name));
  const starts = list(1, 'starts') ?? [];
  const ends = list(2, 'ends') ?? [];
  const axes = (list(3, 'axes') ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a));
  const steps = (cx.opset >= 10 ? list(4, 'steps') : undefined) ?? starts.map(() => 1);
  if (rank !== 1 || axes.some((a) => a !== 0) || steps.some((s) => s === 0)) cx.unsupported(node, index, `slicing a constant of shape [${x.dims.join(', ')}]`);
  const len = x.dims[0];
  const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v < 0 ? v + len : v));
  const step = steps[0] ?? 1;
  const picked: number[] = [];
  if (step > 0) for (let i = clamp(starts[0] ?? 0, 0, len); i < clamp(ends[0] ?? len, 0, len); i += step) picked.push(x.data[i]);
  else for (let i = clamp(starts[0] ?? len - 1, -1, len - 1); i > clamp(ends[0] ?? -len - 1, -1, len - 1); i += step) picked.push(x.data[i]);
  return { dims: [picked.length], data: Float32Array.from(picked) };
}

/** A node whose inputs are all constants, computed now. Returns false when the operator is not one folded here. */
export function foldConstantNode(n: NodeContext): boolean {
  const { node, index, op, define, cx } = n;
  const parts = (): ConstValue[] => node.input.map((name) => (name ? cx.constOf(name, node, index, 'input') : { dims: [0], data: new Float32Array(0) }));
  switch (op) {
    case 'Reshape': {
      // A weight or a per-channel scale written as [C] then reshaped to [1, C, 1, 1].
      const [c, target] = parts();
      define({ kind: 'const', dims: cx.resolveReshape(c.dims, Array.from(target.data), node, index), data: c.data });
      return true;
    }
    case 'Gather': {
      const [c, idx] = parts();
      if (c.dims.length !== 1) cx.unsupported(node, index, 'gathering from a constant of rank > 1');
      const picked = Array.from(idx.data, (i) => c.data[i < 0 ? i + c.data.length : i]);
      define({ kind: 'const', dims: idx.dims, data: Float32Array.from(picked) });
      return true;
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const p = parts();
      // The axes come from an attribute before opset 13 and from the second input since.
      const axes = cx.opset >= 13 ? (node.input[1] ? Array.from(p[1].data) : undefined) : attrInts(node, 'axes');
      define({ kind: 'const', dims: op === 'Unsqueeze' ? cx.unsqueezeDims(p[0].dims, axes ?? [], node, index) : cx.squeezeDims(p[0].dims, axes), data: p[0].data });
      return true;
    }
    case 'Concat': {
      const p = parts().filter((c) => c.data.length > 0 || c.dims.length > 0);
      if (p.some((c) => c.dims.length > 1)) cx.unsupported(node, index, 'concatenating constants of rank > 1');
      const data = Float32Array.from(p.flatMap((c) => Array.from(c.data)));
      define({ kind: 'const', dims: [data.length], data });
      return true;
    }
    case 'Slice': {
      define({ kind: 'const', ...foldSlice(n, parts()) });
      return true;
    }
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div': {
      const [a, b] = parts();
      const dims = broadcastDims(a.dims, b.dims);
      if (!dims) throw new InspectorError('ONNX_INVALID', `${where(node, index)} (${op}): constants of shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] do not broadcast`);
      define({ kind: 'const', dims, data: foldArithmetic(op, a, b, dims) });
      return true;
    }
    default:
      return false;
  }
}
