/**
 * Loader for Keras models: legacy HDF5 (`.h5`, `.hdf5`: model_config attribute + model_weights group) and Keras 3
 * (`.keras`: a zip of config.json + model.weights.h5), read with h5wasm (HDF5 compiled to WebAssembly; no native
 * build). The config is normalised to the Keras 2 form (keras/config.ts) and deserialized by TF.js Layers; weights
 * are assigned layer by layer, each checked against the layer's shapes.
 * Errors: KERAS_INVALID (not HDF5 / not a Keras archive / weights without an architecture), MODEL_UNSUPPORTED_OP
 * (every layer class it cannot run, listed), MODEL_WEIGHTS_MISSING, MODEL_WEIGHTS_INCONSISTENT.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelMetadata } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { layerConfigs, normalizeKerasConfig, type Json } from './keras/config';
import { checkJsonDepth } from '../files/json-depth';
import { checkRegularFile, readRegularFile } from '../files/safe-files';
import { readZipMembers } from '../files/zip';
import './layers/keras-ops';
import './layers/lrn';
import './layers/onnx-ops';
import './layers/onnx-tensor-ops';
import './layers/onnx-windows';
import type { LoadProgress, ModelLoader } from './loader';

/** Layer classes of CNN classifiers that the engine runs (TF.js Layers' own plus the project's). */
export const SUPPORTED_KERAS_LAYERS = new Set([
  'InputLayer',
  'Conv2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'BatchNormalization',
  'Dense',
  'Dropout',
  'SpatialDropout2D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  'Flatten',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'PReLU',
  'ELU',
  'ThresholdedReLU',
  'Softmax',
  'Add',
  'Multiply',
  'Average',
  'Maximum',
  'Minimum',
  'Concatenate',
  'ZeroPadding2D',
  'Cropping2D',
  'Reshape',
  'Permute',
  'Rescaling',
  'Normalization',
  'UpSampling2D',
  'Conv2DTranspose',
  'LRN',
  'GroupedConv2D',
  'ChannelAffine',
  'ConstantPadding2D',
  'FlatReorder',
  'ChannelShuffle',
  'CountedAveragePooling2D',
  'EdgePadding2D',
  'DilatedPooling2D',
  'Clip',
  'ScaledElu',
  'SoftmaxAlong',
  'PickChannels',
  'MapMatMul',
  'MapAffine',
  'ZeroInsertion2D',
]);

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

interface H5Attr {
  value: unknown;
}
interface H5Node {
  attrs: Record<string, H5Attr>;
  keys?(): string[];
  shape?: number[];
  value?: unknown;
}
interface H5File extends H5Node {
  get(path: string): H5Node | null;
  close(): void;
}
interface H5Module {
  ready: Promise<unknown>;
  File: new (file: string, mode: string) => H5File;
}

let h5: Promise<H5Module> | undefined;
/** h5wasm is an ES module; imported at first use (the specifier in a variable keeps bundlers from inlining it). */
function h5wasm(): Promise<H5Module> {
  if (!h5) {
    const specifier = 'h5wasm/node';
    h5 = (import(specifier) as Promise<{ default?: H5Module } & H5Module>).then(async (m) => {
      const mod = m.default ?? m;
      await mod.ready;
      return mod;
    });
  }
  return h5;
}

