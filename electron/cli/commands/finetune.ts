/** `cnn-inspect finetune`: a fine-tuning run (four strategies), resumable after Ctrl-C. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InspectorError } from '../../../shared/errors';
import { EngineCore } from '../../engine/core';
import { resumeFinetuneRun, startFinetuneRun } from '../../engine/train/fine-tuning-run';
import { STRATEGIES, type FinetuneOptions, type Strategy } from '../../engine/train/finetune';
import { runsRoot } from '../../engine/train/run-store';
import { type CommandContext, type Flags, parseMultipliers, positiveInt, required } from '../args';
import { withJobContext } from '../progress';
import { finetuneJson, pausable } from '../run';

export async function runFinetune(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  const strategy = required(flags, 'strategy') as Strategy;
  if (!STRATEGIES.includes(strategy)) throw new InspectorError('BAD_ARGUMENT', `--strategy must be one of ${STRATEGIES.join(', ')}`);
  await core.openDataset(required(flags, 'data'));
  const outDir = path.resolve(required(flags, 'out'));
  const lr = flags.lr === undefined ? undefined : Number(flags.lr);
  if (lr !== undefined && !(lr > 0)) throw new InspectorError('BAD_ARGUMENT', '--lr must be a positive number');
  const settings: FinetuneOptions = {
    strategy,
    epochs: positiveInt(flags, 'epochs', 10),
    batchSize: positiveInt(flags, 'batch', 32),
    learningRate: lr,
    seed: positiveInt(flags, 'seed', 1),
    flip: !flags['no-flip'],
    earlyStopping: !flags['no-early-stop'],
    ...(typeof flags.holdout === 'string' ? { validationFraction: Number(flags.holdout) } : {}),
    ...(typeof flags.test === 'string' ? { testFraction: Number(flags.test) } : {}),
    ...(typeof flags['lr-mult'] === 'string' ? { layerMultipliers: parseMultipliers(flags['lr-mult']) } : {}),
    ...(flags['no-augment'] ? { augment: false } : {}),
    ...(flags['no-crop'] ? { crop: false } : {}),
    ...(flags.optimizer === 'adam' || flags.optimizer === 'sgd' ? { optimizer: flags.optimizer } : {}),
    ...(flags.classifier === 'svm' || flags.classifier === 'softmax' ? { classifier: flags.classifier } : {}),
  };
  const r = await withJobContext(
    flags,
    (ctx) => pausable(startFinetuneRun(core.requireModel(), core.requireDataset(), settings, outDir, ctx), outDir),
    'pause',
  );
  print(finetuneJson(r));
}

/** `finetune --resume RUN`: a paused or interrupted run carried on (a folder, or a run's name as `runs` lists them). */
export async function runResume(flags: Flags, out: (text: string) => void): Promise<void> {
  const named = required(flags, 'resume');
  const dir = fs.existsSync(named) || named.includes('/') ? path.resolve(named) : path.join(runsRoot(), named);
  const resumer = new EngineCore();
  await resumer.init();
  const r = await withJobContext(flags, (ctx) => pausable(resumeFinetuneRun(dir, ctx), dir), 'pause');
  out(`${JSON.stringify(finetuneJson(r))}\n`);
}
