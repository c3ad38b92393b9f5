/**
 * Checks a labelled image folder before training on it: images that look the same — a difference hash of each
 * image finds candidates, and their 16×16 grey thumbnails must then agree to within a few grey levels on average
 * (the hash alone calls every pair of plain trousers on black the same) — sorted into look-alikes within one class (they inflate the held-back accuracy when
 * one lands in training and its twin in validation) and look-alikes across classes (one of the labels is probably
 * wrong). The train/validation split counted is Teach it's default (4/5 to learn from, seed 1).
 */
import sharp from 'sharp';
import type { DatasetReport } from '../../../shared/contract';
import { toErrorInfo } from '../../../shared/errors';
import type { Dataset } from '../data/dataset';
import type { JobContext } from '../base/job-context';
import { stratifiedSplit } from '../features/splits';
import type { JobDescriptor } from '../features/job-host';

/** Two 32-bit halves of a 64-bit dHash: row-wise "is this pixel darker than its right neighbour" on a 9×8 grey thumbnail. */
export async function differenceHash(png: Uint8Array): Promise<[number, number]> {
  const { data } = await sharp(png).greyscale().resize(9, 8, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer({ resolveWithObject: true });
  let hi = 0;
  let lo = 0;
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      const bit = data[y * 9 + x] < data[y * 9 + x + 1] ? 1 : 0;
      const k = y * 8 + x;
      if (k < 32) hi = (hi | (bit << k)) >>> 0;
      else lo = (lo | (bit << (k - 32))) >>> 0;
    }
  return [hi, lo];
}

function popcount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Hash distance (of 64 bits) that makes two images candidates, and the mean grey-level difference (of 255) of
 *  their 16×16 thumbnails that confirms them: re-saved or re-compressed copies stay well under it. */
export const CANDIDATE_BITS = 6;
export const LOOKALIKE_MEAN_DIFFERENCE = 6;

async function thumbnail(png: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array((await sharp(png).greyscale().resize(16, 16, { fit: 'fill' }).raw().toBuffer()).buffer.slice(0));
}

function meanDifference(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}
const MAX_PAIRWISE = 30_000;

export async function datasetReport(dataset: Dataset, ctx: JobContext): Promise<DatasetReport> {
  const entries = dataset.entries;
  const hashes: Array<[number, number] | undefined> = new Array(entries.length);
  const thumbs: Uint8Array[] = new Array(entries.length);
  const unreadable: DatasetReport['unreadable'] = [];
  for (let start = 0; start < entries.length; start += 32) {
    ctx.throwIfCancelled();
    await Promise.all(
      entries.slice(start, start + 32).map(async (e, k) => {
        try {
          const png = await dataset.displayPng(e.index, 32);
          hashes[start + k] = await differenceHash(png);
          thumbs[start + k] = await thumbnail(png);
        } catch (error) {
          const info = toErrorInfo(error);
          unreadable.push({ file: e.file, code: info.code, message: info.message });
        }
      }),
    );
    ctx.progress(Math.min(entries.length, start + 32), entries.length, `Looking at ${Math.min(entries.length, start + 32)} of ${entries.length} images`);
    await ctx.yield();
  }
  // Union–find over look-alike pairs (pairwise up to MAX_PAIRWISE images; beyond, only identical hashes).
  const parent = entries.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const join = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  if (entries.length <= MAX_PAIRWISE) {
    for (let i = 0; i < entries.length; i++) {
      const a = hashes[i];
      if (!a) continue;
      for (let j = i + 1; j < entries.length; j++) {
        const b = hashes[j];
        if (b && popcount(a[0] ^ b[0]) + popcount(a[1] ^ b[1]) <= CANDIDATE_BITS && meanDifference(thumbs[i], thumbs[j]) <= LOOKALIKE_MEAN_DIFFERENCE)
          join(i, j);
      }
    }
  } else {
    const seen = new Map<string, number>();
    hashes.forEach((h, i) => {
      if (!h) return;
      const key = `${h[0]}:${h[1]}`;
      if (seen.has(key) && meanDifference(thumbs[seen.get(key)!], thumbs[i]) <= LOOKALIKE_MEAN_DIFFERENCE) join(seen.get(key)!, i);
      else seen.set(key, i);
    });
  }
  const groups = new Map<number, number[]>();
  entries.forEach((_, i) => {
    if (!hashes[i]) return;
    const r = find(i);
    groups.set(r, [...(groups.get(r) ?? []), i]);
  });
  const split = stratifiedSplit(
    entries.map((e) => e.classIndex),
    0.8,
    1,
  );
  const inValidation = new Set(split.test);
  const lookalikes: DatasetReport['lookalikes'] = [];
  let leaks = 0;
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const classes = [...new Set(members.map((i) => entries[i].classIndex))];
    const validation = members.filter((i) => inValidation.has(i)).length;
    if (validation > 0 && validation < members.length) leaks += validation;
    lookalikes.push({
      images: members.map((i) => entries[i].index),
      files: members.map((i) => entries[i].file),
      classes: classes.map((c) => dataset.summary.classes[c].name),
      acrossClasses: classes.length > 1,
    });
  }
  lookalikes.sort((a, b) => Number(b.acrossClasses) - Number(a.acrossClasses) || b.images.length - a.images.length);
  return {
    checked: entries.length - unreadable.length,
    lookalikes,
    acrossClasses: lookalikes.filter((g) => g.acrossClasses).length,
    validationWithTwinInTraining: leaks,
    pairwise: entries.length <= MAX_PAIRWISE,
    unreadable,
  };
}

/** The dataset-report job: duplicates, look-alikes and unreadable files of the open folder. */
export const datasetReportJob: JobDescriptor<'datasetReport'> = {
  run: (host, _params, ctx) => datasetReport(host.requireDataset(), ctx),
};
