/**
 * What stands between one untrusted client (a browser tab of browser / classroom mode) and the shared
 * InspectorService. Every call is validated, then:
 *  - paths are confined to the allowed roots (the bundled resources, the workspace, folders the person running
 *    the server named on its command line): a client never names an arbitrary server path (PATH_NOT_ALLOWED);
 *  - model settings go to the workspace, never into a model's folder;
 *  - jobs: at most `maxUnfinishedJobs` queued or running per client (TOO_MANY_JOBS), only its own can be
 *    cancelled or read (and, in a classroom, the leading instructor's it was shown), and the results of at most
 *    `maxKeptJobs` are kept;
 *  - uploaded images: at most `maxUploadBytes` held per client, oldest forgotten first;
 *  - calls in flight: at most `maxCallsInFlight` (TOO_MANY_JOBS);
 * A classroom student's gate (`rules` given) also keeps them to what the instructor offers: the models and folders
 * the instructor has open, their own images, the interactive views and the dataset jobs the instructor allows —
 * no uploads of models or folders, no settings, no runs deleted (STUDENT_NOT_ALLOWED).
 * When the client leaves (`close`) its uploads, unfinished model upload and kept results are released.
 * `call` never throws: every failure is a rejected promise with a coded error.
 */
import * as path from 'node:path';
import type { CommandName, JobKind, JobParams } from '../../shared/contract';

/** What a classroom lets its students do, decided by the instructor's session. */
export interface StudentRules {
  /** Whether students may open this model (`what` 'model') or image folder: the instructor has it open, or had. */
  offers(what: 'model' | 'dataset', id: string): boolean;
  allowsJob(kind: JobKind): boolean;
}

/** Commands that change the server's files or what others may do: the instructor's only, each with what a student is told. */
const INSTRUCTOR_ONLY_WHAT = {
  uploadModel: 'Sending a model to the server',
  saveModelSettings: 'Changing a model’s settings',
  addDatasetFiles: 'Sending a folder of images to the server',
  discardRun: 'Deleting a training run',
  setStudentJobs: 'Choosing what students may run',
  lead: 'Leading the class',
} as const satisfies Partial<Record<CommandName, string>>;
const INSTRUCTOR_ONLY: ReadonlySet<string> = new Set(Object.keys(INSTRUCTOR_ONLY_WHAT));
import { InspectorError } from '../../shared/errors';
import { BUNDLED_MODEL_ID, BUNDLED_SAMPLES_ID } from './paths';
import type { InspectorService } from './service';
import { isInside, realPathOrUndefined } from './files/safe-files';
import { validateCommand } from './validate';

export interface ClientLimits {
  maxUnfinishedJobs: number;
  maxKeptJobs: number;
  maxUploadBytes: number;
  maxCallsInFlight: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = {
  maxUnfinishedJobs: 4,
  maxKeptJobs: 40,
  maxUploadBytes: 256 * 2 ** 20,
  maxCallsInFlight: 32,
};

/** The folders a browser client may name, compared after following links. */
export class PathPolicy {
  private readonly roots: Array<{ lexical: string; real: string }>;

  constructor(roots: string[]) {
    this.roots = [...new Set(roots.map((r) => path.resolve(r)))].map((lexical) => ({ lexical, real: realPathOrUndefined(lexical) ?? lexical }));
  }

  /** `given` when it lies inside an allowed root (before and after links); PATH_NOT_ALLOWED otherwise, without saying whether it exists. */
  check(given: string, what: string): string {
    if (given === BUNDLED_MODEL_ID || given === BUNDLED_SAMPLES_ID) return given;
    const refuse = () =>
      new InspectorError(
        'PATH_NOT_ALLOWED',
        `${what}: this server opens only the samples, its workspace and the folders its owner named when starting it — not ${given}`,
      );
    if (given.includes('\0') || !path.isAbsolute(given)) throw refuse();
    const lexical = path.resolve(given);
    if (!this.roots.some((r) => isInside(lexical, r.lexical) || isInside(lexical, r.real))) throw refuse();
    const real = realPathOrUndefined(lexical);
    if (real !== undefined && !this.roots.some((r) => isInside(real, r.real))) throw refuse();
    return given;
  }
}

export class ClientGate {
  private readonly uploads: Array<{ id: string; bytes: number }> = [];
  private readonly jobs: string[] = [];
  private inFlight = 0;
  private closed = false;

  constructor(
    private readonly service: InspectorService,
    private readonly paths: PathPolicy,
    /** Names this client's private files (its partial model upload). */
    readonly clientId: string,
    private readonly limits: ClientLimits = DEFAULT_CLIENT_LIMITS,
    /** Given for a classroom student: what they may open and run. */
    private readonly rules?: StudentRules,
  ) {}

  async call(command: unknown, params: unknown): Promise<unknown> {
    if (this.closed) throw new InspectorError('UNAUTHORIZED', 'This connection has closed');
    if (this.inFlight >= this.limits.maxCallsInFlight) {
      throw new InspectorError('TOO_MANY_JOBS', `More than ${this.limits.maxCallsInFlight} requests at once from one window: wait for the answers`);
    }
    this.inFlight++;
    try {
      validateCommand(command, params);
      return await this.route(command, (params ?? {}) as Record<string, unknown>);
    } finally {
      this.inFlight--;
    }
  }

