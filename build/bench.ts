/**
 * `npm run bench`: one JSON object per line — {name, value, unit, peer?, peer_value?, ratio?} (docs/ARCHITECTURE.md, "Benchmarks").
 *  - forward images/s of the bundled model and of ZFNet-224 (ZF Fig. 3 sizes, random weights, batch 8) on the
 *    chosen backend; PyTorch CPU (/usr/bin/python3, when `import torch` works) on the same ZFNet-224 as the peer
 *  - transfer learning (bench-transfer.ts): training images/s vs PyTorch, the four strategies on 1 000 PNG images
 *  - peak RSS and tensor count after a 2 000-image pass through the engine (decode → preprocess → predict)
 *  - the classroom (bench-classroom.ts): 30 simulated students on loopback for 60 s, p50/p95 per request kind
 *    against one student alone, errors, and the server's memory before and after
 * Ratios are ours / peer for throughputs (higher is better).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../electron/engine/backend';
import { makeJobContext } from '../electron/engine/base/job-context';
import { EngineCore } from '../electron/engine/core';
import { buildZfFashion, buildZfNet224 } from '../electron/engine/model/architectures';
import { projectUnit, projectUnitFast } from '../electron/engine/analyses/projection';
import { releaseBatchSessions } from '../electron/engine/runtime/batch-forward';
import { resnetAtlasBench } from './bench-atlas';
import { openModel } from '../electron/engine/model/loaded-model';
import { fileSystemSaver } from '../electron/engine/model/tfjs-io';
import * as os from 'node:os';
import { resnetTrainingBench, trainingSpeedBench, transferBench } from './bench-transfer';
import { classroomBench } from './bench-classroom';
import { PROJECT_ROOT } from '../electron/engine/paths';
import {
  agrawalSuiteBench,
  batchPathBench,
  shardedCollectionBench,
  imagesPerSecond,
  importedModelsBench,
  loadOnly,
  print,
  round,
  torchImagesPerSecond,
} from './bench-batch';

/** Images/s of a tfjs model's predict on random [batch, ...shape] inputs (read back, so the work is done). */
async function forwardImagesPerSecond(
  model: { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] },
  shape: number[],
  batch: number,
  seconds: number,
): Promise<number> {
  const x = tf.randomUniform([batch, ...shape]);
  try {
    // The first run (kernel setup, XNNPACK packing) is the warm-up imagesPerSecond leaves out.
    return await imagesPerSecond(() => tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync()), batch, seconds);
  } finally {
    x.dispose();
  }
}

/** ZFNet-224 (ZF Fig. 3 sizes, random weights) in PyTorch, the same network as buildZfNet224. */
const TORCH_ZFNET = `net = nn.Sequential(
  nn.Conv2d(3, 96, 7, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), nn.LocalResponseNorm(5, 1e-4, 0.75, 2),
  nn.Conv2d(96, 256, 5, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), nn.LocalResponseNorm(5, 1e-4, 0.75, 2),
  nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
  nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
  nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000), nn.Softmax(1))`;

/**
 * What a PyTorch user does to see what drives a conv5 unit: autograd of the unit's strongest activation back to
 * the pixels of one 224×224 image, 20 units, p50 and p95 in ms (null without torch).
 */
function torchProjectionLatency(): { p50: number; p95: number } | null {
  const script = `
import json, time, torch, torch.nn as nn
torch.set_num_threads(2)
torch.manual_seed(0)
${TORCH_ZFNET}
body = net[:14].eval()  # up to conv5 and its ReLU
x = torch.rand(1, 3, 224, 224, requires_grad=True)
times = []
for unit in range(21):
  t0 = time.time()
  y = body(x)
  g, = torch.autograd.grad(y[0, unit].max(), x)
  times.append((time.time() - t0) * 1000)
times = sorted(times[1:])  # the first call warms the allocator
print(json.dumps({"p50": times[10], "p95": times[19]}))
`;
  try {
    return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    return null;
  }
}

/**
 * Deconv latency on ZFNet-224 (conv5, the deepest conv), the model saved to disk and opened like a user's, against
 * PyTorch autograd of the same unit. Disposes `zf`.
 */
