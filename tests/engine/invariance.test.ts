/**
 * Invariance sweeps (ZF Fig. 5): the warp is exact for integer translations and identity transforms, the
 * identity gives distance 0 and the untransformed probability, and distances equal ones computed here from the
 * layer outputs of the transformed images.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { layerActivations, predictProbabilities } from '../../electron/engine/analyses/activations';
import { invarianceSweeps, transformInput } from '../../electron/engine/analyses/invariance';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { initBackend } from '../../electron/engine/backend';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';

const TINY = path.resolve(__dirname, '..', 'fixtures', 'models', 'tiny-functional', 'model.json');
const shape = [12, 12, 3];
const input = Float32Array.from({ length: 432 }, (_, i) => Math.sin(i * 0.29) * 1.3);
let loaded: LoadedModel;

describe('invariance', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    loaded = await openModel(TINY, 'tiny');
  });
  afterAll(() => loaded?.dispose());

  it('identity transforms return the input; rotating by 360° nearly so', () => {
    expect(Array.from(transformInput(input, shape, 'translation', 0))).toEqual(Array.from(input));
    expect(Array.from(transformInput(input, shape, 'scale', 1))).toEqual(Array.from(input));
    expect(Array.from(transformInput(input, shape, 'rotation', 0))).toEqual(Array.from(input));
    const full = transformInput(input, shape, 'rotation', 360);
    for (let i = 0; i < input.length; i++) expect(full[i]).toBeCloseTo(input[i], 4);
  });

  it('an integer translation moves rows down and fills the top with 0; a 180° turn reverses the pixels', () => {
    const moved = transformInput(input, shape, 'translation', 3);
    for (let y = 0; y < 12; y++)
      for (let x = 0; x < 12; x++)
        for (let c = 0; c < 3; c++) expect(moved[(y * 12 + x) * 3 + c]).toBeCloseTo(y < 3 ? 0 : input[((y - 3) * 12 + x) * 3 + c], 6);
    const turned = transformInput(input, shape, 'rotation', 180);
    for (let p = 0; p < 144; p++) for (let c = 0; c < 3; c++) expect(turned[p * 3 + c]).toBeCloseTo(input[(143 - p) * 3 + c], 4);
  });

  it('a model ending in a Softmax layer (an imported ONNX model) is not given a second softmax', async () => {
    const file = path.resolve(__dirname, '..', 'fixtures', 'onnx', 'cnn-ops.onnx');
    const onnx = await openModel(file, file);
    try {
      const x = Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => 0.5 + 0.4 * Math.sin(i * 0.11));
      const r = await invarianceSweeps(
        onnx,
        [{ input: x, label: 'x', trueClass: 2 }],
        { translations: [0], scales: [1], rotations: [0] },
        makeJobContext(
          () => undefined,
          () => false,
        ),
      );
      expect(r.sweeps.translation.probability[0][0]).toBeCloseTo(predictProbabilities(onnx, x)[2], 6);
    } finally {
      onnx.dispose();
    }
  });

  it('distances and probabilities equal those computed from the transformed images directly', async () => {
    const before = tf.memory().numTensors;
    const r = await invarianceSweeps(
      loaded,
      [{ input, label: 'x', trueClass: 1 }],
      { lowLayer: 'c1', highLayer: 'p1', translations: [0, -2, 3], scales: [1, 0.7], rotations: [0, 45] },
      makeJobContext(
        () => undefined,
        () => false,
      ),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(r.sweeps.translation.low[0][0]).toBe(0);
    expect(r.sweeps.scale.high[0][0]).toBe(0);
    expect(r.sweeps.rotation.probability[0][0]).toBeCloseTo(predictProbabilities(loaded, input)[1], 6);
    const base = layerActivations(loaded, 'c1', input).data;
    const moved = transformInput(input, shape, 'translation', -2);
    const movedMaps = layerActivations(loaded, 'c1', moved).data;
    const expected = Math.sqrt(movedMaps.reduce((s, v, i) => s + (v - base[i]) ** 2, 0));
    expect(r.sweeps.translation.low[0][1]).toBeCloseTo(expected, 4);
    expect(r.sweeps.translation.low[0][1]).toBeGreaterThan(0);
    const turned = transformInput(input, shape, 'rotation', 45);
    expect(r.sweeps.rotation.probability[0][1]).toBeCloseTo(predictProbabilities(loaded, turned)[1], 5);
    await expect(
      invarianceSweeps(
        loaded,
        [{ input, label: 'x' }],
        { scales: [0] },
        makeJobContext(
          () => undefined,
          () => false,
        ),
      ),
    ).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(
      invarianceSweeps(
        loaded,
        [{ input, label: 'x' }],
        { lowLayer: 'nope' },
        makeJobContext(
          () => undefined,
          () => false,
        ),
      ),
    ).rejects.toMatchObject({ code: 'LAYER_NOT_FOUND' });
  });
});
