/**
 * The batched deconvnet on ONNX Runtime (runtime/batch-projection.ts) against the per-unit tfjs path
 * (analyses/projection.ts, itself tested against hand loops): the same projections, within float tolerance, for
 * every convolution layer of the bundled model (ZF-style strided convs, overlapping 3×3/2 pooling, LRN), of an
 * imported graph with batch norm, leaky ReLU, ReLU6, depthwise and grouped convolutions, and of one with a residual
 * add and a concatenation — many units and images in one run, each seed from its own position. Layers the batched
 * rules do not cover are refused with the reason, and the atlas then draws the same sheets one unit at a time.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { projectUnit, projectUnitBatch, projectUnitFast } from '../../electron/engine/analyses/projection';
import { maxRelError } from '../helpers/numeric';
import { atlasCandidateLayers, buildAtlas } from '../../electron/engine/analyses/atlas';
import { initBackend } from '../../electron/engine/backend';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { openDataset } from '../../electron/engine/data/dataset';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';
import { PROJECTION_METHODS } from '../../shared/contract';
import { exportDeconvnetOnnx } from '../../electron/engine/model/onnx/deconvnet';
import { fileSystemSaver } from '../../electron/engine/model/tfjs-io';
import { batchDeconvnet, switchedDeconvnet, type ProjectionSeed } from '../../electron/engine/runtime/batch-projection';
import { onnxRuntime, resetOnnxRuntimeForTests } from '../../electron/engine/runtime/onnx-runtime';
import { releaseBatchSessions } from '../../electron/engine/runtime/batch-forward';

const ROOT = path.resolve(__dirname, '..', '..');
const hasOrt = onnxRuntime().module !== undefined;

function inputsFor(loaded: LoadedModel, n: number, seed: number): Float32Array[] {
  const size = loaded.summary.inputShape.reduce((a, b) => a * b, 1);
  let s = seed;
  return Array.from({ length: n }, () =>
    Float32Array.from({ length: size }, () => {
      s = (s * 69069 + 1) % 4294967296;
      return (s / 4294967296 - 0.5) * 4;
    }),
  );
}

/** Largest |batched − per-unit| over the largest |per-unit| value, over every projection of `units` on `inputs`. */
async function compareLayer(loaded: LoadedModel, layer: string, units: number[], inputs: Float32Array[]): Promise<{ rel: number; maxAbs: number }> {
  const size = inputs[0].length;
  const reference = units.flatMap((unit) => projectUnitBatch(loaded, inputs, layer, unit, 'deconv'));
  const { deconvnet, reason } = await batchDeconvnet(loaded, layer);
  expect(reason).toBeUndefined();
  const seeds: ProjectionSeed[] = reference.map((r) => ({ unit: r.unit, position: r.position, value: r.value }));
  const batch = new Float32Array(reference.length * size);
  units.forEach((_, u) => inputs.forEach((x, i) => batch.set(x, (u * inputs.length + i) * size)));
  const out = await deconvnet!.project(batch, seeds);
  expect(out.length).toBe(reference.length * size);
  let maxAbs = 0;
  let maxDiff = 0;
  reference.forEach((r, i) =>
    r.data.forEach((v, j) => {
      maxAbs = Math.max(maxAbs, Math.abs(v));
      maxDiff = Math.max(maxDiff, Math.abs(v - out[i * size + j]));
    }),
  );
  return { rel: maxAbs > 0 ? maxDiff / maxAbs : maxDiff, maxAbs };
}

