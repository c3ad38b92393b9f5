/**
 * Loader for TF.js Layers models (model.json + weight shards), Sequential and functional.
 * Errors: MODEL_NOT_FOUND, MODEL_JSON_INVALID, MODEL_WEIGHTS_MISSING, MODEL_WEIGHTS_INCONSISTENT,
 * MODEL_UNSUPPORTED_FORMAT, MODEL_UNSUPPORTED_OP (a layer class TF.js Layers does not know).
 */
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelMetadata } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import './layers/lrn';
import { fileSystemLoader, readModelJson, resolveModelJsonPath } from './tfjs-io';
import type { ModelLoader } from './loader';

function mapLoadError(error: unknown): InspectorError {
  if (error instanceof InspectorError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const unknownLayer = /Unknown (?:layer|activation|constraint|initializer|regularizer)[^:]*:\s*([\w.-]+)/i.exec(message);
  if (unknownLayer) {
    return new InspectorError('MODEL_UNSUPPORTED_OP', `The model uses "${unknownLayer[1]}", which CNN Inspector cannot run`, message);
  }
  if (/shape|weight|expected|provided|mismatch/i.test(message)) {
    return new InspectorError('MODEL_WEIGHTS_INCONSISTENT', 'The weights do not fit the model description', message);
  }
  return new InspectorError('MODEL_JSON_INVALID', 'The model description could not be built', message);
}

export const tfjsLayersLoader: ModelLoader = {
  format: 'tfjs-layers',
  extensions: ['json'],
  canLoad(file: string): boolean {
    const p = resolveModelJsonPath(file);
    return path.extname(p).toLowerCase() === '.json';
  },
  async load(file: string, _settings, onProgress) {
    const modelJsonPath = resolveModelJsonPath(file);
    const json = readModelJson(modelJsonPath);
    let model: tfl.LayersModel;
    try {
      model = await tfl.loadLayersModel(fileSystemLoader(modelJsonPath), {
        strict: true,
        onProgress: (f: number) => onProgress(Math.round(f * 100), 100, 'Reading the weights'),
      });
    } catch (error) {
      throw mapLoadError(error);
    }
    const metadata = (json.userDefinedMetadata ?? {}) as ModelMetadata;
    return { model, metadata, path: modelJsonPath };
  },
};
