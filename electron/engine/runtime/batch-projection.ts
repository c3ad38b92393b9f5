/**
 * Deconvnet projections of many (image, unit, position) seeds at once on ONNX Runtime: the layer's deconvnet graph
 * (`model/onnx/deconvnet.ts`) run over batches, about an order of magnitude faster than the per-unit tfjs path on
 * the same cores. Where ONNX Runtime is missing or the graph has a layer its rules do not cover, `batchDeconvnet`
 * answers why, and callers use `analyses/projection.ts` (which the tests hold this to).
 */
import type { LoadedModel } from '../model/loaded-model';
import { exportDeconvnetFromSwitchesOnnx, exportDeconvnetOnnx, exportSwitchesOnnx, poolsBelow } from '../model/onnx/deconvnet';
import { exportOnnx } from '../model/onnx/export';
import { PROJECTION_METHODS, type ProjectionMethod } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { cachedOrtSession, releaseOrtSession } from './batch-forward';
import { onnxRuntime, type OrtSession, type OrtTensor } from './onnx-runtime';

/** One projection to compute: which input of the batch, which unit, where in the layer's map (none for dense). */
export interface ProjectionSeed {
  unit: number;
  /** [y, x] in the layer's output map; [] for a dense layer. */
  position: number[];
  /** The unit's activation there: the seed's value, as the per-unit path takes it. */
  value: number;
}

export interface BatchDeconvnet {
  readonly engine: string;
  /** Projections for inputs [n·H·W·C] (NHWC) and one seed per input: n·H·W·C values, NHWC. */
  project(inputs: Float32Array, seeds: ProjectionSeed[]): Promise<Float32Array>;
  /** Frees the graph's session and its buffers (hundreds of MiB on a big network) once the layer is done. */
  release(): Promise<void>;
}

/** A seed's flat index in one sample's NCHW output (channel-major), after checking it lies inside the layer. */
function seedIndex(seed: ProjectionSeed, layer: string, [h, w, c]: number[]): bigint {
  const spatial = seed.position.length === 2;
  const [y, x] = spatial ? seed.position : [0, 0];
  const inside = (v: number, n: number) => Number.isInteger(v) && v >= 0 && v < n;
  if (!inside(seed.unit, c) || !inside(y, h) || !inside(x, w) || (!spatial && seed.position.length !== 0)) {
    throw new InspectorError('BAD_ARGUMENT', `No unit ${seed.unit} at (${seed.position.join(', ')}) in the ${h}×${w}×${c} output of ${layer}`);
  }
  return BigInt(seed.unit * h * w + y * w + x);
}

type Ort = NonNullable<ReturnType<typeof onnxRuntime>['module']>;

/** The seeds as the deconvnet graphs take them: `seed_at` (checked flat NCHW indices) and `seed_value`. */
function seedFeeds(ort: Ort, seeds: ProjectionSeed[], loaded: LoadedModel, layer: string): Record<string, OrtTensor> {
  const out = loaded.summary.layers.find((l) => l.name === layer)!.outputShape;
  const shape = out.length === 3 ? out : [1, 1, out[0]];
  return {
    seed_at: new ort.Tensor(
      'int64',
      BigInt64Array.from(seeds, (s) => seedIndex(s, layer, shape)),
      [seeds.length, 1],
    ),
    seed_value: new ort.Tensor(
      'float32',
      Float32Array.from(seeds, (s) => s.value),
      [seeds.length, 1],
    ),
  };
}

/** The session key of a layer's projection graph for one user and method. */
const graphKey = (user: string, layer: string, method: ProjectionMethod) => `${method === 'deconv' ? 'deconvnet' : method}\u0001${user}\u0001${layer}`;

/**
 * ONNX Runtime's deconvnet of `layer` (or, with `method`, its plain or guided backprop: seeds of value 1, as the
 * per-unit path takes them), or the reason it cannot be used. Each `user` (a batch job, the interactive view) has
 * its own session, so one releasing it never pulls it from under the other.
 */
