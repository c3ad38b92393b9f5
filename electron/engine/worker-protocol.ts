/** Messages between EngineHost and its worker threads. Internal to the engine (the public contract is shared/). */
import type { JobKind, JobParams, TrainingMetrics } from '../../shared/contract';
import type { ErrorInfo } from '../../shared/errors';
import type { BackendName } from './backend';

export type WorkerMethod =
  | 'openModel'
  | 'openDataset'
  | 'listImages'
  | 'getImage'
  | 'addUpload'
  | 'removeUploads'
  | 'predict'
  | 'activations'
  | 'project'
  | 'getFilters'
  | 'getAtlas'
  | 'getAtlasLayer'
  | 'getAtlasSheet'
  | 'exportModel'
  | 'numTensors';

export type HostToWorker =
  | { type: 'init'; id: number; preferred?: BackendName; allowNative: boolean }
  | { type: 'call'; id: number; method: WorkerMethod; args: unknown[] }
  | { type: 'job'; id: number; jobId: string; kind: JobKind; params: JobParams[JobKind]; cancelFlag: SharedArrayBuffer };

export type WorkerToHost =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: ErrorInfo }
  | { type: 'progress'; jobId: string; done: number; total: number; message: string; metrics?: TrainingMetrics };
