/** Seeded splits of a labelled set into training and held-out rows: probes, distributed codes and fine-tuning split alike. */
import { mulberry32, shuffledIndices } from '../base/random';

/** Stratified split: within each class, a seeded shuffle, the first `trainFraction` for training. */
export function stratifiedSplit(labels: number[], trainFraction: number, seed: number): { train: number[]; test: number[] } {
  const random = mulberry32(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => byClass.set(l, [...(byClass.get(l) ?? []), i]));
  const train: number[] = [];
  const test: number[] = [];
  for (const members of byClass.values()) {
    const order = shuffledIndices(members.length, random);
    const cut = Math.max(1, Math.min(members.length - 1, Math.round(members.length * trainFraction)));
    order.forEach((o, k) => (k < cut ? train : test).push(members[o]));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}
