/**
 * ONNX import agreement: models exported by PyTorch (build/onnx-fixtures.py) open in the engine and give PyTorch's
 * outputs and intermediate activations (relative error < 1e-4). The small custom nets are committed; the five
 * torchvision architectures are generated here when python3-torch and python3-torchvision are installed (.ci/run
 * installs them) and otherwise skipped with the reason printed. Tensor counts return to baseline.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/engine/backend';
import { layerActivations, modelOutput, predictProbabilities } from '../../electron/engine/analyses/activations';
import { softmaxRows } from '../../electron/engine/base/tensors';
import { openModel } from '../../electron/engine/model/loaded-model';
import { onnxType } from '../../electron/engine/model/onnx/proto';
import { readNpy, toFloat32, writeNpy } from '../../electron/engine/files/npy';
import { projectUnit } from '../../electron/engine/analyses/projection';
import { exportModelBytes } from '../../electron/engine/model/export';
import { maxRelError } from '../helpers/numeric';
import { ort } from '../helpers/onnx-runtime';

const ROOT = path.resolve(__dirname, '..', '..');
const SMALL = path.join(ROOT, 'tests', 'fixtures', 'onnx');

interface FixtureMeta {
  opset: number;
  inputShape: number[];
  intermediates: Record<string, string>;
  params: number;
}

/** NCHW [1, C, H, W] → NHWC data; rank-2 arrays unchanged. */
function toNhwc(data: Float32Array, shape: number[]): Float32Array {
  if (shape.length !== 4) return data;
  const [, c, h, w] = shape;
  const out = new Float32Array(data.length);
  for (let ci = 0; ci < c; ci++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(y * w + x) * c + ci] = data[(ci * h + y) * w + x];
  return out;
}

async function checkAgainstPytorch(dir: string, name: string, tolerance = 1e-4) {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as FixtureMeta;
  const loaded = await openModel(path.join(dir, `${name}.onnx`), name);
  try {
    expect(loaded.summary.format).toBe('onnx');
    const inputNpy = readNpy(path.join(dir, `${name}.input.npy`));
    const input = toNhwc(toFloat32(inputNpy), inputNpy.shape);
    const before = tf.memory().numTensors;
    const expected = toFloat32(readNpy(path.join(dir, `${name}.output.npy`)));
    const got = modelOutput(loaded, input);
    expect(got.length).toBe(expected.length);
    const errors: Record<string, number> = { output: maxRelError(got, expected) };
    for (const [layer, file] of Object.entries(meta.intermediates)) {
      const ref = readNpy(path.join(dir, file));
      const acts = layerActivations(loaded, layer, input);
      expect(acts.data.length, layer).toBe(ref.data.length);
      errors[layer] = maxRelError(acts.data, toNhwc(toFloat32(ref), ref.shape));
    }
    expect(tf.memory().numTensors).toBe(before);
    for (const [layer, err] of Object.entries(errors)) expect(err, `${name} ${layer}`).toBeLessThan(tolerance);
    return { loaded: loaded.summary, errors };
  } finally {
    loaded.dispose();
  }
}

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
});

