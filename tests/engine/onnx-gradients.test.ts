/**
 * Training on ONNX Runtime (model/onnx/gradient-graph.ts, train/onnx-gradients.ts): every gradient the graph gives
 * equals tfjs's autodiff of the same loss on the same batch, with maps held CNHW and CHWN — the bundled
 * architecture (5×5 and 3×3 convolutions, overlapping max pooling, LRN, dense layers, dropout with the same mask)
 * and a residual network with strided convolutions, valid padding, a ReLU layer, global average pooling and a
 * frozen layer; a run trained on it ends with the weights of the same run on tfjs; a layer with no rule (batch
 * normalisation) leaves training on tfjs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../electron/engine/backend';
import { buildZfFashion } from '../../electron/engine/model/architectures';
import { exportGradientGraph, kernelFromLayout, kernelInLayout, kernelShapeIn, type MapLayout } from '../../electron/engine/model/onnx/gradient-graph';
import { onnxRuntime } from '../../electron/engine/runtime/onnx-runtime';
import { logitsModel, trainClassifier } from '../../electron/engine/train/loop';
import { lastTrainingFallback, startOnnxGradients, type OnnxGradientOptions } from '../../electron/engine/train/onnx-gradients';
import { mulberry32 } from '../../electron/engine/base/random';
import { maxRelError, relativeL2Error } from '../helpers/numeric';
import { ConstantPadding2D } from '../../electron/engine/model/layers/onnx-ops';
import { loadModelFile } from '../../electron/engine/model/registry';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const hasOrt = onnxRuntime().module !== undefined;
if (!hasOrt) console.log(`skipped: training on ONNX Runtime (${onnxRuntime().reason})`);

function batch(n: number, shape: number[], classes: number, seed: number) {
  const r = mulberry32(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    x: Float32Array.from({ length: n * size }, () => r()),
    y: Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % classes),
    shape: [n, ...shape] as [number, number, number, number],
  };
}

/**
 * tfjs's gradients of the summed softmax cross-entropy, layer by layer in inference mode except that each Dropout
 * multiplies by the given mask (as the graph does); the reference the graph is compared with.
 */
function tfjsGradients(lossModel: tfl.LayersModel, trainable: tf.Variable[], data: ReturnType<typeof batch>, masks: Map<string, Float32Array>) {
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const outputs = new Map<string, tf.Tensor>();
      const input = lossModel.inputs[0].sourceLayer as tfl.layers.Layer;
      outputs.set(input.name, tf.tensor4d(data.x, data.shape));
      for (const layer of lossModel.layers) {
        if (layer === input) continue;
        const inbound = (layer as unknown as { inboundNodes: Array<{ inboundLayers: tfl.layers.Layer[] }> }).inboundNodes[0].inboundLayers;
        const ins = inbound.map((l) => outputs.get(l.name)!);
        const mask = masks.get(layer.name);
        const out = mask ? tf.mul(ins[0], tf.tensor(mask, ins[0].shape)) : (layer.apply(ins.length === 1 ? ins[0] : ins, { training: false }) as tf.Tensor);
        outputs.set(layer.name, out);
      }
      const logits = outputs.get((lossModel.outputs[0].sourceLayer as tfl.layers.Layer).name)!;
      const labels = tf.oneHot(tf.tensor1d(data.y, 'int32'), logits.shape[1]!);
      return tf.losses.softmaxCrossEntropy(labels, logits, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
    }, trainable);
    return { loss: value.dataSync()[0], grads: trainable.map((v) => grads[v.name].dataSync() as Float32Array) };
  });
}

