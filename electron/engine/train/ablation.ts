/**
 * Architecture ablation (Zeiler & Fergus 2013, Table 3): how much does each part of the network matter? Variants
 * of the model — layers removed, or layers made narrower or wider — are each trained with the same budget (same
 * images, split, epochs, learning rate, augmentation and seed), and their training and held-back errors are set
 * side by side with the number of weights each has. As in the paper, variants start from random weights by
 * default; `start: 'pretrained'` keeps the weights of every layer whose shape still fits (a quicker, rougher
 * answer on small data).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { AblationResult, AblationRow, AblationVariant, JobParams } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { JobContext } from '../base/job-context';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { loadAll } from './finetune';
import { evaluateAccuracy, trainClassifier } from './loop';
import { stratifiedSplit } from '../features/splits';
import type { JobDescriptor } from '../features/job-host';

interface LayerConfig {
  class_name: string;
  config: Record<string, unknown> & { name: string };
  name?: string;
  inbound_nodes?: unknown[];
}

interface ModelConfig {
  class_name: string;
  config: { name?: string; layers: LayerConfig[]; input_layers?: unknown[]; output_layers?: unknown[][] };
}

/** Layers that only make sense with the dense layer before them (removing fc6 removes its dropout too). */
const FOLLOWERS = new Set(['Dropout', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout']);

const nameOf = (l: LayerConfig) => l.config.name;

/** Names of the layers `l` takes its input from (functional configs; [[name, node, tensor, kwargs], …]). */
function inboundNames(l: LayerConfig): string[] {
  const nodes = (l.inbound_nodes ?? []) as unknown[][][];
  return nodes.flatMap((node) => node.map((entry) => String(entry[0])));
}

/**
 * The config of `model` changed as `variant` says, its last dense layer sized for `classes` outputs. Returns the
 * names actually removed (a removed dense layer's dropout goes with it).
 */
export function variantConfig(model: tfl.LayersModel, variant: AblationVariant, classes: number): { config: ModelConfig; removed: string[] } {
  const config = JSON.parse(JSON.stringify(model.toJSON(undefined, false))) as ModelConfig;
  const layers = config.config.layers;
  const byName = new Map(layers.map((l) => [nameOf(l), l]));
  const denseLayers = layers.filter((l) => l.class_name === 'Dense');
  const classifier = denseLayers[denseLayers.length - 1];
  if (!classifier) throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', 'The model has no dense classifier layer');
  for (const name of [...(variant.remove ?? []), ...Object.keys(variant.resize ?? {})]) {
    if (!byName.has(name)) throw new InspectorError('LAYER_NOT_FOUND', `Variant "${variant.name}": the model has no layer ${name}`);
  }
  for (const [name, size] of Object.entries(variant.resize ?? {})) {
    const layer = byName.get(name)!;
    if (layer === classifier)
      throw new InspectorError('BAD_ARGUMENT', `Variant "${variant.name}": the classifier ${name} has one output per class and cannot be resized`);
    if ('filters' in layer.config) layer.config.filters = size;
    else if ('units' in layer.config) layer.config.units = size;
    else
      throw new InspectorError(
        'BAD_ARGUMENT',
        `Variant "${variant.name}": ${name} (${layer.class_name}) has no width to change (only convolution and dense layers do)`,
      );
  }
  classifier.config.units = classes;

  const remove = new Set(variant.remove ?? []);
  if (remove.has(nameOf(classifier)))
    throw new InspectorError('BAD_ARGUMENT', `Variant "${variant.name}": the classifier ${nameOf(classifier)} cannot be removed`);
  const functional = layers.some((l) => (l.inbound_nodes ?? []).length > 0);
  if (!functional) {
    // Sequential: a removed dense layer's dropout goes with it; the input shape moves to the new first layer.
    layers.forEach((l, i) => {
      if (remove.has(nameOf(l)) && l.class_name === 'Dense' && layers[i + 1] && FOLLOWERS.has(layers[i + 1].class_name)) remove.add(nameOf(layers[i + 1]));
    });
    const kept = layers.filter((l) => !remove.has(nameOf(l)));
    const first = layers[0];
    if (remove.has(nameOf(first)) && kept[0]) {
      for (const key of ['batch_input_shape', 'input_shape', 'dtype'] as const) if (first.config[key] !== undefined) kept[0].config[key] = first.config[key];
    }
    config.config.layers = kept;
  } else {
    for (const name of [...remove]) {
      const layer = byName.get(name)!;
      if (layer.class_name === 'InputLayer') throw new InspectorError('BAD_ARGUMENT', `Variant "${variant.name}": the input cannot be removed`);
      const sources = (layer.inbound_nodes ?? []) as unknown[][][];
      if (sources.length !== 1 || sources[0].length !== 1)
        throw new InspectorError('BAD_ARGUMENT', `Variant "${variant.name}": ${name} joins several inputs and cannot be removed`);
      if (layer.class_name === 'Dense') {
        const users = layers.filter((l) => inboundNames(l).includes(name));
        if (users.length === 1 && FOLLOWERS.has(users[0].class_name)) remove.add(nameOf(users[0]));
      }
    }
    // Whoever read a removed layer's output reads what that layer read (following chains of removed layers).
    const replacement = (entry: unknown[]): unknown[] => {
      let current = entry;
      while (remove.has(String(current[0]))) current = (byName.get(String(current[0]))!.inbound_nodes as unknown[][][])[0][0] as unknown[];
      return current;
    };
    for (const l of layers) if (l.inbound_nodes) l.inbound_nodes = (l.inbound_nodes as unknown[][][]).map((node) => node.map(replacement));
    if (config.config.output_layers) config.config.output_layers = config.config.output_layers.map(replacement);
    config.config.layers = layers.filter((l) => !remove.has(nameOf(l)));
  }
  return { config, removed: [...remove].sort() };
}

/** Builds a variant; its layers get their own fresh initial weights (`seed` keeps runs comparable where the initialiser takes one). */
async function buildVariant(config: ModelConfig, name: string): Promise<tfl.LayersModel> {
  try {
    return (await tfl.models.modelFromJSON({ modelTopology: config as unknown as tf.serialization.ConfigDict })) as tfl.LayersModel;
  } catch (error) {
    throw new InspectorError('BAD_ARGUMENT', `Variant "${name}" is not a network that fits together: ${(error as Error).message}`);
  }
}

/** Copies the weights of every layer of `from` whose name and weight shapes match a layer of `to`. */
function keepFittingWeights(from: tfl.LayersModel, to: tfl.LayersModel): void {
  for (const layer of to.layers) {
    let source: tfl.layers.Layer;
    try {
      source = from.getLayer(layer.name);
    } catch {
      continue;
    }
    const a = source.getWeights();
    const b = layer.getWeights();
    if (a.length && a.length === b.length && a.every((t, i) => t.shape.join() === b[i].shape.join())) layer.setWeights(a);
  }
}

const parameterCount = (m: tfl.LayersModel) => m.weights.reduce((s, w) => s + w.shape.reduce((a, b) => (a ?? 1) * (b ?? 1), 1)!, 0);

export async function architectureAblation(pretrained: LoadedModel, dataset: Dataset, params: JobParams['ablation'], ctx: JobContext): Promise<AblationResult> {
  const classes = dataset.summary.classes.map((c) => c.name);
  const epochs = params.epochs ?? 10;
  const batchSize = params.batchSize ?? 32;
  const seed = params.seed ?? 1;
  const start = params.start ?? 'scratch';
  const variants: AblationVariant[] = [
    { name: 'Full model' },
    ...params.variants.filter((v) => (v.remove?.length ?? 0) + Object.keys(v.resize ?? {}).length > 0),
  ];
  // Check every variant first, so a typo is reported at once.
  const configs = variants.map((v) => variantConfig(pretrained.model, v, Math.max(2, classes.length)));
  if (classes.length < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'An ablation needs at least two classes (one sub-folder each)');
  const small = dataset.summary.classes.find((c) => c.count < 2);
  if (small) throw new InspectorError('DATASET_EMPTY_CLASS', `Class "${small.name}" has ${small.count} image(s); each class needs at least 2`);

  const { ys, pack, skipped, release } = await loadAll(pretrained, dataset, ctx);
  try {
    if (new Set(ys).size < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'Fewer than two classes have readable images');
    const split = stratifiedSplit(ys, 0.8, seed);
    const train = pack(split.train);
    const validation = pack(split.test);
    const [h] = pretrained.summary.inputShape;
    const pre = pretrained.summary.preprocessing;
    const rows: AblationRow[] = [];
    for (const [v, variant] of variants.entries()) {
      ctx.throwIfCancelled();
      const model = await buildVariant(configs[v].config, variant.name);
      try {
        if (start === 'pretrained') keepFittingWeights(pretrained.model, model);
        const began = Date.now();
        const result = await trainClassifier(model, train, {
          epochs,
          batchSize,
          learningRate: 0.01,
          momentum: 0.9,
          lrDecay: { everyEpochs: Math.max(1, Math.ceil(epochs * 0.7)), factor: 10 },
          weightDecay: 5e-4,
          seed,
          augment: { cropPad: Math.max(1, Math.round(h / 14)), flip: true, fill: (0 - pre.mean[0]) / pre.std[0] },
          validation,
          shouldCancel: () => ctx.isCancelled(),
          onProgress: (p) =>
            ctx.progress(
              v * epochs * p.batchesPerEpoch + (p.epoch - 1) * p.batchesPerEpoch + p.batch,
              variants.length * epochs * p.batchesPerEpoch,
              `${variant.name} (${v + 1} of ${variants.length}): epoch ${p.epoch} of ${epochs}, loss ${p.loss.toFixed(3)}`,
            ),
        });
        rows.push({
          variant: variant.name,
          removed: configs[v].removed,
          resized: variant.resize ?? {},
          parameters: parameterCount(model),
          trainError: 1 - (await evaluateAccuracy(model, train)),
          validationError: 1 - (await evaluateAccuracy(model, validation)),
          seconds: (Date.now() - began) / 1000,
          history: result.history.map(({ epoch, loss, validationAccuracy }) => ({
            epoch,
            loss,
            ...(validationAccuracy !== undefined ? { validationAccuracy } : {}),
          })),
        });
      } finally {
        model.dispose();
      }
    }
    return { classes, trainImages: split.train.length, validationImages: split.test.length, epochs, start, rows, skipped };
  } finally {
    // The images' temporary file on disk, when the folder was too big to hold in memory.
    release();
  }
}

/** The architecture-ablation job. */
export const ablationJob: JobDescriptor<'ablation'> = {
  run: (host, params, ctx) => architectureAblation(host.requireModel(), host.requireDataset(), params, ctx),
};