describe('ONNX import: small nets exported by PyTorch', () => {
  it('every operator path of cnn-ops (opset 13) matches PyTorch, layer by layer', async () => {
    const { loaded, errors } = await checkAgainstPytorch(SMALL, 'cnn-ops');
    expect(Object.keys(errors)).toEqual(['output', 'conv1', 'pool1', 'lrn', 'dw', 'gconv', 'pool2', 'fc1']);
    const types = new Map(loaded.layers.map((l) => [l.name, l.type]));
    expect(types.get('conv1')).toBe('Conv2D');
    expect(types.get('dw')).toBe('DepthwiseConv2D');
    expect(types.get('gconv')).toBe('GroupedConv2D');
    expect(types.get('lrn')).toBe('LRN');
    expect(types.get('bn1')).toBe('BatchNormalization');
    // Receptive fields follow the −∞ padding of pool1 like any padding: conv1 3×3 → pool1 3/2 → 7×7 field.
    expect(loaded.layers.find((l) => l.name === 'pool1')?.receptiveField).toEqual({ size: [5, 5], stride: [2, 2], offset: [-2, -2] });
  });

  it('the same net at opset 17 gives the same output', async () => {
    await checkAgainstPytorch(SMALL, 'cnn-ops-opset17');
  });

  it('branches, concatenation, a residual add, baked-in normalisation and a view flatten (opset 11)', async () => {
    const { loaded } = await checkAgainstPytorch(SMALL, 'residual-concat');
    const types = loaded.layers.map((l) => l.type);
    expect(types).toContain('Concatenate');
    expect(types).toContain('Add');
    expect(types).toContain('ChannelAffine');
    expect(types).toContain('FlatReorder');
  });

  it('opset 9: Clip and Pad attributes, MatMul + Add, global pooling', async () => {
    await checkAgainstPytorch(SMALL, 'legacy-opset9');
  });

  it('less common operators (opset 17) match PyTorch layer by layer, project, and export to what ONNX Runtime runs the same', async () => {
    const { loaded: summary } = await checkAgainstPytorch(SMALL, 'less-common-ops');
    const types = new Map(summary.layers.map((l) => [l.name, l.type]));
    // F.pad(reflect / replicate) is exported as shape plumbing (a reversed Slice of a [4, 2] constant, a Transpose)
    // that folds to constants before the Pad.
    expect([types.get('pad_pad'), types.get('pad')]).toEqual(['EdgePadding2D', 'EdgePadding2D']);
    expect(types.get('prelu')).toBe('PReLU');
    expect(types.get('pool1')).toBe('DilatedPooling2D');
    expect(types.get('pool2')).toBe('DilatedPooling2D'); // the partial last window of ceil mode
    expect(types.get('clip')).toBe('Clip');
    expect(types.get('elu')).toBe('ScaledElu');
    expect(types.get('gather')).toBe('PickChannels');
    expect(types.get('matmul')).toBe('MapMatMul');
    expect([types.get('up_spread'), types.get('up')]).toEqual(['ZeroInsertion2D', 'Conv2D']); // ConvTranspose
    expect(types.get('logsoftmax')).toBe('SoftmaxAlong');
    // pool1's field: conv1 3×3 on the reflect-padded image (offset −2), edge pad 1, a 3-tap pool 2 apart at stride 2.
    expect(summary.layers.find((l) => l.name === 'pool1')?.receptiveField).toEqual({ size: [7, 7], stride: [2, 2], offset: [-4, -4] });
    const loaded = await openModel(path.join(SMALL, 'less-common-ops.onnx'), 'less-common-ops');
    try {
      const inputNpy = readNpy(path.join(SMALL, 'less-common-ops.input.npy'));
      const input = toNhwc(toFloat32(inputNpy), inputNpy.shape);
      // It ends in log-probabilities: shown as probabilities, exp of PyTorch's output.
      const logProbabilities = toFloat32(readNpy(path.join(SMALL, 'less-common-ops.output.npy')));
      expect(loaded.summary.outputs).toBe('scores');
      expect(maxRelError(predictProbabilities(loaded, input), logProbabilities.map(Math.exp))).toBeLessThan(1e-4);
      // A gradient projection through every new layer equals autodiff of the unit.
      const before = tf.memory().numTensors;
      const projection = projectUnit(loaded, input, 'selu', 2, 'gradient');
      const [y, x] = projection.position;
      const expected = tf.tidy(
        () =>
          tf
            .grad((t: tf.Tensor) => tf.sum(tf.slice(loaded.layerModel('selu').apply(t) as tf.Tensor4D, [0, y, x, 2], [1, 1, 1, 1])))(
              tf.tensor4d(input, [1, 20, 20, 3]),
            )
            .dataSync() as Float32Array,
      );
      expect(maxRelError(projection.data, expected)).toBeLessThan(1e-4);
      // The deconvnet passes the paddings, PReLU and the dilated max pool; an ELU is no ReLU and is refused by name.
      expect(projectUnit(loaded, input, 'pool1', 3, 'deconv').data.some((v) => v !== 0)).toBe(true);
      expect(() => projectUnit(loaded, input, 'gather', 2, 'deconv')).toThrow(/ScaledElu layer \("elu"\)/);
      expect(tf.memory().numTensors).toBe(before);
      if (ort) {
        const exported = await exportModelBytes(loaded, 'onnx', 'test');
        const session = await ort.InferenceSession.create(Buffer.from(exported.bytes));
        const ran = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', toFloat32(inputNpy), inputNpy.shape) });
        await session.release();
        expect(maxRelError(ran[session.outputNames[0]].data as Float32Array, modelOutput(loaded, input))).toBeLessThan(1e-4);
      } else console.log('skipped: the export of less-common-ops in ONNX Runtime (onnxruntime-node not installed)');
    } finally {
      loaded.dispose();
    }
  });
});

