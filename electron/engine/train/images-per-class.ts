/**
 * "How many images do I need?" (Zeiler & Fergus Fig. 9, on the person's own classes): a new classifier on the
 * frozen network's features, trained with 1, 2, 5, 10, … images per class and scored on the same held-back images
 * each time (mean ± std over seeds, each seed its own choice of images). The network runs once per image (on the
 * batch path) and only the small classifier trains per point, so the whole curve takes seconds to a minute.
 * With `scratch`, the paper's comparison: the same network trained from random weights at each count (slower).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ImagesPerClassResult } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { JobContext } from '../base/job-context';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { featureLayerOf, featureRows, featuresOfDataset, loadAll, trainSoftmaxHead } from './finetune';
import { variantConfig } from './ablation';
import { evaluateAccuracy, inputRows, trainClassifier, type LabelledArray } from './loop';
import { mulberry32, shuffledIndices } from '../base/random';
import { stratifiedSplit } from '../features/splits';
import type { JobDescriptor } from '../features/job-host';

const DEFAULT_COUNTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

function subset(data: LabelledArray, rows: number[]): LabelledArray {
  const [, h, w, d] = data.shape;
  return { x: inputRows(data, rows), y: Int32Array.from(rows.map((r) => data.y[r])), shape: [rows.length, h, w, d] };
}

export async function imagesPerClassCurve(
  pretrained: LoadedModel,
  dataset: Dataset,
  options: { counts?: number[]; seeds?: number; epochs?: number; scratch?: boolean; scratchSeeds?: number },
  ctx: JobContext,
): Promise<ImagesPerClassResult> {
  const classes = dataset.summary.classes.map((c) => c.name);
  if (classes.length < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'The experiment needs at least two classes (one sub-folder each)');
  const small = dataset.summary.classes.find((c) => c.count < 2);
  if (small) throw new InspectorError('DATASET_EMPTY_CLASS', `Class "${small.name}" has ${small.count} image(s); each class needs at least 2`);
  const featureLayer = featureLayerOf(pretrained.model);
  if (!featureLayer || !pretrained.summary.layers.some((l) => l.name === featureLayer)) {
    throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', 'The model has no dense classifier layer whose input could serve as features');
  }
  const seeds = options.seeds ?? 3;
  const epochs = options.epochs ?? 30;
  // The frozen network's features of every image, from the shared collection (a second curve reuses them).
  const features = await featuresOfDataset(pretrained, dataset, featureLayer, false, ctx);
  const ys = features.ys;
  const split = stratifiedSplit(ys, 0.8, 1);
  const train = featureRows(features.x, features.dims, split.train, ys);
  const validation = featureRows(features.x, features.dims, split.test, ys);
  const byClass = classes.map((_, c) => split.train.map((_, i) => i).filter((i) => train.y[i] === c));
  const smallest = Math.min(...byClass.map((rows) => rows.length));
  const counts = [...new Set([...(options.counts ?? DEFAULT_COUNTS).filter((k) => Number.isInteger(k) && k >= 1 && k < smallest), smallest])].sort(
    (a, b) => a - b,
  );
  const dims = train.shape[3];
  const rows: ImagesPerClassResult['rows'] = [];
  const scratchSeeds = options.scratch ? (options.scratchSeeds ?? 1) : 0;
  const steps = counts.length * (seeds + scratchSeeds);
  let done = 0;
  for (const k of counts) {
    const accuracies: number[] = [];
    for (let seed = 1; seed <= seeds; seed++) {
      ctx.throwIfCancelled();
      const picked = pickPerClass(byClass, k, seed);
      const initial = tf.tidy(() => [tfl.initializers.glorotNormal({ seed }).apply([dims, classes.length]) as tf.Tensor, tf.zeros([classes.length])]);
      const { weights } = await trainSoftmaxHead(subset(train, picked), undefined, initial, {
        epochs,
        batchSize: Math.min(32, picked.length),
        learningRate: 0.05,
        momentum: 0.9,
        weightDecay: 5e-4,
        seed,
        shouldCancel: () => ctx.isCancelled(),
      });
      initial.forEach((t) => t.dispose());
      // Score the trained classifier on the held-back features.
      const input = tfl.input({ shape: [1, 1, dims] });
      const dense = tfl.layers.dense({ units: classes.length, kernelInitializer: 'zeros' });
      const head = tfl.model({ inputs: input, outputs: dense.apply(tfl.layers.flatten().apply(input)) as tfl.SymbolicTensor });
      dense.setWeights(weights);
      weights.forEach((t) => t.dispose());
      accuracies.push(await evaluateAccuracy(head, validation));
      head.dispose();
      ctx.progress(++done, steps, `${k} image${k === 1 ? '' : 's'} per class, run ${seed} of ${seeds}`);
      await ctx.yield();
    }
    rows.push(summarise(k, accuracies));
  }
  if (!scratchSeeds) return { classes, validationImages: validation.y.length, featureLayer, rows };

  // The paper's control: the same network from random weights, trained on the raw images with the same budget
  // of steps at every count (few images → more passes over them).
  const { pack, release } = await loadAll(pretrained, dataset, ctx);
  try {
    const scratchRows = await scratchCurve(
      pretrained,
      pack(split.train),
      pack(split.test),
      { byClass, counts, seeds: scratchSeeds, classes: classes.length },
      (message) => ctx.progress(++done, steps, message),
      ctx,
    );
    return { classes, validationImages: validation.y.length, featureLayer, rows, scratchRows };
  } finally {
    release();
  }
}

/** The same network from random weights at each count: held-back accuracy (mean ± std over seeds) per count. */
async function scratchCurve(
  pretrained: LoadedModel,
  rawTrain: LabelledArray,
  rawValidation: LabelledArray,
  { byClass, counts, seeds, classes }: { byClass: number[][]; counts: number[]; seeds: number; classes: number },
  step: (message: string) => void,
  ctx: JobContext,
): Promise<ImagesPerClassResult['rows']> {
  const [h] = pretrained.summary.inputShape;
  const pre = pretrained.summary.preprocessing;
  const { config } = variantConfig(pretrained.model, { name: 'from random weights' }, classes);
  const scratchRows: ImagesPerClassResult['rows'] = [];
  for (const k of counts) {
    const accuracies: number[] = [];
    for (let seed = 1; seed <= seeds; seed++) {
      ctx.throwIfCancelled();
      const picked = pickPerClass(byClass, k, seed);
      const batchSize = Math.min(16, picked.length);
      const model = (await tfl.models.modelFromJSON({ modelTopology: config as unknown as tf.serialization.ConfigDict })) as tfl.LayersModel;
      try {
        await trainClassifier(model, subset(rawTrain, picked), {
          epochs: Math.min(200, Math.ceil((SCRATCH_STEPS * batchSize) / picked.length)),
          batchSize,
          // Adam: from random weights with a handful of images, SGD's fixed step diverged now and then.
          optimizer: 'adam',
          learningRate: 1e-3,
          momentum: 0.9,
          weightDecay: 5e-4,
          seed,
          augment: { cropPad: Math.max(1, Math.round(h / 14)), flip: true, fill: (0 - pre.mean[0]) / pre.std[0] },
          shouldCancel: () => ctx.isCancelled(),
        });
        accuracies.push(await evaluateAccuracy(model, rawValidation));
      } finally {
        model.dispose();
      }
      step(`From random weights: ${k} image${k === 1 ? '' : 's'} per class, run ${seed} of ${seeds}`);
      await ctx.yield();
    }
    scratchRows.push(summarise(k, accuracies));
  }
  return scratchRows;
}

/** `k` training rows of every class, chosen by `seed` (the same rows for both curves at a given count and seed). */
function pickPerClass(byClass: number[][], k: number, seed: number): number[] {
  const random = mulberry32(1000 * k + seed);
  return byClass.flatMap((rowsOfClass) =>
    Array.from(shuffledIndices(rowsOfClass.length, random))
      .slice(0, k)
      .map((j) => rowsOfClass[j]),
  );
}

/** Training steps (batches) each from-random-weights point gets, whatever its number of images. */
const SCRATCH_STEPS = 100;

function summarise(perClass: number, accuracies: number[]): ImagesPerClassResult['rows'][number] {
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  const std = Math.sqrt(accuracies.reduce((s, a) => s + (a - mean) ** 2, 0) / accuracies.length);
  return { perClass, accuracy: mean, std, runs: accuracies.length };
}

/** The images-per-class job: accuracy against the number of training images per class. */
export const imagesPerClassJob: JobDescriptor<'imagesPerClass'> = {
  run: (host, params, ctx) => imagesPerClassCurve(host.requireModel(), host.requireDataset(), params, ctx),
  cache: {},
};
