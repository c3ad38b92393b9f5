/**
 * A training step's gradients as one ONNX graph, so ONNX Runtime's native kernels (every core) compute what
 * tfjs-wasm's autodiff does: the forward pass in training mode, softmax cross-entropy summed over the batch, and
 * the backward pass written out by hand, layer by layer — the gradient of every trainable weight.
 *
 * The graph takes the weights that learn as inputs (they change every step; frozen ones are constants), in the
 * engine's own layouts (HWIO kernels), and gives their gradients in the same layouts, so the training loop's
 * optimizers use them as they use tfjs's. Rules per layer family, in a table like the exporter's:
 *  - convolution: the patches (im2col) once, then the output and dW as two matrix products with them; dx as a
 *    convolution with the kernel flipped — on the batch stacked into one tall image (CNHW) or on the map as a
 *    volume (CHWN), stride 1 — or a transposed one (strided, CNHW);
 *  - depthwise convolution (multiplier 1, CNHW): grouped convolutions on the stacked batch, dW from its taps;
 *  - dense: two matrix products; max pooling: a scatter-add through MaxPool's indices (CNHW) or through the
 *    ArgMax of its gathered windows (CHWN);
 *  - TF's LRN written out (its window sums as a product with a band matrix), forward and backward;
 *  - dropout: a mask fed per step (`mask:<layer>`: 0 or 1/(1 − rate), drawn by the caller from a seeded generator);
 *  - ReLU (fused or its own layer, with or without a ceiling), flatten in TF's (h, w, c) order, global and unpadded average pooling, zero and
 *    constant padding, concatenation, residual adds — what torchvision's ResNet, MobileNetV2, VGG, AlexNet and SqueezeNet import as.
 * Batch normalisation in training mode and anything else is refused with MODEL_UNSUPPORTED_OP, and the loop keeps
 * to tfjs. Tests compare every gradient with tfjs's autodiff (tests/engine/onnx-gradients.test.ts).
 *
 * Maps are held channel-first inside (see MapLayout): a convolution's patches are then [kh·kw·C, N·h·w] without
 * a transpose, its product comes out in the same layout, and LRN's channel sums are one matrix product.
 *
 * Inputs: `input` [N, H, W, C] (NHWC), `labels` [N, K] one-hot, `w:<i>` per learning weight, `mask:<layer>` per
 * dropout layer (maps in the graph's layout). Outputs: `loss_sum` (the batch's summed loss), `grad:<i>` per
 * learning weight (HWIO kernels, or in `gradientLayouts`' layout where listed).
 */
import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../shared/errors';
import { lrnTerms } from './lrn-terms';
import { encodeOnnxModel, ONNX_DTYPE } from './proto';
import { GraphWriter, inboundLayers, intAttr, intsAttr, pair, paddingPairs, samePads, shapeOf, stringAttr } from './export';

export interface GradientGraph {
  bytes: Uint8Array;
  layout: MapLayout;
  /** The learning weights' shapes in the order of `trainable`: graph input `w:<i>` and output `grad:<i>`. */
  weightShapes: number[][];
  /** Learning kernels to feed again in another layout each step: input name, the weight's index, the layout. */
  kernelLayouts: Array<{ input: string; weight: number; layout: KernelLayout; shape: number[] }>;
  /** Learning kernels whose gradient comes out in another layout (the caller rearranges it back to HWIO). */
  gradientLayouts: Array<{ weight: number; layout: KernelLayout }>;
  /** Dropout masks to feed each step: input name, shape with −1 for the batch (maps in the graph's layout), the rate. */
  masks: Array<{ input: string; shape: number[]; rate: number }>;
  numClasses: number;
  /** About how many floats one image of a batch takes while the graph runs (maps, their gradients, patches). */
  floatsPerImage: number;
}

const GRADIENT_OPSET = 17;

function refuse(layer: tfl.layers.Layer, what: string): never {
  throw new InspectorError('MODEL_UNSUPPORTED_OP', `Training on ONNX Runtime cannot differentiate "${layer.name}" (${layer.getClassName()}): ${what}`);
}

/**
 * How the graph holds maps. CNHW ([C, N, h, w]): a convolution's patches are strided slices and its input gradient
 * a convolution on the batch stacked into one tall image — for large images in small batches. CHWN ([C, h, w, N],
 * the batch innermost): every cell is a block of N floats, so a convolution's patches, its input gradient's and a
 * max-pool's windows are one Gather each — 3–7× less time moving data than CNHW's slices of short rows, for
 * batches of 16 and more. Strided input gradients, depthwise convolutions and average pooling have CNHW rules only.
 */
export type MapLayout = 'cnhw' | 'chwn';

/** Where a layout keeps the spatial axes, and the permutations from and to NHWC. */
const AXES: Record<MapLayout, { spatial: number[]; fromNhwc: number[]; toNhwc: number[] }> = {
  cnhw: { spatial: [2, 3], fromNhwc: [3, 0, 1, 2], toNhwc: [1, 2, 3, 0] },
  chwn: { spatial: [1, 2], fromNhwc: [3, 1, 2, 0], toNhwc: [3, 1, 2, 0] },
};

/** A map's dims in `layout` (n: a size, or −1 for the batch). */
const mapDims = (layout: MapLayout, c: number, n: number, h: number, w: number) => (layout === 'cnhw' ? [c, n, h, w] : [c, h, w, n]);

/** ONNX Pad's pads for a map's spatial axes, given as [top, left, bottom, right]. */
const spatialPads = (layout: MapLayout, [t, l, b, r]: number[]) => (layout === 'cnhw' ? [0, 0, t, l, 0, 0, b, r] : [0, t, l, 0, 0, b, r, 0]);

/** A rule without a CHWN form: the caller writes the graph again in CNHW. */
function cnhwOnly(s: LayerStep, what: string): void {
  if (s.layout === 'chwn') refuse(s.layer, `${what} has no rule with the batch innermost`);
}

/** One layer being written: its inputs (CNHW maps), shapes (engine layout, no batch), and the graph's helpers. */
interface LayerStep {
  g: GraphWriter;
  layout: MapLayout;
  layer: tfl.layers.Layer;
  config: Record<string, unknown>;
  name: string;
  inputs: string[];
  inShapes: number[][];
  outShape: number[];
  /** The layer's i-th weight: a graph input when it learns (its gradient then goes to `addGradient`), else a constant. */
  weight(i: number): { tensor: string; learns: boolean };
  /** Whether the i-th weight learns (without writing it into the graph). */
  learns(i: number): boolean;
  /** The i-th weight (an HWIO kernel) in another layout, fed alongside it (or a constant) rather than rearranged in the graph. */
  kernelAs(i: number, layout: KernelLayout): string;
  /** The gradient of the layer's i-th weight (in `layout` where it is not the weight's own). */
  addGradient(weightIndex: number, gradient: string, layout?: KernelLayout): void;
  /** Whether the gradient at input j is needed (something below it learns). */
  needsInputGradient(j: number): boolean;
  /** A dropout mask input for this layer, of the given shape (without the batch). */
  maskInput(shape: number[], rate: number): string;
}

