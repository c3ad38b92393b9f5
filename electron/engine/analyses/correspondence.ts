/**
 * Correspondence analysis (Zeiler & Fergus §4.2, Table 1): does the network tie together the same object part
 * across images? For each image i and part l, the part's box is hidden (filled with 0, the mean input) and
 * ε_i = x_i − x̃_i is the change of a layer's feature vector. For every pair i ≠ j the Hamming distance between
 * sign(ε_i) and sign(ε_j), divided by the feature length, is a "feature sign change"; ZF's Δ_l is their sum.
 * Consistent (low) sign changes mean the part is represented the same way everywhere. The control hides boxes of
 * the same sizes at random places (several draws).
 */
import { randomControlName, type CorrespondenceResult, type CorrespondenceRow } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { LoadedModel } from '../model/loaded-model';
import { batchForward } from '../runtime/batch-forward';
import { mulberry32 } from '../base/random';
import type { JobContext } from '../base/job-context';
import type { JobDescriptor } from '../features/job-host';

/** [top, left, bottom, right) in input pixels. */
export type Box = [number, number, number, number];

export interface CorrespondencePart {
  name: string;
  /** One box per image, in image order. */
  boxes: Box[];
}

export interface CorrespondenceOptions {
  layers?: string[];
  /** How many random-placement draws the control averages (default 5). */
  randomDraws?: number;
  seed?: number;
}

function hide(input: Float32Array, [h, w, c]: number[], [top, left, bottom, right]: Box): Float32Array {
  const out = input.slice();
  for (let y = Math.max(0, top); y < Math.min(h, bottom); y++) out.fill(0, (y * w + Math.max(0, left)) * c, (y * w + Math.min(w, right)) * c);
  return out;
}

/** Mean and population std of the pairwise normalised Hamming distances of sign vectors. */
export function signChangeStats(epsilons: Float32Array[]): { sum: number; mean: number; std: number } {
  const values: number[] = [];
  for (let i = 0; i < epsilons.length; i++)
    for (let j = 0; j < epsilons.length; j++) {
      if (i === j) continue;
      let differ = 0;
      const a = epsilons[i];
      const b = epsilons[j];
      for (let k = 0; k < a.length; k++) if (Math.sign(a[k]) !== Math.sign(b[k])) differ++;
      values.push(differ / a.length);
    }
  const sum = values.reduce((s, v) => s + v, 0);
  const mean = values.length ? sum / values.length : 0;
  const std = values.length ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length) : 0;
  return { sum, mean, std };
}

function defaultLayers(loaded: LoadedModel): string[] {
  const convs = loaded.summary.layers.filter((l) => l.type === 'Conv2D');
  const dense = loaded.summary.layers.filter((l) => l.type === 'Dense');
  const high = dense.length >= 2 ? dense[dense.length - 2] : dense[dense.length - 1];
  return [convs[convs.length - 1]?.name, high?.name].filter((n): n is string => Boolean(n));
}

export async function correspondence(
  loaded: LoadedModel,
  images: Array<{ input: Float32Array; label: string }>,
  parts: CorrespondencePart[],
  options: CorrespondenceOptions,
  ctx: JobContext,
): Promise<CorrespondenceResult> {
  const shape = loaded.summary.inputShape;
  const [h, w, c] = shape;
  if (images.length < 2) throw new InspectorError('BAD_ARGUMENT', 'Correspondence compares images with each other: give at least 2');
  if (parts.length === 0) throw new InspectorError('BAD_ARGUMENT', 'Mark at least one part (a box on every image)');
  for (const part of parts) {
    if (part.boxes.length !== images.length)
      throw new InspectorError('BAD_ARGUMENT', `Part "${part.name}" has ${part.boxes.length} boxes for ${images.length} images`);
    for (const [top, left, bottom, right] of part.boxes) {
      if (![top, left, bottom, right].every(Number.isInteger) || top < 0 || left < 0 || bottom > h || right > w || bottom <= top || right <= left) {
        throw new InspectorError('BAD_ARGUMENT', `Part "${part.name}": box [${top}, ${left}, ${bottom}, ${right}] is not inside the ${h}×${w} input`);
      }
    }
  }
  const layers = options.layers ?? defaultLayers(loaded);
  for (const l of layers) if (!loaded.summary.layers.some((x) => x.name === l)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${l}"`);
  const forward = await batchForward(loaded, layers);
  const size = h * w * c;
  /** Feature vectors of each layer for a list of inputs: [layer][input] → Float32Array. */
  const features = async (inputs: Float32Array[]): Promise<Float32Array[][]> => {
    const batch = new Float32Array(inputs.length * size);
    inputs.forEach((x, i) => batch.set(x, i * size));
    const outs = await forward.run(batch, inputs.length);
    return outs.map((o) => {
      const per = o.data.length / inputs.length;
      return inputs.map((_, i) => Float32Array.from(o.data.subarray(i * per, (i + 1) * per)));
    });
  };
  const original = await features(images.map((i) => i.input));
  const epsilonsFor = async (boxes: Box[]) => {
    const hidden = await features(images.map((img, i) => hide(img.input, shape, boxes[i])));
    return layers.map((_, li) => hidden[li].map((x, i) => original[li][i].map((v, k) => v - x[k])));
  };
  const rows: CorrespondenceRow[] = [];
  const draws = options.randomDraws ?? 5;
  const random = mulberry32(options.seed ?? 1);
  const total = parts.length * (1 + draws);
  let done = 0;
  for (const part of parts) {
    ctx.throwIfCancelled();
    const eps = await epsilonsFor(part.boxes);
    layers.forEach((layer, li) => {
      const s = signChangeStats(eps[li]);
      rows.push({ part: part.name, layer, meanSignChange: s.mean, std: s.std, delta: s.sum });
    });
    ctx.progress(++done, total, `Part ${part.name}`);
    // Control: boxes of the same sizes at random places, averaged over draws (± std over draws).
    const perDraw: number[][] = layers.map(() => []);
    for (let d = 0; d < draws; d++) {
      const boxes = part.boxes.map(([top, left, bottom, right]) => {
        const bh = bottom - top;
        const bw = right - left;
        const y = Math.floor(random() * (h - bh + 1));
        const x = Math.floor(random() * (w - bw + 1));
        return [y, x, y + bh, x + bw] as Box;
      });
      const reps = await epsilonsFor(boxes);
      layers.forEach((_, li) => perDraw[li].push(signChangeStats(reps[li]).mean));
      ctx.progress(++done, total, `Random boxes for ${part.name}: draw ${d + 1} of ${draws}`);
      await ctx.yield();
    }
    layers.forEach((layer, li) => {
      const m = perDraw[li].reduce((s, v) => s + v, 0) / draws;
      const sd = Math.sqrt(perDraw[li].reduce((s, v) => s + (v - m) ** 2, 0) / draws);
      rows.push({ part: randomControlName(part.name), layer, meanSignChange: m, std: sd, delta: m * images.length * (images.length - 1) });
    });
  }
  return { layers, images: images.map((i) => i.label), rows };
}

/** The correspondence job ("Parts"): the chosen dataset images with their part boxes. */
export const correspondenceJob: JobDescriptor<'correspondence'> = {
  run: async (host, params, ctx) => {
    const images = [];
    for (const index of params.images) {
      const { input } = await host.modelInput({ source: 'dataset', index });
      images.push({ input, label: host.requireDataset().entries[index].file });
    }
    return correspondence(host.requireModel(), images, params.parts, { layers: params.layers, randomDraws: params.randomDraws }, ctx);
  },
};
