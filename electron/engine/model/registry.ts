/**
 * Model formats by registry (Netron's ModelFactoryService pattern): each format is one loader module; the first
 * whose canLoad accepts the file loads it. New formats are added to LOADERS, nothing else changes.
 *
 * Settings a file lacks (labels, preprocessing) can sit beside it in `<file>.inspector.json`; the app writes that
 * file when a person fills them in once, and every later open reads it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ModelFormat, ModelMetadata, ModelSettings } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { flattenNestedModels } from './flatten-nested';
import { kerasLoader } from './keras-loader';
import { onnxLoader } from './onnx-loader';
import { workspaceRoot } from '../files/workspace';
import { writeFileAtomic } from '../files/atomic';
import { checkRegularFile, readRegularFile } from '../files/safe-files';
import { resolveModelJsonPath } from './tfjs-io';
import { tfjsLayersLoader } from './tfjs-layers-loader';

import type { LoadProgress, LoadedModelFile, ModelLoader } from './loader';

export type { LoadProgress, LoadedModelFile, ModelLoader };

export const LOADERS: ModelLoader[] = [tfjsLayersLoader, onnxLoader, kerasLoader];

export const sidecarPath = (file: string): string => `${file}.inspector.json`;

/** Where settings go when the model's folder is read-only (the bundled model in an installed app, a CD…). */
const workspaceSettingsPath = (file: string): string =>
  path.join(workspaceRoot(), 'model-settings', `${createHash('sha256').update(path.resolve(file)).digest('hex').slice(0, 16)}.json`);

/** The person's saved settings for a model file (the newer of beside-the-file and workspace), or {} when none can be read. */
export function readModelSettings(file: string): ModelMetadata {
  let best: { mtime: number; settings: ModelMetadata } | undefined;
  for (const candidate of [sidecarPath(file), workspaceSettingsPath(file)]) {
    try {
      const parsed = JSON.parse(readRegularFile(candidate, { maxBytes: 16 * 2 ** 20 }).toString('utf8'));
      const mtime = fs.statSync(candidate).mtimeMs;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && (!best || mtime > best.mtime)) best = { mtime, settings: parsed as ModelMetadata };
    } catch {
      // absent or unreadable: try the next place
    }
  }
  return best?.settings ?? {};
}

/** When the saved settings of a model file last changed (a model whose settings changed is opened afresh). */
export function modelSettingsStamp(file: string): string {
  return [sidecarPath(file), workspaceSettingsPath(file)]
    .map((candidate) => {
      try {
        return String(fs.statSync(candidate).mtimeMs);
      } catch {
        return '-';
      }
    })
    .join('/');
}

/**
 * Saves settings beside the model file, or in the workspace when that folder cannot be written or when
 * `besideModel` is false (a browser client never writes into the server's model folders). Returns where.
 */
export function writeModelSettings(file: string, settings: ModelSettings, besideModel = true): string {
  const merged = { ...readModelSettings(file), ...Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) };
  const text = `${JSON.stringify(merged, null, 2)}\n`;
  try {
    if (!besideModel) throw new Error('kept in the workspace');
    writeFileAtomic(sidecarPath(file), text);
    return sidecarPath(file);
  } catch {
    const fallback = workspaceSettingsPath(file);
    fs.mkdirSync(path.dirname(fallback), { recursive: true });
    writeFileAtomic(fallback, text);
    return fallback;
  }
}

export async function loadModelFile(file: string, onProgress: LoadProgress = () => undefined): Promise<LoadedModelFile & { format: ModelFormat }> {
  if (!fs.existsSync(file)) throw new InspectorError('MODEL_NOT_FOUND', `No model at ${file}`);
  // A FIFO or device named as the model: said so, instead of "not a format" (or a read that never ends).
  if (!fs.statSync(file).isDirectory()) checkRegularFile(file);
  const loader = LOADERS.find((l) => l.canLoad(file));
  if (!loader) {
    throw new InspectorError(
      'MODEL_UNSUPPORTED_FORMAT',
      `CNN Inspector cannot open ${path.basename(file)}: expected an ONNX model (.onnx), a Keras model (.h5, .keras) or a TF.js Layers model.json`,
    );
  }
  const settings = readModelSettings(resolveModelJsonPath(file));
  const loaded = await loader.load(file, settings, onProgress);
  const nested = loaded.model.layers.filter((l) => l instanceof tfl.LayersModel).map((l) => l.name);
  if (nested.length) {
    // Models inside the model (Teachable Machine, a Keras base model + head): one layer tree of their layers.
    loaded.model = flattenNestedModels(loaded.model);
    loaded.notices = [
      ...(loaded.notices ?? []),
      `The file holds models inside the model (${nested.join(', ')}): their layers are shown by path, e.g. ${loaded.model.layers.find((l) => l.name.includes('/'))?.name ?? `${nested[0]}/…`}`,
    ];
  }
  // The person's saved answers fill what the file lacks; labels and preprocessing they saved win over the file's
  // (they were asked because the file's were missing or wrong).
  const metadata: ModelMetadata = { ...settings, ...Object.fromEntries(Object.entries(loaded.metadata).filter(([, v]) => v !== undefined)) };
  if (settings.labels) metadata.labels = settings.labels;
  // A name saved beside the file (the zoo writes its title there) says more than an exporter's graph name.
  if (typeof settings.name === 'string' && settings.name) metadata.name = settings.name;
  if (settings.preprocessing) metadata.preprocessing = settings.preprocessing;
  return { ...loaded, metadata, format: loader.format };
}
