/**
 * Keras import agreement: files written in Keras's own layouts (build/keras-fixtures.py, h5py) — legacy HDF5
 * Sequential and functional, and a Keras 3 .keras archive — give the outputs PyTorch's functional ops compute
 * independently from the same weights (relative error < 1e-4). Tensor counts return to baseline.
 */
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/engine/backend';
import { layerActivations, modelOutput } from '../../electron/engine/analyses/activations';
import { openModel } from '../../electron/engine/model/loaded-model';
import { readNpy, toFloat32 } from '../../electron/engine/files/npy';
import { maxRelError } from '../helpers/numeric';

const DIR = path.resolve(__dirname, '..', 'fixtures', 'keras');

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
});

async function check(file: string, stem: string) {
  const loaded = await openModel(path.join(DIR, file), file);
  try {
    expect(loaded.summary.format).toBe('keras');
    const input = toFloat32(readNpy(path.join(DIR, `${stem}.input.npy`)));
    const expected = toFloat32(readNpy(path.join(DIR, `${stem}.output.npy`)));
    const before = tf.memory().numTensors;
    const got = modelOutput(loaded, input);
    for (const layer of loaded.summary.layers) layerActivations(loaded, layer.name, input);
    expect(tf.memory().numTensors).toBe(before);
    expect(got.length).toBe(expected.length);
    expect(maxRelError(got, expected)).toBeLessThan(1e-4);
    return loaded.summary;
  } finally {
    loaded.dispose();
  }
}

describe('Keras import', () => {
  it('legacy HDF5 Sequential: padding, conv, batch norm, depthwise and separable conv, pooling, dense+softmax', async () => {
    const summary = await check('seq-legacy.h5', 'seq-legacy');
    expect(summary.notices.join(' ')).not.toMatch(/inside the model/);
    expect(summary.layers.map((l) => l.type)).toEqual([
      'InputLayer',
      'ZeroPadding2D',
      'Conv2D',
      'BatchNormalization',
      'MaxPooling2D',
      'DepthwiseConv2D',
      'SeparableConv2D',
      'AveragePooling2D',
      'Flatten',
      'Dropout',
      'Dense',
    ]);
    // Receptive field through the padding: conv1 (3×3 after 1 px of padding) sees rows −1..1 of the image.
    expect(summary.layers.find((l) => l.name === 'conv1')?.receptiveField).toEqual({ size: [3, 3], stride: [1, 1], offset: [-1, -1] });
  });

  it('legacy HDF5 functional: rescaling, two branches, add, concatenate, global pooling', async () => {
    const summary = await check('functional-legacy.h5', 'functional-legacy');
    expect(summary.layers.find((l) => l.name === 'cat')?.inputs).toEqual(['relu', 'a']);
  });

  it('Keras 3 .keras archive (config.json + model.weights.h5) with a Normalization layer', async () => {
    const summary = await check('functional.keras', 'functional');
    expect(summary.layers.find((l) => l.name === 'norm')?.type).toBe('Normalization');
  });

  // Teachable Machine's Keras export: a Sequential holding a functional base and a Sequential head.
  const NESTED_LAYERS = ['input_1', 'base/conv1', 'base/conv1_bn', 'base/conv1_relu', 'base/gap', 'head/dense_1', 'head/dense_2'];
  it('legacy HDF5 with models inside the model: one layer tree named by path, PyTorch’s numbers', async () => {
    const summary = await check('nested-legacy.h5', 'nested-legacy');
    expect(summary.layers.map((l) => l.name)).toEqual(NESTED_LAYERS);
    expect(summary.notices.join(' ')).toMatch(/models inside the model \(base, head\)/);
  });

  it('Keras 3 .keras with models inside the model (weights under layers/<model>/layers/<layer>)', async () => {
    const summary = await check('nested.keras', 'nested');
    expect(summary.layers.map((l) => l.name)).toEqual(NESTED_LAYERS);
  });
});
