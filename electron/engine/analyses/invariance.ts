/**
 * Invariance to translation, scale and rotation (Zeiler & Fergus §4.4, Fig. 5). Each image is transformed in
 * input-tensor space (inverse mapping with bilinear interpolation about the image centre; what falls outside is
 * filled with 0, the mean input), and for every transform value we record:
 *   - the Euclidean distance between the feature vectors (the whole layer output) of the original and the
 *     transformed image, at a low and a high layer;
 *   - the probability of the image's true class (top-1 of the original when the class is unknown).
 */
import type { InvarianceResult, InvarianceSweep, TransformKind } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { LoadedModel } from '../model/loaded-model';
import { batchForward } from '../runtime/batch-forward';
import { endsInSoftmax, softmaxRows } from '../base/tensors';
import type { JobContext } from '../base/job-context';
import type { Dataset } from '../data/dataset';
import type { JobDescriptor } from '../features/job-host';

export interface InvarianceOptions {
  lowLayer?: string;
  highLayer?: string;
  translations?: number[];
  scales?: number[];
  rotations?: number[];
}

export interface InvarianceImage {
  input: Float32Array;
  label: string;
  /** The model's class index of the true class, when known. */
  trueClass?: number;
}

/** Default sweeps scaled to the input: ± a quarter of the height in 9 steps, ×0.6–1.4, 0–360° every 15°. */
export function defaultSweeps(height: number): Record<TransformKind, number[]> {
  const step = Math.max(1, Math.round(height / 16));
  return {
    translation: Array.from({ length: 9 }, (_, i) => (i - 4) * step),
    scale: Array.from({ length: 9 }, (_, i) => Number((0.6 + i * 0.1).toFixed(2))),
    rotation: Array.from({ length: 25 }, (_, i) => i * 15),
  };
}

/**
 * Transforms [H,W,C]: vertical translation by `value` pixels (down is positive), zoom by `value` about the
 * centre, or rotation by `value` degrees (counter-clockwise) about the centre.
 */
export function transformInput(input: Float32Array, [h, w, c]: number[], kind: TransformKind, value: number): Float32Array {
  const out = new Float32Array(input.length);
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  const angle = (value * Math.PI) / 180;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      // Where in the source does output pixel (y, x) come from?
      let sy: number;
      let sx: number;
      if (kind === 'translation') {
        sy = y - value;
        sx = x;
      } else if (kind === 'scale') {
        sy = cy + (y - cy) / value;
        sx = cx + (x - cx) / value;
      } else {
        const dy = y - cy;
        const dx = x - cx;
        sy = cy + dy * cos - dx * sin;
        sx = cx + dy * sin + dx * cos;
      }
      const y0 = Math.floor(sy);
      const x0 = Math.floor(sx);
      const fy = sy - y0;
      const fx = sx - x0;
      for (let ch = 0; ch < c; ch++) {
        let v = 0;
        for (const [yy, xx, wgt] of [
          [y0, x0, (1 - fy) * (1 - fx)],
          [y0, x0 + 1, (1 - fy) * fx],
          [y0 + 1, x0, fy * (1 - fx)],
          [y0 + 1, x0 + 1, fy * fx],
        ] as const) {
          if (wgt === 0 || yy < 0 || xx < 0 || yy >= h || xx >= w) continue;
          v += wgt * input[(yy * w + xx) * c + ch];
        }
        out[(y * w + x) * c + ch] = v;
      }
    }
  return out;
}

function defaultLayers(loaded: LoadedModel): { low: string; high: string } {
  const layers = loaded.summary.layers;
  const low = layers.find((l) => l.type === 'Conv2D')?.name;
  const dense = layers.filter((l) => l.type === 'Dense');
  // ZF use fc7: the last dense layer before the classifier (or the last one when there is only one).
  const high = (dense.length >= 2 ? dense[dense.length - 2] : dense[dense.length - 1])?.name ?? layers[layers.length - 1].name;
  if (!low) throw new InspectorError('LAYER_NOT_FOUND', 'The model has no convolution layer; choose the low layer by name');
  return { low, high };
}

