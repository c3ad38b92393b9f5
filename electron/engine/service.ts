/**
 * InspectorService: the contract (shared/contract.ts) implemented over an EngineHost. Every transport —
 * Electron IPC, WebSocket, in-process — wraps one of these. Holds app-level state (current model and dataset
 * summaries, the job table) and emits events.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { onnxRuntimeInstalled } from './runtime/onnx-runtime';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ENGINE_VERSION, resolveModelPath } from './paths';
import { LOADERS, writeModelSettings } from './model/registry';
import { resolveModelJsonPath } from './model/tfjs-io';
import { workspaceRoot } from './files/workspace';
import { syncFolder } from './files/atomic';
import type {
  ModelLoading,
  ExportFormat,
  ExportedModel,
  ModelSettings,
  ActivationMaps,
  AtlasLayer,
  AtlasSummary,
  FilterBank,
  AppState,
  DatasetSummary,
  Disposer,
  EventName,
  EventPayloads,
  ImagePage,
  ImageRef,
  Inspector,
  JobFinished,
  JobKind,
  JobParams,
  JobProgress,
  JobResults,
  JobStatus,
  ModelSummary,
  PredictResult,
  ProjectionMethod,
  ProjectionResult,
  TrainingRunInfo,
  ZooListing,
  UploadedImage,
  SessionInfo,
  LeadChanged,
  LeadView,
} from '../../shared/contract';
import { listUnfinishedRuns, readRun, runDir, runInfo } from './train/run-store';
import { listZoo } from './zoo/download';
import { InspectorError, toErrorInfo, type ErrorInfo } from '../../shared/errors';
import { validateJobParams } from './validate';
import { EngineHost, LOCAL_SESSION, type EngineHostOptions, type EngineSession } from './host';

export interface ServiceOptions extends EngineHostOptions {
  transport?: string;
  /** The session this service speaks for on a shared host (a classroom's tab); the desktop window has one. */
  session?: string;
  /** Its jobs' place in the host's queue: 0 (the instructor, the desktop) before 1 (a classroom student). */
  jobPriority?: number;
  /** The session's place in a classroom, part of every state this service reports. */
  describeSession?: () => SessionInfo;
  /** What the classroom lets this session do there: an instructor's decide for the students and lead, a student's follow. */
  classroom?: ClassroomControls;
}

export interface ClassroomControls {
  setStudentJobs?(kinds: JobKind[]): void;
  lead?(view: LeadView | undefined): void;
  follow?(following: boolean): void;
}

interface JobRecord {
  kind: JobKind;
  /** Settles when the job ends, however it ends. */
  ended: Promise<unknown>;
  status: JobStatus;
  /** Its client left: drop the record when the job ends. */
  forget?: boolean;
  result?: unknown;
  error?: ErrorInfo;
}

const VERSION = ENGINE_VERSION;

/** Largest model file a client may send (VGG-19 as ONNX is ~550 MB). */
export const MAX_MODEL_UPLOAD_BYTES = 1000 * 2 ** 20;

function checkModelUploadName(given: string): string {
  const name = path.basename(given.replace(/\\/g, '/'));
  const ext = path.extname(name).toLowerCase().slice(1);
  const singleFile = LOADERS.filter((l) => l.format !== 'tfjs-layers').flatMap((l) => l.extensions);
  if (!singleFile.includes(ext) || name.startsWith('.') || name.length > 200) {
    throw new InspectorError(
      'MODEL_UNSUPPORTED_FORMAT',
      ext === 'json'
        ? 'A TF.js model is a model.json plus weight files: open its folder by path instead of dropping the model.json'
        : `${name} is not a model file CNN Inspector opens (${singleFile.map((e) => `.${e}`).join(', ')}, or a TF.js model folder)`,
    );
  }
  return name;
}

/** Where the parts of one client's model upload gather (one at a time per client). */
const partialUploadPath = (owner: string): string =>
  path.join(workspaceRoot(), 'uploaded-models', 'partial', `${createHash('sha256').update(owner).digest('hex').slice(0, 16)}.part`);

/** The instructor's jobs a student's session remembers having been shown (the latest ones). */
const MAX_SHARED_JOBS = 64;

