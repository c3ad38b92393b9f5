/** ONNX operators — Normalisation: local response normalisation (AlexNet, GoogLeNet) and batch normalisation in inference mode. */
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../../shared/errors';
import { LocalResponseNormalization } from '../../layers/lrn';
import { attrFloat, attrInt, where } from '../attributes';
import type { NodeContext, OpTable } from '../graph-context';

/** LRN. */
function convertLRN(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { tensorOf, unsupported, apply } = cx;
  const x = tensorOf(node.input[0], node, index);
  const size = attrInt(node, 'size', 0);
  if (size % 2 !== 1) unsupported(node, index, `LRN over an even window (${size})`);
  const currentName = nameFor();
  // ONNX/PyTorch/Caffe scale alpha by the window size; TF's LRN does not.
  const layer = new LocalResponseNormalization({
    name: currentName,
    depthRadius: (size - 1) / 2,
    alpha: attrFloat(node, 'alpha', 1e-4) / size,
    beta: attrFloat(node, 'beta', 0.75),
    bias: attrFloat(node, 'bias', 1),
  });
  defineLayer(apply(layer, x));
}

/** BatchNormalization. */
function convertBatchNormalization(n: NodeContext): void {
  const { node, index, defineLayer, nameFor, cx } = n;
  const { constOf, tensorOf, shapeOf, unsupported, apply, setWeights, opset } = cx;
  // training_mode=1 (opset 14+) normalises with the batch's own statistics: running it with the stored ones
  // would be silently wrong, so it is refused (export the model in eval mode).
  if (attrInt(node, 'training_mode', 0) !== 0 || node.output.filter(Boolean).length > 1 || (opset < 7 && attrInt(node, 'is_test', 0) === 0)) {
    unsupported(node, index, 'batch normalisation in training mode (export the model with model.eval())');
  }
  const x = tensorOf(node.input[0], node, index);
  const [scale, bias, mean, variance] = node.input.slice(1, 5).map((n, i) => constOf(n, node, index, ['scale', 'bias', 'mean', 'variance'][i]));
  const c = shapeOf(x).at(-1)!;
  if ([scale, bias, mean, variance].some((p) => p.data.length !== c)) {
    throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${where(node, index)} (BatchNormalization): parameters do not match ${c} channels`);
  }
  const currentName = nameFor();
  const layer = tfl.layers.batchNormalization({ axis: -1, epsilon: attrFloat(node, 'epsilon', 1e-5), name: currentName });
  const t = apply(layer, x);
  setWeights(
    layer,
    [scale, bias, mean, variance].map((p) => ({ data: p.data, shape: [c] })),
  );
  defineLayer(t);
}

export const NORMALIZATION_OPS: OpTable = {
  LRN: { since: 1, convert: convertLRN },
  BatchNormalization: { since: 1, convert: convertBatchNormalization },
};