/** The graph's gradients for the same batch and masks (masks given in the graph's layout: [N, F] for vectors). */
async function graphGradients(
  lossModel: tfl.LayersModel,
  trainable: tf.Variable[],
  data: ReturnType<typeof batch>,
  masks: Map<string, Float32Array>,
  options: OnnxGradientOptions = {},
) {
  const onnx = await startOnnxGradients(lossModel, trainable, options);
  expect(onnx, lastTrainingFallback).toBeDefined();
  const graph = exportGradientGraph(lossModel, trainable, onnx!.layout);
  // dropoutMask drops where random() < rate: replay the chosen masks, in the graph's order of its mask inputs.
  const queue = graph.masks.flatMap((m) => Array.from(masks.get(m.input.slice('mask:'.length))!));
  let at = 0;
  const random = () => (queue[at++] === 0 ? 0 : 0.999999);
  const out = await onnx!.gradients(
    trainable.map((v) => v.dataSync() as Float32Array),
    data.x,
    data.shape,
    data.y,
    random,
  );
  await onnx!.close();
  return { ...out, layout: onnx!.layout };
}

function residualNet(): tfl.LayersModel {
  const seedInit = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const input = tfl.input({ shape: [16, 16, 3] });
  const stem = tfl.layers
    .conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem', kernelInitializer: seedInit(1) })
    .apply(input) as tfl.SymbolicTensor;
  const down = tfl.layers
    .conv2d({ filters: 12, kernelSize: 3, strides: 2, padding: 'same', name: 'down', kernelInitializer: seedInit(2) })
    .apply(stem) as tfl.SymbolicTensor;
  const downRelu = tfl.layers.reLU({ name: 'down_relu' }).apply(down) as tfl.SymbolicTensor;
  const inner = tfl.layers
    .conv2d({ filters: 12, kernelSize: 3, padding: 'same', name: 'inner', kernelInitializer: seedInit(3) })
    .apply(downRelu) as tfl.SymbolicTensor;
  const sum = tfl.layers.add({ name: 'residual' }).apply([inner, downRelu]) as tfl.SymbolicTensor;
  const valid = tfl.layers
    .conv2d({ filters: 10, kernelSize: 2, strides: 2, activation: 'relu', name: 'valid', kernelInitializer: seedInit(4) })
    .apply(sum) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(valid) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 5, name: 'logits', kernelInitializer: seedInit(5) }).apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/**
 * The layers torchvision's networks import as: padding layers, a max-pool after −∞ padding, a fire module's
 * concatenation, a final average pool (or a global one, which has a CHWN rule).
 */
function importedStyleNet(end: 'average' | 'global' = 'average'): tfl.LayersModel {
  const seedInit = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const input = tfl.input({ shape: [15, 15, 3] });
  const padded = tfl.layers
    .zeroPadding2d({
      padding: [
        [1, 2],
        [2, 1],
      ],
      name: 'pad',
    })
    .apply(input) as tfl.SymbolicTensor;
  const stem = tfl.layers
    .conv2d({ filters: 6, kernelSize: 3, strides: 2, activation: 'relu', name: 'stem', kernelInitializer: seedInit(1) })
    .apply(padded) as tfl.SymbolicTensor;
  const minusInf = new ConstantPadding2D({
    padding: [
      [1, 1],
      [1, 1],
    ],
    value: -Infinity,
    name: 'pool_pad',
  }).apply(stem) as tfl.SymbolicTensor;
  const pooled = tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool' }).apply(minusInf) as tfl.SymbolicTensor;
  const squeeze = tfl.layers
    .conv2d({ filters: 4, kernelSize: 1, activation: 'relu', name: 'squeeze', kernelInitializer: seedInit(2) })
    .apply(pooled) as tfl.SymbolicTensor;
  const e1 = tfl.layers
    .conv2d({ filters: 5, kernelSize: 1, activation: 'relu', name: 'e1', kernelInitializer: seedInit(3) })
    .apply(squeeze) as tfl.SymbolicTensor;
  const e3 = tfl.layers
    .conv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', name: 'e3', kernelInitializer: seedInit(4) })
    .apply(squeeze) as tfl.SymbolicTensor;
  const fire = tfl.layers.concatenate({ name: 'fire' }).apply([e1, e3]) as tfl.SymbolicTensor;
  const flat =
    end === 'average'
      ? (tfl.layers.flatten({ name: 'flat' }).apply(tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, name: 'avg' }).apply(fire)) as tfl.SymbolicTensor)
      : (tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(fire) as tfl.SymbolicTensor);
  const out = tfl.layers.dense({ units: 4, name: 'logits', kernelInitializer: seedInit(5) }).apply(flat) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

