/** `cnn-inspect collect`: a dataset's activations to .npy files, for notebooks and the analyze commands. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeJobContext } from '../../engine/base/job-context';
import { type CommandContext, required } from '../args';

export async function runCollect(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const layers = required(flags, 'layers').split(',');
  const outDir = path.resolve(required(flags, 'out-dir'));
  const progress = makeJobContext(
    (_done, _total, message) => {
      if (flags.progress) process.stderr.write(`\r${message}`);
    },
    () => false,
  );
  const r = await core.runJob(
    'collectActivations',
    { layers, maps: Boolean(flags.maps), ...(flags.float16 ? { mapsDtype: 'float16' as const } : flags.maps ? { mapsDtype: 'float32' as const } : {}) },
    progress,
  );
  fs.mkdirSync(outDir, { recursive: true });
  // Hard links where the workspace is on the same disk (no copy of big maps), else copies.
  const place = (file: string) => {
    const target = path.join(outDir, path.basename(file));
    fs.rmSync(target, { force: true });
    try {
      fs.linkSync(file, target);
    } catch {
      fs.copyFileSync(file, target);
    }
    return target;
  };
  print({
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
    out_dir: outDir,
  });
}
