/** ONNX operators — Activations: ReLU, sigmoid, tanh, leaky and parametric ReLU, clipping to any bounds (ReLU6), ELU, SELU, softmax and log-softmax along any axis. */
import * as tfl from '@tensorflow/tfjs-layers';
import { Clip, ScaledElu, SoftmaxAlong } from '../../layers/onnx-tensor-ops';
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
  const currentName = nameFor();
  // From 0: ReLU (ReLU6) — the deconvnet rectifies through it; any other bounds: a Clip layer.
  const layer =
    lo !== 0
      ? new Clip({ min: lo, max: hi, name: currentName })
      : Number.isFinite(hi)
        ? tfl.layers.reLU({ maxValue: hi, name: currentName })
        : tfl.layers.activation({ activation: 'relu', name: currentName });
  defineLayer(apply(layer, v.t));
}

/** The engine's (NHWC) axis for an ONNX axis of a rank-`rank` tensor (NCHW for images). */
function engineAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  if (a <= 0 || a >= rank) return undefined;
  return rank === 4 ? [0, 3, 1, 2][a] : a;
}

/**
 * Softmax, LogSoftmax along one axis. Before opset 13 the axis starts the flattened tail (the values of every
 * axis from it on are one distribution): that is one axis only when it is the last, or when the axes after it
 * have size 1.
 */
function convertSoftmax(n: NodeContext): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const { tensorOf, shapeOf, unsupported, apply, opset } = cx;
  const x = tensorOf(node.input[0], node, index);
  const rank = x.shape.length;
  const given = attrInt(node, 'axis', opset >= 13 ? -1 : 1);
  const onnxAxis = given < 0 ? given + rank : given;
  if (opset < 13 && rank === 4) {
    const nchw = [0, ...[3, 1, 2].map((a) => shapeOf(x)[a - 1])];
    if (nchw.slice(onnxAxis + 1).some((d) => d !== 1)) unsupported(node, index, `${op} over axes ${onnxAxis}… of a map together (opset < 13 flattening)`);
  }
  const axis = engineAxis(onnxAxis, rank);
  if (axis === undefined || rank < 2 || rank > 4 || rank === 3) unsupported(node, index, `${op} over axis ${given} of a rank-${rank} tensor`);
  const currentName = nameFor();
  const last = axis === rank - 1;
  // TF.js's own softmax on the last axis (what a classifier ends in); any other axis, or the log, by hand.
  const layer =
    op === 'Softmax' && last
      ? tfl.layers.softmax({ axis: -1, name: currentName })
      : new SoftmaxAlong({ axis: last ? -1 : axis!, log: op === 'LogSoftmax', name: currentName });
  defineLayer(apply(layer, x));
}

/** Elu, Selu (TF's fixed constants only). */
function convertElu(n: NodeContext): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const { lookup, unsupported, apply } = cx;
  const v = lookup(node.input[0], node, index);
  if (v.kind !== 'tensor') return unsupported(node, index, 'an activation of a constant');
  const currentName = nameFor();
  if (op === 'Selu') {
    const alpha = attrFloat(node, 'alpha', 1.67326319217681884765625);
    const gamma = attrFloat(node, 'gamma', 1.05070102214813232421875);
    if (Math.abs(alpha - 1.6732632) > 1e-6 || Math.abs(gamma - 1.050701) > 1e-6)
      unsupported(node, index, `SELU with alpha ${alpha}, gamma ${gamma} (only the standard constants)`);
    defineLayer(apply(tfl.layers.activation({ activation: 'selu', name: currentName }), v.t));
    return;
  }
  const alpha = attrFloat(node, 'alpha', 1);
  defineLayer(apply(alpha === 1 ? tfl.layers.activation({ activation: 'elu', name: currentName }) : new ScaledElu({ alpha, name: currentName }), v.t));
}

/** PRelu with one slope, or one per channel. */
function convertPRelu(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { tensorOf, constOf, unsupported, apply, setWeights, channelConstant } = cx;
  const x = tensorOf(node.input[0], node, index);
  const rank = x.shape.length;
  const channels = x.shape[rank - 1] as number;
  const given = constOf(node.input[1], node, index, 'slope');
  // Before opset 7 a slope of C values is per channel whatever its rank (no NumPy broadcasting yet).
  const aligned = cx.opset < 7 && given.dims.length === 1 && rank === 4 ? { ...given, dims: [given.dims[0], 1, 1] } : given;
  const slope = channelConstant(aligned, rank, channels, node, index);
  if (rank !== 2 && rank !== 4) unsupported(node, index, `PRelu of a rank-${rank} tensor`);
  // One slope per channel, shared over the positions of a map.
  const layer = tfl.layers.prelu({ sharedAxes: rank === 4 ? [1, 2] : undefined, name: nameFor() });
  const y = apply(layer, x);
  setWeights(layer, [{ data: slope, shape: rank === 4 ? [1, 1, channels] : [channels] }]);
  defineLayer(y);
}

export const ACTIVATIONS_OPS: OpTable = {
  Relu: { since: 1, convert: convertRelu },
  Sigmoid: { since: 1, convert: convertRelu },
  Tanh: { since: 1, convert: convertRelu },
  LeakyRelu: { since: 1, convert: convertLeakyRelu },
  Clip: { since: 1, convert: convertClip },
  Softmax: { since: 1, convert: convertSoftmax },
  LogSoftmax: { since: 1, convert: convertSoftmax },
  Elu: { since: 1, convert: convertElu },
  Selu: { since: 1, convert: convertElu },
  PRelu: { since: 1, convert: convertPRelu },
};
