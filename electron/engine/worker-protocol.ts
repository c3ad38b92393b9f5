/** Messages between EngineHost and its worker threads. Internal to the engine (the public contract is shared/). */
import type { JobKind, JobParams, TrainingMetrics } from '../../shared/contract';
import type { ErrorInfo } from '../../shared/errors';
import type { BackendName } from './backend';
import type { EngineCore } from './core';

/**
 * The EngineCore methods a worker answers, called by name with their own arguments: one list, the types of the
 * calls and answers derived from EngineCore itself (there was a hand-kept union, a switch and casts, which drifted).
 */
export const WORKER_METHODS = [
  'openModel',
  'openDataset',
  'listImages',
  'getImage',
  'addUpload',
  'removeUploads',
  'predict',
  'activations',
  'project',
  'getFilters',
  'getAtlas',
  'getAtlasLayer',
  'getAtlasSheet',
  'exportModel',
  'numTensors',
  'modelsHeld',
  'close',
] as const satisfies ReadonlyArray<keyof EngineCore>;

export type WorkerMethod = (typeof WORKER_METHODS)[number];
export type WorkerArgs<M extends WorkerMethod> = Parameters<EngineCore[M]>;
export type WorkerAnswer<M extends WorkerMethod> = Awaited<ReturnType<EngineCore[M]>>;

export type HostToWorker =
  | { type: 'init'; id: number; preferred?: BackendName; allowNative: boolean }
  | { type: 'call'; id: number; session: string; method: WorkerMethod; args: unknown[] }
  | { type: 'job'; id: number; session: string; jobId: string; kind: JobKind; params: JobParams[JobKind]; cancelFlag: SharedArrayBuffer };

export type WorkerToHost =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: ErrorInfo }
  | {
      type: 'progress';
      /** The request it is about (a job, a model being opened). */ id: number;
      done: number;
      total: number;
      message: string;
      metrics?: TrainingMetrics;
    };
