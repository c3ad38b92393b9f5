/**
 * The checks of what clients send: every job kind's parameters (one entry per kind — the mapped type makes a missing kind a compile
 * error), image references, preprocessing. Parameters come from untrusted clients: a malformed one is a BAD_ARGUMENT with a message, never an
 * exception deep in the engine. Pure (no Node, no DOM), so the engine's main thread checks a job before any
 * worker starts it, and a view may check its form the same way.
 */
import { FINETUNE_STRATEGIES, JOB_KINDS, PROBE_ABLATIONS, type JobKind, type Preprocessing } from './contract';
import { InspectorError } from './errors';

/** Widest layer an ablation variant may ask for (AlexNet's fc layers have 4096). */
export const MAX_LAYER_WIDTH = 4096;

type Params = Record<string, unknown>;

export const isObject = (v: unknown): v is Params => typeof v === 'object' && v !== null && !Array.isArray(v);

export function fail(message: string): never {
  throw new InspectorError('BAD_ARGUMENT', message);
}

const isWhole = (v: unknown, lo: number, hi = Number.MAX_SAFE_INTEGER): boolean => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const names = (v: unknown, min = 0): boolean => Array.isArray(v) && v.length >= min && v.every((l) => typeof l === 'string');
const indices = (v: unknown, min: number, max: number): boolean => Array.isArray(v) && v.length >= min && v.length <= max && v.every((i) => isWhole(i, 0));
/** An optional field: undefined, or passing `ok`. */
const optional = (v: unknown, ok: (x: unknown) => boolean): boolean => v === undefined || ok(v);

/** A dataset image or an uploaded one. */
export function checkImageRef(v: unknown): void {
  if (!isObject(v)) fail('image must be an object');
  if (v.source === 'dataset') {
    if (!isWhole(v.index, 0)) fail('image.index must be a non-negative integer');
  } else if (v.source === 'upload') {
    if (typeof v.id !== 'string') fail('image.id must be a string');
  } else fail('image.source must be "dataset" or "upload"');
}

const finiteNumbers = (v: unknown, n?: number) =>
  Array.isArray(v) && v.length > 0 && v.length <= 4 && (n === undefined || v.length === n) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** A preprocessing a client or a file sent: input size, 1 or 3 channels, finite scale, mean and std (std never 0). */
export function isPreprocessing(q: unknown): q is Preprocessing {
  if (!isObject(q) || !finiteNumbers(q.inputSize, 2) || (q.inputSize as number[]).some((v) => !Number.isInteger(v) || v < 1 || v > 4096)) return false;
  if ((q.channels !== 1 && q.channels !== 3) || typeof q.scale !== 'number' || !Number.isFinite(q.scale)) return false;
  if (!finiteNumbers(q.mean) || !finiteNumbers(q.std) || (q.std as number[]).some((x) => x === 0)) return false;
  return (
    (q.channelOrder === undefined || q.channelOrder === 'rgb' || q.channelOrder === 'bgr') &&
    (q.resize === undefined || q.resize === 'stretch' || q.resize === 'center-crop')
  );
}

function checkFinetune(p: Params): void {
  if (!(FINETUNE_STRATEGIES as readonly unknown[]).includes(p.strategy))
    fail(`finetune: strategy must be ${FINETUNE_STRATEGIES.slice(0, -1).join(', ')} or ${FINETUNE_STRATEGIES.at(-1)}`);
  if (!optional(p.epochs, (v) => isWhole(v, 1, 500))) fail('finetune: epochs must be 1–500');
  if (!optional(p.batchSize, (v) => isWhole(v, 1))) fail('finetune: batchSize must be a positive whole number');
  if (!optional(p.learningRate, (v) => (v as number) > 0)) fail('finetune: learningRate must be positive');
  for (const flag of ['augment', 'flip', 'crop', 'earlyStopping'] as const)
    if (!optional(p[flag], (v) => typeof v === 'boolean')) fail(`finetune: ${flag} must be true or false`);
  if (!optional(p.optimizer, (v) => v === 'sgd' || v === 'adam')) fail('finetune: optimizer must be sgd or adam');
  if (!optional(p.classifier, (v) => v === 'softmax' || v === 'svm')) fail('finetune: classifier must be softmax or svm');
  if (!optional(p.validationFraction, (v) => (v as number) >= 0.05 && (v as number) <= 0.5)) fail('finetune: validationFraction must be 0.05–0.5');
  if (!optional(p.layerMultipliers, (v) => isObject(v) && Object.values(v).every((m) => typeof m === 'number' && m >= 0 && m <= 10)))
    fail('finetune: layerMultipliers maps layer names to numbers 0–10');
  if (!optional(p.testFraction, (v) => v === 0 || ((v as number) >= 0.05 && (v as number) <= 0.4))) fail('finetune: testFraction must be 0 or 0.05–0.4');
}

