/**
 * The shared activation collection: its .npy files hold exactly the layer outputs computed here image by image
 * (spatial max, non-zero counts, unit ranges, whole maps), float16 maps are what NumPy makes of the same values,
 * a second analysis reuses the files instead of collecting again, and a probe gives the same answer whether the
 * maps were kept or had to be computed again (over the size budget).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerActivations } from '../../electron/engine/analyses/activations';
import { collectActivations, mapsFile, mapsReader, maxFile, readNonzero, readSpatialMax } from '../../electron/engine/features/collect';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { linearProbes, probeThreadCount } from '../../electron/engine/analyses/probe';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/engine/backend';
import { openDataset, type Dataset } from '../../electron/engine/data/dataset';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';
import { mirrorImages } from '../../electron/engine/features/augment';
import { floatToHalf, halfToFloat, NpyRowReader, NpyStreamWriter } from '../../electron/engine/files/npy-stream';
import { topBottom, writeImageFolder } from '../helpers/image-folders';
import { maxRelError } from '../helpers/numeric';

const TINY = path.resolve(__dirname, '..', 'fixtures', 'models', 'tiny-functional', 'model.json');
let dir: string;
let loaded: LoadedModel;
let dataset: Dataset;
const messages: string[] = [];
const ctx = makeJobContext(
  (_d, _t, message) => void messages.push(message),
  () => false,
);

const numpy = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('activation collection', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collect-'));
    process.env.CNN_INSPECTOR_WORKSPACE = path.join(dir, 'ws');
    await writeImageFolder(path.join(dir, 'data'), ['top', 'bottom'], 12, 7, topBottom);
    dataset = openDataset(path.join(dir, 'data'), 'tb');
    loaded = await openModel(TINY, 'tiny');
  });
  afterAll(() => {
    loaded?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('float16: IEEE half with round-to-nearest-even, subnormals and overflow', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00],
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [2 ** -24, 0x0001],
      [2 ** -25, 0x0000],
      [3 * 2 ** -25, 0x0002],
      [2 ** -14, 0x0400],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [1 + 2 ** -11, 0x3c00],
      [1 + 3 * 2 ** -11, 0x3c02],
      [2047, 0x67ff],
      [4095, 0x6c00],
      [NaN, 0x7e00],
    ];
    for (const [value, bits] of cases) expect([value, floatToHalf(value)]).toEqual([value, bits]);
    for (const [, bits] of cases.filter(([v]) => Number.isFinite(v) && Math.abs(v) <= 65504 && v !== 2 ** -25))
      expect(floatToHalf(halfToFloat(bits))).toBe(bits);
  });

  it.skipIf(!numpy)('streamed .npy files (float32, float16, int32) load in NumPy with the same values NumPy itself gives', () => {
    const values = Float32Array.from({ length: 6 * 5 }, (_, i) => Math.sin(i * 1.7) * 10 ** ((i % 9) - 4));
    for (const dtype of ['float32', 'float16'] as const) {
      const file = path.join(dir, `stream-${dtype}.npy`);
      const w = new NpyStreamWriter(file, dtype, [5]);
      w.append(values.subarray(0, 10), 2);
      w.append(values.subarray(10), 4);
      expect(w.close()).toBe(6);
      const script = `import numpy as np, sys, json
a = np.load(sys.argv[1]); ref = np.array(json.loads(sys.argv[2]), dtype=np.float32).reshape(6, 5).astype(np.${dtype})
print(json.dumps([list(a.shape), str(a.dtype), bool((a == ref).all())]))`;
      const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, file, JSON.stringify(Array.from(values))], { encoding: 'utf8' }));
      expect(out).toEqual([[6, 5], dtype, true]);
      expect(new NpyRowReader(file).read(2, 3).length).toBe(15);
    }
  });

  it('one pass keeps each layer’s spatial max, non-zero counts, unit ranges, maps and labels — equal to the layer outputs', async () => {
    const acts = await collectActivations(loaded, dataset, ['c1', 'out'], { maps: true }, ctx);
    expect(acts.images).toBe(24);
    expect(Array.from(acts.labels)).toEqual(dataset.entries.map((e) => e.classIndex));
    const max = readSpatialMax(acts, 'c1');
    const nonzero = readNonzero(acts, 'c1');
    const maps = mapsReader(acts, 'c1')!;
    expect(acts.layers.c1.maps?.dtype).toBe('float32');
    const unitMin = new Array(4).fill(Infinity);
    const unitMax = new Array(4).fill(-Infinity);
    for (const e of dataset.entries) {
      // The kept maps are the layer's output (computed here with tfjs; the collection may run ONNX Runtime).
      const x = await dataset.loadInput(e.index, loaded.summary.preprocessing, loaded.summary.inputShape);
      const reference = layerActivations(loaded, 'c1', x);
      const row = Array.from(maps.read(e.index, 1));
      expect(maxRelError(row, reference.data)).toBeLessThan(1e-5);
      // Spatial max, non-zero count and unit ranges are exactly those of the kept maps.
      const expectedMax = [0, 1, 2, 3].map((u) => Math.max(...row.filter((_, k) => k % 4 === u)));
      expect(Array.from(max.subarray(e.index * 4, e.index * 4 + 4))).toEqual(expectedMax);
      expect(nonzero[e.index]).toBe(row.filter((v) => v !== 0).length);
      row.forEach((v, k) => {
        unitMin[k % 4] = Math.min(unitMin[k % 4], v);
        unitMax[k % 4] = Math.max(unitMax[k % 4], v);
      });
    }
    expect(acts.layers.c1.unitMin).toEqual(unitMin);
    expect(acts.layers.c1.unitMax).toEqual(unitMax);
    expect(readSpatialMax(acts, 'out').length).toBe(24 * 3); // a dense layer: the values themselves
  });

  it('a collection of the mirror images holds the layer outputs of the images flipped left↔right', async () => {
    const acts = await collectActivations(loaded, dataset, ['c1'], { maps: true, mirror: true }, ctx);
    const plain = await collectActivations(loaded, dataset, ['c1'], { maps: true }, ctx);
    expect(acts.dir).not.toBe(plain.dir);
    const maps = mapsReader(acts, 'c1')!;
    for (const e of dataset.entries.slice(0, 4)) {
      const x = await dataset.loadInput(e.index, loaded.summary.preprocessing, loaded.summary.inputShape);
      const reference = layerActivations(loaded, 'c1', mirrorImages(x, [1, 12, 12, 3]));
      expect(maxRelError(maps.read(e.index, 1), reference.data)).toBeLessThan(1e-5);
    }
  });

  it('a later analysis reuses the files; a new layer is collected alone', async () => {
    const before = fs.statSync(maxFile(await collectActivations(loaded, dataset, ['c1'], {}, ctx), 'c1')).mtimeMs;
    messages.length = 0;
    const again = await collectActivations(loaded, dataset, ['c1', 'out'], { maps: true }, ctx);
    expect(messages).toEqual(['Using the activations collected before']);
    messages.length = 0;
    const more = await collectActivations(loaded, dataset, ['c1', 'p1'], {}, ctx);
    expect(messages.some((m) => m.startsWith('Collecting activations'))).toBe(true);
    expect(fs.statSync(maxFile(again, 'c1')).mtimeMs).toBe(before);
    expect(Object.keys(more.layers).sort()).toEqual(['c1', 'out', 'p1']);
  });

  it('float16 maps when asked; over the size budget no maps are kept and a probe computes them again, with the same answer', async () => {
    const half = await collectActivations(loaded, dataset, ['p1'], { maps: true, mapsDtype: 'float16' }, ctx);
    expect(half.layers.p1.maps?.dtype).toBe('float16');
    expect(fs.statSync(mapsFile(half, 'p1')).size).toBe(128 + 24 * 5 * 5 * 4 * 2);
    const kept = await linearProbes(loaded, dataset, { layers: ['c1'], ablations: ['original', 'maxpool'], seeds: 2 }, ctx);
    process.env.CNN_INSPECTOR_MAPS_BUDGET = '100';
    try {
      const other = openDataset(path.join(dir, 'data'), 'tb-again');
      // A fresh workspace: nothing collected yet, and the budget refuses the maps.
      process.env.CNN_INSPECTOR_WORKSPACE = path.join(dir, 'ws2');
      const acts = await collectActivations(loaded, other, ['c1'], { maps: true }, ctx);
      expect(acts.layers.c1.maps).toBeUndefined();
      expect(acts.layers.c1.mapsSkipped).toMatch(/GiB kept per layer/);
      const recomputed = await linearProbes(loaded, other, { layers: ['c1'], ablations: ['original', 'maxpool'], seeds: 2 }, ctx);
      expect(recomputed).toEqual(kept);
    } finally {
      delete process.env.CNN_INSPECTOR_MAPS_BUDGET;
      process.env.CNN_INSPECTOR_WORKSPACE = path.join(dir, 'ws');
    }
  });

  it('probes on two helper threads give exactly the in-thread results; cancelling stops the threads', async () => {
    const options = { layers: ['c1', 'p1'], ablations: ['original' as const, 'shuffled' as const], seeds: 2 };
    const before = tf.memory().numTensors;
    process.env.CNN_INSPECTOR_PROBE_THREADS = '1';
    try {
      expect(probeThreadCount()).toBe(1);
      const here = await linearProbes(loaded, dataset, options, ctx);
      process.env.CNN_INSPECTOR_PROBE_THREADS = '2';
      expect(probeThreadCount()).toBe(2); // the helper script is built (npm test builds first)
      const seen: string[] = [];
      const threaded = await linearProbes(
        loaded,
        dataset,
        options,
        makeJobContext(
          (_d, _t, m) => void seen.push(m),
          () => false,
        ),
      );
      expect(seen.some((m) => m.endsWith('· 2 cores'))).toBe(true);
      expect(threaded).toEqual(here);
      let probing = 0;
      const cancelling = makeJobContext(
        (_d, _t, m) => void (m.startsWith('Probing') && probing++),
        () => probing > 0,
      );
      await expect(linearProbes(loaded, dataset, options, cancelling)).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      delete process.env.CNN_INSPECTOR_PROBE_THREADS;
    }
  });

  it.skipIf(!numpy)('the CLI writes the collection where asked; NumPy reads it and its numbers are the collection’s', async () => {
    const out = path.join(dir, 'exported');
    const stdout = execFileSync(
      process.execPath,
      [
        path.resolve(__dirname, '..', '..', 'dist/electron/cli.cjs'),
        'collect',
        '--model',
        TINY,
        '--data',
        path.join(dir, 'data'),
        '--layers',
        'c1,out',
        '--maps',
        '--float16',
        '--out-dir',
        out,
      ],
      { encoding: 'utf8' },
    );
    const printed = JSON.parse(stdout);
    expect(printed.images).toBe(24);
    expect(printed.layers.map((l: { layer: string; maps_dtype: string }) => [l.layer, l.maps_dtype])).toEqual([
      ['c1', 'float16'],
      ['out', 'float16'],
    ]);
    const script = `import numpy as np, json, sys
d = sys.argv[1]
m = np.load(d + '/c1.maps.npy'); x = np.load(d + '/c1.max.npy'); n = np.load(d + '/c1.nonzero.npy'); y = np.load(d + '/labels.npy')
print(json.dumps([list(m.shape), str(m.dtype), list(x.shape), str(n.dtype), y.tolist(), bool((m.astype(np.float32).max(axis=(1, 2)) == x.astype(np.float16).astype(np.float32)).all()), bool(((m != 0).sum(axis=(1, 2, 3)) <= n).all())]))`;
    const [mapsShape, mapsDtype, maxShape, nonzeroDtype, labels, maxAgrees, nonzeroAgrees] = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, out], { encoding: 'utf8' }),
    );
    expect([mapsShape, mapsDtype, maxShape, nonzeroDtype]).toEqual([[24, 10, 10, 4], 'float16', [24, 4], 'int32']);
    expect(labels).toEqual(dataset.entries.map((e) => e.classIndex));
    // The float16 maps' spatial max is the float32 max rounded to float16; rounding can only turn values into 0.
    expect([maxAgrees, nonzeroAgrees]).toEqual([true, true]);
  });
});