  private async route(command: CommandName, p: Record<string, unknown>): Promise<unknown> {
    if (this.rules) this.checkStudent(this.rules, command, p);
    const s = this.service;
    switch (command) {
      case 'openModel':
      case 'openDataset':
        if (typeof p.path === 'string') this.paths.check(p.path, command === 'openModel' ? 'Open model' : 'Open images');
        break;
      case 'exportModel':
        if (typeof p.path === 'string') this.paths.check(p.path, 'Export');
        break;
      case 'uploadModel':
        return s.uploadModel(p as never, this.clientId);
      case 'saveModelSettings':
        return s.saveModelSettings(p as never, { besideModel: false });
      case 'uploadImage':
        return this.uploadImage(p as { name: string; bytes: Uint8Array });
      case 'startJob':
        return this.startJob(p as { kind: JobKind; params: JobParams[JobKind] });
      case 'cancelJob':
        if (!this.jobs.includes(p.jobId as string)) throw new InspectorError('JOB_NOT_FOUND', `No job ${String(p.jobId)} of this window`);
        break;
      case 'getJobResult':
        // Also the leading instructor's results this window was shown (classroom): read, never cancelled.
        if (!this.jobs.includes(p.jobId as string) && !s.sharesJob(p.jobId as string)) {
          throw new InspectorError('JOB_NOT_FOUND', `No job ${String(p.jobId)} of this window`);
        }
        break;
    }
    const fn = s[command] as (q: unknown) => Promise<unknown>;
    return fn.call(s, p);
  }

  /** A student's request against what the instructor offers; throws STUDENT_NOT_ALLOWED otherwise. */
  private checkStudent(rules: StudentRules, command: CommandName, p: Record<string, unknown>): void {
    const refuse = (what: string) => new InspectorError('STUDENT_NOT_ALLOWED', `${what}: in the classroom, the instructor decides this`);
    if (INSTRUCTOR_ONLY.has(command)) throw refuse(INSTRUCTOR_ONLY_WHAT[command as keyof typeof INSTRUCTOR_ONLY_WHAT]);
    if (command === 'exportModel' && p.path !== undefined) throw refuse('Exporting another model');
    if (command === 'openModel' || command === 'openDataset') {
      const what = command === 'openModel' ? 'model' : 'dataset';
      const id = typeof p.path === 'string' ? p.path : what === 'model' ? BUNDLED_MODEL_ID : BUNDLED_SAMPLES_ID;
      if (!rules.offers(what, id)) throw refuse(`Opening ${what === 'model' ? 'a model' : 'a folder'} the instructor has not opened`);
    }
    if (command === 'startJob' && !rules.allowsJob((p as { kind: JobKind }).kind)) {
      throw refuse(`Running ${String(p.kind)} (the instructor can allow it for the class)`);
    }
  }

  private async uploadImage(p: { name: string; bytes: Uint8Array }): Promise<unknown> {
    const uploaded = await this.service.uploadImage(p);
    this.uploads.push({ id: (uploaded.ref as { id: string }).id, bytes: p.bytes.length });
    // Over the quota, the oldest uploads are forgotten (a class clicking through photos never hits a wall).
    const evicted: string[] = [];
    while (this.uploadBytes > this.limits.maxUploadBytes && this.uploads.length > 1) evicted.push(this.uploads.shift()!.id);
    await this.service.engine.removeUploads(evicted);
    return uploaded;
  }

  private async startJob(p: { kind: JobKind; params: JobParams[JobKind] }): Promise<unknown> {
    if (p.kind === 'compareModels') this.paths.check((p.params as JobParams['compareModels']).other, 'Compare models');
    const unfinished = this.jobs.filter((id) => this.service.jobUnfinished(id)).length;
    if (unfinished >= this.limits.maxUnfinishedJobs) {
      throw new InspectorError('TOO_MANY_JOBS', `${unfinished} jobs of this window are still queued or running: wait for one to finish or cancel it`);
    }
    const started = await this.service.startJob(p);
    this.jobs.push(started.jobId);
    // Results of the oldest finished jobs are let go beyond the kept count.
    while (this.jobs.length > this.limits.maxKeptJobs) {
      const index = this.jobs.findIndex((id) => !this.service.jobUnfinished(id));
      if (index < 0) break;
      this.service.forgetJobs(this.jobs.splice(index, 1));
    }
    return started;
  }

  /** The client left: its uploads, its unfinished model upload and the kept results of its jobs are released. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.service.forgetJobs(this.jobs.splice(0));
    this.service.dropPartialUpload(this.clientId);
    await this.service.engine.removeUploads(this.uploads.splice(0).map((u) => u.id));
  }

  /** Whether this client started the job (its progress and end are sent to it alone). */
  ownsJob(jobId: string): boolean {
    return this.jobs.includes(jobId);
  }

  /** Bytes of uploaded images this client holds. */
  get uploadBytes(): number {
    return this.uploads.reduce((sum, u) => sum + u.bytes, 0);
  }
}
