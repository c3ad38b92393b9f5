/**
 * Loader for ONNX models (.onnx): parsed with protobufjs against ONNX's schema (no native runtime), then converted
 * to the engine's layer graph (onnx/convert.ts). Weights in external-data files beside the model are read too.
 * Errors: ONNX_INVALID (not ONNX, truncated, dangling names), ONNX_UNSUPPORTED_OPSET, ONNX_EXTERNAL_DATA_MISSING,
 * MODEL_UNSUPPORTED_OP (every unsupported operator listed with where it occurs), MODEL_WEIGHTS_INCONSISTENT,
 * MODEL_UNSUPPORTED_FORMAT (not a single-image model).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelMetadata, Preprocessing } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { convertOnnxGraph, SUPPORTED_ONNX_OPS } from './onnx/convert';
import type { OnnxModel } from './onnx/proto';
import { decodeOnnxFile } from './onnx/stream-decode';
import type { ModelLoader } from './loader';

/**
 * Opsets read: 22–25 only widened the type lists of the operators converted here (bfloat16, float8, int4); opset
 * 6 (PyTorch's early exporter) differs in the `broadcast`/`axis` of arithmetic and `is_test` of BatchNormalization
 * and Dropout, both handled by the converter. Before 6, operators took shapes as attributes (Reshape-1).
 */
export const ONNX_OPSETS = { min: 6, max: 25 } as const;

function decode(file: string): OnnxModel {
  if (fs.statSync(file).size === 0) throw new InspectorError('ONNX_INVALID', `${path.basename(file)} is empty`);
  let model: OnnxModel;
  try {
    model = decodeOnnxFile(file);
  } catch (error) {
    throw new InspectorError(
      'ONNX_INVALID',
      `${path.basename(file)} is not a readable ONNX model (truncated or not ONNX)`,
      error instanceof Error ? error.message : String(error),
    );
  }
  if (!model.graph || !model.graph.node || model.graph.node.length === 0 || !model.irVersion) {
    throw new InspectorError('ONNX_INVALID', `${path.basename(file)} is not an ONNX model: it holds no graph`);
  }
  return model;
}

/** Every node whose operator the converter does not know, named, before anything is built. */
function checkOperators(model: OnnxModel): void {
  const problems: string[] = [];
  model.graph!.node.forEach((node, i) => {
    const foreignDomain = node.domain && node.domain !== 'ai.onnx';
    if (foreignDomain || !SUPPORTED_ONNX_OPS.has(node.opType)) {
      problems.push(`${foreignDomain ? `${node.domain}.` : ''}${node.opType} at ${node.name ? `"${node.name}"` : `node #${i + 1}`}`);
    }
  });
  if (problems.length) {
    const ops = [...new Set(problems.map((p) => p.split(' at ')[0]))];
    throw new InspectorError(
      'MODEL_UNSUPPORTED_OP',
      `CNN Inspector cannot run ${ops.length === 1 ? 'the operator' : 'the operators'} ${ops.join(', ')} (${problems.length} node${problems.length === 1 ? '' : 's'}): ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? '; …' : ''}`,
      problems.join('\n'),
    );
  }
}

/** Labels and preprocessing written into metadata_props (by CNN Inspector's export or by hand). */
function metadataOf(model: OnnxModel, file: string): ModelMetadata {
  const props = new Map(model.metadataProps.map((p) => [p.key, p.value]));
  const meta: ModelMetadata = {};
  const json = (v: string | undefined): unknown => {
    if (v === undefined) return undefined;
    try {
      return JSON.parse(v);
    } catch {
      return undefined;
    }
  };
  const bundled = json(props.get('cnn_inspector')) as ModelMetadata | undefined;
  if (bundled && typeof bundled === 'object') Object.assign(meta, bundled);
  const labels = props.get('labels');
  if (labels !== undefined) {
    const parsed = json(labels);
    meta.labels = Array.isArray(parsed)
      ? parsed.map(String)
      : labels
          .split(/\r?\n|,/)
          .map((s) => s.trim())
          .filter(Boolean);
  }
  const pre = json(props.get('preprocessing'));
  if (pre && typeof pre === 'object') meta.preprocessing = pre as Preprocessing;
  meta.name ??=
    props.get('name') ??
    (model.graph!.name && model.graph!.name !== 'torch_jit' && model.graph!.name !== 'main_graph'
      ? model.graph!.name
      : path.basename(file, path.extname(file)));
  meta.description ??=
    props.get('description') ??
    (model.producerName ? `ONNX model from ${model.producerName}${model.producerVersion ? ` ${model.producerVersion}` : ''}` : undefined);
  return meta;
}

export const onnxLoader: ModelLoader = {
  format: 'onnx',
  extensions: ['onnx'],
  canLoad(file: string): boolean {
    return path.extname(file).toLowerCase() === '.onnx' && fs.statSync(file).isFile();
  },
  async load(file: string, settings: ModelMetadata, onProgress) {
    onProgress(0, 1, 'Reading the ONNX file');
    const model = decode(file);
    const opset = model.opsetImport.find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0;
    if (opset < ONNX_OPSETS.min || opset > ONNX_OPSETS.max) {
      throw new InspectorError(
        'ONNX_UNSUPPORTED_OPSET',
        `The model uses ONNX opset ${opset}; CNN Inspector reads opsets ${ONNX_OPSETS.min}–${ONNX_OPSETS.max}`,
      );
    }
    checkOperators(model);
    const metadata = metadataOf(model, file);
    const size = (metadata.preprocessing ?? settings.preprocessing)?.inputSize;
    let converted;
    try {
      converted = convertOnnxGraph(model.graph!, opset, path.dirname(file), size ? [size[0], size[1]] : undefined, onProgress);
    } catch (error) {
      if (error instanceof InspectorError) throw error;
      throw new InspectorError(
        'MODEL_WEIGHTS_INCONSISTENT',
        'The ONNX graph could not be built: its shapes or weights do not fit together',
        error instanceof Error ? error.message : String(error),
      );
    }
    return { model: converted.model, metadata, path: file, notices: converted.notices };
  },
};
