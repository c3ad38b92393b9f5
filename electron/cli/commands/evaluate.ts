/** `cnn-inspect evaluate`: accuracy, per-class accuracy and the confusion matrix over a folder. */
import { type CommandContext, positiveInt, required } from '../args';
import { runJob } from '../run';

export async function runEvaluate(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const limit = flags.limit === undefined ? undefined : positiveInt(flags, 'limit', 1);
  const { outcomes, ...result } = await runJob(core, 'evaluate', { limit }, flags);
  // Per-image outcomes only on request: they are as long as the dataset.
  print(flags.outcomes ? { ...result, outcomes } : result);
}
