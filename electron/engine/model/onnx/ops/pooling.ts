/** ONNX operators — Pooling: max and average windows (any padding, ceil mode, dilation), global pooling, and means / maxima over the spatial axes. */
import * as tfl from '@tensorflow/tfjs-layers';
import { ChannelAffine, ConstantPadding2D, CountedAveragePooling2D } from '../../layers/onnx-ops';
import { DilatedPooling2D } from '../../layers/onnx-windows';
import { attrInt, attrInts } from '../attributes';
import { type Pair, coversWholeMap } from '../graph-context';
import type { NodeContext, OpTable } from '../graph-context';

/**
 * Ceil mode (PyTorch/ONNX): one more output where a window starts inside the (left-padded) input; returns the
 * cells it adds at the end of each axis.
 */
function ceilExtra(inShape: number[], kEff: Pair, strides: Pair, pads: [Pair, Pair]): Pair {
  return [0, 1].map((a) => {
    const span = inShape[a] + pads[a][0] + pads[a][1];
    let outCeil = Math.ceil((span - kEff[a]) / strides[a]) + 1;
    if ((outCeil - 1) * strides[a] >= inShape[a] + pads[a][0]) outCeil--;
    return Math.max((outCeil - 1) * strides[a] + kEff[a] - span, 0);
  }) as Pair;
}

/** MaxPool, AveragePool. */
function convertMaxPool(n: NodeContext): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const { tensorOf, shapeOf, unsupported, apply, windowPads, isTfSame, isZero, uniqueName } = cx;
  if (node.output.length > 1 && node.output[1]) unsupported(node, index, 'returning max-pool indices');
  const x = tensorOf(node.input[0], node, index);
  const inShape = shapeOf(x);
  const k = (attrInts(node, 'kernel_shape') ?? []) as Pair;
  if (k.length !== 2) unsupported(node, index, `${k.length}-D pooling`);
  const strides = (attrInts(node, 'strides') ?? [1, 1]) as Pair;
  const dil = (attrInts(node, 'dilations') ?? [1, 1]) as Pair;
  const kEff: Pair = [(k[0] - 1) * dil[0] + 1, (k[1] - 1) * dil[1] + 1];
  const pads = windowPads(node, index, [inShape[0], inShape[1]], kEff, strides);
  const extra = attrInt(node, 'ceil_mode', 0) === 1 ? ceilExtra(inShape, kEff, strides, pads) : ([0, 0] as Pair);
  const name = nameFor();
  const isMax = op === 'MaxPool';
  const countsPadding = !isMax && attrInt(node, 'count_include_pad', 0) === 1;
  if (dil.some((d) => d !== 1) || (!isMax && extra.some((e) => e > 0))) {
    // Taps apart, or an average whose last window is partial: pad here, then pool what the padding made.
    const padded: [Pair, Pair] = [
      [pads[0][0], pads[0][1] + extra[0]],
      [pads[1][0], pads[1][1] + extra[1]],
    ];
    const uncounted: [Pair, Pair] = countsPadding
      ? [
          [0, extra[0]],
          [0, extra[1]],
        ]
      : padded;
    const xin = isZero(padded) ? x : apply(new ConstantPadding2D({ padding: padded, value: isMax ? -Infinity : 0, name: uniqueName(`${name}_pad`) }), x);
    defineLayer(apply(new DilatedPooling2D({ mode: isMax ? 'max' : 'avg', poolSize: k, strides, dilationRate: dil, uncounted, name }), xin));
    return;
  }
  pads[0][1] += extra[0];
  pads[1][1] += extra[1];
  const poolArgs = { poolSize: k, strides, name };
  let xin = x;
  let padding: 'same' | 'valid' = 'valid';
  if (isZero(pads)) padding = 'valid';
  else if (isMax) {
    if (isTfSame(pads, [inShape[0], inShape[1]], k, strides)) padding = 'same';
    else xin = apply(new ConstantPadding2D({ padding: pads, value: -Infinity, name: uniqueName(`${name}_pad`) }), x);
  } else if (countsPadding) {
    xin = apply(tfl.layers.zeroPadding2d({ padding: pads, name: uniqueName(`${name}_pad`) }), x);
  } else if (isTfSame(pads, [inShape[0], inShape[1]], k, strides)) padding = 'same';
  else if (coversWholeMap(inShape, k, strides, pads)) {
    // One window over the whole map with the padding not counted (Caffe-converted GoogLeNet's last pool, its
    // ceil mode written as end padding): the plain average of the map.
    defineLayer(apply(tfl.layers.averagePooling2d({ poolSize: [inShape[0], inShape[1]], strides: [inShape[0], inShape[1]], padding: 'valid', name }), x));
    return;
  } else {
    const padded = apply(tfl.layers.zeroPadding2d({ padding: pads, name: uniqueName(`${name}_pad`) }), x);
    defineLayer(apply(new CountedAveragePooling2D({ poolSize: k, strides, pads, name }), padded));
    return;
  }
  const layer = isMax ? tfl.layers.maxPooling2d({ ...poolArgs, padding }) : tfl.layers.averagePooling2d({ ...poolArgs, padding });
  defineLayer(apply(layer, xin));
}

