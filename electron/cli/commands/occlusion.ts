/** `cnn-inspect occlusion`: the probability, top label and feature maps as a grey square slides over the image (ZF Fig. 7). */
import * as path from 'node:path';
import { InspectorError } from '../../../shared/errors';
import { writeNpy } from '../../engine/files/npy';
import { type CommandContext, required } from '../args';
import { loadImage, runJob } from '../run';

export async function runOcclusion(cx: CommandContext): Promise<void> {
  const { core, summary, print, flags } = cx;
  const integer = (name: string) => {
    const v = Number(required(flags, name));
    if (!Number.isInteger(v)) throw new InspectorError('BAD_ARGUMENT', `--${name} must be a whole number`);
    return v;
  };
  const patch = integer('patch');
  const stride = integer('stride');
  const fill = flags.fill === undefined ? undefined : Number(flags.fill);
  if (fill !== undefined && !Number.isFinite(fill)) throw new InspectorError('BAD_ARGUMENT', '--fill must be a number');
  const classIndex = flags.class === undefined ? undefined : integer('class');
  const outDir = required(flags, 'out-dir');
  const image = await loadImage(core, flags);
  const r = await runJob(
    core,
    'occlusion',
    { image, patch, stride, fill, classIndex, layer: typeof flags.layer === 'string' ? flags.layer : undefined },
    flags,
  );
  writeNpy(path.join(outDir, 'probability.npy'), { shape: r.grid, data: r.probability });
  writeNpy(path.join(outDir, 'top_label.npy'), { shape: r.grid, data: r.topLabel });
  writeNpy(path.join(outDir, 'feature.npy'), { shape: r.grid, data: r.feature });
  print({
    class: r.classIndex,
    label: summary.classes?.[r.classIndex],
    base_probability: r.baseProbability,
    feature_layer: r.featureLayer,
    feature_unit: r.featureUnit,
    grid: r.grid,
    out_dir: path.resolve(outDir),
  });
}