function isHdf5(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    // The superblock may sit at 0, 512, 1024, 2048… (a user block before it).
    for (const offset of [0, 512, 1024, 2048, 4096]) {
      const head = Buffer.alloc(8);
      if (fs.readSync(fd, head, 0, 8, offset) === 8 && head.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

const text = (v: unknown): string => (typeof v === 'string' ? v : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v));
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(text) : typeof v === 'string' ? [v] : []);

function toFloat32(value: unknown): Float32Array {
  if (value instanceof Float32Array) return value;
  if (value instanceof BigInt64Array || value instanceof BigUint64Array) return Float32Array.from(value, (b) => Number(b));
  if (ArrayBuffer.isView(value)) return Float32Array.from(value as unknown as ArrayLike<number>);
  if (typeof value === 'number' || typeof value === 'bigint') return Float32Array.of(Number(value));
  throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', 'A weight array has a type CNN Inspector cannot read');
}

interface KerasSource {
  config: Json;
  /** The stored arrays of one layer, in the layer's weight order; undefined when the file has none for it. */
  weightsOf(layer: string): Array<{ name: string; shape: number[]; data: Float32Array }> | undefined;
  close(): void;
}

/** h5wasm returns an ExternalLink {filename, obj_path} for such a link (the class is not in its default export). */
const isExternalLink = (node: unknown): boolean =>
  typeof node === 'object' && node !== null && (node.constructor?.name === 'ExternalLink' || ('filename' in node && 'obj_path' in node));

/** Most links walked when checking a file for external links (a real Keras file has a few per layer). */
const MAX_HDF5_LINKS = 200_000;

/**
 * Refuses an HDF5 file with any external link: HDF5 follows such a link into another file on the disk when a
 * path through it is read. Walks every group from the root, each child looked at before it is entered (so a
 * link is seen, never followed); hard-link cycles are bounded by the link count.
 */
function refuseExternalLinks(f: H5File, name: string): void {
  const groups: string[] = ['/'];
  let seen = 0;
  while (groups.length > 0) {
    const at = groups.pop()!;
    const group = at === '/' ? f : f.get(at);
    for (const key of group?.keys?.() ?? []) {
      if (++seen > MAX_HDF5_LINKS) throw new InspectorError('KERAS_INVALID', `${name} holds more than ${MAX_HDF5_LINKS} objects: not a Keras model`);
      const childPath = `${at === '/' ? '' : at}/${key}`;
      const child = f.get(childPath);
      if (isExternalLink(child)) {
        throw new InspectorError(
          'PATH_OUTSIDE_FOLDER',
          `${name} links to data in another file (${childPath}): refused, a model file must hold its own weights`,
        );
      }
      if (child && typeof child.keys === 'function' && child.shape === undefined) groups.push(childPath);
    }
  }
}

/** Opens an HDF5 file with h5wasm; a damaged one (truncated, garbage after the signature) is KERAS_INVALID. */
async function openHdf5(file: string, name: string): Promise<H5File> {
  const mod = await h5wasm();
  let f: H5File;
  try {
    f = new mod.File(file, 'r');
  } catch (error) {
    throw new InspectorError('KERAS_INVALID', `${name} is a damaged HDF5 file (truncated?)`, error instanceof Error ? error.message : String(error));
  }
  try {
    refuseExternalLinks(f, name);
  } catch (error) {
    f.close();
    if (error instanceof InspectorError) throw error;
    throw new InspectorError('KERAS_INVALID', `${name} is a damaged HDF5 file`, error instanceof Error ? error.message : String(error));
  }
  return f;
}

async function openLegacyH5(file: string): Promise<KerasSource> {
  const f = await openHdf5(file, path.basename(file));
  const configAttr = f.attrs['model_config'];
  if (!configAttr) {
    f.close();
    throw new InspectorError(
      'KERAS_INVALID',
      `${path.basename(file)} holds weights only (no model_config): save the whole model (model.save), not just its weights`,
    );
  }
  let config: Json;
  try {
    config = JSON.parse(text(configAttr.value)) as Json;
    checkJsonDepth(config, `${path.basename(file)}: its model_config`, 'KERAS_INVALID');
  } catch (error) {
    f.close();
    if (error instanceof InspectorError) throw error;
    throw new InspectorError('KERAS_INVALID', `${path.basename(file)}: its model_config is not valid JSON`, String(error));
  }
  const root = f.attrs['layer_names'] ? f : f.get('model_weights');
  return {
    config,
    weightsOf(layer) {
      if (!root) return undefined;
      const group = f.get(root === f ? layer : `model_weights/${layer}`);
      if (!group) return undefined;
      const names = strings(group.attrs['weight_names']?.value);
      return names.map((name) => {
        const ds = f.get(`${root === f ? '' : 'model_weights/'}${layer}/${name}`);
        if (!ds || ds.value === undefined) throw new InspectorError('MODEL_WEIGHTS_MISSING', `The weight ${name} of layer "${layer}" is listed but not stored`);
        return { name, shape: ds.shape ?? [], data: toFloat32(ds.value) };
      });
    },
    close: () => f.close(),
  };
}

/** Caps for the members of a .keras archive: config.json is text, model.weights.h5 floats (which barely compress). */
const KERAS_ZIP_CAPS = { maxEntries: 1000, maxMemberBytes: 2 ** 31 - 1, maxRatio: 200 };

async function openKeras3(file: string): Promise<KerasSource> {
  const name = path.basename(file);
  const members = readZipMembers(readRegularFile(file), name, ['config.json', 'model.weights.h5'], 'KERAS_INVALID', KERAS_ZIP_CAPS);
  const configBytes = members.get('config.json');
  const weightsBytes = members.get('model.weights.h5');
  if (!configBytes) throw new InspectorError('KERAS_INVALID', `${name} has no config.json: not a Keras 3 model archive`);
  if (!weightsBytes) throw new InspectorError('MODEL_WEIGHTS_MISSING', `${name} has no model.weights.h5`);
  let config: Json;
  try {
    config = JSON.parse(Buffer.from(configBytes).toString('utf8')) as Json;
  } catch (error) {
    throw new InspectorError('KERAS_INVALID', `${name}: config.json is not valid JSON`, String(error));
  }
  checkJsonDepth(config, `${name}: config.json`, 'KERAS_INVALID');
  // h5wasm opens files by path: the weights go to a private temporary file, removed on close.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-inspector-keras-'));
  const weightsFile = path.join(tmp, 'model.weights.h5');
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  let f: H5File;
  try {
    fs.writeFileSync(weightsFile, weightsBytes);
    if (!isHdf5(weightsFile)) throw new InspectorError('KERAS_INVALID', `${name}: model.weights.h5 is not an HDF5 file`);
    f = await openHdf5(weightsFile, `${name}: model.weights.h5`);
  } catch (error) {
    cleanup();
    throw error;
  }
  return {
    config,
    weightsOf(layer) {
      // Keras 3 writes layers/<name>/vars/<i>; Keras 2.13–2.15 .keras files _layer_checkpoint_dependencies/<name>/vars/<i>.
      for (const base of [`layers/${layer}/vars`, `_layer_checkpoint_dependencies/${layer}/vars`]) {
        const group = f.get(base);
        if (!group) continue;
        const keys = (group.keys?.() ?? []).filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
        return keys.map((k) => {
          const ds = f.get(`${base}/${k}`)!;
          return { name: `${layer}/vars/${k}`, shape: ds.shape ?? [], data: toFloat32(ds.value) };
        });
      }
      return undefined;
    },
    close: () => {
      f.close();
      cleanup();
    },
  };
}

function checkLayers(config: Json): void {
  const problems: string[] = [];
  for (const l of layerConfigs(config)) {
    const cls = String(l.class_name);
    if (cls === 'Sequential' || cls === 'Functional' || cls === 'Model') continue;
    if (!SUPPORTED_KERAS_LAYERS.has(cls)) {
      const name = l.config && typeof l.config === 'object' && !Array.isArray(l.config) ? String((l.config as Record<string, Json>).name ?? '?') : '?';
      problems.push(`${cls} ("${name}")`);
    }
  }
  if (problems.length) {
    const classes = [...new Set(problems.map((p) => p.split(' (')[0]))];
    throw new InspectorError(
      'MODEL_UNSUPPORTED_OP',
      `CNN Inspector cannot run the layer${classes.length === 1 ? '' : 's'} ${classes.join(', ')}: ${problems.join('; ')}`,
      problems.join('\n'),
    );
  }
}

/**
 * Weights layer by layer. A model inside the model has its weights in one group (legacy HDF5) or layer by layer
 * under its own path (Keras 3: layers/<model>/layers/<layer>/vars): the second is read by recursing.
 */
function assignWeights(model: tfl.LayersModel, source: KerasSource, onProgress: LoadProgress, prefix = ''): void {
  for (const [i, layer] of model.layers.entries()) {
    onProgress(i, model.layers.length, `Reading the weights of ${layer.name}`);
    const expected = layer.weights;
    if (expected.length === 0) continue;
    const stored = source.weightsOf(`${prefix}${layer.name}`);
    if (!stored && layer instanceof tfl.LayersModel) {
      assignWeights(layer, source, () => undefined, `${prefix}${layer.name}/layers/`);
      continue;
    }
    if (!stored || stored.length === 0) {
      throw new InspectorError('MODEL_WEIGHTS_MISSING', `The file has no weights for layer "${layer.name}"`);
    }
    if (stored.length !== expected.length) {
      throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `Layer "${layer.name}" has ${expected.length} weight arrays, the file ${stored.length}`);
    }
    const tensors = stored.map((s, i) => {
      const shape = expected[i].shape as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      if (s.data.length !== n) {
        throw new InspectorError(
          'MODEL_WEIGHTS_INCONSISTENT',
          `Layer "${layer.name}": ${s.name} is [${s.shape.join(', ')}] in the file but the layer needs [${shape.join(', ')}]`,
        );
      }
      return tf.tensor(s.data, shape, 'float32');
    });
    try {
      layer.setWeights(tensors);
    } finally {
      tensors.forEach((t) => t.dispose());
    }
  }
}

