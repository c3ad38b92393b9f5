/**
 * Model formats by registry (Netron's ModelFactoryService pattern): each format is one loader module; the first
 * whose canLoad accepts the file loads it. New formats are added to LOADERS, nothing else changes.
 *
 * Settings a file lacks (labels, preprocessing) can sit beside it in `<file>.inspector.json`; the app writes that
 * file when a person fills them in once, and every later open reads it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelFormat, ModelMetadata } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { kerasLoader } from './keras-loader';
import { onnxLoader } from './onnx-loader';
import { tfjsLayersLoader } from './tfjs-layers-loader';

export interface LoadedModelFile {
  model: tfl.LayersModel;
  metadata: ModelMetadata;
  /** The file the model was read from (for TF.js, its model.json). */
  path: string;
  /** What the loader had to decide for the person, shown beside the model. */
  notices?: string[];
}

export interface ModelLoader {
  format: ModelFormat;
  /** File extensions, for open dialogs. */
  extensions: string[];
  canLoad(file: string): boolean;
  load(file: string, settings: ModelMetadata): Promise<LoadedModelFile>;
}

export const LOADERS: ModelLoader[] = [tfjsLayersLoader, onnxLoader, kerasLoader];

export const sidecarPath = (file: string): string => `${file}.inspector.json`;

/** The person's saved settings for a model file, or {} when there are none or they cannot be read. */
export function readModelSettings(file: string): ModelMetadata {
  try {
    const parsed = JSON.parse(fs.readFileSync(sidecarPath(file), 'utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as ModelMetadata) : {};
  } catch {
    return {};
  }
}

export async function loadModelFile(file: string): Promise<LoadedModelFile & { format: ModelFormat }> {
  if (!fs.existsSync(file)) throw new InspectorError('MODEL_NOT_FOUND', `No model at ${file}`);
  const loader = LOADERS.find((l) => l.canLoad(file));
  if (!loader) {
    throw new InspectorError(
      'MODEL_UNSUPPORTED_FORMAT',
      `CNN Inspector cannot open ${path.basename(file)}: expected an ONNX model (.onnx), a Keras model (.h5, .keras) or a TF.js Layers model.json`,
    );
  }
  const settings = readModelSettings(file);
  const loaded = await loader.load(file, settings);
  // The file's own metadata wins; the sidecar fills what it lacks.
  const metadata: ModelMetadata = { ...settings, ...Object.fromEntries(Object.entries(loaded.metadata).filter(([, v]) => v !== undefined)) };
  return { ...loaded, metadata, format: loader.format };
}
