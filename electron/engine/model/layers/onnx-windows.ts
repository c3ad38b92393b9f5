/**
 * Windowed layers ONNX writes and TF.js Layers lacks. Each runs forward, differentiates (projections use its
 * gradient) and serializes under its class name.
 *  - EdgePadding2D: spatial padding that repeats the image — `reflect` mirrors it without repeating the edge
 *    (PyTorch's ReflectionPad2d), `edge` repeats the edge cell (ReplicationPad2d).
 *  - DilatedPooling2D: max or average pooling whose window taps are `dilationRate` cells apart, or whose average
 *    divides by other than the whole window (ceil mode's partial last window, padding not counted); it pools a
 *    map the padding layer before it has already padded.
 *  - ZeroInsertion2D: (s − 1) zeros between neighbouring cells — the first step of a transposed convolution
 *    written as an ordinary one (ONNX ConvTranspose: spread, pad by k − 1 − pads, convolve with the flipped kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { firstInput, firstShape } from './layer-inputs';

type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];
type Pair = [number, number];

export interface EdgePadding2DConfig {
  /** [[top, bottom], [left, right]], ZeroPadding2D's layout, so receptive fields read it alike. */
  padding: [Pair, Pair];
  mode: 'reflect' | 'edge';
  name?: string;
}

/** `count` copies of the first (or last) row along `axis`, for edge padding. */
function edgeCopies(x: tf.Tensor4D, axis: 1 | 2, count: number, last: boolean): tf.Tensor4D {
  const size = x.shape[axis];
  const begin = [0, 0, 0, 0];
  const extent = [...x.shape];
  begin[axis] = last ? size - 1 : 0;
  extent[axis] = 1;
  const reps = [1, 1, 1, 1];
  reps[axis] = count;
  return tf.tile(tf.slice(x, begin, extent), reps);
}

export class EdgePadding2D extends tfl.layers.Layer {
  static className = 'EdgePadding2D';
  readonly padding: [Pair, Pair];
  readonly mode: 'reflect' | 'edge';

  constructor(config: EdgePadding2DConfig) {
    super(config as LayerArgs);
    this.padding = config.padding;
    this.mode = config.mode;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs) as tf.Tensor4D;
      if (this.mode === 'reflect') return tf.mirrorPad(x, [[0, 0], this.padding[0], this.padding[1], [0, 0]], 'reflect');
      let out = x;
      ([1, 2] as const).forEach((axis) => {
        const [before, after] = this.padding[axis - 1];
        const parts = [before ? edgeCopies(out, axis, before, false) : undefined, out, after ? edgeCopies(out, axis, after, true) : undefined];
        out = tf.concat(
          parts.filter((p): p is tf.Tensor4D => p !== undefined),
          axis,
        );
      });
      return out;
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = firstShape(inputShape);
    const grow = (n: number | null, p: Pair) => (n === null ? null : n + p[0] + p[1]);
    return [s[0], grow(s[1], this.padding[0]), grow(s[2], this.padding[1]), s[3]];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), padding: this.padding, mode: this.mode };
  }
}

export interface DilatedPooling2DConfig {
  mode: 'max' | 'avg';
  poolSize: Pair;
  strides: Pair;
  dilationRate: Pair;
  /** Of the padding the layer before added, what an average does not count ([[top, bottom], [left, right]]). */
  uncounted?: [Pair, Pair];
  name?: string;
}

/** Rows start, start + step, … (count of them) of a [N, H, W, C] map along `axis`, with pads, slices and reshapes only. */
function everyStep(x: tf.Tensor4D, axis: 1 | 2, start: number, step: number, count: number): tf.Tensor4D {
  if (step === 1 && start === 0 && count === x.shape[axis]) return x;
  // Room for the last step's unused cells, so the rows can be cut as count × step.
  const short = start + count * step - x.shape[axis];
  const padding: Array<[number, number]> = [
    [0, 0],
    [0, 0],
    [0, 0],
    [0, 0],
  ];
  padding[axis] = [0, Math.max(0, short)];
  const roomy = short > 0 ? tf.pad(x, padding) : x;
  const begin = [0, 0, 0, 0];
  const extent = [...x.shape];
  begin[axis] = start;
  extent[axis] = count * step;
  const span = tf.slice(roomy, begin, extent);
  if (step === 1) return span;
  // [.., count, step, ..] and keep index 0 of each step: a strided slice whose gradient TF.js has.
  const split = [...x.shape.slice(0, axis), count, step, ...x.shape.slice(axis + 1)];
  const first = tf.slice(
    tf.reshape(span, split),
    split.map(() => 0),
    split.map((d, i) => (i === axis + 1 ? 1 : d)),
  );
  const shape = [...x.shape] as [number, number, number, number];
  shape[axis] = count;
  return tf.reshape(first, shape);
}

