/**
 * EngineCore: the engine's state and computations for one thread — the open model, the open dataset, uploaded
 * images — behind plain async methods. Worker threads wrap it (host.ts / worker.ts); the CLI uses it directly.
 * It never imports electron.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  ExportFormat,
  ExportedModel,
  ActivationMaps,
  AtlasLayer,
  AtlasSummary,
  FilterBank,
  DatasetSummary,
  ImagePage,
  ImageRef,
  JobKind,
  JobParams,
  JobResults,
  ModelSummary,
  Occluder,
  PredictResult,
  UploadedImage,
} from '../../shared/contract';
import { InspectorError } from '../../shared/errors';
import { layerActivations, predictProbabilities, topPredictions } from './analyses/activations';
import { readAtlasLayer, readAtlasSheet, readAtlasSummary } from './analyses/atlas';
import { filterBank } from './analyses/filters';
import { occlude } from './analyses/occlusion';
import { projectUnitFast, type Projection, type ProjectionMethod } from './analyses/projection';
import type { JobContext } from './base/job-context';
import { buildTopK, type TopKIndex, type TopKOptions } from './analyses/topk';
import { initBackend, type BackendChoice, type BackendName } from './backend';
import { openDataset, type Dataset } from './data/dataset';
import { checkImage, displayPng, npyDisplayPng, sniffType, toModelInput } from './data/image';
import { JOBS, type JobDescriptor, type JobHost } from './jobs';
import { openModel, type LoadedModel } from './model/loaded-model';
import { acquireModel, releaseModel, shelfContents } from './model/model-shelf';
import type { LoadProgress } from './model/registry';
import { resolveModelJsonPath } from './model/tfjs-io';
import { exportModelBytes } from './model/export';
import { BUNDLED_MODEL_ID, BUNDLED_SAMPLES_ID, ENGINE_VERSION, resolveDatasetPath, resolveModelPath } from './paths';
import { cacheKey, readCached, writeCached } from './files/result-cache';
import { pairFolder } from './files/workspace';

/** Deterministic dataset-level analyses whose results are kept in the workspace (reopening is instant). */
interface Upload {
  name: string;
  bytes: Uint8Array;
}

export class EngineCore implements JobHost {
  private model?: LoadedModel;
  private dataset?: Dataset;
  private readonly uploads = new Map<string, Upload>();
  backend?: BackendChoice;

  async init(options: { preferred?: BackendName; allowNative?: boolean } = {}): Promise<BackendChoice> {
    this.backend = await initBackend(options);
    return this.backend;
  }

  async openModel(id: string | undefined, onProgress?: LoadProgress): Promise<ModelSummary> {
    const modelId = id ?? BUNDLED_MODEL_ID;
    // Shared with every session of this thread that has the same file open (see model/model-shelf.ts).
    const loaded = await acquireModel(resolveModelPath(modelId), modelId, onProgress);
    if (this.model) releaseModel(this.model);
    this.model = loaded;
    return loaded.summary;
  }

  async openDataset(id: string | undefined): Promise<DatasetSummary> {
    const datasetId = id ?? BUNDLED_SAMPLES_ID;
    const name = datasetId === BUNDLED_SAMPLES_ID ? 'Sample images (Fashion-MNIST test set)' : undefined;
    this.dataset = openDataset(resolveDatasetPath(datasetId), datasetId, name);
    return this.dataset.summary;
  }

  get modelSummary(): ModelSummary | undefined {
    return this.model?.summary;
  }

  get datasetSummary(): DatasetSummary | undefined {
    return this.dataset?.summary;
  }

  requireModel(): LoadedModel {
    if (!this.model) throw new InspectorError('MODEL_NOT_LOADED', 'No model is open');
    return this.model;
  }

  requireDataset(): Dataset {
    if (!this.dataset) throw new InspectorError('DATASET_NOT_FOUND', 'No dataset is open');
    return this.dataset;
  }

  listImages(params: { offset: number; limit: number; classIndex?: number }): ImagePage {
    const dataset = this.requireDataset();
    const all = params.classIndex === undefined ? dataset.entries : dataset.entries.filter((e) => e.classIndex === params.classIndex);
    const offset = Math.max(0, Math.floor(params.offset));
    return { total: all.length, offset, images: all.slice(offset, offset + Math.max(0, Math.floor(params.limit))) };
  }

  async addUpload(id: string, name: string, bytes: Uint8Array): Promise<UploadedImage> {
    if (sniffType(bytes) === 'npy') {
      const inputShape = this.requireModel().summary.inputShape;
      // Validates shape and dtype now, so a bad file is refused at upload time.
      await toModelInput(bytes, name, this.requireModel().summary.preprocessing, inputShape);
      this.uploads.set(id, { name, bytes });
      return { ref: { source: 'upload', id }, name, width: inputShape[1], height: inputShape[0] };
    }
    // Checked without a full-size decode (a 16 384² PNG would cost ~800 MB in every worker).
    const { width, height } = await checkImage(bytes, name);
    this.uploads.set(id, { name, bytes });
    return { ref: { source: 'upload', id }, name, width, height };
  }

  /** Forgets uploaded images (their client left); returns how many were held. */
  removeUploads(ids: string[]): number {
    let removed = 0;
    for (const id of ids) if (this.uploads.delete(id)) removed++;
    return removed;
  }

  private upload(id: string): Upload {
    const upload = this.uploads.get(id);
    if (!upload) throw new InspectorError('IMAGE_NOT_FOUND', `No uploaded image ${id}`);
    return upload;
  }