/** MobileNetV2's pieces: depthwise convolutions (stride 1 'same', stride 2 after zero padding), ReLU6, an inverted residual. */
function mobileStyleNet(): tfl.LayersModel {
  const seedInit = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const input = tfl.input({ shape: [12, 12, 3] });
  const expand = tfl.layers.conv2d({ filters: 8, kernelSize: 1, name: 'expand', kernelInitializer: seedInit(1) }).apply(input) as tfl.SymbolicTensor;
  const relu6 = tfl.layers.reLU({ maxValue: 6, name: 'relu6' }).apply(expand) as tfl.SymbolicTensor;
  const dw1 = tfl.layers
    .depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw1', depthwiseInitializer: tfl.initializers.randomUniform({ minval: -2, maxval: 2, seed: 2 }) })
    .apply(relu6) as tfl.SymbolicTensor;
  const project = tfl.layers.conv2d({ filters: 8, kernelSize: 1, name: 'project', kernelInitializer: seedInit(3) }).apply(dw1) as tfl.SymbolicTensor;
  const residual = tfl.layers.add({ name: 'inverted_residual' }).apply([project, expand]) as tfl.SymbolicTensor;
  const padded = tfl.layers
    .zeroPadding2d({
      padding: [
        [1, 1],
        [1, 1],
      ],
      name: 'pad',
    })
    .apply(residual) as tfl.SymbolicTensor;
  const dw2 = tfl.layers
    .depthwiseConv2d({
      kernelSize: 3,
      strides: 2,
      activation: 'relu',
      name: 'dw2',
      depthwiseInitializer: tfl.initializers.randomUniform({ minval: -1, maxval: 1, seed: 4 }),
    })
    .apply(padded) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(dw2) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, name: 'logits', kernelInitializer: seedInit(5) }).apply(pooled) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

const torchvisionDir = process.env.CNN_INSPECTOR_ONNX_FIXTURES ?? path.join(os.tmpdir(), 'cnn-inspector-onnx-torchvision');
const resnet18 = path.join(torchvisionDir, 'resnet18.onnx');
const mobilenet = path.join(torchvisionDir, 'mobilenet_v2.onnx');

