/**
 * Forward passes for one image: class probabilities, and the output of any named layer.
 * Input: one preprocessed image [H,W,C] float32. Every tensor is freed before returning.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ActivationMaps, Prediction } from '../../../shared/contract';
import type { LoadedModel } from '../model/loaded-model';
import { endsInSoftmax, readTidyFloat, softmaxRows } from '../base/tensors';

/**
 * Class probabilities for one input: the model's output, or its softmax when the model ends in raw scores
 * (logits) — as every torchvision export does; shown as they are, a score of 3.16 would read "316 % sure".
 */
export function predictProbabilities(loaded: LoadedModel, input: Float32Array): Float32Array {
  const out = modelOutput(loaded, input);
  return endsInSoftmax(loaded.model) ? out : softmaxRows(out, 1);
}

/** The model's own output for one input, as it computes it (scores or probabilities). */
export function modelOutput(loaded: LoadedModel, input: Float32Array): Float32Array {
  const [h, w, c] = loaded.summary.inputShape;
  return readTidyFloat(() => loaded.model.predict(tf.tensor4d(input, [1, h, w, c])) as tf.Tensor).data;
}

export function topPredictions(probabilities: Float32Array, classes: string[] | undefined, top: number): Prediction[] {
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, Math.max(1, top)).map((index) => ({
    index,
    ...(classes ? { label: classes[index] } : {}),
    probability: probabilities[index],
  }));
}

export function layerActivations(loaded: LoadedModel, layer: string, input: Float32Array): ActivationMaps {
  const sub = loaded.layerModel(layer);
  const [h, w, c] = loaded.summary.inputShape;
  const out = readTidyFloat(() => sub.predict(tf.tensor4d(input, [1, h, w, c])) as tf.Tensor);
  const data = out.data;
  const shape = out.shape.slice(1);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { layer, shape, data, min, max };
}
