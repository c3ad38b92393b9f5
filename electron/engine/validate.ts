/**
 * Payload validation for everything that arrives over a transport (IPC, WebSocket): a malformed request is a
 * BAD_ARGUMENT with a message, never an exception deep in the engine.
 */
import { COMMANDS, JOB_KINDS, MAX_IMAGE_UPLOAD_BYTES, type CommandName, type JobKind, type Preprocessing } from '../../shared/contract';
import { InspectorError } from '../../shared/errors';

/** Widest layer an ablation variant may ask for (AlexNet's fc layers have 4096). */
export const MAX_LAYER_WIDTH = 4096;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function fail(message: string): never {
  throw new InspectorError('BAD_ARGUMENT', message);
}

function checkImageRef(v: unknown): void {
  if (!isObject(v)) fail('image must be an object');
  if (v.source === 'dataset') {
    if (!Number.isInteger(v.index) || (v.index as number) < 0) fail('image.index must be a non-negative integer');
  } else if (v.source === 'upload') {
    if (typeof v.id !== 'string') fail('image.id must be a string');
  } else fail('image.source must be "dataset" or "upload"');
}

export function isCommand(name: unknown): name is CommandName {
  return typeof name === 'string' && (COMMANDS as readonly string[]).includes(name);
}

const finiteNumbers = (v: unknown, n?: number) => Array.isArray(v) && v.length > 0 && v.length <= 4 && (n === undefined || v.length === n) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** A preprocessing a client or a file sent: input size, 1 or 3 channels, finite scale, mean and std (std never 0). */
export function isPreprocessing(q: unknown): q is Preprocessing {
  if (!isObject(q) || !finiteNumbers(q.inputSize, 2) || (q.inputSize as number[]).some((v) => !Number.isInteger(v) || v < 1 || v > 4096)) return false;
  if ((q.channels !== 1 && q.channels !== 3) || typeof q.scale !== 'number' || !Number.isFinite(q.scale)) return false;
  if (!finiteNumbers(q.mean) || !finiteNumbers(q.std) || (q.std as number[]).some((x) => x === 0)) return false;
  return (q.channelOrder === undefined || q.channelOrder === 'rgb' || q.channelOrder === 'bgr') && (q.resize === undefined || q.resize === 'stretch' || q.resize === 'center-crop');
}

