/**
 * Top-k atlas: equal to a brute-force sort of per-image spatial maxima; sharded-then-merged equals unsharded;
 * patches are the receptive-field crops; an interrupted build resumes; the CLI writes index.json as DESIGN.md says.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { layerActivations } from '../../electron/engine/analyses/activations';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { buildTopK, mergeTopK, type TopKIndex } from '../../electron/engine/analyses/topk';
import { initBackend } from '../../electron/engine/backend';
import { openDataset, type Dataset } from '../../electron/engine/data/dataset';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';

const ROOT = path.resolve(__dirname, '..', '..');
const TINY = path.join(ROOT, 'tests/fixtures/models/tiny-functional/model.json');
const run = promisify(execFile);
const quiet = makeJobContext(
  () => undefined,
  () => false,
);

let dir: string;
let model: LoadedModel;
let dataset: Dataset;

/** Brute force: every image's activations, per unit sorted by (max desc, dataset index asc). */
function bruteForce(layer: string, k: number) {
  const perUnit: Array<Array<{ index: number; value: number; position: number[] }>> = [];
  return (async () => {
    for (const entry of dataset.entries) {
      const x = await dataset.loadInput(entry.index, model.summary.preprocessing, model.summary.inputShape);
      const maps = layerActivations(model, layer, x);
      const units = maps.shape[maps.shape.length - 1];
      const width = maps.shape.length === 3 ? maps.shape[1] : 1;
      for (let u = 0; u < units; u++) {
        let best = -Infinity;
        let at = 0;
        for (let p = 0; p * units < maps.data.length; p++)
          if (maps.data[p * units + u] > best) {
            best = maps.data[p * units + u];
            at = p;
          }
        (perUnit[u] ??= []).push({ index: entry.index, value: best, position: maps.shape.length === 3 ? [Math.floor(at / width), at % width] : [] });
      }
    }
    return perUnit.map((list) => list.sort((a, b) => b.value - a.value || a.index - b.index).slice(0, k));
  })();
}

/** Same images at the same positions, values equal to float32 rounding (the batch path may be ONNX Runtime). */
function expectSameTopK(got: ReturnType<typeof strip>, want: ReturnType<typeof strip>) {
  expect(got.map((u) => u.map((e) => ({ index: e.index, position: e.position })))).toEqual(
    want.map((u) => u.map((e) => ({ index: e.index, position: e.position }))),
  );
  got.forEach((u, i) => u.forEach((e, j) => expect(Math.abs(e.value - want[i][j].value)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i][j].value)))));
}

const strip = (index: TopKIndex) => index.units.map((u) => u.top.map((e) => ({ index: e.index, value: e.value, position: e.position })));

