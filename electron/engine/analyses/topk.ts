/**
 * Top-k atlas (Zeiler & Fergus Fig. 2): for every unit of the chosen layers, the k images that excite it most.
 * Score of an image for a unit = the maximum of the unit's map over positions (position = where, first in
 * row-major order on ties); an image appears at most once per unit; ties between images go to the earlier image
 * in dataset order, so sharded builds merge to exactly the unsharded result. One streaming pass; memory is
 * bounded by k × units, not by the dataset. Receptive-field patches of the winners are written beside the index.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { SkippedFile } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { prefetchBatches } from '../data/batch';
import type { Dataset } from '../data/dataset';
import { shardRange } from '../data/shard';
import { receptiveBox } from '../model/graph';
import type { LoadedModel } from '../model/loaded-model';
import { batchMaxima } from '../runtime/batch-forward';
import { writeFileAtomic } from '../files/atomic';
import type { JobContext } from '../base/job-context';

export interface TopEntry {
  /** Dataset index (global, so shards merge exactly). */
  index: number;
  /** Path relative to the dataset folder. */
  image: string;
  value: number;
  /** [y, x] of the maximum; [] for dense layers. */
  position: number[];
  /** Receptive-field patch PNG, relative to the atlas folder (spatial layers). */
  patch?: string;
  /** [top, left, bottom, right) of the patch in input pixels. */
  box?: number[];
}

export interface TopKIndex {
  layer: string;
  k: number;
  /** Present on a shard: which part of the dataset it covers. */
  shard?: { index: number; count: number };
  images: number;
  units: Array<{ unit: number; top: TopEntry[] }>;
  skipped: SkippedFile[];
}

export interface TopKOptions {
  layers: string[];
  k: number;
  shard?: { index: number; count: number };
  /** Folder for index files and patches; progress is saved there so an interrupted build resumes. */
  outDir?: string;
  batchSize?: number;
  writePatches?: boolean;
  /** How often progress is saved for resuming (seconds); it is also saved when the build is cancelled. */
  saveEverySeconds?: number;
}

/** Keeps the k best (value desc, index asc) of a unit. */
function offer(list: TopEntry[], k: number, entry: TopEntry): void {
  const better = (a: TopEntry, b: TopEntry) => a.value > b.value || (a.value === b.value && a.index < b.index);
  if (list.length === k && !better(entry, list[k - 1])) return;
  let i = list.length < k ? list.length : k - 1;
  if (list.length < k) list.push(entry);
  while (i > 0 && better(entry, list[i - 1])) {
    list[i] = list[i - 1];
    i--;
  }
  list[i] = entry;
}

interface Progress {
  key: string;
  next: number;
  lists: Record<string, TopEntry[][]>;
  skipped: SkippedFile[];
}

export async function buildTopK(loaded: LoadedModel, dataset: Dataset, options: TopKOptions, ctx: JobContext): Promise<TopKIndex[]> {
  const k = options.k;
  if (!Number.isInteger(k) || k < 1) throw new InspectorError('BAD_ARGUMENT', `k must be a positive integer (got ${k})`);
  const infos = options.layers.map((name) => {
    const info = loaded.summary.layers.find((l) => l.name === name);
    if (!info) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
    return info;
  });
  const [start, end] = shardRange(dataset.entries.length, options.shard);
  if (end <= start) throw new InspectorError('DATASET_EMPTY', 'This shard of the dataset has no images');
  const forward = await batchMaxima(
    loaded,
    infos.map((i) => i.name),
  );
  const [h, w] = loaded.summary.inputShape;
  const batchSize = options.batchSize ?? 32;

  const key = JSON.stringify({
    model: loaded.summary.id,
    dataset: dataset.summary.id,
    count: dataset.entries.length,
    layers: options.layers,
    k,
    shard: options.shard ?? null,
  });
  const progressFile = options.outDir ? path.join(options.outDir, '.topk-progress.json') : undefined;
  let progress: Progress = {
    key,
    next: start,
    lists: Object.fromEntries(infos.map((i) => [i.name, Array.from({ length: i.outputShape[i.outputShape.length - 1] }, () => [])])),
    skipped: [],
  };
  if (progressFile && fs.existsSync(progressFile)) {
    try {
      const saved = JSON.parse(fs.readFileSync(progressFile, 'utf8')) as Progress;
      if (saved.key === key) progress = saved;
    } catch {
      /* a damaged progress file means starting over */
    }
  }
  let lastSave = Date.now();
  const save = () => {
    if (progressFile) writeFileAtomic(progressFile, JSON.stringify(progress));
    lastSave = Date.now();
  };
  const resumeAt = progress.next;
  for await (const loadedBatch of prefetchBatches(dataset, dataset.entries.slice(resumeAt, end), loaded, batchSize, progress.skipped)) {
    if (ctx.isCancelled()) {
      save();
      ctx.throwIfCancelled();
    }
    const batch = loadedBatch.batch;
    const used = loadedBatch.used.map((e) => e.index);
    if (used.length > 0) {
      const maxima = await forward.run(batch, used.length);
      maxima.forEach(({ values, at, units, width, spatial }, li) => {
        const lists = progress.lists[infos[li].name];
        for (let i = 0; i < used.length; i++)
          for (let u = 0; u < units; u++) {
            const value = values[i * units + u];
            // Images come in index order, so a value that only ties the k-th best loses to it: no entry needed.
            if (lists[u].length === k && !(value > lists[u][k - 1].value)) continue;
            const p = at[i * units + u];
            offer(lists[u], k, {
              index: used[i],
              image: dataset.entries[used[i]].file,
              value,
              position: spatial ? [Math.floor(p / width), p % width] : [],
            });
          }
      });
    }
    progress.next = resumeAt + loadedBatch.end;
    ctx.progress(progress.next - start, end - start, `Scanned ${progress.next - start} of ${end - start} images (${forward.engine})`);
    if (Date.now() - lastSave >= (options.saveEverySeconds ?? 5) * 1000) save();
    await ctx.yield();
  }

  const indexes: TopKIndex[] = infos.map((info) => ({
    layer: info.name,
    k,
    ...(options.shard ? { shard: options.shard } : {}),
    images: end - start,
    units: progress.lists[info.name].map((top, unit) => ({ unit, top })),
    skipped: progress.skipped,
  }));
  for (const index of indexes) {
    const field = loaded.summary.layers.find((l) => l.name === index.layer)?.receptiveField;
    if (field) for (const unit of index.units) for (const e of unit.top) e.box = receptiveBox(field, e.position[0], e.position[1], [h, w]);
  }
  if (options.outDir && options.writePatches !== false) await writePatches(loaded, dataset, indexes, options.outDir, ctx);
  if (progressFile) fs.rmSync(progressFile, { force: true });
  return indexes;
}