const waitingMessage = (ahead: number): string => (ahead === 0 ? 'Starting' : `Waiting for ${ahead} job${ahead === 1 ? '' : 's'} ahead of this one`);

export class InspectorService implements Inspector {
  readonly host: EngineHost;
  readonly engine: EngineSession;
  private readonly ownsHost: boolean;
  private readonly jobPriority: number;
  private model?: ModelSummary;
  private dataset?: DatasetSummary;
  private readonly jobs = new Map<string, JobRecord>();
  /** Classroom: the leading instructor's jobs this (following) session was shown, by id, with whose they are. */
  private readonly shared = new Map<string, InspectorService>();
  private readonly listeners: { [E in EventName]: Set<(e: EventPayloads[E]) => void> } = {
    jobProgress: new Set(),
    jobFinished: new Set(),
    stateChanged: new Set(),
    modelLoading: new Set(),
    leadChanged: new Set(),
  };

  /** With `host`, one session of a host others share (classroom mode); without, the host is its own. */
  constructor(options: ServiceOptions = {}, host?: EngineHost) {
    this.ownsHost = host === undefined;
    this.host = host ?? new EngineHost(options);
    this.engine = this.host.session(options.session ?? LOCAL_SESSION);
    this.jobPriority = options.jobPriority ?? 0;
    this.describeSession = options.describeSession;
    this.classroom = options.classroom;
    this.transport = options.transport ?? 'in-process';
  }

  private readonly transport: string;
  private readonly describeSession?: () => SessionInfo;
  private readonly classroom?: ClassroomControls;

  private emit<E extends EventName>(name: E, payload: EventPayloads[E]): void {
    for (const listener of this.listeners[name]) (listener as (e: EventPayloads[E]) => void)(payload);
  }

  private on<E extends EventName>(name: E, handler: (e: EventPayloads[E]) => void): Disposer {
    const set = this.listeners[name] as Set<(e: EventPayloads[E]) => void>;
    set.add(handler);
    return () => set.delete(handler);
  }

  onJobProgress(handler: (event: JobProgress) => void): Disposer {
    return this.on('jobProgress', handler);
  }

  onJobFinished(handler: (event: JobFinished) => void): Disposer {
    return this.on('jobFinished', handler);
  }

  onStateChanged(handler: (event: AppState) => void): Disposer {
    return this.on('stateChanged', handler);
  }

  onModelLoading(handler: (event: ModelLoading) => void): Disposer {
    return this.on('modelLoading', handler);
  }

  onLeadChanged(handler: (event: LeadChanged) => void): Disposer {
    return this.on('leadChanged', handler);
  }

  /** The instructor's lead, passed on to this (following) session's windows. */
  announceLead(lead: LeadChanged): void {
    this.emit('leadChanged', lead);
  }

  /**
   * Classroom: the leading instructor's job shown in this session's windows as it runs and ends. Its result is read
   * from the instructor's session (computed once for the class); it cannot be cancelled from here.
   */
  showSharedJob(event: JobProgress | JobFinished, owner: InspectorService): void {
    this.shareJobs([event.jobId], owner);
    if ('status' in event) this.emit('jobFinished', { ...event, sharedBy: 'instructor' });
    else this.emit('jobProgress', { ...event, sharedBy: 'instructor' });
  }

  /** Classroom: these jobs of the instructor may be read from this session (the results a lead names). */
  shareJobs(jobIds: string[], owner: InspectorService): void {
    for (const id of jobIds) {
      this.shared.delete(id);
      this.shared.set(id, owner);
    }
    // The oldest are let go: a long lesson does not grow this map.
    for (const id of this.shared.keys()) {
      if (this.shared.size <= MAX_SHARED_JOBS) break;
      this.shared.delete(id);
    }
  }

  /** Whether this session was shown the instructor's job `jobId` (so its window may read the result). */
  sharesJob(jobId: string): boolean {
    return this.shared.has(jobId);
  }

  /** Tells this session's windows the state again (its classroom changed: who is here, what students may run). */
  refreshState(): Promise<void> {
    return this.announceState();
  }

  private async announceState(): Promise<void> {
    if (this.listeners.stateChanged.size > 0) this.emit('stateChanged', await this.getState());
  }

