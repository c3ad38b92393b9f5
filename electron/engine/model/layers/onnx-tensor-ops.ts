/**
 * Elementwise and per-axis layers ONNX writes and TF.js Layers lacks. Each runs forward, differentiates
 * (projections use its gradient) and serializes under its class name.
 *  - Clip: every value held inside [min, max] (ONNX Clip with bounds other than ReLU6's; hardtanh).
 *  - ScaledElu: ELU with an alpha other than 1 (TF.js's ELU layer refuses one).
 *  - SoftmaxAlong: a softmax, or its log, along any axis, as exp(x − logΣexp) (TF.js's works on the last axis only).
 *  - PickChannels: the channels (last axis) at constant indices, in their order (ONNX Gather of channels).
 *  - MapAffine: x · scale + offset with constants that vary over positions (broadcast over the map).
 *  - MapMatMul: ONNX MatMul of a feature map by a constant — per channel, the [H, W] matrix times a [W, K]
 *    matrix (one for all channels or one per channel), giving [H, K] per channel.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { firstInput, firstShape } from './layer-inputs';

type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];

/** ±∞ survive JSON as strings. */
const toJson = (v: number): number | string => (Number.isFinite(v) ? v : v < 0 ? '-Infinity' : 'Infinity');
const fromJson = (v: unknown): number => (v === '-Infinity' ? -Infinity : v === 'Infinity' ? Infinity : Number(v));

export class Clip extends tfl.layers.Layer {
  static className = 'Clip';
  readonly min: number;
  readonly max: number;

  constructor(config: { min: number; max: number; name?: string }) {
    super(config as LayerArgs);
    this.min = config.min;
    this.max = config.max;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    // clipByValue needs finite bounds; ±∞ are the float32 extremes.
    const bound = (v: number) => Math.max(-3.4028234663852886e38, Math.min(3.4028234663852886e38, v));
    return tf.clipByValue(firstInput(inputs), bound(this.min), bound(this.max));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), min: toJson(this.min), max: toJson(this.max) } as tf.serialization.ConfigDict;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({ ...config, min: fromJson(config.min), max: fromJson(config.max) });
  }
}

/** ELU with any alpha (TF.js's ELU layer takes 1 only): x above 0, alpha·(eˣ − 1) below. */
export class ScaledElu extends tfl.layers.Layer {
  static className = 'ScaledElu';
  readonly alpha: number;

  constructor(config: { alpha: number; name?: string }) {
    super(config as LayerArgs);
    this.alpha = config.alpha;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const positive = tf.relu(x);
      return tf.add(positive, tf.mul(tf.sub(tf.elu(x), positive), this.alpha));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}

export class SoftmaxAlong extends tfl.layers.Layer {
  static className = 'SoftmaxAlong';
  /** The engine's axis (NHWC; −1 is the last). */
  readonly axis: number;
  /** The log of the softmax (ONNX LogSoftmax). */
  readonly log: boolean;

  constructor(config: { axis: number; log?: boolean; name?: string }) {
    super(config as LayerArgs);
    this.axis = config.axis;
    this.log = config.log ?? false;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const logs = tf.sub(x, tf.logSumExp(x, this.axis, true));
      return this.log ? logs : tf.exp(logs);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: this.axis, log: this.log };
  }
}

/** A one-hot [C, K] matrix whose column k picks channel indices[k]. */
function pickMatrix(channels: number, indices: Int32Array): tf.Tensor2D {
  const m = new Float32Array(channels * indices.length);
  indices.forEach((c, k) => (m[c * indices.length + k] = 1));
  return tf.tensor2d(m, [channels, indices.length]);
}

export class PickChannels extends tfl.layers.Layer {
  static className = 'PickChannels';
  readonly indices: Int32Array;