/**
 * Kernel layouts the backward pass needs: `oihw` (ONNX's) for a transposed convolution, `flipped-iohw` (in and out
 * swapped, both spatial axes reversed) for a stride-1 input gradient. The caller rearranges the learning kernels
 * once per step (kernelInLayout): ONNX Runtime's Transpose and reversed Slice of a 512×512×3×3 kernel take
 * 10–15 ms, and a large batch runs the graph several times.
 */
export type KernelLayout = 'oihw' | 'flipped-iohw' | 'ihwo';

/** An HWIO kernel [kh, kw, I, O] in `layout`. */
export const kernelInLayout = (data: Float32Array, hwio: number[], layout: KernelLayout) => rearrangeKernel(data, hwio, layout, true);

/** A kernel in `layout` back in HWIO (`hwio`: its HWIO shape). */
export const kernelFromLayout = (data: Float32Array, hwio: number[], layout: KernelLayout) => rearrangeKernel(data, hwio, layout, false);

function rearrangeKernel(data: Float32Array, [kh, kw, ci, co]: number[], layout: KernelLayout, toLayout: boolean): Float32Array {
  const out = new Float32Array(data.length);
  // Where HWIO's (y, x, i, o) lands: base + y·sy + x·sx + i·si + o·so (the flipped layout runs its spatial axes backwards).
  const [base, sy, sx, si, so] =
    layout === 'flipped-iohw'
      ? [kh * kw - 1, -kw, -1, co * kh * kw, kh * kw]
      : layout === 'oihw'
        ? [0, kw, 1, kh * kw, ci * kh * kw]
        : [0, kw * co, co, kh * kw * co, 1];
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++) {
        const from = ((y * kw + x) * ci + i) * co;
        const at = base + y * sy + x * sx + i * si;
        if (so === 1) out.set(toLayout ? data.subarray(from, from + co) : data.subarray(at, at + co), toLayout ? at : from);
        else if (toLayout) for (let o = 0; o < co; o++) out[at + o * so] = data[from + o];
        else for (let o = 0; o < co; o++) out[from + o] = data[at + o * so];
      }
  return out;
}

/** The shape of an HWIO kernel in `layout`. */
export const kernelShapeIn = ([kh, kw, ci, co]: number[], layout: KernelLayout): number[] =>
  layout === 'oihw' ? [co, ci, kh, kw] : layout === 'flipped-iohw' ? [ci, co, kh, kw] : [ci, kh, kw, co];

/** What a layer's forward rule returns: its output, and the way back from its output's gradient. */
interface Written {
  out: string;
  /** Gradients at each input (undefined where not needed). */
  back(dy: string): Array<string | undefined>;
}

const i64 = (g: GraphWriter, name: string, values: number[]) => g.constant(name, [values.length], values, ONNX_DTYPE.INT64);
const sumOver = (g: GraphWriter, t: string, axes: number[], name: string) =>
  g.node('ReduceSum', [t, i64(g, `${name}.axes`, axes)], name, [intAttr('keepdims', 0)]);

/** A fused activation after `z`: ReLU or none; returns the output and how a gradient passes back through it. */
function fusedActivation(s: LayerStep, z: string): { out: string; back(dy: string): string } {
  const act = s.config.activation ?? 'linear';
  if (act === 'linear') return { out: z, back: (dy) => dy };
  if (act !== 'relu') return refuse(s.layer, `the activation "${String(act)}"`);
  const out = s.g.node('Relu', [z], `${s.name}_relu`);
  return { out, back: (dy) => reluBack(s.g, out, dy, s.name) };
}

/** ReLU's derivative is 1 where its output is positive (a compare and a cast: ONNX Runtime's Sign is slower). */
function reluBack(g: GraphWriter, out: string, dy: string, name: string): string {
  const positive = g.node('Greater', [out, g.constant(`${name}.zero`, [], [0])], `${name}.positive`);
  return g.node('Mul', [dy, g.node('Cast', [positive], `${name}.relu_mask`, [intAttr('to', ONNX_DTYPE.FLOAT)])], `${name}.relu_back`);
}

function windowPads(s: LayerStep, k: number[], st: number[]): number[] {
  if (s.config.padding !== 'same') return [0, 0, 0, 0];
  const [h, w] = s.inShapes[0];
  const ph = samePads(h, k[0], st[0]);
  const pw = samePads(w, k[1], st[1]);
  return [ph[0], pw[0], ph[1], pw[1]];
}

/** A convolution's kernel size, strides and ONNX pads (dilated ones are refused). */
function convolutionWindow(s: LayerStep): { k: number[]; st: number[]; pads: number[] } {
  const k = pair(s.config.kernelSize, 1);
  const st = pair(s.config.strides, 1);
  const d = pair(s.config.dilationRate, 1);
  if (d[0] !== 1 || d[1] !== 1) return refuse(s.layer, 'dilated convolutions');
  return { k, st, pads: windowPads(s, k, st) };
}

