/** ONNX operators — Convolution: plain, depthwise and grouped (OIHW kernels become HWIO), with its padding; transposed convolution as an ordinary one. */
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../../shared/errors';
import { GroupedConv2D } from '../../layers/onnx-ops';
import { ZeroInsertion2D } from '../../layers/onnx-windows';
import { attrInt, attrInts, attrString, where } from '../attributes';
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
    throw new InspectorError(
      'MODEL_WEIGHTS_INCONSISTENT',
      `${where(node, index)} (Conv): its weight expects ${cg * group} input channels, the tensor has ${cin}`,
    );
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
  if (bias && bias.data.length !== m)
    throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (Conv): ${bias.data.length} biases for ${m} filters`);
  // OIHW → HWIO (for depthwise: HW C mult, which is the same index map with I = 1 per group).
  const hwio = new Float32Array(w.data.length);
  for (let o = 0; o < m; o++)
    for (let i = 0; i < cg; i++)
      for (let y = 0; y < kh; y++)
        for (let xx = 0; xx < kw; xx++) {
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
    layer = tfl.layers.depthwiseConv2d({
      ...common,
      kernelSize: [kh, kw],
      depthMultiplier: mult,
      depthwiseInitializer: given(hwio),
      biasInitializer: given(bias?.data),
    });
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

/** ConvTranspose's pads [[top, bottom], [left, right]]: from output_shape or auto_pad (the spec's split), else its pads. */
function transposedPads(n: NodeContext, inHw: Pair, kEff: Pair, strides: Pair, outputPadding: Pair): [Pair, Pair] {
  const { node, index, cx } = n;
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const outputShape = attrInts(node, 'output_shape');
  if (outputShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const target = outputShape ? outputShape.slice(-2) : [inHw[0] * strides[0], inHw[1] * strides[1]];
    return [0, 1].map((a) => {
      // Negative when the output asked for is larger than what the convolution makes: zeros at the end.
      const total = strides[a] * (inHw[a] - 1) + outputPadding[a] + kEff[a] - target[a];
      const half = Math.floor(total / 2);
      return autoPad === 'SAME_UPPER' ? [half, total - half] : [total - half, half];
    }) as [Pair, Pair];
  }
  if (autoPad === 'VALID')
    return [
      [0, 0],
      [0, 0],
    ];
  const pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
  if (pads.length !== 4) cx.unsupported(node, index, `padding over ${pads.length / 2} axes`);
  return [
    [pads[0], pads[2]],
    [pads[1], pads[3]],
  ];
}

/**
 * ConvTranspose as the ordinary convolution it equals: the input spread out with (stride − 1) zeros between cells,
 * padded by k − 1 − pads (cropped where the pads are larger; output_padding more at the end), convolved with the
 * kernel flipped and its in/out channels swapped (per group), with the dilation kept.
 */
function convertConvTranspose(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { constOf, tensorOf, shapeOf, unsupported, apply, setWeights, uniqueName } = cx;
  const x = tensorOf(node.input[0], node, index);
  const w = constOf(node.input[1], node, index, 'weight');
  if (w.dims.length !== 4) unsupported(node, index, `a ${w.dims.length - 2}-D transposed convolution (only 2-D image ones run)`);
  const [cin, perGroup, kh, kw] = w.dims;
  const inShape = shapeOf(x);
  const group = attrInt(node, 'group', 1);
  if (cin !== inShape[2] || cin % group !== 0)
    throw new InspectorError(
      'MODEL_WEIGHTS_INCONSISTENT',
      `${where(node, index)} (ConvTranspose): its weight takes ${cin} input channels in ${group} groups, the tensor has ${inShape[2]}`,
    );
  const m = perGroup * group;
  const cg = cin / group;
  const strides = (attrInts(node, 'strides') ?? [1, 1]) as Pair;
  const dil = (attrInts(node, 'dilations') ?? [1, 1]) as Pair;
  const outputPadding = (attrInts(node, 'output_padding') ?? [0, 0]) as Pair;
  const kEff: Pair = [(kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1];
  const pads = transposedPads(n, [inShape[0], inShape[1]], kEff, strides, outputPadding);
  const bias = node.input[2] ? constOf(node.input[2], node, index, 'bias') : undefined;
  if (bias && bias.data.length !== m)
    throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (ConvTranspose): ${bias.data.length} biases for ${m} filters`);
  const name = nameFor();
  let t = x;
  if (strides.some((s) => s > 1)) t = apply(new ZeroInsertion2D({ strides, name: uniqueName(`${name}_spread`) }), t);
  // Around the spread map: k − 1 − pad cells (negative: cropped), output_padding more at the end.
  const around = [0, 1].map((a) => [kEff[a] - 1 - pads[a][0], kEff[a] - 1 - pads[a][1] + outputPadding[a]]) as [Pair, Pair];
  const grow = around.map((p) => p.map((v) => Math.max(0, v))) as [Pair, Pair];
  const cut = around.map((p) => p.map((v) => Math.max(0, -v))) as [Pair, Pair];
  if (grow.flat().some((v) => v > 0)) t = apply(tfl.layers.zeroPadding2d({ padding: grow, name: uniqueName(`${name}_pad`) }), t);
  if (cut.flat().some((v) => v > 0)) t = apply(tfl.layers.cropping2D({ cropping: cut, name: uniqueName(`${name}_crop`) }), t);
  // Flipped kernel, HWIO per group: input channel j·cg + i, output j·perGroup + o reads W[j·cg + i, o, kh−1−y, kw−1−x].
  const hwio = new Float32Array(kh * kw * cg * m);
  for (let j = 0; j < group; j++)
    for (let i = 0; i < cg; i++)
      for (let o = 0; o < perGroup; o++)
        for (let y = 0; y < kh; y++)
          for (let xx = 0; xx < kw; xx++) {
            hwio[((y * kw + xx) * cg + i) * m + j * perGroup + o] = w.data[(((j * cg + i) * perGroup + o) * kh + (kh - 1 - y)) * kw + (kw - 1 - xx)];
          }
  const common = { kernelSize: [kh, kw], strides: [1, 1] as Pair, dilationRate: dil, padding: 'valid' as const, useBias: !!bias, name };
  if (group === 1 && dil.every((d) => d === 1)) {
    const layer = tfl.layers.conv2d({ ...common, filters: m, kernelInitializer: given(hwio), biasInitializer: given(bias?.data) });
    const y = apply(layer, t);
    forgetGiven(layer);
    defineLayer(y);
    return;
  }
  const layer = new GroupedConv2D({ ...common, filters: m, groups: group });
  const y = apply(layer, t);
  setWeights(layer, [{ data: hwio, shape: [kh, kw, cg, m] }, ...(bias ? [{ data: bias.data, shape: [m] }] : [])]);
  defineLayer(y);
}

export const CONVOLUTION_OPS: OpTable = {
  Conv: { since: 1, convert: convertConv },
  ConvTranspose: { since: 1, convert: convertConvTranspose },
};