export class DilatedPooling2D extends tfl.layers.Layer {
  static className = 'DilatedPooling2D';
  readonly mode: 'max' | 'avg';
  readonly poolSize: Pair;
  readonly strides: Pair;
  readonly dilationRate: Pair;
  readonly uncounted: [Pair, Pair];

  constructor(config: DilatedPooling2DConfig) {
    super(config as LayerArgs);
    this.mode = config.mode;
    this.poolSize = config.poolSize;
    this.strides = config.strides;
    this.dilationRate = config.dilationRate;
    this.uncounted = config.uncounted ?? [
      [0, 0],
      [0, 0],
    ];
  }

  /** Output size along one axis of a padded input of `size` cells. */
  private outSize(size: number, a: 0 | 1): number {
    return Math.floor((size - ((this.poolSize[a] - 1) * this.dilationRate[a] + 1)) / this.strides[a]) + 1;
  }

  /**
   * k² / (window taps inside the counted region), per output position, for a padded input of `hw`: what turns a
   * valid average (which divides by every tap) into the average of the counted taps. The layer and its ONNX export
   * both multiply by it.
   */
  averageCorrection(hw: Pair): Float32Array {
    const [oh, ow] = [this.outSize(hw[0], 0), this.outSize(hw[1], 1)];
    const taps = (o: number, a: 0 | 1) => {
      let n = 0;
      for (let k = 0; k < this.poolSize[a]; k++) {
        const at = o * this.strides[a] + k * this.dilationRate[a];
        if (at >= this.uncounted[a][0] && at < hw[a] - this.uncounted[a][1]) n++;
      }
      return n;
    };
    const out = new Float32Array(oh * ow);
    for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) out[y * ow + x] = (this.poolSize[0] * this.poolSize[1]) / Math.max(1, taps(y, 0) * taps(x, 1));
    return out;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs) as tf.Tensor4D;
      const [oh, ow] = [this.outSize(x.shape[1], 0), this.outSize(x.shape[2], 1)];
      const dilated = this.dilationRate.some((d) => d !== 1);
      // TF.js pools with dilation only at stride 1: pool every position, then keep every stride-th.
      let pooled = tf.pool(x, this.poolSize, this.mode, 'valid', this.dilationRate, dilated ? 1 : this.strides) as tf.Tensor4D;
      if (dilated) pooled = everyStep(everyStep(pooled, 1, 0, this.strides[0], oh), 2, 0, this.strides[1], ow);
      if (this.mode === 'max') return pooled;
      return tf.mul(pooled, tf.tensor4d(this.averageCorrection([x.shape[1], x.shape[2]]), [1, oh, ow, 1]));
    });
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = firstShape(inputShape);
    return [s[0], s[1] === null ? null : this.outSize(s[1], 0), s[2] === null ? null : this.outSize(s[2], 1), s[3]];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      mode: this.mode,
      poolSize: this.poolSize,
      strides: this.strides,
      dilationRate: this.dilationRate,
      uncounted: this.uncounted,
    };
  }
}

/** x with (s − 1) zeros between neighbouring cells along `axis` ((n − 1)·s + 1 cells), by pad-and-reshape. */
function spread(x: tf.Tensor4D, axis: 1 | 2, step: number): tf.Tensor4D {
  if (step === 1) return x;
  const shape = x.shape;
  const split = [...shape.slice(0, axis + 1), 1, ...shape.slice(axis + 1)];
  const padding = split.map((_, i): [number, number] => (i === axis + 1 ? [0, step - 1] : [0, 0]));
  const grown = [...shape] as [number, number, number, number];
  grown[axis] = shape[axis] * step;
  const spreadOut = tf.reshape(tf.pad(tf.reshape(x, split), padding), grown) as tf.Tensor4D;
  const extent = [...shape];
  extent[axis] = (shape[axis] - 1) * step + 1;
  return tf.slice(spreadOut, [0, 0, 0, 0], extent);
}

export class ZeroInsertion2D extends tfl.layers.Layer {
  static className = 'ZeroInsertion2D';
  readonly strides: Pair;

  constructor(config: { strides: Pair; name?: string }) {
    super(config as LayerArgs);
    this.strides = config.strides;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => spread(spread(firstInput(inputs) as tf.Tensor4D, 1, this.strides[0]), 2, this.strides[1]));
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = firstShape(inputShape);
    const grow = (n: number | null, k: number) => (n === null ? null : (n - 1) * k + 1);
    return [s[0], grow(s[1], this.strides[0]), grow(s[2], this.strides[1]), s[3]];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), strides: this.strides };
  }
}

tf.serialization.registerClass(ZeroInsertion2D);
tf.serialization.registerClass(EdgePadding2D);
tf.serialization.registerClass(DilatedPooling2D);
