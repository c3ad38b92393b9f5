/** `cnn-inspect predict`: the top classes for one image. */
import { type CommandContext, positiveInt } from '../args';
import { loadImage } from '../run';

export async function runPredict(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  const image = await loadImage(core, flags);
  const result = await core.predict({ image, top: positiveInt(flags, 'top', 5) });
  print({ predictions: result.predictions });
}
