/** Long jobs: progress, cancellation and results, fed by the engine's events. */
import { defineStore } from 'pinia';
import { computed } from 'vue';
import type {
  EvaluationResult,
  JobFinished,
  JobKind,
  JobParams,
  JobProgress,
  JobResults,
  JobStatus,
  OcclusionMaps,
  TrainingMetrics,
} from '../../shared/contract';
import { trackProgress, type PaceTrack } from '../../shared/time-left';
import { api } from '../api';
import { useAppStore } from './app';

export interface JobView extends PaceTrack {
  jobId: string;
  kind: JobKind;
  status: JobStatus;
  message: string;
  result?: JobResults[JobKind];
  /** Training curves, from progress events that carry metrics. */
  metrics: TrainingMetrics[];
  error?: string;
  /** A training job the person paused: it can be resumed from the list of unfinished runs. */
  paused?: boolean;
  /** Classroom: the leading instructor's job, shown here as it runs (its result is read, never recomputed or cancelled). */
  shared?: boolean;
  /** What its result depends on, when it started (the app store's contextFor). */
  context: string;
  /** The same in words ("ZF-Fashion · my-shapes"), to say where a result that is not shown came from. */
  contextLabel?: string;
}

/** What a job's result will depend on, taken when the job starts (or first shows up), as a key and in words. */
function contextOf(kind: JobKind): Pick<JobView, 'context' | 'contextLabel'> {
  const app = useAppStore();
  return { context: app.contextFor(kind), contextLabel: app.contextLabel };
}

export const useJobsStore = defineStore('jobs', {
  state: () => ({ jobs: [] as JobView[] }),
  getters: {
    /** Jobs of the open model and folder: what the views show (another model's or folder's results stay out). */
    current: (s) => s.jobs.filter((j) => j.context === useAppStore().contextFor(j.kind)),
    evaluation(): EvaluationResult | undefined {
      return this.current.filter((j) => j.kind === 'evaluate' && j.result).pop()?.result as EvaluationResult | undefined;
    },
    occlusion(): OcclusionMaps | undefined {
      return this.current.filter((j) => j.kind === 'occlusion' && j.result).pop()?.result as OcclusionMaps | undefined;
    },
    running: (s) => s.jobs.filter((j) => j.status === 'running' || j.status === 'queued'),
    latest() {
      return (kind: JobKind) => [...this.current].reverse().find((j) => j.kind === kind);
    },
    /**
     * The latest finished job of these kinds made under another model or folder, when the current ones have none:
     * the view says so rather than showing nothing.
     */
    elsewhere() {
      return (kinds: JobKind[]) =>
        this.current.some((j) => kinds.includes(j.kind))
          ? undefined
          : [...this.jobs].reverse().find((j) => kinds.includes(j.kind) && j.status === 'done' && j.context !== useAppStore().contextFor(j.kind));
    },
    latestOf() {
      return (kinds: JobKind[]) => [...this.current].reverse().find((j) => kinds.includes(j.kind));
    },
  },
  actions: {
    /** Starts a job; its parameters are typed by its kind (the contract's JobParams). */
    // `{} extends` asks whether every field is optional (then the parameters may be left out).
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    async start<K extends JobKind>(kind: K, ...args: {} extends JobParams[K] ? [params?: JobParams[K]] : [params: JobParams[K]]) {
      const params = args[0] ?? {};
      const context = contextOf(kind);
      try {
        const { jobId } = await api().startJob({ kind, params } as Parameters<ReturnType<typeof api>['startJob']>[0]);
        if (!this.jobs.some((j) => j.jobId === jobId))
          this.jobs.push({
            jobId,
            kind,
            status: 'queued',
            done: 0,
            total: 0,
            message: 'Waiting to start…',
            metrics: [],
            ...context,
          });
        return jobId;
      } catch (error) {
        useAppStore().showError(error);
        return undefined;
      }
    },
    /**
     * Stops a job. 'keep': a training job stops now but saves its best epoch; 'pause': it saves where it is, to be
     * resumed later (even after the app is closed).
     */
    async cancel(jobId: string, how: 'discard' | 'keep' | 'pause' = 'discard') {
      try {
        await api().cancelJob({ jobId, ...(how === 'keep' ? { keep: true } : how === 'pause' ? { pause: true } : {}) });
      } catch (error) {
        useAppStore().showError(error);
      }
    },
    onProgress(event: JobProgress) {
      let job = this.jobs.find((j) => j.jobId === event.jobId);
      if (!job) {
        job = {
          jobId: event.jobId,
          kind: event.kind,
          status: 'running',
          done: 0,
          total: 0,
          message: '',
          metrics: [],
          ...contextOf(event.kind),
        };
        this.jobs.push(job);
      }
      job.status = 'running';
      if (event.sharedBy) job.shared = true;
      trackProgress(job, event.done, event.total, Date.now());
      job.message = event.message;
      if (event.metrics) job.metrics.push(event.metrics);
    },
    /** Classroom: the results the instructor built while leading, shown here as they are there (those not shown yet). */
    async showShared(results: Array<{ jobId: string; kind: JobKind }>) {
      const unseen = results.filter((r) => !this.jobs.some((j) => j.jobId === r.jobId && j.result));
      // One the instructor's window has since let go is simply not shown.
      const leftOut = (jobId: string) => (this.jobs = this.jobs.filter((j) => j.jobId !== jobId));
      await Promise.all(unseen.map((r) => this.onFinished({ ...r, status: 'done', sharedBy: 'instructor' }).catch(() => leftOut(r.jobId))));
    },
    async onFinished(event: JobFinished) {
      let job = this.jobs.find((j) => j.jobId === event.jobId);
      if (!job) {
        job = {
          jobId: event.jobId,
          kind: event.kind,
          status: event.status,
          done: 0,
          total: 0,
          message: '',
          metrics: [],
          ...contextOf(event.kind),
        };
        this.jobs.push(job);
      }
      job.status = event.status;
      if (event.sharedBy) job.shared = true;
      if (event.status === 'done') {
        job.message = 'Finished';
        job.result = (await api().getJobResult({ jobId: event.jobId })) as JobResults[JobKind];
      } else if (event.status === 'cancelled' && event.error?.code === 'JOB_PAUSED') {
        job.message = 'Paused';
        job.paused = true;
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
