/**
 * The sessions of browser / classroom mode: one per window (a browser tab, each student), over one engine host.
 * A session has its own open model and dataset, images, jobs and events (an InspectorService of its own); the
 * models themselves are shared in the workers. Its role comes from the link it came by: the instructor's (printed
 * where the server was started) or the student link. A window that reloads comes back to its session within the
 * grace period; after it, the session's jobs are cancelled and its uploads and hold on the model let go.
 */
import { randomUUID } from 'node:crypto';
import type { ClassroomRole, JobFinished, JobKind, JobProgress, LeadView, SessionInfo } from '../../shared/contract';
import { ClientGate, type ClientLimits, type PathPolicy, type StudentRules } from '../engine/client-gate';
import type { EngineHost } from '../engine/host';
import { BUNDLED_MODEL_ID, BUNDLED_SAMPLES_ID } from '../engine/paths';
import { InspectorService } from '../engine/service';

/** Jobs students may start until the instructor says otherwise: those about one image, light and their own. */
export const DEFAULT_STUDENT_JOBS: JobKind[] = ['occlusion', 'invariance'];

export interface ClassroomOptions {
  host: EngineHost;
  policy: PathPolicy;
  limits: ClientLimits;
  /** What the server was started on: every session opens it first (students: the instructor's current choice). */
  startModel?: string;
  startData?: string;
  /** How long a session outlives its last window (a reload reconnects well within it). */
  graceMs: number;
  /** Sessions at most at once: more windows are refused rather than let the server run out of memory. */
  maxSessions: number;
  studentUrl: string;
}

export interface Session {
  id: string;
  role: ClassroomRole;
  service: InspectorService;
  gate: ClientGate;
  /** Settles once the session has its model and dataset open (its first requests wait for it). */
  ready: Promise<void>;
  windows: number;
  leaving?: NodeJS.Timeout;
  /** A student's window shows the instructor's lead (true until they step away). */
  following: boolean;
}

export class Classroom {
  private readonly sessions = new Map<string, Session>();
  private studentJobs = new Set<JobKind>(DEFAULT_STUDENT_JOBS);
  /** What the leading instructor shows; none while nobody leads. */
  private leadView?: LeadView;
  /** The instructor's session that leads: its jobs are shown to the students who follow. */
  private leader?: Session;
  /** The latest finished job of each kind the leader ran while leading: followers read these, nobody recomputes them. */
  private readonly leadResults = new Map<JobKind, string>();
  /** Models and folders the instructor has had open: what students may open too. */
  private readonly offered = { model: new Set<string>([BUNDLED_MODEL_ID]), dataset: new Set<string>([BUNDLED_SAMPLES_ID]) };
  /** The instructor's session that changed its model or folder last: where a new student starts. */
  private leadingInstructor?: Session;
  private readonly rules: StudentRules = {
    offers: (what, id) => this.offered[what].has(id),
    allowsJob: (kind) => this.studentJobs.has(kind),
  };

  constructor(private readonly options: ClassroomOptions) {
    if (options.startModel) this.offered.model.add(options.startModel);
    if (options.startData) this.offered.dataset.add(options.startData);
  }

  /** A window arrives: back to its session when it names one of its role that no other window holds, else a new one. */
  join(role: ClassroomRole, wanted?: string): Session | undefined {
    const back = wanted ? this.sessions.get(wanted) : undefined;
    if (back && back.role === role && back.windows === 0) {
      clearTimeout(back.leaving);
      back.leaving = undefined;
      back.windows++;
      return back;
    }
    if (this.sessions.size >= this.options.maxSessions) return undefined;
    const session = this.create(role);
    session.windows++;
    this.tellEveryone();
    return session;
  }

  /** A window left: its session waits for a reload for the grace period, then ends. */
  leave(session: Session): void {
    if (--session.windows > 0) return;
    session.leaving = setTimeout(() => void this.end(session), this.options.graceMs);
  }

  /** Opens the server's model and images in a session of its own and ends it: a bad --model fails the start. */
  async openOnce(): Promise<void> {
    const session = this.create('instructor');
    try {
      await this.openFirst(session);
    } finally {
      await this.end(session);
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Every session's gate (tests look at what each holds). */
  gates(): ClientGate[] {
    return [...this.sessions.values()].map((s) => s.gate);
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.end(s)));
  }

  private create(role: ClassroomRole): Session {
    const id = randomUUID();
    const { host, policy, limits } = this.options;
    const service: InspectorService = new InspectorService(
      {
        transport: 'browser',
        session: id,
        jobPriority: role === 'instructor' ? 0 : 1,
        describeSession: () => this.describe(session),
        classroom:
          role === 'instructor'
            ? { setStudentJobs: (kinds: JobKind[]) => this.setStudentJobs(kinds), lead: (view?: LeadView) => this.lead(session, view) }
            : { follow: (following: boolean) => this.follow(session, following) },
      },
      host,
    );
    const gate = new ClientGate(service, policy, id, limits, role === 'student' ? this.rules : undefined);
    const session: Session = { id, role, service, gate, windows: 0, ready: Promise.resolve(), following: true };
    if (role === 'instructor') this.watchInstructor(session);
    else this.shareLeadResults(service);
    // A start that fails (the instructor's model deleted meanwhile) leaves the session without one: it can open another.
    session.ready = this.openFirst(session).catch(() => undefined);
    this.sessions.set(id, session);
    return session;
  }

