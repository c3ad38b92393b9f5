/** A one-input layer's tensor and shape: TF.js hands layers a tensor or a list, and a shape or a list of shapes. */
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

export const firstInput = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);

export const firstShape = (inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape => (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