  async modelInput(image: ImageRef): Promise<{ input: Float32Array; trueClass?: number }> {
    const loaded = this.requireModel();
    if (image.source === 'dataset') {
      const dataset = this.requireDataset();
      const input = await dataset.loadInput(image.index, loaded.summary.preprocessing, loaded.summary.inputShape);
      const entry = dataset.entries[image.index];
      const classes = loaded.summary.classes;
      const trueClass = classes ? classes.indexOf(entry.className) : entry.classIndex;
      return { input, ...(trueClass >= 0 ? { trueClass } : {}) };
    }
    const upload = this.upload(image.id);
    return { input: await toModelInput(upload.bytes, upload.name, loaded.summary.preprocessing, loaded.summary.inputShape) };
  }

  async getImage(params: { image: ImageRef; size?: number }): Promise<Uint8Array> {
    const size = Math.min(1024, Math.max(16, params.size ?? 256));
    if (params.image.source === 'dataset') return this.requireDataset().displayPng(params.image.index, size);
    const upload = this.upload(params.image.id);
    return sniffType(upload.bytes) === 'npy' ? npyDisplayPng(upload.bytes, upload.name, size) : displayPng(upload.bytes, upload.name, size);
  }

  async predict(params: { image: ImageRef; top?: number; occlude?: Occluder }): Promise<PredictResult> {
    const loaded = this.requireModel();
    const { input, trueClass } = await this.modelInput(params.image);
    if (params.occlude) occlude(input, loaded.summary.inputShape, params.occlude);
    const probabilities = predictProbabilities(loaded, input);
    return { predictions: topPredictions(probabilities, loaded.summary.classes, params.top ?? 5), ...(trueClass !== undefined ? { trueClass } : {}) };
  }

  async activations(params: { image: ImageRef; layer: string }): Promise<ActivationMaps> {
    const loaded = this.requireModel();
    loaded.layerModel(params.layer); // LAYER_NOT_FOUND before any decoding work
    const { input } = await this.modelInput(params.image);
    return layerActivations(loaded, params.layer, input);
  }

  async runJob<K extends JobKind>(kind: K, params: JobParams[K], ctx: JobContext): Promise<JobResults[K]> {
    const job = JOBS[kind] as JobDescriptor<K> | undefined;
    if (!job) throw new InspectorError('BAD_ARGUMENT', `Unknown job kind ${String(kind)}`);
    if (!job.cache) return job.run(this, params, ctx);
    const keyParams = job.cache.key ? { ...params, ...(job.cache.key(params) as object) } : params;
    const key = cacheKey(this.modelFile(), this.requireDataset().summary, kind, keyParams, job.cache.schema);
    const cached = readCached<JobResults[K]>(key);
    if (cached) {
      ctx.progress(1, 1, 'Loaded the saved result');
      return cached;
    }
    const result = await job.run(this, params, ctx);
    writeCached(key, result);
    return result;
  }

  /** The open model as ONNX or TF.js (zip) bytes. */
  async exportModel(params: { format: ExportFormat; path?: string }): Promise<ExportedModel> {
    const { format, path: modelPath } = params;
    if (!modelPath) return exportModelBytes(this.requireModel(), format, ENGINE_VERSION);
    // Another model (e.g. a fine-tuning run's result), opened for the export only.
    const other = await openModel(resolveModelJsonPath(resolveModelPath(modelPath)), modelPath);
    try {
      return await exportModelBytes(other, format, ENGINE_VERSION);
    } finally {
      other.dispose();
    }
  }

  /** A unit's activation projected to input space (ZF deconvnet, gradient or guided backprop). */
  async project(params: { image: ImageRef; layer: string; unit: number; method: ProjectionMethod; position?: number[] }): Promise<Projection> {
    const loaded = this.requireModel();
    loaded.layerModel(params.layer); // LAYER_NOT_FOUND before decoding
    const { input } = await this.modelInput(params.image);
    return projectUnitFast(loaded, input, params.layer, params.unit, params.method, params.position);
  }

  modelFile(): string {
    return resolveModelJsonPath(resolveModelPath(this.requireModel().summary.id));
  }

  /** Where the atlas of the open model on the open dataset lives in the workspace. */
  atlasDir(): string {
    const model = this.requireModel();
    const dataset = this.requireDataset();
    return pairFolder(resolveModelPath(model.summary.id), resolveDatasetPath(dataset.summary.id), 'atlas');
  }

  async getFilters(params: { layer?: string } = {}): Promise<FilterBank> {
    return filterBank(this.requireModel(), params.layer);
  }

  async getAtlas(): Promise<AtlasSummary | null> {
    return this.model && this.dataset ? readAtlasSummary(this.atlasDir()) : null;
  }

  async getAtlasLayer(params: { layer: string }): Promise<AtlasLayer> {
    return readAtlasLayer(this.atlasDir(), params.layer);
  }

  async getAtlasSheet(params: { layer: string; unit: number }): Promise<Uint8Array> {
    return readAtlasSheet(this.atlasDir(), params.layer, params.unit);
  }

  buildTopK(options: TopKOptions, ctx: JobContext): Promise<TopKIndex[]> {
    return buildTopK(this.requireModel(), this.requireDataset(), options, ctx);
  }

  /** The session ended: its hold on the model and its uploads go (the model stays while other sessions hold it). */
  close(): void {
    if (this.model) releaseModel(this.model);
    this.model = undefined;
    this.dataset = undefined;
    this.uploads.clear();
  }

  /** The models this thread holds for all its sessions, with how many sessions hold each. */
  modelsHeld(): Array<{ id: string; holders: number }> {
    return shelfContents();
  }

  numTensors(): number {
    return tf.memory().numTensors;
  }
}