/** GlobalAveragePool, GlobalMaxPool. */
function convertGlobalAveragePool(n: NodeContext): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const { tensorOf, shapeOf, apply } = cx;
  const x = tensorOf(node.input[0], node, index);
  const [h, w] = shapeOf(x);
  const currentName = nameFor();
  // Kept 4-D (1×1×C) like ONNX's [N, C, 1, 1]; a following Flatten is then order-free.
  const args = { poolSize: [h, w] as Pair, strides: [h, w] as Pair, padding: 'valid' as const, name: currentName };
  defineLayer(apply(op === 'GlobalAveragePool' ? tfl.layers.averagePooling2d(args) : tfl.layers.maxPooling2d(args), x));
}

/**
 * ReduceMean, ReduceMax, ReduceSum over the spatial axes (PyTorch's `x.mean([2, 3])` in place of a global pool):
 * a pool whose window is the reduced axes' whole length (a sum is that average times the cells). Reductions
 * that take in channels or the batch are refused.
 */
function convertSpatialReduce(n: NodeContext): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const { tensorOf, shapeOf, constOf, unsupported, apply, setWeights, uniqueName, opset } = cx;
  const x = tensorOf(node.input[0], node, index);
  if (x.shape.length !== 4) unsupported(node, index, `${op} of a rank-${x.shape.length} tensor`);
  // Axes: an attribute, or the second input from opset 13 (ReduceSum) / 18 (the others).
  const axesFromInput = opset >= (op === 'ReduceSum' ? 13 : 18);
  const given = axesFromInput ? (node.input[1] ? Array.from(constOf(node.input[1], node, index, 'axes').data) : undefined) : attrInts(node, 'axes');
  const axes = new Set((given && given.length ? given : [0, 1, 2, 3]).map((a) => (a < 0 ? a + 4 : a)));
  if (axes.has(0) || axes.has(1)) unsupported(node, index, `${op} over axes [${[...axes].join(', ')}] (only the spatial axes 2 and 3)`);
  const keep = attrInt(node, 'keepdims', 1) === 1;
  if (!keep && axes.size !== 2) unsupported(node, index, `${op} of one spatial axis without keepdims`);
  const [h, w] = shapeOf(x);
  const window: Pair = [axes.has(2) ? h : 1, axes.has(3) ? w : 1];
  const name = nameFor();
  const args = { poolSize: window, strides: window, padding: 'valid' as const };
  let y: tfl.SymbolicTensor;
  if (op === 'ReduceMax') y = apply(tfl.layers.maxPooling2d({ ...args, name: keep ? name : uniqueName(`${name}_pool`) }), x);
  else y = apply(tfl.layers.averagePooling2d({ ...args, name: keep && op === 'ReduceMean' ? name : uniqueName(`${name}_pool`) }), x);
  if (op === 'ReduceSum') {
    const scale = new ChannelAffine({ channels: 1, name: keep ? name : uniqueName(`${name}_sum`) });
    y = apply(scale, y);
    setWeights(scale, [
      { data: Float32Array.of(window[0] * window[1]), shape: [1] },
      { data: Float32Array.of(0), shape: [1] },
    ]);
  }
  // Both axes gone: 1×1×C flattened in any order is the [N, C] ONNX gives.
  defineLayer(keep ? y : apply(tfl.layers.flatten({ name }), y));
}

export const POOLING_OPS: OpTable = {
  ReduceMean: { since: 1, convert: convertSpatialReduce },
  ReduceMax: { since: 1, convert: convertSpatialReduce },
  ReduceSum: { since: 1, convert: convertSpatialReduce },
  MaxPool: { since: 1, convert: convertMaxPool },
  AveragePool: { since: 1, convert: convertMaxPool },
  GlobalAveragePool: { since: 1, convert: convertGlobalAveragePool },
  GlobalMaxPool: { since: 1, convert: convertGlobalAveragePool },
};
