/**
 * A model opened for inspection: the tfjs model, its summary for the UI, and cached sub-models that expose
 * intermediate layer outputs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelMetadata, ModelSummary, Preprocessing } from '../../../shared/contract';
import { endsInSoftmax } from '../base/tensors';
import { InspectorError } from '../../../shared/errors';
import { describeLayers } from './graph';
import { modelMacs } from './layer-costs';
import { loadModelFile, type LoadProgress } from './registry';

export interface LoadedModel {
  model: tfl.LayersModel;
  /** The file it was opened from (helper threads open the same file). */
  file: string;
  summary: ModelSummary;
  /** Layer name → a model whose output is that layer's output. */
  layerModel(name: string): tfl.LayersModel;
  dispose(): void;
}

function validPreprocessing(p: unknown, inputShape: number[]): p is Preprocessing {
  if (!p || typeof p !== 'object') return false;
  const q = p as Preprocessing;
  return (
    Array.isArray(q.inputSize) &&
    q.inputSize.length === 2 &&
    q.inputSize[0] === inputShape[0] &&
    q.inputSize[1] === inputShape[1] &&
    (q.channels === 1 || q.channels === 3) &&
    q.channels === inputShape[2] &&
    typeof q.scale === 'number' &&
    Array.isArray(q.mean) &&
    Array.isArray(q.std) &&
    q.mean.length > 0 &&
    q.std.length > 0 &&
    q.std.every((s) => typeof s === 'number' && s !== 0)
  );
}

function listCheckpoints(modelJsonPath: string): string[] {
  const dir = path.join(path.dirname(modelJsonPath), 'checkpoints');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((d) => fs.existsSync(path.join(dir, d, 'model.json')))
    .sort((a, b) => (parseInt(a.replace(/\D+/g, ''), 10) || 0) - (parseInt(b.replace(/\D+/g, ''), 10) || 0));
}

export async function openModel(file: string, id: string, onProgress?: LoadProgress): Promise<LoadedModel> {
  const { model, metadata, path: modelJsonPath, format, notices: loaderNotices } = await loadModelFile(file, onProgress);
  if (model.inputs.length !== 1) {
    model.dispose();
    throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', `The model has ${model.inputs.length} inputs; CNN Inspector handles single-image models`);
  }
  const inputShape = (model.inputs[0].shape as Array<number | null>).slice(1).map((d) => d ?? -1);
  const notices: string[] = [...(loaderNotices ?? [])];
  if (inputShape.length !== 3 || inputShape.some((d) => d <= 0)) {
    model.dispose();
    throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', `The model input [${inputShape.join(', ')}] is not a fixed-size image (height, width, channels)`);
  }
  const outputShape = model.outputs[0].shape as Array<number | null>;
  const numOutputs = (outputShape[outputShape.length - 1] ?? 0) as number;
  const meta = metadata as ModelMetadata;
  let classes: string[] | undefined;
  if (Array.isArray(meta.labels) && meta.labels.length === numOutputs && meta.labels.every((l) => typeof l === 'string')) {
    classes = meta.labels;
  } else {
    notices.push(
      Array.isArray(meta.labels)
        ? `The file's ${meta.labels.length} labels do not match the model's ${numOutputs} outputs: showing class numbers instead`
        : 'No class labels in the model file: showing class numbers instead',
    );
  }
  let preprocessing: Preprocessing;
  if (validPreprocessing(meta.preprocessing, inputShape)) {
    preprocessing = meta.preprocessing;
  } else {
    const channels = inputShape[2] === 1 ? 1 : 3;
    preprocessing = { inputSize: [inputShape[0], inputShape[1]], channels, scale: 1 / 255, mean: [0], std: [1], resize: 'stretch' };
    notices.push(
      meta.preprocessing
        ? 'The preprocessing in the model file does not fit its input: using pixels scaled to 0–1'
        : 'No preprocessing in the model file: images are resized to the input and pixels scaled to 0–1',
    );
    if (inputShape[2] !== 1 && inputShape[2] !== 3) notices.push(`The input has ${inputShape[2]} channels: only .npy inputs can be used`);
  }
  const macs = modelMacs(model);
  const layers = describeLayers(model).map((l) => (macs.get(l.name) ? { ...l, macs: macs.get(l.name) } : l));
  const summary: ModelSummary = {
    id,
    name: typeof meta.name === 'string' ? meta.name : model.name || path.basename(path.dirname(modelJsonPath)),
    description: typeof meta.description === 'string' ? meta.description : undefined,
    format,
    inputShape,
    classes,
    layers,
    preprocessing,
    totalParams: model.countParams(),
    notices,
    checkpoints: listCheckpoints(modelJsonPath),
    outputs: endsInSoftmax(model) ? 'probabilities' : 'scores',
  };
  if (summary.outputs === 'scores')
    notices.push('The model gives scores (logits), not probabilities: the % shown are those scores turned into probabilities (softmax)');
  const layerModels = new Map<string, tfl.LayersModel>();
  return {
    model,
    file,
    summary,
    layerModel(name: string) {
      const cached = layerModels.get(name);
      if (cached) return cached;
      if (!layers.some((l) => l.name === name)) {
        throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}". Layers: ${layers.map((l) => l.name).join(', ')}`);
      }
      const inputLayer = layers[0].type === 'InputLayer' && layers[0].name === name;
      const output = inputLayer ? model.inputs[0] : (model.getLayer(name).output as tfl.SymbolicTensor | tfl.SymbolicTensor[]);
      const sub = tfl.model({ inputs: model.inputs, outputs: Array.isArray(output) ? output[0] : output });
      layerModels.set(name, sub);
      return sub;
    },
    dispose() {
      // Sub-models share the main model's weights; disposing the main model frees them.
      layerModels.clear();
      model.dispose();
      void tf;
    },
  };
}
