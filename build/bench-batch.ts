/**
 * Bench lines for the batch path and imported models (part of `npm run bench`):
 *  - ZFNet-224 forward: the engine's batch path vs a bare ONNX Runtime session on the same ONNX bytes (our overhead)
 *    and vs tfjs-wasm; PyTorch CPU printed by bench.ts
 *  - end to end from PNG files on disk (decode + preprocess + forward) vs the tensor-in figure
 *  - ZFNet-224 atlas (conv5, top-9) over 1 000 PNG images: wall time
 *  - torchvision ONNX imports (ResNet-18, VGG-11): load time and peak RSS (in a child process), forward images/s
 *    vs the same model in PyTorch CPU
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { makeJobContext } from '../electron/engine/base/job-context';
import { EngineCore } from '../electron/engine/core';
import { buildZfNet224 } from '../electron/engine/model/architectures';
import { openModel } from '../electron/engine/model/loaded-model';
import { BUNDLED_MODEL_PATH } from '../electron/engine/paths';
import { exportOnnx } from '../electron/engine/model/onnx/export';
import { fileSystemSaver } from '../electron/engine/model/tfjs-io';
import { batchForward, releaseBatchSessions } from '../electron/engine/runtime/batch-forward';
import { createOrtSession, onnxRuntime, resetOnnxRuntimeForTests } from '../electron/engine/runtime/onnx-runtime';

export interface Line {
  name: string;
  value: number;
  unit: string;
  peer?: string | null;
  peer_value?: number;
  ratio?: number;
}
/** One bench figure as a JSON line (docs/ARCHITECTURE.md, "Benchmarks"). */
export const print = (line: Line) => console.log(JSON.stringify(line));
export const round = (v: number, digits = 2) => Number(v.toFixed(digits));
const quiet = makeJobContext(
  () => undefined,
  () => false,
);

export async function imagesPerSecond(run: () => unknown, batch: number, seconds: number): Promise<number> {
  await run(); // warm-up
  let images = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await run();
    images += batch;
  }
  return images / ((performance.now() - start) / 1000);
}

/** A folder of `count` random 224×224 PNGs in two classes (a user's image folder, for end-to-end figures). */
export async function pngFolder(count: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-png-'));
  for (const cls of ['a', 'b']) fs.mkdirSync(path.join(dir, cls));
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed / 2147483648);
  const tile = Buffer.alloc(56 * 56 * 3);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < tile.length; j++) tile[j] = Math.floor(rand() * 256);
    // Upscaled noise: PNGs of realistic size and decode cost, not incompressible 150 KB blobs.
    const png = await sharp(tile, { raw: { width: 56, height: 56, channels: 3 } })
      .resize(224, 224, { kernel: 'cubic' })
      .png()
      .toBuffer();
    fs.writeFileSync(path.join(dir, i % 2 ? 'a' : 'b', `img-${String(i).padStart(5, '0')}.png`), png);
  }
  return dir;
}