function pythonWithTorchvision(): string | undefined {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { stdio: 'ignore' });
    return '/usr/bin/python3';
  } catch {
    return undefined;
  }
}

const python = pythonWithTorchvision();
const TORCHVISION_DIR = process.env.CNN_INSPECTOR_ONNX_FIXTURES ?? path.join(os.tmpdir(), 'cnn-inspector-onnx-torchvision');
if (!python) console.log('skipped: torchvision ONNX agreement (python3-torch / python3-torchvision not installed; .ci/run installs them)');

describe.skipIf(!python)('ONNX import: torchvision architectures exported by PyTorch', () => {
  beforeAll(async () => {
    if (!fs.existsSync(path.join(TORCHVISION_DIR, 'mobilenet_v2.json'))) {
      // Exporting five networks takes minutes: run it without blocking this worker's event loop (a blocked loop
      // misses the test runner's own messages and fails the run with an RPC timeout).
      await new Promise<void>((resolve, reject) => {
        const child = spawn(python!, [path.join(ROOT, 'build', 'onnx-fixtures.py'), 'torchvision', TORCHVISION_DIR], {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`onnx-fixtures.py exited with ${code}`))));
      });
    }
  }, 600_000);

  // Multiply–adds per image as torchvision's model documentation gives them (its "GFLOPS" column counts MACs).
  const PUBLISHED_GMACS: Record<string, number> = { alexnet: 0.71, vgg11: 7.61, resnet18: 1.81, squeezenet1_1: 0.35, mobilenet_v2: 0.3 };
  for (const name of ['alexnet', 'vgg11', 'resnet18', 'squeezenet1_1', 'mobilenet_v2']) {
    it(`${name} at 224×224 matches PyTorch, and its multiply–adds are torchvision's published count`, async () => {
      const { errors, loaded } = await checkAgainstPytorch(TORCHVISION_DIR, name);
      console.log(
        `agreement ${name}: ${Object.entries(errors)
          .map(([k, v]) => `${k} ${v.toExponential(1)}`)
          .join(', ')}`,
      );
      const gmacs = loaded.layers.reduce((sum, l) => sum + (l.macs ?? 0), 0) / 1e9;
      expect(Math.abs(gmacs - PUBLISHED_GMACS[name]) / PUBLISHED_GMACS[name]).toBeLessThan(0.02);
    }, 300_000);
  }
});

describe('ONNX import: weights in an external-data file', () => {
  it('reads them from beside the model and gives the same output as the inline file', async () => {
    const inline = await openModel(path.join(SMALL, 'cnn-ops.onnx'), 'inline');
    const external = await openModel(path.join(SMALL, 'external', 'cnn-ops.onnx'), 'external');
    try {
      const inputNpy = readNpy(path.join(SMALL, 'cnn-ops.input.npy'));
      const input = toNhwc(toFloat32(inputNpy), inputNpy.shape);
      expect(maxRelError(modelOutput(external, input), modelOutput(inline, input))).toBe(0);
    } finally {
      inline.dispose();
      external.dispose();
    }
  });
});

