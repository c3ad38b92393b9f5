/**
 * The atlas (Zeiler & Fergus Fig. 2) for the app: top-k images per unit for every chosen layer (topk.ts), each
 * winner's receptive-field patch and its deconvnet projection cropped to the same box, composed into one PNG
 * "sheet" per unit — k projections on the left, k patches on the right (dense units: the k whole images) —
 * stored in the workspace so browsing is instant and offline. Tiles are drawn in JavaScript and each sheet is
 * encoded once (a sharp call per tile was the bottleneck: ~75 s for the default model's 874 units).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { AtlasLayer, AtlasSummary } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { writeFileAtomic } from '../files/atomic';
import type { JobContext } from '../base/job-context';
import { projectUnitBatch } from './projection';
import { buildTopK, type TopEntry, type TopKIndex } from './topk';
import { batchDeconvnet, switchedDeconvnet, SwitchCache, type BatchDeconvnet, type SwitchedDeconvnet } from '../runtime/batch-projection';
import { aboutTime, planAtlas, projectionsPerRun } from './atlas-plan';
import type { JobDescriptor } from '../features/job-host';

const TILE = 40;
const GAP = 2;
const BLOCK_GAP = 12;
const BACKGROUND = [0x10, 0x14, 0x1a];

const WITH_UNITS = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'GroupedConv2D', 'Dense']);

/** Every layer an atlas can show: the convolution and dense layers (pooling and normalisation share their units). */
export function atlasCandidateLayers(loaded: LoadedModel): string[] {
  return loaded.summary.layers.filter((l) => WITH_UNITS.has(l.type)).map((l) => l.name);
}

/**
 * Layers an atlas shows by default (ZF Fig. 2): all of them for small models; for big ones (projections at
 * 224×224 through dozens of layers would take hours) five spread from first to last, which any choice overrides.
 */
export function defaultAtlasLayers(loaded: LoadedModel): string[] {
  const all = atlasCandidateLayers(loaded);
  const [h, w] = loaded.summary.inputShape;
  const units = loaded.summary.layers.filter((l) => all.includes(l.name)).reduce((s, l) => s + (l.outputShape.at(-1) ?? 0), 0);
  if (all.length <= 8 && (h * w <= 64 * 64 || units <= 1500)) return all;
  const picks = new Set([0, Math.round(all.length / 4), Math.round(all.length / 2), Math.round((3 * all.length) / 4), all.length - 1]);
  return [...picks].sort((a, b) => a - b).map((i) => all[i]);
}

/** 8-bit [H,W,C] image. */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

/** The input as the model sees it (resized, before normalisation). */
export function denormalise(x: Float32Array, loaded: LoadedModel): Pixels {
  const pre = loaded.summary.preprocessing;
  const [h, w, c] = loaded.summary.inputShape;
  const data = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const ch = i % c;
    data[i] = Math.max(0, Math.min(255, Math.round((x[i] * pre.std[ch % pre.std.length] + pre.mean[ch % pre.mean.length]) / pre.scale)));
  }
  return { data, width: w, height: h, channels: c };
}

/** A projection for display: grey = 0, scaled by the largest |value| inside `box`. */
export function projectionImage(values: Float32Array, [h, w, c]: number[], box: number[]): Pixels {
  const [top, left, bottom, right] = box;
  let maxAbs = 0;
  for (let y = top; y < bottom; y++)
    for (let x = left; x < right; x++) for (let ch = 0; ch < c; ch++) maxAbs = Math.max(maxAbs, Math.abs(values[(y * w + x) * c + ch]));
  const scale = maxAbs > 0 ? 127 / maxAbs : 0;
  const data = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = Math.max(0, Math.min(255, Math.round(128 + values[i] * scale)));
  return { data, width: w, height: h, channels: c };
}

