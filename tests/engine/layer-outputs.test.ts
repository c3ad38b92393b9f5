/**
 * Layer outputs as the engine computes them (saved model → loader → activations on the wasm backend) against
 * naive loops written here: Conv2D (stride 2, SAME, fused ReLU), MaxPooling2D (3/2 SAME), LRN (TF semantics),
 * Dense. Tensor count back to baseline.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../electron/engine/backend';
import { layerActivations, predictProbabilities } from '../../electron/engine/analyses/activations';
import { openModel } from '../../electron/engine/model/loaded-model';
import { LocalResponseNormalization } from '../../electron/engine/model/layers/lrn';
import { fileSystemSaver } from '../../electron/engine/model/tfjs-io';
import { maxRelError } from '../helpers/numeric';

const H = 9;
const W = 8;
const C = 2;

function seededValues(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

function conv2dSameReluNaive(x: Float32Array, [h, w, c]: number[], k: Float32Array, b: Float32Array, kh: number, kw: number, co: number, stride: number) {
  const oh = Math.ceil(h / stride);
  const ow = Math.ceil(w / stride);
  const padTop = Math.floor(Math.max((oh - 1) * stride + kh - h, 0) / 2);
  const padLeft = Math.floor(Math.max((ow - 1) * stride + kw - w, 0) / 2);
  const out = new Float32Array(oh * ow * co);
  for (let y = 0; y < oh; y++)
    for (let xx = 0; xx < ow; xx++)
      for (let o = 0; o < co; o++) {
        let s = b[o];
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const iy = y * stride + i - padTop;
            const ix = xx * stride + j - padLeft;
            if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
            for (let ci = 0; ci < c; ci++) s += x[(iy * w + ix) * c + ci] * k[((i * kw + j) * c + ci) * co + o];
          }
        out[(y * ow + xx) * co + o] = Math.max(0, s);
      }
  return { out, shape: [oh, ow, co] };
}

function maxPoolSameNaive(x: Float32Array, [h, w, c]: number[], k: number, s: number) {
  const oh = Math.ceil(h / s);
  const ow = Math.ceil(w / s);
  const pt = Math.floor(Math.max((oh - 1) * s + k - h, 0) / 2);
  const pl = Math.floor(Math.max((ow - 1) * s + k - w, 0) / 2);
  const out = new Float32Array(oh * ow * c).fill(-Infinity);
  for (let y = 0; y < oh; y++)
    for (let xx = 0; xx < ow; xx++)
      for (let ch = 0; ch < c; ch++)
        for (let i = 0; i < k; i++)
          for (let j = 0; j < k; j++) {
            const iy = y * s + i - pt;
            const ix = xx * s + j - pl;
            if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
            out[(y * ow + xx) * c + ch] = Math.max(out[(y * ow + xx) * c + ch], x[(iy * w + ix) * c + ch]);
          }
  return { out, shape: [oh, ow, c] };
}

function lrnNaive(x: Float32Array, c: number, r: number, bias: number, alpha: number, beta: number) {
  const out = new Float32Array(x.length);
  for (let p = 0; p < x.length / c; p++)
    for (let ch = 0; ch < c; ch++) {
      let sq = 0;
      for (let d = Math.max(0, ch - r); d <= Math.min(c - 1, ch + r); d++) sq += x[p * c + d] ** 2;
      out[p * c + ch] = x[p * c + ch] / Math.pow(bias + alpha * sq, beta);
    }
  return out;
}

describe('layer outputs of a hand-built model [9,8,2] → conv 3×3/2 SAME relu (5) → pool 3/2 SAME → LRN → dense 3', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    const model = tfl.sequential();
    model.add(tfl.layers.conv2d({ name: 'conv1', inputShape: [H, W, C], filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }));
    model.add(tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 3, strides: 2, padding: 'same' }));
    model.add(new LocalResponseNormalization({ name: 'norm1', depthRadius: 1, bias: 1.5, alpha: 0.3, beta: 0.75 }));
    model.add(tfl.layers.flatten({ name: 'flat' }));
    model.add(tfl.layers.dense({ name: 'fc', units: 3, activation: 'softmax' }));
    model.setWeights([
      tf.tensor(seededValues(3 * 3 * C * 5, 1), [3, 3, C, 5]),
      tf.tensor(seededValues(5, 2)),
      tf.tensor(seededValues(3 * 2 * 5 * 3, 3), [30, 3]),
      tf.tensor(seededValues(3, 4)),
    ]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layer-outputs-'));
    await model.save(fileSystemSaver(dir));
    model.dispose();
  });

  it('every layer matches the naive computation (relative error < 1e-5) and no tensor leaks', async () => {
    const loaded = await openModel(path.join(dir, 'model.json'), 'test');
    const before = tf.memory().numTensors;
    const x = seededValues(H * W * C, 9).map((v) => v * 4);
    const weights = loaded.model.getWeights().map((t) => t.dataSync() as Float32Array);
    const conv = conv2dSameReluNaive(x, [H, W, C], weights[0], weights[1], 3, 3, 5, 2);
    const pool = maxPoolSameNaive(conv.out, conv.shape, 3, 2);
    const norm = lrnNaive(pool.out, 5, 1, 1.5, 0.3, 0.75);
    const logits = new Float32Array(3);
    for (let o = 0; o < 3; o++) {
      logits[o] = weights[3][o];
      for (let i = 0; i < 30; i++) logits[o] += norm[i] * weights[2][i * 3 + o];
    }
    const maxLogit = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - maxLogit));
    const probs = exps.map((e) => e / exps.reduce((a, b) => a + b, 0));

    const a1 = layerActivations(loaded, 'conv1', x);
    expect(a1.shape).toEqual([5, 4, 5]);
    expect(maxRelError(a1.data, conv.out)).toBeLessThan(1e-5);
    const a2 = layerActivations(loaded, 'pool1', x);
    expect(a2.shape).toEqual([3, 2, 5]);
    expect(maxRelError(a2.data, pool.out)).toBeLessThan(1e-5);
    const a3 = layerActivations(loaded, 'norm1', x);
    expect(maxRelError(a3.data, norm)).toBeLessThan(1e-5);
    expect(a3.min).toBeCloseTo(Math.min(...norm), 5);
    expect(a3.max).toBeCloseTo(Math.max(...norm), 5);
    const a4 = layerActivations(loaded, 'fc', x);
    expect(a4.shape).toEqual([3]);
    expect(maxRelError(a4.data, probs)).toBeLessThan(1e-5);
    expect(maxRelError(predictProbabilities(loaded, x), probs)).toBeLessThan(1e-5);
    const input = layerActivations(loaded, loaded.summary.layers[0].name, x);
    expect(Array.from(input.data)).toEqual(Array.from(x));
    expect(tf.memory().numTensors).toBe(before);
    expect(loaded.summary.notices.join(' ')).toMatch(/No class labels/);
    loaded.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
