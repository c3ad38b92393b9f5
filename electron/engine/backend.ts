/**
 * Backend registry, by priority. The first one that loads and initialises wins:
 *   tensorflow (tfjs-node-gpu, then tfjs-node: optional, native)  >  webgpu (Dawn `webgpu` package, optional)
 *   >  wasm (default; always installs)  >  cpu (pure JS, last resort).
 * Optional packages are looked up at run time with require(), so their absence is an ordinary fall-through.
 * A native backend must be loaded in ONE thread only (tfjs issues #2079 / #8388): pass allowNative=false in
 * every other worker.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
// tfjs-layers' bundle registers every op's gradient (tfjs-core alone registers none).
import '@tensorflow/tfjs-layers';
import { registerProjectKernels } from './kernels/index';

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendChoice {
  name: BackendName;
  /** Human-readable detail, e.g. "wasm (SIMD, 1 thread)". */
  detail: string;
  /** Why higher-priority backends were skipped, one line each. */
  skipped: string[];
}

interface BackendCandidate {
  name: BackendName;
  tryInit(): Promise<string>;
}

// In the CommonJS bundles `require` exists; under an ESM test runner it does not, so resolve from the project root.
const dynamicRequire: NodeRequire = typeof require === 'function' ? require : createRequire(path.join(process.cwd(), 'package.json'));

function tryRequire(id: string): unknown {
  return dynamicRequire(id);
}

/**
 * Dawn's Node bindings (`webgpu` package; CNN_INSPECTOR_DAWN may name its dawn.node directly). Recent versions of
 * the package are ES modules, which require() refuses: import() them (the specifier in a variable keeps bundlers
 * from inlining it).
 */
async function loadDawn(): Promise<{ create?: (opts: string[]) => unknown; globals?: Record<string, unknown> }> {
  if (process.env.CNN_INSPECTOR_DAWN) return tryRequire(process.env.CNN_INSPECTOR_DAWN) as { create?: (opts: string[]) => unknown };
  try {
    return tryRequire('webgpu') as { create?: (opts: string[]) => unknown };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw error;
    const specifier = 'webgpu';
    return (await import(specifier)) as { create?: (opts: string[]) => unknown };
  }
}

function candidates(allowNative: boolean): BackendCandidate[] {
  return [
    {
      name: 'tensorflow',
      async tryInit() {
        if (!allowNative) throw new Error('native backend reserved for one worker');
        let pkg = '';
        for (const id of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
          try {
            tryRequire(id);
            pkg = id;
            break;
          } catch {
            /* try next */
          }
        }
        if (!pkg) throw new Error('@tensorflow/tfjs-node(-gpu) not installed');
        if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} failed to initialise`);
        return `tensorflow (${pkg})`;
      },
    },
    {
      name: 'webgpu',
      async tryInit() {
        if (!allowNative) throw new Error('GPU backend reserved for one worker');
        const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
        // navigator.gpu first: tfjs-backend-webgpu registers itself only if it sees one when it is loaded.
        if (!g.navigator?.gpu) {
          let dawn: { create?: (opts: string[]) => unknown; globals?: Record<string, unknown> };
          try {
            dawn = await loadDawn();
          } catch (error) {
            throw new Error(`webgpu (Dawn) not installed or not loadable (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`);
          }
          if (dawn.globals) Object.assign(globalThis, dawn.globals);
          if (!g.navigator) (globalThis as unknown as { navigator: object }).navigator = {};
          if (dawn.create) (g.navigator as { gpu?: unknown }).gpu = dawn.create([]);
        }
        if (!tf.findBackendFactory('webgpu')) {
          try {
            tryRequire('@tensorflow/tfjs-backend-webgpu');
          } catch {
            throw new Error('@tensorflow/tfjs-backend-webgpu not installed');
          }
        }
        if (!tf.findBackendFactory('webgpu')) throw new Error('tfjs-backend-webgpu did not register a backend (no WebGPU in this process)');
        if (!(await tf.setBackend('webgpu'))) throw new Error('no WebGPU adapter');
        // The engine reads small results synchronously (activations, projections); tfjs-webgpu can do that only
        // with OffscreenCanvas, which Node lacks (seen on an H100 through Dawn). Fall through rather than fail later.
        try {
          // A product big enough to run on the GPU (tfjs-webgpu hands tiny ops to the CPU, which reads back fine).
          const probe = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])));
          try {
            if (probe.dataSync()[0] !== 64) throw new Error('a 64 × 64 product read back wrong');
          } finally {
            probe.dispose();
          }
        } catch (error) {
          throw new Error(
            `webgpu works but cannot read results synchronously here (${error instanceof Error ? error.message : String(error)}); the engine needs that`,
          );
        }
        return 'webgpu (Dawn)';
      },
    },
    {
      name: 'wasm',
      async tryInit() {
        if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
        const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
        return `wasm (${simd ? 'SIMD' : 'no SIMD'}, 1 thread)`;
      },
    },
    {
      name: 'cpu',
      async tryInit() {
        if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend failed');
        return 'cpu (pure JavaScript)';
      },
    },
  ];
}

let current: BackendChoice | undefined;

/**
 * Picks and initialises a backend. `preferred` forces one (tests use 'cpu' as the independent reference);
 * otherwise CNN_INSPECTOR_BACKEND, otherwise priority order.
 */
export async function initBackend(options: { preferred?: BackendName; allowNative?: boolean } = {}): Promise<BackendChoice> {
  const preferred = options.preferred ?? (process.env.CNN_INSPECTOR_BACKEND as BackendName | undefined);
  if (current && (!preferred || preferred === current.name)) return current;
  tf.env().set('IS_TEST', false);
  const skipped: string[] = [];
  const list = candidates(options.allowNative ?? true).filter((c) => !preferred || c.name === preferred);
  for (const candidate of list) {
    try {
      const detail = await candidate.tryInit();
      registerProjectKernels();
      current = { name: candidate.name, detail, skipped };
      return current;
    } catch (error) {
      skipped.push(`${candidate.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (preferred) throw new Error(`backend ${preferred} unavailable: ${skipped.join('; ')}`);
  throw new Error(`no tfjs backend could start: ${skipped.join('; ')}`);
}

export function currentBackend(): BackendChoice | undefined {
  return current;
}