export async function batchPathBench(seconds: number): Promise<void> {
  const ort = onnxRuntime();
  if (!ort.module) {
    print({ name: `batch path: ONNX Runtime unavailable (${ort.reason}); batch jobs run on tfjs`, value: 0, unit: 'flag' });
  }
  // ZFNet-224 saved and opened like a user's model.
  const zfDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zfnet224-'));
  const zf = buildZfNet224(1);
  await zf.save(fileSystemSaver(zfDir));
  zf.dispose();
  const loaded = await openModel(path.join(zfDir, 'model.json'), 'zfnet224');
  const batch = 8;
  const input = new Float32Array(batch * 224 * 224 * 3).map(() => Math.random());
  const outputLayer = loaded.model.outputLayers[0].name;
  const tfjs = await batchForward(loaded, [outputLayer], 'tfjs');
  const tfjsRate = await imagesPerSecond(() => tfjs.run(input, batch), batch, seconds);
  if (ort.module) {
    const engine = await batchForward(loaded, [outputLayer], 'onnxruntime');
    const engineRate = await imagesPerSecond(() => engine.run(input, batch), batch, seconds);
    const { session } = await createOrtSession(ort.module, exportOnnx(loaded.model, { inputLayout: 'nhwc' }));
    const feeds = { [session.inputNames[0]]: new ort.module.Tensor('float32', input, [batch, 224, 224, 3]) };
    const bareRate = await imagesPerSecond(() => session.run(feeds), batch, seconds);
    await session.release();
    print({
      name: `ZFNet-224 forward, engine batch path (${engine.engine}, batch 8)`,
      value: round(engineRate),
      unit: 'images/s',
      peer: 'bare ONNX Runtime session, same model',
      peer_value: round(bareRate),
      ratio: round(engineRate / bareRate, 3),
    });
    print({
      name: 'ZFNet-224 forward, engine batch path vs tfjs-wasm',
      value: round(engineRate),
      unit: 'images/s',
      peer: `tfjs (${tfjs.engine})`,
      peer_value: round(tfjsRate),
      ratio: round(engineRate / tfjsRate, 2),
    });
  }

  // End to end from PNG files: decode + preprocess + forward, through the evaluation job.
  const pngDir = await pngFolder(1000);
  const core = new EngineCore();
  await core.init();
  await core.openModel(path.join(zfDir, 'model.json'));
  await core.openDataset(pngDir);
  const tensorIn = await imagesPerSecond(async () => (await batchForward(loaded, [outputLayer])).run(input, batch), batch, seconds);
  await core.runJob('evaluate', { limit: 16 }, quiet); // session created and warm, as in a long job
  const e2eStart = performance.now();
  const evaluated = await core.runJob('evaluate', { limit: 400 }, quiet);
  const e2eRate = evaluated.count / ((performance.now() - e2eStart) / 1000);
  print({
    name: 'ZFNet-224 end to end from PNG files (decode + preprocess + forward)',
    value: round(e2eRate),
    unit: 'images/s',
    peer: 'tensor-in, same path',
    peer_value: round(tensorIn),
    ratio: round(e2eRate / tensorIn, 3),
  });
  const atlasStart = performance.now();
  await core.buildTopK({ layers: ['conv5'], k: 9 }, quiet);
  print({
    name: 'ZFNet-224 top-9 atlas of conv5 over 1 000 PNG images (scan + patches + projections)',
    value: round((performance.now() - atlasStart) / 1000, 1),
    unit: 's',
  });
  // Without ONNX Runtime: tfjs data-parallel over helper threads (one WebAssembly instance per core).
  process.env.CNN_INSPECTOR_ONNXRUNTIME = '0';
  resetOnnxRuntimeForTests();
  const parallel = await batchForward(loaded, [outputLayer]);
  const parallelRate = await imagesPerSecond(() => parallel.run(input, batch), batch, seconds);
  print({
    name: `ZFNet-224 forward without ONNX Runtime (${parallel.engine}, batch 8)`,
    value: round(parallelRate),
    unit: 'images/s',
    peer: 'tfjs, one thread',
    peer_value: round(tfjsRate),
    ratio: round(parallelRate / tfjsRate, 2),
  });
  await releaseBatchSessions(loaded);
  delete process.env.CNN_INSPECTOR_ONNXRUNTIME;
  resetOnnxRuntimeForTests();

  await releaseBatchSessions(loaded);
  loaded.dispose();
  fs.rmSync(pngDir, { recursive: true, force: true });
  fs.rmSync(zfDir, { recursive: true, force: true });
}

/**
 * Images/s of a PyTorch CPU network (2 threads, batch 8 at 224×224) — `net` is Python that builds it, after
 * `import torch, torch.nn as nn` — or null where /usr/bin/python3 cannot import torch.
 */
export function torchImagesPerSecond(net: string, seconds: number): number | null {
  const script = `
import time, torch, torch.nn as nn
torch.set_num_threads(2)
torch.manual_seed(0)
${net}
net = net.eval()
x = torch.rand(8, 3, 224, 224)
with torch.no_grad():
  net(x)
  n, t0 = 0, time.time()
  while time.time() - t0 < ${seconds}:
    net(x); n += 8
print(n / (time.time() - t0))
`;
  try {
    return Number(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    return null;
  }
}

/** Load time and peak RSS of opening one model, measured in a fresh process (`bench.cjs --load-only FILE`). */
export async function loadOnly(file: string): Promise<void> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const { initBackend } = await import('../electron/engine/backend');
  await initBackend({ preferred: 'wasm' });
  const base = process.memoryUsage().rss;
  const start = performance.now();
  const loaded = await openModel(file, file);
  const seconds = (performance.now() - start) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log(JSON.stringify({ seconds, peakMiB: peak / 1048576, baseMiB: base / 1048576, params: loaded.summary.totalParams }));
}

