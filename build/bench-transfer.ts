/**
 * Bench lines for transfer learning (part of `npm run bench`; `BENCH_ONLY=transfer` alone):
 *  - the default model's training images/s (SGD with momentum, batch 64) vs the same architecture in PyTorch CPU
 *  - on 1 000 Fashion-MNIST test images written as PNG class folders with three broken files mixed in (a folder a
 *    person brings): time to a finished run and held-back accuracy for each of the four strategies, run through
 *    the engine as the app and CLI run them; RSS at the end of each pass (it must stay flat) and tensors after
 *  - the images-per-class curve (ZF Fig. 9) on that folder, pretrained features vs from random weights
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { makeJobContext } from '../electron/engine/base/job-context';
import { EngineCore } from '../electron/engine/core';
import { FASHION_MNIST_CLASSES } from '../electron/engine/data/fashion-mnist';
import { readIdx } from '../electron/engine/data/idx';
import { buildZfFashion } from '../electron/engine/model/architectures';
import { trainClassifier } from '../electron/engine/train/loop';
import { lastTrainingFallback } from '../electron/engine/train/onnx-gradients';
import type { Strategy } from '../electron/engine/train/finetune';
import { startFinetuneRun } from '../electron/engine/train/fine-tuning-run';
import { print, round } from './bench-batch';
import { resnetFile } from './bench-atlas';
import { loadModelFile } from '../electron/engine/model/registry';
import { mulberry32 } from '../electron/engine/base/random';

/** The bundled model's architecture in PyTorch (same layer sizes), trained as ours is: SGD momentum 0.9, batch 64. */
const TORCH_TRAIN = (seconds: number) => `
import time, torch, torch.nn as nn
torch.set_num_threads(2)
torch.manual_seed(0)
net = nn.Sequential(
  nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), nn.LocalResponseNorm(5, 1e-4, 0.75, 2),
  nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), nn.LocalResponseNorm(5, 1e-4, 0.75, 2),
  nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(), nn.Conv2d(96, 96, 3, padding=1), nn.ReLU(),
  nn.Conv2d(96, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
  nn.Linear(576, 256), nn.ReLU(), nn.Dropout(), nn.Linear(256, 256), nn.ReLU(), nn.Dropout(), nn.Linear(256, 10))
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
loss_fn = nn.CrossEntropyLoss()
x = torch.rand(1024, 1, 28, 28)
y = torch.randint(0, 10, (1024,))
def step(i):
  xb, yb = x[(i * 64) % 1024:(i * 64) % 1024 + 64], y[(i * 64) % 1024:(i * 64) % 1024 + 64]
  opt.zero_grad(); loss = loss_fn(net(xb), yb); loss.backward(); opt.step()
for i in range(4): step(i)
n, i, t0 = 0, 0, time.time()
while time.time() - t0 < ${seconds}:
  step(i); i += 1; n += 64
print(n / (time.time() - t0))
`;

const IDX = '/usr/share/datasets/fashion-mnist';

