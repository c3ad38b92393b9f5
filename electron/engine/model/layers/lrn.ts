/**
 * Local response normalisation as a TF.js Layers layer (Keras has none; Zeiler & Fergus and AlexNet use it after
 * conv1 and conv2). Semantics are TensorFlow's `local_response_normalization`:
 *   y = x / (bias + alpha · Σ_{|c'−c| ≤ depthRadius} x_{c'}²)^beta
 * (Caffe / ONNX / PyTorch divide alpha by the window size; TF does not — convert at import, not here.)
 * Registered for serialization under the class name 'LRN' so saved models load back.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export interface LrnConfig {
  depthRadius?: number;
  bias?: number;
  alpha?: number;
  beta?: number;
  name?: string;
  inputShape?: number[];
}

export class LocalResponseNormalization extends tfl.layers.Layer {
  static className = 'LRN';
  readonly depthRadius: number;
  readonly bias: number;
  readonly alpha: number;
  readonly beta: number;

  constructor(config: LrnConfig = {}) {
    super(config as ConstructorParameters<typeof tfl.layers.Layer>[0]);
    this.depthRadius = config.depthRadius ?? 2;
    this.bias = config.bias ?? 1;
    this.alpha = config.alpha ?? 1e-4;
    this.beta = config.beta ?? 0.75;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.localResponseNormalization(x as tf.Tensor4D, this.depthRadius, this.bias, this.alpha, this.beta);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      depthRadius: this.depthRadius,
      bias: this.bias,
      alpha: this.alpha,
      beta: this.beta,
    };
  }
}

tf.serialization.registerClass(LocalResponseNormalization);
