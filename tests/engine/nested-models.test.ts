/**
 * Models inside models, as Teachable Machine exports them: a Sequential holding a functional MobileNet-style base
 * and a Sequential classifier head. Opened, they are one layer tree named by path; the outputs equal what TF.js
 * computes with the nested original; an inner layer's activations equal a sub-model of the original base; a
 * projection runs on an inner layer; the model exports to ONNX (same output in ONNX Runtime) and to TF.js (reopens
 * the same). Tensor counts return to baseline. The Keras side (a nested legacy HDF5 written in Keras's layout
 * with h5py, checked against PyTorch) is in keras-import.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerActivations, modelOutput } from '../../electron/engine/analyses/activations';
import { projectUnit } from '../../electron/engine/analyses/projection';
import { initBackend } from '../../electron/engine/backend';
import { exportModelBytes, exportModelToPath } from '../../electron/engine/model/export';
import { openModel } from '../../electron/engine/model/loaded-model';
import { fileSystemSaver } from '../../electron/engine/model/tfjs-io';
import { mulberry32 } from '../../electron/engine/base/random';
import { maxRelError } from '../helpers/numeric';
import { ort } from '../helpers/onnx-runtime';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-nested-'));
const random = mulberry32(11);
const input = Float32Array.from({ length: 32 * 32 * 3 }, () => random());
let base: tfl.LayersModel;
let nested: tfl.Sequential;

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
  const seeded = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const image = tfl.input({ shape: [32, 32, 3], name: 'input_1' });
  let x = tfl.layers
    .conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'conv1', kernelInitializer: seeded(1) })
    .apply(image) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: 'conv1_bn' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6, name: 'conv1_relu' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'conv_dw_1', depthwiseInitializer: seeded(2) }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6, name: 'conv_dw_1_relu' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 16, kernelSize: 1, name: 'conv_pw_1', kernelInitializer: seeded(3) }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6, name: 'conv_pw_1_relu' }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({ name: 'global_average_pooling2d_1' }).apply(x) as tfl.SymbolicTensor;
  base = tfl.model({ inputs: image, outputs: x, name: 'model1' });
  // Moving statistics that are not 0 / 1, so inference-mode batch normalisation is checked.
  tf.tidy(() =>
    base
      .getLayer('conv1_bn')
      .setWeights([
        tf.randomUniform([8], 0.5, 1.5, 'float32', 1),
        tf.randomUniform([8], -0.2, 0.2, 'float32', 2),
        tf.randomUniform([8], -0.2, 0.2, 'float32', 3),
        tf.randomUniform([8], 0.5, 1.5, 'float32', 4),
      ]),
  );
  const head = tfl.sequential({
    name: 'sequential_3',
    layers: [
      tfl.layers.dense({ inputShape: [16], units: 10, activation: 'relu', name: 'dense_Dense1', kernelInitializer: seeded(4) }),
      tfl.layers.dense({ units: 3, activation: 'softmax', useBias: false, name: 'dense_Dense2', kernelInitializer: seeded(5) }),
    ],
  });
  nested = tfl.sequential({ name: 'sequential_4', layers: [base, head] });
  await nested.save(fileSystemSaver(path.join(tmp, 'teachable'), { labels: ['cat', 'dog', 'bird'] }));
});

afterAll(() => {
  nested?.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('nested TF.js model (Teachable Machine layout)', () => {
  it('opens as one layer tree named by path, with the nested original’s numbers, and exports', async () => {
    const before = tf.memory().numTensors;
    const loaded = await openModel(path.join(tmp, 'teachable', 'model.json'), 'teachable');
    try {
      const names = loaded.summary.layers.map((l) => l.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'model1/conv1',
          'model1/conv1_bn',
          'model1/conv_dw_1',
          'model1/conv_pw_1_relu',
          'model1/global_average_pooling2d_1',
          'sequential_3/dense_Dense1',
          'sequential_3/dense_Dense2',
        ]),
      );
      expect(names).toHaveLength(11);
      expect(loaded.summary.layers.find((l) => l.name === 'model1/conv_pw_1')!.outputShape).toEqual([16, 16, 16]);
      expect(loaded.summary.notices.join(' ')).toMatch(/models inside the model \(model1, sequential_3\)/);
      expect(loaded.summary.classes).toEqual(['cat', 'dog', 'bird']);

      const want = tf.tidy(() => (nested.predict(tf.tensor4d(input, [1, 32, 32, 3])) as tf.Tensor).dataSync() as Float32Array);
      expect(maxRelError(modelOutput(loaded, input), want)).toBeLessThan(1e-5);
      const inner = tfl.model({ inputs: base.inputs, outputs: base.getLayer('conv_pw_1_relu').output as tfl.SymbolicTensor });
      const wantInner = tf.tidy(() => (inner.predict(tf.tensor4d(input, [1, 32, 32, 3])) as tf.Tensor).dataSync() as Float32Array);
      expect(maxRelError(layerActivations(loaded, 'model1/conv_pw_1_relu', input).data, wantInner)).toBeLessThan(1e-5);

      const projection = projectUnit(loaded, input, 'model1/conv_pw_1', 3, 'deconv');
      expect(projection.data.length).toBe(32 * 32 * 3);
      expect(projection.data.every(Number.isFinite)).toBe(true);

      // TF.js export reopens with the same names and numbers.
      const out = path.join(tmp, 'exported-tfjs');
      await exportModelToPath(loaded, 'tfjs', out, 'test');
      const reopened = await openModel(path.join(out, 'model.json'), 'reopened');
      expect(reopened.summary.layers.map((l) => l.name)).toEqual(names);
      expect(maxRelError(modelOutput(reopened, input), want)).toBeLessThan(1e-5);
      reopened.dispose();

      if (ort) {
        const exported = await exportModelBytes(loaded, 'onnx', 'test');
        const session = await ort.InferenceSession.create(Buffer.from(exported.bytes));
        const nchw = new Float32Array(input.length);
        for (let c = 0; c < 3; c++) for (let p = 0; p < 32 * 32; p++) nchw[c * 32 * 32 + p] = input[p * 3 + c];
        const ran = (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', nchw, [1, 3, 32, 32]) }))[session.outputNames[0]]
          .data as Float32Array;
        await session.release();
        expect(maxRelError(ran, want)).toBeLessThan(1e-5);
      } else console.log('skipped: ONNX Runtime check of the export (onnxruntime-node not installed)');
    } finally {
      loaded.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
