/**
 * The batch path: ONNX Runtime (when installed) against tfjs, on every layer of models that together hold every
 * layer type the engine runs — Conv2D (SAME and VALID, strided), depthwise, separable and grouped convolutions,
 * max / average / global pooling with every padding, LRN (TF's alpha convention vs ONNX's per-window alpha),
 * batch norm, dense, ReLU / ReLU6 / leaky ReLU / tanh / sigmoid / softmax, add, concatenate, channel affine,
 * rescaling, normalization, flatten with reorder, padding. Relative error < 1e-4 per layer. Without
 * onnxruntime-node the tfjs fallback is used and says why.
 */
import * as path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/engine/backend';
import { openModel } from '../../electron/engine/model/loaded-model';
import { BUNDLED_MODEL_PATH } from '../../electron/engine/paths';
import { batchForward, batchMaxima, lastFallbackReason, maximaOf, releaseBatchSessions } from '../../electron/engine/runtime/batch-forward';
import { onnxRuntime, resetOnnxRuntimeForTests } from '../../electron/engine/runtime/onnx-runtime';
import { maxRelError } from '../helpers/numeric';

const FIX = path.resolve(__dirname, '..', 'fixtures');
const hasOrt = !!onnxRuntime().module;
if (!hasOrt) console.log(`skipped: ONNX Runtime agreement (${onnxRuntime().reason})`);

function seeded(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
}

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
});

const MODELS = [
  BUNDLED_MODEL_PATH,
  path.join(FIX, 'onnx', 'cnn-ops.onnx'),
  path.join(FIX, 'onnx', 'residual-concat.onnx'),
  path.join(FIX, 'onnx', 'legacy-opset9.onnx'),
  path.join(FIX, 'keras', 'seq-legacy.h5'),
  path.join(FIX, 'keras', 'functional.keras'),
];

describe.skipIf(!hasOrt)('ONNX Runtime batch path agrees with tfjs', () => {
  for (const file of MODELS) {
    it(`every layer of ${path.basename(file)}`, async () => {
      const loaded = await openModel(file, file);
      try {
        const layers = loaded.summary.layers.map((l) => l.name);
        const n = 3;
        const input = seeded(n * loaded.summary.inputShape.reduce((a, b) => a * b, 1), 11).map((v) => v * 2 - 0.5);
        const before = tf.memory().numTensors;
        const ort = await batchForward(loaded, layers, 'onnxruntime');
        const tfjs = await batchForward(loaded, layers, 'tfjs');
        expect(ort.engine).toMatch(/^onnxruntime/);
        expect(tfjs.engine).toMatch(/^tfjs/);
        const [a, b] = [await ort.run(input, n), await tfjs.run(input, n)];
        expect(tf.memory().numTensors).toBe(before);
        layers.forEach((layer, i) => {
          expect(a[i].shape, layer).toEqual(b[i].shape);
          expect(maxRelError(a[i].data, b[i].data), `${path.basename(file)} ${layer} (${loaded.summary.layers[i].type})`).toBeLessThan(1e-4);
        });
      } finally {
        await releaseBatchSessions(loaded);
        loaded.dispose();
      }
    });
  }
});

describe.skipIf(!hasOrt)('ONNX Runtime maxima (the top-k scan) agree with maxima of tfjs maps', () => {
  for (const file of MODELS.slice(0, 3)) {
    it(`every layer of ${path.basename(file)}`, async () => {
      const loaded = await openModel(file, file);
      try {
        const layers = loaded.summary.layers.filter((l) => l.type !== 'InputLayer').map((l) => l.name);
        const n = 4;
        const input = seeded(n * loaded.summary.inputShape.reduce((a, b) => a * b, 1), 5).map((v) => v * 2 - 0.5);
        const ort = await batchMaxima(loaded, layers, 'onnxruntime');
        expect(ort.engine).toMatch(/^onnxruntime/);
        const maps = await (await batchForward(loaded, layers, 'tfjs')).run(input, n);
        const got = await ort.run(input, n);
        let positions = 0;
        layers.forEach((layer, li) => {
          const want = maximaOf(maps[li], n);
          expect(got[li].units, layer).toBe(want.units);
          expect(maxRelError(got[li].values, want.values), layer).toBeLessThan(1e-4);
          const map = maps[li].data;
          const perImage = map.length / n;
          for (let j = 0; j < want.at.length; j++) {
            if (got[li].at[j] === want.at[j]) continue;
            // Only a near tie may pick another position: the value there is the maximum too.
            const i = Math.floor(j / want.units);
            const v = map[i * perImage + got[li].at[j] * want.units + (j % want.units)];
            expect(Math.abs(v - want.values[j]), `${layer} channel ${j % want.units}`).toBeLessThan(1e-4 * Math.max(1, Math.abs(want.values[j])));
          }
          positions += want.spatial ? want.at.length : 0;
        });
        expect(positions).toBeGreaterThan(0);
      } finally {
        await releaseBatchSessions(loaded);
        loaded.dispose();
      }
    });
  }
});

describe('without ONNX Runtime', () => {
  afterEach(() => {
    delete process.env.CNN_INSPECTOR_ONNXRUNTIME;
    resetOnnxRuntimeForTests();
  });

  it('falls back to tfjs and says why', async () => {
    process.env.CNN_INSPECTOR_ONNXRUNTIME = '0';
    resetOnnxRuntimeForTests();
    const loaded = await openModel(BUNDLED_MODEL_PATH, 'b');
    try {
      const forward = await batchForward(loaded, ['conv1', 'fc8']);
      expect(forward.engine).toMatch(/^tfjs/);
      expect(lastFallbackReason).toMatch(/switched off/);
      const out = await forward.run(seeded(2 * 784, 5), 2);
      expect(out.map((o) => o.shape)).toEqual([
        [2, 28, 28, 32],
        [2, 10],
      ]);
      await expect(batchForward(loaded, ['conv1'], 'onnxruntime')).rejects.toMatchObject({ code: 'JOB_FAILED' });
    } finally {
      await releaseBatchSessions(loaded);
      loaded.dispose();
    }
  });

  it('uses every core: batches split over helper threads give the single-thread outputs, in order', async () => {
    process.env.CNN_INSPECTOR_ONNXRUNTIME = '0';
    process.env.CNN_INSPECTOR_FORWARD_THREADS = '2';
    resetOnnxRuntimeForTests();
    const loaded = await openModel(path.join(FIX, 'onnx', 'residual-concat.onnx'), 'rc');
    try {
      const layers = ['branch3', 'fc'];
      const parallel = await batchForward(loaded, layers);
      expect(parallel.engine).toMatch(/tfjs \(wasm\) × 3 threads/);
      const single = await batchForward(loaded, layers, 'tfjs');
      const n = 7;
      const input = seeded(n * 24 * 24 * 3, 21);
      const [a, b] = [await parallel.run(input, n), await single.run(input, n)];
      layers.forEach((layer, i) => {
        expect(a[i].shape, layer).toEqual(b[i].shape);
        expect(maxRelError(a[i].data, b[i].data), layer).toBeLessThan(1e-5);
      });
    } finally {
      delete process.env.CNN_INSPECTOR_FORWARD_THREADS;
      await releaseBatchSessions(loaded);
      loaded.dispose();
    }
  });
});
