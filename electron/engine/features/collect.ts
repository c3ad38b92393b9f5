/**
 * Activation collection (Agrawal et al.'s analyses share it): one pass of the dataset through the model keeps,
 * per chosen layer, what the analyses need, as .npy files in the workspace —
 *   <layer>.max.npy      float32 [N, units]   each image's spatial maximum per unit (grandmother cells, SVMs)
 *   <layer>.nonzero.npy  int32   [N]          how many of the image's values are non-zero (sparsity)
 *   <layer>.maps.npy     float32 or float16 [N, …shape]  the whole output, when asked for (probes, selectivity)
 *   labels.npy           int32   [N]          each image's class
 * plus, in manifest.json, every unit's minimum and maximum over all positions and images (the selectivity
 * thresholds). Rows are written as batches go by, so memory does not grow with the dataset. A later analysis of
 * the same model and images reuses what is there and collects only what is missing. Whole maps are big: they are
 * kept as float16 when a layer's would pass FLOAT16_ABOVE bytes in float32, and not kept at all past MAPS_BUDGET
 * (the analyses then run the network again).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CollectedActivations, SkippedFile } from '../../../shared/contract';
import { InspectorError, isErrorCode } from '../../../shared/errors';
import { prefetchBatches } from '../data/batch';
import { shardRange, type Shard } from '../data/shard';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { ENGINE_VERSION } from '../paths';
import { batchForward } from '../runtime/batch-forward';
import { writeFileAtomic } from '../files/atomic';
import { concatNpyRows, NpyRowReader, NpyStreamWriter, type StreamDtype } from '../files/npy-stream';
import { stamp, workspaceRoot } from '../files/workspace';
import { mirrorImages } from './augment';
import type { JobContext } from '../base/job-context';
import { datasetFingerprint } from './fingerprint';
import type { JobDescriptor } from './job-host';

const BATCH = 32;
/** Maps of a layer bigger than this in float32 are kept as float16 (unless float32 is asked for). */
const FLOAT16_ABOVE = 1 << 30;
/** Maps bigger than this (as kept) are not written at all. */
const mapsBudget = () => Number(process.env.CNN_INSPECTOR_MAPS_BUDGET ?? 4 * 2 ** 30);

export interface CollectedLayer {
  /** Output shape per image ([H, W, C] or [C]). */
  shape: number[];
  units: number;
  unitMin: number[];
  unitMax: number[];
  maps?: { dtype: Extract<StreamDtype, 'float32' | 'float16'> };
  /** Why the maps are not kept, when they were asked for and are not. */
  mapsSkipped?: string;
}

interface Manifest {
  version: 1;
  engine: string;
  key: string;
  images: number;
  skipped: SkippedFile[];
  layers: Record<string, CollectedLayer>;
  /** A shard's collection: which part of the dataset, and its images [start, end) in dataset order. */
  shard?: Shard & { start: number; end: number };
}

export interface Activations {
  dir: string;
  shard?: Manifest['shard'];
  images: number;
  labels: Int32Array;
  skipped: SkippedFile[];
  layers: Record<string, CollectedLayer>;
}

export interface CollectOptions {
  /** Keep whole maps too (probes; selectivity reads them instead of running the network again). */
  maps?: boolean;
  /** Force float32 ('float32') or float16 ('float16') maps; default: float16 only for big layers. */
  mapsDtype?: 'float32' | 'float16';
  /** Of the images mirrored left↔right (a collection of its own; fine-tuning learns from mirror images too). */
  mirror?: boolean;
  /** Part `index` of `count` of the dataset only (one process of a cluster job); `mergeCollections` joins the parts. */
  shard?: Shard;
}

const safeName = (layer: string) => layer.replace(/[^A-Za-z0-9._-]/g, '_');
export const maxFile = (acts: Pick<Activations, 'dir'>, layer: string) => path.join(acts.dir, `${safeName(layer)}.max.npy`);
export const nonzeroFile = (acts: Pick<Activations, 'dir'>, layer: string) => path.join(acts.dir, `${safeName(layer)}.nonzero.npy`);
export const mapsFile = (acts: Pick<Activations, 'dir'>, layer: string) => path.join(acts.dir, `${safeName(layer)}.maps.npy`);

