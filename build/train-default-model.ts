/**
 * Trains the bundled default model from Debian's Fashion-MNIST (apt-get install -y dataset-fashion-mnist) with
 * the project's own training core, and writes resources/:
 *   resources/model/model.json + weights.bin   final weights; labels + preprocessing in userDefinedMetadata
 *   resources/model/checkpoints/epoch-N/        checkpoints for the feature-evolution view
 *   resources/model/training-report.json        settings, seed, per-epoch history, test accuracy
 *   resources/samples/<class>/<index>.png       50 test images per class
 * Usage: npm run build:model [-- --epochs N --limit N --out DIR]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../electron/engine/backend';
import { readIdx } from '../electron/engine/data/idx';
import { buildZfFashion } from '../electron/engine/model/architectures';
import { fileSystemSaver } from '../electron/engine/model/tfjs-io';
import { trainClassifier, evaluateAccuracy, type LabelledArray } from '../electron/engine/train/loop';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_PREPROCESSING } from '../electron/engine/data/fashion-mnist';
import type { ModelMetadata } from '../shared/contract';

const DATASET_DIR = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
function argString(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function load(prefix: string, limit: number): LabelledArray & { raw: Uint8Array } {
  const images = readIdx(path.join(DATASET_DIR, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readIdx(path.join(DATASET_DIR, `${prefix}-labels-idx1-ubyte.gz`));
  const n = Math.min(limit, images.dims[0]);
  const [h, w] = [images.dims[1], images.dims[2]];
  const { scale, mean, std } = FASHION_MNIST_PREPROCESSING;
  const x = new Float32Array(n * h * w);
  for (let i = 0; i < x.length; i++) x[i] = (images.data[i] * scale - mean[0]) / std[0];
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = labels.data[i];
  return { x, y, shape: [n, h, w, 1], raw: images.data.subarray(0, n * h * w) };
}

async function main(): Promise<void> {
  const epochs = arg('epochs', 8);
  const limit = arg('limit', 60000);
  const outRoot = argString('out', path.resolve('resources'));
  const seed = 20131112; // ZF's arXiv date: any fixed number makes the run reproducible.
  const backend = await initBackend();
  console.log(`backend: ${backend.detail}`);
  const train = load('train', limit);
  const test = load('t10k', 10000);
  console.log(`train ${train.y.length} images, test ${test.y.length} images`);

  const model = buildZfFashion(1);
  const metadata: ModelMetadata = {
    name: 'ZF-Fashion (CNN Inspector default model)',
    description: 'Zeiler–Fergus-style CNN trained by CNN Inspector on Fashion-MNIST (build/train-default-model.ts).',
    labels: [...FASHION_MNIST_CLASSES],
    preprocessing: FASHION_MNIST_PREPROCESSING,
  };
  const modelDir = path.join(outRoot, 'model');
  const settings = {
    epochs,
    batchSize: 64,
    learningRate: 0.01,
    momentum: 0.9,
    lrDecay: { everyEpochs: 5, factor: 10 },
    weightDecay: 5e-4,
    augment: { cropPad: 2, flip: true, fill: (0 - FASHION_MNIST_PREPROCESSING.mean[0]) / FASHION_MNIST_PREPROCESSING.std[0] },
    seed,
  };
  const checkpointEpochs = Array.from({ length: epochs }, (_, i) => i + 1);
  const validation: LabelledArray = { x: test.x.subarray(0, 2000 * 784), y: test.y.subarray(0, 2000), shape: [2000, 28, 28, 1] };
  let lastLog = 0;
  const result = await trainClassifier(model, train, {
    ...settings,
    checkpointEpochs,
    validation,
    onCheckpoint: async (epoch) => {
      await model.save(fileSystemSaver(path.join(modelDir, 'checkpoints', `epoch-${epoch}`), { ...metadata, epoch } as unknown as Record<string, unknown>));
    },
    onProgress: (p) => {
      const now = Date.now();
      if (now - lastLog > 10000 || p.validationAccuracy !== undefined) {
        lastLog = now;
        console.log(
          `epoch ${p.epoch} batch ${p.batch}/${p.batchesPerEpoch} loss ${p.loss.toFixed(4)} lr ${p.learningRate} ` +
            `${p.imagesPerSecond.toFixed(0)} img/s` +
            (p.validationAccuracy !== undefined ? ` val-acc(2000 test) ${p.validationAccuracy.toFixed(4)}` : ''),
        );
      }
    },
  });
  const testAccuracy = await evaluateAccuracy(model, test);
  console.log(`Fashion-MNIST test accuracy (10 000 images): ${testAccuracy.toFixed(4)}`);
  await model.save(fileSystemSaver(modelDir, { ...metadata, testAccuracy } as unknown as Record<string, unknown>));
  fs.writeFileSync(
    path.join(modelDir, 'training-report.json'),
    JSON.stringify(
      { dataset: 'Fashion-MNIST', settings, history: result.history, trainImagesPerSecond: result.imagesPerSecond, testAccuracy, backend: backend.detail },
      null,
      2,
    ),
  );

  // Samples: the first 50 test images of each class, folder-per-class PNG.
  const samplesDir = path.join(outRoot, 'samples');
  fs.rmSync(samplesDir, { recursive: true, force: true });
  const perClass = new Array(10).fill(0);
  for (let i = 0; i < test.y.length && perClass.some((c) => c < 50); i++) {
    const label = test.y[i];
    if (perClass[label] >= 50) continue;
    perClass[label]++;
    const dir = path.join(samplesDir, FASHION_MNIST_CLASSES[label]);
    fs.mkdirSync(dir, { recursive: true });
    const pixels = Buffer.from(test.raw.subarray(i * 784, (i + 1) * 784));
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(path.join(dir, `test-${String(i).padStart(5, '0')}.png`));
  }
  console.log(`wrote ${modelDir} and ${samplesDir}; tensors alive: ${tf.memory().numTensors}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
