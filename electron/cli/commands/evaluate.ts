/** `cnn-inspect evaluate`: accuracy, per-class accuracy and the confusion matrix over a folder. */
import { makeJobContext } from '../../engine/base/job-context';
import { type CommandContext, positiveInt, required } from '../args';

export async function runEvaluate(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const limit = flags.limit === undefined ? undefined : positiveInt(flags, 'limit', 1);
  const ctx = makeJobContext(
    (done, total) => {
      if (flags.progress) process.stderr.write(`\r${done}/${total}`);
    },
    () => false,
  );
  const { outcomes, ...result } = await core.runJob('evaluate', { limit }, ctx);
  // Per-image outcomes only on request: they are as long as the dataset.
  print(flags.outcomes ? { ...result, outcomes } : result);
}
