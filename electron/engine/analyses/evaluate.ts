/**
 * Evaluation of the current model on a labelled dataset: accuracy, per-class accuracy, confusion matrix
 * (rows = true class, columns = predicted). Dataset classes are matched to model classes by name when the model
 * has labels, else by index. Unreadable images are skipped and named in the result.
 */
import type { EvaluationResult, SkippedFile } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { prefetchBatches } from '../data/batch';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { batchForward } from '../runtime/batch-forward';
import type { JobContext } from '../base/job-context';
import type { JobDescriptor } from '../features/job-host';

const BATCH = 32;

/**
 * The first `limit` images taken class by class in turn (the i-th image of every class before the (i+1)-th of
 * any), so `--limit 2000` of a class-sorted folder samples every class instead of the first two.
 */
export function spreadOverClasses<T extends { classIndex: number }>(entries: T[], limit: number): T[] {
  if (limit >= entries.length) return entries;
  const byClass = new Map<number, T[]>();
  for (const e of entries) {
    const list = byClass.get(e.classIndex);
    if (list) list.push(e);
    else byClass.set(e.classIndex, [e]);
  }
  const lists = [...byClass.keys()].sort((a, b) => a - b).map((k) => byClass.get(k)!);
  const picked: T[] = [];
  for (let i = 0; picked.length < limit; i++) {
    for (const list of lists) if (i < list.length && picked.length < limit) picked.push(list[i]);
  }
  // Back in dataset order, so batches read files in folder order.
  const chosen = new Set(picked);
  return entries.filter((e) => chosen.has(e));
}

export async function evaluateModel(loaded: LoadedModel, dataset: Dataset, params: { limit?: number }, ctx: JobContext): Promise<EvaluationResult> {
  const classes = dataset.summary.classes.map((c) => c.name);
  const modelClasses = loaded.summary.classes;
  const numOutputs = loaded.model.outputs[0].shape[loaded.model.outputs[0].shape.length - 1] as number;
  const toModelClass = classes.map((name, i) => (modelClasses ? modelClasses.indexOf(name) : i < numOutputs ? i : -1));
  if (toModelClass.every((m) => m < 0)) {
    throw new InspectorError('DATASET_CLASSES_UNKNOWN', `None of the dataset's classes (${classes.join(', ')}) is a class of the model`);
  }
  const entries = spreadOverClasses(dataset.entries, params.limit ?? dataset.entries.length);
  const confusion = classes.map(() => classes.map(() => 0));
  const skipped: SkippedFile[] = [];
  const classCounts = classes.map(() => 0);
  const outcomes: EvaluationResult['outcomes'] = [];
  let correct = 0;
  let counted = 0;
  const forward = await batchForward(loaded, [loaded.model.outputLayers[0].name]);
  for await (const { batch, used, end } of prefetchBatches(dataset, entries, loaded, BATCH, skipped)) {
    ctx.throwIfCancelled();
    if (used.length > 0) {
      const [out] = await forward.run(batch, used.length);
      const classesOut = out.data.length / used.length;
      used.forEach((entry, i) => {
        let modelClass = 0;
        for (let k = 1; k < classesOut; k++) if (out.data[i * classesOut + k] > out.data[i * classesOut + modelClass]) modelClass = k;
        const predictedDatasetClass = toModelClass.indexOf(modelClass);
        if (toModelClass[entry.classIndex] < 0) return;
        counted++;
        classCounts[entry.classIndex]++;
        if (predictedDatasetClass === entry.classIndex) correct++;
        if (predictedDatasetClass >= 0) confusion[entry.classIndex][predictedDatasetClass]++;
        outcomes.push({ index: entry.index, trueClass: entry.classIndex, predicted: predictedDatasetClass });
      });
    }
    ctx.progress(end, entries.length, `Evaluated ${end} of ${entries.length} images`);
    await ctx.yield();
  }
  if (counted === 0 && entries.length > skipped.length) {
    throw new InspectorError(
      'DATASET_CLASSES_UNKNOWN',
      `None of the images is in a class the model knows: the folders are ${classes.join(', ')}; the model's classes are ${(modelClasses ?? []).slice(0, 12).join(', ')}${(modelClasses?.length ?? 0) > 12 ? ', …' : ''}`,
    );
  }
  const perClass: Record<string, number> = {};
  classes.forEach((name, i) => {
    perClass[name] = classCounts[i] > 0 ? confusion[i][i] / classCounts[i] : 0;
  });
  return { accuracy: counted ? correct / counted : 0, per_class: perClass, confusion, classes, count: counted, skipped, outcomes };
}

/** The evaluate job: the open model's accuracy on the open dataset. */
export const evaluateJob: JobDescriptor<'evaluate'> = {
  run: (host, params, ctx) => evaluateModel(host.requireModel(), host.requireDataset(), params, ctx),
};
