/**
 * The project's wasm Conv2DBackpropFilter against the cpu backend's reference kernel, across shapes, strides and
 * paddings (including chunked batches).
 */
import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/engine/backend';

type Pad = 'same' | 'valid' | number;
const cases: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; s: [number, number]; pad: Pad }> = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], s: [1, 1], pad: 'same' },
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], s: [1, 1], pad: 'valid' },
  { x: [3, 9, 8, 2], f: [5, 5, 2, 6], s: [2, 2], pad: 'same' },
  { x: [1, 11, 11, 3], f: [7, 7, 3, 5], s: [2, 2], pad: 'valid' },
  { x: [2, 10, 10, 4], f: [3, 2, 4, 3], s: [1, 2], pad: 1 },
  { x: [4, 13, 13, 1], f: [4, 4, 1, 2], s: [3, 3], pad: 'same' },
];

/** Runs the Conv2DBackpropFilter kernel of whichever backend is active (not exported as a public op). */
function backpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], strides: number | [number, number], pad: Pad): tf.Tensor4D {
  return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
    strides,
    pad,
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
    filterShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** The forward output shape for these settings (dy must have it). */
function reference(x: tf.Tensor4D, f: [number, number, number, number], s: [number, number], pad: Pad) {
  return tf.conv2d(x, tf.zeros(f) as tf.Tensor4D, s, pad);
}

describe('Conv2DBackpropFilter on wasm', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  for (const c of cases) {
    it(`x ${c.x.join('x')} filter ${c.f.join('x')} stride ${c.s.join(',')} pad ${c.pad} matches the cpu backend`, async () => {
      // Random inputs are made on cpu, then the same values are run on both backends.
      await tf.setBackend('cpu');
      const xValues = tf.randomNormal(c.x, 0, 1, 'float32', 7);
      const outShape = reference(xValues as tf.Tensor4D, c.f, c.s, c.pad).shape as [number, number, number, number];
      const dyValues = tf.randomNormal(outShape, 0, 1, 'float32', 11);
      const xData = xValues.dataSync().slice();
      const dyData = dyValues.dataSync().slice();
      const expected = backpropFilter(xValues as tf.Tensor4D, dyValues as tf.Tensor4D, c.f, c.s, c.pad)
        .dataSync()
        .slice();
      tf.disposeVariables();
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const x = tf.tensor4d(xData, c.x);
      const dy = tf.tensor4d(dyData, outShape);
      const got = backpropFilter(x, dy, c.f, c.s, c.pad);
      expect(got.shape).toEqual(c.f);
      const gotData = await got.data();
      let maxErr = 0;
      let maxRef = 0;
      for (let i = 0; i < expected.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(gotData[i] - expected[i]));
        maxRef = Math.max(maxRef, Math.abs(expected[i]));
      }
      expect(maxRef).toBeGreaterThan(0.1);
      expect(maxErr / maxRef).toBeLessThan(1e-5);
      tf.dispose([x, dy, got]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('gradient of a conv layer trains on wasm (tf.grad through conv2d)', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 3) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 5) as tf.Tensor4D;
    const gradWasm = tf.grad((filter: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, filter as tf.Tensor4D, 1, 'same'))))(w);
    const wasmData = gradWasm.dataSync().slice();
    const xd = x.dataSync().slice();
    const wd = w.dataSync().slice();
    tf.dispose([x, w, gradWasm]);
    expect(tf.memory().numTensors).toBe(before);
    await tf.setBackend('cpu');
    const xc = tf.tensor4d(xd, [2, 6, 6, 2]);
    const wc = tf.tensor4d(wd, [3, 3, 2, 4]);
    const gradCpu = tf
      .grad((filter: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xc, filter as tf.Tensor4D, 1, 'same'))))(wc)
      .dataSync();
    for (let i = 0; i < gradCpu.length; i++) expect(wasmData[i]).toBeCloseTo(gradCpu[i], 2);
    tf.dispose([xc, wc]);
    await tf.setBackend('wasm');
  });

  it('chunks a batch whose scratch matrix exceeds the budget and still matches', () => {
    // 600 images × 16·16 positions × 3·3·8 rows > 8 Mi elements: forces several chunks.
    const info = { images: 600, h: 16, w: 16, c: 8 };
    const x = tf.randomUniform([info.images, info.h, info.w, info.c], -1, 1, 'float32', 1) as tf.Tensor4D;
    const dy = tf.randomUniform([info.images, info.h, info.w, 2], -1, 1, 'float32', 2) as tf.Tensor4D;
    const got = backpropFilter(x, dy, [3, 3, 8, 2], 1, 'same');
    // Independent: the sum over two halves of the batch equals the whole (each half fits in one chunk).
    const half = info.images / 2;
    const a = backpropFilter(tf.slice(x, 0, half), tf.slice(dy, 0, half), [3, 3, 8, 2], 1, 'same');
    const b = backpropFilter(tf.slice(x, half), tf.slice(dy, half), [3, 3, 8, 2], 1, 'same');
    const sum = tf.add(a, b).dataSync();
    const whole = got.dataSync();
    for (let i = 0; i < sum.length; i++) expect(whole[i]).toBeCloseTo(sum[i], 1);
    tf.dispose([x, dy, got, a, b]);
    tf.disposeVariables();
  });
});
