/**
 * Occlusion sensitivity against an independent computation: every occluded image built here and run through the
 * model one at a time; positions y, x = 0, S, 2S, … while y + P ≤ H; coded errors for bad settings.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { layerActivations, predictProbabilities } from '../../electron/engine/analyses/activations';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { occlusionSensitivity } from '../../electron/engine/analyses/occlusion';
import { initBackend } from '../../electron/engine/backend';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';

const TINY = path.resolve(__dirname, '..', 'fixtures', 'models', 'tiny-functional', 'model.json');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let loaded: LoadedModel;
const input = Float32Array.from({ length: 12 * 12 * 3 }, (_, i) => Math.sin(i * 0.37) + Math.cos(i * 0.11));

function occluded(y0: number, x0: number, patch: number, fill: number): Float32Array {
  const x = input.slice();
  for (let y = y0; y < y0 + patch; y++) for (let xx = x0; xx < x0 + patch; xx++) for (let c = 0; c < 3; c++) x[(y * 12 + xx) * 3 + c] = fill;
  return x;
}

describe('occlusion sensitivity', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    loaded = await openModel(TINY, 'tiny');
  });
  afterAll(() => loaded?.dispose());

  for (const [patch, stride, fill, cls] of [
    [4, 3, 0, undefined],
    [5, 2, -1.5, 2],
    [12, 1, 0.25, undefined],
  ] as const) {
    it(`patch ${patch}, stride ${stride}, fill ${fill}: maps equal one-at-a-time predictions`, async () => {
      const before = tf.memory().numTensors;
      const r = await occlusionSensitivity(loaded, input, { patch, stride, fill, classIndex: cls, batchSize: 5 }, quiet);
      expect(tf.memory().numTensors).toBe(before);
      const n = Math.floor((12 - patch) / stride) + 1;
      expect(r.grid).toEqual([n, n]);
      const base = predictProbabilities(loaded, input);
      const top1 = base.indexOf(Math.max(...base));
      expect(r.classIndex).toBe(cls ?? top1);
      expect(r.featureLayer).toBe('c1');
      const baseMaps = layerActivations(loaded, 'c1', input);
      let strongest = 0;
      for (let i = 0; i < baseMaps.data.length; i++) if (baseMaps.data[i] > baseMaps.data[strongest]) strongest = i;
      expect(r.featureUnit).toBe(strongest % 4);
      for (let gy = 0; gy < n; gy++)
        for (let gx = 0; gx < n; gx++) {
          const x = occluded(gy * stride, gx * stride, patch, fill);
          const probs = predictProbabilities(loaded, x);
          const cell = gy * n + gx;
          expect(r.probability[cell]).toBeCloseTo(probs[r.classIndex], 5);
          expect(r.topLabel[cell]).toBe(probs.indexOf(Math.max(...probs)));
          const maps = layerActivations(loaded, 'c1', x);
          let sum = 0;
          for (let p = r.featureUnit; p < maps.data.length; p += 4) sum += maps.data[p];
          expect(r.feature[cell]).toBeCloseTo(sum, 3);
        }
    });
  }

  it('bad settings are coded errors', async () => {
    const code = async (o: Parameters<typeof occlusionSensitivity>[2]) =>
      occlusionSensitivity(loaded, input, o, quiet).then(
        () => 'no error',
        (e) => e.code,
      );
    expect(await code({ patch: 0, stride: 1 })).toBe('BAD_ARGUMENT');
    expect(await code({ patch: 3, stride: -2 })).toBe('BAD_ARGUMENT');
    expect(await code({ patch: 13, stride: 1 })).toBe('BAD_ARGUMENT');
    expect(await code({ patch: 3, stride: 1, classIndex: 3 })).toBe('BAD_ARGUMENT');
    expect(await code({ patch: 3, stride: 1, layer: 'out' })).toBe('LAYER_NOT_SPATIAL');
    expect(await code({ patch: 3, stride: 1, layer: 'nope' })).toBe('LAYER_NOT_FOUND');
  });
});
