/**
 * How distributed is the code (Agrawal et al. §4.2, Fig. 4–5, Table 5): per class, a one-vs-rest linear SVM on the
 * spatial-max features of a layer; units ranked by |w|; SVMs re-trained on the top k units for nested k; the AP of
 * each as a fraction of the full SVM's AP, the k needed for 50 % and 90 % of it, and the overlap between classes of
 * their top-unit sets (with the overlap two random sets of that size would have).
 * SVM: L2-regularised hinge loss by Pegasos-style SGD on standardised features, seeded — reproducible run to run.
 */
import type { DistributedCodeResult } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { averagePrecision, spatialMaxFeatures } from './selectivity';
import type { JobContext } from '../base/job-context';
import { trainLinearSvm } from '../features/linear-svm';
import { stratifiedSplit } from '../features/splits';
import type { JobDescriptor } from '../features/job-host';

const SUBSET_SIZES = [1, 2, 3, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 80, 100, 128, 256];

function svmAp(
  x: Float32Array[],
  positive: boolean[],
  split: { train: number[]; test: number[] },
  units: number[],
  seed: number,
): { ap: number; w: Float64Array } {
  const { w, b } = trainLinearSvm(x, positive, split.train, units, seed);
  const scores = split.test.map((i) => units.reduce((s, u, k) => s + w[k] * x[i][u], b));
  return {
    ap: averagePrecision(
      scores,
      split.test.map((i) => positive[i]),
    ),
    w,
  };
}

export async function distributedCode(
  loaded: LoadedModel,
  dataset: Dataset,
  layer: string,
  options: { seed?: number },
  ctx: JobContext,
): Promise<DistributedCodeResult> {
  if (!loaded.summary.layers.some((l) => l.name === layer)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${layer}"`);
  const classes = dataset.summary.classes.map((c) => c.name);
  if (classes.length < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'The analysis needs at least two classes');
  const empty = dataset.summary.classes.find((c) => c.count < 2);
  if (empty) throw new InspectorError('DATASET_EMPTY_CLASS', `Class "${empty.name}" has ${empty.count} image(s); each class needs at least 2`);
  const seed = options.seed ?? 1;
  const { scores, labels, skipped } = await spatialMaxFeatures(loaded, dataset, layer, { ...ctx, progress: (d, t, m) => ctx.progress(d, 2 * t, m) });
  const unitsCount = scores[0]?.length ?? 0;
  if (unitsCount < 2) throw new InspectorError('BAD_ARGUMENT', `Layer ${layer} has ${unitsCount} unit(s); the analysis needs several`);
  // Standardise each unit over the images (SVM step sizes then suit every unit).
  const mean = new Float64Array(unitsCount);
  const sd = new Float64Array(unitsCount);
  for (const s of scores) for (let u = 0; u < unitsCount; u++) mean[u] += s[u] / scores.length;
  for (const s of scores) for (let u = 0; u < unitsCount; u++) sd[u] += (s[u] - mean[u]) ** 2 / scores.length;
  const x = scores.map((s) => Float32Array.from(s, (v, u) => (v - mean[u]) / (Math.sqrt(sd[u]) || 1)));
  const split = stratifiedSplit(labels, 0.7, seed);
  const all = Array.from({ length: unitsCount }, (_, u) => u);
  const sizes = [...new Set([...SUBSET_SIZES.filter((k) => k < unitsCount), unitsCount])];
  const perClass: DistributedCodeResult['classes'] = [];
  for (const [c, name] of classes.entries()) {
    ctx.throwIfCancelled();
    const positive = labels.map((l) => l === c);
    const full = svmAp(x, positive, split, all, seed + c);
    const weightOf = new Float64Array(unitsCount);
    all.forEach((u, k) => (weightOf[u] = Math.abs(full.w[k])));
    const ranked = [...all].sort((a, b) => weightOf[b] - weightOf[a] || a - b);
    const fractions = sizes.map((k) => (k === unitsCount ? 1 : full.ap > 0 ? svmAp(x, positive, split, ranked.slice(0, k), seed + c).ap / full.ap : 0));
    const kFor = (level: number) => sizes[fractions.findIndex((f) => f >= level)] ?? unitsCount;
    perClass.push({
      name,
      ap: full.ap,
      fractions,
      k50: kFor(0.5),
      k90: kFor(0.9),
      topUnits: ranked.slice(0, Math.max(1, Math.min(50, Math.round(unitsCount / 5)))),
    });
    ctx.progress(scores.length + ((c + 1) / classes.length) * scores.length, 2 * scores.length, `SVMs for class ${c + 1} of ${classes.length}`);
    await ctx.yield();
  }
  const setSize = perClass[0].topUnits.length;
  const overlap = perClass.map((a) => perClass.map((b) => a.topUnits.filter((u) => b.topUnits.includes(u)).length / setSize));
  return { layer, units: unitsCount, sizes, classes: perClass, overlap, setSize, chanceOverlap: setSize / unitsCount, skipped };
}

/** The distributed-code job. */
export const distributedCodeJob: JobDescriptor<'distributedCode'> = {
  run: (host, params, ctx) => distributedCode(host.requireModel(), host.requireDataset(), params.layer, params, ctx),
  cache: {},
};
