/** `cnn-inspect ablate`: architecture ablation — layers removed or resized, retrained (ZF Table 3). */
import * as path from 'node:path';
import { InspectorError } from '../../../shared/errors';
import { ablationTable } from '../../../shared/result-tables';
import { writeFileAtomic } from '../../engine/files/atomic';
import { type CommandContext, parseVariants, positiveInt, required } from '../args';
import { runJob, tableCsv } from '../run';

export async function runAblate(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const outFile = required(flags, 'out');
  const start = flags.start === undefined ? undefined : flags.start;
  if (start !== undefined && start !== 'scratch' && start !== 'pretrained') throw new InspectorError('BAD_ARGUMENT', '--start must be scratch or pretrained');
  const r = await runJob(
    core,
    'ablation',
    {
      variants: parseVariants(required(flags, 'variants')),
      epochs: positiveInt(flags, 'epochs', 10),
      batchSize: positiveInt(flags, 'batch', 32),
      seed: positiveInt(flags, 'seed', 1),
      ...(start ? { start } : {}),
    },
    flags,
  );
  writeFileAtomic(outFile, tableCsv(ablationTable(r)));
  print({
    classes: r.classes,
    train: r.trainImages,
    validation: r.validationImages,
    epochs: r.epochs,
    start: r.start,
    rows: r.rows.map(({ history: _h, ...row }) => row),
    skipped: r.skipped,
    out: path.resolve(outFile),
  });
}
