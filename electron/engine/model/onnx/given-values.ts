/**
 * Weights go into layers through their initializers: the layer's variable then takes the tensor made from the
 * file's numbers as it is, instead of first allocating zeros and copying the weights over them (which, for VGG's
 * 400 MB dense layer, held three copies at once).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../shared/errors';

type InitializerLike = ReturnType<typeof tfl.initializers.zeros>;
const InitializerBase = Object.getPrototypeOf(tfl.initializers.zeros().constructor) as new () => InitializerLike;

class GivenValues extends InitializerBase {
  static className = 'GivenValues';
  constructor(private data: Float32Array) {
    super();
  }
  override apply(shape: number[]): tf.Tensor {
    if (this.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `${this.data.length} weights for a layer of shape [${shape.join(', ')}]`);
    }
    const t = tf.tensor(this.data, shape, 'float32');
    this.data = new Float32Array(0); // used once; let the copy go
    return t;
  }
  override getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

export const given = (data: Float32Array | undefined): InitializerLike =>
  data ? (new GivenValues(data) as unknown as InitializerLike) : tfl.initializers.zeros();

/** After building: the layer's config names plain initializers again (saved models must not refer to GivenValues). */
export function forgetGiven(layer: tfl.layers.Layer): void {
  const l = layer as unknown as Record<string, unknown>;
  for (const key of ['kernelInitializer', 'biasInitializer', 'depthwiseInitializer']) if (l[key] instanceof GivenValues) l[key] = tfl.initializers.zeros();
}
