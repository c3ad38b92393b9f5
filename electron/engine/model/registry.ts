/**
 * Model formats by registry (Netron's ModelFactoryService pattern): each format is one loader module; the first
 * whose canLoad accepts the file loads it. New formats (ONNX, Keras) are added to LOADERS, nothing else changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelMetadata } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { tfjsLayersLoader } from './tfjs-layers-loader';

export interface LoadedModelFile {
  model: tfl.LayersModel;
  metadata: ModelMetadata;
  path: string;
}

export interface ModelLoader {
  format: 'tfjs-layers';
  canLoad(file: string): boolean;
  load(file: string): Promise<LoadedModelFile>;
}

export const LOADERS: ModelLoader[] = [tfjsLayersLoader];

export async function loadModelFile(file: string): Promise<LoadedModelFile & { format: ModelLoader['format'] }> {
  if (!fs.existsSync(file)) throw new InspectorError('MODEL_NOT_FOUND', `No model at ${file}`);
  const loader = LOADERS.find((l) => l.canLoad(file));
  if (!loader) {
    const ext = path.extname(file).toLowerCase();
    const hint = ext === '.onnx' || ext === '.h5' || ext === '.keras' ? ' (ONNX and Keras support is coming; convert to TF.js Layers for now)' : '';
    throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', `CNN Inspector cannot open ${path.basename(file)}: expected a TF.js Layers model.json${hint}`);
  }
  return { ...(await loader.load(file)), format: loader.format };
}
