/**
 * Agrawal, Girshick & Malik 2014 measures, each a streaming pass over a labelled dataset (memory bounded by the
 * layer width, not the dataset, except grandmother cells, which keep one score per image and unit):
 *  - sparsity (Table 6): % non-zero elements of a layer's output per image, mean and population std over images;
 *  - class selectivity (§3.2, Fig. 1): per unit, the area under the entropy curve (AuE). Responses = every
 *    position of the unit's map over all images, labelled with the image's class; τ_j = min + (max − min)·j/100,
 *    j = 0…99; H_j = Shannon entropy (bits) of the class histogram of responses ≥ τ_j; AuE = mean of H_j;
 *  - grandmother cells (§4.1, Fig. 3): per class and unit, the average precision of the unit's spatial-max score
 *    as a one-unit classifier (positives = images of the class), AP = Σ_n (R_n − R_{n−1}) P_n over distinct score
 *    thresholds in descending order, ties sharing a threshold (scikit-learn's average_precision_score).
 */
import { InspectorError } from '../../../shared/errors';
import type { GrandmotherCurves, SkippedFile } from '../../../shared/contract';
import { prefetchBatches } from '../data/batch';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { mulberry32, shuffledIndices } from '../base/random';
import { batchForward } from '../runtime/batch-forward';
import { collectActivations, mapsReader, readNonzero, readSpatialMax, requireClasses } from '../features/collect';
import type { JobContext } from '../base/job-context';
import type { JobDescriptor } from '../features/job-host';

const BATCH = 32;
const THRESHOLDS = 100;

/** Streams the dataset through the model, calling `visit` with each batch's outputs of `layers` and labels. */
async function stream(
  loaded: LoadedModel,
  dataset: Dataset,
  layers: string[],
  ctx: JobContext,
  visit: (outputs: Array<{ data: Float32Array; shape: number[] }>, labels: number[]) => void,
  pass = '',
): Promise<SkippedFile[]> {
  for (const name of layers)
    if (!loaded.summary.layers.some((l) => l.name === name)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
  if (dataset.entries.length === 0) throw new InspectorError('DATASET_EMPTY', 'The dataset has no images');
  const forward = await batchForward(loaded, layers);
  const skipped: SkippedFile[] = [];
  for await (const { batch, used, end } of prefetchBatches(dataset, dataset.entries, loaded, BATCH, skipped)) {
    ctx.throwIfCancelled();
    const labels = used.map((e) => e.classIndex);
    if (used.length) visit(await forward.run(batch, used.length), labels);
    ctx.progress(end, dataset.entries.length, `${pass}${end} of ${dataset.entries.length} images`);
    await ctx.yield();
  }
  return skipped;
}

export interface SparsityRow {
  layer: string;
  mean_nonzero_pct: number;
  std_nonzero_pct: number;
}

export async function sparsity(
  loaded: LoadedModel,
  dataset: Dataset,
  layers: string[] | undefined,
  ctx: JobContext,
): Promise<{ rows: SparsityRow[]; skipped: SkippedFile[] }> {
  const names = layers ?? loaded.summary.layers.filter((l) => l.type !== 'InputLayer').map((l) => l.name);
  // Counted during the shared activation collection (non-zero values per image), so nothing runs twice.
  const acts = await collectActivations(loaded, dataset, names, {}, ctx);
  const rows = names.map((layer) => {
    const per = acts.layers[layer].shape.reduce((a, b) => a * b, 1);
    let sum = 0;
    let sumSq = 0;
    const nonzero = readNonzero(acts, layer);
    for (const nz of nonzero) {
      const pct = (100 * nz) / per;
      sum += pct;
      sumSq += pct * pct;
    }
    const n = nonzero.length;
    const mean = n ? sum / n : 0;
    return { layer, mean_nonzero_pct: mean, std_nonzero_pct: n ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : 0 };
  });
  return { rows, skipped: acts.skipped };
}

export function entropyBits(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return 0;
  let h = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    const p = counts[i] / total;
    h -= p * Math.log2(p);
  }
  return h;
}

/** AuE per unit (lower = more class-selective), plus each unit's entropy curve (100 values). */
export async function selectivity(
  loaded: LoadedModel,
  dataset: Dataset,
  layer: string,
  ctx: JobContext,
): Promise<{ aue: number[]; curves: number[][]; skipped: SkippedFile[] }> {
  const { layers, skipped } = await selectivityOfLayers(loaded, dataset, [layer], ctx);
  return { ...layers[0], skipped };
}

/**
 * The same for several layers with two passes over the dataset in all (not two per layer): pass 1 finds each
 * unit's response range, pass 2 counts, per threshold bin and class, the responses that reach it.
 */
