/**
 * The project's wasm DepthwiseConv2dNativeBackpropFilter (the backend has none: tfjs-wasm could not train a
 * MobileNet) against the cpu backend's kernel, across multipliers, strides and paddings; and a whole training
 * step of a depthwise layer on wasm equal to the cpu backend's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../electron/engine/backend';
import { maxRelError } from '../helpers/numeric';

const cases: Array<{ x: [number, number, number, number]; f: [number, number, number, number]; s: [number, number]; pad: 'same' | 'valid' }> = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 1], s: [1, 1], pad: 'same' },
  { x: [1, 9, 8, 4], f: [3, 3, 4, 2], s: [2, 2], pad: 'same' },
  { x: [2, 11, 11, 2], f: [5, 5, 2, 3], s: [2, 2], pad: 'valid' },
];

const backprop = (x: tf.Tensor4D, dy: tf.Tensor4D, c: (typeof cases)[number]) =>
  tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, {
    strides: c.s,
    dilations: [1, 1],
    pad: c.pad,
    filterShape: c.f,
  } as unknown as tf.NamedAttrMap) as tf.Tensor4D;

describe('DepthwiseConv2dNativeBackpropFilter on wasm', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  for (const c of cases) {
    it(`x ${c.x.join('x')} filter ${c.f.join('x')} stride ${c.s.join(',')} ${c.pad} matches the cpu backend`, async () => {
      await tf.setBackend('cpu');
      const outShape = tf.depthwiseConv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.f) as tf.Tensor4D, c.s, c.pad).shape as [number, number, number, number];
      const xData = (tf.randomNormal(c.x, 0, 1, 'float32', 7) as tf.Tensor4D).dataSync().slice();
      const dyData = (tf.randomNormal(outShape, 0, 1, 'float32', 3) as tf.Tensor4D).dataSync().slice();
      const expected = backprop(tf.tensor4d(xData, c.x), tf.tensor4d(dyData, outShape), c).dataSync().slice();
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const x = tf.tensor4d(xData, c.x);
      const dy = tf.tensor4d(dyData, outShape);
      const got = backprop(x, dy, c);
      expect(got.shape).toEqual(c.f);
      expect(maxRelError(await got.data(), expected)).toBeLessThan(1e-5);
      tf.dispose([x, dy, got]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('a training gradient through a depthwise layer on wasm equals the cpu backend’s', async () => {
    const layer = tfl.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, inputShape: [10, 10, 3] });
    const model = tfl.sequential({ layers: [layer, tfl.layers.flatten(), tfl.layers.dense({ units: 2 })] });
    const x = Float32Array.from({ length: 4 * 300 }, (_, i) => Math.sin(i));
    const grads = () =>
      tf.tidy(() => {
        const { grads: g } = tf.variableGrads(() => tf.sum(tf.square(model.apply(tf.tensor4d(x, [4, 10, 10, 3])) as tf.Tensor)) as tf.Scalar);
        return model.trainableWeights.map((w) => g[(w.read() as tf.Variable).name].dataSync().slice());
      });
    const onWasm = grads();
    await tf.setBackend('cpu');
    const onCpu = grads();
    await tf.setBackend('wasm');
    onWasm.forEach((g, i) => expect(maxRelError(g, onCpu[i]), `weight ${i}`).toBeLessThan(1e-4));
    model.dispose();
  });
});
