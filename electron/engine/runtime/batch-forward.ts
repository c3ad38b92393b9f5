/**
 * Forward passes over batches for the dataset-level jobs (atlas, evaluation, selectivity, probes…): the outputs
 * of chosen layers for [n, H, W, C] inputs, in the engine's NHWC layout.
 *
 * Two engines behind one interface: ONNX Runtime when it is installed and the model exports to ONNX (the model is
 * exported in memory with the requested layers as extra outputs and NHWC input/outputs, so results read exactly
 * like tfjs's), else the tfjs backend. Sessions are cached on the loaded model per set of layers. Interactive
 * single-image work (projections, training) stays on tfjs.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../shared/errors';
import { readTidy } from '../analyses/read';
import type { LoadedModel } from '../model/loaded-model';
import { exportOnnx } from '../model/onnx/export';
import { createOrtSession, onnxRuntime, type OrtSession } from './onnx-runtime';

export interface LayerBatch {
  data: Float32Array;
  /** With the batch dimension first. */
  shape: number[];
}

export interface BatchForward {
  /** 'onnxruntime (cpu, 2 threads)' or 'tfjs (wasm)': shown in progress messages and the bench. */
  readonly engine: string;
  run(batch: Float32Array, n: number): Promise<LayerBatch[]>;
}

export type BatchEngine = 'auto' | 'tfjs' | 'onnxruntime';

/** Why ONNX Runtime was not used for the last batch job, for the status line and the bench. */
export let lastFallbackReason: string | undefined;

function preferredEngine(): BatchEngine {
  const v = process.env.CNN_INSPECTOR_BATCH_ENGINE;
  return v === 'tfjs' || v === 'onnxruntime' ? v : 'auto';
}

function tfjsForward(loaded: LoadedModel, layers: string[]): BatchForward {
  const outputs = layers.map((name) => {
    const info = loaded.summary.layers.find((l) => l.name === name);
    if (!info) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
    return info.type === 'InputLayer' ? loaded.model.inputs[0] : loaded.layerModel(name).outputs[0];
  });
  const probe = tfl.model({ inputs: loaded.model.inputs, outputs });
  const [h, w, c] = loaded.summary.inputShape;
  return {
    engine: `tfjs (${tf.getBackend()})`,
    async run(batch, n) {
      return readTidy(() => {
        const o = probe.predict(tf.tensor4d(batch, [n, h, w, c]));
        return Array.isArray(o) ? o : [o];
      }).map((r) => ({ data: r.data as Float32Array, shape: r.shape }));
    },
  };
}

interface SessionCache {
  sessions: Map<string, Promise<{ session: OrtSession; provider: string }>>;
}
const sessionCaches = new WeakMap<LoadedModel, SessionCache>();

async function ortForward(loaded: LoadedModel, layers: string[]): Promise<BatchForward> {
  const { module: ort, reason } = onnxRuntime();
  if (!ort) throw new Error(reason);
  let cache = sessionCaches.get(loaded);
  if (!cache) {
    cache = { sessions: new Map() };
    sessionCaches.set(loaded, cache);
  }
  const key = layers.join('\u0001');
  let pending = cache.sessions.get(key);
  if (!pending) {
    const outputLayer = loaded.model.outputLayers[0].name;
    const extra = layers.filter((l) => l !== outputLayer);
    const bytes = exportOnnx(loaded.model, { inputLayout: 'nhwc', extraOutputs: extra });
    pending = createOrtSession(ort, bytes);
    cache.sessions.set(key, pending);
    pending.catch(() => cache!.sessions.delete(key));
  }
  const { session, provider } = await pending;
  const [h, w, c] = loaded.summary.inputShape;
  const outputLayer = loaded.model.outputLayers[0].name;
  const names = layers.map((l) => (l === outputLayer ? 'output' : `layer:${l}`));
  return {
    engine: `onnxruntime (${provider})`,
    async run(batch, n) {
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', batch.subarray(0, n * h * w * c), [n, h, w, c]) };
      const results = await session.run(feeds);
      return names.map((name) => ({ data: results[name].data, shape: [...results[name].dims] }));
    },
  };
}

/**
 * The fastest available way to compute `layers` over batches. `engine: 'auto'` (default; the environment variable
 * CNN_INSPECTOR_BATCH_ENGINE=tfjs|onnxruntime overrides) uses ONNX Runtime when it loads and the model exports,
 * else tfjs.
 */
export async function batchForward(loaded: LoadedModel, layers: string[], engine: BatchEngine = preferredEngine()): Promise<BatchForward> {
  for (const name of layers) if (!loaded.summary.layers.some((l) => l.name === name)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
  if (engine !== 'tfjs') {
    try {
      const forward = await ortForward(loaded, layers);
      lastFallbackReason = undefined;
      return forward;
    } catch (error) {
      lastFallbackReason = error instanceof Error ? error.message : String(error);
      if (engine === 'onnxruntime') throw new InspectorError('JOB_FAILED', `ONNX Runtime cannot run this model: ${lastFallbackReason}`);
    }
  }
  return tfjsForward(loaded, layers);
}

/** Releases the ONNX Runtime sessions of a model being closed. */
export async function releaseBatchSessions(loaded: LoadedModel): Promise<void> {
  const cache = sessionCaches.get(loaded);
  if (!cache) return;
  sessionCaches.delete(loaded);
  await Promise.all([...cache.sessions.values()].map((p) => p.then((s) => s.session.release()).catch(() => undefined)));
}
