/** Running the engine from the CLI: jobs through the app's path, images, training with pause on Ctrl-C, CSV tables. */
import * as path from 'node:path';
import type { FinetuneSummary, JobKind, JobParams, JobResults } from '../../shared/contract';
import { csvText } from '../../shared/csv';
import { InspectorError, toErrorInfo } from '../../shared/errors';
import { validateJobParams } from '../../shared/param-checks';
import type { Table } from '../../shared/result-tables';
import type { EngineCore } from '../engine/core';
import { readFileBytes } from '../engine/data/image';
import { required, type Flags } from './args';
import { withJobContext } from './progress';

export const tableCsv = (t: Table): string => csvText(t.header, t.rows);

/** A job the way the app runs it: its parameters checked, then through the engine's job registry and cache, with the CLI's progress line and Ctrl-C. */
export function runJob<K extends JobKind>(core: EngineCore, kind: K, params: JobParams[K], flags: Flags): Promise<JobResults[K]> {
  validateJobParams(kind, params);
  return withJobContext(flags, (ctx) => core.runJob(kind, params, ctx));
}

export async function loadImage(core: EngineCore, flags: Flags) {
  const file = required(flags, 'image');
  await core.addUpload('cli', path.basename(file), readFileBytes(file));
  return { source: 'upload' as const, id: 'cli' };
}

/** A paused run's error says how to carry on. */
export async function pausable<T>(run: Promise<T>, dir: string): Promise<T> {
  try {
    return await run;
  } catch (error) {
    const info = toErrorInfo(error);
    if (info.code === 'JOB_PAUSED') throw new InspectorError('JOB_PAUSED', `${info.message}: cnn-inspect finetune --resume ${JSON.stringify(dir)}`);
    throw error;
  }
}

export function finetuneJson(r: FinetuneSummary) {
  return {
    strategy: r.strategy,
    classes: r.classes,
    train: r.trainImages,
    validation: r.validationImages,
    validation_accuracy: r.validationAccuracy,
    ...(r.testAccuracy !== undefined ? { test: r.testImages, test_accuracy: r.testAccuracy } : {}),
    reported_on: r.reportedOn,
    per_class: r.perClass,
    confusion: r.confusion,
    ...(r.bestEpoch !== undefined ? { best_epoch: r.bestEpoch, stopped_early: r.stoppedEarly } : {}),
    frozen: r.frozen,
    history: r.history,
    skipped: r.skipped,
    out: path.dirname(r.path),
    model_card: r.modelCard,
  };
}
