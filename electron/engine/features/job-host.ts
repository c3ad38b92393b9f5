/**
 * What a job is: a descriptor beside the analysis that implements it (`<kind>Job` at the foot of its module),
 * run against a small host — the open model and dataset of the engine that runs it and the few operations jobs
 * share. jobs.ts collects the descriptors into one registry typed by the contract's JobParams, so a kind without
 * one does not compile. Parameters are checked before, in shared/param-checks.ts.
 */
import type { ImageRef, JobKind, JobParams, JobResults } from '../../../shared/contract';
import type { JobContext } from '../base/job-context';
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';

export interface JobHost {
  requireModel(): LoadedModel;
  requireDataset(): Dataset;
  /** The open model's file (a model.json for TF.js folders): what a job reopens or compares against. */
  modelFile(): string;
  modelInput(image: ImageRef): Promise<{ input: Float32Array; trueClass?: number }>;
  /** Another job, through the same cache (the report is made of others). */
  runJob<K extends JobKind>(kind: K, params: JobParams[K], ctx: JobContext): Promise<JobResults[K]>;
  /** Where the atlas of the open model on the open dataset lives. */
  atlasDir(): string;
}

export type JobRunner<K extends JobKind> = (host: JobHost, params: JobParams[K], ctx: JobContext) => Promise<JobResults[K]>;

export interface JobDescriptor<K extends JobKind> {
  run: JobRunner<K>;
  /**
   * Kept in the workspace by (model file, dataset, params): a second ask is answered from disk. `schema` counts
   * the times a result's layout gained fields since the engine version last changed; `key` adds what else the
   * result depends on.
   */
  cache?: { schema?: number; key?: (params: JobParams[K]) => unknown };
}