  /** A new session starts where the class is: the instructor's current model and images, or the server's. */
  private async openFirst(session: Session): Promise<void> {
    const lead = this.leadingInstructor;
    const state = lead && lead !== session ? await lead.service.getState() : undefined;
    await session.service.openModel({ path: state?.model?.id ?? this.options.startModel });
    await session.service.openDataset({ path: state?.dataset?.id ?? this.options.startData });
  }

  /** What an instructor opens becomes open to students, and where new students start. */
  private watchInstructor(session: Session): void {
    session.service.onStateChanged((state) => {
      if (state.model) this.offered.model.add(state.model.id);
      if (state.dataset) this.offered.dataset.add(state.dataset.id);
      this.leadingInstructor = session;
    });
    session.service.onJobProgress((event) => this.showLeadersJob(session, event));
    session.service.onJobFinished((event) => {
      if (this.leader === session && event.status === 'done' && event.kind !== 'zooDownload') this.leadResults.set(event.kind, event.jobId);
      this.showLeadersJob(session, event);
    });
  }

  /** The leader's job, as it runs and ends, in every following student's window (a download is the instructor's own business). */
  private showLeadersJob(session: Session, event: JobProgress | JobFinished): void {
    if (this.leader !== session || event.kind === 'zooDownload') return;
    for (const s of this.followers()) s.service.showSharedJob(event, session.service);
  }

  private followers(): Session[] {
    return [...this.sessions.values()].filter((s) => s.role === 'student' && s.following);
  }

  /** The lead as followers get it: the instructor's view and the results they have built while leading. */
  private currentLead(): LeadView | undefined {
    if (!this.leadView) return undefined;
    const results = [...this.leadResults].map(([kind, jobId]) => ({ jobId, kind }));
    return results.length > 0 ? { ...this.leadView, results } : this.leadView;
  }

  /** Brings a following student to the lead: they may read its results, and their window is told where to go. */
  private announceLead(student: Session): void {
    this.shareLeadResults(student.service);
    const view = this.currentLead();
    student.service.announceLead(view ? { view } : {});
  }

  /** A student's session may read the results the lead names (from the leader's session). */
  private shareLeadResults(service: InspectorService): void {
    if (this.leader) service.shareJobs([...this.leadResults.values()], this.leader.service);
  }

  /** An instructor leads with a view (each change sent again), or stops (no view): following students hear it. */
  private lead(session: Session | undefined, view: LeadView | undefined): void {
    const started = (this.leadView === undefined) !== (view === undefined);
    // Results built under another lead (or none) are not this lead's.
    if (!view || this.leader !== session) this.leadResults.clear();
    this.leader = view ? session : undefined;
    this.leadView = view;
    for (const s of this.followers()) this.announceLead(s);
    if (started) this.tellEveryone();
  }

  /** A student steps away from the lead or follows again (then they are shown where the lead is now). */
  private follow(session: Session, following: boolean): void {
    session.following = following;
    if (following && this.leadView) this.announceLead(session);
    this.tellEveryone();
  }

  private setStudentJobs(kinds: JobKind[]): void {
    this.studentJobs = new Set(kinds);
    this.tellEveryone();
  }

  private describe(session: Session): SessionInfo {
    const count = { instructor: 0, student: 0 };
    let followers = 0;
    for (const s of this.sessions.values()) {
      count[s.role]++;
      if (s.role === 'student' && s.following && this.leadView) followers++;
    }
    const student = session.role === 'student';
    return {
      id: session.id,
      role: session.role,
      ...(student ? { following: session.following } : { studentUrl: this.options.studentUrl }),
      ...(student && session.following && this.leadView ? { lead: this.currentLead() } : {}),
      studentJobs: [...this.studentJobs],
      sessions: count,
      leading: this.leadView !== undefined,
      followers,
    };
  }

  /** Who is here or what students may run changed: every window hears it. */
  private tellEveryone(): void {
    for (const s of this.sessions.values()) void s.ready.then(() => s.service.refreshState()).catch(() => undefined);
  }

  private async end(session: Session): Promise<void> {
    if (this.sessions.get(session.id) !== session) return;
    clearTimeout(session.leaving);
    this.sessions.delete(session.id);
    if (this.leadingInstructor === session) this.leadingInstructor = undefined;
    // The leading instructor's window closed for good: nobody leads, and its results go with it (a reload within
    // the grace period keeps the lead).
    if (session === this.leader) this.lead(undefined, undefined);
    await session.ready.catch(() => undefined);
    await session.gate.close().catch(() => undefined);
    await session.service.dispose().catch(() => undefined);
    this.tellEveryone();
  }
}
