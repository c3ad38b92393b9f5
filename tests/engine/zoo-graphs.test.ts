/**
 * The ONNX model zoo's real architectures (../shared/onnx-conformance/light: AlexNet, ZFNet-512, GoogLeNet,
 * Inception v2, ResNet-50, SqueezeNet, DenseNet-121, ShuffleNet) open and compute what ONNX Runtime computes.
 * The files carry their weights as ConstantOfShape nodes (one value everywhere, so every class would tie); each
 * is rewritten here with seeded random weights of a sensible scale, run through ONNX Runtime (the independent
 * reference) and through CNN Inspector's conversion, and the class probabilities compared.
 * VGG-19 is left out for time (548 MB of weights, the same operators as AlexNet and ZFNet).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../electron/engine/backend';
import { layerActivations, modelOutput, predictProbabilities } from '../../electron/engine/analyses/activations';
import { softmaxRows } from '../../electron/engine/base/tensors';
import { projectUnit } from '../../electron/engine/analyses/projection';
import { exportModelBytes } from '../../electron/engine/model/export';
import { openModel } from '../../electron/engine/model/loaded-model';
import { onnxType } from '../../electron/engine/model/onnx/proto';
import { mulberry32 } from '../../electron/engine/base/random';
import { maxRelError } from '../helpers/numeric';
import { ort } from '../helpers/onnx-runtime';

const LIGHT = path.resolve(__dirname, '..', '..', '..', 'shared', 'onnx-conformance', 'light');
const MODELS = ['bvlc_alexnet', 'zfnet512', 'inception_v1', 'inception_v2', 'resnet50', 'squeezenet', 'densenet121', 'shufflenet'];

const available = fs.existsSync(LIGHT) && ort !== undefined;
if (!available) console.log(`skipped: zoo graphs (${fs.existsSync(LIGHT) ? 'onnxruntime-node not installed' : `${LIGHT} missing`})`);

interface Tensor {
  name: string;
  dims: unknown[];
  dataType: number;
  rawData?: Uint8Array;
  int64Data?: unknown[];
}
interface Node {
  opType: string;
  input: string[];
  output: string[];
}
interface Graph {
  node: Node[];
  initializer: Tensor[];
  input: Array<{ name: string; type?: unknown }>;
}

const int64s = (t: Tensor): number[] => {
  if (t.rawData && t.rawData.length) {
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    return Array.from({ length: t.rawData.length / 8 }, (_, i) => Number(view.getBigInt64(i * 8, true)));
  }
  return (t.int64Data ?? []).map(Number);
};

/**
 * Every ConstantOfShape replaced by a random initializer scaled for its role: conv / dense weights uniform with
 * variance 2 / fan-in (He), biases ±0.05, batch-norm scale 1 ± 0.1, shift and mean ±0.1, variance 1 … 1.5.
 */
