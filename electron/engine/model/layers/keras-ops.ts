/**
 * Keras layers TF.js Layers lacks, under Keras's class names so Keras configs deserialize to them directly.
 *  - Normalization (keras.layers.Normalization, adapted): y = (x − mean) / max(√variance, 1e-7) over the last axis;
 *    weights mean, variance, count as Keras stores them.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];

export class KerasNormalization extends tfl.layers.Layer {
  static className = 'Normalization';
  private mean?: tfl.LayerVariable;
  private variance?: tfl.LayerVariable;
  private readonly axis: number;

  constructor(config: { axis?: number | number[] | null; name?: string; invert?: boolean } & Record<string, unknown>) {
    super(config as LayerArgs);
    const axis = Array.isArray(config.axis) ? config.axis : (config.axis ?? -1);
    if (Array.isArray(axis) && (axis.length !== 1 || axis[0] !== -1)) throw new Error('Normalization over axes other than the last is not supported');
    if (config.invert) throw new Error('Normalization with invert=True is not supported');
    this.axis = -1;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const c = shape[shape.length - 1] as number;
    this.mean = this.addWeight('mean', [c], 'float32', tfl.initializers.zeros(), undefined, false);
    this.variance = this.addWeight('variance', [c], 'float32', tfl.initializers.ones(), undefined, false);
    this.addWeight('count', [], 'float32', tfl.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.div(tf.sub(x, this.mean!.read()), tf.maximum(tf.sqrt(this.variance!.read()), 1e-7));
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: this.axis };
  }
}

tf.serialization.registerClass(KerasNormalization);