/** Conv2D (no groups, no dilation): the forward product and the kernel's gradient share one set of patches. */
function conv(s: LayerStep): Written {
  const { g, config, name } = s;
  const { k, st, pads } = convolutionWindow(s);
  const strided = st[0] !== 1 || st[1] !== 1;
  if (strided && s.needsInputGradient(0)) cnhwOnly(s, 'a strided input gradient');
  // Not written into the graph unless used: CHWN reads a frozen kernel only in other layouts.
  const kernelLearns = s.learns(0);
  const bias = config.useBias === false ? undefined : s.weight(1);
  const [h, w, c] = s.inShapes[0];
  const [oh, ow, o] = s.outShape;
  const x = s.inputs[0];
  const chwn = s.layout === 'chwn';
  const biasColumn = bias ? [g.node('Reshape', [bias.tensor, i64(g, `${name}.bias_col`, [o, 1])], `${name}.bias_2d`)] : [];
  // CNHW's patches are tap-major rows, against the HWIO kernel read as [kh·kw·C, O]; CHWN's gathered ones are
  // channel-major, against the IHWO kernel read as [C·kh·kw, O] (its gradient comes out IHWO too).
  const cols = chwn
    ? gatheredPatches(g, x, { k, st, pads, inSize: [h, w], outSize: [oh, ow], channels: c }, name)
    : im2col(g, x, k, st, pads, [oh, ow], c, name);
  const kernel2d = g.node(
    'Reshape',
    [chwn ? s.kernelAs(0, 'ihwo') : s.weight(0).tensor, i64(g, `${name}.kernel_2d_shape`, [k[0] * k[1] * c, o])],
    `${name}.kernel_2d`,
  );
  const product = g.node('Gemm', [kernel2d, cols, ...biasColumn], `${name}_gemm`, [intAttr('transA', 1)]);
  const z = g.node('Reshape', [product, i64(g, `${name}.map_shape`, mapDims(s.layout, o, -1, oh, ow))], `${name}_conv`);
  const act = fusedActivation(s, z);
  return {
    out: act.out,
    back(dy) {
      const dz = act.back(dy);
      if (bias?.learns) s.addGradient(1, sumOver(g, dz, [1, 2, 3], `${name}.bias_grad`));
      const dz2d = g.node('Reshape', [dz, i64(g, `${name}.dz_2d_shape`, [o, -1])], `${name}.dz_2d`);
      if (kernelLearns) {
        // The patches first: ONNX Runtime packs the second operand, and dz is the smaller one.
        const dw = g.node('Gemm', [cols, dz2d], `${name}.kernel_grad_2d`, [intAttr('transB', 1)]);
        const shape = chwn ? [c, k[0], k[1], o] : [k[0], k[1], c, o];
        s.addGradient(0, g.node('Reshape', [dw, i64(g, `${name}.kernel_grad_shape`, shape)], `${name}.kernel_grad`), chwn ? 'ihwo' : undefined);
      }
      if (!s.needsInputGradient(0)) return [undefined];
      if (chwn) return [volumeTransposeConv(g, dz, s.kernelAs(0, 'flipped-iohw'), k, pads, [h, w], c, name)];
      return [
        strided
          ? stridedTransposeConv(g, dz, s.kernelAs(0, 'oihw'), k, st, pads, [h, w], [oh, ow], name)
          : stackedTransposeConv(g, dz, s.kernelAs(0, 'flipped-iohw'), k, pads, [h, w], [c, o], 1, name),
      ];
    },
  };
}

/** The pads of a stride-1 convolution's input gradient: what the kernel overhangs the output gradient by. */
const transposePads = (k: number[], pads: number[]) => [k[0] - 1 - pads[0], k[1] - 1 - pads[1], k[0] - 1 - pads[2], k[1] - 1 - pads[3]];

/** The lowest float: −∞ padding written as a finite value. */
const LOWEST_FLOAT = -3.4028234663852886e38;

/** For each window tap (row-major) and output position (row-major), the cell of the padded map it reads. */
function windowCells(k: number[], st: number[], [oh, ow]: number[], paddedWidth: number): number[] {
  const cells: number[] = [];
  for (let a = 0; a < k[0]; a++)
    for (let b = 0; b < k[1]; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) cells.push((i * st[0] + a) * paddedWidth + j * st[1] + b);
  return cells;
}

/** A window's kernel size, strides and ONNX pads, and the map it slides over (sizes without the batch). */
interface WindowedMap {
  k: number[];
  st: number[];
  pads: number[];
  inSize: number[];
  outSize: number[];
  channels: number;
}

/**
 * A CHWN map's windows: [C, kh·kw, oh·ow, N], one Gather of the padded map's cells (each a block of N floats) by
 * the constant table of windowCells. `fill` pads (0 for a convolution, the lowest float for a max-pool).
 */
function gatheredWindows(g: GraphWriter, x: string, { k, st, pads, inSize: [h, w], outSize: [oh, ow], channels }: WindowedMap, name: string, fill = 0) {
  const [hp, wp] = [h + pads[0] + pads[2], w + pads[1] + pads[3]];
  const padded = pads.some((p) => p > 0)
    ? g.node('Pad', [x, i64(g, `${name}.pads`, spatialPads('chwn', pads)), g.constant(`${name}.fill`, [], [fill])], `${name}.x_padded`)
    : x;
  const cells = g.node('Reshape', [padded, i64(g, `${name}.cells_shape`, [channels, hp * wp, -1])], `${name}.cells`);
  const table = g.constant(`${name}.window_cells`, [k[0] * k[1], oh * ow], windowCells(k, st, [oh, ow], wp), ONNX_DTYPE.INT64);
  return { cells, windows: g.node('Gather', [cells, table], `${name}.windows`, [intAttr('axis', 1)]), paddedSize: [hp, wp] };
}

/** The patches of a CHWN map as columns [C·kh·kw, oh·ow·N] (channel-major, then tap). */
function gatheredPatches(g: GraphWriter, x: string, map: WindowedMap, name: string) {
  const { windows } = gatheredWindows(g, x, map, name);
  return g.node('Reshape', [windows, i64(g, `${name}.cols_shape`, [map.channels * map.k[0] * map.k[1], -1])], `${name}.cols`);
}

/**
 * The input gradient of a stride-1 convolution of a CHWN map: the padded output gradient as one volume
 * [1, O, h, w, N] convolved by the flipped kernel with a depth of one — ONNX Runtime's Conv makes its patches in
 * cache-sized pieces, where gathering them whole would write O·kh·kw floats per cell first.
 */
function volumeTransposeConv(g: GraphWriter, dz: string, flipped: string, k: number[], pads: number[], [h, w]: number[], c: number, name: string): string {
  const backPads = transposePads(k, pads);
  const padded = backPads.some((p) => p > 0) ? g.node('Pad', [dz, i64(g, `${name}.dz_pads`, spatialPads('chwn', backPads))], `${name}.dz_padded`) : dz;
  const volume = g.node('Unsqueeze', [padded, i64(g, `${name}.volume_axis`, [0])], `${name}.dz_volume`);
  const kernel = g.node('Unsqueeze', [flipped, i64(g, `${name}.depth_axis`, [4])], `${name}.flipped_volume`);
  const conv = g.node('Conv', [volume, kernel], `${name}.x_grad_volume`);
  return g.node('Reshape', [conv, i64(g, `${name}.x_grad_shape`, [c, h, w, -1])], `${name}.x_grad`);
}

/**
 * DepthwiseConv2D (one filter per channel): the forward pass as a grouped convolution on the stacked batch, each
 * channel's kernel gradient as its taps times the output gradient summed, the input gradient as the flipped
 * grouped convolution (stride 1) or a grouped transposed one.
 */
