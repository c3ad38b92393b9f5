/**
 * One table form per result, shared by the CLI's CSV files and the app's CSV downloads (they had each written
 * their own): a header and rows. Write them with csvText (shared/csv.ts).
 */
import type { CsvValue } from './csv';
import type {
  AblationResult,
  CorrespondenceResult,
  DistributedCodeResult,
  GrandmotherCurves,
  ImagesPerClassResult,
  InvarianceResult,
  ModelComparison,
  ProbeRow,
  ProbeTrainingResult,
  SparsityResult,
} from './contract';

export interface Table {
  header: string[];
  rows: CsvValue[][];
}

export const sparsityTable = (r: Pick<SparsityResult, 'rows'>): Table => ({
  header: ['layer', 'mean_nonzero_pct', 'std_nonzero_pct'],
  rows: r.rows.map((x) => [x.layer, x.mean_nonzero_pct, x.std_nonzero_pct]),
});

/** AuE per unit of one layer, or (with layer names) of several. */
export const selectivityTable = (layers: Array<{ layer: string; aue: number[] }>, withLayer = true): Table => ({
  header: withLayer ? ['layer', 'unit', 'aue'] : ['unit', 'aue'],
  rows: layers.flatMap((l) => l.aue.map((a, u) => (withLayer ? [l.layer, u, a] : [u, a]))),
});

export const grandmotherTable = (r: { classes: string[]; ap: number[][] }): Table => ({
  header: ['class', 'unit', 'ap'],
  rows: r.ap.flatMap((perUnit, c) => perUnit.map((ap, u) => [r.classes[c], u, ap])),
});

/** Long form, one row per recall level: each class's best units by AP, then the random-unit baseline. */
export const grandmotherCurvesTable = (r: { classes: string[]; recalls: readonly number[]; curves: GrandmotherCurves[] }): Table => ({
  header: ['class', 'curve', 'units', 'ap', 'recall', 'precision'],
  rows: r.curves.flatMap((cc, c) => [
    ...cc.top.flatMap((t, rank) => r.recalls.map((recall, k) => [r.classes[c], `top${rank + 1}`, t.unit, t.ap, recall, t.precision[k]])),
    ...r.recalls.map((recall, k) => [r.classes[c], 'random', cc.random.units.join(';'), undefined, recall, cc.random.precision[k]]),
  ]),
});

export const probeTable = (rows: ProbeRow[]): Table => ({
  header: ['layer', 'ablation', 'accuracy', 'std', 'seeds'],
  rows: rows.map((x) => [x.layer, x.ablation, x.accuracy, x.std, x.seeds]),
});

export const probeTrainingTable = (r: Pick<ProbeTrainingResult, 'rows'>): Table => ({
  header: ['checkpoint', 'epoch', 'layer', 'accuracy', 'std'],
  rows: r.rows.map((x) => [x.checkpoint, x.epoch, x.layer, x.accuracy, x.std]),
});

export const distributedCodeTable = (r: Pick<DistributedCodeResult, 'sizes' | 'classes'>): Table => ({
  header: ['class', 'ap', 'k50', 'k90', ...r.sizes.map((k) => `k${k}`)],
  rows: r.classes.map((c) => [c.name, c.ap, c.k50, c.k90, ...c.fractions]),
});

export const correspondenceTable = (r: Pick<CorrespondenceResult, 'rows'>): Table => ({
  header: ['part', 'layer', 'mean_sign_change', 'std', 'delta'],
  rows: r.rows.map((row) => [row.part, row.layer, row.meanSignChange, row.std, row.delta]),
});

export const ablationTable = (r: Pick<AblationResult, 'rows'>): Table => ({
  header: ['variant', 'removed', 'resized', 'parameters', 'train_error', 'validation_error', 'seconds'],
  rows: r.rows.map((x) => [
    x.variant,
    x.removed.join(' '),
    Object.entries(x.resized)
      .map(([k, v]) => `${k}=${v}`)
      .join(' '),
    x.parameters,
    x.trainError,
    x.validationError,
    x.seconds,
  ]),
});

export const comparisonTable = (r: Pick<ModelComparison, 'rows'>): Table => ({
  header: ['layer', 'weight_change', 'aue_model', 'aue_other', 'probe_model', 'probe_other'],
  rows: r.rows.map((x) => [x.layer, x.weightChange, x.aueModel, x.aueOther, x.probeModel, x.probeOther]),
});

export const imagesPerClassTable = (r: Pick<ImagesPerClassResult, 'rows' | 'scratchRows'>): Table => ({
  header: ['start', 'per_class', 'accuracy', 'std', 'runs'],
  rows: [
    ...r.rows.map((x) => ['pretrained_features', x.perClass, x.accuracy, x.std, x.runs]),
    ...(r.scratchRows ?? []).map((x) => ['from_random_weights', x.perClass, x.accuracy, x.std, x.runs]),
  ],
});

export const invarianceTable = (r: InvarianceResult): Table => ({
  header: ['image', 'class', 'transform', 'value', 'low_distance', 'high_distance', 'probability'],
  rows: Object.entries(r.sweeps).flatMap(([kind, sweep]) =>
    r.images.flatMap((image, i) =>
      sweep.values.map((v, j) => [image.label, image.classIndex, kind, v, sweep.low[i][j], sweep.high[i][j], sweep.probability[i][j]]),
    ),
  ),
});