function withRandomWeights(file: string, seed: number): Uint8Array {
  const type = onnxType('ModelProto');
  const model = type.decode(fs.readFileSync(file)) as unknown as { graph: Graph };
  const g = model.graph;
  const random = mulberry32(seed);
  const u = () => random() * 2 - 1;
  const init = new Map(g.initializer.map((t) => [t.name, t]));
  const role = (name: string): string => {
    for (const n of g.node) {
      const i = n.input.indexOf(name);
      if (i < 0) continue;
      if ((n.opType === 'Conv' || n.opType === 'Gemm') && i === 1) return 'weight';
      if (n.opType === 'BatchNormalization') return ['', 'scale', 'shift', 'mean', 'variance'][i];
      if (n.opType === 'Reshape' && i === 0) return role(n.output[0]);
      return 'bias';
    }
    return 'bias';
  };
  const kept: Node[] = [];
  for (const n of g.node) {
    if (n.opType !== 'ConstantOfShape') {
      kept.push(n);
      continue;
    }
    const dims = int64s(init.get(n.input[0])!);
    const count = dims.reduce((a, b) => a * b, 1);
    const values = new Float32Array(count);
    const r = role(n.output[0]);
    const fanIn = dims.length === 4 ? count / dims[0] : dims.length === 2 ? Math.max(dims[0], dims[1]) : 1;
    for (let i = 0; i < count; i++) {
      values[i] =
        r === 'weight'
          ? u() * Math.sqrt(6 / fanIn)
          : r === 'scale'
            ? 1 + 0.1 * u()
            : r === 'variance'
              ? 1 + 0.25 * (u() + 1)
              : r === 'bias'
                ? 0.05 * u()
                : 0.1 * u();
    }
    g.initializer.push({ name: n.output[0], dims, dataType: 1, rawData: new Uint8Array(values.buffer) });
    g.input.push({ name: n.output[0], type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  }
  g.node = kept;
  return type.encode(model as never).finish();
}

describe.skipIf(!available)('ONNX model zoo graphs agree with ONNX Runtime', () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-graphs-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [i, name] of MODELS.entries()) {
    it(`${name}: opens, and its probabilities match ONNX Runtime's on the same random weights`, async () => {
      const bytes = withRandomWeights(path.join(LIGHT, `light_${name}.onnx`), 100 + i);
      const file = path.join(dir, `${name}.onnx`);
      fs.writeFileSync(file, bytes);
      const random = mulberry32(7);
      const nchw = Float32Array.from({ length: 3 * 224 * 224 }, () => random());
      // The scores before the final softmax too (with random weights a softmax is often all but one-hot).
      const softmaxNode = (onnxType('ModelProto').decode(bytes) as unknown as { graph: Graph }).graph.node.find((n) => n.opType === 'Softmax');
      const session = await ort!.InferenceSession.create(file);
      const ran = await session.run({ [session.inputNames[0]]: new ort!.Tensor('float32', nchw, [1, 3, 224, 224]) });
      const reference = ran[session.outputNames[0]].data as Float32Array;
      await session.release();
      let referenceScores: Float32Array | undefined;
      if (softmaxNode) {
        const withScores = onnxType('ModelProto').decode(bytes) as unknown as { graph: Graph & { output: Array<{ name: string }> } };
        withScores.graph.output.push({ name: softmaxNode.input[0] });
        const scored = await ort!.InferenceSession.create(
          Buffer.from(
            onnxType('ModelProto')
              .encode(withScores as never)
              .finish(),
          ),
        );
        referenceScores = (await scored.run({ [scored.inputNames[0]]: new ort!.Tensor('float32', nchw, [1, 3, 224, 224]) }))[softmaxNode.input[0]]
          .data as Float32Array;
        await scored.release();
      }
      const loaded = await openModel(file, name);
      try {
        expect(loaded.summary.inputShape).toEqual([224, 224, 3]);
        const nhwc = new Float32Array(nchw.length);
        for (let c = 0; c < 3; c++) for (let p = 0; p < 224 * 224; p++) nhwc[p * 3 + c] = nchw[c * 224 * 224 + p];
        const before = tf.memory().numTensors;
        const got = modelOutput(loaded, nhwc);
        expect(tf.memory().numTensors).toBe(before);
        expect(got.length).toBe(1000);
        const err = maxRelError(got, reference);
        // What Inspect shows: the output itself after a softmax, the softmax of the scores otherwise (DenseNet's
        // zoo graph ends in a 1×1 convolution).
        const probabilities = predictProbabilities(loaded, nhwc);
        expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        expect(maxRelError(probabilities, softmaxNode ? got : softmaxRows(got, 1))).toBeLessThan(1e-6);
        let scoreErr = 0;
        if (referenceScores) {
          const softmaxLayer = loaded.model.layers.find((l) => l.getClassName() === 'Softmax')!;
          const scores = layerActivations(loaded, softmaxLayer.inboundNodes[0].inboundLayers[0].name, nhwc).data;
          scoreErr = maxRelError(scores, referenceScores);
        }
        console.log(
          `zoo ${name}: ${loaded.summary.layers.length} layers, max rel. error vs ONNX Runtime: output ${err.toExponential(1)}, scores ${scoreErr.toExponential(1)}`,
        );
        expect(err).toBeLessThan(1e-3);
        expect(scoreErr).toBeLessThan(1e-3);
        const argmax = (a: Float32Array) => a.indexOf(Math.max(...a));
        expect(argmax(got)).toBe(argmax(reference));
      } finally {
        loaded.dispose();
      }
    }, 240_000);
  }
});

