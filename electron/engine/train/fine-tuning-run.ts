/**
 * A fine-tuning run's life on disk: started from the open model and folder, checkpointed as it goes (a pause,
 * crash or kill loses at most an epoch), resumed on the model and images it started with, and finished with the
 * new model, its settings and its model card beside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FinetuneSummary } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import type { JobContext } from '../base/job-context';
import { openDataset, type Dataset } from '../data/dataset';
import { datasetFingerprint } from '../features/fingerprint';
import { writeFileAtomic } from '../files/atomic';
import { stamp } from '../files/workspace';
import { openModel, type LoadedModel } from '../model/loaded-model';
import { fileSystemSaver, resolveModelJsonPath } from '../model/tfjs-io';
import { resolveDatasetPath, resolveModelPath } from '../paths';
import { releaseBatchSessions } from '../runtime/batch-forward';
import { finetune, type FinetuneOptions, type FinetuneResult } from './finetune';
import type { TrainState } from './loop';
import { modelCard, modelCardHtml, modelCardJson } from './model-card';
import { abandonRun, createRun, finishRun, loadState, readRun, runDir, runInfo, runsRoot, saveState, writeRun, type RunRecord } from './run-store';
import type { JobDescriptor } from '../features/job-host';

/**
 * Fine-tunes a copy of the open model on the open dataset as a run in `dir`: checkpoints as it goes (so a pause,
 * crash or kill loses at most an epoch), then the model (labels, preprocessing, settings) and its card.
 */
export async function startFinetuneRun(
  current: LoadedModel,
  dataset: Dataset,
  options: FinetuneOptions,
  dir: string,
  ctx: JobContext,
): Promise<FinetuneSummary> {
  const modelFile = resolveModelJsonPath(resolveModelPath(current.summary.id));
  const datasetRoot = resolveDatasetPath(dataset.summary.id);
  const run = createRun(dir, {
    model: { id: current.summary.id, file: modelFile, stamp: stamp(modelFile), name: current.summary.name },
    dataset: {
      id: dataset.summary.id,
      path: datasetRoot,
      name: dataset.summary.name,
      count: dataset.summary.count,
      fingerprint: datasetFingerprint(dataset, datasetRoot),
    },
    options,
    epochs: options.epochs ?? 10,
  });
  return trainRun(dir, run, dataset, undefined, ctx);
}

/** Carries on a paused or interrupted run from its last checkpoint, on the model and images it started with. */
export async function resumeFinetuneRun(dir: string, ctx: JobContext): Promise<FinetuneSummary> {
  const run = readRun(dir);
  const info = runInfo(path.basename(dir), run);
  if (info.status === 'done') throw new InspectorError('RUN_FINISHED', 'This run has finished; its model is in the same folder');
  if (info.status === 'running' && run.pid !== process.pid)
    throw new InspectorError('BAD_ARGUMENT', `The run is being trained by another program (process ${run.pid})`);
  if (stamp(run.model.file) !== run.model.stamp) {
    throw new InspectorError('RUN_MODEL_CHANGED', `The model file ${run.model.file} has changed (or is gone) since the run started; start a new run`);
  }
  const dataset = openDataset(run.dataset.path, run.dataset.id, run.dataset.name);
  if (datasetFingerprint(dataset, run.dataset.path) !== run.dataset.fingerprint) {
    throw new InspectorError('RUN_DATASET_CHANGED', `Images in ${run.dataset.path} were added, removed or changed since the run started; start a new run`);
  }
  const state = loadState(dir, run);
  run.status = 'running';
  run.pid = process.pid;
  writeRun(dir, run);
  return trainRun(dir, run, dataset, state, ctx);
}