describe('probabilities, whatever the model ends in', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  // The reference outputs were computed by PyTorch: raw scores for models that end in a linear layer, a softmax
  // for cnn-ops. What Inspect and `predict` show must be probabilities in both cases (a torchvision export used to
  // read "316 % sure"), and a softmax is never applied twice.
  for (const [name, endsInSoftmax] of [
    ['legacy-opset9', false],
    ['residual-concat', false],
    ['cnn-ops', true],
  ] as const) {
    it(`${name}: shown probabilities are ${endsInSoftmax ? 'its own output' : 'the softmax of its scores'}, in the app and the CLI`, async () => {
      const loaded = await openModel(path.join(SMALL, `${name}.onnx`), name);
      try {
        const inputNpy = readNpy(path.join(SMALL, `${name}.input.npy`));
        const input = toNhwc(toFloat32(inputNpy), inputNpy.shape);
        const scores = toFloat32(readNpy(path.join(SMALL, `${name}.output.npy`)));
        const expected = endsInSoftmax ? scores : softmaxRows(scores, 1);
        const got = predictProbabilities(loaded, input);
        // The model's info says which it is.
        expect(loaded.summary.outputs).toBe(endsInSoftmax ? 'probabilities' : 'scores');
        expect(loaded.summary.notices.some((n) => /gives scores \(logits\), not probabilities/.test(n))).toBe(!endsInSoftmax);
        expect(got.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(maxRelError(got, expected)).toBeLessThan(1e-4);
        // The CLI on the same input (written NHWC as the CLI takes it).
        const file = path.join(os.tmpdir(), `probabilities-${name}-${process.pid}.npy`);
        writeNpy(file, { shape: [1, ...loaded.summary.inputShape], data: input });
        const out = JSON.parse(
          execFileSync(
            process.execPath,
            [
              path.join(ROOT, 'dist', 'electron', 'cli.cjs'),
              'predict',
              '--model',
              path.join(SMALL, `${name}.onnx`),
              '--image',
              file,
              '--top',
              String(expected.length),
            ],
            { encoding: 'utf8' },
          ),
        );
        fs.rmSync(file);
        for (const p of out.predictions as Array<{ index: number; probability: number }>) expect(p.probability).toBeCloseTo(expected[p.index], 4);
      } finally {
        loaded.dispose();
      }
    });
  }
});

