/** `cnn-inspect check-data`: look-alike images within and across the classes of a folder. */
import * as path from 'node:path';
import { csvText } from '../../../shared/csv';
import { EngineCore } from '../../engine/core';
import { writeFileAtomic } from '../../engine/files/atomic';
import { required, type Flags } from '../args';
import { runJob } from '../run';

/** Needs no model: the folder's images compared with each other. */
export async function runCheckData(flags: Flags, out: (text: string) => void): Promise<void> {
  const checker = new EngineCore();
  await checker.init();
  await checker.openDataset(required(flags, 'data'));
  const r = await runJob(checker, 'datasetReport', {}, flags);
  const outFile = required(flags, 'out');
  writeFileAtomic(
    outFile,
    csvText(
      ['group', 'class', 'file'],
      r.lookalikes.flatMap((g, i) => g.files.map((f) => [i + 1, f.split('/')[0], f])),
    ),
  );
  out(
    `${JSON.stringify({ checked: r.checked, groups: r.lookalikes.length, across_classes: r.acrossClasses, validation_with_twin_in_training: r.validationWithTwinInTraining, unreadable: r.unreadable, out: path.resolve(outFile) })}\n`,
  );
}