async function zfProjectionBench(zf: ReturnType<typeof buildZfNet224>): Promise<void> {
  const zfDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zfnet224-'));
  await zf.save(fileSystemSaver(zfDir));
  zf.dispose();
  const zfLoaded = await openModel(path.join(zfDir, 'model.json'), 'zfnet224');
  const zfInput = new Float32Array(224 * 224 * 3).map(() => Math.random());
  const latency = async (project: (unit: number) => unknown) => {
    await project(20); // the first call makes the sessions
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await project(i);
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b);
  };
  const zfTimes = await latency((unit) => projectUnitFast(zfLoaded, zfInput, 'conv5', unit, 'deconv'));
  const engine = (await projectUnitFast(zfLoaded, zfInput, 'conv5', 0, 'deconv')).engine;
  const tfjsTimes = await latency((unit) => projectUnit(zfLoaded, zfInput, 'conv5', unit, 'deconv'));
  print({ name: 'deconv projection latency p50, ZFNet-224 conv5, per-unit tfjs path (the fallback)', value: round(tfjsTimes[10], 1), unit: 'ms' });
  const guided = await latency((unit) => projectUnitFast(zfLoaded, zfInput, 'conv5', unit, 'guided'));
  const guidedEngine = (await projectUnitFast(zfLoaded, zfInput, 'conv5', 0, 'guided')).engine;
  const guidedTfjs = await latency((unit) => projectUnit(zfLoaded, zfInput, 'conv5', unit, 'guided'));
  print({
    name: `guided backprop latency p50 of 20 units, ZFNet-224 conv5 (one image, ${guidedEngine})`,
    value: round(guided[10], 1),
    unit: 'ms',
    peer: 'the per-unit tfjs path (the fallback, and the only path before)',
    peer_value: round(guidedTfjs[10], 1),
    ratio: round(guidedTfjs[10] / guided[10], 2),
  });
  await releaseBatchSessions(zfLoaded);
  zfLoaded.dispose();
  fs.rmSync(zfDir, { recursive: true, force: true });
  const torchProjection = torchProjectionLatency();
  for (const [label, at] of [
    ['p50', 10],
    ['p95', 19],
  ] as const) {
    const peerMs = torchProjection?.[label];
    print({
      name: `deconv projection latency ${label} of 20 units, ZFNet-224 conv5 (one image, ${engine})`,
      value: round(zfTimes[at], 1),
      unit: 'ms',
      peer: peerMs === undefined ? null : 'PyTorch CPU autograd of the same unit to the pixels (2 threads)',
      // Lower is better here: the ratio is the peer's time over ours (above 1 = faster than PyTorch).
      ...(peerMs === undefined ? {} : { peer_value: round(peerMs, 1), ratio: round(peerMs / zfTimes[at], 2) }),
    });
  }
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const seconds = Number(process.env.BENCH_SECONDS ?? 6);
  // BENCH_ONLY=batch|imports|resnet-atlas|agrawal|training|transfer|classroom|shards|projection runs one section (for iterating on it).
  if (process.env.BENCH_ONLY === 'batch') return batchPathBench(seconds);
  if (process.env.BENCH_ONLY === 'imports') return importedModelsBench(seconds, __filename);
  if (process.env.BENCH_ONLY === 'agrawal') return agrawalSuiteBench();
  if (process.env.BENCH_ONLY === 'transfer') return transferBench(seconds);
  if (process.env.BENCH_ONLY === 'training') return trainingSpeedBench(seconds).then(resnetTrainingBench);
  if (process.env.BENCH_ONLY === 'classroom') return classroomBench(PROJECT_ROOT);
  if (process.env.BENCH_ONLY === 'shards') return shardedCollectionBench(PROJECT_ROOT);
  if (process.env.BENCH_ONLY === 'projection') return zfProjectionBench(buildZfNet224(1));
  if (process.env.BENCH_ONLY === 'resnet-atlas') return resnetAtlasBench();

  const fashion = buildZfFashion(1);
  print({
    name: `default model forward (batch 64, ${backend.name})`,
    value: round(await forwardImagesPerSecond(fashion, [28, 28, 1], 64, seconds), 1),
    unit: 'images/s',
  });

  fashion.dispose();

  const zf = buildZfNet224(1);
  const ours = await forwardImagesPerSecond(zf, [224, 224, 3], 8, seconds);
  await zfProjectionBench(zf);
  const peer = torchImagesPerSecond(TORCH_ZFNET, seconds);
  print({
    name: `ZFNet-224 forward (batch 8, ${backend.name})`,
    value: round(ours),
    unit: 'images/s',
    peer: peer === null ? null : 'PyTorch CPU (2 threads)',
    ...(peer === null ? {} : { peer_value: round(peer), ratio: round(ours / peer, 3) }),
  });

  // A 2 000-image pass through the engine's evaluation path, on Fashion-MNIST IDX if installed, else the samples.
  const idx = '/usr/share/datasets/fashion-mnist';
  const core = new EngineCore();
  await core.init();
  await core.openModel(undefined);
  await core.openDataset(fs.existsSync(path.join(idx, 't10k-images-idx3-ubyte.gz')) ? idx : undefined);
  const tensorsBefore = tf.memory().numTensors;
  let peakRss = process.memoryUsage().rss;
  const timer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const start = performance.now();
  let passed = 0;
  while (passed < 2000) {
    const result = await core.runJob(
      'evaluate',
      { limit: Math.min(2000 - passed, 10000) },
      makeJobContext(
        () => undefined,
        () => false,
      ),
    );
    passed += result.count;
  }
  const elapsed = (performance.now() - start) / 1000;
  clearInterval(timer);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const quiet = makeJobContext(
    () => undefined,
    () => false,
  );
  const layers = (core.modelSummary?.layers ?? []).filter((l) => l.type !== 'InputLayer' && l.type !== 'Dropout').map((l) => l.name);
  for (const [label, dataset] of [
    ['bundled samples', undefined],
    ['10 000 Fashion-MNIST test images', fs.existsSync(path.join(idx, 't10k-images-idx3-ubyte.gz')) ? idx : null],
  ] as const) {
    if (dataset === null) continue;
    const count = (await core.openDataset(dataset)).count;
    let atlasPeak = process.memoryUsage().rss;
    const atlasTimer = setInterval(() => (atlasPeak = Math.max(atlasPeak, process.memoryUsage().rss)), 50);
    const atlasStart = performance.now();
    await core.buildTopK({ layers, k: 9 }, quiet);
    const seconds = (performance.now() - atlasStart) / 1000;
    clearInterval(atlasTimer);
    print({ name: `top-9 atlas peak RSS, ${label}`, value: round(atlasPeak / 1048576, 1), unit: 'MiB' });
    print({ name: `top-9 atlas scan, all ${layers.length} layers of the default model, ${label}`, value: round(count / seconds, 1), unit: 'images/s' });
    print({ name: `top-9 atlas scan time, ${label}`, value: round(seconds, 2), unit: 's' });
  }
  await core.openDataset(undefined);
  const sample = { source: 'dataset' as const, index: 0 };
  const latencies = async (layer: string, unit: number, runs: number, project: (l: string, u: number) => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await project(layer, unit);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(runs * 0.5)], p95: times[Math.min(runs - 1, Math.floor(runs * 0.95))] };
  };
  const deconvDefault = await latencies('conv5', 3, 40, (layer, unit) => core.project({ image: sample, layer, unit, method: 'deconv' }));
  print({ name: 'deconv projection latency p50, default model conv5', value: round(deconvDefault.p50, 1), unit: 'ms' });
  print({ name: 'deconv projection latency p95, default model conv5', value: round(deconvDefault.p95, 1), unit: 'ms' });
  const occStart = performance.now();
  await core.runJob('occlusion', { image: sample, patch: 7, stride: 1 }, quiet);
  print({ name: 'occlusion map, default model, 7-px square, stride 1 (484 positions)', value: round((performance.now() - occStart) / 1000, 2), unit: 's' });
  print({ name: 'engine pass: decode + preprocess + predict (default model)', value: round(passed / elapsed, 1), unit: 'images/s' });
  print({ name: 'peak RSS during a 2000-image pass', value: round(peakRss / 1024 / 1024, 1), unit: 'MiB' });
  print({ name: 'tensors alive after a 2000-image pass minus before', value: tf.memory().numTensors - tensorsBefore, unit: 'tensors' });
  await batchPathBench(seconds);
  await importedModelsBench(seconds, __filename);
  await resnetAtlasBench();
  await agrawalSuiteBench();
  await shardedCollectionBench(PROJECT_ROOT);
  await transferBench(seconds);
  await classroomBench(PROJECT_ROOT);
}

const loadOnlyAt = process.argv.indexOf('--load-only');
(loadOnlyAt >= 0 ? loadOnly(process.argv[loadOnlyAt + 1]) : main()).catch((error) => {
  console.error(error);
  process.exit(1);
});
