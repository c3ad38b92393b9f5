/**
 * The service over the worker pool (the same object Electron IPC and the WebSocket server wrap): open the bundled
 * model and samples, predict, activations, jobs with progress, cancellation, and tensor counts back to baseline
 * in every worker.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobFinished, JobProgress } from '../../shared/contract';
import { InspectorService } from '../../electron/engine/service';

const ROOT = path.resolve(__dirname, '..', '..');
let service: InspectorService;
let baseline: number[];

function waitFinished(jobId: string, svc: InspectorService): Promise<JobFinished> {
  return new Promise((resolve) => {
    const dispose = svc.onJobFinished((e) => {
      if (e.jobId === jobId) {
        dispose();
        resolve(e);
      }
    });
  });
}

describe('InspectorService over the worker pool', () => {
  beforeAll(async () => {
    // A private workspace (fine-tuned models and cached results land there; worker threads inherit it).
    process.env.CNN_INSPECTOR_WORKSPACE = fs.mkdtempSync(path.join(os.tmpdir(), 'service-ws-'));
    service = new InspectorService({ workers: 2, preferredBackend: 'wasm' });
    await service.openModel({});
    await service.openDataset({});
    baseline = await service.host.numTensors();
  });
  afterAll(async () => {
    await service?.dispose();
  });

  it('reports the backend and the open model and dataset', async () => {
    const state = await service.getState();
    expect(state.backend.name).toBe('wasm');
    expect(state.backend.workers).toBe(2);
    expect(state.model?.id).toBe('bundled:default');
    expect(state.dataset?.classes.map((c) => c.name)).toEqual(fs.readdirSync(path.join(ROOT, 'resources', 'samples')).sort());
  });

  it('conv1 activations of a sample have the layer shape, and tensors return to baseline', async () => {
    const maps = await service.activations({ image: { source: 'dataset', index: 0 }, layer: 'conv1' });
    expect(maps.shape).toEqual([28, 28, 32]);
    expect(maps.data).toBeInstanceOf(Float32Array);
    expect(maps.data.length).toBe(28 * 28 * 32);
    expect(maps.min).toBeGreaterThanOrEqual(0); // fused ReLU
    expect(Math.max(...maps.data.subarray(0, 1000))).toBeLessThanOrEqual(maps.max);
    const predict = await service.predict({ image: { source: 'dataset', index: 0 }, top: 3 });
    expect(predict.predictions).toHaveLength(3);
    // Dataset class 0 is "Ankle-boot" (sorted folder names); trueClass is the model's index for that name.
    const state = await service.getState();
    expect(state.model?.classes?.[predict.trueClass!]).toBe(state.dataset?.classes[0].name);
    expect(await service.host.numTensors()).toEqual(baseline);
  });

  it('unknown layers and images are coded errors', async () => {
    await expect(service.activations({ image: { source: 'dataset', index: 0 }, layer: 'conv9' })).rejects.toMatchObject({ code: 'LAYER_NOT_FOUND' });
    await expect(service.predict({ image: { source: 'dataset', index: 99999 } })).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await expect(service.uploadImage({ name: 'x.png', bytes: new Uint8Array(0) })).rejects.toMatchObject({ code: 'IMAGE_EMPTY_FILE' });
    await expect(service.openModel({ path: path.join(ROOT, 'tests/fixtures/bad/model-truncated-shard/model.json') })).rejects.toMatchObject({
      code: 'MODEL_WEIGHTS_INCONSISTENT',
    });
    // A failed open leaves the previous model in place.
    expect((await service.getState()).model?.id).toBe('bundled:default');
  });

  it('a probe job inside a worker spreads its probes over helper threads of its own', async () => {
    const progress: JobProgress[] = [];
    const dispose = service.onJobProgress((e) => progress.push(e));
    const { jobId } = await service.startJob({ kind: 'probe', params: { layers: ['fc7'], ablations: ['original', 'binarised'], seeds: 2 } });
    const finished = await waitFinished(jobId, service);
    dispose();
    expect(finished.error).toBeUndefined();
    expect(finished.status).toBe('done');
    const { rows } = await service.getJobResult<'probe'>({ jobId });
    expect(rows.map((r) => [r.layer, r.ablation, r.seeds])).toEqual([
      ['fc7', 'original', 2],
      ['fc7', 'binarised', 2],
    ]);
    // The bundled model's fc7 on its own samples: far above chance (10 %).
    for (const r of rows) expect(r.accuracy).toBeGreaterThan(0.6);
    expect(progress.some((p) => p.jobId === jobId && /cores$/.test(p.message ?? ''))).toBe(true);
    expect(await service.host.numTensors()).toEqual(baseline);
  });

  it('an evaluation job reports progress and returns accuracy consistent with its confusion matrix', async () => {
    const progress: JobProgress[] = [];
    const dispose = service.onJobProgress((e) => progress.push(e));
    const { jobId } = await service.startJob({ kind: 'evaluate', params: { limit: 100 } });
    const finished = await waitFinished(jobId, service);
    dispose();
    expect(finished.status).toBe('done');
    const result = await service.getJobResult<'evaluate'>({ jobId });
    expect(result.count).toBe(100);
    const diagonal = result.confusion.reduce((s, row, i) => s + row[i], 0);
    const total = result.confusion.flat().reduce((a, b) => a + b, 0);
    expect(total).toBe(100);
    // The limit takes every class in turn (the samples are sorted by class): 10 of each of the 10 classes.
    expect(result.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(Array(10).fill(10));
    expect(result.accuracy).toBeCloseTo(diagonal / total, 10);
    expect(progress.length).toBeGreaterThan(1);
    expect(progress[progress.length - 1]).toMatchObject({ done: 100, total: 100 });
    expect(await service.host.numTensors()).toEqual(baseline);
  });

  it('the bundled model classifies the 500 bundled samples (Fashion-MNIST test images) at ≥ 88 %', async () => {
    const { jobId } = await service.startJob({ kind: 'evaluate', params: {} });
    expect((await waitFinished(jobId, service)).status).toBe('done');
    const result = await service.getJobResult<'evaluate'>({ jobId });
    expect(result.count).toBe(500);
    expect(result.accuracy).toBeGreaterThanOrEqual(0.88);
    for (const name of result.classes) expect(result.per_class[name]).toBeGreaterThan(0.6);
  });

  it('a cancelled job stops early, reports cancelled, and frees its memory', async () => {
    const { jobId } = await service.startJob({ kind: 'evaluate', params: {} });
    let done = 0;
    const dispose = service.onJobProgress((e) => {
      if (e.jobId === jobId) {
        done = e.done;
        if (e.done >= 64) void service.cancelJob({ jobId });
      }
    });
    const finished = await waitFinished(jobId, service);
    dispose();
    expect(finished.status).toBe('cancelled');
    expect(finished.error?.code).toBe('JOB_CANCELLED');
    expect(done).toBeLessThan(500);
    await expect(service.getJobResult({ jobId })).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
    expect(await service.host.numTensors()).toEqual(baseline);
  });

  it('"stop and keep" ends a fine-tuning job early as done, with its model saved', async () => {
    const { jobId } = await service.startJob({ kind: 'finetune', params: { strategy: 'fc', epochs: 40, batchSize: 32 } });
    const dispose = service.onJobProgress((e) => {
      if (e.jobId === jobId && e.metrics && e.metrics.epoch >= 2) void service.cancelJob({ jobId, keep: true });
    });
    const finished = await waitFinished(jobId, service);
    dispose();
    expect(finished.status).toBe('done');
    const summary = await service.getJobResult<'finetune'>({ jobId });
    expect(summary.history.length).toBeLessThan(40);
    expect(summary.stoppedEarly).toBe(true);
    expect(summary.stopReason).toBe('asked');
    expect(fs.readFileSync(summary.modelCard, 'utf8')).toMatch(/pressed Stop and keep/);
    expect(fs.existsSync(summary.path)).toBe(true);
  }, 120_000);

  it('a paused fine-tune is listed as a run, resumes as a job to the end, and a discarded run is gone', async () => {
    const { jobId } = await service.startJob({ kind: 'finetune', params: { strategy: 'fc', epochs: 3, batchSize: 32, earlyStopping: false } });
    const dispose = service.onJobProgress((e) => {
      if (e.jobId === jobId && e.metrics && e.metrics.epoch >= 2) void service.cancelJob({ jobId, pause: true });
    });
    const finished = await waitFinished(jobId, service);
    dispose();
    expect(finished.status).toBe('cancelled');
    expect(finished.error?.code).toBe('JOB_PAUSED');
    const [run, ...others] = await service.listRuns();
    expect(others).toEqual([]);
    expect(run).toMatchObject({ status: 'paused', strategy: 'fc', epochs: 3, epochsDone: 1 });
    expect(run.batchesDone).toBeGreaterThan(0);
    await expect(service.discardRun({ run: '../x' })).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });

    const replayed: Array<{ epoch: number; progress: number; loss: number; validationAccuracy?: number }> = [];
    const listen = service.onJobProgress((e) => e.metrics && replayed.push(e.metrics));
    const resumed = await service.startJob({ kind: 'resumeFinetune', params: { run: run.id } });
    expect((await waitFinished(resumed.jobId, service)).status).toBe('done');
    listen();
    const summary = await service.getJobResult<'resumeFinetune'>({ jobId: resumed.jobId });
    expect(summary.history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    expect(summary.history[0]).toEqual(run.history[0]);
    // The learning curve goes on from before the pause: the resumed job first reports epoch 1 (its mean loss at
    // the middle of the pass, its held-back accuracy at the end), then the part of epoch 2 done before the pause.
    expect(replayed[0]).toEqual({ epoch: 1, progress: 0.5, loss: run.history[0].loss });
    expect(replayed[1]).toEqual({ epoch: 1, progress: 1, loss: run.history[0].loss, validationAccuracy: run.history[0].validationAccuracy });
    expect(replayed[2].epoch).toBe(2);
    expect(replayed[2].progress).toBeGreaterThan(1);
    expect(replayed[2].progress).toBeLessThan(1.5);
    expect(replayed[3].progress).toBeGreaterThan(replayed[2].progress);
    expect(fs.existsSync(summary.path)).toBe(true);
    expect(await service.listRuns()).toEqual([]);
    // Every pass left a checkpoint beside the model, where the Training tab finds them (before and after the pause).
    expect(fs.readdirSync(path.join(path.dirname(summary.path), 'checkpoints')).sort()).toEqual(['epoch-1', 'epoch-2', 'epoch-3']);
    // The run's model downloads as ONNX without becoming the open model.
    const exported = await service.exportModel({ format: 'onnx', path: summary.path });
    expect(exported.bytes.length).toBeGreaterThan(100_000);
    expect((await service.getState()).model?.id).toBe('bundled:default');

    // Another run, paused, then discarded.
    const second = await service.startJob({ kind: 'finetune', params: { strategy: 'features', epochs: 50, batchSize: 8, earlyStopping: false } });
    const off = service.onJobProgress((e) => {
      if (e.jobId === second.jobId && e.metrics && e.metrics.epoch >= 2) void service.cancelJob({ jobId: second.jobId, pause: true });
    });
    expect((await waitFinished(second.jobId, service)).error?.code).toBe('JOB_PAUSED');
    off();
    const [pausedRun] = await service.listRuns();
    expect(pausedRun.strategy).toBe('features');
    await service.discardRun({ run: pausedRun.id });
    expect(await service.listRuns()).toEqual([]);
    expect(await service.host.numTensors()).toEqual(baseline);
  }, 180_000);

  it('a folder picked in the window is copied batch by batch into the workspace and opens as the image folder', async () => {
    const png = fs.readFileSync(path.join(ROOT, 'resources', 'samples', 'Bag', fs.readdirSync(path.join(ROOT, 'resources', 'samples', 'Bag'))[0]));
    const first = await service.addDatasetFiles({
      folder: 'my shoes',
      start: true,
      files: [
        { path: 'left/a.png', bytes: png },
        { path: 'left/b.png', bytes: png },
      ],
    });
    const second = await service.addDatasetFiles({
      folder: 'my shoes',
      files: [
        { path: 'right\\c.png', bytes: png },
        { path: 'right/d.png', bytes: png },
      ],
    });
    expect(second).toEqual({ path: first.path, files: 4 });
    expect(first.path.startsWith(process.env.CNN_INSPECTOR_WORKSPACE!)).toBe(true);
    const summary = await service.openDataset({ path: first.path });
    expect(summary.classes).toEqual([
      { name: 'left', count: 2 },
      { name: 'right', count: 2 },
    ]);
    for (const bad of ['../escape.png', 'a/b/c.png', '.hidden/x.png', '/etc/x.png']) {
      if (bad === '/etc/x.png') {
        // An absolute path is taken as relative: it lands inside the folder.
        await service.addDatasetFiles({ folder: 'my shoes', files: [{ path: 'etc/x.png', bytes: png }] });
        continue;
      }
      await expect(service.addDatasetFiles({ folder: 'my shoes', files: [{ path: bad, bytes: png }] })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    }
    // Starting again replaces the earlier copy.
    expect((await service.addDatasetFiles({ folder: 'my shoes', start: true, files: [{ path: 'only/x.png', bytes: png }] })).files).toBe(1);
    await service.openDataset({});
  });

  it('an image that cannot be decoded is left out of an evaluation and named with its code', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-'));
    fs.cpSync(path.join(ROOT, 'tests', 'fixtures', 'datasets', 'mixed'), dir, { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'tests', 'fixtures', 'bad', 'truncated.png'), path.join(dir, 'Bag', 'broken.png'));
    await service.openDataset({ path: dir });
    const { jobId } = await service.startJob({ kind: 'evaluate', params: {} });
    expect((await waitFinished(jobId, service)).status).toBe('done');
    const result = await service.getJobResult<'evaluate'>({ jobId });
    expect(result.count).toBe(3);
    expect(result.skipped).toEqual([{ file: 'Bag/broken.png', code: 'IMAGE_DECODE_FAILED', message: expect.stringContaining('broken.png') }]);
    await service.openDataset({});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('opens a folder dataset the project did not make, naming the files it skips', async () => {
    const dir = path.join(ROOT, 'tests', 'fixtures', 'datasets', 'mixed');
    const summary = await service.openDataset({ path: dir });
    expect(summary.classes).toEqual([
      { name: 'Bag', count: 2 },
      { name: 'Trouser', count: 1 },
    ]);
    expect(summary.skipped.map((s) => s.file).sort()).toEqual(['Bag/empty.png', 'Trouser/readme.txt']);
    const predict = await service.predict({ image: { source: 'dataset', index: 2 }, top: 1 });
    expect((await service.getState()).model?.classes?.[predict.trueClass!]).toBe('Trouser');
    await service.openDataset({});
  });

  it('opening an ONNX model reports loading progress to subscribers, then the model serves predictions', async () => {
    const events: Array<{ done: number; total: number; message: string }> = [];
    const off = service.onModelLoading((e) => events.push(e));
    const file = path.join(ROOT, 'tests', 'fixtures', 'onnx', 'cnn-ops.onnx');
    try {
      const summary = await service.openModel({ path: file });
      expect(summary.format).toBe('onnx');
      expect(events.some((e) => /Converting layer/.test(e.message) && e.done < e.total)).toBe(true);
      expect(events.at(-1)).toMatchObject({ path: file, done: 1, total: 1 });
      const p = await service.predict({ image: { source: 'dataset', index: 0 }, top: 3 });
      expect(p.predictions).toHaveLength(3);
    } finally {
      off();
      await service.openModel({});
    }
  });
});
