/**
 * Forward passes over batches for the dataset-level jobs (atlas, evaluation, selectivity, probes…): the outputs
 * of chosen layers for [n, H, W, C] inputs, in the engine's NHWC layout.
 *
 * Two engines behind one interface: ONNX Runtime when it is installed and the model exports to ONNX (the model is
 * exported in memory with the requested layers as extra outputs and NHWC input/outputs, so results read exactly
 * like tfjs's), else the tfjs backend. Sessions are cached on the loaded model per set of layers. Interactive
 * single-image work (projections, training) stays on tfjs.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError, type ErrorInfo } from '../../../shared/errors';
import { builtScript } from '../paths';
import { readTidy } from '../base/tensors';
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

export function tfjsForward(loaded: LoadedModel, layers: string[]): BatchForward {
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
  helpers: Map<string, Promise<Worker[]>>;
}

/** Extra tfjs threads for data-parallel batches: one per further core (CNN_INSPECTOR_FORWARD_THREADS overrides). */
function helperThreadCount(): number {
  const set = Number(process.env.CNN_INSPECTOR_FORWARD_THREADS);
  if (Number.isInteger(set) && set >= 0) return set;
  return Math.max(0, (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length) - 1);
}

/**
 * Starts a helper thread (a built script that posts `{ ready }` once it has set itself up) and waits for it to be
 * ready; a helper that cannot start is terminated and its error passed on.
 */
export function startHelperThread(script: string, workerData?: unknown): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData });
    worker.unref(); // never keeps a CLI process alive
    worker.once('message', (m: { ready: boolean; error?: ErrorInfo }) =>
      m.ready
        ? resolve(worker)
        : (void worker.terminate(), reject(new InspectorError(m.error?.code ?? 'INTERNAL', m.error?.message ?? 'a helper thread could not start'))),
    );
    worker.once('error', reject);
  });
}

/**
 * tfjs on every core: each batch is cut into slices, one computed here and one in each helper thread (each its
 * own WebAssembly instance with the model), and the outputs joined in order. Used when ONNX Runtime is absent.
 */
async function parallelTfjsForward(loaded: LoadedModel, layers: string[], cache: SessionCache): Promise<BatchForward | undefined> {
  const threads = helperThreadCount();
  const script = builtScript('forward-worker.cjs');
  if (threads === 0 || !script) return undefined;
  const file = loaded.file;
  const key = layers.join('\u0001');
  let pending = cache.helpers.get(key);
  if (!pending) {
    pending = Promise.all(Array.from({ length: threads }, () => startHelperThread(script, { file, layers })));
    cache.helpers.set(key, pending);
    pending.catch(() => cache.helpers.delete(key));
  }
  const helpers = await pending;
  const local = tfjsForward(loaded, layers);
  const size = loaded.summary.inputShape.reduce((a, b) => a * b, 1);
  let nextId = 1;
  const ask = (worker: Worker, batch: Float32Array, n: number) =>
    new Promise<LayerBatch[]>((resolve, reject) => {
      const id = nextId++;
      const onMessage = (m: { id: number; outs?: LayerBatch[]; error?: ErrorInfo }) => {
        if (m.id !== id) return;
        worker.off('message', onMessage);
        if (m.outs) resolve(m.outs);
        else reject(new InspectorError(m.error?.code ?? 'INTERNAL', m.error?.message ?? 'a forward thread failed'));
      };
      worker.on('message', onMessage);
      worker.postMessage({ id, batch, n });
    });
  return {
    engine: `${local.engine} × ${threads + 1} threads`,
    async run(batch, n) {
      const parts = Math.min(n, threads + 1);
      if (parts <= 1) return local.run(batch, n);
      const per = Math.ceil(n / parts);
      const slices = Array.from({ length: parts }, (_, i) => [i * per, Math.min(n, (i + 1) * per)] as const).filter(([a, b]) => b > a);
      // Helpers first: the local slice runs synchronously and would otherwise delay their start.
      const remote = slices.slice(1).map(([a, b], i) => ask(helpers[i], batch.slice(a * size, b * size), b - a));
      const [a0, b0] = slices[0];
      const results = [await local.run(batch.subarray(a0 * size, b0 * size), b0 - a0), ...(await Promise.all(remote))];
      return layers.map((_, li) => {
        const total = results.reduce((s, r) => s + r[li].data.length, 0);
        const data = new Float32Array(total);
        let offset = 0;
        for (const r of results) {
          data.set(r[li].data, offset);
          offset += r[li].data.length;
        }
        return { data, shape: [n, ...results[0][li].shape.slice(1)] };
      });
    },
  };
}
const sessionCaches = new WeakMap<LoadedModel, SessionCache>();

function cacheOf(loaded: LoadedModel): SessionCache {
  let cache = sessionCaches.get(loaded);
  if (!cache) {
    cache = { sessions: new Map(), helpers: new Map() };
    sessionCaches.set(loaded, cache);
  }
  return cache;
}

/**
 * The ONNX Runtime session of a graph made from the model (`build` runs once per key), kept on the model until
 * releaseBatchSessions. Throws where ONNX Runtime is missing or the graph cannot be made.
 */
export async function cachedOrtSession(loaded: LoadedModel, key: string, build: () => Uint8Array): Promise<{ session: OrtSession; provider: string }> {
  const { module: ort, reason } = onnxRuntime();
  if (!ort) throw new Error(reason);
  const cache = cacheOf(loaded);
  let pending = cache.sessions.get(key);
  if (!pending) {
    pending = Promise.resolve().then(() => createOrtSession(ort, build()));
    cache.sessions.set(key, pending);
    pending.catch(() => cache.sessions.delete(key));
  }
  return pending;
}

