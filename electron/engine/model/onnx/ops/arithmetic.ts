/** ONNX operators — Arithmetic: two feature maps added or multiplied, a per-channel constant applied (ChannelAffine), a constant that varies over positions (MapAffine), n-ary sum / max / min / mean. */
import * as tfl from '@tensorflow/tfjs-layers';
import { ChannelAffine } from '../../layers/onnx-ops';
import { MapAffine } from '../../layers/onnx-tensor-ops';
import { mapConstant, onnxShape, perChannel, type ConstValue, type Value } from '../graph-context';
import type { NodeContext, OpTable } from '../graph-context';

/** Add, Sub, Mul, Div. */
function convertAdd(n: NodeContext): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const { lookup, unsupported, apply, setWeights, materialize, channelConstant, legacyBroadcast, opset } = cx;
  const a = lookup(node.input[0], node, index);
  const b = lookup(node.input[1], node, index);
  if (a.kind === 'tensor' && b.kind === 'tensor') {
    if (op === 'Sub' || op === 'Div') unsupported(node, index, `${op} of two feature maps`);
    const ta = materialize(a, node, index);
    const tb = materialize(b, node, index);
    if (JSON.stringify(ta.shape) !== JSON.stringify(tb.shape))
      unsupported(node, index, `broadcasting [${ta.shape.join(', ')}] against [${tb.shape.join(', ')}]`);
    const currentName = nameFor();
    defineLayer(apply(op === 'Add' ? tfl.layers.add({ name: currentName }) : tfl.layers.multiply({ name: currentName }), [ta, tb]));
    return;
  }
  if (a.kind === 'const' && b.kind === 'const') return unsupported(node, index, 'arithmetic on constants only');
  const tensorFirst = a.kind === 'tensor';
  const tv = (tensorFirst ? a : b) as Value & { kind: 'tensor' };
  const c = (tensorFirst ? b : a) as Value & { kind: 'const' };
  const t = materialize(tv, node, index);
  const ch = t.shape.at(-1) as number;
  const aligned = opset < 7 ? legacyBroadcast(c, t.shape.length, node) : c;
  if (!perChannel(aligned, t.shape.length, ch)) return convertMapAffine(n, t, aligned, tensorFirst);
  const k = channelConstant(aligned, t.shape.length, ch, node, index);
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
  const currentName = nameFor();
  const layer = new ChannelAffine({ channels: ch, name: currentName });
  const y = apply(layer, t);
  setWeights(layer, [
    { data: scale, shape: [ch] },
    { data: offset, shape: [ch] },
  ]);
  defineLayer(y);
}

/** Add, Sub, Mul, Div of a map and a constant that varies over positions too (MapAffine). */
function convertMapAffine(n: NodeContext, t: tfl.SymbolicTensor, c: ConstValue, tensorFirst: boolean): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const m = mapConstant(c, onnxShape(t));
  if (!m)
    return cx.unsupported(node, index, `an elementwise constant of shape [${c.dims.join(', ')}] that does not broadcast onto [${onnxShape(t).join(', ')}]`);
  if (op === 'Div' && !tensorFirst) return cx.unsupported(node, index, 'dividing a constant by a feature map');
  const values = Array.from(m.data);
  const parts =
    op === 'Add'
      ? { offset: values }
      : op === 'Mul'
        ? { scale: values }
        : op === 'Div'
          ? { scale: values.map((v) => 1 / v) }
          : tensorFirst
            ? { offset: values.map((v) => -v) }
            : { scale: values.map(() => -1), offset: values };
  defineLayer(cx.apply(new MapAffine({ shape: m.shape, ...parts, name: nameFor() }), t));
}

/** Sum, Max, Min, Mean. */
function convertSum(n: NodeContext): void {
  const { node, index, op, define, defineLayer, nameFor, cx } = n;
  const { tensorOf, apply } = cx;
  const parts = node.input.filter(Boolean).map((n) => tensorOf(n, node, index));
  const currentName = nameFor();
  if (parts.length === 1) {
    define({ kind: 'tensor', t: parts[0] });
    return;
  }
  const args = { name: currentName };
  const layer =
    op === 'Sum' ? tfl.layers.add(args) : op === 'Max' ? tfl.layers.maximum(args) : op === 'Min' ? tfl.layers.minimum(args) : tfl.layers.average(args);
  defineLayer(apply(layer, parts));
}

export const ARITHMETIC_OPS: OpTable = {
  Add: { since: 1, convert: convertAdd },
  Sub: { since: 1, convert: convertAdd },
  Mul: { since: 1, convert: convertAdd },
  Div: { since: 1, convert: convertAdd },
  Sum: { since: 1, convert: convertSum },
  Max: { since: 1, convert: convertSum },
  Min: { since: 1, convert: convertSum },
  Mean: { since: 1, convert: convertSum },
};
