/** A linear SVM on chosen units of feature rows: used by the distributed-code analysis and by fine-tuning's SVM classifier. */
import { mulberry32, shuffledIndices } from '../base/random';

/**
 * A linear SVM (weights per chosen unit, bias) trained on rows `train` of standardised features `x`: Pegasos SGD,
 * step 1/(λ(t+100)). The weights are kept as scale·v, so that the shrink every step takes is one multiplication
 * instead of a pass over the units, and the chosen units of the training rows are copied side by side once.
 */
export function trainLinearSvm(
  x: Float32Array[],
  positive: boolean[],
  train: number[],
  units: number[],
  seed: number,
  epochs = 40,
  lambda = 1e-3,
): { w: Float64Array; b: number } {
  const k = units.length;
  const rows = new Float64Array(train.length * k);
  train.forEach((i, r) => {
    for (let j = 0; j < k; j++) rows[r * k + j] = x[i][units[j]];
  });
  const v = new Float64Array(k);
  let scale = 1;
  let b = 0;
  const random = mulberry32(seed);
  let t = 0;
  for (let e = 0; e < epochs; e++) {
    for (const r of shuffledIndices(train.length, random)) {
      t++;
      const eta = 1 / (lambda * (t + 100));
      const y = positive[train[r]] ? 1 : -1;
      const base = r * k;
      let dot = 0;
      for (let j = 0; j < k; j++) dot += v[j] * rows[base + j];
      const margin = b + scale * dot;
      scale *= 1 - eta * lambda;
      if (y * margin < 1) {
        const step = (eta * y) / scale;
        for (let j = 0; j < k; j++) v[j] += step * rows[base + j];
        b += eta * y * 0.1;
      }
      if (scale < 1e-150) {
        for (let j = 0; j < k; j++) v[j] *= scale;
        scale = 1;
      }
    }
  }
  return { w: v.map((value) => value * scale), b };
}