export async function selectivityOfLayers(
  loaded: LoadedModel,
  dataset: Dataset,
  layerNames: string[],
  ctx: JobContext,
): Promise<{ layers: Array<{ layer: string; aue: number[]; curves: number[][] }>; skipped: SkippedFile[] }> {
  const classes = dataset.summary.classes.length;
  // Pass 1 (each unit's response range) is the shared activation collection; pass 2 counts, per threshold bin
  // and class, the responses that reach it — from kept maps where the collection has them, else from the network.
  const acts = await collectActivations(loaded, dataset, layerNames, {}, ctx);
  requireClasses(dataset, acts);
  const state = layerNames.map((layer) => {
    const entry = acts.layers[layer];
    return {
      units: entry.units,
      min: Float64Array.from(entry.unitMin),
      max: Float64Array.from(entry.unitMax),
      bins: new Float64Array(entry.units * THRESHOLDS * classes),
    };
  });
  const count = (li: number, data: ArrayLike<number>, rows: number, labels: ArrayLike<number>) => {
    const { units, min, max, bins } = state[li];
    const tau = (u: number, j: number) => min[u] + ((max[u] - min[u]) * j) / THRESHOLDS;
    const per = data.length / rows;
    for (let i = 0; i < rows; i++) {
      const cls = labels[i];
      for (let k = i * per; k < (i + 1) * per; k++) {
        const u = k % units;
        const v = data[k];
        const span = max[u] - min[u];
        // Highest j with v ≥ τ_j, found from the formula and corrected against it exactly.
        let j = span > 0 ? Math.min(THRESHOLDS - 1, Math.max(0, Math.floor(((v - min[u]) * THRESHOLDS) / span))) : THRESHOLDS - 1;
        while (j + 1 < THRESHOLDS && v >= tau(u, j + 1)) j++;
        while (j > 0 && v < tau(u, j)) j--;
        bins[(u * THRESHOLDS + j) * classes + cls]++;
      }
    }
  };
  const fromNetwork: number[] = [];
  for (const [li, layer] of layerNames.entries()) {
    const reader = acts.layers[layer].maps?.dtype === 'float32' ? mapsReader(acts, layer) : undefined;
    if (!reader) {
      fromNetwork.push(li);
      continue;
    }
    for (const block of reader.blocks(256)) {
      ctx.throwIfCancelled();
      count(li, block.data, block.count, acts.labels.subarray(block.start, block.start + block.count));
      await ctx.yield();
    }
  }
  const skipped = fromNetwork.length
    ? await stream(
        loaded,
        dataset,
        fromNetwork.map((li) => layerNames[li]),
        ctx,
        (outs, labels) => outs.forEach(({ data, shape }, k) => count(fromNetwork[k], data, shape[0], labels)),
        'Histograms: ',
      )
    : acts.skipped;
  const layers = layerNames.map((layer, li) => {
    const { units, bins } = state[li] as { units: number; bins: Float64Array };
    const aue: number[] = [];
    const curves: number[][] = [];
    for (let u = 0; u < units; u++) {
      const counts = new Float64Array(classes);
      const curve = new Array<number>(THRESHOLDS);
      for (let j = THRESHOLDS - 1; j >= 0; j--) {
        for (let c = 0; c < classes; c++) counts[c] += bins[(u * THRESHOLDS + j) * classes + c];
        curve[j] = entropyBits(counts);
      }
      curves.push(curve);
      aue.push(curve.reduce((s, v) => s + v, 0) / THRESHOLDS);
    }
    return { layer, aue, curves };
  });
  return { layers, skipped };
}

/** Agrawal Fig. 1: units sorted from most to least selective; entry k−1 = mean AuE of the k most selective. */
export function cumulativeAue(aue: number[]): number[] {
  const sorted = [...aue].sort((a, b) => a - b);
  let sum = 0;
  return sorted.map((v, i) => (sum += v) / (i + 1));
}

/**
 * The precision–recall points of a score as a detector of the positives, one per threshold from the highest score
 * down, a tie group being one threshold (as scikit-learn); undefined when there are no positives.
 */
function precisionRecallPoints(scores: ArrayLike<number>, positive: ArrayLike<boolean>): Array<{ recall: number; precision: number }> | undefined {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let positives = 0;
  for (let i = 0; i < positive.length; i++) if (positive[i]) positives++;
  if (positives === 0) return undefined;
  const points: Array<{ recall: number; precision: number }> = [];
  let tp = 0;
  let seen = 0;
  for (let i = 0; i < order.length;) {
    const score = scores[order[i]];
    // Consume the whole tie group: one threshold.
    while (i < order.length && scores[order[i]] === score) {
      if (positive[order[i]]) tp++;
      seen++;
      i++;
    }
    points.push({ recall: tp / positives, precision: tp / seen });
  }
  return points;
}

/** scikit-learn's average_precision_score for binary labels: ties share a threshold. */
export function averagePrecision(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const points = precisionRecallPoints(scores, positive);
  if (!points) return 0;
  let ap = 0;
  let previousRecall = 0;
  for (const { recall, precision } of points) {
    ap += (recall - previousRecall) * precision;
    previousRecall = recall;
  }
  return ap;
}

/** Recall levels at which precision–recall curves are reported: 0, 0.02, …, 1. */
export const PR_RECALLS: readonly number[] = Array.from({ length: 51 }, (_, i) => i / 50);

/**
 * A score's precision–recall curve as a detector of the positives, interpolated as usual: at each recall level r,
 * the best precision of any threshold whose recall is at least r.
 */