describe('ONNX opsets 22–25', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  it('the same graph declared at opset 17, 22, 25 gives the same output; 26 is refused with its code', async () => {
    const type = onnxType('ModelProto');
    const source = fs.readFileSync(path.join(SMALL, 'cnn-ops-opset17.onnx'));
    const inputNpy = readNpy(path.join(SMALL, 'cnn-ops-opset17.input.npy'));
    const input = toNhwc(toFloat32(inputNpy), inputNpy.shape);
    const expected = toFloat32(readNpy(path.join(SMALL, 'cnn-ops-opset17.output.npy')));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opsets-'));
    try {
      for (const opset of [22, 25, 26]) {
        const message = type.decode(source) as unknown as { opsetImport: Array<{ domain?: string; version: number }> };
        for (const o of message.opsetImport) if (!o.domain || o.domain === 'ai.onnx') o.version = opset;
        const file = path.join(dir, `opset${opset}.onnx`);
        fs.writeFileSync(file, type.encode(message as never).finish());
        if (opset === 26) {
          await expect(openModel(file, 'o26')).rejects.toMatchObject({ code: 'ONNX_UNSUPPORTED_OPSET' });
          continue;
        }
        const loaded = await openModel(file, `o${opset}`);
        try {
          expect(maxRelError(modelOutput(loaded, input), expected), `opset ${opset}`).toBeLessThan(1e-4);
        } finally {
          loaded.dispose();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ONNX graphs exported in training mode are refused, not run as if in eval mode', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  type Graph = { node: Array<{ opType: string; input: string[]; output: string[]; name?: string; attribute: unknown[] }>; initializer: unknown[] };
  const variant = (edit: (graph: Graph) => void): string => {
    const type = onnxType('ModelProto');
    const message = type.decode(fs.readFileSync(path.join(SMALL, 'cnn-ops-opset17.onnx'))) as unknown as { graph: Graph };
    edit(message.graph);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'training-mode-')), 'model.onnx');
    fs.writeFileSync(file, type.encode(message as never).finish());
    return file;
  };
  /** A Dropout (ratio 0.5, training_mode as given) inserted before the Flatten. */
  const withDropout = (training: number) =>
    variant((g) => {
      const flatten = g.node.findIndex((n) => n.opType === 'Flatten');
      g.initializer.push(
        { name: 'ratio', dataType: 1, dims: [], floatData: [0.5] },
        { name: 'train', dataType: 9, dims: [], rawData: Uint8Array.of(training) },
      );
      g.node.splice(flatten, 0, { opType: 'Dropout', input: [g.node[flatten].input[0], 'ratio', 'train'], output: ['dropped'], name: 'drop', attribute: [] });
      g.node[flatten + 1].input[0] = 'dropped';
    });

  it('BatchNormalization with training_mode=1 and Dropout with training_mode true: MODEL_UNSUPPORTED_OP naming it', async () => {
    // PyTorch writes training_mode=0 on every BatchNormalization; the variant says 1.
    const bn = variant((g) => {
      const attributes = g.node.find((n) => n.opType === 'BatchNormalization')!.attribute as Array<{ name: string; type?: number; i?: number }>;
      const existing = attributes.find((a) => a.name === 'training_mode');
      if (existing) Object.assign(existing, { type: 2, i: 1 });
      else attributes.push({ name: 'training_mode', type: 2, i: 1 });
    });
    await expect(openModel(bn, 'bn')).rejects.toMatchObject({ code: 'MODEL_UNSUPPORTED_OP', message: expect.stringMatching(/training mode/) });
    await expect(openModel(withDropout(1), 'drop1')).rejects.toMatchObject({
      code: 'MODEL_UNSUPPORTED_OP',
      message: expect.stringMatching(/dropout in training mode/),
    });
  });

  it('Dropout with training_mode false runs as the identity (same output as without it)', async () => {
    const loaded = await openModel(withDropout(0), 'drop0');
    try {
      const inputNpy = readNpy(path.join(SMALL, 'cnn-ops-opset17.input.npy'));
      const expected = toFloat32(readNpy(path.join(SMALL, 'cnn-ops-opset17.output.npy')));
      expect(maxRelError(modelOutput(loaded, toNhwc(toFloat32(inputNpy), inputNpy.shape)), expected)).toBeLessThan(1e-4);
    } finally {
      loaded.dispose();
    }
  });
});

describe('PyTorch 2 exporter patterns', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  type Graph = { node: Array<{ opType: string; input: string[]; output: string[]; name?: string; attribute: unknown[] }>; initializer: unknown[] };
  const int64 = (name: string, values: number[]) => ({
    name,
    dataType: 7,
    dims: [values.length],
    rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  });

  it('flatten as Shape[0:1] → Concat → Reshape, and a per-channel scale Unsqueezed at axes [1, 2], give what ONNX Runtime gives', async () => {
    if (!ort) {
      console.log('skipped: PyTorch 2 patterns need onnxruntime-node as the reference');
      return;
    }
    const type = onnxType('ModelProto');
    const message = type.decode(fs.readFileSync(path.join(SMALL, 'cnn-ops-opset17.onnx'))) as unknown as { graph: Graph };
    const g = message.graph;
    const flatten = g.node.findIndex((n) => n.opType === 'Flatten');
    const x = g.node[flatten].input[0];
    const channels = 24; // pool2's
    const scale = Float32Array.from({ length: channels }, (_, i) => 0.5 + i / 10);
    g.initializer.push({ name: 'scale', dataType: 1, dims: [channels], rawData: new Uint8Array(scale.buffer) }, int64('axes12', [1, 2]), int64('minus1', [-1]));
    g.node.splice(
      flatten,
      1,
      { opType: 'Unsqueeze', input: ['scale', 'axes12'], output: ['scale_c11'], name: 'unsq', attribute: [] },
      { opType: 'Mul', input: [x, 'scale_c11'], output: ['scaled'], name: 'mul', attribute: [] },
      {
        opType: 'Shape',
        input: ['scaled'],
        output: ['batch'],
        name: 'shape',
        attribute: [
          { name: 'start', type: 2, i: 0 },
          { name: 'end', type: 2, i: 1 },
        ],
      },
      { opType: 'Concat', input: ['batch', 'minus1'], output: ['target'], name: 'cat', attribute: [{ name: 'axis', type: 2, i: 0 }] },
      { opType: 'Reshape', input: ['scaled', 'target'], output: [g.node[flatten].output[0]], name: 'flat', attribute: [] },
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pt2-'));
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, type.encode(message as never).finish());
    try {
      const inputNpy = readNpy(path.join(SMALL, 'cnn-ops-opset17.input.npy'));
      const session = await ort.InferenceSession.create(file);
      const reference = (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', toFloat32(inputNpy), inputNpy.shape) }))[session.outputNames[0]]
        .data as Float32Array;
      await session.release();
      const loaded = await openModel(file, 'pt2');
      try {
        expect(maxRelError(modelOutput(loaded, toNhwc(toFloat32(inputNpy), inputNpy.shape)), reference)).toBeLessThan(1e-4);
      } finally {
        loaded.dispose();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ONNX opset 6 (PyTorch’s early exporter)', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  const tensor = (name: string, dims: number[], values: number[]) => ({ name, dims, dataType: 1, floatData: values });
  const valueInfo = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const attr = (name: string, i: number) => ({ name, type: 2, i });
  /** x [1, 2, 3, 3] → 1×1 Conv to 3 channels → Add of a [3] bias (broadcast=1, axis=1) → BatchNormalization. */
  function legacyGraph(isTest: number): Uint8Array {
    const model = {
      irVersion: 3,
      opsetImport: [{ version: 6 }],
      graph: {
        name: 'legacy',
        node: [
          { opType: 'Conv', input: ['x', 'W'], output: ['y'], attribute: [] },
          { opType: 'Add', input: ['y', 'B'], output: ['z'], attribute: [attr('broadcast', 1), attr('axis', 1)] },
          { opType: 'BatchNormalization', input: ['z', 's', 'b', 'm', 'v'], output: ['out'], attribute: [attr('is_test', isTest)] },
        ],
        initializer: [
          tensor('W', [3, 2, 1, 1], [1, 2, -1, 0.5, 0, 3]),
          tensor('B', [3], [0.1, -0.2, 0.3]),
          tensor('s', [3], [1, 2, 0.5]),
          tensor('b', [3], [0, 1, -1]),
          tensor('m', [3], [0.5, 0, -0.5]),
          tensor('v', [3], [1, 4, 0.25]),
        ],
        input: [valueInfo('x', [1, 2, 3, 3])],
        output: [valueInfo('out', [1, 3, 3, 3])],
      },
    };
    return onnxType('ModelProto')
      .encode(model as never)
      .finish();
  }

  it('a [C] constant with broadcast=1, axis=1 is per channel (not NumPy’s right-aligned broadcast); is_test=0 is refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opset6-'));
    fs.writeFileSync(path.join(dir, 'legacy.onnx'), legacyGraph(1));
    fs.writeFileSync(path.join(dir, 'training.onnx'), legacyGraph(0));
    const loaded = await openModel(path.join(dir, 'legacy.onnx'), 'legacy');
    try {
      const x = Float32Array.from({ length: 18 }, (_, i) => Math.sin(i)); // NHWC [1, 3, 3, 2]
      const W = [
        [1, 2],
        [-1, 0.5],
        [0, 3],
      ];
      const [B, s, b, m, v] = [
        [0.1, -0.2, 0.3],
        [1, 2, 0.5],
        [0, 1, -1],
        [0.5, 0, -0.5],
        [1, 4, 0.25],
      ];
      // By hand, per position p and output channel k (NHWC).
      const want = new Float32Array(27);
      for (let p = 0; p < 9; p++) {
        for (let k = 0; k < 3; k++) {
          const z = W[k][0] * x[p * 2] + W[k][1] * x[p * 2 + 1] + B[k];
          want[p * 3 + k] = ((z - m[k]) / Math.sqrt(v[k] + 1e-5)) * s[k] + b[k];
        }
      }
      expect(maxRelError(modelOutput(loaded, x), want)).toBeLessThan(1e-5);
    } finally {
      loaded.dispose();
    }
    await expect(openModel(path.join(dir, 'training.onnx'), 'training')).rejects.toMatchObject({
      code: 'MODEL_UNSUPPORTED_OP',
      message: expect.stringContaining('training mode'),
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