function depthwise(s: LayerStep): Written {
  const { g, config, name } = s;
  cnhwOnly(s, 'a depthwise convolution');
  const { k, st, pads } = convolutionWindow(s);
  if (Number(config.depthMultiplier ?? 1) !== 1) return refuse(s.layer, 'a depth multiplier other than 1');
  const [h, w, c] = s.inShapes[0];
  const [oh, ow] = s.outShape;
  if ((h + pads[0] + pads[2]) % st[0] !== 0) return refuse(s.layer, 'a padded height that is not a multiple of the stride');
  const kernel = s.weight(0);
  const bias = config.useBias === false ? undefined : s.weight(1);
  // The [kh, kw, C, 1] kernel read as HWIO with I = C, O = 1: its OIHW and flipped layouts are [C, 1, kh, kw] in memory.
  const asGrouped = (t: string, what: string) => g.node('Reshape', [t, i64(g, `${name}.${what}_shape`, [c, 1, k[0], k[1]])], `${name}.${what}`);
  const oihw = asGrouped(s.kernelAs(0, 'oihw'), 'grouped');
  const x = s.inputs[0];
  let z = stackedConv(g, x, oihw, { k, st, pads, group: c, inSize: [h, w], outSize: [oh, ow], channels: [c, c] }, `${name}_depthwise`);
  if (bias) z = g.node('Add', [z, g.node('Reshape', [bias.tensor, i64(g, `${name}.bias_shape`, [c, 1, 1, 1])], `${name}.bias_4d`)], `${name}_biased`);
  const act = fusedActivation(s, z);
  return {
    out: act.out,
    back(dy) {
      const dz = act.back(dy);
      if (bias?.learns) s.addGradient(1, sumOver(g, dz, [1, 2, 3], `${name}.bias_grad`));
      if (kernel.learns) {
        const perTap = tapsOf(g, x, k, st, pads, [oh, ow], name).map((tap) =>
          sumOver(g, g.node('Mul', [tap, dz], `${name}.tap_dz`), [1, 2, 3], `${name}.tap_grad`),
        );
        const stacked = g.node('Concat', perTap, `${name}.kernel_grad_taps`, [intAttr('axis', 0)]);
        s.addGradient(0, g.node('Reshape', [stacked, i64(g, `${name}.hwc1`, [k[0], k[1], c, 1])], `${name}.kernel_grad`));
      }
      if (!s.needsInputGradient(0)) return [undefined];
      if (st[0] === 1 && st[1] === 1)
        return [stackedTransposeConv(g, dz, asGrouped(s.kernelAs(0, 'flipped-iohw'), 'flipped'), k, pads, [h, w], [c, c], c, name)];
      return [stridedTransposeConv(g, dz, oihw, k, st, pads, [h, w], [oh, ow], name, c)];
    },
  };
}

/** One strided slice of the padded map per kernel tap (tap-major): the patches' rows, before stacking. */
function tapsOf(g: GraphWriter, x: string, k: number[], st: number[], pads: number[], [oh, ow]: number[], name: string): string[] {
  const padded = pads.some((p) => p > 0) ? g.node('Pad', [x, i64(g, `${name}.pads`, [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]])], `${name}.x_padded`) : x;
  const axes = i64(g, `${name}.tap_axes`, [2, 3]);
  const steps = i64(g, `${name}.tap_steps`, st);
  const taps: string[] = [];
  for (let i = 0; i < k[0]; i++)
    for (let j = 0; j < k[1]; j++) {
      const from = i64(g, `${name}.tap_from`, [i, j]);
      const to = i64(g, `${name}.tap_to`, [i + (oh - 1) * st[0] + 1, j + (ow - 1) * st[1] + 1]);
      taps.push(g.node('Slice', [padded, from, to, axes, steps], `${name}.tap`));
    }
  return taps;
}

/**
 * The patches of a CNHW map as columns: [kh·kw·C, N·oh·ow], one strided slice per kernel tap stacked tap-major,
 * so the convolution is one matrix product with all the batch in it (ONNX Runtime's Conv with a kernel given at
 * run time loops over the images with small products, and its kernel gradient as a Conv is slower still).
 */
function im2col(g: GraphWriter, x: string, k: number[], st: number[], pads: number[], [oh, ow]: number[], c: number, name: string): string {
  const taps = tapsOf(g, x, k, st, pads, [oh, ow], name);
  const stacked = taps.length === 1 ? taps[0] : g.node('Concat', taps, `${name}.taps`, [intAttr('axis', 0)]);
  return g.node('Reshape', [stacked, i64(g, `${name}.cols_shape`, [k[0] * k[1] * c, -1])], `${name}.cols`);
}

/**
 * A convolution of a CNHW map on the batch stacked into one tall image (each sample padded by its own rows, so none
 * reads its neighbour): one big product for ONNX Runtime, which otherwise loops over the images with small ones
 * when the kernel is given at run time. Rows that straddle two samples are cut away. Needs the padded height to
 * be a multiple of the stride, so every sample starts on a row the stride reads.
 */
function stackedConv(
  g: GraphWriter,
  x: string,
  weight: string,
  {
    k,
    st,
    pads,
    group,
    inSize: [h, w],
    outSize: [oh, ow],
    channels: [cin, cout],
  }: { k: number[]; st: number[]; pads: number[]; group: number; inSize: number[]; outSize: number[]; channels: number[] },
  name: string,
): string {
  const tall = h + pads[0] + pads[2];
  const padded = pads[0] || pads[2] ? g.node('Pad', [x, i64(g, `${name}.row_pads`, [0, 0, pads[0], 0, 0, 0, pads[2], 0])], `${name}.rows_padded`) : x;
  const stacked = g.node('Reshape', [padded, i64(g, `${name}.stacked_shape`, [1, cin, -1, w])], `${name}.stacked`);
  // The columns are padded by the convolution, and the last sample's tail so it yields as many rows as the others.
  const tail = Math.max(0, k[0] - st[0]);
  const conv = g.node('Conv', [stacked, weight], `${name}.stacked_conv`, [
    intsAttr('strides', st),
    intsAttr('pads', [0, pads[1], tail, pads[3]]),
    intAttr('group', group),
  ]);
  const perSample = g.node('Reshape', [conv, i64(g, `${name}.per_sample`, [cout, -1, tall / st[0], ow])], `${name}.sample_rows`);
  return g.node('Slice', [perSample, i64(g, `${name}.row_from`, [0]), i64(g, `${name}.row_to`, [oh]), i64(g, `${name}.row_axis`, [2])], `${name}.unstacked`);
}

