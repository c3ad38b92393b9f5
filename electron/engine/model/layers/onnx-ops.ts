/**
 * Layers TF.js Layers lacks but imported ONNX / Keras models need. Each is a real Layers layer: it runs forward,
 * trains, differentiates (projections use its gradient), and serializes under its class name so exported models
 * load back.
 *  - GroupedConv2D: convolution with `groups` > 1 that is not depthwise (AlexNet-style, ResNeXt): the input's
 *    channels are split into groups, each convolved with its own filters, outputs concatenated in group order.
 *  - ChannelAffine: y = x · scale + offset with per-channel (last axis) or scalar constants — ONNX Mul/Add/Sub/Div
 *    by a constant, e.g. input normalisation baked into a model.
 *  - ConstantPadding2D: spatial padding with a constant (−∞ before a max-pool whose padding is not TF's SAME, so
 *    padded cells never win).
 *  - FlatReorder: reorders a flattened vector from TF's (h, w, c) order to ONNX/PyTorch's (c, h, w) order, for
 *    flattened features that reach something other than a dense layer (whose weights are permuted instead).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];
type Pair = [number, number];
const asPair = (v: number | number[] | undefined, d: number): Pair => (v === undefined ? [d, d] : Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v]);

export interface GroupedConv2DConfig {
  filters: number;
  kernelSize: number | number[];
  strides?: number | number[];
  dilationRate?: number | number[];
  padding?: 'valid' | 'same';
  groups: number;
  useBias?: boolean;
  name?: string;
}

export class GroupedConv2D extends tfl.layers.Layer {
  static className = 'GroupedConv2D';
  readonly filters: number;
  readonly kernelSize: Pair;
  readonly strides: Pair;
  readonly dilationRate: Pair;
  readonly padding: 'valid' | 'same';
  readonly groups: number;
  readonly useBias: boolean;
  private kernel?: tfl.LayerVariable;
  private bias?: tfl.LayerVariable;

  constructor(config: GroupedConv2DConfig) {
    super(config as LayerArgs);
    this.filters = config.filters;
    this.kernelSize = asPair(config.kernelSize, 1);
    this.strides = asPair(config.strides, 1);
    this.dilationRate = asPair(config.dilationRate, 1);
    this.padding = config.padding ?? 'valid';
    this.groups = config.groups;
    this.useBias = config.useBias ?? true;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const channels = shape[shape.length - 1] as number;
    if (channels % this.groups !== 0 || this.filters % this.groups !== 0) {
      throw new Error(`GroupedConv2D: ${channels} input channels and ${this.filters} filters do not split into ${this.groups} groups`);
    }
    this.kernel = this.addWeight('kernel', [this.kernelSize[0], this.kernelSize[1], channels / this.groups, this.filters], 'float32', tfl.initializers.zeros());
    if (this.useBias) this.bias = this.addWeight('bias', [this.filters], 'float32', tfl.initializers.zeros());
    this.built = true;
  }

  /**
   * The kernel with (d − 1) zeros between taps: a dilated convolution as a plain one. TF.js has no gradient for
   * dilated convolutions; this form has one (projections and training need it) at the cost of multiplying zeros.
   */
  private dilatedKernel(): tf.Tensor4D {
    const k = this.kernel!.read() as tf.Tensor4D;
    const [dh, dw] = this.dilationRate;
    if (dh === 1 && dw === 1) return k;
    const [kh, kw, ci, co] = k.shape;
    const spread = tf.pad(tf.reshape(k, [kh, 1, kw, 1, ci, co]), [
      [0, 0],
      [0, dh - 1],
      [0, 0],
      [0, dw - 1],
      [0, 0],
      [0, 0],
    ]);
    return tf.slice(tf.reshape(spread, [kh * dh, kw * dw, ci, co]), [0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, ci, co]) as tf.Tensor4D;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const xs = this.groups === 1 ? [x] : (tf.split(x, this.groups, 3) as tf.Tensor4D[]);
      const kernel = this.dilatedKernel();
      const ks = this.groups === 1 ? [kernel] : (tf.split(kernel, this.groups, 3) as tf.Tensor4D[]);
      const outs = xs.map((xi, g) => tf.conv2d(xi, ks[g], this.strides, this.padding, 'NHWC', 1));
      const y = outs.length === 1 ? outs[0] : tf.concat(outs, 3);
      return this.bias ? tf.add(y, this.bias.read()) : y;
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const size = (n: number | null, i: number): number | null => {
      if (n === null) return null;
      const k = (this.kernelSize[i] - 1) * this.dilationRate[i] + 1;
      return this.padding === 'same' ? Math.ceil(n / this.strides[i]) : Math.floor((n - k) / this.strides[i]) + 1;
    };
    return [shape[0], size(shape[1], 0), size(shape[2], 1), this.filters];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: this.kernelSize,
      strides: this.strides,
      dilationRate: this.dilationRate,
      padding: this.padding,
      groups: this.groups,
      useBias: this.useBias,
    };
  }
}