/** 100 Fashion-MNIST test images per class as PNG files in class folders, plus three files that are not images. */
async function fashionFolder(perClass: number): Promise<string> {
  const images = readIdx(path.join(IDX, 't10k-images-idx3-ubyte.gz'));
  const labels = readIdx(path.join(IDX, 't10k-labels-idx1-ubyte.gz'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fashion-'));
  const taken = new Array<number>(10).fill(0);
  // From the end of the test set: the bundled samples come from its start.
  for (let i = labels.data.length - 1; i >= 0 && taken.some((n) => n < perClass); i--) {
    const c = labels.data[i];
    if (taken[c] >= perClass) continue;
    const name = FASHION_MNIST_CLASSES[c];
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    await sharp(Buffer.from(images.data.subarray(i * 784, (i + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(path.join(dir, name, `test-${i}.png`));
    taken[c]++;
  }
  fs.writeFileSync(path.join(dir, 'Bag', 'broken.png'), Buffer.from('not a png'));
  fs.writeFileSync(path.join(dir, 'Coat', 'empty.jpg'), Buffer.alloc(0));
  fs.writeFileSync(path.join(dir, 'Dress', 'notes.txt'), 'a stray file');
  return dir;
}

/** Training throughput, ours (on every core, and on one thread) vs PyTorch on the same architecture. */
export async function trainingSpeedBench(seconds: number): Promise<void> {
  // The peer first, on a machine with nothing of ours running yet.
  let peer: number | null = null;
  try {
    peer = Number(execFileSync('/usr/bin/python3', ['-c', TORCH_TRAIN(seconds)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    peer = null;
  }
  const fashion = buildZfFashion(1);
  const train = {
    x: new Float32Array(1024 * 784).map(() => Math.random()),
    y: new Int32Array(1024).map((_, i) => i % 10),
    shape: [1024, 28, 28, 1] as [number, number, number, number],
  };
  await trainClassifier(fashion, train, { epochs: 1, batchSize: 64, learningRate: 0.01, momentum: 0.9, seed: 1, parallel: false }); // warm-up
  // About `seconds` of training each (an epoch is 1 024 images), ONNX Runtime's session start included.
  const run = (parallel: boolean, engine: 'auto' | 'tfjs' = 'tfjs') =>
    trainClassifier(fashion, train, {
      epochs: Math.max(1, Math.round(seconds / (engine === 'auto' ? 2 : 8))),
      batchSize: 64,
      learningRate: 0.01,
      momentum: 0.9,
      weightDecay: 5e-4,
      seed: 1,
      parallel,
      engine,
    });
  const onOrt = await run(true, 'auto');
  const oneThread = await run(false);
  const trained = await run(true);
  fashion.dispose();
  for (const [label, result] of [
    [`gradients on ONNX Runtime, ${onOrt.threads} threads`, onOrt],
    [`${tf.getBackend()}, ${trained.threads} threads, data-parallel`, trained],
    [`${tf.getBackend()}, one thread`, oneThread],
  ] as const) {
    if (result.engine !== (label.startsWith('gradients') ? 'onnxruntime' : 'tfjs')) {
      print({ name: `default model training (${label}): skipped, it ran on ${result.engine} (${lastTrainingFallback ?? ''})`, value: 0, unit: 'flag' });
      continue;
    }
    print({
      name: `default model training (SGD momentum, batch 64, ${label})`,
      value: round(result.imagesPerSecond, 1),
      unit: 'images/s',
      peer: peer === null ? null : 'PyTorch CPU, same architecture (2 threads)',
      ...(peer === null ? {} : { peer_value: round(peer, 1), ratio: round(result.imagesPerSecond / peer, 3) }),
    });
  }
}

/** torchvision's ResNet-18 without batch normalisation (the imported file has it folded into the convolutions), trained the same way. */
const TORCH_RESNET_TRAIN = (steps: number) => `
import time, torch, torchvision
torch.set_num_threads(2)
torch.manual_seed(0)
net = torchvision.models.resnet18(norm_layer=lambda c: torch.nn.Identity())
opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
x = torch.rand(16, 3, 224, 224)
y = torch.randint(0, 1000, (16,))
def step():
  opt.zero_grad(); loss = torch.nn.functional.cross_entropy(net(x), y); loss.backward(); opt.step()
for i in range(2): step()
t0 = time.time()
for i in range(${steps}): step()
print(${steps} * 16 / (time.time() - t0))
`;

/** Adjusting the whole of an imported 224-pixel network: ResNet-18 from torchvision's export, batch 16, vs PyTorch. */
export async function resnetTrainingBench(): Promise<void> {
  const file = resnetFile();
  if (!file) {
    print({ name: 'ResNet-18 training: skipped (needs python3-torch / python3-torchvision)', value: 0, unit: 'flag' });
    return;
  }
  let peer: number | null = null;
  try {
    peer = Number(execFileSync('/usr/bin/python3', ['-c', TORCH_RESNET_TRAIN(8)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    peer = null;
  }
  const loaded = await loadModelFile(file);
  const r = mulberry32(5);
  const n = 256;
  const data = {
    x: Float32Array.from({ length: n * 224 * 224 * 3 }, () => r()),
    y: Int32Array.from({ length: n }, (_, i) => i % 1000),
    shape: [n, 224, 224, 3] as [number, number, number, number],
  };
  const result = await trainClassifier(loaded.model, data, { epochs: 1, batchSize: 16, learningRate: 0.001, momentum: 0.9, seed: 1 });
  loaded.model.dispose();
  print({
    name: `ResNet-18-224 imported, whole network trained (SGD momentum, batch 16, ${result.engine === 'onnxruntime' ? 'gradients on ONNX Runtime' : `tfjs: ${lastTrainingFallback ?? ''}`}, ${result.threads} threads)`,
    value: round(result.imagesPerSecond, 2),
    unit: 'images/s',
    peer: peer === null ? null : 'PyTorch CPU, torchvision ResNet-18 without batch norm (2 threads)',
    ...(peer === null ? {} : { peer_value: round(peer, 2), ratio: round(result.imagesPerSecond / peer, 3) }),
  });
}

export async function transferBench(seconds: number): Promise<void> {
  await trainingSpeedBench(seconds);
  await resnetTrainingBench();
  if (!fs.existsSync(path.join(IDX, 't10k-images-idx3-ubyte.gz'))) {
    print({ name: 'transfer strategies on 1 000 images: skipped (apt-get install dataset-fashion-mnist)', value: 0, unit: 'flag' });
    return;
  }
  process.env.CNN_INSPECTOR_WORKSPACE = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-transfer-'));
  const folder = await fashionFolder(100);
  const core = new EngineCore();
  await core.init();
  await core.openModel(undefined);
  await core.openDataset(folder);
  const tensorsBefore = tf.memory().numTensors;
  for (const strategy of ['features', 'fc', 'all', 'scratch'] as Strategy[]) {
    const rssAtPassEnd: number[] = [];
    const ctx = makeJobContext(
      (_done, _total, _message, metrics) => {
        if (metrics?.validationAccuracy !== undefined) rssAtPassEnd.push(process.memoryUsage().rss);
      },
      () => false,
    );
    const start = performance.now();
    const r = await startFinetuneRun(
      core.requireModel(),
      core.requireDataset(),
      { strategy, epochs: 10, earlyStopping: false },
      path.join(process.env.CNN_INSPECTOR_WORKSPACE, `run-${strategy}`),
      ctx,
    );
    const wall = (performance.now() - start) / 1000;
    print({
      name: `strategy "${strategy}" on 1 000 PNG images (800 train, 3 broken files), 10 passes: time to a finished run`,
      value: round(wall, 1),
      unit: 's',
    });
    print({ name: `strategy "${strategy}" on 1 000 PNG images: held-back accuracy (200 images)`, value: round(r.validationAccuracy * 100, 1), unit: '%' });
    if (rssAtPassEnd.length >= 3) {
      print({
        name: `strategy "${strategy}": RSS change from the end of pass 2 to the end of pass ${rssAtPassEnd.length}`,
        value: round((rssAtPassEnd[rssAtPassEnd.length - 1] - rssAtPassEnd[1]) / 1048576, 1),
        unit: 'MiB',
      });
    }
  }
  print({ name: 'tensors alive after four fine-tuning runs minus before', value: tf.memory().numTensors - tensorsBefore, unit: 'tensors' });
  const curveStart = performance.now();
  const curve = await core.runJob(
    'imagesPerClass',
    { seeds: 3, scratch: true, scratchSeeds: 2 },
    makeJobContext(
      () => undefined,
      () => false,
    ),
  );
  for (const row of curve.rows)
    print({
      name: `images per class ${row.perClass}: held-back accuracy, new last step on pretrained features (mean of ${row.runs})`,
      value: round(row.accuracy * 100, 1),
      unit: '%',
    });
  for (const row of curve.scratchRows ?? [])
    print({ name: `images per class ${row.perClass}: held-back accuracy, whole network from random weights`, value: round(row.accuracy * 100, 1), unit: '%' });
  print({ name: 'images-per-class curve with the from-random-weights line: wall time', value: round((performance.now() - curveStart) / 1000, 1), unit: 's' });
  fs.rmSync(folder, { recursive: true, force: true });
}
