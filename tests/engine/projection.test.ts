/**
 * Projections (deconv, gradient, guided) against independent computations: hand-written loops for the ZF
 * deconvnet and guided backprop, and tf.grad for plain gradients — through a strided SAME conv with fused ReLU,
 * overlapping 3×3/2 max-pooling, a separate ReLU layer and dense layers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { projectUnit, type ProjectionMethod } from '../../electron/engine/analyses/projection';
import { initBackend } from '../../electron/engine/backend';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';
import { fileSystemSaver } from '../../electron/engine/model/tfjs-io';
import { maxRelError } from '../helpers/numeric';

const [H, W, C] = [7, 7, 2];
let loaded: LoadedModel;
let dir: string;

function values(n: number, seed: number, scale = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 69069 + 1) % 4294967296;
    return (s / 4294967296 - 0.5) * 2 * scale;
  });
}

// ---- naive reference ---------------------------------------------------------------------------------------
type Map3 = { d: Float32Array<ArrayBufferLike>; h: number; w: number; c: number };
const same = (i: number, k: number, s: number) => Math.floor(Math.max((Math.ceil(i / s) - 1) * s + k - i, 0) / 2);

function convForward(x: Map3, k: Float32Array, b: Float32Array, kh: number, co: number, s: number, padSame: boolean): Map3 {
  const oh = padSame ? Math.ceil(x.h / s) : Math.floor((x.h - kh) / s) + 1;
  const ow = padSame ? Math.ceil(x.w / s) : Math.floor((x.w - kh) / s) + 1;
  const pt = padSame ? same(x.h, kh, s) : 0;
  const pl = padSame ? same(x.w, kh, s) : 0;
  const d = new Float32Array(oh * ow * co);
  for (let y = 0; y < oh; y++)
    for (let xx = 0; xx < ow; xx++)
      for (let o = 0; o < co; o++) {
        let v = b[o];
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kh; j++) {
            const iy = y * s + i - pt;
            const ix = xx * s + j - pl;
            if (iy < 0 || ix < 0 || iy >= x.h || ix >= x.w) continue;
            for (let ci = 0; ci < x.c; ci++) v += x.d[(iy * x.w + ix) * x.c + ci] * k[((i * kh + j) * x.c + ci) * co + o];
          }
        d[(y * ow + xx) * co + o] = v;
      }
  return { d, h: oh, w: ow, c: co };
}

function convTranspose(sig: Map3, k: Float32Array, kh: number, inShape: [number, number, number], s: number, padSame: boolean): Map3 {
  const [h, w, c] = inShape;
  const pt = padSame ? same(h, kh, s) : 0;
  const pl = padSame ? same(w, kh, s) : 0;
  const d = new Float32Array(h * w * c);
  for (let y = 0; y < sig.h; y++)
    for (let xx = 0; xx < sig.w; xx++)
      for (let o = 0; o < sig.c; o++) {
        const v = sig.d[(y * sig.w + xx) * sig.c + o];
        if (v === 0) continue;
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kh; j++) {
            const iy = y * s + i - pt;
            const ix = xx * s + j - pl;
            if (iy < 0 || ix < 0 || iy >= h || ix >= w) continue;
            for (let ci = 0; ci < c; ci++) d[(iy * w + ix) * c + ci] += v * k[((i * kh + j) * c + ci) * sig.c + o];
          }
      }
  return { d, h, w, c };
}

function maxPool(x: Map3, k: number, s: number): { out: Map3; switches: Int32Array } {
  const oh = Math.ceil(x.h / s);
  const ow = Math.ceil(x.w / s);
  const pt = same(x.h, k, s);
  const pl = same(x.w, k, s);
  const d = new Float32Array(oh * ow * x.c);
  const switches = new Int32Array(oh * ow * x.c);
  for (let y = 0; y < oh; y++)
    for (let xx = 0; xx < ow; xx++)
      for (let ch = 0; ch < x.c; ch++) {
        let best = -Infinity;
        let at = -1;
        for (let i = 0; i < k; i++)
          for (let j = 0; j < k; j++) {
            const iy = y * s + i - pt;
            const ix = xx * s + j - pl;
            if (iy < 0 || ix < 0 || iy >= x.h || ix >= x.w) continue;
            const idx = (iy * x.w + ix) * x.c + ch;
            if (x.d[idx] > best) {
              best = x.d[idx];
              at = idx;
            }
          }
        d[(y * ow + xx) * x.c + ch] = best;
        switches[(y * ow + xx) * x.c + ch] = at;
      }
  return { out: { d, h: oh, w: ow, c: x.c }, switches };
}

const relu = (m: Map3): Map3 => ({ ...m, d: m.d.map((v) => Math.max(0, v)) });
function reluRule(sig: Map3, forwardOut: Map3, method: ProjectionMethod): Map3 {
  return {
    ...sig,
    d: sig.d.map((v, i) =>
      method === 'deconv' ? Math.max(0, v) : method === 'gradient' ? (forwardOut.d[i] > 0 ? v : 0) : forwardOut.d[i] > 0 ? Math.max(0, v) : 0,
    ),
  };
}

/** The reference: conv1(3×3/2 same, relu) → pool(3/2 same) → conv2(2×2 valid) → ReLU → flatten → fc(3, relu). */
function referenceProjection(x: Float32Array, weights: Float32Array[], layer: 'conv1' | 'fc', unit: number, method: ProjectionMethod) {
  const [k1, b1, k2, b2, kf, bf] = weights;
  const input: Map3 = { d: x, h: H, w: W, c: C };
  const conv1 = relu(convForward(input, k1, b1, 3, 3, 2, true));
  const { out: pool, switches } = maxPool(conv1, 3, 2);
  const conv2 = convForward(pool, k2, b2, 2, 2, 1, false);
  const act = relu(conv2);
  const fcPre = Array.from({ length: 3 }, (_, o) => bf[o] + act.d.reduce((s, v, i) => s + v * kf[i * 3 + o], 0));
  const fc = fcPre.map((v) => Math.max(0, v));
  let sig: Map3;
  if (layer === 'fc') {
    let s: Float32Array = new Float32Array(3);
    s[unit] = method === 'deconv' ? fc[unit] : 1;
    s = reluRule({ d: s, h: 1, w: 1, c: 3 }, { d: Float32Array.from(fc), h: 1, w: 1, c: 3 }, method).d;
    const back = new Float32Array(act.d.length);
    for (let i = 0; i < back.length; i++) for (let o = 0; o < 3; o++) back[i] += s[o] * kf[i * 3 + o];
    sig = reluRule({ ...act, d: back }, act, method);
    sig = convTranspose(sig, k2, 2, [pool.h, pool.w, pool.c], 1, false);
    const unpooled = new Float32Array(conv1.d.length);
    sig.d.forEach((v, i) => (unpooled[switches[i]] += v));
    sig = { ...conv1, d: unpooled };
  } else {
    let at = 0;
    for (let p = 0; p < conv1.h * conv1.w; p++) if (conv1.d[p * 3 + unit] > conv1.d[at * 3 + unit]) at = p;
    const seed = new Float32Array(conv1.d.length);
    seed[at * 3 + unit] = method === 'deconv' ? conv1.d[at * 3 + unit] : 1;
    sig = { ...conv1, d: seed };
  }
  sig = reluRule(sig, conv1, method);
  return convTranspose(sig, k1, 3, [H, W, C], 2, true).d;
}