/** Draws `box` of `src` into the sheet at (x0, y0), scaled to fit TILE×TILE (nearest neighbour, centred). */
function drawTile(sheet: Uint8Array, sheetWidth: number, src: Pixels, box: number[], x0: number, y0: number): void {
  const [top, left, bottom, right] = box;
  const bw = right - left;
  const bh = bottom - top;
  if (bw <= 0 || bh <= 0) return;
  const scale = TILE / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale));
  const th = Math.max(1, Math.round(bh * scale));
  const ox = x0 + Math.floor((TILE - tw) / 2);
  const oy = y0 + Math.floor((TILE - th) / 2);
  for (let y = 0; y < th; y++) {
    const sy = top + Math.min(bh - 1, Math.floor(y / scale));
    for (let x = 0; x < tw; x++) {
      const sx = left + Math.min(bw - 1, Math.floor(x / scale));
      const s = (sy * src.width + sx) * src.channels;
      const d = ((oy + y) * sheetWidth + ox + x) * 3;
      if (src.channels === 1) sheet[d] = sheet[d + 1] = sheet[d + 2] = src.data[s];
      else {
        sheet[d] = src.data[s];
        sheet[d + 1] = src.data[s + 1];
        sheet[d + 2] = src.data[s + 2];
      }
    }
  }
}

