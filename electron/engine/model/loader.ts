/** What every model format's loader is (one module per format, collected in registry.ts). */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { ModelFormat, ModelMetadata } from '../../../shared/contract';

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
  load(file: string, settings: ModelMetadata, onProgress: LoadProgress): Promise<LoadedModelFile>;
}

/** Reading and converting a model file: `done` of `total` steps (layers, weights), with what is happening. */
export type LoadProgress = (done: number, total: number, message: string) => void;