describe('top-k atlas', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'topk-'));
    // 3 classes × 7 random RGB images of odd sizes (resized to the model's 12×12), plus a duplicate to force ties.
    let seed = 1;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 255;
    for (const cls of ['a', 'b', 'c']) {
      fs.mkdirSync(path.join(dir, 'data', cls), { recursive: true });
      for (let i = 0; i < 7; i++) {
        const px = Buffer.from(Array.from({ length: 15 * 13 * 3 }, rnd));
        await sharp(px, { raw: { width: 15, height: 13, channels: 3 } })
          .png()
          .toFile(path.join(dir, 'data', cls, `img${i}.png`));
      }
    }
    fs.copyFileSync(path.join(dir, 'data', 'a', 'img0.png'), path.join(dir, 'data', 'c', 'twin-of-a0.png'));
    model = await openModel(TINY, 'tiny');
    dataset = openDataset(path.join(dir, 'data'), 'data');
  });
  afterAll(() => {
    model?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('equals a brute-force sort for a conv layer and a dense layer (k = 4), leaking no tensors', async () => {
    const before = tf.memory().numTensors;
    const [c1, out] = await buildTopK(model, dataset, { layers: ['c1', 'out'], k: 4, batchSize: 5 }, quiet);
    expect(tf.memory().numTensors).toBe(before);
    expect(c1.units).toHaveLength(4);
    expectSameTopK(strip(c1), await bruteForce('c1', 4));
    expectSameTopK(strip(out), await bruteForce('out', 4));
    expect(out.units[0].top[0].position).toEqual([]);
    // The twin image ties with its original: the earlier one in dataset order ranks first, and both appear once.
    for (const unit of c1.units) expect(new Set(unit.top.map((e) => e.index)).size).toBe(unit.top.length);
  });

  it('three shards merged equal the unsharded atlas', async () => {
    const [whole] = await buildTopK(model, dataset, { layers: ['p1'], k: 5 }, quiet);
    const parts: TopKIndex[] = [];
    for (let i = 0; i < 3; i++) parts.push((await buildTopK(model, dataset, { layers: ['p1'], k: 5, shard: { index: i, count: 3 } }, quiet))[0]);
    expect(parts.map((p) => p.images)).toEqual([7, 7, 8]);
    const merged = mergeTopK(parts);
    expect(strip(merged)).toEqual(strip(whole));
    expect(merged.images).toBe(22);
  });

  it('writes receptive-field patches and resumes an interrupted build', async () => {
    const out = path.join(dir, 'atlas');
    let scanned = 0;
    const interrupt = makeJobContext(
      (done) => void (scanned = done),
      () => scanned >= 10,
    );
    await expect(buildTopK(model, dataset, { layers: ['c1'], k: 3, outDir: out, batchSize: 2 }, interrupt)).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
    const progressFile = path.join(out, '.topk-progress.json');
    expect(JSON.parse(fs.readFileSync(progressFile, 'utf8')).next).toBe(10);
    let firstReported = -1;
    const resume = makeJobContext(
      (done) => void (firstReported < 0 && (firstReported = done)),
      () => false,
    );
    const [resumed] = await buildTopK(model, dataset, { layers: ['c1'], k: 3, outDir: out, batchSize: 2 }, resume);
    expect(firstReported).toBe(12); // continued after the 10 images already scanned
    expect(fs.existsSync(progressFile)).toBe(false);
    const [fresh] = await buildTopK(model, dataset, { layers: ['c1'], k: 3, batchSize: 2 }, quiet);
    expect(strip(resumed)).toEqual(strip(fresh));
    const entry = resumed.units[0].top[0];
    // c1 is a valid 3×3 conv: its receptive field at (y, x) is rows y..y+3, columns x..x+3.
    expect(entry.box).toEqual([entry.position[0], entry.position[1], entry.position[0] + 3, entry.position[1] + 3]);
    const meta = await sharp(path.join(out, entry.patch!)).metadata();
    expect([meta.width, meta.height]).toEqual([3, 3]);
  });

  it('the CLI writes index.json per DESIGN.md, and topk-merge of two shards equals the unsharded run', async () => {
    const cli = path.join(ROOT, 'dist', 'electron', 'cli.cjs');
    const data = path.join(dir, 'data');
    const args = (extra: string[]) => [cli, 'topk', '--model', TINY, '--data', data, '--layer', 'c1', '--k', '9', ...extra];
    await run(process.execPath, args(['--out-dir', path.join(dir, 'cli-all')]));
    await run(process.execPath, args(['--out-dir', path.join(dir, 'cli-s0'), '--shard', '0/2']));
    await run(process.execPath, args(['--out-dir', path.join(dir, 'cli-s1'), '--shard', '1/2']));
    await run(process.execPath, [
      cli,
      'topk-merge',
      '--parts',
      `${path.join(dir, 'cli-s0')},${path.join(dir, 'cli-s1')}`,
      '--out-dir',
      path.join(dir, 'cli-merged'),
    ]);
    const all = JSON.parse(fs.readFileSync(path.join(dir, 'cli-all', 'index.json'), 'utf8'));
    const merged = JSON.parse(fs.readFileSync(path.join(dir, 'cli-merged', 'index.json'), 'utf8'));
    expect(all.layer).toBe('c1');
    expect(all.k).toBe(9);
    expect(all.units[0].top[0]).toMatchObject({
      image: expect.stringMatching(/^[abc]\/.+\.png$/),
      value: expect.any(Number),
      position: [expect.any(Number), expect.any(Number)],
    });
    for (const u of all.units) for (let i = 1; i < u.top.length; i++) expect(u.top[i - 1].value).toBeGreaterThanOrEqual(u.top[i].value);
    expect(merged.units.map((u: { top: unknown[] }) => u.top.map((e) => (e as { image: string }).image))).toEqual(
      all.units.map((u: { top: unknown[] }) => u.top.map((e) => (e as { image: string }).image)),
    );
    const patch = merged.units[2].top[4].patch;
    expect(fs.readFileSync(path.join(dir, 'cli-merged', patch))).toEqual(fs.readFileSync(path.join(dir, 'cli-all', all.units[2].top[4].patch)));
  });
});
