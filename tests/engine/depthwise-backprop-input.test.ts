/**
 * The project's wasm DepthwiseConv2dNativeBackpropInput (the backend has none) against the cpu backend's kernel,
 * across multipliers, strides and paddings (TF.js never asks for it with dilations: its gradient refuses them, and
 * the importer turns dilated convolutions into plain ones with spread kernels).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/engine/backend';
import { maxRelError } from '../helpers/numeric';

const cases: Array<{
  x: [number, number, number, number];
  f: [number, number, number, number];
  s: [number, number];
  pad: 'same' | 'valid';
  d: [number, number];
}> = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 1], s: [1, 1], pad: 'same', d: [1, 1] },
  { x: [1, 9, 8, 4], f: [3, 3, 4, 2], s: [2, 2], pad: 'same', d: [1, 1] },
  { x: [2, 11, 11, 2], f: [5, 5, 2, 3], s: [2, 2], pad: 'valid', d: [1, 1] },
];

const backprop = (dy: tf.Tensor4D, filter: tf.Tensor4D, c: (typeof cases)[number]) =>
  tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter }, {
    strides: c.s,
    dilations: c.d,
    pad: c.pad,
    inputShape: c.x,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;

describe('DepthwiseConv2dNativeBackpropInput on wasm', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  for (const c of cases) {
    it(`x ${c.x.join('x')} filter ${c.f.join('x')} stride ${c.s.join(',')} ${c.pad} dilation ${c.d.join(',')} matches the cpu backend`, async () => {
      await tf.setBackend('cpu');
      const outShape = tf.depthwiseConv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.f) as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d).shape as [
        number,
        number,
        number,
        number,
      ];
      const dyData = (tf.randomNormal(outShape, 0, 1, 'float32', 3) as tf.Tensor4D).dataSync().slice();
      const fData = (tf.randomNormal(c.f, 0, 1, 'float32', 5) as tf.Tensor4D).dataSync().slice();
      const expected = backprop(tf.tensor4d(dyData, outShape), tf.tensor4d(fData, c.f), c).dataSync().slice();
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const dy = tf.tensor4d(dyData, outShape);
      const f = tf.tensor4d(fData, c.f);
      const got = backprop(dy, f, c);
      expect(got.shape).toEqual(c.x);
      expect(maxRelError(await got.data(), expected)).toBeLessThan(1e-5);
      tf.dispose([dy, f, got]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