export async function importedModelsBench(seconds: number, benchScript: string): Promise<void> {
  const dir = process.env.CNN_INSPECTOR_ONNX_FIXTURES ?? path.join(os.tmpdir(), 'cnn-inspector-onnx-torchvision');
  const python = '/usr/bin/python3';
  if (!fs.existsSync(path.join(dir, 'vgg11.onnx'))) {
    try {
      execFileSync(python, [path.join(__dirname, '..', '..', 'build', 'onnx-fixtures.py'), 'torchvision', dir], { stdio: 'ignore' });
    } catch {
      print({ name: 'imported torchvision models: skipped (python3-torch / python3-torchvision not installed)', value: 0, unit: 'flag' });
      return;
    }
  }
  for (const name of ['resnet18', 'vgg11']) {
    const file = path.join(dir, `${name}.onnx`);
    const out = execFileSync(process.execPath, ['--max-old-space-size=8192', benchScript, '--load-only', file], { encoding: 'utf8' });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; peakMiB: number; baseMiB: number };
    const fileMiB = fs.statSync(file).size / 1048576;
    print({ name: `${name} ONNX (${round(fileMiB, 0)} MiB) load time`, value: round(r.seconds), unit: 's' });
    print({
      name: `${name} ONNX load: peak RSS above the engine's baseline, in multiples of the file size`,
      value: round((r.peakMiB - r.baseMiB) / fileMiB),
      unit: '× file',
    });
    const loaded = await openModel(file, name);
    const input = new Float32Array(8 * 224 * 224 * 3).map(() => Math.random());
    const outputLayer = loaded.model.outputLayers[0].name;
    const torch = torchImagesPerSecond(`import torchvision\nnet = getattr(torchvision.models, ${JSON.stringify(name)})(weights=None)`, seconds);
    for (const engine of ['tfjs', 'onnxruntime'] as const) {
      if (engine === 'onnxruntime' && !onnxRuntime().module) continue;
      const forward = await batchForward(loaded, [outputLayer], engine);
      const rate = await imagesPerSecond(() => forward.run(input, 8), 8, seconds);
      print({
        name: `${name} forward at 224×224, batch 8 (${forward.engine})`,
        value: round(rate),
        unit: 'images/s',
        peer: torch === null ? null : 'PyTorch CPU (2 threads)',
        ...(torch === null ? {} : { peer_value: round(torch), ratio: round(rate / torch, 3) }),
      });
    }
    await releaseBatchSessions(loaded);
    loaded.dispose();
  }
}

/**
 * Agrawal et al. suite on 10 000 Fashion-MNIST test images with the default model: sparsity (all layers),
 * selectivity (every convolution and dense layer), grandmother cells and distributed code (fc7), probes of every
 * layer: wall time and peak RSS of the whole (issue target: < 3 min, < 2 GiB on 2 cores). Then, on their own
 * lines, the per-model passes: probes at every checkpoint (layers over training time) and the comparison of the
 * epoch-1 checkpoint with the final model.
 */
export async function agrawalSuiteBench(): Promise<void> {
  const idx = '/usr/share/datasets/fashion-mnist';
  if (!fs.existsSync(path.join(idx, 't10k-images-idx3-ubyte.gz'))) {
    print({ name: 'Agrawal suite on 10 000 images: skipped (apt-get install dataset-fashion-mnist)', value: 0, unit: 'flag' });
    return;
  }
  process.env.CNN_INSPECTOR_WORKSPACE = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-agrawal-')); // nothing cached
  const core = new EngineCore();
  await core.init();
  await core.openModel(undefined);
  await core.openDataset(idx);
  const unitLayers = (core.modelSummary?.layers ?? []).filter((l) => l.kernel || l.type === 'Dense').map((l) => l.name);
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  const times: Record<string, number> = {};
  const timed = async (name: string, run: () => Promise<unknown>) => {
    const t0 = performance.now();
    await run();
    times[name] = (performance.now() - t0) / 1000;
  };
  const start = performance.now();
  await timed('sparsity', () => core.runJob('sparsity', {}, quiet));
  await timed('selectivity', () => core.runJob('selectivity', { layers: unitLayers }, quiet));
  await timed('gmc', () => core.runJob('gmc', { layer: 'fc7' }, quiet));
  await timed('distributed', () => core.runJob('distributedCode', { layer: 'fc7' }, quiet));
  const everyLayer = (core.modelSummary?.layers ?? []).filter((l) => l.type !== 'InputLayer' && l.type !== 'Dropout').map((l) => l.name);
  // The probe job first collects every layer's maps (one forward pass, written to disk), then trains the probes.
  const probeStart = performance.now();
  let collected = 0;
  const noteCollected = makeJobContext(
    (_d, _t, message) => void (!collected && message.startsWith('Probing') && (collected = (performance.now() - probeStart) / 1000)),
    () => false,
  );
  await timed(`probes of all ${everyLayer.length} layers`, () =>
    core.runJob('probe', { layers: everyLayer, ablations: ['original'], seeds: 1 }, noteCollected),
  );
  times[`probes: of which collecting the ${everyLayer.length} layers' maps`] = collected;
  const total = (performance.now() - start) / 1000;
  const suitePeak = Math.max(peak, process.memoryUsage().rss);
  for (const [name, seconds] of Object.entries(times)) print({ name: `Agrawal suite on 10 000 images: ${name}`, value: round(seconds, 1), unit: 's' });
  print({ name: 'Agrawal suite on 10 000 images: total wall time', value: round(total, 1), unit: 's' });
  print({ name: 'Agrawal suite on 10 000 images: peak RSS', value: round(suitePeak / 1048576, 0), unit: 'MiB' });
  // Items 7 and 8 are passes per model on top of the suite: every checkpoint, and a second model.
  peak = process.memoryUsage().rss;
  const extra: Record<string, number> = {};
  const t7 = performance.now();
  await core.runJob('probeTraining', { seeds: 1 }, quiet);
  extra['layers over training time (9 checkpoints × the 6 default layers)'] = (performance.now() - t7) / 1000;
  const t8 = performance.now();
  await core.runJob('compareModels', { other: path.join(path.dirname(BUNDLED_MODEL_PATH), 'checkpoints', 'epoch-1', 'model.json') }, quiet);
  extra['what training changed (epoch-1 vs final: weights, selectivity and probes of 8 layers)'] = (performance.now() - t8) / 1000;
  clearInterval(timer);
  for (const [name, seconds] of Object.entries(extra)) print({ name: `Agrawal suite on 10 000 images: ${name}`, value: round(seconds, 1), unit: 's' });
  print({ name: 'Agrawal suite on 10 000 images: peak RSS of those two', value: round(Math.max(peak, process.memoryUsage().rss) / 1048576, 0), unit: 'MiB' });
}