export async function batchDeconvnet(
  loaded: LoadedModel,
  layer: string,
  user = 'batch',
  method: ProjectionMethod = 'deconv',
): Promise<{ deconvnet?: BatchDeconvnet; reason?: string }> {
  const { module: ort, reason } = onnxRuntime();
  if (!ort) return { reason };
  const key = graphKey(user, layer, method);
  let opened: Awaited<ReturnType<typeof cachedOrtSession>>;
  try {
    opened = await cachedOrtSession(loaded, key, () => exportDeconvnetOnnx(loaded.model, layer, method));
  } catch (error) {
    return { reason: error instanceof Error ? error.message : String(error) };
  }
  const { session, provider } = opened;
  const size = loaded.summary.inputShape.reduce((a, b) => a * b, 1);
  return {
    deconvnet: {
      engine: `onnxruntime (${provider})`,
      async project(inputs, seeds) {
        const n = seeds.length;
        if (inputs.length < n * size) throw new InspectorError('BAD_ARGUMENT', `${n} seeds need ${n} inputs`);
        const results = await session.run({
          [session.inputNames[0]]: new ort.Tensor('float32', inputs.subarray(0, n * size), [n, ...loaded.summary.inputShape]),
          ...seedFeeds(ort, seeds, loaded, layer),
        });
        return results.projection.data;
      },
      release: () => releaseOrtSession(loaded, key),
    },
  };
}

/**
 * The deconvnet in two halves (model/onnx/deconvnet.ts): each image's max-pooling switches, then the way down from
 * seeds given their images' switches. An image's switches do not depend on the unit, so the atlas computes them
 * once per image (SwitchCache) instead of once per projection — the forward pass to the switches was about a fifth
 * of a ResNet projection's time.
 */
