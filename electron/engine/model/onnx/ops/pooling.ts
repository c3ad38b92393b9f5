/** ONNX operators — Pooling: max and average windows (any padding, ceil mode), and global pooling. */
import * as tfl from '@tensorflow/tfjs-layers';
import { ConstantPadding2D, CountedAveragePooling2D } from '../../layers/onnx-ops';
import { attrInt, attrInts } from '../attributes';
import { type Pair, coversWholeMap } from '../graph-context';
import type { NodeContext, OpTable } from '../graph-context';

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
    else xin = apply(new ConstantPadding2D({ padding: pads, value: -Infinity, name: uniqueName(`${name}_pad`) }), x);
  } else if (attrInt(node, 'count_include_pad', 0) === 1) {
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
  const layer = op === 'MaxPool' ? tfl.layers.maxPooling2d({ ...poolArgs, padding }) : tfl.layers.averagePooling2d({ ...poolArgs, padding });
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

export const POOLING_OPS: OpTable = {
  MaxPool: { since: 1, convert: convertMaxPool },
  AveragePool: { since: 1, convert: convertMaxPool },
  GlobalAveragePool: { since: 1, convert: convertGlobalAveragePool },
  GlobalMaxPool: { since: 1, convert: convertGlobalAveragePool },
};