/** The folder of this model's activations on these images (changes when either file changes). */
export function activationsDir(loaded: LoadedModel, dataset: Dataset, mirror = false): { dir: string; key: string } {
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        path.resolve(loaded.file),
        stamp(loaded.file),
        path.resolve(dataset.root),
        datasetFingerprint(dataset, dataset.root),
        mirror ? 'mirrored' : 'as is',
      ]),
    )
    .digest('hex')
    .slice(0, 20);
  return { dir: path.join(workspaceRoot(), 'activations', key), key };
}

function readManifest(dir: string, key: string): Manifest | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    return m.version === 1 && m.engine === ENGINE_VERSION && m.key === key ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The activations of `layers` on every image of `dataset`, collected now if they are not in the workspace yet
 * (one pass for all the missing layers).
 */
export async function collectActivations(
  loaded: LoadedModel,
  dataset: Dataset,
  layers: string[],
  options: CollectOptions,
  ctx: JobContext,
): Promise<Activations> {
  for (const name of layers)
    if (!loaded.summary.layers.some((l) => l.name === name)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
  if (dataset.entries.length === 0) throw new InspectorError('DATASET_EMPTY', 'The dataset has no images');
  const [start, end] = shardRange(dataset.entries.length, options.shard);
  if (end <= start) throw new InspectorError('DATASET_EMPTY', 'This shard of the dataset has no images');
  const whole = activationsDir(loaded, dataset, options.mirror);
  const { key } = whole;
  // A shard's collection sits beside the whole one, never in its place.
  const dir = options.shard ? path.join(whole.dir, `shard-${options.shard.index}-of-${options.shard.count}`) : whole.dir;
  let manifest = readManifest(dir, key);
  const files = (layer: string) => [maxFile({ dir }, layer), nonzeroFile({ dir }, layer)];
  const present = (layer: string) => {
    const entry = manifest?.layers[layer];
    if (!entry || !files(layer).every((f) => fs.existsSync(f))) return false;
    if (!options.maps) return true;
    if (entry.mapsSkipped) return true; // asked before and over budget: asking again changes nothing
    return Boolean(entry.maps && fs.existsSync(mapsFile({ dir }, layer)) && (!options.mapsDtype || entry.maps.dtype === options.mapsDtype));
  };
  const missing = [...new Set(layers)].filter((l) => !present(l));
  if (missing.length) {
    fs.mkdirSync(dir, { recursive: true });
    const collected = await collectPass(loaded, dataset, dir, missing, options, ctx, dataset.entries.slice(start, end));
    manifest = {
      version: 1,
      engine: ENGINE_VERSION,
      key,
      images: collected.images,
      skipped: collected.skipped,
      layers: { ...(manifest?.layers ?? {}), ...collected.layers },
      ...(options.shard ? { shard: { ...options.shard, start, end } } : {}),
    };
    writeFileAtomic(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  } else {
    ctx.progress(1, 1, 'Using the activations collected before');
  }
  if (manifest!.images === 0 && !options.shard) throw noUsableImages(dataset.entries.length, manifest!.skipped);
  const labels = new NpyRowReader(path.join(dir, 'labels.npy'));
  return {
    dir,
    ...(manifest!.shard ? { shard: manifest!.shard } : {}),
    images: manifest!.images,
    labels: labels.read(0, labels.rows) as Int32Array,
    skipped: manifest!.skipped,
    layers: manifest!.layers,
  };
}

/**
 * Joins shard collections (each part's folder with its manifest.json and .npy files, as `collect --shard` leaves
 * them) into the whole collection of this model on these images, where the analyses look for it — byte for byte
 * what one process collecting every image writes.
 */
export function mergeCollections(partDirs: string[], loaded: LoadedModel, dataset: Dataset): Activations {
  const { dir, key } = activationsDir(loaded, dataset);
  const parts = partDirs.map((d) => ({ dir: path.resolve(d), manifest: partManifest(path.resolve(d), key) }));
  checkShards(parts, dataset.entries.length);
  parts.sort((a, b) => a.manifest.shard!.index - b.manifest.shard!.index);
  const first = parts[0].manifest;
  fs.mkdirSync(dir, { recursive: true });
  const join = (file: (at: { dir: string }) => string) => concatNpyRows(parts.map(file), file({ dir }));
  join((at) => path.join(at.dir, 'labels.npy'));
  const layers: Record<string, CollectedLayer> = {};
  for (const [layer, entry] of Object.entries(first.layers)) {
    join((at) => maxFile(at, layer));
    join((at) => nonzeroFile(at, layer));
    if (entry.maps) join((at) => mapsFile(at, layer));
    // JSON writes a shard's ±Infinity (no image read) as null: such a shard does not move the range.
    const over = (pick: (l: CollectedLayer) => number[], f: (...v: number[]) => number, none: number) =>
      pick(entry).map((_, u) => f(...parts.map((p) => pick(p.manifest.layers[layer])[u] ?? none)));
    layers[layer] = { ...entry, unitMin: over((l) => l.unitMin, Math.min, Infinity), unitMax: over((l) => l.unitMax, Math.max, -Infinity) };
  }
  const manifest: Manifest = {
    version: 1,
    engine: ENGINE_VERSION,
    key,
    images: parts.reduce((sum, p) => sum + p.manifest.images, 0),
    skipped: parts.flatMap((p) => p.manifest.skipped),
    layers,
  };
  writeFileAtomic(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  if (manifest.images === 0) throw noUsableImages(dataset.entries.length, manifest.skipped);
  const labels = new NpyRowReader(path.join(dir, 'labels.npy'));
  return { dir, images: manifest.images, labels: labels.read(0, labels.rows) as Int32Array, skipped: manifest.skipped, layers };
}

/** A shard's manifest, of this engine and of this model on these images (BAD_ARGUMENT otherwise, saying which). */
function partManifest(dir: string, key: string): Manifest {
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) throw new InspectorError('FILE_NOT_FOUND', `No collection at ${dir} (its manifest.json is missing)`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
  } catch {
    throw new InspectorError('BAD_ARGUMENT', `${file} is not a collection's manifest`);
  }
  if (manifest.version !== 1 || manifest.engine !== ENGINE_VERSION)
    throw new InspectorError('BAD_ARGUMENT', `${dir} was collected by another version of CNN Inspector`);
  if (manifest.key !== key) throw new InspectorError('BAD_ARGUMENT', `${dir} was collected from another model or image folder, or they changed since`);
  if (!manifest.shard) throw new InspectorError('BAD_ARGUMENT', `${dir} is a whole collection, not a shard`);
  return manifest;
}

/** Every shard of one split once, each over its own images, all with the same layers kept the same way. */
function checkShards(parts: Array<{ dir: string; manifest: Manifest }>, total: number): void {
  if (parts.length === 0) throw new InspectorError('BAD_ARGUMENT', 'Nothing to merge');
  const count = parts[0].manifest.shard!.count;
  const seen = new Map<number, string>();
  for (const { dir, manifest } of parts) {
    const shard = manifest.shard!;
    if (shard.count !== count) throw new InspectorError('BAD_ARGUMENT', `${dir} is a shard of ${shard.count}, ${parts[0].dir} of ${count}`);
    if (seen.has(shard.index)) throw new InspectorError('BAD_ARGUMENT', `${dir} and ${seen.get(shard.index)} are both shard ${shard.index}/${count}`);
    seen.set(shard.index, dir);
    const [start, end] = shardRange(total, shard);
    if (shard.start !== start || shard.end !== end)
      throw new InspectorError('BAD_ARGUMENT', `${dir} covers other images than shard ${shard.index}/${count} of this folder`);
    const layout = (m: Manifest) => JSON.stringify(Object.entries(m.layers).map(([l, e]) => [l, e.shape, e.maps?.dtype, e.mapsSkipped]));
    if (layout(manifest) !== layout(parts[0].manifest))
      throw new InspectorError('BAD_ARGUMENT', `${dir} and ${parts[0].dir} hold different layers or keep their maps differently`);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length)
    throw new InspectorError('BAD_ARGUMENT', `Shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} missing`);
}

/** None of the images could be used: the reason they share (e.g. INPUT_SHAPE_MISMATCH for .npy inputs), named. */
export function noUsableImages(count: number, skipped: SkippedFile[]): InspectorError {
  const codes = new Set(skipped.map((f) => f.code));
  const first = skipped[0];
  const code = codes.size === 1 && first && isErrorCode(first.code) ? first.code : 'DATASET_EMPTY';
  return new InspectorError(
    code,
    first ? `None of the ${count} images can be used with this model; ${first.file}: ${first.message}` : 'The dataset has no images',
  );
}

/**
 * Analyses that compare classes need at least two, each with an image the model could read (an empty class folder
 * would otherwise score silently as a class no unit detects).
 */
export function requireClasses(dataset: Dataset, acts: Activations): void {
  const names = dataset.summary.classes.map((c) => c.name);
  if (names.length < 2) throw new InspectorError('DATASET_EMPTY_CLASS', 'The analysis compares classes: it needs at least two (one sub-folder each)');
  const seen = new Set(acts.labels);
  const missing = names.filter((_, c) => !seen.has(c));
  if (missing.length)
    throw new InspectorError(
      'DATASET_EMPTY_CLASS',
      `Class${missing.length > 1 ? 'es' : ''} ${missing.map((m) => `"${m}"`).join(', ')} ha${missing.length > 1 ? 've' : 's'} no image the model can read`,
    );
}

async function collectPass(
  loaded: LoadedModel,
  dataset: Dataset,
  dir: string,
  layers: string[],
  options: CollectOptions,
  ctx: JobContext,
  entries = dataset.entries,
) {
  const info = layers.map((name) => loaded.summary.layers.find((l) => l.name === name)!);
  // Sized by the whole dataset, so every shard keeps its maps as the whole collection would (float16 or not).
  const count = dataset.entries.length;
  const shapes = info.map((l) => l.outputShape);
  const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const mapsDtype = sizes.map((size): CollectedLayer['maps'] | string => {
    if (!options.maps) return undefined;
    const dtype = options.mapsDtype ?? (size * count * 4 > FLOAT16_ABOVE ? 'float16' : 'float32');
    const bytes = size * count * (dtype === 'float16' ? 2 : 4);
    return bytes > mapsBudget()
      ? `${(bytes / 2 ** 30).toFixed(1)} GiB of maps is more than the ${(mapsBudget() / 2 ** 30).toFixed(1)} GiB kept per layer`
      : { dtype };
  });
  const writers = layers.map((layer, i) => {
    const units = shapes[i][shapes[i].length - 1];
    const maps = mapsDtype[i];
    return {
      units,
      max: new NpyStreamWriter(maxFile({ dir }, layer), 'float32', [units]),
      nonzero: new NpyStreamWriter(nonzeroFile({ dir }, layer), 'int32', []),
      maps: typeof maps === 'object' ? new NpyStreamWriter(mapsFile({ dir }, layer), maps.dtype, shapes[i]) : undefined,
      unitMin: new Float64Array(units).fill(Infinity),
      unitMax: new Float64Array(units).fill(-Infinity),
    };
  });
  const labels = new NpyStreamWriter(path.join(dir, 'labels.npy'), 'int32', []);
  const skipped: SkippedFile[] = [];
  try {
    const forward = await batchForward(loaded, layers);
    for await (const { batch, used, end } of prefetchBatches(dataset, entries, loaded, BATCH, skipped)) {
      ctx.throwIfCancelled();
      if (used.length) {
        const [h, w, c] = loaded.summary.inputShape;
        const outs = await forward.run(options.mirror ? mirrorImages(batch, [used.length, h, w, c]) : batch, used.length);
        outs.forEach(({ data }, li) => {
          const w = writers[li];
          const per = data.length / used.length;
          const maxRows = new Float32Array(used.length * w.units).fill(-Infinity);
          const nonzero = new Int32Array(used.length);
          for (let i = 0; i < used.length; i++) {
            let nz = 0;
            for (let k = i * per, u = 0; k < (i + 1) * per; k++, u = u + 1 === w.units ? 0 : u + 1) {
              const v = data[k];
              if (v !== 0) nz++;
              if (v > maxRows[i * w.units + u]) maxRows[i * w.units + u] = v;
              if (v < w.unitMin[u]) w.unitMin[u] = v;
              if (v > w.unitMax[u]) w.unitMax[u] = v;
            }
            nonzero[i] = nz;
          }
          w.max.append(maxRows, used.length);
          w.nonzero.append(nonzero, used.length);
          w.maps?.append(data, used.length);
        });
        labels.append(
          used.map((e) => e.classIndex),
          used.length,
        );
      }
      const what = options.mirror ? 'Collecting activations of the mirror images' : 'Collecting activations';
      ctx.progress(end, entries.length, `${what}: ${end} of ${entries.length} images`);
      await ctx.yield();
    }
  } catch (error) {
    for (const w of writers) [w.max, w.nonzero, w.maps].forEach((x) => x?.abort());
    labels.abort();
    throw error;
  }
  const images = labels.close();
  const collected: Record<string, CollectedLayer> = {};
  writers.forEach((w, i) => {
    w.max.close();
    w.nonzero.close();
    w.maps?.close();
    const maps = mapsDtype[i];
    collected[layers[i]] = {
      shape: shapes[i],
      units: w.units,
      unitMin: Array.from(w.unitMin),
      unitMax: Array.from(w.unitMax),
      ...(typeof maps === 'object' ? { maps } : typeof maps === 'string' ? { mapsSkipped: maps } : {}),
    };
  });
  return { images, skipped, layers: collected };
}

/** Each image's spatial maximum per unit of `layer`: [images × units], row-major. */
export function readSpatialMax(acts: Activations, layer: string): Float32Array {
  const reader = new NpyRowReader(maxFile(acts, layer));
  return reader.read(0, reader.rows) as Float32Array;
}

/** How many values of each image's output of `layer` are non-zero. */
export function readNonzero(acts: Activations, layer: string): Int32Array {
  const reader = new NpyRowReader(nonzeroFile(acts, layer));
  return reader.read(0, reader.rows) as Int32Array;
}

/** A row reader over the kept maps of `layer`, if they were kept. */
export function mapsReader(acts: Activations, layer: string): NpyRowReader | undefined {
  return acts.layers[layer]?.maps ? new NpyRowReader(mapsFile(acts, layer)) : undefined;
}

/** The collection as the contract describes it (file paths per layer), for the CLI and the app. */
export function describeActivations(acts: Activations, layers: string[]): CollectedActivations {
  return {
    folder: acts.dir,
    images: acts.images,
    labels: path.join(acts.dir, 'labels.npy'),
    layers: layers.map((layer) => {
      const entry = acts.layers[layer];
      return {
        layer,
        shape: entry.shape,
        max: maxFile(acts, layer),
        nonzero: nonzeroFile(acts, layer),
        ...(entry.maps ? { maps: mapsFile(acts, layer), mapsDtype: entry.maps.dtype } : {}),
        ...(entry.mapsSkipped ? { mapsSkipped: entry.mapsSkipped } : {}),
      };
    }),
    skipped: acts.skipped,
    ...(acts.shard ? { shard: acts.shard } : {}),
  };
}

/** The collect job: the chosen layers' activations over the open dataset, as .npy files in the workspace. */
export const collectActivationsJob: JobDescriptor<'collectActivations'> = {
  run: async (host, params, ctx) =>
    describeActivations(
      await collectActivations(
        host.requireModel(),
        host.requireDataset(),
        params.layers,
        { maps: params.maps, mapsDtype: params.mapsDtype, ...(params.shard ? { shard: params.shard } : {}) },
        ctx,
      ),
      params.layers,
    ),
};