/**
 * The collection of 10 000 Fashion-MNIST images (bundled model, conv5 + fc7) by one `collect` process, and by four
 * `collect --shard i/4` processes at once plus `collect-merge` — wall time of each, and whether the files agree.
 */
export async function shardedCollectionBench(projectRoot: string): Promise<void> {
  const idx = '/usr/share/datasets/fashion-mnist';
  const name = 'collection of 10 000 images in 4 shards + merge';
  if (!fs.existsSync(path.join(idx, 't10k-images-idx3-ubyte.gz'))) {
    print({ name: `${name}: skipped (apt-get install dataset-fashion-mnist)`, value: 0, unit: 'flag' });
    return;
  }
  const cli = path.join(projectRoot, 'dist', 'electron', 'cli.cjs');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-shards-'));
  const collect = (ws: string, extra: string[]) => {
    const args = [cli, 'collect', '--model', 'bundled:default', '--data', idx, '--layers', 'conv5,fc7', ...extra];
    return new Promise<void>((resolve, reject) =>
      execFile(process.execPath, args, { env: { ...process.env, CNN_INSPECTOR_WORKSPACE: ws } }, (e) => (e ? reject(e) : resolve())),
    );
  };
  let t0 = performance.now();
  await collect(path.join(tmp, 'ws-one'), ['--out-dir', path.join(tmp, 'one')]);
  const single = (performance.now() - t0) / 1000;
  const parts = [0, 1, 2, 3].map((i) => path.join(tmp, `part${i}`));
  t0 = performance.now();
  await Promise.all(parts.map((out, i) => collect(path.join(tmp, 'ws-shards'), ['--shard', `${i}/4`, '--out-dir', out])));
  const mergeArgs = [cli, 'collect-merge', '--model', 'bundled:default', '--data', idx, '--parts', parts.join(','), '--out-dir', path.join(tmp, 'merged')];
  execFileSync(process.execPath, mergeArgs, { env: { ...process.env, CNN_INSPECTOR_WORKSPACE: path.join(tmp, 'ws-shards') } });
  const sharded = (performance.now() - t0) / 1000;
  const npy = fs.readdirSync(path.join(tmp, 'one')).filter((f) => f.endsWith('.npy'));
  const same = npy.every((f) => fs.readFileSync(path.join(tmp, 'one', f)).equals(fs.readFileSync(path.join(tmp, 'merged', f))));
  print({
    name: `${name} (${os.availableParallelism()} cores)`,
    value: round(sharded, 1),
    unit: 's',
    peer: 'one collect process',
    peer_value: round(single, 1),
    ratio: round(single / sharded, 2),
  });
  print({ name: `${name}: merged files identical to one process's`, value: same ? 1 : 0, unit: 'flag' });
  fs.rmSync(tmp, { recursive: true, force: true });
}