describe.skipIf(!hasOrt)('batched deconvnet on ONNX Runtime', () => {
  const opened: LoadedModel[] = [];
  const open = async (file: string) => {
    const m = await openModel(file, file);
    opened.push(m);
    return m;
  };
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });
  afterAll(async () => {
    for (const m of opened) {
      await releaseBatchSessions(m);
      m.dispose();
    }
  });

  it('equals the per-unit path on every convolution layer of the bundled model', async () => {
    const loaded = await open(path.join(ROOT, 'resources/model/model.json'));
    const inputs = inputsFor(loaded, 3, 7);
    const before = tf.memory().numTensors;
    let live = 0;
    for (const layer of atlasCandidateLayers(loaded).filter((l) => l.startsWith('conv'))) {
      const { rel, maxAbs } = await compareLayer(loaded, layer, [0, 1, 2, 5], inputs);
      if (maxAbs > 0) live++;
      expect(rel, layer).toBeLessThan(1e-5);
    }
    expect(live).toBeGreaterThanOrEqual(3); // the comparison saw real signals, not only dead units
    expect(tf.memory().numTensors).toBe(before);
  });

  it('equals it through batch norm, leaky ReLU, LRN, depthwise and grouped convolutions (imported ONNX)', async () => {
    const loaded = await open(path.join(ROOT, 'tests/fixtures/onnx/cnn-ops.onnx'));
    const inputs = inputsFor(loaded, 2, 11);
    for (const layer of ['conv1', 'conv2', 'dw', 'gconv']) {
      const { rel, maxAbs } = await compareLayer(loaded, layer, [0, 3], inputs);
      expect(maxAbs, layer).toBeGreaterThan(0);
      expect(rel, layer).toBeLessThan(1e-5);
    }
  });

  it('equals it through a concatenation and a residual add, each seed from its own position', async () => {
    const loaded = await open(path.join(ROOT, 'tests/fixtures/onnx/residual-concat.onnx'));
    const inputs = inputsFor(loaded, 4, 3);
    for (const layer of atlasCandidateLayers(loaded).filter((l) => loaded.summary.layers.find((x) => x.name === l)!.outputShape.length === 3)) {
      const { rel, maxAbs } = await compareLayer(loaded, layer, [0, 1], inputs);
      expect(maxAbs, layer).toBeGreaterThan(0);
      expect(rel, layer).toBeLessThan(1e-5);
    }
    // A seed at a chosen position, not the maximum: still the per-unit answer.
    const [ref] = projectUnitBatch(loaded, [inputs[0]], 'stem', 1, 'deconv', [[2, 3]]);
    const { deconvnet } = await batchDeconvnet(loaded, 'stem');
    const out = await deconvnet!.project(inputs[0], [{ unit: 1, position: [2, 3], value: ref.value }]);
    const maxAbs = ref.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(Math.max(...ref.data.map((v, i) => Math.abs(v - out[i]))) / maxAbs).toBeLessThan(1e-5);
  });

  // Made by build/onnx-fixtures.py (tests/engine/onnx-import.test.ts makes it where PyTorch is installed).
  const resnet = path.join(process.env.CNN_INSPECTOR_ONNX_FIXTURES ?? path.join(os.tmpdir(), 'cnn-inspector-onnx-torchvision'), 'resnet18.onnx');
  it.skipIf(!fs.existsSync(resnet))('equals it on torchvision ResNet-18: padding, overlapping pool, residual blocks, strided 1×1 shortcuts', async () => {
    const loaded = await open(resnet);
    const inputs = inputsFor(loaded, 2, 5);
    for (const layer of ['conv1', 'layer1.0.conv2', 'layer2.0.downsample.0', 'layer4.1.conv2']) {
      const { rel, maxAbs } = await compareLayer(loaded, layer, [0, 7], inputs);
      expect(maxAbs, layer).toBeGreaterThan(0);
      expect(rel, layer).toBeLessThan(1e-5);
    }
  });

  it('unpools windows that cannot overlap (2×2 pools, an odd map padded "same") with MaxUnpool, to the same numbers', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pools2x2-'));
    try {
      const m = tfl.sequential();
      m.add(tfl.layers.conv2d({ name: 'c1', inputShape: [15, 15, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }));
      m.add(tfl.layers.maxPooling2d({ name: 'p1', poolSize: 2 })); // 15 → 7 ("valid")
      m.add(tfl.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }));
      m.add(tfl.layers.maxPooling2d({ name: 'p2', poolSize: 2, padding: 'same' })); // 7 → 4: the last row and column padded
      m.add(tfl.layers.conv2d({ name: 'c3', filters: 5, kernelSize: 2, activation: 'relu' }));
      await m.save(fileSystemSaver(dir));
      m.dispose();
      const loaded = await open(path.join(dir, 'model.json'));
      const graph = Buffer.from(exportDeconvnetOnnx(loaded.model, 'c3')).toString('latin1');
      // Both pools unpooled by MaxUnpool; the one scatter left places the seeds.
      // (NodeProto's op_type: field 4, a length-delimited string.)
      const count = (op: string) => graph.split(`\u0022${String.fromCharCode(op.length)}${op}`).length - 1;
      expect([count('MaxUnpool'), count('ScatterElements')]).toEqual([2, 1]);
      const inputs = inputsFor(loaded, 3, 13);
      for (const layer of ['c2', 'c3']) {
        const { rel, maxAbs } = await compareLayer(loaded, layer, [0, 1, 4], inputs);
        expect(maxAbs, layer).toBeGreaterThan(0);
        expect(rel, layer).toBeLessThan(1e-5);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const vgg = path.join(path.dirname(resnet), 'vgg11.onnx');
  it.skipIf(!fs.existsSync(vgg))('equals it on torchvision VGG-11 (five 2×2 pools, unpooled by MaxUnpool)', async () => {
    const loaded = await open(vgg);
    const inputs = inputsFor(loaded, 2, 3);
    const convs = atlasCandidateLayers(loaded).filter((l) => loaded.summary.layers.find((x) => x.name === l)!.outputShape.length === 3);
    for (const layer of [convs[2], convs[convs.length - 1]]) {
      const { rel, maxAbs } = await compareLayer(loaded, layer, [0, 5], inputs);
      expect(maxAbs, layer).toBeGreaterThan(0);
      expect(rel, layer).toBeLessThan(1e-5);
    }
  });

  it('in two halves — switches per image, then the way down from seeds — gives the projections of the whole graph', async () => {
    const models = [path.join(ROOT, 'resources/model/model.json'), ...(fs.existsSync(resnet) ? [resnet] : [])];
    for (const file of models) {
      const loaded = await open(file);
      const inputs = inputsFor(loaded, 3, 9);
      const size = inputs[0].length;
      const batch = new Float32Array(3 * size);
      inputs.forEach((x, i) => batch.set(x, i * size));
      for (const layer of atlasCandidateLayers(loaded).filter((l) => loaded.summary.layers.find((x) => x.name === l)!.outputShape.length === 3)) {
        const [h, w] = loaded.summary.layers.find((x) => x.name === layer)!.outputShape;
        const seeds = [0, 1, 2].map((i) => ({ unit: 1, position: [Math.floor((h * (i + 1)) / 4), Math.floor((w * (3 - i)) / 4)], value: 1 + i }));
        const { deconvnet: whole } = await batchDeconvnet(loaded, layer);
        const { deconvnet: halves, reason } = await switchedDeconvnet(loaded, layer);
        expect(reason, layer).toBeUndefined();
        const switches = await halves!.switchesOf(batch, 3);
        expect(switches.map((s) => s.length)).toEqual([halves!.pools.length, halves!.pools.length, halves!.pools.length]);
        // Seeds in another order than their images: each takes its own image's switches.
        const order = [2, 0, 1];
        const split = await halves!.project(
          order.map((i) => switches[i]),
          order.map((i) => seeds[i]),
        );
        const reordered = new Float32Array(3 * size);
        order.forEach((img, i) => reordered.set(inputs[img], i * size));
        const ref = await whole!.project(
          reordered,
          order.map((i) => seeds[i]),
        );
        expect(maxRelError(split, ref), `${path.basename(file)} ${layer}`).toBeLessThan(1e-6);
        expect(
          ref.some((v) => v !== 0),
          `${path.basename(file)} ${layer}: a signal reached the pixels`,
        ).toBe(true);
        await halves!.release();
        await whole!.release();
      }
    }
  });

  it('the interactive projection (ONNX Runtime, all three methods) equals the per-unit path, layer after layer', async () => {
    const loaded = await open(path.join(ROOT, 'tests/fixtures/onnx/residual-concat.onnx'));
    const [x] = inputsFor(loaded, 1, 21);
    const before = tf.memory().numTensors;
    let live = 0;
    for (const method of PROJECTION_METHODS)
      for (const [layer, position] of [
        ['stem', undefined],
        ['branch3', [1, 2]],
        ['stem', [4, 0]],
      ] as const) {
        const fast = await projectUnitFast(loaded, x, layer, 1, method, position ? [...position] : undefined);
        const ref = projectUnit(loaded, x, layer, 1, method, position ? [...position] : undefined);
        expect(fast.engine, method).toBe('onnxruntime');
        expect(fast.position).toEqual(ref.position);
        expect(fast.value).toBeCloseTo(ref.value, 5);
        expect(maxRelError(fast.data, ref.data), `${method} ${layer}`).toBeLessThan(1e-5);
        if (ref.data.some((v) => v !== 0)) live++;
      }
    expect(live).toBeGreaterThanOrEqual(6); // real signals compared, not only dead units
    expect(tf.memory().numTensors).toBe(before);
    await expect(projectUnitFast(loaded, x, 'stem', 999, 'deconv')).rejects.toMatchObject({ code: 'UNIT_OUT_OF_RANGE' });
    await expect(projectUnitFast(loaded, x, 'stem', 0, 'deconv', [99, 0])).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(projectUnitFast(loaded, x, 'stem', 0, 'sideways' as never)).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });

  it('gradient and guided backprop on ONNX Runtime equal the per-unit path on the bundled model and ResNet-18', async () => {
    const models = [path.join(ROOT, 'resources/model/model.json'), ...(fs.existsSync(resnet) ? [resnet] : [])];
    for (const file of models) {
      const loaded = await open(file);
      const [x] = inputsFor(loaded, 1, 17);
      const convs = atlasCandidateLayers(loaded).filter((l) => loaded.summary.layers.find((i) => i.name === l)!.outputShape.length === 3);
      for (const method of ['gradient', 'guided'] as const)
        for (const layer of [convs[1], convs[convs.length - 1]]) {
          // The first unit whose projection is not all zeros (a dead unit would compare nothing).
          const unit = [0, 1, 2, 3, 4, 5, 6, 7].find((u) => projectUnit(loaded, x, layer, u, method).data.some((v) => v !== 0));
          expect(unit, `${method} ${layer}: a live unit`).toBeDefined();
          const fast = await projectUnitFast(loaded, x, layer, unit!, method);
          expect(fast.engine, `${method} ${layer}`).toBe('onnxruntime');
          expect(maxRelError(fast.data, projectUnit(loaded, x, layer, unit!, method).data), `${method} ${layer}`).toBeLessThan(1e-5);
        }
    }
  });

  it('gradient and guided backprop through a layer they have no rule for (batch norm, leaky ReLU) stay on tfjs', async () => {
    const loaded = await open(path.join(ROOT, 'tests/fixtures/onnx/cnn-ops.onnx'));
    const [x] = inputsFor(loaded, 1, 5);
    const { deconvnet, reason } = await batchDeconvnet(loaded, 'conv2', 'batch', 'guided');
    expect(deconvnet).toBeUndefined();
    expect(reason).toMatch(/no guided rule for it/);
    const guided = await projectUnitFast(loaded, x, 'conv2', 0, 'guided');
    expect(guided.engine).toBe('tfjs');
    expect(guided.data).toEqual(projectUnit(loaded, x, 'conv2', 0, 'guided').data);
  });

  it('refuses, with the reason, a layer below which its rules do not reach', async () => {
    const loaded = await open(path.join(ROOT, 'tests/fixtures/onnx/less-common-ops.onnx'));
    const { deconvnet, reason } = await batchDeconvnet(loaded, 'conv2');
    expect(deconvnet).toBeUndefined();
    expect(reason).toMatch(/cannot pass through "[^"]+" \((EdgePadding2D|DilatedPooling2D|PReLU|ScaledElu|PickChannels|ZeroInsertion2D|MapMatMul|Clip)\)/);
  });

  it('draws the same atlas sheets as the per-unit path', async () => {
    const modelFile = path.join(ROOT, 'resources/model/model.json');
    const dataset = await openDataset(path.join(ROOT, 'resources/samples'), 'samples');
    const dirs = [fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-ort-')), fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-tfjs-'))];
    const layers = ['conv1', 'conv4'];
    const messages: string[][] = [[], []];
    const reports: Array<[number, number]> = [];
    const recording = (i: number) =>
      makeJobContext(
        (done, total, message) => {
          messages[i].push(message);
          if (i === 0) reports.push([done, total]);
        },
        () => false,
      );
    const ort = await open(modelFile);
    await buildAtlas(ort, dataset, dirs[0], { k: 4, layers }, recording(0));
    process.env.CNN_INSPECTOR_ONNXRUNTIME = '0';
    resetOnnxRuntimeForTests();
    try {
      const tfjs = await open(modelFile);
      await buildAtlas(tfjs, dataset, dirs[1], { k: 4, layers }, recording(1));
    } finally {
      delete process.env.CNN_INSPECTOR_ONNXRUNTIME;
      resetOnnxRuntimeForTests();
    }
    // It measured first and said the whole time up front; then one bar over both phases, never going back.
    expect(messages[0][0]).toMatch(/^Measuring how long/);
    expect(messages[0][1]).toMatch(/the whole atlas: about \d+ (s|min)$/);
    const after = reports.slice(1);
    expect(new Set(after.map(([, total]) => total)).size).toBe(1);
    after.forEach(([done], i) => expect(done).toBeGreaterThanOrEqual(i ? after[i - 1][0] : 0));
    expect(after.at(-1)![0]).toBeCloseTo(after[0][1], 0);
    // The first drew on ONNX Runtime, the second one unit at a time, and each said so.
    expect(messages[0].filter((m) => m.startsWith('Drawing')).length).toBeGreaterThan(0);
    expect(messages[0].filter((m) => m.startsWith('Drawing')).every((m) => !m.includes('tfjs'))).toBe(true);
    expect(messages[1].filter((m) => m.startsWith('Drawing')).at(-1)).toMatch(/one unit at a time/);
    let sheets = 0;
    for (const layer of layers) {
      for (const file of fs.readdirSync(path.join(dirs[1], 'sheets', layer))) {
        const [a, b] = await Promise.all(
          dirs.map((d) =>
            sharp(path.join(d, 'sheets', layer, file))
              .raw()
              .toBuffer(),
          ),
        );
        expect(a.length).toBe(b.length);
        // 8-bit pixels of float projections: a rounding may differ by one level, nothing more.
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        expect(worst, `${layer}/${file}`).toBeLessThanOrEqual(1);
        sheets++;
      }
    }
    expect(sheets).toBe(ort.summary.layers.filter((l) => layers.includes(l.name)).reduce((s, l) => s + l.outputShape[2], 0));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
});
