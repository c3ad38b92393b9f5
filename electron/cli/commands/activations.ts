/** `cnn-inspect activations`: one layer's maps for one image, as .npy. */
import * as path from 'node:path';
import { writeNpy } from '../../engine/files/npy';
import { type CommandContext, required } from '../args';
import { loadImage } from '../run';

export async function runActivations(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  const layer = required(flags, 'layer');
  const outFile = required(flags, 'out');
  const image = await loadImage(core, flags);
  const maps = await core.activations({ image, layer });
  writeNpy(outFile, { shape: maps.shape, data: maps.data });
  print({ layer, shape: maps.shape, out: path.resolve(outFile), min: maps.min, max: maps.max });
}
