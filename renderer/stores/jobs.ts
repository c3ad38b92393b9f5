/** Long jobs: progress, cancellation and results, fed by the engine's events. */
import { defineStore } from 'pinia';
import { computed } from 'vue';
import type { EvaluationResult, JobFinished, JobKind, JobProgress, JobResults, JobStatus, OcclusionMaps, TrainingMetrics } from '../../shared/contract';
import { api } from '../api';
import { useAppStore } from './app';

export interface JobView {
  jobId: string;
  kind: JobKind;
  status: JobStatus;
  done: number;
  total: number;
  message: string;
  result?: JobResults[JobKind];
  /** Training curves, from progress events that carry metrics. */
  metrics: TrainingMetrics[];
  error?: string;
}

export const useJobsStore = defineStore('jobs', {
  state: () => ({ jobs: [] as JobView[] }),
  getters: {
    evaluation: (s) => (s.jobs.filter((j) => j.kind === 'evaluate' && j.result).pop()?.result as EvaluationResult | undefined),
    occlusion: (s) => (s.jobs.filter((j) => j.kind === 'occlusion' && j.result).pop()?.result as OcclusionMaps | undefined),
    running: (s) => s.jobs.filter((j) => j.status === 'running' || j.status === 'queued'),
    latest: (s) => (kind: JobKind) => [...s.jobs].reverse().find((j) => j.kind === kind),
  },
  actions: {
    async start(kind: JobKind, params: Record<string, unknown> = {}) {
      try {
        const { jobId } = await api().startJob({ kind, params } as Parameters<ReturnType<typeof api>['startJob']>[0]);
        if (!this.jobs.some((j) => j.jobId === jobId)) this.jobs.push({ jobId, kind, status: 'queued', done: 0, total: 0, message: 'Waiting to start…', metrics: [] });
        return jobId;
      } catch (error) {
        useAppStore().showError(error);
        return undefined;
      }
    },
    /** Stops a job; `keep`: a training job stops now but saves its best epoch. */
    async cancel(jobId: string, keep = false) {
      try {
        await api().cancelJob({ jobId, ...(keep ? { keep } : {}) });
      } catch (error) {
        useAppStore().showError(error);
      }
    },
    onProgress(event: JobProgress) {
      let job = this.jobs.find((j) => j.jobId === event.jobId);
      if (!job) {
        job = { jobId: event.jobId, kind: event.kind, status: 'running', done: 0, total: 0, message: '', metrics: [] };
        this.jobs.push(job);
      }
      job.status = 'running';
      job.done = event.done;
      job.total = event.total;
      job.message = event.message;
      if (event.metrics) job.metrics.push(event.metrics);
    },
    async onFinished(event: JobFinished) {
      let job = this.jobs.find((j) => j.jobId === event.jobId);
      if (!job) {
        job = { jobId: event.jobId, kind: event.kind, status: event.status, done: 0, total: 0, message: '', metrics: [] };
        this.jobs.push(job);
      }
      job.status = event.status;
      if (event.status === 'done') {
        job.message = 'Finished';
        job.result = (await api().getJobResult({ jobId: event.jobId })) as JobResults[JobKind];
      } else if (event.status === 'cancelled') {
        job.message = 'Cancelled';
      } else {
        job.message = 'Failed';
        job.error = event.error?.message;
      }
    },
  },
});

/** The latest job of a kind, whether it is under way, and its result once done — what a job panel shows. */
export function useLatestJob<K extends JobKind>(kind: K) {
  const jobs = useJobsStore();
  const job = computed(() => jobs.latest(kind));
  const running = computed(() => Boolean(job.value && (job.value.status === 'running' || job.value.status === 'queued')));
  const result = computed(() => (job.value?.status === 'done' ? (job.value.result as JobResults[K] | undefined) : undefined));
  return { jobs, job, running, result };
}
