/**
 * Feature evolution during training (Zeiler & Fergus §4.1, Fig. 4): for chosen units of a layer, at every
 * training checkpoint, the image of the dataset that excites the unit most, and its deconvnet projection cropped
 * to the receptive field — a units × checkpoints grid that shows features sharpening as training goes on.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EvolutionCell, EvolutionResult } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { Dataset } from '../data/dataset';
import { openModel, type LoadedModel } from '../model/loaded-model';
import { cropPng, denormalise, projectionImage } from './atlas';
import type { JobContext } from '../base/job-context';
import { projectUnitBatch } from './projection';
import { buildTopK } from './topk';
import type { JobDescriptor } from '../features/job-host';

export interface EvolutionOptions {
  layer?: string;
  units?: number[];
  /** Checkpoint names (default: all, then the final model). */
  checkpoints?: string[];
}

export async function featureEvolution(
  current: LoadedModel,
  modelJsonPath: string,
  dataset: Dataset,
  options: EvolutionOptions,
  ctx: JobContext,
): Promise<EvolutionResult> {
  const available = current.summary.checkpoints;
  if (available.length === 0) throw new InspectorError('BAD_ARGUMENT', 'This model has no training checkpoints (a checkpoints/ folder beside its model.json)');
  const names = options.checkpoints ?? available;
  for (const n of names) if (!available.includes(n)) throw new InspectorError('BAD_ARGUMENT', `No checkpoint "${n}" (have ${available.join(', ')})`);
  const layer = options.layer ?? current.summary.layers.find((l) => l.type === 'Conv2D')?.name;
  const info = current.summary.layers.find((l) => l.name === layer);
  if (!layer || !info) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${layer}"`);
  if (info.outputShape.length !== 3 || !info.receptiveField) throw new InspectorError('LAYER_NOT_SPATIAL', `Layer ${layer} has no spatial map to project from`);
  const width = info.outputShape[2];
  const units = options.units ?? Array.from({ length: Math.min(8, width) }, (_, i) => i);
  for (const u of units)
    if (!Number.isInteger(u) || u < 0 || u >= width)
      throw new InspectorError('UNIT_OUT_OF_RANGE', `Layer ${layer} has units 0–${width - 1}; there is no unit ${u}`);

  const stages = [
    ...names.map((n) => ({ name: n, file: path.join(path.dirname(modelJsonPath), 'checkpoints', n, 'model.json') })),
    { name: 'final', file: modelJsonPath },
  ];
  const cells: EvolutionCell[] = [];
  for (let s = 0; s < stages.length; s++) {
    ctx.throwIfCancelled();
    const stage = stages[s];
    if (!fs.existsSync(stage.file)) throw new InspectorError('MODEL_NOT_FOUND', `Checkpoint ${stage.name} has no model.json`);
    const model = stage.name === 'final' ? current : await openModel(stage.file, stage.file);
    try {
      const stageCtx: JobContext = {
        ...ctx,
        progress: (done, total) => ctx.progress(s * total + done, stages.length * total, `Checkpoint ${stage.name}: ${done} of ${total} images`),
      };
      const [index] = await buildTopK(model, dataset, { layers: [layer], k: 1 }, stageCtx);
      const winners = units.map((u) => index.units[u].top[0]);
      const inputs = await Promise.all(winners.map((w) => dataset.loadInput(w.index, model.summary.preprocessing, model.summary.inputShape)));
      // One deconvnet pass per unit (units differ), each a batch of one image.
      for (let i = 0; i < units.length; i++) {
        const w = winners[i];
        const [p] = projectUnitBatch(model, [inputs[i]], layer, units[i], 'deconv', [w.position]);
        cells.push({
          checkpoint: stage.name,
          unit: units[i],
          image: w.image,
          value: w.value,
          position: w.position,
          projection: await cropPng(projectionImage(p.data, model.summary.inputShape, w.box!), w.box!),
          patch: await cropPng(denormalise(inputs[i], model), w.box!),
        });
      }
    } finally {
      if (model !== current) model.dispose();
    }
  }
  return { layer, units, checkpoints: stages.map((s) => s.name), cells };
}

/** The evolution job: a unit's top patches at each checkpoint of the open model's training. */
export const evolutionJob: JobDescriptor<'evolution'> = {
  run: (host, params, ctx) => featureEvolution(host.requireModel(), host.modelFile(), host.requireDataset(), params, ctx),
  cache: {},
};
