/**
 * Training runs on disk, so a fine-tune survives a pause, a crash, a kill or an app restart. A run folder holds
 *   run.json     — what the run is (model file and stamp, dataset path and fingerprint, settings, seed, how far
 *                  it got, which state folder is current), always replaced atomically (write, then rename);
 *   state-<n>/   — the training state of the last checkpoint (header.json + tensors.bin).
 * A new state is written to a fresh folder, then run.json is switched to it, then the old folder is removed:
 * whatever moment the process dies, run.json points at a complete state. When the run ends, the fine-tuned
 * model and its card land in the same folder and the state is removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TrainingRunInfo } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { writeFileAtomic } from '../files/atomic';
import { workspaceRoot } from '../files/workspace';
import type { FinetuneOptions } from './finetune';
import type { StateTensor, TrainState } from './loop';

export interface RunRecord {
  version: 1;
  status: 'running' | 'paused' | 'done';
  /** The process training it (a 'running' run whose process is gone was interrupted). */
  pid: number;
  createdAt: string;
  updatedAt: string;
  model: { id: string; file: string; stamp: string; name: string };
  dataset: { id: string; path: string; name: string; count: number; fingerprint: string };
  options: FinetuneOptions;
  epochs: number;
  progress: { epochsDone: number; batchesDone: number };
  history: TrainState['history'];
  /** The current state folder's name, when one has been written. */
  state?: string;
}

/** Where the app keeps its runs (one folder each; the finished model ends up in the same folder). */
export function runsRoot(): string {
  return path.join(workspaceRoot(), 'finetuned');
}

const runFile = (dir: string) => path.join(dir, 'run.json');

export function readRun(dir: string): RunRecord {
  let text: string;
  try {
    text = fs.readFileSync(runFile(dir), 'utf8');
  } catch {
    throw new InspectorError('RUN_NOT_FOUND', `No training run in ${dir}`);
  }
  try {
    const record = JSON.parse(text) as RunRecord;
    if (record.version !== 1 || !record.model || !record.dataset || !record.options) throw new Error('fields missing');
    return record;
  } catch (error) {
    throw new InspectorError('RUN_NOT_FOUND', `The run file in ${dir} is damaged: ${(error as Error).message}`);
  }
}

export function writeRun(dir: string, record: RunRecord): void {
  writeFileAtomic(runFile(dir), `${JSON.stringify({ ...record, updatedAt: new Date().toISOString() }, null, 1)}\n`);
}

/** Starts a run folder (refusing one that holds an unfinished run with something saved to resume from). */
export function createRun(dir: string, record: Omit<RunRecord, 'version' | 'status' | 'pid' | 'createdAt' | 'updatedAt' | 'progress' | 'history'>): RunRecord {
  if (fs.existsSync(runFile(dir))) {
    let existing: RunRecord | undefined;
    try {
      existing = readRun(dir);
    } catch {
      existing = undefined; // a damaged run file holds nothing to resume
    }
    if (existing && existing.status !== 'done' && existing.state) {
      throw new InspectorError('BAD_ARGUMENT', `${dir} holds an unfinished training run: resume it or choose another folder`);
    }
    removeStates(dir);
  }
  const now = new Date().toISOString();
  const run: RunRecord = {
    version: 1,
    status: 'running',
    pid: process.pid,
    createdAt: now,
    updatedAt: now,
    progress: { epochsDone: 0, batchesDone: 0 },
    history: [],
    ...record,
  };
  writeRun(dir, run);
  return run;
}

interface TensorEntry {
  group: string;
  shape: number[];
  dtype: StateTensor['dtype'];
  offset: number;
  length: number;
}

