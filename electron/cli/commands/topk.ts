/** `cnn-inspect topk`: the top-k atlas of one layer (ZF Fig. 2), shardable. */
import * as path from 'node:path';
import { writeFileAtomic } from '../../engine/files/atomic';
import { type CommandContext, parseShard, positiveInt, required } from '../args';
import { withJobContext } from '../progress';

export async function runTopk(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  const dataset = await core.openDataset(required(flags, 'data'));
  const outDir = required(flags, 'out-dir');
  const shard = typeof flags.shard === 'string' ? parseShard(flags.shard) : undefined;
  const options = { layers: [required(flags, 'layer')], k: positiveInt(flags, 'k', 9), shard, outDir, writePatches: !flags['no-patches'] };
  const [index] = await withJobContext(flags, (ctx) => core.buildTopK(options, ctx));
  writeFileAtomic(path.join(outDir, 'index.json'), JSON.stringify(index));
  print({
    layer: index.layer,
    k: index.k,
    units: index.units.length,
    images: index.images,
    dataset: dataset.name,
    out: path.resolve(outDir, 'index.json'),
    skipped: index.skipped,
  });
}