/** The input gradient of a stride-1 convolution: a convolution of the output gradient by the kernel flipped (in/out swapped). */
function stackedTransposeConv(
  g: GraphWriter,
  dz: string,
  flipped: string,
  k: number[],
  pads: number[],
  [h, w]: number[],
  [c, o]: number[],
  group: number,
  name: string,
): string {
  const backPads = transposePads(k, pads);
  const [oh, ow] = [h + pads[0] + pads[2] - k[0] + 1, w + pads[1] + pads[3] - k[1] + 1];
  return stackedConv(g, dz, flipped, { k, st: [1, 1], pads: backPads, group, inSize: [oh, ow], outSize: [h, w], channels: [o, c] }, `${name}.x_grad`);
}

/** The input gradient of a strided convolution: ONNX's transposed convolution, in NCHW. */
function stridedTransposeConv(
  g: GraphWriter,
  dz: string,
  oihw: string,
  k: number[],
  st: number[],
  pads: number[],
  [h, w]: number[],
  [oh, ow]: number[],
  name: string,
  group = 1,
): string {
  const outputPadding = [h - (st[0] * (oh - 1) + k[0] - pads[0] - pads[2]), w - (st[1] * (ow - 1) + k[1] - pads[1] - pads[3])];
  const nchw = g.node('Transpose', [dz], `${name}.dz_nchw`, [intsAttr('perm', [1, 0, 2, 3])]);
  const dx = g.node('ConvTranspose', [nchw, oihw], `${name}.x_grad_nchw`, [
    intAttr('group', group),
    intsAttr('strides', st),
    intsAttr('pads', pads),
    intsAttr('output_padding', outputPadding),
  ]);
  return g.node('Transpose', [dx], `${name}.x_grad`, [intsAttr('perm', [1, 0, 2, 3])]);
}

/** Dense on a vector. */
function dense(s: LayerStep): Written {
  const { g, config, name } = s;
  if (s.inShapes[0].length !== 1) return refuse(s.layer, 'a dense layer on a map');
  const kernel = s.weight(0);
  const bias = config.useBias === false ? undefined : s.weight(1);
  const x = s.inputs[0];
  const act = fusedActivation(s, g.node('Gemm', [x, kernel.tensor, ...(bias ? [bias.tensor] : [])], `${name}_gemm`));
  return {
    out: act.out,
    back(dy) {
      const dz = act.back(dy);
      if (bias?.learns) s.addGradient(1, sumOver(g, dz, [0], `${name}.bias_grad`));
      if (kernel.learns) s.addGradient(0, g.node('Gemm', [x, dz], `${name}.kernel_grad`, [intAttr('transA', 1)]));
      return [s.needsInputGradient(0) ? g.node('Gemm', [dz, kernel.tensor], `${name}.x_grad`, [intAttr('transB', 1)]) : undefined];
    },
  };
}

/** MaxPooling2D: the gradient goes to each window's maximum (MaxPool's indices), added up where windows overlap. */
function maxPool(s: LayerStep): Written {
  const { g, config, name } = s;
  const k = pair(config.poolSize, 2);
  const st = pair(config.strides ?? config.poolSize, 2);
  if (s.layout === 'chwn') return gatheredMaxPool(s, k, st);
  const [out, indices] = g.nodeOutputs(
    'MaxPool',
    [s.inputs[0]],
    [name, `${name}.argmax`],
    [intsAttr('kernel_shape', k), intsAttr('strides', st), intsAttr('pads', windowPads(s, k, st))],
  );
  return {
    out,
    back(dy) {
      if (!s.needsInputGradient(0)) return [undefined];
      const shape = g.node('Shape', [s.inputs[0]], `${name}.in_shape`);
      const flat = i64(g, `${name}.flat`, [-1]);
      const zeros = g.node('Reshape', [g.node('ConstantOfShape', [shape], `${name}.zeros`), flat], `${name}.zeros_flat`);
      const scattered = g.node(
        'ScatterElements',
        [zeros, g.node('Reshape', [indices, flat], `${name}.argmax_flat`), g.node('Reshape', [dy, flat], `${name}.dy_flat`)],
        `${name}.x_grad_flat`,
        [intAttr('axis', 0), stringAttr('reduction', 'add')],
      );
      return [g.node('Reshape', [scattered, shape], `${name}.x_grad`)];
    },
  };
}

/**
 * MaxPooling2D of a CHWN map: its windows gathered, their maximum; the gradient goes to each window's first
 * maximum (ArgMax, as MaxPool's indices and tfjs pick it) by a scatter-add into the padded map's cells.
 */
function gatheredMaxPool(s: LayerStep, k: number[], st: number[]): Written {
  const { g, name } = s;
  const [h, w, c] = s.inShapes[0];
  const [oh, ow] = s.outShape;
  const pads = windowPads(s, k, st);
  const { cells, windows, paddedSize } = gatheredWindows(g, s.inputs[0], { k, st, pads, inSize: [h, w], outSize: [oh, ow], channels: c }, name, LOWEST_FLOAT);
  const maxima = g.node('ReduceMax', [windows], `${name}.maxima`, [intsAttr('axes', [1]), intAttr('keepdims', 0)]);
  return {
    out: g.node('Reshape', [maxima, i64(g, `${name}.map_shape`, [c, oh, ow, -1])], name),
    back(dy) {
      if (!s.needsInputGradient(0)) return [undefined];
      const tap = g.node('ArgMax', [windows], `${name}.argmax`, [intAttr('axis', 1), intAttr('keepdims', 0), intAttr('select_last_index', 0)]);
      const wp = paddedSize[1];
      // A window's cell = its first cell + its tap's offset from there.
      const tapOffsets = windowCells(k, st, [1, 1], wp);
      const windowStarts = windowCells([1, 1], st, [oh, ow], wp);
      const cell = g.node(
        'Add',
        [
          g.node('Gather', [i64(g, `${name}.tap_offsets`, tapOffsets), tap], `${name}.tap_offset`),
          g.constant(`${name}.window_starts`, [1, oh * ow, 1], windowStarts, ONNX_DTYPE.INT64),
        ],
        `${name}.argmax_cell`,
      );
      const zeros = g.node('ConstantOfShape', [g.node('Shape', [cells], `${name}.cells_dims`)], `${name}.zeros`);
      const dyCells = g.node('Reshape', [dy, i64(g, `${name}.dy_cells_shape`, [c, oh * ow, -1])], `${name}.dy_cells`);
      const scattered = g.node('ScatterElements', [zeros, cell, dyCells], `${name}.x_grad_cells`, [intAttr('axis', 1), stringAttr('reduction', 'add')]);
      const padded = g.node('Reshape', [scattered, i64(g, `${name}.padded_shape`, [c, paddedSize[0], wp, -1])], `${name}.x_grad_padded`);
      if (!pads.some((p) => p > 0)) return [padded];
      return [
        g.node(
          'Slice',
          [padded, i64(g, `${name}.crop_from`, [pads[0], pads[1]]), i64(g, `${name}.crop_to`, [pads[0] + h, pads[1] + w]), i64(g, `${name}.crop_axes`, [1, 2])],
          `${name}.x_grad`,
        ),
      ];
    },
  };
}

