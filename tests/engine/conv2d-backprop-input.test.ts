/**
 * The project's wasm Conv2DBackpropInput (matmul + col2im) against the cpu backend's kernel, across shapes,
 * strides and paddings, including a batch big enough to be processed in chunks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
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
  { x: [300, 16, 16, 8], f: [3, 3, 8, 16], s: [1, 1], pad: 'same' },
];

function backpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: number[], strides: [number, number], pad: Pad): tf.Tensor4D {
  return tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, {
    strides,
    pad,
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
    inputShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

describe('Conv2DBackpropInput on wasm', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  for (const c of cases) {
    it(`x ${c.x.join('x')} filter ${c.f.join('x')} stride ${c.s.join(',')} pad ${c.pad} matches the cpu backend`, async () => {
      await tf.setBackend('cpu');
      const x = tf.zeros(c.x) as tf.Tensor4D;
      const outShape = tf.conv2d(x, tf.zeros(c.f) as tf.Tensor4D, c.s, c.pad).shape as [number, number, number, number];
      const dyCpu = tf.randomNormal(outShape, 0, 1, 'float32', 13) as tf.Tensor4D;
      const wCpu = tf.randomNormal(c.f, 0, 1, 'float32', 17) as tf.Tensor4D;
      const dyData = dyCpu.dataSync().slice();
      const wData = wCpu.dataSync().slice();
      const expected = backpropInput(dyCpu, wCpu, c.x, c.s, c.pad).dataSync().slice();
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const dy = tf.tensor4d(dyData, outShape);
      const w = tf.tensor4d(wData, c.f);
      const got = backpropInput(dy, w, c.x, c.s, c.pad);
      expect(got.shape).toEqual(c.x);
      const gotData = await got.data();
      let maxErr = 0;
      let maxRef = 0;
      for (let i = 0; i < expected.length; i++) {
        maxErr = Math.max(maxErr, Math.abs(gotData[i] - expected[i]));
        maxRef = Math.max(maxRef, Math.abs(expected[i]));
      }
      expect(maxRef).toBeGreaterThan(0.1);
      expect(maxErr / maxRef).toBeLessThan(1e-5);
      tf.dispose([dy, w, got]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
