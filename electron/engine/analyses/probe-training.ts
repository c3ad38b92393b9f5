/**
 * Layers over training time (Agrawal et al. Table 3; Zeiler & Fergus Fig. 4, numerically): a linear probe on each
 * chosen layer at each saved checkpoint of training, then on the final model. Lower layers reach their final
 * probe accuracy earlier than higher ones in the paper; `convergedAt` names, per layer, the first checkpoint within
 * one point of that layer's final accuracy, so "which layer converges first" can be read off directly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProbeTrainingResult } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { Dataset } from '../data/dataset';
import { openModel, type LoadedModel } from '../model/loaded-model';
import { releaseBatchSessions } from '../runtime/batch-forward';
import type { JobContext } from '../base/job-context';
import { linearProbes } from './probe';
import type { JobDescriptor } from '../features/job-host';

/** Layers a probe can afford by default: convolution and dense layers of at most this many features. */
const DEFAULT_MAX_FEATURES = 16384;

export function defaultProbeLayers(loaded: LoadedModel): string[] {
  const weighted = loaded.summary.layers.filter(
    (l) => l.params > 0 && l.type !== 'BatchNormalization' && l.outputShape.reduce((a, b) => a * b, 1) <= DEFAULT_MAX_FEATURES,
  );
  return weighted.slice(0, -1).map((l) => l.name); // not the classifier itself
}

/** Epoch number in a checkpoint name ("epoch-3" → 3), for the plot's x axis. */
const epochOf = (name: string): number | null => {
  const m = /(\d+)(?!.*\d)/.exec(name);
  return m ? Number(m[1]) : null;
};

export async function probeOverTraining(
  current: LoadedModel,
  modelJsonPath: string,
  dataset: Dataset,
  options: { layers?: string[]; seeds?: number },
  ctx: JobContext,
): Promise<ProbeTrainingResult> {
  const available = current.summary.checkpoints;
  if (available.length === 0) throw new InspectorError('BAD_ARGUMENT', 'This model has no training checkpoints (a checkpoints/ folder beside its model.json)');
  const layers = options.layers ?? defaultProbeLayers(current);
  if (layers.length === 0) throw new InspectorError('BAD_ARGUMENT', 'Choose at least one layer to probe');
  for (const l of layers) if (!current.summary.layers.some((x) => x.name === l)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${l}"`);
  const stages = [
    ...available.map((n) => ({ name: n, file: path.join(path.dirname(modelJsonPath), 'checkpoints', n, 'model.json') })),
    { name: 'final', file: modelJsonPath },
  ];
  const rows: ProbeTrainingResult['rows'] = [];
  for (const [s, stage] of stages.entries()) {
    ctx.throwIfCancelled();
    if (!fs.existsSync(stage.file)) throw new InspectorError('MODEL_NOT_FOUND', `Checkpoint ${stage.name} has no model.json`);
    const model = stage.name === 'final' ? current : await openModel(stage.file, stage.file);
    try {
      const stageCtx: JobContext = {
        ...ctx,
        progress: (done, total, message) =>
          ctx.progress(s * total + done, stages.length * total, `Checkpoint ${stage.name} (${s + 1} of ${stages.length}): ${message}`),
      };
      const probed = await linearProbes(model, dataset, { layers, ablations: ['original'], seeds: options.seeds ?? 1 }, stageCtx);
      for (const r of probed)
        rows.push({ checkpoint: stage.name, epoch: stage.name === 'final' ? null : epochOf(stage.name), layer: r.layer, accuracy: r.accuracy, std: r.std });
    } finally {
      if (model !== current) {
        await releaseBatchSessions(model);
        model.dispose();
      }
    }
  }
  const convergedAt = Object.fromEntries(
    layers.map((layer) => {
      const series = stages.map((st) => rows.find((r) => r.layer === layer && r.checkpoint === st.name)!.accuracy);
      const final = series[series.length - 1];
      const first = series.findIndex((a) => a >= final - 0.01);
      return [layer, stages[first].name];
    }),
  );
  return { checkpoints: stages.map((s) => s.name), layers, rows, convergedAt };
}

/** The probes-over-training job: linear probes at each checkpoint of the open model's training. */
export const probeTrainingJob: JobDescriptor<'probeTraining'> = {
  run: (host, params, ctx) => probeOverTraining(host.requireModel(), host.modelFile(), host.requireDataset(), params, ctx),
  cache: {},
};