/** Releases one cached session (a graph needed for one pass only, whose buffers would otherwise stay). */
export async function releaseOrtSession(loaded: LoadedModel, key: string): Promise<void> {
  const cache = sessionCaches.get(loaded);
  const pending = cache?.sessions.get(key);
  if (!pending) return;
  cache!.sessions.delete(key);
  await pending.then((s) => s.session.release()).catch(() => undefined);
}

async function ortForward(loaded: LoadedModel, layers: string[]): Promise<BatchForward> {
  const { module: ort, reason } = onnxRuntime();
  if (!ort) throw new Error(reason);
  const { session, provider } = await cachedOrtSession(loaded, layers.join('\u0001'), () => {
    const outputLayer = loaded.model.outputLayers[0].name;
    return exportOnnx(loaded.model, { inputLayout: 'nhwc', extraOutputs: layers.filter((l) => l !== outputLayer) });
  });
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
  for (const name of layers)
    if (!loaded.summary.layers.some((l) => l.name === name)) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
  if (engine !== 'tfjs') {
    try {
      const forward = await ortForward(loaded, layers);
      lastFallbackReason = undefined;
      return forward;
    } catch (error) {
      lastFallbackReason = error instanceof Error ? error.message : String(error);
      if (engine === 'onnxruntime') throw new InspectorError('JOB_FAILED', `ONNX Runtime cannot run this model: ${lastFallbackReason}`);
    }
    // No ONNX Runtime: tfjs on every core, if the helper threads start.
    try {
      const parallel = await parallelTfjsForward(loaded, layers, cacheOf(loaded));
      if (parallel) return parallel;
    } catch (error) {
      lastFallbackReason = `${lastFallbackReason}; helper threads: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return tfjsForward(loaded, layers);
}

/** Each channel's largest value over a layer's map for a batch, and where it is (what a top-k scan keeps). */
export interface LayerMaxima {
  /** [n, C] */
  values: Float32Array;
  /** [n, C]: the position y·W + x of the first maximum (0 for dense layers). */
  at: Int32Array;
  units: number;
  /** The map's width (1 for dense layers). */
  width: number;
  spatial: boolean;
}

export interface BatchMaxima {
  readonly engine: string;
  run(batch: Float32Array, n: number): Promise<LayerMaxima[]>;
}

/** The maxima of whole outputs computed here (the tfjs engines, which hand back whole maps). */
export function maximaOf({ data, shape }: LayerBatch, n: number): LayerMaxima {
  const units = shape[shape.length - 1];
  const positions = data.length / n / units;
  const values = new Float32Array(n * units);
  const at = new Int32Array(n * units);
  for (let i = 0; i < n; i++) {
    const base = i * positions * units;
    for (let u = 0; u < units; u++) {
      let best = -Infinity;
      let where = 0;
      for (let p = 0; p < positions; p++) {
        const v = data[base + p * units + u];
        if (v > best) {
          best = v;
          where = p;
        }
      }
      values[i * units + u] = best;
      at[i * units + u] = where;
    }
  }
  return { values, at, units, width: shape.length === 4 ? shape[2] : 1, spatial: shape.length === 4 };
}

/**
 * `layers`' maxima over batches: on ONNX Runtime reduced inside the graph (no whole maps copied out, transposed and
 * scanned here — most of a scan's time on a network of many layers), else from `batchForward`'s maps.
 */
export async function batchMaxima(loaded: LoadedModel, layers: string[], engine: BatchEngine = preferredEngine()): Promise<BatchMaxima> {
  const infos = layers.map((name) => {
    const info = loaded.summary.layers.find((l) => l.name === name);
    if (!info) throw new InspectorError('LAYER_NOT_FOUND', `The model has no layer "${name}"`);
    return info;
  });
  const ort = engine === 'tfjs' ? undefined : onnxRuntime().module;
  if (ort && infos.every((i) => i.type !== 'InputLayer')) {
    try {
      const { session, provider } = await cachedOrtSession(loaded, `maxima\u0001${layers.join('\u0001')}`, () =>
        exportOnnx(loaded.model, { inputLayout: 'nhwc', extraOutputs: layers, spatialMaxima: true }),
      );
      const [h, w, c] = loaded.summary.inputShape;
      return {
        engine: `onnxruntime (${provider})`,
        async run(batch, n) {
          const results = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', batch.subarray(0, n * h * w * c), [n, h, w, c]) });
          return infos.map((info) => {
            const spatial = info.outputShape.length === 3;
            const units = info.outputShape[info.outputShape.length - 1];
            const at = spatial ? Int32Array.from(results[`argmax:${info.name}`].data as unknown as BigInt64Array, Number) : new Int32Array(n * units);
            return { values: results[`max:${info.name}`].data, at, units, width: spatial ? info.outputShape[1] : 1, spatial };
          });
        },
      };
    } catch (error) {
      if (engine === 'onnxruntime')
        throw new InspectorError('JOB_FAILED', `ONNX Runtime cannot run this model: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const forward = await batchForward(loaded, layers, engine);
  return { engine: forward.engine, run: async (batch, n) => (await forward.run(batch, n)).map((o) => maximaOf(o, n)) };
}

/** Releases the ONNX Runtime sessions of a model being closed. */
export async function releaseBatchSessions(loaded: LoadedModel): Promise<void> {
  const cache = sessionCaches.get(loaded);
  if (!cache) return;
  sessionCaches.delete(loaded);
  await Promise.all([...cache.sessions.values()].map((p) => p.then((s) => s.session.release()).catch(() => undefined)));
  await Promise.all([...cache.helpers.values()].map((p) => p.then((ws) => Promise.all(ws.map((w) => w.terminate()))).catch(() => undefined)));
}
