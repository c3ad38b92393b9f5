/**
 * EngineHost: a long-lived pool of worker threads, each holding an EngineCore per session (a window, a
 * classroom student) over models they share. Interactive calls go to worker 0, a few at a time, taken from the
 * sessions in turn so one busy tab cannot starve the room; jobs queue and run on the other workers when there are
 * several (so the UI stays responsive), on worker 0 otherwise, the instructor's before the students'.
 * State-changing calls (open model / dataset, uploads) are applied to every worker so any of them can run any job
 * of that session. A native tfjs backend is allowed in worker 0 only (tfjs #2079 / #8388).
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
  session: string;
  /** Lower first: 0 for the instructor or a desktop window, 1 for a classroom student. */
  priority: number;
  /** Told how many jobs are ahead whenever that changes while it waits. */
  onWaiting?: (ahead: number) => void;
  toldAhead?: number;
  jobId: string;
  kind: JobKind;
  params: JobParams[JobKind];
  cancelFlag: SharedArrayBuffer;
  onProgress: (done: number, total: number, message: string, metrics?: TrainingMetrics) => void;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** Interactive calls worker 0 works on at once (more would only interleave; fewer would idle it between answers). */
const INTERACTIVE_IN_FLIGHT = 2;

/** The session of callers that have none: the desktop window, the CLI, tests. */
export const LOCAL_SESSION = 'local';

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
  /** Replayed into a respawned worker so each session has the same model, dataset and uploads. */
  private readonly stateCalls: Array<{ session: string; method: WorkerMethod; args: unknown[]; key: string }> = [];
  /** Interactive calls waiting for worker 0, per session, served in turn. */
  private readonly waiting = new Map<string, Array<() => void>>();
  private interactiveInFlight = 0;

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
        pooled.pending.get(message.id)?.onProgress?.(message.done, message.total, message.message, message.metrics);
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
    for (const s of this.stateCalls)
      void this.post(replacement, { type: 'call', id: 0, session: s.session, method: s.method, args: s.args }).catch(() => undefined);
    this.pump();
  }

  private post(pooled: PooledWorker, message: HostToWorker, onProgress?: Pending['onProgress']): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      pooled.pending.set(id, { resolve, reject, onProgress });
      pooled.worker.postMessage({ ...message, id });
    });
  }

  /** The calls of one session, bound to its id. */
  session(id: string = LOCAL_SESSION): EngineSession {
    return new EngineSession(this, id);
  }

  /** A call on the interactive worker, when its session's turn comes. */
  async call<M extends WorkerMethod>(session: string, method: M, ...args: WorkerArgs<M>): Promise<WorkerAnswer<M>> {
    await this.workers[0].ready;
    await this.interactiveTurn(session);
    try {
      return (await this.post(this.workers[0], { type: 'call', id: 0, session, method, args })) as WorkerAnswer<M>;
    } finally {
      this.interactiveInFlight--;
      this.nextInteractive();
    }
  }

  /** Interactive calls waiting for worker 0, all sessions together (the class's backlog). */
  waitingCalls(): number {
    let count = 0;
    for (const line of this.waiting.values()) count += line.length;
    return count;
  }

  /** Resolves when worker 0 may take this session's next call: at once when it has room, else in turn. */
  private interactiveTurn(session: string): Promise<void> {
    if (this.interactiveInFlight < INTERACTIVE_IN_FLIGHT && this.waiting.size === 0) {
      this.interactiveInFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const line = this.waiting.get(session) ?? [];
      line.push(resolve);
      this.waiting.set(session, line);
    });
  }

  /** Round robin: the session first in line gets one call, then goes to the back (Map order is insertion order). */
  private nextInteractive(): void {
    while (this.interactiveInFlight < INTERACTIVE_IN_FLIGHT && this.waiting.size > 0) {
      const [session, line] = this.waiting.entries().next().value as [string, Array<() => void>];
      this.waiting.delete(session);
      const go = line.shift()!;
      if (line.length > 0) this.waiting.set(session, line);
      this.interactiveInFlight++;
      go();
    }
  }

  /** A state-changing call of a session, applied to every worker; returns worker 0's answer (all must succeed). */
  async broadcast<M extends WorkerMethod>(
    session: string,
    method: M,
    key: string,
    onProgress: Pending['onProgress'],
    ...args: WorkerArgs<M>
  ): Promise<WorkerAnswer<M>> {
    await Promise.all(this.workers.map((w) => w.ready));
    const results = await Promise.all(
      this.workers.map((w, i) => this.post(w, { type: 'call', id: 0, session, method, args }, i === 0 ? onProgress : undefined)),
    );
    const existing = this.stateCalls.findIndex((s) => s.session === session && s.key === key);
    if (existing >= 0) this.stateCalls.splice(existing, 1);
    this.stateCalls.push({ session, method, args, key });
    return results[0] as WorkerAnswer<M>;
  }

  /** Forgets a session's uploaded images in every worker (and in what a respawned worker is given again). */
  async removeUploads(session: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const keys = new Set(ids.map((id) => `upload:${id}`));
    for (let i = this.stateCalls.length - 1; i >= 0; i--)
      if (this.stateCalls[i].session === session && keys.has(this.stateCalls[i].key)) this.stateCalls.splice(i, 1);
    await this.everyWorker(session, 'removeUploads', [ids]);
  }

  /** A session ended: every worker drops its state (its hold on a shared model, its uploads), and nothing is replayed. */
  async closeSession(session: string): Promise<void> {
    for (let i = this.stateCalls.length - 1; i >= 0; i--) if (this.stateCalls[i].session === session) this.stateCalls.splice(i, 1);
    this.waiting.delete(session);
    for (const job of this.queue.filter((j) => j.session === session)) this.cancelJob(job.jobId);
    await this.everyWorker(session, 'close', []);
  }

  private async everyWorker(session: string, method: WorkerMethod, args: unknown[]): Promise<unknown[]> {
    return Promise.all(this.workers.map((w) => w.ready.then(() => this.post(w, { type: 'call', id: 0, session, method, args }))));
  }

  /** The models each worker holds for all sessions, with their holder counts (shared memory, counted once). */
  async modelsHeld(): Promise<Array<Array<{ id: string; holders: number }>>> {
    return (await this.everyWorker(LOCAL_SESSION, 'modelsHeld', [])) as Array<Array<{ id: string; holders: number }>>;
  }

  /** Tensor counts of every worker (tests assert they return to baseline). */
  async numTensors(): Promise<number[]> {
    await Promise.all(this.workers.map((w) => w.ready));
    return (await this.everyWorker(LOCAL_SESSION, 'numTensors', [])) as number[];
  }

  runJob(job: Pick<QueuedJob, 'session' | 'jobId' | 'kind' | 'params' | 'onProgress' | 'onWaiting'> & { priority?: number }): Promise<unknown> {
    const cancelFlag = new SharedArrayBuffer(4);
    this.cancelFlags.set(job.jobId, new Int32Array(cancelFlag));
    return new Promise((resolve, reject) => {
      const queued: QueuedJob = { ...job, priority: job.priority ?? 0, cancelFlag, resolve, reject };
      // Behind every waiting job of its priority or a higher one: the instructor's never wait for a student's.
      const after = this.queue.findIndex((j) => j.priority > queued.priority);
      this.queue.splice(after < 0 ? this.queue.length : after, 0, queued);
      this.pump();
    }).finally(() => this.cancelFlags.delete(job.jobId));
  }

  /** How many jobs are ahead of each waiting one, told to those that listen (the person sees their place). */
  private tellPlaces(): void {
    const running = this.workers.filter((w) => w.busyWithJob).length;
    this.queue.forEach((job, i) => {
      if (job.toldAhead === running + i) return;
      job.toldAhead = running + i;
      job.onWaiting?.(running + i);
    });
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
      this.tellPlaces();
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
      if (!free) break;
      const job = this.queue.shift()!;
      free.busyWithJob = true;
      free.ready
        .then(() =>
          this.post(
            free,
            { type: 'job', id: 0, session: job.session, jobId: job.jobId, kind: job.kind, params: job.params, cancelFlag: job.cancelFlag },
            job.onProgress,
          ),
        )
        .then(job.resolve, job.reject)
        .finally(() => {
          free.busyWithJob = false;
          this.pump();
        });
    }
    this.tellPlaces();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const job of this.queue.splice(0)) job.reject(new InspectorError('JOB_CANCELLED', 'The engine is shutting down'));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}

/** One session's view of the host: the same calls, with its id filled in. */
export class EngineSession {
  constructor(
    readonly host: EngineHost,
    readonly id: string,
  ) {}

  call<M extends WorkerMethod>(method: M, ...args: WorkerArgs<M>): Promise<WorkerAnswer<M>> {
    return this.host.call(this.id, method, ...args);
  }

  broadcast<M extends WorkerMethod>(method: M, key: string, ...args: WorkerArgs<M>): Promise<WorkerAnswer<M>> {
    return this.host.broadcast(this.id, method, key, undefined, ...args);
  }

  broadcastWithProgress<M extends WorkerMethod>(method: M, key: string, onProgress: Pending['onProgress'], ...args: WorkerArgs<M>): Promise<WorkerAnswer<M>> {
    return this.host.broadcast(this.id, method, key, onProgress, ...args);
  }

  removeUploads(ids: string[]): Promise<void> {
    return this.host.removeUploads(this.id, ids);
  }

  close(): Promise<void> {
    return this.host.closeSession(this.id);
  }
}