/** TF's LRN (lrn-terms.ts), its channel sums over the CNHW map read as [C, N·h·w]. */
function lrn(s: LayerStep): Written {
  const { g, config, name } = s;
  const x = s.inputs[0];
  const terms = lrnTerms(g, name, x, s.inShapes[0][2], config, [s.inShapes[0][2], -1]);
  const out = g.node('Mul', [x, terms.factor], name);
  return {
    out,
    back: (dy) => [s.needsInputGradient(0) ? terms.inputGradient(dy, out) : undefined],
  };
}

/** Dropout: times the step's mask (0, or 1 / (1 − rate) to keep the expected value). */
function dropout(s: LayerStep): Written {
  const rate = Number(s.config.rate ?? 0);
  if (s.config.noiseShape) return refuse(s.layer, 'a dropout noise shape');
  if (!(rate > 0)) return { out: s.inputs[0], back: (dy) => [dy] };
  const [h, w, c] = s.inShapes[0];
  const shape = s.inShapes[0].length === 3 ? mapDims(s.layout, c, -1, h, w) : [-1, ...s.inShapes[0]];
  const mask = s.maskInput(shape, rate);
  return {
    out: s.g.node('Mul', [s.inputs[0], mask], s.name),
    back: (dy) => [s.g.node('Mul', [dy, mask], `${s.name}.x_grad`)],
  };
}

/** ReLU (without a ceiling) and Activation (ReLU or linear). */
function relu(s: LayerStep): Written {
  if (s.layer.getClassName() === 'ReLU') {
    const max = s.config.maxValue;
    if (max !== null && max !== undefined) return cappedRelu(s, Number(max));
    return reluOf(s, s.inputs[0]);
  }
  const act = fusedActivation(s, s.inputs[0]);
  return { out: act.out, back: (dy) => [act.back(dy)] };
}

/** ReLU with a ceiling (MobileNet's ReLU6): the gradient passes where the output is strictly between 0 and the ceiling. */
function cappedRelu(s: LayerStep, max: number): Written {
  const { g, name } = s;
  const ceiling = g.constant(`${name}.max`, [], [max]);
  const out = g.node('Clip', [s.inputs[0], g.constant(`${name}.min`, [], [0]), ceiling], name);
  return {
    out,
    back(dy) {
      const below = g.node('Cast', [g.node('Less', [out, ceiling], `${name}.below`)], `${name}.below_mask`, [intAttr('to', ONNX_DTYPE.FLOAT)]);
      return [g.node('Mul', [reluBack(g, out, dy, name), below], `${name}.x_grad`)];
    },
  };
}

function reluOf(s: LayerStep, x: string): Written {
  const out = s.g.node('Relu', [x], s.name);
  return { out, back: (dy) => [reluBack(s.g, out, dy, s.name)] };
}

/** Flatten in TF's (h, w, c) order, and back to the map. */
function flatten(s: LayerStep): Written {
  const { g, name } = s;
  const inShape = s.inShapes[0];
  if (inShape.length === 1) return { out: s.inputs[0], back: (dy) => [dy] };
  if (inShape.length !== 3) return refuse(s.layer, 'a flatten of a rank other than 3');
  const [h, w, c] = inShape;
  const nhwc = g.node('Transpose', [s.inputs[0]], `${name}_to_nhwc`, [intsAttr('perm', AXES[s.layout].toNhwc)]);
  return {
    out: g.node('Flatten', [nhwc], name, [intAttr('axis', 1)]),
    back(dy) {
      const map = g.node('Reshape', [dy, i64(g, `${name}.nhwc`, [-1, h, w, c])], `${name}.dy_nhwc`);
      return [g.node('Transpose', [map], `${name}.x_grad`, [intsAttr('perm', AXES[s.layout].fromNhwc)])];
    },
  };
}

/** GlobalAveragePooling2D: each cell gets 1 / (h·w) of its channel's gradient. */
function globalAverage(s: LayerStep): Written {
  const { g, name } = s;
  const [h, w, c] = s.inShapes[0];
  const means = g.node('ReduceMean', [s.inputs[0]], `${name}_pool`, [intsAttr('axes', AXES[s.layout].spatial), intAttr('keepdims', 0)]);
  const out = g.node('Transpose', [means], name, [intsAttr('perm', [1, 0])]);
  return {
    out,
    back(dy) {
      const columns = g.node('Transpose', [dy], `${name}.dy_cn`, [intsAttr('perm', [1, 0])]);
      const scaled = g.node(
        'Mul',
        [
          g.node('Reshape', [columns, i64(g, `${name}.c_n_1_1`, mapDims(s.layout, c, -1, 1, 1))], `${name}.dy_map`),
          g.constant(`${name}.share`, [], [1 / (h * w)]),
        ],
        `${name}.dy_share`,
      );
      return [g.node('Expand', [scaled, g.node('Shape', [s.inputs[0]], `${name}.x_shape`)], `${name}.x_grad`)];
    },
  };
}

/** ZeroPadding2D, ConstantPadding2D (−∞ before a max-pool): the padding, and the gradient cropped back. */
function padding(s: LayerStep): Written {
  const { g, config, name } = s;
  const [[t, b], [l, r]] = paddingPairs(config.padding);
  const raw = s.layer.getClassName() === 'ConstantPadding2D' ? config.value : 0;
  const value = raw === '-Infinity' ? LOWEST_FLOAT : raw === 'Infinity' ? -LOWEST_FLOAT : Number(raw);
  const out = g.node('Pad', [s.inputs[0], i64(g, `${name}.pads`, spatialPads(s.layout, [t, l, b, r])), g.constant(`${name}.value`, [], [value])], name);
  const [h, w] = s.inShapes[0];
  return {
    out,
    back: (dy) => [
      g.node(
        'Slice',
        [dy, i64(g, `${name}.from`, [t, l]), i64(g, `${name}.to`, [t + h, l + w]), i64(g, `${name}.axes`, AXES[s.layout].spatial)],
        `${name}.x_grad`,
      ),
    ],
  };
}