function checkAblation(p: Params): void {
  if (!Array.isArray(p.variants) || p.variants.length === 0 || p.variants.length > 20) fail('ablation: give 1–20 variants');
  for (const v of p.variants as unknown[]) {
    if (!isObject(v) || typeof v.name !== 'string') fail('ablation: every variant needs a name');
    if (!optional(v.remove, (r) => names(r))) fail('ablation: remove must be layer names');
    // A width is bounded: tfjs-wasm's memory only grows, so one 10⁶-unit layer would stay allocated for good.
    if (!optional(v.resize, (r) => isObject(r) && Object.values(r).every((n) => isWhole(n, 1, MAX_LAYER_WIDTH))))
      fail(`ablation: resize maps layer names to whole numbers from 1 to ${MAX_LAYER_WIDTH}`);
  }
  if (!optional(p.epochs, (v) => isWhole(v, 1, 500))) fail('ablation: epochs must be 1–500');
  if (!optional(p.batchSize, (v) => isWhole(v, 1))) fail('ablation: batchSize must be a positive whole number');
  if (!optional(p.start, (v) => v === 'scratch' || v === 'pretrained')) fail('ablation: start must be scratch or pretrained');
}

function checkCorrespondence(p: Params): void {
  if (!indices(p.images, 2, 50)) fail('correspondence: images must be 2–50 dataset indices');
  if (!Array.isArray(p.parts) || p.parts.length === 0) fail('correspondence: mark at least one part');
  for (const part of p.parts as unknown[]) {
    if (
      !isObject(part) ||
      typeof part.name !== 'string' ||
      !Array.isArray(part.boxes) ||
      !part.boxes.every((b) => Array.isArray(b) && b.length === 4 && b.every(Number.isInteger))
    ) {
      fail('correspondence: each part needs a name and [top, left, bottom, right] boxes');
    }
  }
  if (!optional(p.randomDraws, (v) => isWhole(v, 1, 100))) fail('correspondence: randomDraws must be 1–100');
}

function checkInvariance(p: Params): void {
  const numbers = (v: unknown) => Array.isArray(v) && v.length > 0 && v.length <= 200 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  if (![p.translations, p.scales, p.rotations].every((v) => optional(v, numbers))) fail('invariance: sweeps must be lists of numbers');
  if (!optional(p.images, (v) => indices(v, 1, 50))) fail('invariance: images must be 1–50 dataset indices');
  for (const l of [p.lowLayer, p.highLayer]) if (l !== undefined && typeof l !== 'string') fail('invariance: layers must be names');
}

function checkImagesPerClass(p: Params): void {
  if (!optional(p.counts, (v) => Array.isArray(v) && v.length > 0 && v.length <= 30 && v.every((k) => isWhole(k, 1))))
    fail('imagesPerClass: counts are 1–30 whole numbers ≥ 1');
  if (!optional(p.seeds, (v) => isWhole(v, 1, 10))) fail('imagesPerClass: seeds must be 1–10');
  if (!optional(p.epochs, (v) => isWhole(v, 1, 500))) fail('imagesPerClass: epochs must be 1–500');
  if (!optional(p.scratch, (v) => typeof v === 'boolean')) fail('imagesPerClass: scratch must be true or false');
  if (!optional(p.scratchSeeds, (v) => isWhole(v, 1, 10))) fail('imagesPerClass: scratchSeeds must be 1–10');
}

function checkOcclusion(p: Params): void {
  checkImageRef(p.image);
  if (!Number.isInteger(p.patch) || !Number.isInteger(p.stride)) fail('occlusion: patch and stride must be whole numbers');
  if (!optional(p.fill, (v) => typeof v === 'number')) fail('occlusion: fill must be a number');
  if (!optional(p.classIndex, Number.isInteger)) fail('occlusion: classIndex must be a whole number');
  if (!optional(p.layer, (v) => typeof v === 'string')) fail('occlusion: layer must be a string');
}