export function validateJobParams(kind: unknown, params: unknown): asserts kind is JobKind {
  if (typeof kind !== 'string' || !(JOB_KINDS as readonly string[]).includes(kind)) fail(`Unknown job kind ${String(kind)}`);
  if (params !== undefined && !isObject(params)) fail('job params must be an object');
  if (kind === 'evaluate' && isObject(params) && params.limit !== undefined && (!Number.isInteger(params.limit) || (params.limit as number) < 1)) {
    fail('evaluate.limit must be a positive integer');
  }
  if (kind === 'atlas' && isObject(params)) {
    if (params.k !== undefined && (!Number.isInteger(params.k) || (params.k as number) < 1 || (params.k as number) > 100)) fail('atlas: k must be 1–100');
    if (params.layers !== undefined && (!Array.isArray(params.layers) || !params.layers.every((l) => typeof l === 'string'))) fail('atlas: layers must be names');
  }
  if (kind === 'invariance' && isObject(params)) {
    const numbers = (v: unknown) => v === undefined || (Array.isArray(v) && v.length > 0 && v.length <= 200 && v.every((x) => typeof x === 'number' && Number.isFinite(x)));
    if (!numbers(params.translations) || !numbers(params.scales) || !numbers(params.rotations)) fail('invariance: sweeps must be lists of numbers');
    if (params.images !== undefined && (!Array.isArray(params.images) || params.images.length === 0 || params.images.length > 50 || !params.images.every((i) => Number.isInteger(i) && i >= 0))) {
      fail('invariance: images must be 1–50 dataset indices');
    }
    for (const l of [params.lowLayer, params.highLayer]) if (l !== undefined && typeof l !== 'string') fail('invariance: layers must be names');
  }
  if (kind === 'evolution' && isObject(params)) {
    if (params.layer !== undefined && typeof params.layer !== 'string') fail('evolution: layer must be a name');
    if (params.units !== undefined && (!Array.isArray(params.units) || params.units.length === 0 || params.units.length > 64 || !params.units.every((u) => Number.isInteger(u)))) fail('evolution: units must be 1–64 unit numbers');
    if (params.checkpoints !== undefined && (!Array.isArray(params.checkpoints) || !params.checkpoints.every((c) => typeof c === 'string'))) fail('evolution: checkpoints must be names');
  }
  if (kind === 'correspondence') {
    if (!isObject(params)) fail('correspondence needs parameters');
    if (!Array.isArray(params.images) || params.images.length < 2 || params.images.length > 50 || !params.images.every((i) => Number.isInteger(i) && i >= 0)) {
      fail('correspondence: images must be 2–50 dataset indices');
    }
    if (!Array.isArray(params.parts) || params.parts.length === 0) fail('correspondence: mark at least one part');
    for (const part of params.parts as unknown[]) {
      if (!isObject(part) || typeof part.name !== 'string' || !Array.isArray(part.boxes) || !part.boxes.every((b) => Array.isArray(b) && b.length === 4 && b.every(Number.isInteger))) {
        fail('correspondence: each part needs a name and [top, left, bottom, right] boxes');
      }
    }
    if (params.randomDraws !== undefined && (!Number.isInteger(params.randomDraws) || (params.randomDraws as number) < 1 || (params.randomDraws as number) > 100)) fail('correspondence: randomDraws must be 1–100');
  }
  if (kind === 'sparsity' && isObject(params) && params.layers !== undefined && (!Array.isArray(params.layers) || !params.layers.every((l) => typeof l === 'string'))) {
    fail('sparsity: layers must be names');
  }
  if (kind === 'selectivity' && (!isObject(params) || !Array.isArray(params.layers) || params.layers.length === 0 || !params.layers.every((l) => typeof l === 'string'))) {
    fail('selectivity: choose at least one layer');
  }
  if (kind === 'gmc' && (!isObject(params) || typeof params.layer !== 'string')) fail('gmc: choose a layer');
  if (kind === 'distributedCode' && (!isObject(params) || typeof params.layer !== 'string')) fail('distributedCode: choose a layer');
  if (kind === 'imagesPerClass' && isObject(params)) {
    if (params.counts !== undefined && (!Array.isArray(params.counts) || params.counts.length === 0 || params.counts.length > 30 || !params.counts.every((k) => Number.isInteger(k) && k >= 1))) fail('imagesPerClass: counts are 1–30 whole numbers ≥ 1');
    if (params.seeds !== undefined && (!Number.isInteger(params.seeds) || (params.seeds as number) < 1 || (params.seeds as number) > 10)) fail('imagesPerClass: seeds must be 1–10');
    if (params.epochs !== undefined && (!Number.isInteger(params.epochs) || (params.epochs as number) < 1 || (params.epochs as number) > 500)) fail('imagesPerClass: epochs must be 1–500');
    if (params.scratch !== undefined && typeof params.scratch !== 'boolean') fail('imagesPerClass: scratch must be true or false');
    if (params.scratchSeeds !== undefined && (!Number.isInteger(params.scratchSeeds) || (params.scratchSeeds as number) < 1 || (params.scratchSeeds as number) > 10)) fail('imagesPerClass: scratchSeeds must be 1–10');
  }
  if (kind === 'compareModels') {
    if (!isObject(params) || typeof params.other !== 'string' || !params.other) fail('compareModels: other must be a model path');
    if (params.layers !== undefined && (!Array.isArray(params.layers) || !params.layers.every((l) => typeof l === 'string'))) fail('compareModels: layers must be names');
  }
  if (kind === 'probeTraining' && isObject(params)) {
    if (params.layers !== undefined && (!Array.isArray(params.layers) || params.layers.length === 0 || !params.layers.every((l) => typeof l === 'string'))) fail('probeTraining: layers must be names');
    if (params.seeds !== undefined && (!Number.isInteger(params.seeds) || (params.seeds as number) < 1 || (params.seeds as number) > 20)) fail('probeTraining: seeds must be 1–20');
  }
  if (kind === 'probe') {
    if (!isObject(params) || !Array.isArray(params.layers) || params.layers.length === 0 || !params.layers.every((l) => typeof l === 'string')) fail('probe: choose at least one layer');
    if (params.ablations !== undefined && (!Array.isArray(params.ablations) || !params.ablations.every((a) => ['original', 'binarised', 'shuffled', 'maxpool'].includes(a as string)))) {
      fail('probe: ablations are original, binarised, shuffled, maxpool');
    }
    if (params.seeds !== undefined && (!Number.isInteger(params.seeds) || (params.seeds as number) < 1 || (params.seeds as number) > 20)) fail('probe: seeds must be 1–20');
  }
  if (kind === 'finetune') {
    if (!isObject(params) || !['features', 'fc', 'all', 'scratch'].includes(params.strategy as string)) fail('finetune: strategy must be features, fc, all or scratch');
    if (params.epochs !== undefined && (!Number.isInteger(params.epochs) || (params.epochs as number) < 1 || (params.epochs as number) > 500)) fail('finetune: epochs must be 1–500');
    if (params.batchSize !== undefined && (!Number.isInteger(params.batchSize) || (params.batchSize as number) < 1)) fail('finetune: batchSize must be a positive whole number');
    if (params.learningRate !== undefined && !((params.learningRate as number) > 0)) fail('finetune: learningRate must be positive');
    for (const flag of ['augment', 'flip', 'crop', 'earlyStopping'] as const) if (params[flag] !== undefined && typeof params[flag] !== 'boolean') fail(`finetune: ${flag} must be true or false`);
    if (params.optimizer !== undefined && params.optimizer !== 'sgd' && params.optimizer !== 'adam') fail('finetune: optimizer must be sgd or adam');
    if (params.classifier !== undefined && params.classifier !== 'softmax' && params.classifier !== 'svm') fail('finetune: classifier must be softmax or svm');
    if (params.validationFraction !== undefined && !((params.validationFraction as number) >= 0.05 && (params.validationFraction as number) <= 0.5)) fail('finetune: validationFraction must be 0.05–0.5');
    if (params.layerMultipliers !== undefined && (!isObject(params.layerMultipliers) || !Object.values(params.layerMultipliers).every((v) => typeof v === 'number' && v >= 0 && v <= 10))) fail('finetune: layerMultipliers maps layer names to numbers 0–10');
    if (params.testFraction !== undefined && params.testFraction !== 0 && !((params.testFraction as number) >= 0.05 && (params.testFraction as number) <= 0.4)) fail('finetune: testFraction must be 0 or 0.05–0.4');
  }
  if (kind === 'collectActivations') {
    if (!isObject(params) || !Array.isArray(params.layers) || params.layers.length === 0 || !params.layers.every((l) => typeof l === 'string')) fail('collectActivations: choose layers');
    if (params.maps !== undefined && typeof params.maps !== 'boolean') fail('collectActivations: maps must be true or false');
    if (params.mapsDtype !== undefined && params.mapsDtype !== 'float32' && params.mapsDtype !== 'float16') fail('collectActivations: mapsDtype must be float32 or float16');
  }
  if (kind === 'zooDownload' && (!isObject(params) || typeof params.name !== 'string')) fail('zooDownload: name the zoo model');
  if (kind === 'resumeFinetune' && (!isObject(params) || typeof params.run !== 'string')) fail('resumeFinetune: name the run');
  if (kind === 'ablation') {
    if (!isObject(params) || !Array.isArray(params.variants) || params.variants.length === 0 || params.variants.length > 20) fail('ablation: give 1–20 variants');
    for (const v of params.variants as unknown[]) {
      if (!isObject(v) || typeof v.name !== 'string') fail('ablation: every variant needs a name');
      if (v.remove !== undefined && (!Array.isArray(v.remove) || !v.remove.every((l) => typeof l === 'string'))) fail('ablation: remove must be layer names');
      // A width is bounded: tfjs-wasm's memory only grows, so one 10⁶-unit layer would stay allocated for good.
      if (v.resize !== undefined && (!isObject(v.resize) || !Object.values(v.resize).every((n) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_LAYER_WIDTH))) {
        fail(`ablation: resize maps layer names to whole numbers from 1 to ${MAX_LAYER_WIDTH}`);
      }
    }
    if (params.epochs !== undefined && (!Number.isInteger(params.epochs) || (params.epochs as number) < 1 || (params.epochs as number) > 500)) fail('ablation: epochs must be 1–500');
    if (params.batchSize !== undefined && (!Number.isInteger(params.batchSize) || (params.batchSize as number) < 1)) fail('ablation: batchSize must be a positive whole number');
    if (params.start !== undefined && params.start !== 'scratch' && params.start !== 'pretrained') fail('ablation: start must be scratch or pretrained');
  }
  if (kind === 'occlusion') {
    if (!isObject(params)) fail('occlusion needs parameters');
    checkImageRef(params.image);
    if (!Number.isInteger(params.patch) || !Number.isInteger(params.stride)) fail('occlusion: patch and stride must be whole numbers');
    if (params.fill !== undefined && typeof params.fill !== 'number') fail('occlusion: fill must be a number');
    if (params.classIndex !== undefined && !Number.isInteger(params.classIndex)) fail('occlusion: classIndex must be a whole number');
    if (params.layer !== undefined && typeof params.layer !== 'string') fail('occlusion: layer must be a string');
  }
}