/**
 * AveragePooling2D without padding (the imported networks' final pooling): each cell gets its windows' gradients
 * over the window size — the transposed convolution of a kernel of 1 / (kh·kw), on the maps as one channel each.
 */
function averagePool(s: LayerStep): Written {
  const { g, config, name } = s;
  const k = pair(config.poolSize, 2);
  const st = pair(config.strides ?? config.poolSize, 2);
  const pads = windowPads(s, k, st);
  if (pads.some((p) => p > 0)) return refuse(s.layer, 'average pooling with padding');
  cnhwOnly(s, 'average pooling');
  const out = g.node('AveragePool', [s.inputs[0]], name, [intsAttr('kernel_shape', k), intsAttr('strides', st)]);
  const [h, w] = s.inShapes[0];
  const [oh, ow] = s.outShape;
  return {
    out,
    back(dy) {
      if (!s.needsInputGradient(0)) return [undefined];
      const planes = g.node('Reshape', [dy, i64(g, `${name}.planes`, [-1, 1, oh, ow])], `${name}.dy_planes`);
      const share = g.constant(`${name}.share`, [1, 1, k[0], k[1]], new Float32Array(k[0] * k[1]).fill(1 / (k[0] * k[1])));
      const outputPadding = [h - (st[0] * (oh - 1) + k[0]), w - (st[1] * (ow - 1) + k[1])];
      const spread = g.node('ConvTranspose', [planes, share], `${name}.spread`, [intsAttr('strides', st), intsAttr('output_padding', outputPadding)]);
      return [g.node('Reshape', [spread, g.node('Shape', [s.inputs[0]], `${name}.x_shape`)], `${name}.x_grad`)];
    },
  };
}

/** Concatenate along the channels (the first axis of maps, the last of vectors), and the gradient split back. */
function concatenate(s: LayerStep): Written {
  const { g, config, name } = s;
  const rank = s.inShapes[0].length;
  const axis = Number(config.axis ?? -1);
  if (axis !== -1 && axis !== rank) return refuse(s.layer, `concatenation along axis ${axis}`);
  const onnxAxis = rank === 3 ? 0 : 1;
  const sizes = s.inShapes.map((shape) => shape[shape.length - 1]);
  return {
    out: g.node('Concat', s.inputs, name, [intAttr('axis', onnxAxis)]),
    back: (dy) =>
      g.nodeOutputs(
        'Split',
        [dy, i64(g, `${name}.sizes`, sizes)],
        sizes.map((_, i) => `${name}.x_grad_${i}`),
        [intAttr('axis', onnxAxis)],
      ),
  };
}

/** Add: the gradient copied down every input. */
function add(s: LayerStep): Written {
  const out = s.inputs.length === 2 ? s.g.node('Add', s.inputs, s.name) : s.g.node('Sum', s.inputs, s.name);
  return { out, back: (dy) => s.inputs.map(() => dy) };
}

/** Layer class → its forward rule (which also knows the way back). */
const TRAINING_RULES: Record<string, (s: LayerStep) => Written> = {
  Conv2D: conv,
  DepthwiseConv2D: depthwise,
  Dense: dense,
  MaxPooling2D: maxPool,
  LRN: lrn,
  Dropout: dropout,
  ReLU: relu,
  Activation: relu,
  Flatten: flatten,
  GlobalAveragePooling2D: globalAverage,
  AveragePooling2D: averagePool,
  ZeroPadding2D: padding,
  ConstantPadding2D: padding,
  Concatenate: concatenate,
  Add: add,
};

/**
 * The gradient graph of `lossModel` (it outputs logits; see the file comment) for the weights in `trainable`
 * (variables, in the order the gradients are wanted).
 */
export function exportGradientGraph(lossModel: tfl.LayersModel, trainable: tf.Variable[], layout: MapLayout = 'cnhw'): GradientGraph {
  if (lossModel.inputs.length !== 1 || lossModel.outputs.length !== 1)
    throw new InspectorError('MODEL_UNSUPPORTED_OP', 'Training on ONNX Runtime needs one input and one output');
  const inputShape = shapeOf(lossModel.inputs[0]);
  if (inputShape.length !== 3) throw new InspectorError('MODEL_UNSUPPORTED_OP', 'Training on ONNX Runtime needs an image input');
  const outShape = shapeOf(lossModel.outputs[0]);
  if (outShape.length !== 1) throw new InspectorError('MODEL_UNSUPPORTED_OP', 'Training on ONNX Runtime needs a vector of class scores');
  const numClasses = outShape[0];
  const g = new GraphWriter();
  // The graph's own input and output names, kept from the layers' nodes.
  for (const reserved of ['input', 'labels', 'loss_sum', ...trainable.flatMap((_, i) => [`w:${i}`, `grad:${i}`])]) g.fresh(reserved);
  const index = new Map(trainable.map((v, i) => [v.name, i]));
  const gradients = new Map<number, string>();
  const masks: GradientGraph['masks'] = [];
  const kernelLayouts: GradientGraph['kernelLayouts'] = [];
  const gradientLayouts: GradientGraph['gradientLayouts'] = [];
  const inputLayer = lossModel.inputs[0].sourceLayer as tfl.layers.Layer;
  const tensorOf = new Map<string, string>([
    [inputLayer.name, g.node('Transpose', ['input'], `input_to_${layout}`, [intsAttr('perm', AXES[layout].fromNhwc)])],
  ]);
  const learnsBelow = new Map<string, boolean>([[inputLayer.name, false]]);
  const written: Array<{ layer: tfl.layers.Layer; inbound: tfl.layers.Layer[]; back: Written['back'] }> = [];
  for (const layer of lossModel.layers) {
    if (layer === inputLayer || layer.getClassName() === 'InputLayer') continue;
    const rule = TRAINING_RULES[layer.getClassName()];
    if (!rule) refuse(layer, 'no gradient rule for it yet');
    const inbound = inboundLayers(layer);
    const inputs = inbound.map((l) => tensorOf.get(l.name) ?? refuse(layer, `its input "${l.name}" was not written`));
    const variables = layer.weights.map((w) => w.read() as tf.Variable);
    const step: LayerStep = {
      g,
      layout,
      layer,
      config: layer.getConfig() as Record<string, unknown>,
      name: layer.name,
      inputs,
      inShapes: inbound.map((l) => shapeOf(l.output as tfl.SymbolicTensor)),
      outShape: shapeOf(layer.output as tfl.SymbolicTensor),
      weight(i) {
        const v = variables[i];
        if (!v) return refuse(layer, `its weight ${i} is missing`);
        const at = index.get(v.name);
        if (at !== undefined) return { tensor: `w:${at}`, learns: true };
        return { tensor: g.constant(`${layer.name}.w${i}`, v.shape, v.dataSync() as Float32Array), learns: false };
      },
      learns: (i) => variables[i] !== undefined && index.has(variables[i].name),
      kernelAs(i, layout) {
        const v = variables[i];
        const shape = kernelShapeIn(v.shape, layout);
        const at = index.get(v.name);
        if (at === undefined) return g.constant(`${layer.name}.w${i}.${layout}`, shape, kernelInLayout(v.dataSync() as Float32Array, v.shape, layout));
        const input = `w:${at}:${layout}`;
        if (!kernelLayouts.some((k) => k.input === input)) kernelLayouts.push({ input, weight: at, layout, shape });
        return input;
      },
      addGradient(i, gradient, gradientLayout) {
        const at = index.get(variables[i].name)!;
        gradients.set(at, gradient);
        if (gradientLayout) gradientLayouts.push({ weight: at, layout: gradientLayout });
      },
      needsInputGradient: (j) => learnsBelow.get(inbound[j].name) === true,
      maskInput(shape, rate) {
        const input = `mask:${layer.name}`;
        masks.push({ input, shape, rate });
        return input;
      },
    };
    const out = rule(step);
    tensorOf.set(layer.name, out.out);
    learnsBelow.set(layer.name, variables.some((v) => index.has(v.name)) || inbound.some((l) => learnsBelow.get(l.name)));
    written.push({ layer, inbound, back: out.back });
  }
  const logits = tensorOf.get((lossModel.outputs[0].sourceLayer as tfl.layers.Layer).name)!;
  writeLossAndBackward(g, logits, written, learnsBelow);
  const missing = trainable.filter((_, i) => !gradients.has(i));
  if (missing.length)
    throw new InspectorError('MODEL_UNSUPPORTED_OP', `Training on ONNX Runtime found no gradient for ${missing.map((v) => v.name).join(', ')}`);
  trainable.forEach((_, i) => g.node('Identity', [gradients.get(i)!], `grad:${i}`, [], `grad:${i}`));
  return {
    layout,
    floatsPerImage: gradientFloatsPerImage(lossModel),
    bytes: encodeGradientGraph(g, inputShape, numClasses, trainable, { masks, kernelLayouts, gradientLayouts }),
    weightShapes: trainable.map((v) => v.shape.slice()),
    kernelLayouts,
    gradientLayouts,
    masks,
    numClasses,
  };
}

