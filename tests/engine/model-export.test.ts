/**
 * Export round trip: the bundled model and imported ONNX / Keras models, exported to ONNX and to TF.js (folder
 * and downloadable zip) and re-opened, give the same outputs (relative error < 1e-5) and keep their labels and
 * preprocessing. Unsupported exports and formats get coded errors.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/engine/backend';
import { predictProbabilities } from '../../electron/engine/analyses/activations';
import { exportModelBytes, exportModelToPath } from '../../electron/engine/model/export';
import { openModel, type LoadedModel } from '../../electron/engine/model/loaded-model';
import { BUNDLED_MODEL_PATH } from '../../electron/engine/paths';
import { maxRelError } from '../helpers/numeric';

const FIX = path.resolve(__dirname, '..', 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-export-'));

function seededInput(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  });
}

const outputOf = (m: LoadedModel) =>
  predictProbabilities(
    m,
    seededInput(
      m.summary.inputShape.reduce((a, b) => a * b, 1),
      3,
    ),
  );

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
});

const MODELS: Array<[string, string]> = [
  ['bundled default model (LRN, SAME pooling, dropout)', BUNDLED_MODEL_PATH],
  ['ONNX cnn-ops (depthwise, grouped, −∞ padding, BN)', path.join(FIX, 'onnx', 'cnn-ops.onnx')],
  ['ONNX residual-concat (branches, affine, reorder)', path.join(FIX, 'onnx', 'residual-concat.onnx')],
  ['ONNX legacy-opset9 (pad, ReLU6, global pooling)', path.join(FIX, 'onnx', 'legacy-opset9.onnx')],
  [
    'ONNX less-common-ops (reflect/edge pad, PReLU, dilated and ceil pools, Clip, ELU α, channels, map MatMul, SELU, mean, log-softmax)',
    path.join(FIX, 'onnx', 'less-common-ops.onnx'),
  ],
  ['Keras seq-legacy.h5 (separable conv)', path.join(FIX, 'keras', 'seq-legacy.h5')],
  ['Keras functional.keras (normalization, rescaling)', path.join(FIX, 'keras', 'functional.keras')],
];

describe('export and re-open', () => {
  for (const [label, file] of MODELS) {
    it(`${label}: ONNX and TF.js exports give the same outputs`, async () => {
      const original = await openModel(file, 'original');
      const reference = outputOf(original);
      const before = tf.memory().numTensors;
      const stem = path.join(tmp, path.basename(file).replace(/\W/g, '_'));
      const onnxFile = await exportModelToPath(original, 'onnx', `${stem}.onnx`, 'test');
      const tfjsFile = await exportModelToPath(original, 'tfjs', `${stem}-tfjs`, 'test');
      const zip = await exportModelBytes(original, 'tfjs', 'test');
      expect(tf.memory().numTensors).toBe(before);
      const zipDir = `${stem}-zip`;
      // Unpacked by another implementation (Python's zipfile), which checks every member's CRC.
      fs.writeFileSync(`${stem}.zip`, zip.bytes);
      execFileSync('/usr/bin/python3', [
        '-c',
        'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; z.extractall(sys.argv[2])',
        `${stem}.zip`,
        zipDir,
      ]);
      const zipModel = path.join(zipDir, zip.fileName.replace(/\.tfjs\.zip$/, ''), 'model.json');
      for (const [kind, again] of [
        ['onnx', onnxFile],
        ['tfjs', tfjsFile],
        ['tfjs zip', zipModel],
      ] as const) {
        const reopened = await openModel(again, kind);
        try {
          expect(maxRelError(outputOf(reopened), reference), kind).toBeLessThan(1e-5);
          expect(reopened.summary.classes, kind).toEqual(original.summary.classes);
          expect(reopened.summary.preprocessing, kind).toEqual(original.summary.preprocessing);
          expect(reopened.summary.name, kind).toBe(original.summary.name);
        } finally {
          reopened.dispose();
        }
      }
      original.dispose();
    });
  }

  it('the NHWC-input variant with extra layer outputs is well formed (for the batch path)', async () => {
    const { exportOnnx } = await import('../../electron/engine/model/onnx/export');
    const m = await openModel(BUNDLED_MODEL_PATH, 'b');
    try {
      const bytes = exportOnnx(m.model, { inputLayout: 'nhwc', extraOutputs: ['conv1', 'fc6'] });
      const { decodeOnnxModel } = await import('../../electron/engine/model/onnx/proto');
      const decoded = decodeOnnxModel(bytes);
      expect(decoded.graph!.input[0].type!.tensorType!.shape!.dim!.slice(1).map((d) => d.dimValue)).toEqual([28, 28, 1]);
      expect(decoded.graph!.output.map((o) => o.name)).toEqual(['output', 'layer:conv1', 'layer:fc6']);
      expect(decoded.graph!.output[1].type!.tensorType!.shape!.dim!.slice(1).map((d) => d.dimValue)).toEqual([28, 28, 32]);
    } finally {
      m.dispose();
    }
  });
});
