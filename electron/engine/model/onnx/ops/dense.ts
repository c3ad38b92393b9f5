/** ONNX operators — Fully connected layers: Gemm and MatMul with a constant weight, rows permuted where the input was flattened in TF order; MatMul of a map by constant matrices. */
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../../shared/errors';
import { attrFloat, attrInt, where } from '../attributes';
import { forgetGiven, given } from '../given-values';
import { MapMatMul } from '../../layers/onnx-tensor-ops';
import type { NodeContext, OpTable } from '../graph-context';

/** Gemm, MatMul. */
function convertGemm(n: NodeContext): void {
  const { node, index, op, defineLayer, nameFor, cx } = n;
  const { lookup, constOf, unsupported, apply } = cx;
  const v = lookup(node.input[0], node, index);
  if (v.kind !== 'tensor') return unsupported(node, index, 'a product of constants');
  if (op === 'MatMul' && v.t.shape.length === 4) return convertMapMatMul(n, v.t);
  if (v.t.shape.length !== 2) unsupported(node, index, `a matrix product on a rank-${v.t.shape.length} tensor`);
  const b = constOf(node.input[1], node, index, 'weight');
  if (b.dims.length !== 2) unsupported(node, index, `a rank-${b.dims.length} weight`);
  const transA = op === 'Gemm' ? attrInt(node, 'transA', 0) : 0;
  if (transA) unsupported(node, index, 'a transposed input (transA)');
  const transB = op === 'Gemm' ? attrInt(node, 'transB', 0) : 0;
  const alpha = op === 'Gemm' ? attrFloat(node, 'alpha', 1) : 1;
  const beta = op === 'Gemm' ? attrFloat(node, 'beta', 1) : 1;
  const [rows, cols] = b.dims;
  const inF = transB ? cols : rows;
  const outF = transB ? rows : cols;
  const features = v.t.shape[1] as number;
  if (features !== inF) {
    throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (${op}): the weight takes ${inF} features, the tensor has ${features}`);
  }
  // Kernel [in, out]; input row r of ONNX order (c, h, w) is TF row (h, w, c) when the input is hwc-flat.
  const kernel = new Float32Array(inF * outF);
  const rowOf = (r: number): number => {
    if (!v.hwcFlat) return r;
    const [h, w, c] = v.hwcFlat;
    const ci = Math.floor(r / (h * w));
    const rest = r % (h * w);
    return rest * c + ci;
  };
  for (let r = 0; r < inF; r++) {
    const dst = rowOf(r) * outF;
    for (let o = 0; o < outF; o++) kernel[dst + o] = alpha * (transB ? b.data[o * cols + r] : b.data[r * cols + o]);
  }
  let biasData: Float32Array | undefined;
  if (op === 'Gemm' && node.input[2]) {
    const c = constOf(node.input[2], node, index, 'bias');
    if (c.data.length !== outF && c.data.length !== 1) {
      throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (Gemm): ${c.data.length} biases for ${outF} outputs`);
    }
    biasData = new Float32Array(outF);
    for (let o = 0; o < outF; o++) biasData[o] = beta * c.data[c.data.length === 1 ? 0 : o];
  }
  const currentName = nameFor();
  const layer = tfl.layers.dense({ units: outF, useBias: !!biasData, kernelInitializer: given(kernel), biasInitializer: given(biasData), name: currentName });
  const t = apply(layer, v.t);
  forgetGiven(layer);
  defineLayer(t);
}

/** MatMul of an [N, C, H, W] map by a constant [W, K], [C', W, K] or [1, C', W, K] (C' is 1 or C, or C is 1). */
function convertMapMatMul(n: NodeContext, x: tfl.SymbolicTensor): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const b = cx.constOf(node.input[1], node, index, 'matrix');
  const [, , width, channels] = x.shape as number[];
  const dims = b.dims.length === 4 && b.dims[0] === 1 ? b.dims.slice(1) : b.dims.length === 2 ? [1, ...b.dims] : b.dims;
  const [count, rows, columns] = dims;
  if (dims.length !== 3 || (count !== 1 && channels !== 1 && count !== channels))
    cx.unsupported(n.node, n.index, `a map [${channels}, H, ${width}] times a constant of shape [${b.dims.join(', ')}]`);
  if (rows !== width)
    throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (MatMul): the matrix has ${rows} rows, the map is ${width} wide`);
  defineLayer(cx.apply(new MapMatMul({ matrices: Array.from(b.data), count, width, columns, name: nameFor() }), x));
}

export const DENSE_OPS: OpTable = {
  Gemm: { since: 1, convert: convertGemm },
  MatMul: { since: 1, convert: convertGemm },
};
