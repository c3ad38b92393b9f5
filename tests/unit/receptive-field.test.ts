/**
 * Receptive fields from the layer graph, checked against an independent computation: the set of input pixels
 * whose gradient is non-zero for one output position. With positive weights, linear activations and average
 * pooling, that set is exactly the (clipped) receptive field; with max-pooling it must lie inside it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../electron/engine/backend';
import { describeLayers, receptiveBox } from '../../electron/engine/model/graph';

const positive = () => tfl.initializers.randomUniform({ minval: 0.1, maxval: 1, seed: 3 });

function supportBox(model: tfl.LayersModel, layer: string, y: number, x: number): [number, number, number, number] | null {
  const sub = tfl.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tfl.SymbolicTensor });
  const [h, w, c] = model.inputs[0].shape.slice(1) as number[];
  const grad = tf.tidy(() => {
    const input = tf.ones([1, h, w, c]);
    const g = tf.grad((inp: tf.Tensor) => {
      const out = sub.apply(inp) as tf.Tensor4D;
      return tf.sum(tf.slice(out, [0, y, x, 0], [1, 1, 1, -1]));
    })(input);
    return tf.sum(tf.abs(g), -1).dataSync();
  });
  let top = Infinity;
  let left = Infinity;
  let bottom = -1;
  let right = -1;
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      if (grad[i * w + j] !== 0) {
        top = Math.min(top, i);
        left = Math.min(left, j);
        bottom = Math.max(bottom, i + 1);
        right = Math.max(right, j + 1);
      }
  return bottom < 0 ? null : [top, left, bottom, right];
}

describe('receptive fields', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'cpu' });
  });

  it('conv 3×3 same → avg-pool 3/2 same → conv 5×5 stride 2 valid → zero-pad → conv 2×2: positions match the gradient support', () => {
    const model = tfl.sequential();
    model.add(
      tfl.layers.conv2d({ name: 'a', inputShape: [21, 23, 2], filters: 2, kernelSize: 3, padding: 'same', kernelInitializer: positive(), useBias: false }),
    );
    model.add(tfl.layers.averagePooling2d({ name: 'b', poolSize: 3, strides: 2, padding: 'same' }));
    model.add(tfl.layers.conv2d({ name: 'c', filters: 2, kernelSize: 5, strides: 2, padding: 'valid', kernelInitializer: positive(), useBias: false }));
    model.add(
      tfl.layers.zeroPadding2d({
        name: 'd',
        padding: [
          [1, 0],
          [0, 2],
        ],
      }),
    );
    model.add(tfl.layers.conv2d({ name: 'e', filters: 1, kernelSize: 2, kernelInitializer: positive(), useBias: false }));
    const layers = describeLayers(model);
    expect(layers[0].type).toBe('InputLayer');
    for (const info of layers.slice(1)) {
      const rf = info.receptiveField!;
      expect(rf).toBeDefined();
      const [oh, ow] = info.outputShape;
      for (let y = 0; y < oh; y++)
        for (let x = 0; x < ow; x++) {
          const support = supportBox(model, info.name, y, x);
          const box = receptiveBox(rf, y, x, [21, 23]);
          if (['a', 'b', 'c'].includes(info.name)) {
            expect({ layer: info.name, y, x, box }).toEqual({ layer: info.name, y, x, box: support });
          } else if (support !== null) {
            // After explicit zero padding, padded positions see only constants: the gradient support can be
            // smaller than the receptive field, never larger.
            expect(support[0]).toBeGreaterThanOrEqual(box[0]);
            expect(support[1]).toBeGreaterThanOrEqual(box[1]);
            expect(support[2]).toBeLessThanOrEqual(box[2]);
            expect(support[3]).toBeLessThanOrEqual(box[3]);
          }
        }
    }
  });

  it('with max-pooling the gradient support lies inside the receptive field; dense layers have none', () => {
    const model = tfl.sequential();
    model.add(tfl.layers.conv2d({ name: 'conv1', inputShape: [16, 16, 1], filters: 3, kernelSize: 5, padding: 'same', kernelInitializer: positive() }));
    model.add(tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 3, strides: 2, padding: 'same' }));
    model.add(tfl.layers.conv2d({ name: 'conv2', filters: 2, kernelSize: 3, padding: 'same', kernelInitializer: positive() }));
    model.add(tfl.layers.flatten({ name: 'flat' }));
    model.add(tfl.layers.dense({ name: 'fc', units: 4 }));
    const layers = describeLayers(model);
    const conv2 = layers.find((l) => l.name === 'conv2')!;
    // By hand: conv1 (5, 1, −2) → pool1 3/2 SAME on 16 (pad top 0): (7, 2, −2) → conv2 3×3 SAME (pad 1): (11, 2, −4).
    expect(conv2.receptiveField).toEqual({ size: [11, 11], stride: [2, 2], offset: [-4, -4] });
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++) {
        const s = supportBox(model, 'conv2', y, x)!;
        const b = receptiveBox(conv2.receptiveField!, y, x, [16, 16]);
        expect(s[0]).toBeGreaterThanOrEqual(b[0]);
        expect(s[1]).toBeGreaterThanOrEqual(b[1]);
        expect(s[2]).toBeLessThanOrEqual(b[2]);
        expect(s[3]).toBeLessThanOrEqual(b[3]);
      }
    expect(layers.find((l) => l.name === 'fc')!.receptiveField).toBeUndefined();
    // Dilation (gradients of dilated convs are unsupported in tfjs, so by hand): 3×3 at rate 2 spans 5 pixels.
    const dilated = tfl.sequential();
    dilated.add(tfl.layers.conv2d({ name: 'd', inputShape: [9, 9, 1], filters: 1, kernelSize: 3, dilationRate: 2 }));
    expect(describeLayers(dilated)[1].receptiveField).toEqual({ size: [5, 5], stride: [1, 1], offset: [0, 0] });
    expect(layers.find((l) => l.name === 'conv1')!.params).toBe(5 * 5 * 3 + 3);
    expect(layers.find((l) => l.name === 'conv1')!.kernel).toEqual({ size: [5, 5], strides: [1, 1], filters: 3 });
  });
});