describe('projections to input space', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    const m = tfl.sequential();
    m.add(tfl.layers.conv2d({ name: 'conv1', inputShape: [H, W, C], filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }));
    m.add(tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 3, strides: 2, padding: 'same' }));
    m.add(tfl.layers.conv2d({ name: 'conv2', filters: 2, kernelSize: 2, padding: 'valid' }));
    m.add(tfl.layers.activation({ name: 'relu2', activation: 'relu' }));
    m.add(tfl.layers.flatten({ name: 'flat' }));
    m.add(tfl.layers.dense({ name: 'fc', units: 3, activation: 'relu' }));
    m.setWeights([
      tf.tensor(values(3 * 3 * C * 3, 11), [3, 3, C, 3]),
      tf.tensor(values(3, 12, 0.1)),
      tf.tensor(values(2 * 2 * 3 * 2, 13), [2, 2, 3, 2]),
      tf.tensor(Float32Array.from([1.5, 1.2])),
      tf.tensor(Float32Array.from([0.5, -0.3, 0.2, 0.1, 0.4, -0.6]), [2, 3]),
      tf.tensor(Float32Array.from([0.5, 0.4, 0.6])),
    ]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'projection-'));
    await m.save(fileSystemSaver(dir));
    m.dispose();
    loaded = await openModel(path.join(dir, 'model.json'), 'projection-test');
  });
  afterAll(() => {
    loaded?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Inputs chosen so that fc unit 0 and conv1 units are active (a projection of a silent unit is all zeros).
  const inputs = [values(H * W * C, 5, 2), values(H * W * C, 6, 2), values(H * W * C, 8, 2)];

  for (const method of ['deconv', 'guided', 'gradient'] as const) {
    it(`${method} from fc and from conv1 equals the hand-written reference`, () => {
      const weights = loaded.model.getWeights().map((t) => t.dataSync() as Float32Array);
      let nonZero = 0;
      for (const x of inputs) {
        for (const [layer, unit] of [
          ['fc', 0],
          ['fc', 2],
          ['conv1', 1],
        ] as const) {
          const before = tf.memory().numTensors;
          const got = projectUnit(loaded, x, layer, unit, method);
          expect(tf.memory().numTensors).toBe(before);
          const want = referenceProjection(x, weights, layer, unit, method);
          expect(got.shape).toEqual([H, W, C]);
          if (want.some((v) => v !== 0)) nonZero++;
          expect(maxRelError(got.data, want)).toBeLessThan(1e-5);
        }
      }
      expect(nonZero).toBeGreaterThanOrEqual(7); // the comparisons are not all between zero arrays
    });
  }

  it('gradient equals tf.grad of the activation at the chosen position (independent autodiff)', () => {
    const x = inputs[0];
    const sub = loaded.layerModel('pool1');
    const got = projectUnit(loaded, x, 'pool1', 2, 'gradient', [1, 0]);
    expect(got.position).toEqual([1, 0]);
    const want = tf.tidy(() =>
      tf
        .grad((inp: tf.Tensor) => tf.sum(tf.slice(sub.apply(inp) as tf.Tensor4D, [0, 1, 0, 2], [1, 1, 1, 1])))(tf.tensor4d(x, [1, H, W, C]))
        .dataSync(),
    ) as Float32Array;
    expect(maxRelError(got.data, want)).toBeLessThan(1e-5);
  });

  it('bad requests are coded errors', () => {
    const x = inputs[0];
    expect(() => projectUnit(loaded, x, 'conv1', 3, 'deconv')).toThrowError(expect.objectContaining({ code: 'UNIT_OUT_OF_RANGE' }));
    expect(() => projectUnit(loaded, x, 'conv7', 0, 'deconv')).toThrowError(expect.objectContaining({ code: 'LAYER_NOT_FOUND' }));
    expect(() => projectUnit(loaded, x, 'conv1', 0, 'deconv', [9, 9])).toThrowError(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => projectUnit(loaded, x, 'fc', 0, 'deconv', [0, 0])).toThrowError(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });
});

describe('projections through branching graphs (residual add, concatenation, imported layers)', () => {
  const FIX = path.resolve(__dirname, '..', 'fixtures');

  /** tf.grad of one activation of `layer` with respect to the input: an autodiff of the whole sub-model. */
  function autodiff(m: LoadedModel, x: Float32Array, layer: string, unit: number, position: number[]): Float32Array {
    const sub = m.layerModel(layer);
    const [h, w, c] = m.summary.inputShape;
    return tf.tidy(() =>
      tf
        .grad((inp: tf.Tensor) => {
          const out = sub.apply(inp) as tf.Tensor;
          const begin = out.shape.length === 4 ? [0, position[0], position[1], unit] : [0, unit];
          return tf.sum(
            tf.slice(
              out,
              begin,
              begin.map(() => 1),
            ),
          );
        })(tf.tensor4d(x, [1, h, w, c]))
        .dataSync(),
    ) as Float32Array;
  }

  for (const [file, layer] of [
    ['onnx/residual-concat.onnx', 'pool'],
    ['onnx/residual-concat.onnx', 'fc'],
    ['keras/functional.keras', 'cat'],
    ['onnx/cnn-ops.onnx', 'gconv'],
  ] as const) {
    it(`gradient of ${file} ${layer} equals an autodiff of the whole graph; deconv and guided run`, async () => {
      const m = await openModel(path.join(FIX, file), file);
      try {
        const [h, w, c] = m.summary.inputShape;
        const x = values(h * w * c, 5, 1).map((v) => v + 0.5);
        const before = tf.memory().numTensors;
        const grad = projectUnit(m, x, layer, 1, 'gradient');
        expect(maxRelError(grad.data, autodiff(m, x, layer, 1, grad.position))).toBeLessThan(1e-4);
        for (const method of ['deconv', 'guided'] as const) {
          const p = projectUnit(m, x, layer, 1, method);
          expect(p.data.length).toBe(h * w * c);
          expect(p.data.some((v) => v !== 0)).toBe(true);
          expect(p.data.every(Number.isFinite)).toBe(true);
        }
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        m.dispose();
      }
    });
  }

  it('at a residual add, deconv sends the signal down both branches (their sum at the input)', async () => {
    const m = await openModel(path.join(FIX, 'keras', 'functional-legacy.h5'), 'f');
    try {
      const x = values(16 * 16, 9, 100).map((v) => v + 128);
      // 'add' = a + b (two convolutions of the same input): the projection is the sum of both transposed convs.
      const viaAdd = projectUnit(m, x, 'add', 2, 'deconv');
      const viaA = projectUnit(m, x, 'a', 2, 'deconv', viaAdd.position);
      const viaB = projectUnit(m, x, 'b', 2, 'deconv', viaAdd.position);
      // Each branch alone is seeded with its own activation value; rescale to the add's seed to compare.
      const sum = viaA.data.map((v, i) => (v / viaA.value) * viaAdd.value + (viaB.data[i] / viaB.value) * viaAdd.value);
      expect(maxRelError(viaAdd.data, sum)).toBeLessThan(1e-4);
    } finally {
      m.dispose();
    }
  });
});