describe.skipIf(!hasOrt)('training gradients on ONNX Runtime', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  it('rearrange kernels into each layout and back', () => {
    const hwio = [3, 2, 4, 5];
    const data = Float32Array.from({ length: 120 }, (_, i) => i);
    // OIHW's (o, i, y, x) is HWIO's (y, x, i, o); IHWO's (i, y, x, o) too.
    expect(kernelInLayout(data, hwio, 'oihw')[((4 * 4 + 3) * 3 + 2) * 2 + 1]).toBe(data[((2 * 2 + 1) * 4 + 3) * 5 + 4]);
    expect(kernelInLayout(data, hwio, 'ihwo')[((3 * 3 + 2) * 2 + 1) * 5 + 4]).toBe(data[((2 * 2 + 1) * 4 + 3) * 5 + 4]);
    expect(kernelShapeIn(hwio, 'ihwo')).toEqual([4, 3, 2, 5]);
    for (const layout of ['oihw', 'flipped-iohw', 'ihwo'] as const) expect(kernelFromLayout(kernelInLayout(data, hwio, layout), hwio, layout)).toEqual(data);
  });

  for (const layout of ['cnhw', 'chwn'] as MapLayout[])
    it(`equal tfjs's on the bundled architecture, dropout masks and all (maps held ${layout.toUpperCase()})`, async () => {
      const model = buildZfFashion(3);
      const { model: lossModel } = logitsModel(model);
      const trainable = lossModel.trainableWeights.map((v) => v.read() as tf.Variable);
      const data = batch(12, [28, 28, 1], 10, 5);
      const r = mulberry32(9);
      const masks = new Map(['drop6', 'drop7'].map((name) => [name, Float32Array.from({ length: 12 * 256 }, () => (r() < 0.5 ? 0 : 2))]));
      const reference = tfjsGradients(lossModel, trainable, data, masks);
      const got = await graphGradients(lossModel, trainable, data, masks, { layout });
      expect(got.layout).toBe(layout);
      expect(got.lossSum).toBeCloseTo(reference.loss, 3);
      trainable.forEach((v, i) => expect(maxRelError(got.grads[i], reference.grads[i]), v.name).toBeLessThan(1e-4));
      // Dropout mattered: without the masks the gradient of fc6 differs.
      const unmasked = tfjsGradients(lossModel, trainable, data, new Map());
      expect(maxRelError(unmasked.grads[10], reference.grads[10])).toBeGreaterThan(0.05);
      model.dispose();
    });

  it("equal tfjs's through strided and valid convolutions, a residual add and global pooling, frozen layers left out", async () => {
    const model = residualNet();
    model.getLayer('stem').trainable = false;
    const trainable = model.trainableWeights.map((v) => v.read() as tf.Variable);
    expect(trainable.map((v) => v.name).some((n) => n.startsWith('stem'))).toBe(false);
    const data = batch(6, [16, 16, 3], 5, 2);
    const reference = tfjsGradients(model, trainable, data, new Map());
    // Asked for CHWN, it is written CNHW: a strided convolution's input gradient has no CHWN rule.
    const got = await graphGradients(model, trainable, data, new Map(), { layout: 'chwn' });
    expect(got.layout).toBe('cnhw');
    expect(got.lossSum).toBeCloseTo(reference.loss, 3);
    trainable.forEach((v, i) => expect(maxRelError(got.grads[i], reference.grads[i]), v.name).toBeLessThan(1e-4));
    // A batch too big for one run's memory goes in slices (here of 4 and 2 images) that add up to it.
    const sliced = await graphGradients(model, trainable, data, new Map(), { runBytes: 4 * 4 * exportGradientGraph(model, trainable).floatsPerImage });
    expect(sliced.lossSum).toBeCloseTo(reference.loss, 3);
    trainable.forEach((v, i) => expect(maxRelError(sliced.grads[i], reference.grads[i]), v.name).toBeLessThan(1e-4));
    model.dispose();
  });

  for (const [end, layout] of [
    ['average', 'cnhw'],
    ['global', 'chwn'],
  ] as const)
    it(`equal tfjs's through padding layers, a max-pool after −∞ padding, a concatenation and ${end} pooling (${layout.toUpperCase()})`, async () => {
      const model = importedStyleNet(end);
      const trainable = model.trainableWeights.map((v) => v.read() as tf.Variable);
      const data = batch(5, [15, 15, 3], 4, 3);
      const reference = tfjsGradients(model, trainable, data, new Map());
      const got = await graphGradients(model, trainable, data, new Map(), { layout });
      expect(got.layout).toBe(layout);
      expect(got.lossSum).toBeCloseTo(reference.loss, 3);
      trainable.forEach((v, i) => expect(maxRelError(got.grads[i], reference.grads[i]), v.name).toBeLessThan(1e-4));
      model.dispose();
    });

  it("equal tfjs's through depthwise convolutions (stride 1 and 2), ReLU6 and an inverted residual", async () => {
    const model = mobileStyleNet();
    const trainable = model.trainableWeights.map((v) => v.read() as tf.Variable);
    // Inputs up to 30, so ReLU6 reaches its ceiling.
    const data = batch(4, [12, 12, 3], 3, 6);
    data.x.forEach((v, i) => (data.x[i] = v * 30));
    // The reference is the cpu backend's: wasm's depthwise gradients are the project's own kernels.
    await tf.setBackend('cpu');
    const reference = tfjsGradients(model, trainable, data, new Map());
    await tf.setBackend('wasm');
    const got = await graphGradients(model, trainable, data, new Map());
    expect(got.lossSum).toBeCloseTo(reference.loss, 3);
    trainable.forEach((v, i) => expect(maxRelError(got.grads[i], reference.grads[i]), v.name).toBeLessThan(1e-4));
    model.dispose();
  });

  // The references run on wasm (MobileNetV2's depthwise gradients there are the project's kernels, themselves
  // tested against the cpu backend's, which takes ~50 s here and blocks the test worker past vitest's timeouts).
  for (const net of [
    { file: resnet18, images: 2, what: 'ResNet-18 as imported (224 pixels, every layer learning)' },
    { file: mobilenet, images: 1, what: 'MobileNetV2 as imported (depthwise convolutions, ReLU6)' },
  ])
    it.skipIf(!fs.existsSync(net.file))(
      `equal tfjs's on torchvision's ${net.what}`,
      async () => {
        const loaded = await loadModelFile(net.file);
        const { model: lossModel } = logitsModel(loaded.model);
        const trainable = lossModel.trainableWeights.map((v) => v.read() as tf.Variable);
        const data = batch(net.images, [224, 224, 3], 1000, 11);
        const reference = tfjsGradients(lossModel, trainable, data, new Map());
        const got = await graphGradients(lossModel, trainable, data, new Map());
        expect(got.lossSum).toBeCloseTo(reference.loss, 1);
        // A deep random network has pre-activations within float rounding of zero, where the two engines' ReLU
        // masks can differ: the whole-tensor error, not one element's, is what stays small.
        trainable.forEach((v, i) => expect(relativeL2Error(got.grads[i], reference.grads[i]), v.name).toBeLessThan(1e-3));
        loaded.model.dispose();
      },
      120_000,
    );

  it('trains to the weights of the same run on tfjs (momentum, weight decay) and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const run = async (engine: 'auto' | 'tfjs') => {
      const model = residualNet();
      const data = batch(120, [16, 16, 3], 5, 7);
      const result = await trainClassifier(model, data, {
        epochs: 2,
        batchSize: 10,
        learningRate: 0.05,
        momentum: 0.9,
        weightDecay: 5e-3,
        seed: 3,
        engine,
        parallel: engine !== 'tfjs',
      });
      const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
      model.dispose();
      return { result, weights };
    };
    const onTfjs = await run('tfjs');
    const onOrt = await run('auto');
    expect(onTfjs.result.engine).toBe('tfjs');
    expect(onOrt.result.engine).toBe('onnxruntime');
    onOrt.weights.forEach((w, i) => expect(maxRelError(w, onTfjs.weights[i]), `weight ${i}`).toBeLessThan(1e-3));
    onOrt.result.history.forEach((e, i) => expect(e.loss).toBeCloseTo(onTfjs.result.history[i].loss, 3));
    expect(onOrt.result.history[1].loss).toBeLessThan(onOrt.result.history[0].loss);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaves a model with batch normalisation on tfjs, saying why', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3 }));
    m.add(tfl.layers.batchNormalization());
    m.add(tfl.layers.flatten());
    m.add(tfl.layers.dense({ units: 3 }));
    const result = await trainClassifier(m, batch(160, [8, 8, 1], 3, 1), { epochs: 1, batchSize: 10, learningRate: 0.01, momentum: 0.9, seed: 1 });
    expect(result.engine).toBe('tfjs');
    expect(lastTrainingFallback).toMatch(/BatchNormalization/);
    m.dispose();
  });
});
