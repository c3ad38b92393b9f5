/** ONNX operators — Activations: ReLU, sigmoid, tanh, leaky ReLU, clipping (ReLU6), ELU, softmax over channels. */
import * as tfl from '@tensorflow/tfjs-layers';
import { attrFloat, attrInt } from '../attributes';
import type { NodeContext, OpTable } from '../graph-context';

/** Relu, Sigmoid, Tanh. */
function convertRelu(n: NodeContext): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const { lookup, unsupported, apply } = cx;
  const v = lookup(node.input[0], node, index);
  if (v.kind !== 'tensor') return unsupported(node, index, 'an activation of a constant');
  const currentName = nameFor();
  const t = apply(tfl.layers.activation({ activation: op.toLowerCase() as 'relu', name: currentName }), v.t);
  defineLayer(t);
}

/** LeakyRelu. */
function convertLeakyRelu(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { lookup, unsupported, apply } = cx;
  const v = lookup(node.input[0], node, index);
  if (v.kind !== 'tensor') return unsupported(node, index, 'an activation of a constant');
  const currentName = nameFor();
  defineLayer(apply(tfl.layers.leakyReLU({ alpha: attrFloat(node, 'alpha', 0.01), name: currentName }), v.t));
}

/** Clip. */
function convertClip(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { lookup, constOf, unsupported, apply, opset } = cx;
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
  const currentName = nameFor();
  const layer = Number.isFinite(hi) ? tfl.layers.reLU({ maxValue: hi, name: currentName }) : tfl.layers.activation({ activation: 'relu', name: currentName });
  defineLayer(apply(layer, v.t));
}

/** Softmax. */
function convertSoftmax(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { tensorOf, shapeOf, unsupported, apply, opset } = cx;
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
  const currentName = nameFor();
  defineLayer(apply(tfl.layers.softmax({ axis: -1, name: currentName }), x));
}

/** Elu. */
function convertElu(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { lookup, unsupported, apply } = cx;
  const v = lookup(node.input[0], node, index);
  if (v.kind !== 'tensor') return unsupported(node, index, 'an activation of a constant');
  if (attrFloat(node, 'alpha', 1) !== 1) unsupported(node, index, 'ELU with alpha other than 1');
  const currentName = nameFor();
  defineLayer(apply(tfl.layers.activation({ activation: 'elu', name: currentName }), v.t));
}

export const ACTIVATIONS_OPS: OpTable = {
  Relu: { since: 1, convert: convertRelu },
  Sigmoid: { since: 1, convert: convertRelu },
  Tanh: { since: 1, convert: convertRelu },
  LeakyRelu: { since: 1, convert: convertLeakyRelu },
  Clip: { since: 1, convert: convertClip },
  Softmax: { since: 1, convert: convertSoftmax },
  Elu: { since: 1, convert: convertElu },
};