/** Writes `state` as the run's new checkpoint, crash-safely (new folder → run.json switched → old folder removed). */
export function saveState(dir: string, run: RunRecord, state: TrainState, status: RunRecord['status'] = run.status): void {
  const name = `state-${Date.now().toString(36)}-${process.pid}`;
  const tmp = path.join(dir, `${name}.tmp`);
  fs.mkdirSync(tmp, { recursive: true });
  const entries: TensorEntry[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  const add = (group: string, tensors: StateTensor[]) => {
    for (const t of tensors) {
      const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      entries.push({ group, shape: t.shape, dtype: t.dtype, offset, length: t.data.length });
      parts.push(bytes);
      offset += bytes.length;
    }
  };
  add('weights', state.weights);
  state.optimizers.forEach((o, i) => add(`optimizer${i}`, o));
  if (state.best) add('best', state.best.weights);
  const header = {
    epochsDone: state.epochsDone,
    batchesDone: state.batchesDone,
    epochLoss: state.epochLoss,
    seenThisEpoch: state.seenThisEpoch,
    imagesSeen: state.imagesSeen,
    history: state.history,
    optimizers: state.optimizers.length,
    best: state.best ? { epoch: state.best.epoch, accuracy: state.best.accuracy } : undefined,
    tensors: entries,
  };
  const fd = fs.openSync(path.join(tmp, 'tensors.bin'), 'w');
  try {
    for (const p of parts) fs.writeSync(fd, p);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.writeFileSync(path.join(tmp, 'header.json'), JSON.stringify(header));
  fs.renameSync(tmp, path.join(dir, name));
  run.state = name;
  run.status = status;
  run.progress = { epochsDone: state.epochsDone, batchesDone: state.batchesDone };
  run.history = state.history;
  writeRun(dir, run);
  // The previous state, and any a killed process left behind half-way through this dance.
  removeStates(dir, name);
}

/** Removes the run's state folders (all, or all but `keep`). */
function removeStates(dir: string, keep?: string): void {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith('state-') && entry !== keep) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * A run that ended with an error before anything was saved (bad images, bad settings) leaves nothing to resume:
 * its run file goes, so the folder can be used again.
 */
export function abandonRun(dir: string, run: RunRecord): void {
  if (run.state) return;
  fs.rmSync(runFile(dir), { force: true });
  removeStates(dir);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
}

/** The run's last checkpoint, or undefined when it stopped before its first one. */
export function loadState(dir: string, run: RunRecord): TrainState | undefined {
  if (!run.state) return undefined;
  const folder = path.join(dir, run.state);
  try {
    const header = JSON.parse(fs.readFileSync(path.join(folder, 'header.json'), 'utf8')) as {
      epochsDone: number;
      batchesDone: number;
      epochLoss: number;
      seenThisEpoch: number;
      imagesSeen: number;
      history: TrainState['history'];
      optimizers: number;
      best?: { epoch: number; accuracy: number };
      tensors: TensorEntry[];
    };
    const bytes = fs.readFileSync(path.join(folder, 'tensors.bin'));
    const groups = new Map<string, StateTensor[]>();
    for (const e of header.tensors) {
      if (e.offset + e.length * 4 > bytes.length) throw new Error('tensors.bin is shorter than its header says');
      const copy = new Uint8Array(e.length * 4);
      copy.set(bytes.subarray(e.offset, e.offset + e.length * 4));
      const data = e.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
      groups.set(e.group, [...(groups.get(e.group) ?? []), { shape: e.shape, dtype: e.dtype, data }]);
    }
    return {
      epochsDone: header.epochsDone,
      batchesDone: header.batchesDone,
      epochLoss: header.epochLoss,
      seenThisEpoch: header.seenThisEpoch,
      imagesSeen: header.imagesSeen,
      history: header.history,
      weights: groups.get('weights') ?? [],
      optimizers: Array.from({ length: header.optimizers }, (_, i) => groups.get(`optimizer${i}`) ?? []),
      ...(header.best ? { best: { ...header.best, weights: groups.get('best') ?? [] } } : {}),
    };
  } catch (error) {
    throw new InspectorError('RUN_NOT_FOUND', `The saved state of the run in ${dir} cannot be read: ${(error as Error).message}`);
  }
}

/** Marks a run finished and removes its training state (the model and card beside it are what is kept). */
export function finishRun(dir: string, run: RunRecord): void {
  run.status = 'done';
  run.state = undefined;
  writeRun(dir, run);
  removeStates(dir);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What a person sees of a run in the list of unfinished ones. */
export function runInfo(id: string, run: RunRecord): TrainingRunInfo {
  const state: TrainingRunInfo['status'] =
    run.status === 'done' ? 'done' : run.status === 'paused' ? 'paused' : processAlive(run.pid) ? 'running' : 'interrupted';
  return {
    id,
    status: state,
    strategy: run.options.strategy,
    modelName: run.model.name,
    datasetName: run.dataset.name,
    images: run.dataset.count,
    epochs: run.epochs,
    epochsDone: run.progress.epochsDone,
    batchesDone: run.progress.batchesDone,
    history: run.history,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
  };
}

/** The app's runs that have not finished (paused, or interrupted by a crash or a closed app), newest first. */
export function listUnfinishedRuns(): TrainingRunInfo[] {
  const root = runsRoot();
  if (!fs.existsSync(root)) return [];
  const out: TrainingRunInfo[] = [];
  for (const name of fs.readdirSync(root)) {
    if (!fs.existsSync(runFile(path.join(root, name)))) continue;
    try {
      const info = runInfo(name, readRun(path.join(root, name)));
      if (info.status !== 'done') out.push(info);
    } catch {
      // a damaged run file is not listed; resuming it by name gives the reason
    }
  }
  return out.sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1));
}

/** The folder of the app's run `id` (a folder name under the runs root; never a path). */
export function runDir(id: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(id) || id.startsWith('.')) throw new InspectorError('RUN_NOT_FOUND', `No training run named ${id}`);
  return path.join(runsRoot(), id);
}