/** k tiles on the left (projections, or whole images for dense units) and k patches on the right. */
async function composeSheet(leftTiles: Array<[Pixels, number[]]>, rightTiles: Array<[Pixels, number[]]>, k: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt(k));
  const block = side * TILE + (side - 1) * GAP;
  const width = rightTiles.length ? 2 * block + BLOCK_GAP : block;
  const sheet = new Uint8Array(width * block * 3);
  for (let i = 0; i < sheet.length; i += 3) sheet.set(BACKGROUND, i);
  const place = (tiles: Array<[Pixels, number[]]>, x0: number) =>
    tiles.forEach(([src, box], i) => drawTile(sheet, width, src, box, x0 + (i % side) * (TILE + GAP), Math.floor(i / side) * (TILE + GAP)));
  place(leftTiles, 0);
  place(rightTiles, block + BLOCK_GAP);
  return sharp(sheet, { raw: { width, height: block, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** PNG of `box` of an 8-bit image (grey or RGB), at native resolution. */
export async function cropPng(src: Pixels, box: number[]): Promise<Uint8Array> {
  const [top, left, bottom, right] = box;
  const png = await sharp(Buffer.from(src.data.buffer, src.data.byteOffset, src.data.byteLength), {
    raw: { width: src.width, height: src.height, channels: src.channels as 1 | 3 },
  })
    .extract({ left, top, width: right - left, height: bottom - top })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/** A unit's winners whose patch is not empty, with their inputs. */
interface UnitToDraw {
  unit: number;
  winners: TopEntry[];
  images: Array<{ input: Float32Array; pixels: Pixels }>;
}

/** How one layer's winners are projected: opened for the layer, released after it. */
interface LayerProjector {
  engine: 'onnxruntime' | 'tfjs';
  /** Units per call of `project`. */
  perRun: number;
  /** Each unit's winners' projections (NHWC, input space). */
  project(units: UnitToDraw[]): Promise<Float32Array[][]>;
  release(): Promise<void>;
}

/** The seeds of these units' winners, in order, with the inputs and dataset indices of their images. */
function pairsOf(units: UnitToDraw[]) {
  return units.flatMap((u) =>
    u.winners.map((e, i) => ({ image: e.index, input: u.images[i].input, seed: { unit: u.unit, position: e.position, value: e.value } })),
  );
}

/** Inputs one after another, as a batch. */
function stacked(inputs: Float32Array[], size: number): Float32Array {
  const batch = new Float32Array(inputs.length * size);
  inputs.forEach((x, i) => batch.set(x, i * size));
  return batch;
}

/** The flat list of projections cut back into one list per unit. */
function perUnit(units: UnitToDraw[], out: Float32Array, size: number): Float32Array[][] {
  let at = 0;
  return units.map((u) => u.winners.map(() => out.slice(at * size, ++at * size)));
}

/**
 * A projector on ONNX Runtime: `run` projects the winners' seeds in order (with their images), and the answer is
 * cut back into one list per unit.
 */
function onnxProjector(
  loaded: LoadedModel,
  perRun: number,
  run: (pairs: ReturnType<typeof pairsOf>, size: number) => Promise<Float32Array>,
  release: () => Promise<void>,
): LayerProjector {
  const size = loaded.summary.inputShape.reduce((a, b) => a * b, 1);
  return {
    engine: 'onnxruntime',
    perRun,
    async project(units) {
      const pairs = pairsOf(units);
      return pairs.length === 0 ? units.map(() => []) : perUnit(units, await run(pairs, size), size);
    },
    release,
  };
}

/** The two-half deconvnet: each image's switches computed once for the whole atlas (`cache`), then the way down. */
function switchedProjector(loaded: LoadedModel, d: SwitchedDeconvnet, cache: SwitchCache, perRun: number): LayerProjector {
  const run = async (pairs: ReturnType<typeof pairsOf>, size: number) => {
    const found = new Map<number, Int32Array[]>();
    const missing = new Map<number, Float32Array>();
    for (const p of pairs) {
      const cached = d.pools.map((pool) => cache.get(pool.name, p.image));
      if (cached.every((c) => c)) found.set(p.image, cached as Int32Array[]);
      else missing.set(p.image, p.input);
    }
    if (missing.size > 0) {
      const computed = await d.switchesOf(stacked([...missing.values()], size), missing.size);
      [...missing.keys()].forEach((image, i) => {
        found.set(image, computed[i]);
        d.pools.forEach((pool, j) => cache.set(pool.name, image, computed[i][j]));
      });
    }
    return d.project(
      pairs.map((p) => found.get(p.image)!),
      pairs.map((p) => p.seed),
    );
  };
  return onnxProjector(loaded, perRun, run, () => d.release());
}

/** The whole deconvnet graph per run, images and seeds together. */
function batchedProjector(loaded: LoadedModel, d: BatchDeconvnet, perRun: number): LayerProjector {
  const run = (pairs: ReturnType<typeof pairsOf>, size: number) =>
    d.project(
      stacked(
        pairs.map((p) => p.input),
        size,
      ),
      pairs.map((p) => p.seed),
    );
  return onnxProjector(loaded, perRun, run, () => d.release());
}

/** The per-unit tfjs path, one unit per pass: where ONNX Runtime or the graph cannot be used. */
function tfjsProjector(loaded: LoadedModel, layer: string): LayerProjector {
  return {
    engine: 'tfjs',
    perRun: 1,
    project: async (units) =>
      units.map((u) =>
        u.winners.length === 0
          ? []
          : projectUnitBatch(
              loaded,
              u.images.map((i) => i.input),
              layer,
              u.unit,
              'deconv',
              u.winners.map((e) => e.position),
            ).map((p) => p.data),
      ),
    release: async () => undefined,
  };
}

/** The fastest way to project `layer`'s winners that this model and machine allow. */
async function openProjector(loaded: LoadedModel, layer: string, k: number, cache: SwitchCache): Promise<LayerProjector> {
  const perRun = Math.max(1, Math.floor(projectionsPerRun(loaded, layer) / Math.max(k, 1)));
  const { deconvnet: halves, refused } = await switchedDeconvnet(loaded, layer);
  if (halves) return switchedProjector(loaded, halves, cache, perRun);
  // The whole graph has the same rules as the halves: where they refused a layer, only tfjs is left to try.
  const { deconvnet: whole } = refused ? { deconvnet: undefined } : await batchDeconvnet(loaded, layer);
  return whole ? batchedProjector(loaded, whole, perRun) : tfjsProjector(loaded, layer);
}

/**
 * Every unit's sheet of one layer, `perRun` units' projections at a time; `drawn` hears of each group drawn.
 */
async function drawLayerSheets(
  loaded: LoadedModel,
  index: TopKIndex,
  o: {
    k: number;
    spatial: boolean;
    sheetDir: string;
    imageOf: (i: number) => Promise<UnitToDraw['images'][number]>;
    switches: SwitchCache;
    ctx: JobContext;
  },
  drawn: (units: number, engine: 'onnxruntime' | 'tfjs') => void,
): Promise<void> {
  const projector = o.spatial ? await openProjector(loaded, index.layer, o.k, o.switches) : undefined;
  const perRun = projector?.perRun ?? 64;
  try {
    for (let first = 0; first < index.units.length; first += perRun) {
      o.ctx.throwIfCancelled();
      const units: UnitToDraw[] = [];
      for (const unit of index.units.slice(first, first + perRun)) {
        const winners = unit.top.filter((e) => !o.spatial || (e.box && e.box[2] > e.box[0] && e.box[3] > e.box[1]));
        units.push({ unit: unit.unit, winners, images: await Promise.all(winners.map((e) => o.imageOf(e.index))) });
      }
      const projections = projector ? await projector.project(units) : [];
      for (const [i, u] of units.entries())
        fs.writeFileSync(path.join(o.sheetDir, `unit${u.unit}.png`), await unitSheet(loaded, u, projections[i], o.spatial, o.k));
      drawn(units.length, projector?.engine ?? 'onnxruntime');
      await o.ctx.yield();
    }
  } finally {
    // A cancelled build frees the layer's graphs too.
    await projector?.release();
  }
}

/** Whether a layer's atlas shows projections and patches (a map with a receptive field) or whole images. */
function isSpatial(loaded: LoadedModel, layer: string): boolean {
  const info = loaded.summary.layers.find((l) => l.name === layer)!;
  return info.outputShape.length === 3 && info.receptiveField !== undefined;
}

/** The layer's units and their top images, as the atlas view reads them. */
function writeAtlasLayer(dir: string, index: TopKIndex, k: number, spatial: boolean): void {
  const atlasLayer: AtlasLayer = {
    layer: index.layer,
    k,
    spatial,
    images: index.images,
    units: index.units.map((u) => ({
      unit: u.unit,
      top: u.top.map(({ index: i, image, value, position, box }) => ({ index: i, image, value, position, ...(box ? { box } : {}) })),
    })),
  };
  writeFileAtomic(path.join(dir, 'layers', `${index.layer}.json`), JSON.stringify(atlasLayer));
}

export async function buildAtlas(
  loaded: LoadedModel,
  dataset: Dataset,
  dir: string,
  /** `unitsPerLayer`: only the first units of each layer (the bench's sample of a big network). */
  options: { k?: number; layers?: string[]; unitsPerLayer?: number },
  ctx: JobContext,
): Promise<AtlasSummary> {
  const k = options.k ?? 9;
  const layers = options.layers ?? defaultAtlasLayers(loaded);
  if (layers.length === 0) throw new InspectorError('BAD_ARGUMENT', 'No layers to build an atlas for');
  for (const l of layers) if (!loaded.summary.layers.some((x) => x.name === l)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${l}"`);
  fs.mkdirSync(dir, { recursive: true });
  // Measured first, so the bar counts estimated time across both phases and the messages say the whole up front.
  ctx.progress(0, 1, 'Measuring how long the atlas will take on this computer…');
  const unitsOf = (layer: string) => Math.min(loaded.summary.layers.find((l) => l.name === layer)!.outputShape.at(-1) ?? 0, options.unitsPerLayer ?? Infinity);
  const plan = await planAtlas(loaded, dataset, layers, new Map(layers.filter((l) => isSpatial(loaded, l)).map((l) => [l, unitsOf(l)])), k);
  const totalMs = plan.scanMs + plan.drawMs;
  const whole = `the whole atlas: ${aboutTime(totalMs)}`;
  // Phase 1 (most of the time on big datasets): one streaming pass for every layer at once.
  const scanCtx: JobContext = {
    ...ctx,
    progress: (done, total) => ctx.progress(done * plan.scanMsPerImage, totalMs, `Finding the strongest images: ${done} of ${total} · ${whole}`),
  };
  const indexes = await buildTopK(loaded, dataset, { layers, k, outDir: dir, writePatches: false }, scanCtx);
  if (options.unitsPerLayer !== undefined) for (const index of indexes) index.units = index.units.slice(0, options.unitsPerLayer);
  // Phase 2: every winner's patch and deconvnet projection, one sheet per unit.
  const totalUnits = indexes.reduce((s, i) => s + i.units.length, 0);
  const drawn = { units: 0, ms: 0, reportedAt: 0 };
  const cache = new Map<number, { input: Float32Array; pixels: Pixels }>();
  const imageOf = async (index: number) => {
    let hit = cache.get(index);
    if (!hit) {
      const input = await dataset.loadInput(index, loaded.summary.preprocessing, loaded.summary.inputShape);
      hit = { input, pixels: denormalise(input, loaded) };
      if (cache.size > 512) cache.clear();
      cache.set(index, hit);
    }
    return hit;
  };
  const layerSummaries: AtlasSummary['layers'] = [];
  // Each image's max-pooling switches, kept across layers: they do not depend on the unit or the layer.
  const switches = new SwitchCache();
  for (const index of indexes) {
    const spatial = isSpatial(loaded, index.layer);
    const sheetDir = path.join(dir, 'sheets', index.layer);
    fs.mkdirSync(sheetDir, { recursive: true });
    const unitMs = plan.unitMs(index.layer);
    await drawLayerSheets(loaded, index, { k, spatial, sheetDir, imageOf, switches, ctx }, (units, engine) => {
      drawn.units += units;
      drawn.ms += units * unitMs;
      if (performance.now() - drawn.reportedAt < 200 && drawn.units < totalUnits) return;
      drawn.reportedAt = performance.now();
      const done = Math.min(totalMs, plan.scanMs + drawn.ms);
      ctx.progress(done, totalMs, `Drawing unit ${drawn.units} of ${totalUnits}${engine === 'tfjs' ? ' (one unit at a time: tfjs)' : ''} · ${whole}`);
    });
    writeAtlasLayer(dir, index, k, spatial);
    layerSummaries.push({ layer: index.layer, units: index.units.length, spatial });
  }
  const summary: AtlasSummary = {
    model: loaded.summary.id,
    dataset: dataset.summary.id,
    k,
    images: indexes[0]?.images ?? 0,
    layers: layerSummaries,
    builtAt: new Date().toISOString(),
    skipped: indexes[0]?.skipped ?? [],
  };
  writeFileAtomic(path.join(dir, 'atlas.json'), JSON.stringify(summary));
  return summary;
}

/** A unit's sheet: k projections beside k patches, or (a dense unit sees the whole image) its k whole images. */
function unitSheet(loaded: LoadedModel, u: UnitToDraw, projections: Float32Array[] | undefined, spatial: boolean, k: number): Promise<Buffer> {
  const shape = loaded.summary.inputShape;
  if (spatial && u.winners.length && projections) {
    return composeSheet(
      projections.map((p, i) => [projectionImage(p, shape, u.winners[i].box!), u.winners[i].box!]),
      u.images.map((img, i) => [img.pixels, u.winners[i].box!]),
      k,
    );
  }
  const whole = [0, 0, shape[0], shape[1]];
  return composeSheet(
    u.images.map((img) => [img.pixels, whole]),
    [],
    k,
  );
}

export function readAtlasSummary(dir: string): AtlasSummary | null {
  const file = path.join(dir, 'atlas.json');
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as AtlasSummary;
}

/** Layer names become file names: anything else than these characters is refused (no path tricks). */
const SAFE_NAME = /^[\w.:-]+$/;

export function readAtlasLayer(dir: string, layer: string): AtlasLayer {
  const file = path.join(dir, 'layers', `${layer}.json`);
  if (!SAFE_NAME.test(layer) || !fs.existsSync(file)) throw new InspectorError('LAYER_NOT_FOUND', `The atlas has no layer "${layer}"; build it first`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as AtlasLayer;
}

export function readAtlasSheet(dir: string, layer: string, unit: number): Uint8Array {
  const file = path.join(dir, 'sheets', layer, `unit${unit}.png`);
  if (!SAFE_NAME.test(layer) || !Number.isInteger(unit) || !fs.existsSync(file)) {
    throw new InspectorError('UNIT_OUT_OF_RANGE', `The atlas has no sheet for unit ${unit} of ${layer}`);
  }
  return fs.readFileSync(file);
}

/** The atlas job: top-9 patches and projections per unit, written to the pair's workspace folder. */
export const atlasJob: JobDescriptor<'atlas'> = {
  run: (host, params, ctx) => buildAtlas(host.requireModel(), host.requireDataset(), host.atlasDir(), params, ctx),
};