/**
 * The working memory of one image: every layer's output three times over (its value, its gradient, a mask or a
 * copy), and each convolution's patches twice (the forward's, and the input gradient's inside ONNX Runtime's Conv).
 */
export function gradientFloatsPerImage(lossModel: tfl.LayersModel): number {
  let floats = 0;
  for (const layer of lossModel.layers) {
    const out = shapeOf(layer.output as tfl.SymbolicTensor);
    const size = out.reduce((a, b) => a * b, 1);
    floats += 3 * size;
    if (layer.getClassName() === 'Conv2D') {
      const k = pair((layer.getConfig() as Record<string, unknown>).kernelSize, 1);
      const c = shapeOf(inboundLayers(layer)[0].output as tfl.SymbolicTensor)[2];
      floats += 2 * k[0] * k[1] * c * out[0] * out[1];
    }
  }
  return floats;
}

/** The summed softmax cross-entropy, its gradient (softmax − labels), and every layer's way back in reverse order. */
function writeLossAndBackward(
  g: GraphWriter,
  logits: string,
  written: Array<{ layer: tfl.layers.Layer; inbound: tfl.layers.Layer[]; back: Written['back'] }>,
  learnsBelow: Map<string, boolean>,
): void {
  const logProbs = g.node('LogSoftmax', [logits], 'log_probs', [intAttr('axis', 1)]);
  g.node('Neg', [g.node('ReduceSum', [g.node('Mul', ['labels', logProbs], 'picked')], 'loss_neg', [intAttr('keepdims', 0)])], 'loss_sum', [], 'loss_sum');
  const last = written[written.length - 1].layer.name;
  const incoming = new Map<string, string[]>([[last, [g.node('Sub', [g.node('Softmax', [logits], 'probs', [intAttr('axis', 1)]), 'labels'], 'logits_grad')]]]);
  for (let i = written.length - 1; i >= 0; i--) {
    const { layer, inbound, back } = written[i];
    const parts = incoming.get(layer.name);
    if (!parts || !learnsBelow.get(layer.name)) continue;
    const dy = parts.length === 1 ? parts[0] : g.node('Sum', parts, `${layer.name}.grad_sum`);
    back(dy).forEach((dx, j) => {
      if (dx !== undefined) incoming.set(inbound[j].name, [...(incoming.get(inbound[j].name) ?? []), dx]);
    });
  }
}

function valueInfo(name: string, elemType: number, shape: Array<number | string>) {
  return { name, type: { tensorType: { elemType, shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } } };
}

function encodeGradientGraph(
  g: GraphWriter,
  inputShape: number[],
  numClasses: number,
  trainable: tf.Variable[],
  { masks, kernelLayouts, gradientLayouts }: Pick<GradientGraph, 'masks' | 'kernelLayouts' | 'gradientLayouts'>,
): Uint8Array {
  const F = ONNX_DTYPE.FLOAT;
  const gradientShape = (v: tf.Variable, i: number) => {
    const layout = gradientLayouts.find((l) => l.weight === i)?.layout;
    return layout ? kernelShapeIn(v.shape, layout) : v.shape;
  };
  return encodeOnnxModel({
    irVersion: 8,
    producerName: 'CNN Inspector',
    producerVersion: '0',
    opsetImport: [{ domain: '', version: GRADIENT_OPSET }],
    metadataProps: [],
    graph: {
      name: 'training-gradients',
      node: g.nodes,
      initializer: g.initializers,
      input: [
        valueInfo('input', F, ['N', ...inputShape]),
        valueInfo('labels', F, ['N', numClasses]),
        ...trainable.map((v, i) => valueInfo(`w:${i}`, F, v.shape)),
        ...kernelLayouts.map((k) => valueInfo(k.input, F, k.shape)),
        ...masks.map((m) =>
          valueInfo(
            m.input,
            F,
            m.shape.map((d) => (d === -1 ? 'N' : d)),
          ),
        ),
      ],
      output: [valueInfo('loss_sum', F, []), ...trainable.map((v, i) => valueInfo(`grad:${i}`, F, gradientShape(v, i)))],
    },
  });
}