/** Validates the single parameter object of a command. */
export function validateCommand(name: unknown, params: unknown): asserts name is CommandName {
  if (!isCommand(name)) throw new InspectorError('UNKNOWN_COMMAND', `Unknown command ${String(name)}`);
  const p = (params ?? {}) as Record<string, unknown>;
  if (params !== undefined && !isObject(params)) fail(`${name}: parameters must be an object`);
  switch (name) {
    case 'getState':
      return;
    case 'openModel':
    case 'openDataset':
      if (p.path !== undefined && typeof p.path !== 'string') fail(`${name}: path must be a string`);
      return;
    case 'listImages':
      if (!Number.isInteger(p.offset) || !Number.isInteger(p.limit)) fail('listImages: offset and limit must be integers');
      if (p.classIndex !== undefined && !Number.isInteger(p.classIndex)) fail('listImages: classIndex must be an integer');
      return;
    case 'getImage':
      checkImageRef(p.image);
      if (p.size !== undefined && typeof p.size !== 'number') fail('getImage: size must be a number');
      return;
    case 'addDatasetFiles':
      if (typeof p.folder !== 'string' || !Array.isArray(p.files) || !p.files.every((f) => isObject(f) && typeof f.path === 'string' && f.bytes instanceof Uint8Array)) {
        fail('addDatasetFiles: needs folder (string) and files ([{path, bytes}])');
      }
      if (p.start !== undefined && typeof p.start !== 'boolean') fail('addDatasetFiles: start must be true or false');
      return;
    case 'uploadModel':
      if (typeof p.name !== 'string' || !(p.bytes instanceof Uint8Array)) fail('uploadModel: needs name (string) and bytes (Uint8Array)');
      if (p.offset !== undefined || p.total !== undefined) {
        if (!Number.isSafeInteger(p.offset) || !Number.isSafeInteger(p.total) || (p.offset as number) < 0 || (p.total as number) < 0) fail('uploadModel: offset and total must be whole numbers of bytes');
      }
      break;
    case 'exportModel':
      if (p.format !== 'onnx' && p.format !== 'tfjs') fail('exportModel: format must be "onnx" or "tfjs"');
      if (p.path !== undefined && typeof p.path !== 'string') fail('exportModel: path must be a string');
      break;
    case 'saveModelSettings': {
      if (p.labels !== undefined && (!Array.isArray(p.labels) || !p.labels.every((l) => typeof l === 'string' && l.length <= 200) || p.labels.length > 100_000)) {
        fail('saveModelSettings: labels must be a list of names');
      }
      if (p.preprocessing !== undefined && !isPreprocessing(p.preprocessing)) {
        fail('saveModelSettings: preprocessing needs inputSize [h, w], channels 1 or 3, scale, mean and std (std never 0)');
      }
      break;
    }
    case 'uploadImage':
      if (typeof p.name !== 'string' || !(p.bytes instanceof Uint8Array)) fail('uploadImage: needs name (string) and bytes (Uint8Array)');
      if (p.bytes.length > MAX_IMAGE_UPLOAD_BYTES) throw new InspectorError('IMAGE_TOO_LARGE', `Image files over ${MAX_IMAGE_UPLOAD_BYTES / 2 ** 20} MB are refused`);
      return;
    case 'predict':
      checkImageRef(p.image);
      if (p.top !== undefined && (!Number.isInteger(p.top) || (p.top as number) < 1)) fail('predict: top must be a positive integer');
      if (p.occlude !== undefined) {
        const o = p.occlude as Record<string, unknown>;
        if (!isObject(o) || ![o.y, o.x, o.patch].every((v) => Number.isInteger(v))) fail('predict: occlude needs whole-number y, x and patch');
        if (o.fill !== undefined && typeof o.fill !== 'number') fail('predict: occlude.fill must be a number');
      }
      return;
    case 'activations':
      checkImageRef(p.image);
      if (typeof p.layer !== 'string') fail('activations: layer must be a string');
      return;
    case 'project':
      checkImageRef(p.image);
      if (typeof p.layer !== 'string') fail('project: layer must be a string');
      if (!Number.isInteger(p.unit)) fail('project: unit must be an integer');
      if (!['deconv', 'gradient', 'guided'].includes(p.method as string)) fail('project: method must be deconv, gradient or guided');
      if (p.position !== undefined && (!Array.isArray(p.position) || !p.position.every((v) => Number.isInteger(v)))) fail('project: position must be [y, x]');
      return;
    case 'getAtlas':
      return;
    case 'getFilters':
      if (p.layer !== undefined && typeof p.layer !== 'string') fail('getFilters: layer must be a string');
      return;
    case 'getAtlasLayer':
      if (typeof p.layer !== 'string') fail('getAtlasLayer: layer must be a string');
      return;
    case 'getAtlasSheet':
      if (typeof p.layer !== 'string' || !Number.isInteger(p.unit)) fail('getAtlasSheet: needs layer (string) and unit (integer)');
      return;
    case 'startJob':
      validateJobParams(p.kind, p.params);
      return;
    case 'cancelJob':
    case 'getJobResult':
      if (typeof p.jobId !== 'string') fail(`${name}: jobId must be a string`);
      if (name === 'cancelJob' && p.keep !== undefined && typeof p.keep !== 'boolean') fail('cancelJob: keep must be true or false');
      if (name === 'cancelJob' && p.pause !== undefined && typeof p.pause !== 'boolean') fail('cancelJob: pause must be true or false');
      return;
    case 'listRuns':
    case 'listZoo':
      return;
    case 'discardRun':
      if (typeof p.run !== 'string') fail('discardRun: run must be a run name');
      return;
  }
}