export interface ChannelAffineConfig {
  /** Number of channels (last axis); 1 means scalar constants. */
  channels: number;
  name?: string;
}

export class ChannelAffine extends tfl.layers.Layer {
  static className = 'ChannelAffine';
  readonly channels: number;
  private scale?: tfl.LayerVariable;
  private offset?: tfl.LayerVariable;

  constructor(config: ChannelAffineConfig) {
    super(config as LayerArgs);
    this.channels = config.channels;
  }

  override build(): void {
    this.scale = this.addWeight('scale', [this.channels], 'float32', tfl.initializers.ones(), undefined, false);
    this.offset = this.addWeight('offset', [this.channels], 'float32', tfl.initializers.zeros(), undefined, false);
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return tf.add(tf.mul(x, this.scale!.read()), this.offset!.read());
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), channels: this.channels };
  }
}

export interface ConstantPadding2DConfig {
  /** [[top, bottom], [left, right]] — the same layout as ZeroPadding2D's, so receptive fields read it alike. */
  padding: [Pair, Pair];
  value: number;
  name?: string;
}

export class ConstantPadding2D extends tfl.layers.Layer {
  static className = 'ConstantPadding2D';
  readonly padding: [Pair, Pair];
  readonly value: number;

  constructor(config: ConstantPadding2DConfig) {
    super(config as LayerArgs);
    this.padding = config.padding;
    this.value = config.value;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    // tf.pad's constant must be finite in some backends' kernels; −∞ is written as the float32 minimum.
    const value = Number.isFinite(this.value) ? this.value : this.value < 0 ? -3.4028234663852886e38 : 3.4028234663852886e38;
    return tf.pad(x, [[0, 0], this.padding[0], this.padding[1], [0, 0]], value);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const grow = (n: number | null, p: Pair) => (n === null ? null : n + p[0] + p[1]);
    return [s[0], grow(s[1], this.padding[0]), grow(s[2], this.padding[1]), s[3]];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      padding: this.padding,
      value: Number.isFinite(this.value) ? this.value : this.value < 0 ? '-Infinity' : 'Infinity',
    } as tf.serialization.ConfigDict;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const value = config.value === '-Infinity' ? -Infinity : config.value === 'Infinity' ? Infinity : Number(config.value);
    return new cls({ ...config, value });
  }
}

/**
 * x with its entries along `axis` reordered (output i = input indices[i], a permutation). Its gradient is the
 * inverse permutation, given by hand: Gather's own gradient needs UnsortedSegmentSum, which the wasm backend lacks.
 */
