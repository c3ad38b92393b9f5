/**
 * Bench lines for the atlas of a real network (part of `npm run bench`; BENCH_ONLY=resnet-atlas alone):
 * ResNet-18-224 (torchvision's architecture exported by Debian's PyTorch, imported like a user's file), top-9 over
 * 500 PNG images for every convolution layer, and the deconvnet projections of the first units of each layer —
 * against the same work in PyTorch CPU (build/bench-atlas-peer.py). A full atlas (every unit) takes tens of
 * minutes on two cores for each side, so by default both draw the same sample and the full time is extrapolated
 * from it by each layer's projection cost, printed on its own line; BENCH_FULL_ATLAS=1 measures the whole atlas on
 * both sides instead.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { atlasCandidateLayers, buildAtlas } from '../electron/engine/analyses/atlas';
import { makeJobContext } from '../electron/engine/base/job-context';
import { openDataset } from '../electron/engine/data/dataset';
import { openModel } from '../electron/engine/model/loaded-model';
import type { LayerInfo } from '../shared/contract';
import { releaseBatchSessions } from '../electron/engine/runtime/batch-forward';
import { onnxRuntime } from '../electron/engine/runtime/onnx-runtime';
import { pngFolder, print, round } from './bench-batch';

const IMAGES = 500;
/** BENCH_FULL_ATLAS=1: every unit of every layer on both sides (about 15 + 26 min on two cores), nothing extrapolated. */
const FULL = process.env.BENCH_FULL_ATLAS === '1';
const UNITS_PER_LAYER = FULL ? undefined : 8;
const K = 9;

/** The torchvision ResNet-18 ONNX file (made once by build/onnx-fixtures.py), or null without PyTorch. */
export function resnetFile(): string | null {
  const dir = process.env.CNN_INSPECTOR_ONNX_FIXTURES ?? path.join(os.tmpdir(), 'cnn-inspector-onnx-torchvision');
  const file = path.join(dir, 'resnet18.onnx');
  if (fs.existsSync(file)) return file;
  try {
    execFileSync('/usr/bin/python3', [path.join(__dirname, '..', '..', 'build', 'onnx-fixtures.py'), 'torchvision', dir], { stdio: 'ignore' });
    return fs.existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

function torchPeer(folder: string): { scan_s: number; project_s: number; projections: number } | null {
  try {
    const script = path.join(__dirname, '..', '..', 'build', 'bench-atlas-peer.py');
    const out = execFileSync('/usr/bin/python3', [script, folder, String(UNITS_PER_LAYER ?? 1_000_000), String(K)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return JSON.parse(out.trim().split('\n').pop()!);
  } catch {
    return null;
  }
}

export async function resnetAtlasBench(): Promise<void> {
  const file = resnetFile();
  if (!file || !onnxRuntime().module) {
    print({ name: 'ResNet-18 atlas: skipped (needs python3-torch / python3-torchvision and onnxruntime-node)', value: 0, unit: 'flag' });
    return;
  }
  const folder = await pngFolder(IMAGES);
  const loaded = await openModel(file, 'resnet18');
  const layers = atlasCandidateLayers(loaded).filter((l) => loaded.summary.layers.find((x) => x.name === l)!.outputShape.length === 3);
  const dataset = openDataset(folder, 'bench-atlas');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-atlas-'));
  let scanEnd = 0;
  let saidUpFront = 0;
  const ctx = makeJobContext(
    (_d, total, message) => {
      if (message.startsWith('Finding')) scanEnd = performance.now();
      if (message.includes('the whole atlas')) saidUpFront ||= total / 1000;
    },
    () => false,
  );
  const start = performance.now();
  await buildAtlas(loaded, dataset, out, { k: K, layers, ...(UNITS_PER_LAYER ? { unitsPerLayer: UNITS_PER_LAYER } : {}) }, ctx);
  const total = (performance.now() - start) / 1000;
  const scan = (scanEnd - start) / 1000;
  const unitsOf = (l: LayerInfo) => Math.min(l.outputShape[2], UNITS_PER_LAYER ?? Infinity);
  const drawn = loaded.summary.layers.filter((l) => layers.includes(l.name));
  const units = drawn.reduce((s, l) => s + unitsOf(l), 0);
  const projections = units * K;
  const peer = torchPeer(folder);
  const peerTotal = peer ? peer.scan_s + peer.project_s : undefined;
  const line = (name: string, value: number, peerValue: number | undefined) =>
    print({
      name,
      value: round(value, 1),
      unit: 's',
      peer: peer ? 'PyTorch CPU, same work (build/bench-atlas-peer.py, 2 threads)' : null,
      // Lower is better: the ratio is the peer's time over ours (above 1 = faster than PyTorch).
      ...(peerValue === undefined ? {} : { peer_value: round(peerValue, 1), ratio: round(peerValue / value, 2) }),
    });
  const which = FULL ? `every unit (${units})` : `${UNITS_PER_LAYER} units per layer`;
  line(
    `ResNet-18-224 atlas: top-${K} of all ${layers.length} convolution layers over ${IMAGES} PNG images + ${projections} deconvnet projections (${which}) and their sheets`,
    total,
    peerTotal,
  );
  line(`  of which measuring this computer (a few seconds) and the top-${K} scan of ${IMAGES} images`, scan, peer?.scan_s);
  line(`  of which ${projections} projections (ONNX Runtime, one unit's ${K} winners per run) and sheets`, total - scan, peer?.project_s);
  print({
    name: `ResNet-18-224 atlas${FULL ? '' : ' sample'}: the time the job said up front (measured on this computer in its first seconds)`,
    value: round(saidUpFront, 1),
    unit: 's',
    peer: 'the time it took',
    peer_value: round(total, 1),
    ratio: round(saidUpFront / total, 2),
  });
  if (!FULL) {
    // The whole atlas: every unit of every layer, by each layer's share of the projection cost. An overestimate
    // for this engine: each layer's fixed cost (its graph and session, a few seconds) is scaled up with its units.
    let costSample = 0;
    let costAll = 0;
    let macs = 0;
    for (const l of loaded.summary.layers) {
      macs += l.macs ?? 0;
      if (!layers.includes(l.name)) continue;
      costSample += unitsOf(l) * macs;
      costAll += l.outputShape[2] * macs;
    }
    const scale = costAll / costSample;
    const all = drawn.reduce((s, l) => s + l.outputShape[2], 0);
    line(
      `ResNet-18-224 full atlas extrapolated from the sample (BENCH_FULL_ATLAS=1 measures it): ${all} units × ${K} projections, every convolution layer, ${IMAGES} images`,
      scan + (total - scan) * scale,
      peer ? peer.scan_s + peer.project_s * scale : undefined,
    );
  }
  await releaseBatchSessions(loaded);
  loaded.dispose();
  fs.rmSync(out, { recursive: true, force: true });
  fs.rmSync(folder, { recursive: true, force: true });
}
