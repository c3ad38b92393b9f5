/**
 * Agrawal et al. measures against brute-force computations written here: sparsity from each image's layer
 * output, AuE from all responses filtered threshold by threshold, AP from an explicit precision–recall sweep
 * (and hand-worked examples with ties, as scikit-learn scores them).
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { layerActivations } from '../../electron/engine/analyses/activations';
import {
  averagePrecision,
  entropyBits,
  grandmotherCells,
  grandmotherCurves,
  precisionAtRecall,
  PR_RECALLS,
  selectivity,
  selectivityOfLayers,
  sparsity,
} from '../../electron/engine/analyses/selectivity';
import { mulberry32 } from '../../electron/engine/base/random';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { initBackend } from '../../electron/engine/backend';
import { openDataset, type Dataset } from '../../electron/engine/data/dataset';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';

const ROOT = path.resolve(__dirname, '..', '..');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let loaded: LoadedModel;
let dataset: Dataset;
const maps = new Map<string, Array<{ data: Float32Array; shape: number[]; cls: number }>>();

async function outputs(layer: string) {
  if (!maps.has(layer)) {
    const list = [];
    for (const e of dataset.entries) {
      const x = await dataset.loadInput(e.index, loaded.summary.preprocessing, loaded.summary.inputShape);
      const m = layerActivations(loaded, layer, x);
      list.push({ data: m.data, shape: m.shape, cls: e.classIndex });
    }
    maps.set(layer, list);
  }
  return maps.get(layer)!;
}

describe('Agrawal et al. analyses', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    loaded = await openModel(path.join(ROOT, 'resources/model/model.json'), 'bundled:default');
    dataset = openDataset(path.join(ROOT, 'resources/samples'), 'samples');
    // The first 3 images of every class keep the brute force quick.
    const perClass = new Map<number, number>();
    const entries = dataset.entries.filter((e) => {
      const n = perClass.get(e.classIndex) ?? 0;
      perClass.set(e.classIndex, n + 1);
      return n < 3;
    });
    dataset = { ...dataset, entries };
  });
  afterAll(() => loaded?.dispose());

  it('sparsity: mean and population std of the per-image non-zero percentage', async () => {
    const before = tf.memory().numTensors;
    const { rows } = await sparsity(loaded, dataset, ['conv1', 'fc6'], quiet);
    expect(tf.memory().numTensors).toBe(before);
    for (const row of rows) {
      const pcts = (await outputs(row.layer)).map((o) => (100 * o.data.filter((v) => v !== 0).length) / o.data.length);
      const mean = pcts.reduce((s, v) => s + v, 0) / pcts.length;
      const std = Math.sqrt(pcts.reduce((s, v) => s + (v - mean) ** 2, 0) / pcts.length);
      expect(row.mean_nonzero_pct).toBeCloseTo(mean, 8);
      expect(row.std_nonzero_pct).toBeCloseTo(std, 6);
    }
  });

  it('selectivity: AuE equals the mean entropy of responses ≥ τ_j, j = 0..99, computed by filtering', async () => {
    const { aue } = await selectivity(loaded, dataset, 'conv5', quiet);
    const all = await outputs('conv5');
    const units = all[0].shape[2];
    const classes = dataset.summary.classes.length;
    for (const u of [0, 7, 33, 63]) {
      const responses: Array<[number, number]> = [];
      for (const o of all) for (let k = u; k < o.data.length; k += units) responses.push([o.data[k], o.cls]);
      const min = Math.min(...responses.map((r) => r[0]));
      const max = Math.max(...responses.map((r) => r[0]));
      let sum = 0;
      for (let j = 0; j < 100; j++) {
        const tau = min + ((max - min) * j) / 100;
        const counts = new Array(classes).fill(0);
        for (const [v, c] of responses) if (v >= tau) counts[c]++;
        const total = counts.reduce((s, v) => s + v, 0);
        sum += counts.reduce((h, n) => (n ? h - (n / total) * Math.log2(n / total) : h), 0);
      }
      expect(aue[u]).toBeCloseTo(sum / 100, 9);
    }
    expect(entropyBits([1, 1, 1, 1])).toBeCloseTo(2, 12);
  });

  it('selectivity of several layers in one pair of passes equals each layer measured alone', async () => {
    const { layers } = await selectivityOfLayers(loaded, dataset, ['conv3', 'conv5', 'fc7'], quiet);
    for (const { layer, aue, curves } of layers) {
      const alone = await selectivity(loaded, dataset, layer, quiet);
      expect(aue).toEqual(alone.aue);
      expect(curves).toEqual(alone.curves);
    }
  });

  it('average precision: ties share a threshold (hand-worked, as scikit-learn)', () => {
    // 0.9 (+): R .5 P 1; 0.8 tie (−,+): R 1 P 2/3 → AP = .5·1 + .5·2/3
    expect(averagePrecision([0.9, 0.8, 0.8, 0.5], [true, false, true, false])).toBeCloseTo(0.5 + 1 / 3, 12);
    // all tied: one threshold, AP = precision = 2/4
    expect(averagePrecision([1, 1, 1, 1], [true, false, true, false])).toBeCloseTo(0.5, 12);
    expect(averagePrecision([0.1, 0.9], [true, false])).toBeCloseTo(0.5, 12);
    expect(averagePrecision([0.3, 0.2], [false, false])).toBe(0);
  });

  it('grandmother cells: AP of every class × unit from spatial-max scores equals an explicit PR sweep', async () => {
    const { ap, classes } = await grandmotherCells(loaded, dataset, 'conv4', quiet);
    const all = await outputs('conv4');
    const units = all[0].shape[2];
    expect(ap).toHaveLength(classes.length);
    for (const c of [0, 4, 9])
      for (const u of [0, 50, 95]) {
        const scores = all.map((o) => {
          let m = -Infinity;
          for (let k = u; k < o.data.length; k += units) m = Math.max(m, o.data[k]);
          return m;
        });
        const positive = all.map((o) => o.cls === c);
        const thresholds = [...new Set(scores)].sort((a, b) => b - a);
        const P = positive.filter(Boolean).length;
        let expected = 0;
        let previous = 0;
        for (const t of thresholds) {
          const chosen = scores.map((s) => s >= t);
          const tp = chosen.filter((ch, i) => ch && positive[i]).length;
          const recall = tp / P;
          expected += (recall - previous) * (tp / chosen.filter(Boolean).length);
          previous = recall;
        }
        expect(ap[c][u]).toBeCloseTo(expected, 10);
      }
  });

  it('precision–recall curves: interpolated precision equals a sweep over every threshold (ties one threshold)', () => {
    // Hand-worked: 0.9 (+) → R .5 P 1; the 0.8 tie (−, +) → R 1 P 2/3; 0.5 (−) → R 1 P 1/2.
    expect(precisionAtRecall([0.9, 0.8, 0.8, 0.5], [true, false, true, false], [0, 0.5, 0.51, 1])).toEqual([1, 1, 2 / 3, 2 / 3]);
    expect(precisionAtRecall([0.3, 0.2], [false, false], [0, 1])).toEqual([0, 0]);
    // Brute force on scores with many ties: for each recall level, the best precision over all thresholds reaching it.
    const random = mulberry32(4);
    const scores = Array.from({ length: 60 }, () => Math.round(random() * 8) / 8);
    const positive = scores.map((s) => random() < 0.3 + s * 0.4);
    const P = positive.filter(Boolean).length;
    const sweep = [...new Set(scores)].map((t) => {
      const chosen = scores.map((s) => s >= t);
      const tp = chosen.filter((c, i) => c && positive[i]).length;
      return { recall: tp / P, precision: tp / chosen.filter(Boolean).length };
    });
    const expected = PR_RECALLS.map((r) => Math.max(...sweep.filter((p) => p.recall >= r - 1e-12).map((p) => p.precision)));
    expect(precisionAtRecall(scores, positive)).toEqual(expected);
  });

  it('grandmother curves: the five best units by AP, and five other units drawn the same way every run', () => {
    const random = mulberry32(9);
    const labels = Array.from({ length: 80 }, (_, i) => i % 2);
    const scores = labels.map((l) => Array.from({ length: 12 }, (_, u) => random() + (u < 3 && l === 1 ? u * 0.5 : 0)));
    const ap = [0, 1].map((c) =>
      Array.from({ length: 12 }, (_, u) =>
        averagePrecision(
          scores.map((s) => s[u]),
          labels.map((l) => l === c),
        ),
      ),
    );
    const curves = grandmotherCurves(scores, labels, ap);
    const best = [...ap[1].keys()].sort((a, b) => ap[1][b] - ap[1][a]).slice(0, 5);
    expect(curves[1].top.map((t) => t.unit)).toEqual(best);
    expect(curves[1].top[0].unit).toBe(2); // the most shifted unit
    expect(curves[1].top[0].precision).toEqual(
      precisionAtRecall(
        scores.map((s) => s[2]),
        labels.map((l) => l === 1),
      ),
    );
    expect(curves[1].random.units).toHaveLength(5);
    for (const u of curves[1].random.units) expect(best).not.toContain(u);
    const mean = PR_RECALLS.map(
      (_, k) =>
        curves[1].random.units.reduce(
          (sum, u) =>
            sum +
            precisionAtRecall(
              scores.map((s) => s[u]),
              labels.map((l) => l === 1),
            )[k],
          0,
        ) / 5,
    );
    expect(curves[1].random.precision.map((v, k) => Math.abs(v - mean[k]))).toSatisfy((d: number[]) => d.every((x) => x < 1e-12));
    expect(grandmotherCurves(scores, labels, ap)).toEqual(curves);
  });
});
