/**
 * How distributed is the code (Agrawal §4.2), on features built so the answer is known: class A is carried by
 * unit 3 alone, class B by units 5–14 together (each weakly), class C by nothing in particular. The SVM ranks unit
 * 3 first for A and needs one unit for half and most of its AP; B needs several; the overlap of A's and B's top
 * sets is low; results are the same run to run.
 */
import { describe, expect, it } from 'vitest';
import { averagePrecision } from '../../electron/engine/analyses/selectivity';
import { mulberry32, shuffledIndices } from '../../electron/engine/base/random';
import { maxRelError } from '../helpers/numeric';
import { trainLinearSvm } from '../../electron/engine/features/linear-svm';

function data(n: number, units: number, seed: number) {
  const random = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random());
  const labels: number[] = [];
  const x: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const v = Float32Array.from({ length: units }, () => gauss());
    if (c === 0) v[3] += 3;
    if (c === 1) for (let u = 5; u < 15; u++) v[u] += 0.9;
    x.push(v);
    labels.push(c);
  }
  return { x, labels };
}

describe('linear SVM for unit ranking', () => {
  const { x, labels } = data(600, 40, 5);
  const train = Array.from({ length: 400 }, (_, i) => i);
  const test = Array.from({ length: 200 }, (_, i) => 400 + i);
  const all = Array.from({ length: 40 }, (_, u) => u);
  const apOf = (c: number, units: number[]) => {
    const positive = labels.map((l) => l === c);
    const { w, b } = trainLinearSvm(x, positive, train, units, 1);
    return {
      ap: averagePrecision(
        test.map((i) => units.reduce((s, u, k) => s + w[k] * x[i][u], b)),
        test.map((i) => positive[i]),
      ),
      w,
    };
  };

  it('ranks the carrying units first and reaches most of the AP with them', () => {
    const a = apOf(0, all);
    const rankA = [...all].sort((p, q) => Math.abs(a.w[q]) - Math.abs(a.w[p]));
    expect(rankA[0]).toBe(3);
    expect(apOf(0, [3]).ap / a.ap).toBeGreaterThan(0.9);
    const b = apOf(1, all);
    const rankB = [...all].sort((p, q) => Math.abs(b.w[q]) - Math.abs(b.w[p]));
    expect(rankB.slice(0, 10).filter((u) => u >= 5 && u < 15).length).toBeGreaterThanOrEqual(8);
    // B is spread over ten units: one of them alone falls well short of what ten give.
    expect(apOf(1, rankB.slice(0, 1)).ap).toBeLessThan(apOf(1, rankB.slice(0, 10)).ap - 0.1);
  });

  it('equals Pegasos written out step by step (weights shrunk every step, no scale factor)', () => {
    const [lambda, epochs] = [1e-3, 5];
    for (const [c, units] of [
      [0, all],
      [1, [7, 3, 12]],
    ] as const) {
      const positive = labels.map((l) => l === c);
      const w = new Float64Array(units.length);
      let b = 0;
      let t = 0;
      const random = mulberry32(2);
      for (let e = 0; e < epochs; e++)
        for (const r of shuffledIndices(train.length, random)) {
          const i = train[r];
          const eta = 1 / (lambda * (++t + 100));
          const y = positive[i] ? 1 : -1;
          const margin = units.reduce((s, u, k) => s + w[k] * x[i][u], b);
          for (let k = 0; k < units.length; k++) w[k] *= 1 - eta * lambda;
          if (y * margin < 1) {
            units.forEach((u, k) => (w[k] += eta * y * x[i][u]));
            b += eta * y * 0.1;
          }
        }
      const fast = trainLinearSvm(x, positive, train, [...units], 2, epochs, lambda);
      expect(maxRelError(fast.w, w)).toBeLessThan(1e-9);
      expect(Math.abs(fast.b - b)).toBeLessThan(1e-9);
    }
  });

  it('is reproducible', () => {
    expect(Array.from(apOf(1, all).w)).toEqual(Array.from(apOf(1, all).w));
  });
});
