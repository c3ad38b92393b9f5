/**
 * What fine-tuning changed (Agrawal et al. Table 2, Fig. 1): two models of the same architecture — typically the
 * pretrained one and a fine-tuned copy — compared layer by layer on the open images:
 *   weight change   ‖W_after − W_before‖ / ‖W_before‖ over all of a layer's weights (0 for frozen layers)
 *   selectivity     mean area under the entropy curve (AuE) of the layer's units in each model, and the shift
 *   probe accuracy  held-out accuracy of a linear probe on the layer's outputs in each model (Table 2's per-layer
 *                   performance before and after fine-tuning, on the person's classes)
 * Layers are matched by name and weight shapes; layers only one model has (a new classifier) are listed apart.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelComparison } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { Dataset } from '../data/dataset';
import { openModel, type LoadedModel } from '../model/loaded-model';
import { releaseBatchSessions } from '../runtime/batch-forward';
import { selectivityOfLayers } from './selectivity';
import { linearProbes } from './probe';
import type { JobContext } from '../base/job-context';
import { stamp } from '../files/workspace';
import { resolveModelJsonPath } from '../model/tfjs-io';
import { resolveModelPath } from '../paths';
import type { JobDescriptor } from '../features/job-host';

function relativeChange(before: tf.Tensor[], after: tf.Tensor[]): number {
  let diff = 0;
  let norm = 0;
  before.forEach((b, i) => {
    const x = b.dataSync();
    const y = after[i].dataSync();
    for (let k = 0; k < x.length; k++) {
      diff += (y[k] - x[k]) ** 2;
      norm += x[k] ** 2;
    }
  });
  return norm > 0 ? Math.sqrt(diff / norm) : diff > 0 ? Infinity : 0;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);

export async function compareModels(
  current: LoadedModel,
  otherFile: string,
  dataset: Dataset,
  options: { layers?: string[]; selectivity?: boolean; probes?: boolean },
  ctx: JobContext,
): Promise<ModelComparison> {
  const other = await openModel(otherFile, otherFile);
  try {
    const shapesOf = (m: LoadedModel, name: string) => {
      try {
        return m.model
          .getLayer(name)
          .getWeights()
          .map((w) => w.shape.join('x'))
          .join(';');
      } catch {
        return undefined;
      }
    };
    const named = current.summary.layers.filter((l) => l.params > 0).map((l) => l.name);
    const shared = named.filter((n) => shapesOf(other, n) !== undefined && shapesOf(other, n) === shapesOf(current, n));
    if (shared.length === 0) {
      throw new InspectorError(
        'BAD_ARGUMENT',
        `${other.summary.name} shares no layer (same name and weight shapes) with ${current.summary.name}: compare models of the same architecture`,
      );
    }
    const onlyHere = named.filter((n) => !shared.includes(n));
    const onlyThere = other.summary.layers.filter((l) => l.params > 0 && !shared.includes(l.name)).map((l) => l.name);
    const layers = options.layers ?? shared;
    for (const l of layers) if (!shared.includes(l)) throw new InspectorError('LAYER_NOT_FOUND', `Layer "${l}" is not in both models with the same shapes`);

    const rows: ModelComparison['rows'] = layers.map((name) => ({
      layer: name,
      weightChange: relativeChange(current.model.getLayer(name).getWeights(), other.model.getLayer(name).getWeights()),
    }));
    // Each measure for each model, every stage one pass over the dataset (selectivity: one pair of passes for all layers).
    const measures = [...(options.selectivity !== false ? ['selectivity'] : []), ...(options.probes !== false ? ['probe'] : [])];
    let stage = 0;
    for (const what of measures)
      for (const [j, model] of [current, other].entries()) {
        ctx.throwIfCancelled();
        const at = stage++;
        const sub: JobContext = {
          ...ctx,
          progress: (d, t, m) => ctx.progress(at * t + d, measures.length * 2 * t, `${j === 0 ? 'This model' : 'The other'}: ${m}`),
        };
        if (what === 'selectivity') {
          const { layers: measured } = await selectivityOfLayers(model, dataset, layers, sub);
          measured.forEach(({ aue }, i) => (rows[i][j === 0 ? 'aueModel' : 'aueOther'] = mean(aue)));
        } else {
          const probed = await linearProbes(model, dataset, { layers, ablations: ['original'], seeds: 1 }, sub);
          probed.forEach((p, i) => (rows[i][j === 0 ? 'probeModel' : 'probeOther'] = p.accuracy));
        }
      }
    return { model: current.summary.name, other: other.summary.name, rows, onlyInModel: onlyHere, onlyInOther: onlyThere };
  } finally {
    await releaseBatchSessions(other);
    other.dispose();
  }
}

/** The compare-models job (schema 2: probe accuracies); it also depends on the other model's file, so a retrained copy gets a new answer. */
export const compareModelsJob: JobDescriptor<'compareModels'> = {
  run: (host, params, ctx) => compareModels(host.requireModel(), otherModelFile(params.other), host.requireDataset(), params, ctx),
  cache: { schema: 2, key: (params) => ({ otherFile: stamp(otherModelFile(params.other)) }) },
};

function otherModelFile(id: string): string {
  return resolveModelJsonPath(resolveModelPath(id));
}