export async function invarianceSweeps(loaded: LoadedModel, images: InvarianceImage[], options: InvarianceOptions, ctx: JobContext): Promise<InvarianceResult> {
  if (images.length === 0) throw new InspectorError('DATASET_EMPTY', 'No images to transform');
  const shape = loaded.summary.inputShape;
  const defaults = defaultLayers(loaded);
  const lowLayer = options.lowLayer ?? defaults.low;
  const highLayer = options.highLayer ?? defaults.high;
  for (const name of [lowLayer, highLayer]) {
    if (!loaded.summary.layers.some((l) => l.name === name)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
  }
  const sweepsIn = {
    ...defaultSweeps(shape[0]),
    ...Object.fromEntries(
      Object.entries({ translation: options.translations, scale: options.scales, rotation: options.rotations }).filter(([, v]) => v !== undefined),
    ),
  } as Record<TransformKind, number[]>;
  for (const [kind, values] of Object.entries(sweepsIn)) {
    if (!Array.isArray(values) || values.length === 0 || values.some((v) => !Number.isFinite(v)))
      throw new InspectorError('BAD_ARGUMENT', `The ${kind} sweep needs a list of numbers`);
    if (kind === 'scale' && values.some((v) => v <= 0)) throw new InspectorError('BAD_ARGUMENT', 'Scale factors must be positive');
  }
  const forward = await batchForward(loaded, [lowLayer, highLayer, loaded.model.outputLayers[0].name]);
  // Models ending in a Softmax layer (imported ONNX models do) already give probabilities, too.
  const needsSoftmax = !endsInSoftmax(loaded.model);
  const kinds: TransformKind[] = ['translation', 'scale', 'rotation'];
  const sweeps = Object.fromEntries(
    kinds.map((k) => [k, { values: sweepsIn[k], low: [] as number[][], high: [] as number[][], probability: [] as number[][] }]),
  ) as Record<TransformKind, InvarianceSweep>;
  const [h, w, c] = shape;
  const size = h * w * c;
  const labels: InvarianceResult['images'] = [];
  const total = images.length * kinds.reduce((s, k) => s + sweepsIn[k].length, 0);
  let done = 0;
  for (const image of images) {
    ctx.throwIfCancelled();
    const variants: Float32Array[] = [image.input];
    for (const k of kinds) for (const v of sweepsIn[k]) variants.push(transformInput(image.input, shape, k, v));
    const batch = new Float32Array(variants.length * size);
    variants.forEach((x, i) => batch.set(x, i * size));
    const [low, high, raw] = await forward.run(batch, variants.length);
    const out = { data: needsSoftmax ? softmaxRows(raw.data, variants.length) : raw.data };
    const lowSize = low.data.length / variants.length;
    const highSize = high.data.length / variants.length;
    const classes = out.data.length / variants.length;
    let cls = image.trueClass;
    if (cls === undefined) {
      cls = 0;
      for (let k = 1; k < classes; k++) if (out.data[k] > out.data[cls]) cls = k;
    }
    const distance = (a: Float32Array | Int32Array | Uint8Array, n: number, i: number) => {
      let s = 0;
      for (let j = 0; j < n; j++) s += (a[i * n + j] - a[j]) ** 2;
      return Math.sqrt(s);
    };
    let i = 1;
    for (const k of kinds) {
      const lowRow: number[] = [];
      const highRow: number[] = [];
      const probRow: number[] = [];
      for (let v = 0; v < sweepsIn[k].length; v++, i++) {
        lowRow.push(distance(low.data, lowSize, i));
        highRow.push(distance(high.data, highSize, i));
        probRow.push(out.data[i * classes + cls]);
      }
      sweeps[k].low.push(lowRow);
      sweeps[k].high.push(highRow);
      sweeps[k].probability.push(probRow);
      done += sweepsIn[k].length;
    }
    labels.push({ label: image.label, classIndex: cls });
    ctx.progress(done, total, `Transformed ${labels.length} of ${images.length} images`);
    await ctx.yield();
  }
  return { lowLayer, highLayer, images: labels, sweeps };
}

/** Default images for sweeps: up to `count`, spread over the classes (the first image of every n-th class). */
export function defaultSweepImages(dataset: Dataset, count = 5): number[] {
  const firstOfClass = dataset.summary.classes.map((_, c) => dataset.entries.findIndex((e) => e.classIndex === c)).filter((i) => i >= 0);
  const stride = Math.max(1, Math.floor(firstOfClass.length / count));
  return firstOfClass.filter((_, i) => i % stride === 0).slice(0, count);
}

/** The invariance job: the sweeps on the chosen dataset images (a few spread over the classes by default). */
export const invarianceJob: JobDescriptor<'invariance'> = {
  run: async (host, params, ctx) => {
    const dataset = host.requireDataset();
    const images = [];
    for (const index of params.images ?? defaultSweepImages(dataset)) {
      const { input, trueClass } = await host.modelInput({ source: 'dataset', index });
      images.push({ input, trueClass, label: dataset.entries[index].file });
    }
    return invarianceSweeps(host.requireModel(), images, params, ctx);
  },
  cache: {},
};
