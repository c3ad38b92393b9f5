/**
 * `cnn-inspect atlas`: the app's atlas (top-k per unit with deconvnet projections, one PNG sheet per unit) built
 * into a folder — for a big network on a machine of its own; --units N draws only each layer's first N units (a
 * quick look). With --progress, stderr says up front how long it will take (measured on this computer) and then
 * how far it is.
 */
import * as path from 'node:path';
import { buildAtlas } from '../../engine/analyses/atlas';
import { type CommandContext, positiveInt, required } from '../args';
import { withJobContext } from '../progress';

export async function runAtlas(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  const dataset = await core.openDataset(required(flags, 'data'));
  const outDir = required(flags, 'out-dir');
  const layers = typeof flags.layer === 'string' ? flags.layer.split(',').filter(Boolean) : undefined;
  const options = {
    k: positiveInt(flags, 'k', 9),
    ...(layers ? { layers } : {}),
    ...(flags.units !== undefined ? { unitsPerLayer: positiveInt(flags, 'units', 1) } : {}),
  };
  const summary = await withJobContext(flags, (ctx) => buildAtlas(core.requireModel(), core.requireDataset(), outDir, options, ctx));
  print({ ...summary, dataset: dataset.name, out: path.resolve(outDir) });
}
