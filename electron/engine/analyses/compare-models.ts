/**
 * What fine-tuning changed (Agrawal et al. Table 2, Fig. 1): two models of the same architecture — typically the
 * pretrained one and a fine-tuned copy — compared layer by layer on the open images:
 *   weight change   ‖W_after − W_before‖ / ‖W_before‖ over all of a layer's weights (0 for frozen layers)
 *   selectivity     mean area under the entropy curve (AuE) of the layer's units in each model, and the shift
 * Layers are matched by name and weight shapes; layers only one model has (a new classifier) are listed apart.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ModelComparison } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { Dataset } from '../data/dataset';
import { openModel, type LoadedModel } from '../model/loaded-model';
import { releaseBatchSessions } from '../runtime/batch-forward';
import { selectivityOfLayers } from './agrawal';
import type { JobContext } from './job-context';

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
  options: { layers?: string[]; selectivity?: boolean },
  ctx: JobContext,
): Promise<ModelComparison> {
  const other = await openModel(otherFile, otherFile);
  try {
    const shapesOf = (m: LoadedModel, name: string) => {
      try {
        return m.model.getLayer(name).getWeights().map((w) => w.shape.join('x')).join(';');
      } catch {
        return undefined;
      }
    };
    const named = current.summary.layers.filter((l) => l.params > 0).map((l) => l.name);
    const shared = named.filter((n) => shapesOf(other, n) !== undefined && shapesOf(other, n) === shapesOf(current, n));
    if (shared.length === 0) {
      throw new InspectorError('BAD_ARGUMENT', `${other.summary.name} shares no layer (same name and weight shapes) with ${current.summary.name}: compare models of the same architecture`);
    }
    const onlyHere = named.filter((n) => !shared.includes(n));
    const onlyThere = other.summary.layers.filter((l) => l.params > 0 && !shared.includes(l.name)).map((l) => l.name);
    const layers = options.layers ?? shared;
    for (const l of layers) if (!shared.includes(l)) throw new InspectorError('LAYER_NOT_FOUND', `Layer "${l}" is not in both models with the same shapes`);

    const rows: ModelComparison['rows'] = layers.map((name) => ({
      layer: name,
      weightChange: relativeChange(current.model.getLayer(name).getWeights(), other.model.getLayer(name).getWeights()),
    }));
    if (options.selectivity !== false) {
      // Every layer of each model in one pair of passes over the dataset.
      for (const [j, model] of [current, other].entries()) {
        ctx.throwIfCancelled();
        const sub: JobContext = { ...ctx, progress: (d, t, m) => ctx.progress(j * t + d, 2 * t, `${j === 0 ? 'This model' : 'The other'}: ${m}`) };
        const { layers: measured } = await selectivityOfLayers(model, dataset, layers, sub);
        measured.forEach(({ aue }, i) => {
          if (j === 0) rows[i].aueModel = mean(aue);
          else rows[i].aueOther = mean(aue);
        });
      }
    }
    return { model: current.summary.name, other: other.summary.name, rows, onlyInModel: onlyHere, onlyInOther: onlyThere };
  } finally {
    await releaseBatchSessions(other);
    other.dispose();
  }
}
