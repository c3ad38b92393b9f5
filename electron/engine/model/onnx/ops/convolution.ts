/** ONNX operators — Convolution: plain, depthwise and grouped (OIHW kernels become HWIO), with its padding. */
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../../shared/errors';
import { GroupedConv2D } from '../../layers/onnx-ops';
import { attrInt, attrInts, where } from '../attributes';
import { forgetGiven, given } from '../given-values';
import { type Pair } from '../graph-context';
import type { NodeContext, OpTable } from '../graph-context';

/** Conv. */
function convertConv(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { constOf, tensorOf, shapeOf, unsupported, apply, setWeights, windowPads, isTfSame, isZero, uniqueName } = cx;
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
  else xin = apply(tfl.layers.zeroPadding2d({ padding: pads, name: uniqueName(`${name}_pad`) }), x);
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
}

export const CONVOLUTION_OPS: OpTable = {
  Conv: { since: 1, convert: convertConv },
};