/** Checks of one kind's parameters; `p` is `{}` when none were sent. */
export const JOB_PARAM_CHECKS: { [K in JobKind]: (p: Params) => void } = {
  evaluate: (p) => optional(p.limit, (v) => isWhole(v, 1)) || fail('evaluate.limit must be a positive integer'),
  occlusion: checkOcclusion,
  atlas: (p) => {
    if (!optional(p.k, (v) => isWhole(v, 1, 100))) fail('atlas: k must be 1–100');
    if (!optional(p.layers, (v) => names(v))) fail('atlas: layers must be names');
  },
  invariance: checkInvariance,
  evolution: (p) => {
    if (!optional(p.layer, (v) => typeof v === 'string')) fail('evolution: layer must be a name');
    if (!optional(p.units, (v) => Array.isArray(v) && v.length > 0 && v.length <= 64 && v.every(Number.isInteger)))
      fail('evolution: units must be 1–64 unit numbers');
    if (!optional(p.checkpoints, (v) => names(v))) fail('evolution: checkpoints must be names');
  },
  correspondence: checkCorrespondence,
  sparsity: (p) => optional(p.layers, (v) => names(v)) || fail('sparsity: layers must be names'),
  selectivity: (p) => names(p.layers, 1) || fail('selectivity: choose at least one layer'),
  gmc: (p) => typeof p.layer === 'string' || fail('gmc: choose a layer'),
  distributedCode: (p) => typeof p.layer === 'string' || fail('distributedCode: choose a layer'),
  imagesPerClass: checkImagesPerClass,
  compareModels: (p) => {
    if (typeof p.other !== 'string' || !p.other) fail('compareModels: other must be a model path');
    if (!optional(p.layers, (v) => names(v))) fail('compareModels: layers must be names');
  },
  probeTraining: (p) => {
    if (!optional(p.layers, (v) => names(v, 1))) fail('probeTraining: layers must be names');
    if (!optional(p.seeds, (v) => isWhole(v, 1, 20))) fail('probeTraining: seeds must be 1–20');
  },
  probe: (p) => {
    if (!names(p.layers, 1)) fail('probe: choose at least one layer');
    if (!optional(p.ablations, (v) => Array.isArray(v) && v.every((a) => (PROBE_ABLATIONS as readonly unknown[]).includes(a))))
      fail(`probe: ablations are ${PROBE_ABLATIONS.join(', ')}`);
    if (!optional(p.seeds, (v) => isWhole(v, 1, 20))) fail('probe: seeds must be 1–20');
  },
  datasetReport: () => undefined,
  report: () => undefined,
  finetune: checkFinetune,
  resumeFinetune: (p) => typeof p.run === 'string' || fail('resumeFinetune: name the run'),
  ablation: checkAblation,
  collectActivations: (p) => {
    if (!names(p.layers, 1)) fail('collectActivations: choose layers');
    if (!optional(p.maps, (v) => typeof v === 'boolean')) fail('collectActivations: maps must be true or false');
    if (!optional(p.mapsDtype, (v) => v === 'float32' || v === 'float16')) fail('collectActivations: mapsDtype must be float32 or float16');
    const shard = p.shard as { index?: unknown; count?: unknown } | undefined;
    const whole = (v: unknown, min: number) => Number.isSafeInteger(v) && (v as number) >= min;
    if (
      shard !== undefined &&
      !(typeof shard === 'object' && shard && whole(shard.count, 1) && whole(shard.index, 0) && (shard.index as number) < (shard.count as number))
    )
      fail('collectActivations: shard must be { index, count } with 0 ≤ index < count');
  },
  zooDownload: (p) => typeof p.name === 'string' || fail('zooDownload: name the zoo model'),
};

export function validateJobParams(kind: unknown, params: unknown): asserts kind is JobKind {
  if (typeof kind !== 'string' || !(JOB_KINDS as readonly string[]).includes(kind)) fail(`Unknown job kind ${String(kind)}`);
  if (params !== undefined && !isObject(params)) fail('job params must be an object');
  JOB_PARAM_CHECKS[kind as JobKind]((params ?? {}) as Params);
}
