/**
 * Classroom mode over real sockets: an instructor and students, each window a session of its own. What one opens,
 * uploads or runs stays theirs (state, events, jobs); students keep to what the instructor offers; the same model
 * file is held once however many sessions open it; a reload comes back to its session, and a session that does not
 * come back gives its memory back; the instructor's jobs go before the students'.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppState, JobFinished, JobProgress, LeadChanged } from '../../shared/contract';
import { startServer, type RunningServer } from '../../electron/server/server';
import { connectSocket, type SocketClient } from '../helpers/socket-client';

const ROOT = path.resolve(__dirname, '..', '..');
const GRACE_MS = 400;

let server: RunningServer;
let allowed: string;
let tinyModel: string;
/** A second copy no test opens before the student-limits test. */
let otherModel: string;
/** Job ends in the order they reached any window (jobs run one after another on the one job worker). */
const ends: string[] = [];

interface Window extends SocketClient {
  states: AppState[];
  progress: JobProgress[];
  finished: JobFinished[];
  leads: LeadChanged[];
}

/** A browser window of the class: the instructor's token or the students', optionally back to a session. */
async function open(role: 'instructor' | 'student', session?: string): Promise<Window> {
  const token = role === 'instructor' ? server.token : server.studentToken;
  const client = await connectSocket(`ws://127.0.0.1:${server.port}/ws?token=${token}${session ? `&session=${session}` : ''}`);
  const window: Window = { ...client, states: [], progress: [], finished: [], leads: [] };
  client.api.onStateChanged((s) => window.states.push(s));
  client.api.onJobProgress((p) => window.progress.push(p));
  client.api.onJobFinished((f) => {
    window.finished.push(f);
    ends.push(f.jobId);
  });
  client.api.onLeadChanged((l) => window.leads.push(l));
  return window;
}

async function leave(window: Window): Promise<void> {
  window.socket.close();
  await window.closed;
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  );

