/**
 * ONNX operators — Constants and the exporters' shape plumbing: Constant, Identity, Dropout (inference), Cast,
 * Shape, ConstantOfShape; and constant folding — a node whose inputs are all constants (Reshape, Gather, Slice,
 * Transpose, Unsqueeze, Squeeze, Concat of any rank along any axis, Cast, arithmetic) is computed at load time, with the batch dimension taken as 1, so
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
  if (op === 'Dropout' && cx.opset < 7 && attrInt(node, 'is_test', 0) === 0)
    cx.unsupported(node, index, 'dropout in training mode (is_test=0; export the model with model.eval())');
  if (op === 'Dropout' && node.input[2]) {
    const training = cx.lookup(node.input[2], node, index);
    if (training.kind !== 'const' || training.data.some((v) => v !== 0))
      cx.unsupported(node, index, 'dropout in training mode (export the model with model.eval())');
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
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || count > MAX_CONSTANT_VALUES)
    cx.unsupported(node, index, `a constant of shape [${shape.join(', ')}]`);
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
  const f =
    op === 'Add'
      ? (x: number, y: number) => x + y
      : op === 'Sub'
        ? (x: number, y: number) => x - y
        : op === 'Mul'
          ? (x: number, y: number) => x * y
          : (x: number, y: number) => x / y;
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

/** Row-major strides of `dims`. */
function stridesOf(dims: number[]): number[] {
  const out = new Array<number>(dims.length);
  for (let i = dims.length - 1, s = 1; i >= 0; i--) {
    out[i] = s;
    s *= dims[i];
  }
  return out;
}

/** The entries of `x` at every combination of `picks[axis]` (input coordinates along each axis, in output order). */
function pickAlongAxes(x: ConstValue, picks: number[][]): ConstValue {
  const dims = picks.map((p) => p.length);
  const strides = stridesOf(x.dims);
  const data = new Float32Array(elementCount(dims));
  const coord = new Array<number>(dims.length).fill(0);
  for (let i = 0; i < data.length; i++) {
    let at = 0;
    for (let a = 0; a < dims.length; a++) at += picks[a][coord[a]] * strides[a];
    data[i] = x.data[at];
    for (let a = dims.length - 1; a >= 0 && ++coord[a] === dims[a]; a--) coord[a] = 0;
  }
  return { dims, data };
}

const allOf = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Slice of a constant along any axes (starts / ends / axes / steps as inputs from opset 10, attributes before). */
function foldSlice(n: NodeContext, parts: ConstValue[]): ConstValue {
  const { node, index, cx } = n;
  const x = parts[0];
  const rank = x.dims.length;
  const list = (k: number, name: string) =>
    cx.opset >= 10 ? (parts[k] && parts[k].dims[0] !== 0 ? Array.from(parts[k].data) : undefined) : attrInts(node, name);
  const starts = list(1, 'starts') ?? [];
  const ends = list(2, 'ends') ?? [];
  const axes = (list(3, 'axes') ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a));
  const steps = (cx.opset >= 10 ? list(4, 'steps') : undefined) ?? starts.map(() => 1);
  if (axes.some((a) => a < 0 || a >= rank) || steps.some((st) => st === 0))
    cx.unsupported(node, index, `slicing a constant of shape [${x.dims.join(', ')}] along axes [${axes.join(', ')}]`);
  const picks = x.dims.map(allOf);
  axes.forEach((axis, i) => {
    const len = x.dims[axis];
    const step = steps[i] ?? 1;
    // ONNX's clamping: ends past either side (INT64_MAX, −INT64_MAX) stop at the edge the step runs to.
    const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v < 0 ? v + len : v));
    const picked: number[] = [];
    if (step > 0) for (let j = clamp(starts[i], 0, len); j < clamp(ends[i], 0, len); j += step) picked.push(j);
    else for (let j = clamp(starts[i], -1, len - 1); j > clamp(ends[i], -1, len - 1); j += step) picked.push(j);
    picks[axis] = picked;
  });
  return pickAlongAxes(x, picks);
}

