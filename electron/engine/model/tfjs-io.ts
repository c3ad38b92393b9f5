/**
 * TF.js Layers model.json + weight shards on the local file system (tfjs-node's file:// handler is not
 * available without the native package, so the project has its own). Loading validates the shards against the
 * manifest so a truncated or missing shard is a coded error, not a garbage model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { io } from '@tensorflow/tfjs-core';
import { InspectorError } from '../../../shared/errors';
import { writeFileAtomic } from '../files/atomic';
import { checkJsonDepth } from '../files/json-depth';
import { confinedFile, readRegularFile } from '../files/safe-files';

/** A model.json holds the architecture only (weights are in shards): 64 MB is far beyond any real one. */
const MAX_MODEL_JSON_BYTES = 64 * 2 ** 20;

const BYTES_PER_DTYPE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2, complex64: 8 };

interface ModelJson {
  modelTopology?: unknown;
  weightsManifest?: Array<{ paths: string[]; weights: io.WeightsManifestEntry[] }>;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  userDefinedMetadata?: Record<string, unknown>;
  trainingConfig?: io.TrainingConfig;
}

function weightSpecBytes(spec: io.WeightsManifestEntry): number {
  if (!spec || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new InspectorError('MODEL_JSON_INVALID', `weight ${String(spec?.name)}: its shape is not a list of sizes`);
  }
  const count = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.quantization) {
    const q = spec.quantization.dtype;
    return count * (q === 'uint8' ? 1 : 2);
  }
  const bytes = BYTES_PER_DTYPE[spec.dtype];
  if (bytes === undefined) throw new InspectorError('MODEL_JSON_INVALID', `weight ${spec.name}: unknown dtype ${spec.dtype}`);
  return count * bytes;
}

export function readModelJson(modelJsonPath: string): ModelJson {
  if (!fs.existsSync(modelJsonPath)) {
    throw new InspectorError('MODEL_NOT_FOUND', `No model file at ${modelJsonPath}`);
  }
  if (fs.statSync(modelJsonPath).isDirectory()) {
    const inner = path.join(modelJsonPath, 'model.json');
    if (fs.existsSync(inner)) return readModelJson(inner);
    throw new InspectorError('MODEL_NOT_FOUND', `${modelJsonPath} is a folder without a model.json`);
  }
  let parsed: unknown;
  const text = readRegularFile(modelJsonPath, { maxBytes: MAX_MODEL_JSON_BYTES, missingCode: 'MODEL_NOT_FOUND' }).toString('utf8');
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InspectorError('MODEL_JSON_INVALID', `${path.basename(modelJsonPath)} is not valid JSON`, String(error));
  }
  checkJsonDepth(parsed, path.basename(modelJsonPath), 'MODEL_JSON_INVALID');
  if (!parsed || typeof parsed !== 'object' || !('modelTopology' in parsed)) {
    throw new InspectorError('MODEL_JSON_INVALID', `${path.basename(modelJsonPath)} has no modelTopology: not a TF.js Layers model`);
  }
  const json = parsed as ModelJson;
  const topology = json.modelTopology as { class_name?: string; model_config?: unknown; config?: unknown } | null;
  if (!topology || typeof topology !== 'object') {
    throw new InspectorError('MODEL_JSON_INVALID', 'modelTopology is empty');
  }
  if (json.format === 'graph-model' || (topology as { node?: unknown }).node !== undefined) {
    throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', 'This is a TF.js graph model; CNN Inspector opens TF.js Layers models');
  }
  return json;
}

/** Resolves `model` (a model.json file or a folder holding one) to the model.json path. */
export function resolveModelJsonPath(model: string): string {
  if (fs.existsSync(model) && fs.statSync(model).isDirectory()) return path.join(model, 'model.json');
  return model;
}

export function fileSystemLoader(modelPath: string): io.IOHandler {
  const modelJsonPath = resolveModelJsonPath(modelPath);
  return {
    async load(): Promise<io.ModelArtifacts> {
      const json = readModelJson(modelJsonPath);
      const dir = path.dirname(modelJsonPath);
      const weightSpecs: io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      if (json.weightsManifest !== undefined && !Array.isArray(json.weightsManifest)) {
        throw new InspectorError('MODEL_JSON_INVALID', 'model.json: weightsManifest is not a list');
      }
      for (const group of json.weightsManifest ?? []) {
        if (!group || !Array.isArray(group.weights) || !Array.isArray(group.paths)) {
          throw new InspectorError('MODEL_JSON_INVALID', 'model.json: a weightsManifest entry lacks its paths or weights');
        }
        let expected = 0;
        for (const spec of group.weights) {
          weightSpecs.push(spec);
          expected += weightSpecBytes(spec);
        }
        // Every shard: inside the model's folder after links, an ordinary file, and the sizes add up to what the
        // manifest declares — all checked before a byte of weights is read.
        const shards = group.paths.map((shard) => confinedFile(dir, shard, 'model.json', 'MODEL_WEIGHTS_MISSING'));
        const actual = shards.reduce((sum, s) => sum + s.size, 0);
        if (actual !== expected) {
          throw new InspectorError(
            'MODEL_WEIGHTS_INCONSISTENT',
            `Weight files hold ${actual} bytes but model.json describes ${expected} bytes (${group.paths.join(', ')})`,
          );
        }
        for (const s of shards) buffers.push(readRegularFile(s.file, { maxBytes: s.size }));
      }
      const all = Buffer.concat(buffers);
      const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
      return {
        modelTopology: json.modelTopology as object,
        weightSpecs,
        weightData,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        userDefinedMetadata: json.userDefinedMetadata as io.ModelArtifacts['userDefinedMetadata'],
        trainingConfig: json.trainingConfig,
      };
    },
  };
}

/** Saves to `dir/model.json` + `dir/weights.bin` (one shard), each written atomically. */
export function fileSystemSaver(dir: string, userDefinedMetadata?: Record<string, unknown>): io.IOHandler {
  return {
    async save(artifacts: io.ModelArtifacts): Promise<io.SaveResult> {
      fs.mkdirSync(dir, { recursive: true });
      const weightData = artifacts.weightData
        ? Array.isArray(artifacts.weightData)
          ? Buffer.concat(artifacts.weightData.map((b) => Buffer.from(b)))
          : Buffer.from(artifacts.weightData)
        : Buffer.alloc(0);
      writeFileAtomic(path.join(dir, 'weights.bin'), weightData);
      const json: ModelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: 'CNN Inspector',
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata: userDefinedMetadata ?? (artifacts.userDefinedMetadata as Record<string, unknown> | undefined),
      };
      writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weightData.length,
        },
      };
    },
  };
}