async function trainRun(dir: string, run: RunRecord, dataset: Dataset, resume: TrainState | undefined, ctx: JobContext): Promise<FinetuneSummary> {
  const options = run.options;
  const copy = await openModel(run.model.file, run.model.id);
  let r: FinetuneResult;
  try {
    r = await finetune(copy, dataset, options, ctx, {
      ...(resume ? { resume } : {}),
      onState: async (state) => saveState(dir, run, state, ctx.shouldPause?.() ? 'paused' : 'running'),
      // Checkpoints beside the model, where the Training tab looks for them (feature evolution, layer probes).
      onCheckpoint: async (epoch, model) => {
        await model.save(
          fileSystemSaver(path.join(dir, 'checkpoints', `epoch-${epoch}`), {
            name: `${copy.summary.name} — fine-tuning, epoch ${epoch}`,
            labels: dataset.summary.classes.map((c) => c.name),
            preprocessing: copy.summary.preprocessing,
          }),
        );
      },
    });
  } catch (error) {
    await releaseBatchSessions(copy);
    copy.dispose();
    const code = (error as { code?: string }).code;
    // Cancelled = thrown away (a pause or a crash keeps the run to resume); an error before the first
    // checkpoint leaves nothing to resume.
    if (code === 'JOB_CANCELLED') fs.rmSync(dir, { recursive: true, force: true });
    else if (code !== 'JOB_PAUSED') abandonRun(dir, run);
    throw error;
  }
  await releaseBatchSessions(copy);
  const shared = new Set(r.model.layers);
  try {
    await r.model.save(
      fileSystemSaver(dir, {
        name: `${copy.summary.name} — fine-tuned (${options.strategy})`,
        labels: r.classes,
        preprocessing: copy.summary.preprocessing,
        strategy: options.strategy,
        settings: r.settings,
        validationAccuracy: r.validationAccuracy,
        history: r.history,
        frozenLayers: r.frozen,
      }),
    );
  } finally {
    // Frees the new model and whatever of the copied model it does not share (its old classifier).
    r.model.dispose();
    for (const layer of copy.model.layers) if (!shared.has(layer) && layer.weights.length) layer.dispose();
  }
  const summary = {
    path: path.join(dir, 'model.json'),
    strategy: options.strategy,
    classes: r.classes,
    trainImages: r.trainImages,
    validationImages: r.validationImages,
    validationAccuracy: r.validationAccuracy,
    testImages: r.testImages,
    ...(r.testAccuracy !== undefined ? { testAccuracy: r.testAccuracy } : {}),
    reportedOn: r.reportedOn,
    history: r.history,
    perClass: r.perClass,
    confusion: r.confusion,
    outcomes: r.outcomes,
    ...(r.bestEpoch !== undefined ? { bestEpoch: r.bestEpoch, stoppedEarly: r.stoppedEarly, ...(r.stopReason ? { stopReason: r.stopReason } : {}) } : {}),
    modelCard: path.join(dir, 'MODEL_CARD.md'),
    frozen: r.frozen,
    skipped: r.skipped,
    datasetName: dataset.summary.name,
    startedAt: run.createdAt,
  };
  const card = { ...r, baseName: copy.summary.name, dataset: dataset.summary, strategy: options.strategy, date: new Date() };
  const markdown = modelCard(card);
  const html = modelCardHtml(card);
  writeFileAtomic(summary.modelCard, markdown);
  writeFileAtomic(path.join(dir, 'model-card.html'), html);
  writeFileAtomic(path.join(dir, 'model-card.json'), `${JSON.stringify(modelCardJson(card), null, 1)}\n`);
  finishRun(dir, run);
  // The card itself travels with the result: a browser window cannot read the server's file.
  return { ...summary, card: { markdown, html } };
}

/** The fine-tuning job: a new run in the workspace's runs folder, named by its start time and strategy. */
export const finetuneJob: JobDescriptor<'finetune'> = {
  run: (host, params, ctx) =>
    startFinetuneRun(
      host.requireModel(),
      host.requireDataset(),
      params,
      path.join(runsRoot(), `${new Date().toISOString().replace(/[:.]/g, '-')}-${params.strategy}`),
      ctx,
    ),
};

/** The resume job: a paused or interrupted run carried on from its last checkpoint. */
export const resumeFinetuneJob: JobDescriptor<'resumeFinetune'> = {
  run: (_host, params, ctx) => resumeFinetuneRun(runDir(params.run), ctx),
};
