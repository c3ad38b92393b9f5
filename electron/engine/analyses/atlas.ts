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
import { buildTopK } from './topk';
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

export async function buildAtlas(
  loaded: LoadedModel,
  dataset: Dataset,
  dir: string,
  options: { k?: number; layers?: string[] },
  ctx: JobContext,
): Promise<AtlasSummary> {
  const k = options.k ?? 9;
  const layers = options.layers ?? defaultAtlasLayers(loaded);
  if (layers.length === 0) throw new InspectorError('BAD_ARGUMENT', 'No layers to build an atlas for');
  fs.mkdirSync(dir, { recursive: true });
  // Phase 1 (most of the time on big datasets): one streaming pass for every layer at once.
  const scanCtx: JobContext = { ...ctx, progress: (done, total) => ctx.progress(done, total * 2, `Finding the strongest images: ${done} of ${total}`) };
  const indexes = await buildTopK(loaded, dataset, { layers, k, outDir: dir, writePatches: false }, scanCtx);
  // Phase 2: every winner's patch and deconvnet projection, one sheet per unit.
  const totalUnits = indexes.reduce((s, i) => s + i.units.length, 0);
  let doneUnits = 0;
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
  const shape = loaded.summary.inputShape;
  const whole = [0, 0, shape[0], shape[1]];
  const layerSummaries: AtlasSummary['layers'] = [];
  for (const index of indexes) {
    const info = loaded.summary.layers.find((l) => l.name === index.layer)!;
    const spatial = info.outputShape.length === 3 && info.receptiveField !== undefined;
    const sheetDir = path.join(dir, 'sheets', index.layer);
    fs.mkdirSync(sheetDir, { recursive: true });
    for (const unit of index.units) {
      ctx.throwIfCancelled();
      const winners = unit.top.filter((e) => !spatial || (e.box && e.box[2] > e.box[0] && e.box[3] > e.box[1]));
      const images = await Promise.all(winners.map((e) => imageOf(e.index)));
      let sheet: Buffer;
      if (spatial && winners.length) {
        // One batched deconvnet pass for the unit's k winners, each from its own strongest position.
        const projections = projectUnitBatch(
          loaded,
          images.map((i) => i.input),
          index.layer,
          unit.unit,
          'deconv',
          winners.map((e) => e.position),
        );
        sheet = await composeSheet(
          projections.map((p, i) => [projectionImage(p.data, shape, winners[i].box!), winners[i].box!]),
          images.map((img, i) => [img.pixels, winners[i].box!]),
          k,
        );
      } else {
        // A dense unit sees the whole image: its sheet shows the k whole images, strongest first.
        sheet = await composeSheet(
          images.map((img) => [img.pixels, whole]),
          [],
          k,
        );
      }
      fs.writeFileSync(path.join(sheetDir, `unit${unit.unit}.png`), sheet);
      doneUnits++;
      if (doneUnits % 16 === 0) {
        ctx.progress(totalUnits + doneUnits, totalUnits * 2, `Drawing unit ${doneUnits} of ${totalUnits}`);
        await ctx.yield();
      }
    }
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
