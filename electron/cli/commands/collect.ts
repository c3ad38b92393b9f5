/**
 * `cnn-inspect collect`: a dataset's activations to .npy files, for notebooks and the analyze commands; with
 * `--shard i/n` one part of the images (one process of a cluster job), and `collect-merge` joins the parts into the
 * whole collection, where the analyze commands then find it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CollectedActivations } from '../../../shared/contract';
import { describeActivations, mergeCollections } from '../../engine/features/collect';
import { type CommandContext, parseShard, required } from '../args';
import { runJob } from '../run';

export async function runCollect(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const layers = required(flags, 'layers').split(',');
  const outDir = path.resolve(required(flags, 'out-dir'));
  const maps = flags.float16 ? { mapsDtype: 'float16' as const } : flags.maps ? { mapsDtype: 'float32' as const } : {};
  const shard = typeof flags.shard === 'string' ? { shard: parseShard(flags.shard) } : {};
  const r = await runJob(core, 'collectActivations', { layers, maps: Boolean(flags.maps), ...maps, ...shard }, flags);
  print(placeCollection(r, outDir));
}

/** `collect-merge --parts D0,D1,…`: the shards' collections joined into the whole one, in the workspace and in --out-dir. */
export async function runCollectMerge(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const parts = required(flags, 'parts').split(',');
  const merged = mergeCollections(parts, core.requireModel(), core.requireDataset());
  const outDir = path.resolve(required(flags, 'out-dir'));
  print({ ...placeCollection(describeActivations(merged, Object.keys(merged.layers)), outDir), parts: parts.length });
}

/** The collection's files (and its manifest, which collect-merge reads) in `outDir`, described for stdout. */
function placeCollection(r: CollectedActivations, outDir: string) {
  fs.mkdirSync(outDir, { recursive: true });
  // Hard links where the workspace is on the same disk (no copy of big maps), else copies.
  const place = (file: string) => {
    const target = path.join(outDir, path.basename(file));
    if (path.resolve(file) === target) return target;
    fs.rmSync(target, { force: true });
    try {
      fs.linkSync(file, target);
    } catch {
      fs.copyFileSync(file, target);
    }
    return target;
  };
  place(path.join(r.folder, 'manifest.json'));
  return {
    images: r.images,
    labels: place(r.labels),
    layers: r.layers.map((l) => ({
      layer: l.layer,
      shape: l.shape,
      max: place(l.max),
      nonzero: place(l.nonzero),
      ...(l.maps ? { maps: place(l.maps), maps_dtype: l.mapsDtype } : {}),
      ...(l.mapsSkipped ? { maps_skipped: l.mapsSkipped } : {}),
    })),
    skipped: r.skipped,
    ...(r.shard ? { shard: r.shard } : {}),
    out_dir: outDir,
  };
}
