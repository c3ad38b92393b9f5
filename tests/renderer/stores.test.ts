/**
 * Pinia stores with a fresh Pinia per test and a fake engine behind api/: the stores hold state, call through
 * the contract, drop stale answers and surface coded errors.
 */
import { createPinia, setActivePinia } from 'pinia';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ActivationMaps, AppState, Inspector, JobFinished, JobProgress } from '../../shared/contract';
import { InspectorError } from '../../shared/errors';
import { setApi } from '../../renderer/api';
import { useAppStore } from '../../renderer/stores/app';
import { useJobsStore } from '../../renderer/stores/jobs';
import { timeLeft } from '../../shared/time-left';
import { useSelectionStore } from '../../renderer/stores/selection';

function fakeInspector(overrides: Partial<Inspector> = {}): Inspector & { calls: string[] } {
  const calls: string[] = [];
  const state: AppState = {
    version: 'test',
    backend: { name: 'cpu', detail: 'cpu (test)', skipped: [], workers: 1 },
    transport: 'test',
  };
  const base: Inspector = {
    getState: async () => (calls.push('getState'), state),
    openModel: async () => {
      calls.push('openModel');
      throw new InspectorError('MODEL_WEIGHTS_MISSING', 'Weight file weights.bin named in model.json is missing');
    },
    uploadModel: async () => {
      calls.push('uploadModel');
      throw new InspectorError('MODEL_UNSUPPORTED_OP', 'CNN Inspector cannot run the operator Resize');
    },
    saveModelSettings: async () => {
      throw new InspectorError('MODEL_NOT_LOADED', 'No model is open');
    },
    exportModel: async ({ format }) => ({ fileName: `m.${format}`, bytes: new Uint8Array([1]) }),
    openDataset: async () => (calls.push('openDataset'), { id: 'd', name: 'd', kind: 'folder', classes: [], count: 0, skipped: [] }),
    listImages: async () => ({ total: 0, offset: 0, images: [] }),
    getImage: async () => new Uint8Array(),
    uploadImage: async () => ({ ref: { source: 'upload', id: 'u' }, name: 'u', width: 1, height: 1 }),
    predict: async () => (calls.push('predict'), { predictions: [{ index: 1, probability: 0.9 }] }),
    activations: async ({ layer }) => {
      calls.push(`activations:${layer}`);
      return { layer, shape: [1, 1, 2], data: Float32Array.from([1, 2]), min: 1, max: 2 };
    },
    project: async ({ layer, unit, method }) => ({ layer, unit, method, position: [0, 0], value: 1, shape: [1, 1, 1], data: Float32Array.from([0.5]) }),
    getAtlas: async () => null,
    getFilters: async () => ({ layer: 'c', shape: [1, 1, 1, 1], data: Float32Array.from([1]), rms: [1], medianRms: 1, dominant: [], dominanceRatio: 3 }),
    getAtlasLayer: async ({ layer }) => ({ layer, k: 1, spatial: false, images: 0, units: [] }),
    getAtlasSheet: async () => new Uint8Array(),
    startJob: async () => (calls.push('startJob'), { jobId: 'job-1' }),
    cancelJob: async (p) => void calls.push(`cancelJob:${p.pause ? 'pause' : p.keep ? 'keep' : 'discard'}`),
    listRuns: async () => [],
    listZoo: async () => ({ folder: '/tmp/zoo', mirror: 'http://127.0.0.1/', models: [] }),
    addDatasetFiles: async ({ folder, files }) => (
      calls.push(`addDatasetFiles:${folder}:${files.map((f) => f.path).join(',')}`),
      { path: `/ws/${folder}`, files: files.length }
    ),
    discardRun: async () => undefined,
    setStudentJobs: async ({ kinds }) => ({
      id: 's',
      role: 'instructor',
      studentJobs: kinds,
      sessions: { instructor: 1, student: 0 },
      leading: false,
      followers: 0,
    }),
    lead: async () => undefined,
    follow: async ({ following }) => ({
      id: 's',
      role: 'student',
      following,
      studentJobs: [],
      sessions: { instructor: 1, student: 1 },
      leading: true,
      followers: 1,
    }),
    getJobResult: async () => ({ accuracy: 0.5, per_class: {}, confusion: [], classes: [], count: 2, skipped: [], outcomes: [] }) as never,
    onJobProgress: () => () => undefined,
    onJobFinished: () => () => undefined,
    onStateChanged: () => () => undefined,
    onModelLoading: () => () => undefined,
    onLeadChanged: () => () => undefined,
  };
  return Object.assign({ ...base, ...overrides }, { calls });
}