/** Crops each winner's receptive field from the image as the model sees it (resized, before normalisation). */
async function writePatches(loaded: LoadedModel, dataset: Dataset, indexes: TopKIndex[], outDir: string, ctx: JobContext): Promise<void> {
  const pre = loaded.summary.preprocessing;
  const [h, w, c] = loaded.summary.inputShape;
  const cache = new Map<number, Buffer>();
  const pixelsOf = async (index: number): Promise<Buffer> => {
    let px = cache.get(index);
    if (!px) {
      const x = await dataset.loadInput(index, pre, loaded.summary.inputShape);
      px = Buffer.alloc(h * w * c);
      for (let i = 0; i < x.length; i++) {
        const ch = i % c;
        const v = (x[i] * pre.std[ch % pre.std.length] + pre.mean[ch % pre.mean.length]) / pre.scale;
        px[i] = Math.max(0, Math.min(255, Math.round(v)));
      }
      if (cache.size > 512) cache.clear();
      cache.set(index, px);
    }
    return px;
  };
  for (const index of indexes) {
    const field = loaded.summary.layers.find((l) => l.name === index.layer)?.receptiveField;
    if (!field || (c !== 1 && c !== 3)) continue;
    const dir = path.join(outDir, 'patches', index.layer);
    fs.mkdirSync(dir, { recursive: true });
    for (const unit of index.units) {
      ctx.throwIfCancelled();
      for (let rank = 0; rank < unit.top.length; rank++) {
        const entry = unit.top[rank];
        const [top, left, bottom, right] = entry.box!;
        if (bottom <= top || right <= left) continue;
        const png = await sharp(await pixelsOf(entry.index), { raw: { width: w, height: h, channels: c as 1 | 3 } })
          .extract({ left, top, width: right - left, height: bottom - top })
          .png()
          .toBuffer();
        const rel = path.posix.join('patches', index.layer, `unit${unit.unit}_top${rank + 1}.png`);
        fs.writeFileSync(path.join(outDir, rel), png);
        entry.patch = rel;
      }
    }
  }
}

/** Merges shard indexes of one layer into the index the whole dataset would give. */
export function mergeTopK(parts: TopKIndex[]): TopKIndex {
  if (parts.length === 0) throw new InspectorError('BAD_ARGUMENT', 'Nothing to merge');
  const { layer, k } = parts[0];
  for (const p of parts) {
    if (p.layer !== layer || p.k !== k || p.units.length !== parts[0].units.length) {
      throw new InspectorError('BAD_ARGUMENT', `Cannot merge atlases of different layers, k or widths (${p.layer}/${p.k} vs ${layer}/${k})`);
    }
  }
  const units = parts[0].units.map(({ unit }) => {
    const list: TopEntry[] = [];
    for (const p of parts) for (const e of p.units[unit].top) offer(list, k, e);
    return { unit, top: list };
  });
  return { layer, k, images: parts.reduce((s, p) => s + p.images, 0), units, skipped: parts.flatMap((p) => p.skipped) };
}
