/**
 * Exports the open model — bundled, imported (ONNX, Keras, TF.js) or fine-tuned — as ONNX or as a TF.js Layers
 * model, with its labels and preprocessing, so it re-opens in CNN Inspector and runs in other tools.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { ExportFormat, ExportedModel, ModelMetadata } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { writeFileAtomic } from '../files/atomic';
import { zipStored } from '../files/zip';
import type { LoadedModel } from './loaded-model';
import { exportOnnx } from './onnx/export';
import { fileSystemSaver } from './tfjs-io';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['onnx', 'tfjs'];

function metadataOf(loaded: LoadedModel): ModelMetadata {
  const s = loaded.summary;
  return { name: s.name, description: s.description, labels: s.classes, preprocessing: s.preprocessing };
}

const fileStem = (name: string): string => name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || 'model';

/** The export as one file's bytes: model.onnx, or a zip of model.json + weights.bin. */
export async function exportModelBytes(loaded: LoadedModel, format: ExportFormat, version: string): Promise<ExportedModel> {
  const stem = fileStem(loaded.summary.name);
  if (format === 'onnx') {
    return { fileName: `${stem}.onnx`, bytes: exportOnnx(loaded.model, { metadata: metadataOf(loaded), producerVersion: version }) };
  }
  if (format === 'tfjs') {
    let files: Array<{ name: string; data: Uint8Array }> = [];
    await loaded.model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weights =
          artifacts.weightData instanceof ArrayBuffer
            ? new Uint8Array(artifacts.weightData)
            : new Uint8Array(await new Blob(artifacts.weightData as ArrayBuffer[]).arrayBuffer());
        const modelJson = {
          modelTopology: artifacts.modelTopology,
          format: 'layers-model',
          generatedBy: `CNN Inspector ${version}`,
          convertedBy: null,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
          userDefinedMetadata: metadataOf(loaded),
        };
        files = [
          { name: `${stem}/model.json`, data: Buffer.from(JSON.stringify(modelJson)) },
          { name: `${stem}/weights.bin`, data: weights },
        ];
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    return { fileName: `${stem}.tfjs.zip`, bytes: zipStored(files) };
  }
  throw new InspectorError('BAD_ARGUMENT', `Unknown export format "${String(format)}": use onnx or tfjs`);
}

/** Writes the export to disk: a .onnx file, or a TF.js model folder (model.json + shards). Returns what was written. */
export async function exportModelToPath(loaded: LoadedModel, format: ExportFormat, out: string, version: string): Promise<string> {
  if (format === 'tfjs') {
    if (fs.existsSync(out) && !fs.statSync(out).isDirectory())
      throw new InspectorError('BAD_ARGUMENT', `${out} is a file; a TF.js model is written to a folder`);
    fs.mkdirSync(out, { recursive: true });
    await loaded.model.save(fileSystemSaver(out, metadataOf(loaded)));
    return path.join(out, 'model.json');
  }
  const { bytes } = await exportModelBytes(loaded, format, version);
  const file = fs.existsSync(out) && fs.statSync(out).isDirectory() ? path.join(out, `${fileStem(loaded.summary.name)}.onnx`) : out;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(file, bytes);
  return file;
}