/** Gather of a constant along any axis (the indices' shape takes the axis's place). */
function foldGather(n: NodeContext, c: ConstValue, idx: ConstValue): ConstValue {
  const rank = c.dims.length;
  const given = attrInt(n.node, 'axis', 0);
  const axis = given < 0 ? given + rank : given;
  const len = c.dims[axis];
  const at = Array.from(idx.data, (i) => (i < 0 ? i + len : i));
  if (axis < 0 || axis >= rank || at.some((i) => !Number.isInteger(i) || i < 0 || i >= len))
    throw new InspectorError('ONNX_INVALID', `${where(n.node, n.index)} (Gather): indices outside the constant's ${len} entries along axis ${given}`);
  const picked = pickAlongAxes(
    c,
    c.dims.map((d, a) => (a === axis ? at : allOf(d))),
  );
  return { dims: [...c.dims.slice(0, axis), ...idx.dims, ...c.dims.slice(axis + 1)], data: picked.data };
}

/** Concat of constants along any axis. */
function foldConcat(n: NodeContext, parts: ConstValue[]): ConstValue {
  const { node, index, cx } = n;
  const rank = parts[0].dims.length;
  const given = attrInt(node, 'axis', 0);
  const axis = given < 0 ? given + rank : given;
  const same = parts.every((p) => p.dims.length === rank && p.dims.every((d, a) => a === axis || d === parts[0].dims[a]));
  if (!same || axis < 0 || axis >= Math.max(rank, 1))
    cx.unsupported(node, index, `concatenating constants of shapes ${parts.map((p) => `[${p.dims.join(', ')}]`).join(', ')} along axis ${given}`);
  const outer = elementCount(parts[0].dims.slice(0, axis));
  const blocks = parts.map((p) => elementCount(p.dims.slice(axis)));
  const data = new Float32Array(outer * blocks.reduce((a, b) => a + b, 0));
  let at = 0;
  for (let o = 0; o < outer; o++)
    parts.forEach((p, k) => {
      data.set(p.data.subarray(o * blocks[k], (o + 1) * blocks[k]), at);
      at += blocks[k];
    });
  const dims = [...parts[0].dims];
  dims[axis] = parts.reduce((sum, p) => sum + p.dims[axis], 0);
  return { dims, data };
}

/** Transpose of a constant (perm, or the axes reversed). */
function foldTranspose(n: NodeContext, c: ConstValue): ConstValue {
  const rank = c.dims.length;
  const perm = attrInts(n.node, 'perm') ?? allOf(rank).reverse();
  if (perm.length !== rank || new Set(perm).size !== rank)
    throw new InspectorError('ONNX_INVALID', `${where(n.node, n.index)} (Transpose): perm [${perm.join(', ')}] for a rank-${rank} constant`);
  const dims = perm.map((p) => c.dims[p]);
  const inStrides = stridesOf(c.dims);
  const data = new Float32Array(c.data.length);
  const coord = new Array<number>(rank).fill(0);
  for (let i = 0; i < data.length; i++) {
    let at = 0;
    for (let a = 0; a < rank; a++) at += coord[a] * inStrides[perm[a]];
    data[i] = c.data[at];
    for (let a = rank - 1; a >= 0 && ++coord[a] === dims[a]; a--) coord[a] = 0;
  }
  return { dims, data };
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
      define({ kind: 'const', ...foldGather(n, c, idx) });
      return true;
    }
    case 'Transpose': {
      define({ kind: 'const', ...foldTranspose(n, parts()[0]) });
      return true;
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const p = parts();
      // The axes come from an attribute before opset 13 and from the second input since.
      const axes = cx.opset >= 13 ? (node.input[1] ? Array.from(p[1].data) : undefined) : attrInts(node, 'axes');
      define({
        kind: 'const',
        dims: op === 'Unsqueeze' ? cx.unsqueezeDims(p[0].dims, axes ?? [], node, index) : cx.squeezeDims(p[0].dims, axes),
        data: p[0].data,
      });
      return true;
    }
    case 'Concat': {
      // Empty inputs (a shape of nothing) add nothing.
      define({
        kind: 'const',
        ...foldConcat(
          n,
          parts().filter((c) => c.data.length > 0),
        ),
      });
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
      if (!dims)
        throw new InspectorError(
          'ONNX_INVALID',
          `${where(node, index)} (${op}): constants of shapes [${a.dims.join(', ')}] and [${b.dims.join(', ')}] do not broadcast`,
        );
      define({ kind: 'const', dims, data: foldArithmetic(op, a, b, dims) });
      return true;
    }
    default:
      return false;
  }
}