export function precisionAtRecall(scores: ArrayLike<number>, positive: ArrayLike<boolean>, recalls: readonly number[] = PR_RECALLS): number[] {
  const points = precisionRecallPoints(scores, positive);
  if (!points) return recalls.map(() => 0);
  // Best precision at recall ≥ r: a running maximum from the far end of the curve.
  const best = new Float64Array(points.length);
  for (let k = points.length - 1, running = 0; k >= 0; k--) best[k] = running = Math.max(running, points[k].precision);
  return recalls.map((r) => {
    const k = points.findIndex(({ recall }) => recall >= r - 1e-12);
    return k < 0 ? 0 : best[k];
  });
}

/** How many top units, and random units, a class's precision–recall chart shows (Agrawal et al., Fig. 3). */
const CURVE_UNITS = 5;

/**
 * Per class: the precision–recall curves of its CURVE_UNITS best units (by AP) and, as the baseline, the mean curve
 * of CURVE_UNITS other units drawn at random (seeded by the class, so the same every run).
 */
export function grandmotherCurves(scores: number[][], labels: number[], ap: number[][]): GrandmotherCurves[] {
  return ap.map((perUnit, c) => {
    const positive = labels.map((l) => l === c);
    const curve = (u: number) =>
      precisionAtRecall(
        scores.map((s) => s[u]),
        positive,
      );
    const ranked = perUnit.map((_, u) => u).sort((a, b) => perUnit[b] - perUnit[a] || a - b);
    const top = ranked.slice(0, CURVE_UNITS);
    const others = ranked.slice(CURVE_UNITS);
    const pool = others.length ? others : ranked;
    const order = shuffledIndices(pool.length, mulberry32(7 + c));
    const random = Array.from(order.subarray(0, Math.min(CURVE_UNITS, pool.length)), (i) => pool[i]).sort((a, b) => a - b);
    const randomCurves = random.map(curve);
    return {
      top: top.map((unit) => ({ unit, ap: perUnit[unit], precision: curve(unit) })),
      random: { units: random, precision: PR_RECALLS.map((_, k) => randomCurves.reduce((sum, p) => sum + p[k], 0) / Math.max(1, randomCurves.length)) },
    };
  });
}

/** Each image's spatial maximum of every unit of `layer` (dense layers: the value itself), with the labels. */
export async function spatialMaxFeatures(
  loaded: LoadedModel,
  dataset: Dataset,
  layer: string,
  ctx: JobContext,
): Promise<{ scores: number[][]; labels: number[]; skipped: SkippedFile[] }> {
  const acts = await collectActivations(loaded, dataset, [layer], {}, ctx);
  requireClasses(dataset, acts);
  const units = acts.layers[layer].units;
  const all = readSpatialMax(acts, layer);
  const scores = Array.from({ length: acts.images }, (_, i) => Array.from(all.subarray(i * units, (i + 1) * units)));
  return { scores, labels: Array.from(acts.labels), skipped: acts.skipped };
}

/** AP of every unit as a one-unit classifier of every class: ap[class][unit]. */
export async function grandmotherCells(
  loaded: LoadedModel,
  dataset: Dataset,
  layer: string,
  ctx: JobContext,
): Promise<{ ap: number[][]; classes: string[]; curves: GrandmotherCurves[]; skipped: SkippedFile[] }> {
  const { scores, labels, skipped } = await spatialMaxFeatures(loaded, dataset, layer, ctx);
  const classes = dataset.summary.classes.map((c) => c.name);
  const units = scores[0]?.length ?? 0;
  const ap = classes.map((_, c) => {
    const positive = labels.map((l) => l === c);
    return Array.from({ length: units }, (_, u) =>
      averagePrecision(
        scores.map((s) => s[u]),
        positive,
      ),
    );
  });
  return { ap, classes, curves: grandmotherCurves(scores, labels, ap), skipped };
}

/** The sparsity job. */
export const sparsityJob: JobDescriptor<'sparsity'> = {
  run: (host, params, ctx) => sparsity(host.requireModel(), host.requireDataset(), params.layers, ctx),
  cache: {},
};

/** The selectivity job: all chosen layers in one pair of passes over the dataset. */
export const selectivityJob: JobDescriptor<'selectivity'> = {
  run: async (host, params, ctx) => {
    const { layers } = await selectivityOfLayers(host.requireModel(), host.requireDataset(), params.layers, ctx);
    return { layers: layers.map(({ layer, aue }) => ({ layer, aue, cumulative: cumulativeAue(aue) })), classes: host.requireDataset().summary.classes.length };
  },
  cache: {},
};

/** The grandmother-cells job (schema 2: precision–recall curves). */
export const gmcJob: JobDescriptor<'gmc'> = {
  run: async (host, params, ctx) => {
    const { ap, classes, curves } = await grandmotherCells(host.requireModel(), host.requireDataset(), params.layer, ctx);
    const summary = host.requireDataset().summary;
    return { layer: params.layer, classes, ap, prevalence: summary.classes.map((c) => c.count / Math.max(1, summary.count)), recalls: [...PR_RECALLS], curves };
  },
  cache: { schema: 2 },
};
