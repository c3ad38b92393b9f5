/**
 * ONNX Runtime (the `onnxruntime-node` npm package, an optional dependency) for forward-only batch work: about
 * 10× the wasm backend on the same cores. Found at run time; where it is missing, broken, or switched off
 * (CNN_INSPECTOR_ONNXRUNTIME=0), callers fall back to tfjs and say so — never a crash.
 *
 * Execution providers: CPU (bundled in the package). CUDA where the person installed onnxruntime-node's GPU build
 * and set CNN_INSPECTOR_ORT_CUDA=1 (see README); if CUDA fails to start, the CPU provider is used.
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

/** The slice of onnxruntime-node's API the engine uses. */
export interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}
export interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  Tensor: {
    new (type: 'float32', data: Float32Array, dims: number[]): OrtTensor;
    new (type: 'int64', data: BigInt64Array, dims: number[]): OrtTensor;
    new (type: 'int32', data: Int32Array, dims: number[]): OrtTensor;
  };
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  env?: { versions?: { common?: string } };
}

let cached: { module?: OrtModule; reason?: string } | undefined;

/** onnxruntime-node, or why it cannot be used. */
export function onnxRuntime(): { module?: OrtModule; reason?: string } {
  if (cached) return cached;
  if (process.env.CNN_INSPECTOR_ONNXRUNTIME === '0') return (cached = { reason: 'switched off (CNN_INSPECTOR_ONNXRUNTIME=0)' });
  try {
    // A variable specifier keeps bundlers from resolving it at build time: it is optional.
    const specifier = 'onnxruntime-node';
    const load = createRequire(typeof __filename === 'string' ? __filename : path.join(process.cwd(), 'index.js'));
    cached = { module: load(specifier) as OrtModule };
  } catch (error) {
    cached = { reason: `onnxruntime-node is not installed or cannot load (${error instanceof Error ? error.message.split('\n')[0] : String(error)})` };
  }
  return cached;
}

/** Whether onnxruntime-node is installed and not switched off — without loading its native library. */
export function onnxRuntimeInstalled(): boolean {
  if (process.env.CNN_INSPECTOR_ONNXRUNTIME === '0') return false;
  try {
    createRequire(typeof __filename === 'string' ? __filename : path.join(process.cwd(), 'index.js')).resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
}

export function resetOnnxRuntimeForTests(): void {
  cached = undefined;
}

export async function createOrtSession(ort: OrtModule, model: Uint8Array): Promise<{ session: OrtSession; provider: string; threads: number }> {
  const threads = Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  // No spinning between runs: the engine keeps several sessions (batch forward, deconvnet), and a session's idle
  // threads spinning on the cores would slow the next session's run by half.
  const base = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } };
  if (process.env.CNN_INSPECTOR_ORT_CUDA === '1') {
    try {
      return { session: await ort.InferenceSession.create(model, { ...base, executionProviders: ['cuda', 'cpu'] }), provider: 'cuda', threads };
    } catch {
      // no CUDA build or no GPU: the CPU provider below
    }
  }
  return { session: await ort.InferenceSession.create(model, { ...base, executionProviders: ['cpu'] }), provider: `cpu, ${threads} threads`, threads };
}