describe('renderer stores', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
  });

  it('app store: a failed model open shows the coded error and keeps the old state', async () => {
    const fake = fakeInspector();
    setApi(fake);
    const app = useAppStore();
    await app.refresh();
    expect(app.connected).toBe(true);
    expect(app.backendLabel).toBe('cpu (test)');
    await app.openModel('/nope/model.json');
    expect(app.error).toEqual({ code: 'MODEL_WEIGHTS_MISSING', message: 'Weight file weights.bin named in model.json is missing' });
    expect(app.busy).toBe(false);
    expect(fake.calls).toEqual(['getState', 'openModel']);
  });

  it('selection store: picking an image fetches predictions and activations of the chosen layer', async () => {
    const fake = fakeInspector();
    setApi(fake);
    const selection = useSelectionStore();
    await selection.selectLayer('conv1');
    expect(fake.calls).toEqual([]); // no image yet: nothing to compute
    await selection.selectImage({ source: 'dataset', index: 3 }, 'shoe');
    expect(fake.calls.sort()).toEqual(['activations:conv1', 'predict']);
    expect(selection.activations?.layer).toBe('conv1');
    expect(selection.unitCount).toBe(2);
    expect(selection.isSpatial).toBe(true);
    selection.selectUnit(1);
    await selection.selectLayer('conv2');
    expect(selection.unit).toBeUndefined(); // a unit number means nothing in another layer
  });

  it('selection store: an answer for a layer no longer selected is dropped', async () => {
    let release: (m: ActivationMaps) => void = () => undefined;
    const fake = fakeInspector({
      activations: ({ layer }) =>
        layer === 'slow'
          ? new Promise<ActivationMaps>((r) => (release = r))
          : Promise.resolve({ layer, shape: [2], data: Float32Array.from([0, 1]), min: 0, max: 1 }),
    });
    setApi(fake);
    const selection = useSelectionStore();
    await selection.selectImage({ source: 'dataset', index: 0 }, 'x');
    const slow = selection.selectLayer('slow');
    await selection.selectLayer('fast');
    release({ layer: 'slow', shape: [1], data: Float32Array.from([9]), min: 9, max: 9 });
    await slow;
    expect(selection.activations?.layer).toBe('fast');
  });

  it('jobs store: progress and finish events drive the job view; results are fetched once done', async () => {
    const fake = fakeInspector();
    setApi(fake);
    const jobs = useJobsStore();
    const jobId = await jobs.start('evaluate');
    expect(jobId).toBe('job-1');
    expect(jobs.running).toHaveLength(1);
    const progress: JobProgress = { jobId: 'job-1', kind: 'evaluate', done: 3, total: 10, message: 'Evaluated 3 of 10 images' };
    jobs.onProgress(progress);
    expect(jobs.latest('evaluate')).toMatchObject({ status: 'running', done: 3, total: 10 });
    const finished: JobFinished = { jobId: 'job-1', kind: 'evaluate', status: 'done' };
    await jobs.onFinished(finished);
    expect(jobs.running).toHaveLength(0);
    expect(jobs.evaluation?.accuracy).toBe(0.5);
    await jobs.onFinished({ jobId: 'job-2', kind: 'evaluate', status: 'cancelled', error: { code: 'JOB_CANCELLED', message: 'x' } });
    expect(jobs.latest('evaluate')?.status).toBe('cancelled');
  });

  it('jobs store: a paused training job is marked paused; pause reaches the engine; the time left follows the pace', async () => {
    const fake = fakeInspector();
    setApi(fake);
    const jobs = useJobsStore();
    await jobs.start('finetune', { strategy: 'all' });
    await jobs.cancel('job-1', 'pause');
    expect(fake.calls).toContain('cancelJob:pause');
    jobs.onProgress({ jobId: 'job-1', kind: 'finetune', done: 10, total: 110, message: 'Epoch 1' });
    const view = jobs.latest('finetune')!;
    // 10 → 30 of 110 in 20 s: 80 left at 1 per second.
    view.startedAt = 1_000_000;
    jobs.onProgress({ jobId: 'job-1', kind: 'finetune', done: 30, total: 110, message: 'Epoch 1' });
    expect(timeLeft(view, 1_020_000)).toBe('about 1 min left');
    expect(timeLeft(view, 1_001_000)).toBeUndefined(); // too early to tell
    // An atlas-like job: 800 steps in its first 10 s, then 6 more in the last 30 s — judged by the last minute's
    // pace (48 left at 0.2 a second: 4 min), not by the start's (which said "about 5 s left").
    const slowing = {
      ...view,
      startedAt: 0,
      doneAtStart: 0,
      done: 826,
      total: 874,
      pace: [
        [0, 0],
        [10_000, 800],
        [70_000, 820],
        [100_000, 826],
      ] as Array<[number, number]>,
    };
    expect(timeLeft(slowing, 100_000)).toBe('about 4 min left');
    // A resumed run replays its passes (2 of 10 epochs), then counts batches (50 a pass): the pace starts again at
    // the switch, so the jump from 2 to 101 is not read as a sprint.
    jobs.onProgress({ jobId: 'job-1', kind: 'finetune', done: 2, total: 10, message: 'Resuming after epoch 2 of 10' });
    jobs.onProgress({ jobId: 'job-1', kind: 'finetune', done: 101, total: 500, message: 'Epoch 3 of 10' });
    const resumed = view;
    expect(resumed.doneAtStart).toBe(101);
    expect(resumed.pace).toHaveLength(1);
    resumed.startedAt = 1_000_000;
    resumed.pace = [[1_000_000, 101]];
    jobs.onProgress({ jobId: 'job-1', kind: 'finetune', done: 121, total: 500, message: 'Epoch 3 of 10' });
    // 20 batches in 20 s: 379 left at 1 a second.
    expect(timeLeft(resumed, 1_020_000)).toBe('about 6 min left');
    await jobs.onFinished({
      jobId: 'job-1',
      kind: 'finetune',
      status: 'cancelled',
      error: { code: 'JOB_PAUSED', message: 'Training paused in epoch 2 of 10' },
    });
    expect(view).toMatchObject({ status: 'cancelled', paused: true, message: 'Paused' });
  });

  it("jobs store: the instructor's results a lead names are shown once each, marked shared; one let go is left out", async () => {
    const asked: string[] = [];
    setApi(
      fakeInspector({
        getJobResult: (async ({ jobId }: { jobId: string }) => {
          asked.push(jobId);
          if (jobId === 'gone') throw new InspectorError('JOB_NOT_FOUND', 'No job gone of this window');
          return { layers: [] };
        }) as Inspector['getJobResult'],
      }),
    );
    const jobs = useJobsStore();
    const results = [
      { jobId: 'sel-1', kind: 'selectivity' as const },
      { jobId: 'gone', kind: 'sparsity' as const },
    ];
    await jobs.showShared(results);
    await jobs.showShared(results);
    expect(jobs.latest('selectivity')).toMatchObject({ status: 'done', shared: true, result: { layers: [] } });
    expect(jobs.latest('sparsity')).toBeUndefined();
    // The result already here is not fetched again.
    expect(asked.filter((id) => id === 'sel-1')).toEqual(['sel-1']);
    jobs.onProgress({ jobId: 'run-1', kind: 'finetune', done: 1, total: 10, message: 'Epoch 1', sharedBy: 'instructor' });
    expect(jobs.latest('finetune')?.shared).toBe(true);
  });

  it('app store: a picked folder is copied in batches with progress, then opened by the path the engine gives', async () => {
    const opened: Array<string | undefined> = [];
    const fake = fakeInspector({
      openDataset: async ({ path }) => (opened.push(path), { id: path ?? '', name: 'cats', kind: 'folder', classes: [], count: 2, skipped: [] }),
    });
    setApi(fake);
    const app = useAppStore();
    const file = (name: string) => new File([new Uint8Array([1, 2, 3])], name);
    const progress: number[] = [];
    const stop = app.$subscribe(() => app.copying && progress.push(app.copying.done));
    await app.openPickedFolder({
      folder: 'cats',
      files: [
        { path: 'a/1.png', file: file('1.png') },
        { path: 'b/2.png', file: file('2.png') },
      ],
      left: 0,
    });
    stop();
    expect(fake.calls).toContain('addDatasetFiles:cats:a/1.png,b/2.png');
    expect(opened).toEqual(['/ws/cats']);
    expect(app.copying).toBeUndefined();
    expect(progress.at(-1)).toBe(2);
    await app.openPickedFolder({ folder: 'empty', files: [], left: 3 });
    expect(app.error?.code).toBe('DATASET_EMPTY');
  });
});