export const kerasLoader: ModelLoader = {
  format: 'keras',
  extensions: ['h5', 'hdf5', 'keras'],
  canLoad(file: string): boolean {
    return ['.h5', '.hdf5', '.keras'].includes(path.extname(file).toLowerCase()) && !fs.statSync(file).isDirectory();
  },
  async load(file: string, _settings, onProgress) {
    const isKeras3 = path.extname(file).toLowerCase() === '.keras';
    checkRegularFile(file);
    if (!isKeras3 && !isHdf5(file)) throw new InspectorError('KERAS_INVALID', `${path.basename(file)} is not an HDF5 file (truncated, or not a Keras model)`);
    const source = isKeras3 ? await openKeras3(file) : await openLegacyH5(file);
    try {
      const normalized = normalizeKerasConfig(source.config);
      checkLayers(normalized);
      let model: tfl.LayersModel;
      try {
        model = await tfl.models.modelFromJSON({ modelTopology: normalized as never });
      } catch (error) {
        if (error instanceof InspectorError) throw error;
        throw new InspectorError('KERAS_INVALID', 'The Keras model description could not be built', error instanceof Error ? error.message : String(error));
      }
      try {
        assignWeights(model, source, onProgress);
      } catch (error) {
        model.dispose();
        throw error;
      }
      const cfg = (normalized as { config?: { name?: string } }).config;
      const metadata: ModelMetadata = {
        name: cfg?.name ?? path.basename(file, path.extname(file)),
        description: `Keras model (${isKeras3 ? 'Keras 3 .keras' : 'HDF5'})`,
      };
      return { model, metadata, path: file };
    } finally {
      source.close();
    }
  },
};