beforeAll(async () => {
  process.env.CNN_INSPECTOR_WORKSPACE = fs.mkdtempSync(path.join(os.tmpdir(), 'classroom-ws-'));
  allowed = fs.mkdtempSync(path.join(os.tmpdir(), 'classroom-allowed-'));
  fs.cpSync(path.join(ROOT, 'tests', 'fixtures', 'models', 'tiny-functional'), path.join(allowed, 'tiny'), { recursive: true });
  tinyModel = path.join(allowed, 'tiny', 'model.json');
  fs.cpSync(path.join(allowed, 'tiny'), path.join(allowed, 'other'), { recursive: true });
  otherModel = path.join(allowed, 'other', 'model.json');
  server = await startServer({ port: 0, quiet: true, workers: 2, allow: [allowed], graceMs: GRACE_MS });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('classroom: a session per window', () => {
  it('what one window opens changes neither the state nor the events of another', async () => {
    const teacher = await open('instructor');
    const student = await open('student');
    const before = await student.api.getState();
    expect(before.model?.id).toBe('bundled:default');
    await teacher.api.openModel({ path: tinyModel });
    expect((await teacher.api.getState()).model?.id).toBe(tinyModel);
    expect((await student.api.getState()).model?.id).toBe('bundled:default');
    expect(student.states.some((s) => s.model?.id === tinyModel)).toBe(false);
    // The teacher's job: its progress and end reach the teacher's window only.
    await teacher.api.openModel({});
    const { jobId } = await teacher.api.startJob({ kind: 'evaluate', params: {} });
    await expect.poll(() => teacher.finished.some((f) => f.jobId === jobId), { timeout: 60_000 }).toBe(true);
    expect(student.progress.concat(student.finished as never[]).some((e) => (e as JobProgress).jobId === jobId)).toBe(false);
    await expect(student.api.getJobResult({ jobId })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(student.api.cancelJob({ jobId })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    // An image a student uploads is theirs alone.
    const png = fs.readFileSync(
      path.join(
        ROOT,
        'tests',
        'fixtures',
        'images',
        fs.readdirSync(path.join(ROOT, 'tests', 'fixtures', 'images')).find((f) => f.endsWith('.png'))!,
      ),
    );
    const mine = await student.api.uploadImage({ name: 'mine.png', bytes: new Uint8Array(png) });
    expect((await student.api.predict({ image: mine.ref, top: 1 })).predictions).toHaveLength(1);
    await expect(teacher.api.predict({ image: mine.ref, top: 1 })).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await leave(teacher);
    await leave(student);
  }, 120_000);

  it('students keep to what the instructor offers, and only the instructor holds the student link', async () => {
    const teacher = await open('instructor');
    const student = await open('student');
    const mine = (await student.api.getState()).session!;
    const theirs = (await teacher.api.getState()).session!;
    expect(mine.role).toBe('student');
    expect(mine.studentUrl).toBeUndefined();
    expect(theirs.role).toBe('instructor');
    expect(theirs.studentUrl).toContain(`token=${server.studentToken}`);
    expect(theirs.studentUrl).not.toContain(server.token);
    // A folder the instructor has not opened, even inside the allowed roots; any server path; the server's files.
    expect(await code(student.api.openModel({ path: otherModel }))).toBe('STUDENT_NOT_ALLOWED');
    expect(await code(student.api.openModel({ path: '/etc/passwd' }))).toBe('STUDENT_NOT_ALLOWED');
    expect(await code(student.api.uploadModel({ name: 'm.onnx', bytes: new Uint8Array(8) }))).toBe('STUDENT_NOT_ALLOWED');
    expect(await code(student.api.addDatasetFiles({ folder: 'x', files: [] }))).toBe('STUDENT_NOT_ALLOWED');
    expect(await code(student.api.discardRun({ run: 'x' }))).toBe('STUDENT_NOT_ALLOWED');
    expect(await code(student.api.setStudentJobs({ kinds: ['finetune'] }))).toBe('STUDENT_NOT_ALLOWED');
    expect(await code(student.api.startJob({ kind: 'evaluate', params: {} }))).toBe('STUDENT_NOT_ALLOWED');
    // Once the instructor opens it and allows evaluate, the student may do both.
    await teacher.api.openModel({ path: otherModel });
    expect(await code(student.api.openModel({ path: otherModel }))).toBe('ok');
    await student.api.openModel({});
    const allowedNow = await teacher.api.setStudentJobs({ kinds: ['occlusion', 'evaluate'] });
    expect(allowedNow.studentJobs).toEqual(['occlusion', 'evaluate']);
    await expect.poll(() => student.states.at(-1)?.session?.studentJobs, { timeout: 5000 }).toEqual(['occlusion', 'evaluate']);
    const { jobId } = await student.api.startJob({ kind: 'evaluate', params: {} });
    await expect.poll(() => student.finished.find((f) => f.jobId === jobId)?.status, { timeout: 60_000 }).toBe('done');
    await teacher.api.setStudentJobs({ kinds: ['occlusion', 'invariance'] });
    await teacher.api.openModel({});
    await leave(teacher);
    await leave(student);
  }, 120_000);

  it('sessions on the same model file share one copy of it in each worker', async () => {
    const windows = await Promise.all([open('instructor'), open('student'), open('student')]);
    await Promise.all(windows.map((w) => w.api.getState()));
    const held = await server.host.modelsHeld();
    for (const worker of held) {
      const bundled = worker.filter((m) => m.id === 'bundled:default');
      expect(bundled).toHaveLength(1);
      expect(bundled[0].holders).toBeGreaterThanOrEqual(3);
    }
    const tensorsWithThree = await server.host.numTensors();
    const fourth = await open('student');
    await fourth.api.getState();
    expect(await server.host.numTensors()).toEqual(tensorsWithThree);
    for (const w of [...windows, fourth]) await leave(w);
  }, 60_000);

  it('a reload comes back to its session; a window that does not come back gives its memory back', async () => {
    await expect.poll(() => server.classroom.size, { timeout: 10_000 }).toBe(0);
    const baseline = await server.host.numTensors();
    const teacher = await open('instructor');
    await teacher.api.openModel({ path: tinyModel });
    const id = (await teacher.api.getState()).session!.id;
    await leave(teacher);
    const back = await open('instructor', id);
    expect((await back.api.getState()).model?.id).toBe(tinyModel);
    expect((await back.api.getState()).session?.id).toBe(id);
    // A student cannot take the instructor's session by naming it.
    const intruder = await open('student', id);
    expect((await intruder.api.getState()).session?.id).not.toBe(id);
    await leave(intruder);
    await leave(back);
    await expect.poll(() => server.classroom.size, { timeout: 10_000 }).toBe(0);
    expect(await server.host.numTensors()).toEqual(baseline);
    expect((await server.host.modelsHeld()).flat()).toEqual([]);
  }, 60_000);

  it("a student's dataset job waits behind the instructor's, and is told its place", async () => {
    const teacher = await open('instructor');
    const student = await open('student');
    await teacher.api.setStudentJobs({ kinds: ['occlusion', 'evaluate'] });
    const image = { source: 'dataset' as const, index: 0 };
    // Sent without waiting: the first runs, the other two queue; the instructor's then goes ahead of them.
    const studentJobs = await Promise.all([0, 1, 2].map(() => student.api.startJob({ kind: 'occlusion', params: { image, patch: 5, stride: 1 } })));
    const teacherJob = await teacher.api.startJob({ kind: 'evaluate', params: {} });
    const all = [...studentJobs.map((j) => j.jobId), teacherJob.jobId];
    await expect.poll(() => all.every((id) => ends.includes(id)), { timeout: 120_000 }).toBe(true);
    expect(teacher.finished.find((f) => f.jobId === teacherJob.jobId)?.status).toBe('done');
    expect(student.finished.filter((f) => all.includes(f.jobId)).map((f) => f.status)).toEqual(['done', 'done', 'done']);
    // The student's first job was running already; the instructor's went ahead of the other two.
    expect(ends.indexOf(teacherJob.jobId)).toBeLessThan(ends.indexOf(studentJobs[1].jobId));
    expect(ends.indexOf(teacherJob.jobId)).toBeLessThan(ends.indexOf(studentJobs[2].jobId));
    // The last was told its place: two ahead when it came, three once the instructor's went before it.
    const waits = student.progress.filter((p) => p.jobId === studentJobs[2].jobId && p.waiting !== undefined).map((p) => p.waiting!);
    expect(waits.slice(0, 2)).toEqual([2, 3]);
    await teacher.api.setStudentJobs({ kinds: ['occlusion', 'invariance'] });
    await leave(teacher);
    await leave(student);
  }, 180_000);

  it('students follow the leading instructor, step away and follow again; the instructor sees how many follow', async () => {
    const teacher = await open('instructor');
    const [a, b] = await Promise.all([open('student'), open('student')]);
    await Promise.all([a.api.getState(), b.api.getState()]);
    const view = { tab: 'filters', layer: 'conv2', unit: 3, image: { source: 'dataset' as const, index: 7 }, model: 'bundled:default' };
    await teacher.api.lead({ view });
    for (const s of [a, b]) await expect.poll(() => s.leads.at(-1)?.view, { timeout: 5000 }).toEqual(view);
    await expect.poll(async () => (await teacher.api.getState()).session?.followers, { timeout: 5000 }).toBe(2);
    // A window that opens now is given the lead in its state.
    const late = await open('student');
    expect((await late.api.getState()).session?.lead).toEqual(view);
    await leave(late);
    // A steps away: the next lead reaches B only, and the count drops.
    expect((await a.api.follow({ following: false })).following).toBe(false);
    const next = { ...view, layer: 'conv3', unit: 0 };
    await teacher.api.lead({ view: next });
    await expect.poll(() => b.leads.at(-1)?.view, { timeout: 5000 }).toEqual(next);
    expect(a.leads.at(-1)?.view).toEqual(view);
    await expect.poll(async () => (await teacher.api.getState()).session?.followers, { timeout: 5000 }).toBe(1);
    // Following again brings A to where the lead is now.
    await a.api.follow({ following: true });
    await expect.poll(() => a.leads.at(-1)?.view, { timeout: 5000 }).toEqual(next);
    // Students cannot lead; a malformed view is refused; stopping the lead tells the followers.
    expect(await code(a.api.lead({ view }))).toBe('STUDENT_NOT_ALLOWED');
    expect(await code(teacher.api.lead({ view: { tab: 'x', path: '/etc' } as never }))).toBe('BAD_ARGUMENT');
    await teacher.api.lead({});
    await expect.poll(() => b.leads.at(-1), { timeout: 5000 }).toEqual({});
    expect((await b.api.getState()).session?.leading).toBe(false);
    for (const w of [teacher, a, b]) await leave(w);
  }, 60_000);

  it("the leading instructor's results reach the followers as they are built, read from the instructor's session, never recomputed", async () => {
    const teacher = await open('instructor');
    const [follower, away] = await Promise.all([open('student'), open('student')]);
    await Promise.all([follower.api.getState(), away.api.getState()]);
    await away.api.follow({ following: false });
    const view = { tab: 'selectivity', layer: 'conv2', model: 'bundled:default' };
    await teacher.api.lead({ view });
    await expect.poll(() => follower.leads.at(-1)?.view, { timeout: 5000 }).toEqual(view);
    // Selectivity is not a job students may start; built by the instructor, the follower is shown it all the same.
    expect(await code(follower.api.startJob({ kind: 'selectivity', params: { layers: ['conv2'] } }))).toBe('STUDENT_NOT_ALLOWED');
    const { jobId } = await teacher.api.startJob({ kind: 'selectivity', params: { layers: ['conv2'] } });
    await expect.poll(() => follower.finished.find((f) => f.jobId === jobId), { timeout: 120_000 }).toMatchObject({ status: 'done', sharedBy: 'instructor' });
    expect(follower.progress.some((p) => p.jobId === jobId && p.sharedBy === 'instructor')).toBe(true);
    // The same result as the instructor's, read from the instructor's session: the engine ran the job once.
    const theirs = await teacher.api.getJobResult({ jobId });
    expect(await follower.api.getJobResult({ jobId })).toEqual(theirs);
    expect(follower.progress.filter((p) => p.jobId !== jobId && p.kind === 'selectivity')).toEqual([]);
    // Read, not cancelled; the student who stepped away saw nothing of it and cannot read it.
    expect(await code(follower.api.cancelJob({ jobId }))).toBe('JOB_NOT_FOUND');
    expect(away.progress.concat(away.finished as never[]).filter((e) => e.jobId === jobId)).toEqual([]);
    expect(await code(away.api.getJobResult({ jobId }))).toBe('JOB_NOT_FOUND');
    // A fine-tuning run: the follower watches its learning curves as the instructor's window does, and gets its summary.
    const run = await teacher.api.startJob({ kind: 'finetune', params: { strategy: 'fc', epochs: 2, batchSize: 64, earlyStopping: false } });
    await expect.poll(() => follower.finished.find((f) => f.jobId === run.jobId)?.status, { timeout: 120_000 }).toBe('done');
    const curves = (w: Window) => w.progress.filter((p) => p.jobId === run.jobId && p.metrics).map((p) => p.metrics);
    expect(curves(follower).length).toBeGreaterThanOrEqual(2);
    expect(curves(follower)).toEqual(curves(teacher));
    expect(await follower.api.getJobResult({ jobId: run.jobId })).toEqual(await teacher.api.getJobResult({ jobId: run.jobId }));
    // A window that opens now, and one that follows again, are given the lead with its results, and may read them.
    const late = await open('student');
    const lead = (await late.api.getState()).session?.lead;
    expect(lead).toEqual({
      ...view,
      results: [
        { jobId, kind: 'selectivity' },
        { jobId: run.jobId, kind: 'finetune' },
      ],
    });
    expect(await late.api.getJobResult({ jobId })).toEqual(theirs);
    await away.api.follow({ following: true });
    await expect.poll(() => away.leads.at(-1)?.view?.results?.length, { timeout: 5000 }).toBe(2);
    expect(await away.api.getJobResult({ jobId })).toEqual(theirs);
    // An instructor cannot make up results to send; a lead that ends takes its results with it.
    expect(await code(teacher.api.lead({ view: { ...view, results: [{ jobId: 'x', kind: 'selectivity' }] } }))).toBe('BAD_ARGUMENT');
    await teacher.api.lead({});
    await teacher.api.lead({ view });
    await expect.poll(() => follower.leads.at(-1)?.view, { timeout: 5000 }).toEqual(view);
    await teacher.api.lead({});
    for (const w of [teacher, follower, away, late]) await leave(w);
  }, 180_000);

  it("windows flooding requests do not hold up another's: interactive calls are served in turn", async () => {
    const busy = await Promise.all([open('student'), open('student'), open('student')]);
    const other = await open('student');
    await Promise.all([...busy, other].map((w) => w.api.getState()));
    const image = { source: 'dataset' as const, index: 3 };
    const answered: string[] = [];
    const flood = busy.flatMap((w, k) =>
      Array.from({ length: 30 }, (_, i) => w.api.project({ image, layer: 'conv2', unit: i, method: 'guided' }).then(() => answered.push(`busy${k}.${i}`))),
    );
    // Once a backlog has built up at the server, the fourth window asks once.
    const until = Date.now() + 20_000;
    while (server.host.waitingCalls() < 30 && Date.now() < until) await new Promise((r) => setImmediate(r));
    const backlog = server.host.waitingCalls();
    expect(backlog).toBeGreaterThanOrEqual(30);
    const sentAfter = answered.length;
    const mine = other.api.predict({ image, top: 1 }).then(() => answered.push('other'));
    await Promise.all([...flood, mine]);
    // In turn, it waits for about one call of each busy window; first come, first served would be behind the backlog.
    expect(answered.indexOf('other') - sentAfter).toBeLessThanOrEqual(8);
    for (const w of [...busy, other]) await leave(w);
  }, 60_000);
});