  constructor(config: { indices: number[]; name?: string }) {
    super(config as LayerArgs);
    this.indices = Int32Array.from(config.indices);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const c = x.shape[x.shape.length - 1];
      // A product with a one-hot matrix: its gradient is plain (Gather's needs a kernel the wasm backend lacks).
      const flat = tf.matMul(tf.reshape(x, [-1, c]) as tf.Tensor2D, pickMatrix(c, this.indices));
      return tf.reshape(flat, [...x.shape.slice(0, -1), this.indices.length]);
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = firstShape(inputShape);
    return [...s.slice(0, -1), this.indices.length];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), indices: Array.from(this.indices) };
  }
}

export interface MapAffineConfig {
  /** The constants' broadcast shape in the engine's layout without the batch ([H|1, W|1, C|1] for maps). */
  shape: number[];
  scale?: number[];
  offset?: number[];
  name?: string;
}

/**
 * y = x · scale + offset with constants that vary over positions, not only channels (an export's divisor per
 * output position, a positional bias): ONNX Mul/Add/Sub/Div by a constant that broadcasts over the map.
 */
export class MapAffine extends tfl.layers.Layer {
  static className = 'MapAffine';
  readonly shape: number[];
  readonly scale?: Float32Array;
  readonly offset?: Float32Array;

  constructor(config: MapAffineConfig) {
    super(config as LayerArgs);
    this.shape = config.shape;
    this.scale = config.scale ? Float32Array.from(config.scale) : undefined;
    this.offset = config.offset ? Float32Array.from(config.offset) : undefined;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let y = firstInput(inputs);
      if (this.scale) y = tf.mul(y, tf.tensor(this.scale, [1, ...this.shape]));
      if (this.offset) y = tf.add(y, tf.tensor(this.offset, [1, ...this.shape]));
      return y;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      shape: this.shape,
      ...(this.scale ? { scale: Array.from(this.scale) } : {}),
      ...(this.offset ? { offset: Array.from(this.offset) } : {}),
    };
  }
}

export interface MapMatMulConfig {
  /** [1 or C, W, K] row-major: one matrix for every channel, or one per channel. */
  matrices: number[];
  count: number;
  width: number;
  columns: number;
  name?: string;
}

export class MapMatMul extends tfl.layers.Layer {
  static className = 'MapMatMul';
  readonly matrices: Float32Array;
  readonly count: number;
  readonly width: number;
  readonly columns: number;

  constructor(config: MapMatMulConfig) {
    super(config as LayerArgs);
    this.matrices = Float32Array.from(config.matrices);
    this.count = config.count;
    this.width = config.width;
    this.columns = config.columns;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs) as tf.Tensor4D;
      const [n, h, w, c] = x.shape;
      // Products with equal batch dimensions only (the wasm backend's broadcasting of them is not to be relied on).
      if (this.count === 1) {
        const rows = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c * h, w]) as tf.Tensor2D;
        const product = tf.matMul(rows, tf.tensor2d(this.matrices, [w, this.columns]));
        return tf.transpose(tf.reshape(product, [n, c, h, this.columns]), [0, 2, 3, 1]);
      }
      // One matrix per channel: [C, N·H, W] × [C, W, K], a map of one channel copied to every matrix first.
      let perChannel = tf.reshape(tf.transpose(x, [3, 0, 1, 2]), [c, n * h, w]) as tf.Tensor3D;
      if (c === 1) perChannel = tf.tile(perChannel, [this.count, 1, 1]);
      const product = tf.matMul(perChannel, tf.tensor3d(this.matrices, [this.count, w, this.columns]));
      return tf.transpose(tf.reshape(product, [this.count, n, h, this.columns]), [1, 2, 3, 0]);
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = firstShape(inputShape);
    const channels = s[3] === null ? null : Math.max(s[3], this.count);
    return [s[0], s[1], this.columns, channels];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), matrices: Array.from(this.matrices), count: this.count, width: this.width, columns: this.columns };
  }
}

tf.serialization.registerClass(Clip);
tf.serialization.registerClass(SoftmaxAlong);
tf.serialization.registerClass(ScaledElu);
tf.serialization.registerClass(PickChannels);
tf.serialization.registerClass(MapMatMul);
tf.serialization.registerClass(MapAffine);