function permuteAlong(x: tf.Tensor, indices: Int32Array, axis: number): tf.Tensor {
  const inverse = new Int32Array(indices.length);
  indices.forEach((from, to) => (inverse[from] = to));
  const permute = tf.customGrad(((v: tf.Tensor) => ({
    value: tf.tidy(() => tf.gather(v, tf.tensor1d(indices, 'int32'), axis)),
    gradFunc: (dy: tf.Tensor) => tf.tidy(() => tf.gather(dy, tf.tensor1d(inverse, 'int32'), axis)),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return permute(x);
}

export interface FlatReorderConfig {
  /** The (height, width, channels) the vector was flattened from: reorder (h, w, c) → (c, h, w). */
  from?: [number, number, number];
  /** Or any explicit column order (ONNX Gather along axis 1 with constant indices). */
  indices?: number[];
  name?: string;
}

export class FlatReorder extends tfl.layers.Layer {
  static className = 'FlatReorder';
  readonly from?: [number, number, number];
  readonly indices: Int32Array;
  private readonly explicit: boolean;

  constructor(config: FlatReorderConfig) {
    super(config as LayerArgs);
    this.from = config.from;
    this.explicit = !config.from;
    if (config.from) {
      const [h, w, c] = config.from;
      // Output position (c, y, x) in CHW order reads TF's flattened index (y, x, c).
      this.indices = new Int32Array(h * w * c);
      for (let ci = 0; ci < c; ci++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) this.indices[(ci * h + y) * w + x] = (y * w + x) * c + ci;
    } else {
      this.indices = Int32Array.from(config.indices ?? []);
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const n = x.shape[1] as number;
    const indices = this.indices;
    // A permutation is gathered (its gradient by hand); any other selection goes through a one-hot matrix product.
    const isPermutation = indices.length === n && new Set(indices).size === n;
    if (isPermutation) return permuteAlong(x as tf.Tensor, indices, 1);
    return tf.tidy(() => tf.matMul(x as tf.Tensor2D, tf.transpose(tf.oneHot(tf.tensor1d(indices, 'int32'), n)) as tf.Tensor2D));
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [s[0], this.indices.length];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.explicit ? { indices: Array.from(this.indices) } : { from: this.from! }) };
  }
}

export interface ChannelShuffleConfig {
  /** Groups the channels are interleaved from (ShuffleNet's g). */
  groups: number;
  name?: string;
}

/**
 * ShuffleNet's channel shuffle — ONNX's Reshape to [N, g, C/g, H, W], Transpose [0, 2, 1, 3, 4], Reshape back —
 * as the channel permutation it is: output channel b·g + a reads input channel a·(C/g) + b.
 */
export class ChannelShuffle extends tfl.layers.Layer {
  static className = 'ChannelShuffle';
  readonly groups: number;

  constructor(config: ChannelShuffleConfig) {
    super(config as LayerArgs);
    this.groups = config.groups;
  }

  /** indices[j] = the input channel output channel j reads. */
  static indices(channels: number, groups: number): Int32Array {
    const per = channels / groups;
    return Int32Array.from({ length: channels }, (_, j) => (j % groups) * per + Math.floor(j / groups));
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const axis = x.shape.length - 1;
    return permuteAlong(x as tf.Tensor, ChannelShuffle.indices(x.shape[axis] as number, this.groups), axis);
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    return inputShape;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups };
  }
}

export interface CountedAveragePooling2DConfig {
  poolSize: [number, number];
  strides: [number, number];
  /** The zero padding the layer before added ([[top, bottom], [left, right]]): not counted in the averages. */
  pads: [Pair, Pair];
  name?: string;
}

/**
 * Average pooling that divides by the cells inside the image only (ONNX's count_include_pad = 0 with padding other
 * than TF's SAME — ShuffleNet's 3×3 / 2 pools): a valid average over the zero-padded input (the ZeroPadding2D
 * before it), times k²/(cells inside) at each output position.
 */
export class CountedAveragePooling2D extends tfl.layers.Layer {
  static className = 'CountedAveragePooling2D';
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly pads: [Pair, Pair];

  constructor(config: CountedAveragePooling2DConfig) {
    super(config as LayerArgs);
    this.poolSize = config.poolSize;
    this.strides = config.strides;
    this.pads = config.pads;
  }

  /** k² / (cells of the window inside the unpadded input), per output position, for a padded input of `hw`. */
  correction(hw: [number, number]): Float32Array {
    const [kh, kw] = this.poolSize;
    const [sh, sw] = this.strides;
    const oh = Math.floor((hw[0] - kh) / sh) + 1;
    const ow = Math.floor((hw[1] - kw) / sw) + 1;
    const inside = (start: number, k: number, before: number, size: number) => Math.max(0, Math.min(start + k, size - 0) - Math.max(start, before));
    const out = new Float32Array(oh * ow);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const rows = inside(y * sh, kh, this.pads[0][0], hw[0] - this.pads[0][1]);
        const cols = inside(x * sw, kw, this.pads[1][0], hw[1] - this.pads[1][1]);
        out[y * ow + x] = rows * cols > 0 ? (kh * kw) / (rows * cols) : 0;
      }
    }
    return out;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const pooled = tf.avgPool(x, this.poolSize, this.strides, 'valid');
      const [, oh, ow] = pooled.shape;
      return tf.mul(pooled, tf.tensor4d(this.correction([x.shape[1], x.shape[2]]), [1, oh, ow, 1]));
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape | tfl.Shape[] {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const dim = (n: number | null, a: 0 | 1) => (n === null ? null : Math.floor((n - this.poolSize[a]) / this.strides[a]) + 1);
    return [s[0], dim(s[1], 0), dim(s[2], 1), s[3]];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, pads: this.pads };
  }
}

tf.serialization.registerClass(ChannelShuffle);
tf.serialization.registerClass(CountedAveragePooling2D);
tf.serialization.registerClass(GroupedConv2D);
tf.serialization.registerClass(ChannelAffine);
tf.serialization.registerClass(ConstantPadding2D);
tf.serialization.registerClass(FlatReorder);
