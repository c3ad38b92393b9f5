/**
 * First-layer filters and feature scale (Zeiler & Fergus §4.1, Fig. 6a): a convolution layer's kernels as
 * pictures, and each filter's RMS. ZF found that a few first-layer filters came to dominate (their RMS far above
 * the rest) and fixed it by renormalising every filter whose RMS exceeds a fixed radius back to that radius.
 * Here a filter is flagged when its RMS is more than DOMINANCE_RATIO times the median RMS of the layer.
 */
import type { FilterBank } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { LoadedModel } from '../model/loaded-model';

export const DOMINANCE_RATIO = 3;

export function filterBank(loaded: LoadedModel, layerName?: string): FilterBank {
  const name = layerName ?? loaded.summary.layers.find((l) => l.type === 'Conv2D')?.name;
  if (!name) throw new InspectorError('LAYER_NOT_FOUND', 'The model has no convolution layer');
  const info = loaded.summary.layers.find((l) => l.name === name);
  if (!info) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
  if (info.type !== 'Conv2D') throw new InspectorError('BAD_ARGUMENT', `Layer ${name} is a ${info.type}, not a convolution: it has no filters to draw`);
  const kernel = loaded.model.getLayer(name).getWeights()[0];
  const shape = kernel.shape as number[];
  const data = kernel.dataSync() as Float32Array; // layer weights are owned by the model: no dispose
  const [kh, kw, ci, co] = shape;
  const rms = new Array<number>(co).fill(0);
  for (let i = 0; i < kh * kw * ci; i++) for (let o = 0; o < co; o++) rms[o] += data[i * co + o] ** 2;
  for (let o = 0; o < co; o++) rms[o] = Math.sqrt(rms[o] / (kh * kw * ci));
  const sorted = [...rms].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  const dominant = rms.map((r, unit) => ({ unit, ratio: median > 0 ? r / median : 0 })).filter((d) => d.ratio > DOMINANCE_RATIO);
  return { layer: name, shape, data: Float32Array.from(data), rms, medianRms: median, dominant, dominanceRatio: DOMINANCE_RATIO };
}
