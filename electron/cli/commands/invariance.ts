/** `cnn-inspect invariance`: how layers and the output change as images are shifted, scaled and rotated (ZF Fig. 5). */
import * as path from 'node:path';
import { InspectorError } from '../../../shared/errors';
import { invarianceTable } from '../../../shared/result-tables';
import { writeFileAtomic } from '../../engine/files/atomic';
import { type CommandContext, required } from '../args';
import { runJob, tableCsv } from '../run';

export async function runInvariance(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const list = (name: string, integer = false) => {
    const v = flags[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new InspectorError('BAD_ARGUMENT', `--${name} needs a comma-separated list`);
    const numbers = v.split(',').map(Number);
    if (numbers.some((n) => !Number.isFinite(n) || (integer && !Number.isInteger(n))))
      throw new InspectorError('BAD_ARGUMENT', `--${name} must be a comma-separated list of numbers`);
    return numbers;
  };
  const outFile = required(flags, 'out');
  const r = await runJob(
    core,
    'invariance',
    {
      images: list('images', true),
      lowLayer: typeof flags.low === 'string' ? flags.low : undefined,
      highLayer: typeof flags.high === 'string' ? flags.high : undefined,
      translations: list('translations'),
      scales: list('scales'),
      rotations: list('rotations'),
    },
    flags,
  );
  writeFileAtomic(outFile, tableCsv(invarianceTable(r)));
  print({ low_layer: r.lowLayer, high_layer: r.highLayer, images: r.images.map((i) => i.label), out: path.resolve(outFile) });
}