export interface SwitchedDeconvnet {
  /** The pools below the layer and the switches per image of each (elements). */
  readonly pools: ReadonlyArray<{ name: string; size: number }>;
  /** The switches of `n` images [n·H·W·C] (NHWC): per image, per pool. */
  switchesOf(inputs: Float32Array, n: number): Promise<Int32Array[][]>;
  /** Projections of seeds whose images' switches are `switches` (per seed, per pool): n·H·W·C values, NHWC. */
  project(switches: Int32Array[][], seeds: ProjectionSeed[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** The two halves, or why not; `refused`: a layer they have no rule for (the whole graph would refuse it too). */
export interface SwitchedOpening {
  deconvnet?: SwitchedDeconvnet;
  reason?: string;
  refused?: boolean;
}

export async function switchedDeconvnet(loaded: LoadedModel, layer: string): Promise<SwitchedOpening> {
  const { module: ort, reason } = onnxRuntime();
  if (!ort) return { reason };
  const keys = [`switches\u0001${layer}`, `from-switches\u0001${layer}`];
  let halves: Array<Awaited<ReturnType<typeof cachedOrtSession>>>;
  try {
    halves = await Promise.all([
      cachedOrtSession(loaded, keys[0], () => exportSwitchesOnnx(loaded.model, layer)),
      cachedOrtSession(loaded, keys[1], () => exportDeconvnetFromSwitchesOnnx(loaded.model, layer)),
    ]);
  } catch (error) {
    await Promise.all(keys.map((k) => releaseOrtSession(loaded, k)));
    return {
      reason: error instanceof Error ? error.message : String(error),
      refused: error instanceof InspectorError && error.code === 'MODEL_UNSUPPORTED_OP',
    };
  }
  const [first, second] = halves.map((h) => h.session);
  const pools = poolsBelow(loaded.model, layer).map((p) => ({ name: p.name, dims: p.shape, size: p.shape.reduce((a, b) => a * b, 1) }));
  const inputShape = loaded.summary.inputShape;
  const size = inputShape.reduce((a, b) => a * b, 1);
  return {
    deconvnet: {
      pools,
      async switchesOf(inputs, n) {
        if (pools.length === 0) return Array.from({ length: n }, () => []);
        const out = await first.run({ [first.inputNames[0]]: new ort.Tensor('float32', inputs.subarray(0, n * size), [n, ...inputShape]) });
        return Array.from({ length: n }, (_, i) =>
          pools.map((p) => (out[`switches:${p.name}`].data as unknown as Int32Array).slice(i * p.size, (i + 1) * p.size)),
        );
      },
      async project(switches, seeds) {
        const n = seeds.length;
        const feeds = seedFeeds(ort, seeds, loaded, layer);
        pools.forEach((p, j) => {
          const joined = new Int32Array(n * p.size);
          switches.forEach((perPool, i) => joined.set(perPool[j], i * p.size));
          feeds[`switches:${p.name}`] = new ort.Tensor('int32', joined, [n, ...p.dims]);
        });
        return (await second.run(feeds)).projection.data;
      },
      release: async () => {
        await Promise.all(keys.map((k) => releaseOrtSession(loaded, k)));
      },
    },
  };
}

/** Images' switches kept for the rest of an atlas, up to a memory budget (the oldest go first). */
export class SwitchCache {
  private entries = new Map<string, Int32Array>();
  private bytes = 0;
  constructor(private readonly budgetBytes = 512 * 1048576) {}

  get(pool: string, image: number): Int32Array | undefined {
    return this.entries.get(`${pool}\u0001${image}`);
  }

  set(pool: string, image: number, switches: Int32Array): void {
    const key = `${pool}\u0001${image}`;
    if (this.entries.has(key)) return;
    this.entries.set(key, switches);
    this.bytes += switches.byteLength;
    for (const [old, value] of this.entries) {
      if (this.bytes <= this.budgetBytes) break;
      this.entries.delete(old);
      this.bytes -= value.byteLength;
    }
  }
}

/**
 * The interactive views' recent layers per model, latest last: their sessions are kept for the next click (several,
 * for a classroom's students on different layers) with a graph per method asked for, older ones freed.
 */
const recentLayers = new WeakMap<LoadedModel, string[]>();
const KEEP_LAYERS = 3;

/**
 * One projection for the interactive views on ONNX Runtime: the layer's output from a forward session, the seed
 * chosen from it by `choose`, then the layer's deconvnet (or backprop) graph. Undefined where ONNX Runtime or the
 * graph cannot be used (the caller then runs the per-unit tfjs path).
 */
export async function projectOnOnnxRuntime<T>(
  loaded: LoadedModel,
  input: Float32Array,
  layer: string,
  choose: (values: Float32Array, shape: number[]) => T & ProjectionSeed,
  method: ProjectionMethod = 'deconv',
): Promise<{ seed: T & ProjectionSeed; data: Float32Array } | undefined> {
  const { module: ort } = onnxRuntime();
  if (!ort) return undefined;
  const recent = [...(recentLayers.get(loaded) ?? []).filter((l) => l !== layer), layer];
  recentLayers.set(loaded, recent.slice(-KEEP_LAYERS));
  for (const old of recent.slice(0, -KEEP_LAYERS)) {
    await releaseOrtSession(loaded, `interactive\u0001${old}`);
    for (const m of PROJECTION_METHODS) await releaseOrtSession(loaded, graphKey('interactive', old, m));
  }
  const { deconvnet } = await batchDeconvnet(loaded, layer, 'interactive', method);
  if (!deconvnet) return undefined;
  let session: OrtSession;
  try {
    ({ session } = await cachedOrtSession(loaded, `interactive\u0001${layer}`, () =>
      exportOnnx(loaded.model, { inputLayout: 'nhwc', extraOutputs: [layer], extraOutputsOnly: true }),
    ));
  } catch {
    return undefined; // the model does not export whole: the tfjs path
  }
  const results = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, ...loaded.summary.inputShape]) });
  const activation = results[`layer:${layer}`];
  const seed = choose(activation.data, [...activation.dims].slice(1));
  const from = method === 'deconv' ? seed : { ...seed, value: 1 };
  return { seed, data: Float32Array.from(await deconvnet.project(input, [from])) };
}
