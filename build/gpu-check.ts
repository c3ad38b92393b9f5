/**
 * GPU check (run on a machine with a GPU; not part of CI): the webgpu backend (Dawn over Vulkan) against the
 * pure-JavaScript cpu backend on the bundled model — predictions and the gradients the training loop uses
 * (convolution, pooling and LRN backward kernels) — then throughput: forward and training images/s of the
 * bundled model and ZFNet-224 forward. JSON lines on stdout.
 *   node build/build.mjs --gpu-check          (here: one file with tfjs and tfjs-backend-webgpu bundled in)
 *   CNN_INSPECTOR_DAWN=/path/to/dawn.node node dist/gpu-check.cjs     (there, in the project folder)
 * dawn.node comes from the `webgpu` npm package (dist/linux-x64/dawn.node); Vulkan's loader must be installed.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../electron/engine/backend';
import { buildZfFashion, buildZfNet224 } from '../electron/engine/model/architectures';
import { openModel } from '../electron/engine/model/loaded-model';
import { logitsModel, trainClassifier } from '../electron/engine/train/loop';
import { mulberry32 } from '../electron/engine/base/random';
import { maxRelError } from '../tests/helpers/numeric';

const line = (value: Record<string, unknown>) => console.log(JSON.stringify(value));
async function readAndFree(t: tf.Tensor): Promise<void> {
  await t.data();
  t.dispose();
}

async function rate(run: () => Promise<unknown> | unknown, images: number, seconds = 4): Promise<number> {
  await run();
  await run();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await run();
    n += images;
  }
  return n / ((performance.now() - start) / 1000);
}

/** The bundled model's predictions and the loss gradients on one fixed batch (read asynchronously: see below). */
async function measure(modelFile: string, x: Float32Array, y: Int32Array) {
  const loaded = await openModel(modelFile, 'bundled');
  const batch = y.length;
  const probsTensor = tf.tidy(() => loaded.model.predict(tf.tensor4d(x, [batch, 28, 28, 1])) as tf.Tensor);
  const probs = (await probsTensor.data()) as Float32Array;
  probsTensor.dispose();
  const { model: logits } = logitsModel(loaded.model);
  const variables = loaded.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const gradTensors = tf.tidy(() => {
    const { grads: g } = tf.variableGrads(
      () =>
        tf.losses.softmaxCrossEntropy(
          tf.oneHot(tf.tensor1d(y, 'int32'), 10),
          logits.apply(tf.tensor4d(x, [batch, 28, 28, 1]), { training: false }) as tf.Tensor,
        ) as tf.Scalar,
      variables,
    );
    return variables.map((v) => g[v.name]);
  });
  const grads = await Promise.all(gradTensors.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(gradTensors);
  const names = variables.map((v) => v.name.replace(/_\d+$/, ''));
  loaded.dispose();
  return { probs, grads, names };
}

async function main(): Promise<void> {
  const root = process.env.CNN_INSPECTOR_ROOT ?? process.cwd();
  const modelFile = path.join(root, 'resources', 'model', 'model.json');
  const random = mulberry32(7);
  const batch = 32;
  const x = Float32Array.from({ length: batch * 784 }, () => random() * 2 - 0.5);
  const y = Int32Array.from({ length: batch }, (_, i) => i % 10);

  await initBackend({ preferred: 'cpu' });
  const reference = await measure(modelFile, x, y);

  // WebGPU through Dawn: navigator.gpu must exist before tfjs-backend-webgpu loads (it registers only then).
  const dawnFile = process.env.CNN_INSPECTOR_DAWN;
  if (!dawnFile) throw new Error('set CNN_INSPECTOR_DAWN to dawn.node');
  const dawn = createRequire(__filename)(dawnFile) as { create(opts: string[]): unknown; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  (globalThis as unknown as { navigator: { gpu: unknown } }).navigator = { gpu: dawn.create([]) };
  await import('@tensorflow/tfjs-backend-webgpu');
  // The engine's registry refuses webgpu where results cannot be read synchronously (it then runs on wasm);
  // this check sets the backend itself to measure what the GPU would give with asynchronous reads.
  try {
    const choice = await initBackend({ preferred: 'webgpu', allowNative: true });
    line({ registry: choice.detail, skipped: choice.skipped });
  } catch (error) {
    line({ registry_refuses_webgpu: error instanceof Error ? error.message : String(error) });
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU adapter');
  const choice = { detail: `webgpu (Dawn), ${tf.getBackend()}` };
  const adapter = await (
    globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<{ info?: { description?: string; vendor?: string } } | null> } } }
  ).navigator.gpu.requestAdapter();
  line({ backend: choice.detail, adapter: adapter?.info?.description ?? adapter?.info?.vendor ?? 'unknown' });

  const gpu = await measure(modelFile, x, y);
  line({ check: 'bundled model predictions, webgpu vs cpu (max relative error)', value: maxRelError(gpu.probs, reference.probs) });
  const gradErrors = gpu.grads.map((g, i) => ({ variable: gpu.names[i], error: maxRelError(g, reference.grads[i]) }));
  line({ check: 'loss gradients of every weight, webgpu vs cpu (worst)', value: Math.max(...gradErrors.map((e) => e.error)), per_variable: gradErrors });

  // Throughput on the GPU.
  const fashion = buildZfFashion(1);
  for (const b of [64, 256]) {
    const input = tf.randomUniform([b, 28, 28, 1]);
    line({
      figure: `default model forward, batch ${b}, webgpu`,
      value: await rate(() => readAndFree(tf.tidy(() => fashion.predict(input) as tf.Tensor)), b),
      unit: 'images/s',
    });
    input.dispose();
  }
  const train = {
    x: Float32Array.from({ length: 4096 * 784 }, () => random()),
    y: Int32Array.from({ length: 4096 }, (_, i) => i % 10),
    shape: [4096, 28, 28, 1] as [number, number, number, number],
  };
  await trainClassifier(
    fashion,
    { ...train, x: train.x.subarray(0, 256 * 784), y: train.y.subarray(0, 256), shape: [256, 28, 28, 1] },
    { epochs: 1, batchSize: 64, learningRate: 0.01, momentum: 0.9, seed: 1 },
  );
  for (const b of [64, 256]) {
    const r = await trainClassifier(fashion, train, { epochs: 1, batchSize: b, learningRate: 0.01, momentum: 0.9, weightDecay: 5e-4, seed: 1 });
    line({ figure: `default model training (SGD momentum), batch ${b}, webgpu`, value: r.imagesPerSecond, unit: 'images/s' });
  }
  fashion.dispose();
  const zf = buildZfNet224(1);
  for (const b of [8, 32]) {
    const input = tf.randomUniform([b, 224, 224, 3]);
    line({
      figure: `ZFNet-224 forward, batch ${b}, webgpu`,
      value: await rate(() => readAndFree(tf.tidy(() => zf.predict(input) as tf.Tensor)), b),
      unit: 'images/s',
    });
    input.dispose();
  }
  zf.dispose();
  line({ tensors_left: tf.memory().numTensors });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
