/**
 * EngineHost: a long-lived pool of worker threads, each running an EngineCore. Interactive calls go to worker 0;
 * jobs queue and run on the other workers when there are several (so the UI stays responsive), on worker 0
 * otherwise. State-changing calls (open model / dataset, uploads) are applied to every worker so any of them can
 * run any job. A native tfjs backend is allowed in worker 0 only (tfjs #2079 / #8388).
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { JobKind, JobParams, TrainingMetrics } from '../../shared/contract';
import { fromErrorInfo, InspectorError } from '../../shared/errors';
import type { BackendChoice, BackendName } from './backend';
import { builtScript } from './paths';
import type { HostToWorker, WorkerAnswer, WorkerArgs, WorkerMethod, WorkerToHost } from './worker-protocol';

type Pending = {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (done: number, total: number, message: string, metrics?: TrainingMetrics) => void;
};

interface PooledWorker {
  worker: Worker;
  index: number;
  pending: Map<number, Pending>;
  busyWithJob: boolean;
  ready: Promise<BackendChoice>;
}

interface QueuedJob {
  jobId: string;
  kind: JobKind;
  params: JobParams[JobKind];
  cancelFlag: SharedArrayBuffer;
  onProgress: (done: number, total: number, message: string, metrics?: TrainingMetrics) => void;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export interface EngineHostOptions {
  workers?: number;
  preferredBackend?: BackendName;
  workerScript?: string;
}

function defaultWorkerScript(): string {
  const found = builtScript('worker.cjs');
  if (!found) throw new InspectorError('INTERNAL', 'The engine worker is not built: run `npm run build`');
  return found;
}

export class EngineHost {
  private readonly workers: PooledWorker[] = [];
  private readonly queue: QueuedJob[] = [];
  private readonly cancelFlags = new Map<string, Int32Array>();
  private nextId = 1;
  private readonly script: string;
  private readonly preferred?: BackendName;
  private disposed = false;
  /** Replayed into a respawned worker so it has the same model, dataset and uploads. */
  private readonly stateCalls: Array<{ method: WorkerMethod; args: unknown[]; key: string }> = [];

  constructor(options: EngineHostOptions = {}) {
    this.script = options.workerScript ?? defaultWorkerScript();
    this.preferred = options.preferredBackend ?? (process.env.CNN_INSPECTOR_BACKEND as BackendName | undefined);
    const count = Math.max(1, options.workers ?? Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
    for (let i = 0; i < count; i++) this.workers.push(this.spawn(i));
  }

  get size(): number {
    return this.workers.length;
  }

  /** Backend of worker 0 (the one interactive work runs on). */
  backend(): Promise<BackendChoice> {
    return this.workers[0].ready;
  }

  private spawn(index: number): PooledWorker {
    const worker = new Worker(this.script);
    const pooled: PooledWorker = { worker, index, pending: new Map(), busyWithJob: false, ready: Promise.resolve(undefined as unknown as BackendChoice) };
    worker.on('message', (message: WorkerToHost) => {
      if (message.type === 'progress') {
        for (const p of pooled.pending.values()) p.onProgress?.(message.done, message.total, message.message, message.metrics);
        return;
      }
      const pending = pooled.pending.get(message.id);
      if (!pending) return;
      pooled.pending.delete(message.id);
      if (message.ok) pending.resolve(message.value);
      else pending.reject(fromErrorInfo(message.error));
    });
    worker.on('error', (error) => this.onWorkerExit(pooled, error));
    worker.on('exit', (code) => {
      if (!this.disposed) this.onWorkerExit(pooled, new Error(`engine worker exited with code ${code}`));
    });
    pooled.ready = this.post(pooled, { type: 'init', id: 0, preferred: this.preferred, allowNative: index === 0 }) as Promise<BackendChoice>;
    return pooled;
  }

  private onWorkerExit(pooled: PooledWorker, error: Error): void {
    if (this.workers[pooled.index] !== pooled || this.disposed) return;
    for (const p of pooled.pending.values()) p.reject(new InspectorError('INTERNAL', `The engine worker stopped: ${error.message}`));
    pooled.pending.clear();
    void pooled.worker.terminate();
    const replacement = this.spawn(pooled.index);
    this.workers[pooled.index] = replacement;
    for (const s of this.stateCalls) void this.post(replacement, { type: 'call', id: 0, method: s.method, args: s.args }).catch(() => undefined);
    this.pump();
  }

  private post(pooled: PooledWorker, message: HostToWorker, onProgress?: Pending['onProgress']): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      pooled.pending.set(id, { resolve, reject, onProgress });
      pooled.worker.postMessage({ ...message, id });
    });
  }

  /** A call on the interactive worker. */
  async call<M extends WorkerMethod>(method: M, ...args: WorkerArgs<M>): Promise<WorkerAnswer<M>> {
    await this.workers[0].ready;
    return (await this.post(this.workers[0], { type: 'call', id: 0, method, args })) as WorkerAnswer<M>;
  }

  /** A state-changing call, applied to every worker; returns worker 0's answer (all must succeed). */
  broadcast<M extends WorkerMethod>(method: M, key: string, ...args: WorkerArgs<M>): Promise<WorkerAnswer<M>> {
    return this.broadcastWithProgress(method, key, undefined, ...args);
  }

  /** The same, with worker 0's progress messages (e.g. while a big model loads) passed to `onProgress`. */
  async broadcastWithProgress<M extends WorkerMethod>(
    method: M,
    key: string,
    onProgress: Pending['onProgress'],
    ...args: WorkerArgs<M>
  ): Promise<WorkerAnswer<M>> {
    await Promise.all(this.workers.map((w) => w.ready));
    const results = await Promise.all(this.workers.map((w, i) => this.post(w, { type: 'call', id: 0, method, args }, i === 0 ? onProgress : undefined)));
    const existing = this.stateCalls.findIndex((s) => s.key === key);
    if (existing >= 0) this.stateCalls.splice(existing, 1);
    this.stateCalls.push({ method, args, key });
    return results[0] as WorkerAnswer<M>;
  }

  /** Forgets uploaded images in every worker (and in what a respawned worker is given again). */
  async removeUploads(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = new Set(ids.map((id) => `upload:${id}`));
    for (let i = this.stateCalls.length - 1; i >= 0; i--) if (keys.has(this.stateCalls[i].key)) this.stateCalls.splice(i, 1);
    await Promise.all(this.workers.map((w) => w.ready.then(() => this.post(w, { type: 'call', id: 0, method: 'removeUploads', args: [ids] }))));
  }

  /** Tensor counts of every worker (tests assert they return to baseline). */
  async numTensors(): Promise<number[]> {
    await Promise.all(this.workers.map((w) => w.ready));
    return (await Promise.all(this.workers.map((w) => this.post(w, { type: 'call', id: 0, method: 'numTensors', args: [] })))) as number[];
  }

  runJob(jobId: string, kind: JobKind, params: JobParams[JobKind], onProgress: QueuedJob['onProgress']): Promise<unknown> {
    const cancelFlag = new SharedArrayBuffer(4);
    this.cancelFlags.set(jobId, new Int32Array(cancelFlag));
    return new Promise((resolve, reject) => {
      this.queue.push({ jobId, kind, params, cancelFlag, onProgress, resolve, reject });
      this.pump();
    }).finally(() => this.cancelFlags.delete(jobId));
  }

  /**
   * Stops a job: a queued one is dropped; a running one sees its flag at its next check — 'discard' (1) throws its
   * work away, 'keep' (2) asks a training job to finish now with what it has, 'pause' (3) to save where it is.
   */
  cancelJob(jobId: string, how: 'discard' | 'keep' | 'pause' = 'discard'): boolean {
    const queued = this.queue.findIndex((j) => j.jobId === jobId);
    if (queued >= 0) {
      const [job] = this.queue.splice(queued, 1);
      job.reject(new InspectorError('JOB_CANCELLED', 'The job was cancelled before it started'));
      return true;
    }
    const flag = this.cancelFlags.get(jobId);
    if (!flag) return false;
    Atomics.store(flag, 0, how === 'pause' ? 3 : how === 'keep' ? 2 : 1);
    return true;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const candidates = this.workers.length > 1 ? this.workers.slice(1) : this.workers;
      const free = candidates.find((w) => !w.busyWithJob);
      if (!free) return;
      const job = this.queue.shift()!;
      free.busyWithJob = true;
      free.ready
        .then(() => this.post(free, { type: 'job', id: 0, jobId: job.jobId, kind: job.kind, params: job.params, cancelFlag: job.cancelFlag }, job.onProgress))
        .then(job.resolve, job.reject)
        .finally(() => {
          free.busyWithJob = false;
          this.pump();
        });
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const job of this.queue.splice(0)) job.reject(new InspectorError('JOB_CANCELLED', 'The engine is shutting down'));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