describe.skipIf(!available)('zoo graphs: the layers made for them project and export', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  // ShuffleNet has the channel shuffle and the average pools that do not count their padding.
  it('ShuffleNet: a gradient projection through the shuffles and counted pools equals autodiff of the unit; its ONNX export runs the same in ONNX Runtime', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zoo-shuffle-'));
    const file = path.join(dir, 'shufflenet.onnx');
    fs.writeFileSync(file, withRandomWeights(path.join(LIGHT, 'light_shufflenet.onnx'), 42));
    const loaded = await openModel(file, 'shufflenet');
    try {
      const classes = loaded.model.layers.map((l) => l.getClassName());
      expect(classes).toContain('ChannelShuffle');
      expect(classes).toContain('CountedAveragePooling2D');
      const random = mulberry32(3);
      const input = Float32Array.from({ length: 224 * 224 * 3 }, () => random());
      // The last layer with a map, past every shuffle and counted pool.
      const layer = [...loaded.summary.layers].reverse().find((l) => l.outputShape.length === 3 && l.type === 'Activation')!;
      const before = tf.memory().numTensors;
      const projection = projectUnit(loaded, input, layer.name, 5, 'gradient');
      const [y, x] = projection.position;
      const sub = loaded.layerModel(layer.name);
      const expected = tf.tidy(() => {
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.slice(sub.apply(t) as tf.Tensor4D, [0, y, x, 5], [1, 1, 1, 1])))(tf.tensor4d(input, [1, 224, 224, 3]));
        return g.dataSync() as Float32Array;
      });
      expect(maxRelError(projection.data, expected)).toBeLessThan(1e-4);
      expect(tf.memory().numTensors).toBe(before);
      // Export to ONNX and run the export in ONNX Runtime: the same output as here.
      const exported = await exportModelBytes(loaded, 'onnx', 'test');
      const session = await ort!.InferenceSession.create(Buffer.from(exported.bytes));
      const nchw = new Float32Array(input.length);
      for (let c = 0; c < 3; c++) for (let p = 0; p < 224 * 224; p++) nchw[c * 224 * 224 + p] = input[p * 3 + c];
      const out = (await session.run({ [session.inputNames[0]]: new ort!.Tensor('float32', nchw, [1, 3, 224, 224]) }))[session.outputNames[0]]
        .data as Float32Array;
      await session.release();
      expect(maxRelError(out, modelOutput(loaded, input))).toBeLessThan(1e-4);
    } finally {
      loaded.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe.skipIf(!fs.existsSync(LIGHT))('zoo graphs as shipped: every light_* graph opens and gives its output_0.pb', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  // As shipped every weight is the same constant (0.02), so every class gets the same score whatever the input
  // (the recorded input is not shipped): a weak check of the numbers, a full one that all nine graphs, VGG-19 too,
  // open and run to the ONNX project's recorded output.
  for (const file of fs.existsSync(LIGHT) ? fs.readdirSync(LIGHT).filter((f) => f.endsWith('.onnx')) : []) {
    it(`${file} opens and matches ${file.replace('.onnx', '_output_0.pb')}`, async () => {
      const expected = onnxType('TensorProto').decode(fs.readFileSync(path.join(LIGHT, file.replace('.onnx', '_output_0.pb')))) as unknown as {
        rawData?: Uint8Array;
        floatData?: number[];
      };
      const want = expected.rawData?.length ? new Float32Array(Uint8Array.from(expected.rawData).buffer) : Float32Array.from(expected.floatData ?? []);
      const loaded = await openModel(path.join(LIGHT, file), file);
      try {
        const random = mulberry32(11);
        const got = modelOutput(
          loaded,
          Float32Array.from({ length: 224 * 224 * 3 }, () => random()),
        );
        expect(got.length).toBe(want.length);
        expect(maxRelError(got, want)).toBeLessThan(1e-5);
      } finally {
        loaded.dispose();
      }
    }, 240_000);
  }
});