  async getState(): Promise<AppState> {
    const backend = await this.host.backend();
    return {
      version: VERSION,
      backend: {
        name: backend.name,
        detail: backend.detail,
        skipped: backend.skipped,
        workers: this.host.size,
        batch: onnxRuntimeInstalled() ? 'ONNX Runtime' : `tfjs on ${os.availableParallelism?.() ?? os.cpus().length} threads`,
      },
      ...(this.model ? { model: this.model } : {}),
      ...(this.dataset ? { dataset: this.dataset } : {}),
      transport: this.transport,
      ...(this.describeSession ? { session: this.describeSession() } : {}),
    };
  }

  async openModel(params: { path?: string }): Promise<ModelSummary> {
    const file = params?.path ?? 'bundled:default';
    const report = (done: number, total: number, message: string) => this.emit('modelLoading', { path: file, done, total, message });
    report(0, 1, 'Opening the model');
    try {
      this.model = await this.engine.broadcastWithProgress('openModel', 'model', report, params?.path);
    } finally {
      report(1, 1, 'Done');
    }
    await this.announceState();
    return this.model;
  }

  /**
   * A model file sent by a client: whole, or in parts (`offset`, `total`) so no single message is bigger than the
   * socket's frame limit. Parts are appended to a file private to `owner`; the last one opens the model (earlier
   * ones answer null). Kept by content, so dropping the same file again reuses it (and its saved settings).
   */
  async uploadModel(params: { name: string; bytes: Uint8Array; offset?: number; total?: number }, owner = 'local'): Promise<ModelSummary | null> {
    const name = checkModelUploadName(params.name);
    const total = params.total ?? params.bytes.length;
    const offset = params.offset ?? 0;
    if (total > MAX_MODEL_UPLOAD_BYTES) {
      throw new InspectorError(
        'UPLOAD_LIMIT',
        `${name} is ${(total / 2 ** 20).toFixed(0)} MB; model files over ${MAX_MODEL_UPLOAD_BYTES / 2 ** 20} MB cannot be sent to the app — open it by path where the app runs`,
      );
    }
    const partial = partialUploadPath(owner);
    if (offset === 0) fs.rmSync(partial, { force: true });
    const have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
    if (offset !== have || offset + params.bytes.length > total) {
      throw new InspectorError('BAD_ARGUMENT', `uploadModel: part at ${offset} does not follow the ${have} bytes received of ${total}`);
    }
    fs.mkdirSync(path.dirname(partial), { recursive: true });
    fs.appendFileSync(partial, params.bytes);
    if (offset + params.bytes.length < total) return null;
    const digest = createHash('sha256').update(fs.readFileSync(partial)).digest('hex').slice(0, 16);
    const file = path.join(workspaceRoot(), 'uploaded-models', digest, name);
    if (fs.existsSync(file)) fs.rmSync(partial, { force: true });
    else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.renameSync(partial, file);
      syncFolder(path.dirname(file));
    }
    return this.openModel({ path: file });
  }

  /** Removes a model upload that `owner` left unfinished. */
  dropPartialUpload(owner: string): void {
    fs.rmSync(partialUploadPath(owner), { force: true });
  }

  /** `besideModel: false` (browser clients) keeps the settings in the workspace, never in the model's folder. */
  async saveModelSettings(params: ModelSettings, options: { besideModel?: boolean } = {}): Promise<ModelSummary> {
    if (!this.model) throw new InspectorError('MODEL_NOT_LOADED', 'No model is open');
    writeModelSettings(resolveModelJsonPath(resolveModelPath(this.model.id)), params, options.besideModel ?? true);
    return this.openModel({ path: this.model.id });
  }

  exportModel(params: { format: ExportFormat; path?: string }): Promise<ExportedModel> {
    return this.engine.call('exportModel', params);
  }

  async addDatasetFiles(params: {
    folder: string;
    start?: boolean;
    files: Array<{ path: string; bytes: Uint8Array }>;
  }): Promise<{ path: string; files: number }> {
    // One folder per name (its files replaced when a new copy starts), under the workspace only.
    const name =
      params.folder
        .replace(/[^A-Za-z0-9 ._-]/g, '_')
        .replace(/^\.+/, '')
        .slice(0, 80) || 'images';
    const root = path.join(workspaceRoot(), 'uploaded-datasets', name);
    if (params.start) fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(root, { recursive: true });
    for (const file of params.files) {
      // "class/file.png" or "file.png": nothing above the folder, nothing hidden, at most one level of classes.
      const parts = file.path.split(/[\\/]+/).filter(Boolean);
      if (parts.length === 0 || parts.length > 2 || parts.some((p) => p === '..' || p === '.' || p.startsWith('.'))) {
        throw new InspectorError('BAD_ARGUMENT', `addDatasetFiles: "${file.path}" is not a class/file path inside the folder`);
      }
      const target = path.join(root, ...parts);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, file.bytes);
    }
    let count = 0;
    for (const entry of fs.readdirSync(root, { withFileTypes: true })) count += entry.isDirectory() ? fs.readdirSync(path.join(root, entry.name)).length : 1;
    return { path: root, files: count };
  }

  async openDataset(params: { path?: string }): Promise<DatasetSummary> {
    this.dataset = await this.engine.broadcast('openDataset', 'dataset', params?.path);
    await this.announceState();
    return this.dataset;
  }

  listImages(params: { offset: number; limit: number; classIndex?: number }): Promise<ImagePage> {
    return this.engine.call('listImages', params);
  }

  getImage(params: { image: ImageRef; size?: number }): Promise<Uint8Array> {
    return this.engine.call('getImage', params);
  }

  uploadImage(params: { name: string; bytes: Uint8Array }): Promise<UploadedImage> {
    const id = randomUUID();
    return this.engine.broadcast('addUpload', `upload:${id}`, id, params.name, params.bytes);
  }

  predict(params: { image: ImageRef; top?: number }): Promise<PredictResult> {
    return this.engine.call('predict', params);
  }

  activations(params: { image: ImageRef; layer: string }): Promise<ActivationMaps> {
    return this.engine.call('activations', params);
  }

  project(params: { image: ImageRef; layer: string; unit: number; method: ProjectionMethod; position?: number[] }): Promise<ProjectionResult> {
    return this.engine.call('project', params);
  }

  getFilters(params: { layer?: string }): Promise<FilterBank> {
    return this.engine.call('getFilters', params ?? {});
  }

  getAtlas(): Promise<AtlasSummary | null> {
    return this.engine.call('getAtlas');
  }

  getAtlasLayer(params: { layer: string }): Promise<AtlasLayer> {
    return this.engine.call('getAtlasLayer', params);
  }

  getAtlasSheet(params: { layer: string; unit: number }): Promise<Uint8Array> {
    return this.engine.call('getAtlasSheet', params);
  }

  async startJob<K extends JobKind>(params: { kind: K; params: JobParams[K] }): Promise<{ jobId: string }> {
    validateJobParams(params.kind, params.params);
    const jobId = randomUUID();
    const kind = params.kind;
    const record: JobRecord = { kind, status: 'queued', ended: Promise.resolve() };
    this.jobs.set(jobId, record);
    const run = this.host.runJob({
      session: this.engine.id,
      priority: this.jobPriority,
      jobId,
      kind,
      params: params.params,
      onProgress: (done, total, message, metrics) => {
        record.status = 'running';
        this.emit('jobProgress', { jobId, kind, done, total, message, ...(metrics ? { metrics } : {}) });
      },
      onWaiting: (ahead) => this.emit('jobProgress', { jobId, kind, done: 0, total: 1, message: waitingMessage(ahead), waiting: ahead }),
    });
    record.ended = run.then(
      (result) => {
        record.status = 'done';
        record.result = record.forget ? undefined : result;
        this.emit('jobFinished', { jobId, kind, status: 'done' });
        if (record.forget) this.jobs.delete(jobId);
      },
      (error: unknown) => {
        const info = toErrorInfo(error);
        // A paused run ends like a cancelled job; its JOB_PAUSED error says it can be resumed.
        record.status = info.code === 'JOB_CANCELLED' || info.code === 'JOB_PAUSED' ? 'cancelled' : 'failed';
        record.error = info;
        this.emit('jobFinished', { jobId, kind, status: record.status, error: info });
        if (record.forget) this.jobs.delete(jobId);
      },
    );
    return { jobId };
  }

  async cancelJob(params: { jobId: string; keep?: boolean; pause?: boolean }): Promise<void> {
    if (!this.jobs.has(params.jobId)) throw new InspectorError('JOB_NOT_FOUND', `No job ${params.jobId}`);
    this.host.cancelJob(params.jobId, params.pause === true ? 'pause' : params.keep === true ? 'keep' : 'discard');
  }

  async listRuns(): Promise<TrainingRunInfo[]> {
    return listUnfinishedRuns();
  }

  async listZoo(): Promise<ZooListing> {
    return listZoo();
  }

  async discardRun(params: { run: string }): Promise<void> {
    const dir = runDir(params.run);
    const info = runInfo(params.run, readRun(dir));
    if (info.status === 'running') throw new InspectorError('BAD_ARGUMENT', 'The run is training now: pause or cancel it first');
    fs.rmSync(dir, { recursive: true, force: true });
  }

  async setStudentJobs(params: { kinds: JobKind[] }): Promise<SessionInfo> {
    this.classroomPart('setStudentJobs', 'the instructor chooses what students run').setStudentJobs(params.kinds);
    return this.describeSession!();
  }

  async lead(params: { view?: LeadView }): Promise<void> {
    this.classroomPart('lead', 'the instructor leads').lead(params.view);
  }

  async follow(params: { following: boolean }): Promise<SessionInfo> {
    this.classroomPart('follow', 'students follow the instructor').follow(params.following);
    return this.describeSession!();
  }

  /** The classroom's part `name`, or BAD_ARGUMENT where there is none (the desktop, the wrong role). */
  private classroomPart<N extends keyof ClassroomControls>(name: N, what: string): Required<Pick<ClassroomControls, N>> {
    const part = this.classroom?.[name];
    if (!part || !this.describeSession) throw new InspectorError('BAD_ARGUMENT', `Only in a classroom (browser mode): ${what}`);
    return { [name]: part } as Required<Pick<ClassroomControls, N>>;
  }

  /** Whether a job is still queued or running (undefined: no such job). */
  jobUnfinished(jobId: string): boolean | undefined {
    const record = this.jobs.get(jobId);
    return record && (record.status === 'queued' || record.status === 'running');
  }

  /** Drops the kept results of finished jobs (their client left); unfinished ones are dropped when they end. */
  forgetJobs(jobIds: string[]): void {
    for (const id of jobIds) {
      const record = this.jobs.get(id);
      if (!record) continue;
      if (record.status === 'queued' || record.status === 'running') record.forget = true;
      else this.jobs.delete(id);
    }
  }

  async getJobResult<K extends JobKind>(params: { jobId: string }): Promise<JobResults[K]> {
    const record = this.jobs.get(params.jobId);
    const owner = record ? undefined : this.shared.get(params.jobId);
    if (owner) return owner.getJobResult(params);
    if (!record) throw new InspectorError('JOB_NOT_FOUND', `No job ${params.jobId}`);
    if (record.status === 'done') return record.result as JobResults[K];
    if (record.status === 'cancelled') throw new InspectorError('JOB_CANCELLED', 'The job was cancelled');
    if (record.status === 'failed') throw new InspectorError('JOB_FAILED', record.error?.message ?? 'The job failed', record.error?.code);
    throw new InspectorError('BAD_ARGUMENT', `The job is still ${record.status}`);
  }

  /**
   * Ends this service: its own host is stopped; on a shared host, its session's jobs are cancelled and, once they
   * have stopped, its state leaves every worker (a shared model stays while another session holds it).
   */
  async dispose(): Promise<void> {
    if (this.ownsHost) return this.host.dispose();
    const unfinished = [...this.jobs].filter(([, r]) => r.status === 'queued' || r.status === 'running');
    for (const [jobId] of unfinished) this.host.cancelJob(jobId, 'discard');
    await Promise.all(unfinished.map(([, r]) => r.ended));
    this.jobs.clear();
    this.shared.clear();
    for (const set of Object.values(this.listeners)) set.clear();
    await this.engine.close();
  }
}
