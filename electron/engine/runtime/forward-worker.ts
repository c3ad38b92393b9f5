/**
 * A helper thread for data-parallel forward passes on tfjs (used when ONNX Runtime is absent): it opens the same
 * model file on its own WebAssembly backend and computes the requested layers for the slices of each batch it is
 * sent. See batch-forward.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorInfo } from '../../../shared/errors';
import { initBackend } from '../backend';
import { openModel } from '../model/loaded-model';
import { tfjsForward } from './batch-forward';

interface Start {
  file: string;
  layers: string[];
}

const port = parentPort!;
const { file, layers } = workerData as Start;

void (async () => {
  try {
    await initBackend({ preferred: 'wasm', allowNative: false });
    const forward = tfjsForward(await openModel(file, file), layers);
    port.on('message', async (m: { id: number; batch: Float32Array; n: number }) => {
      try {
        const outs = await forward.run(m.batch, m.n);
        port.postMessage(
          { id: m.id, outs },
          outs.map((o) => o.data.buffer as ArrayBuffer),
        );
      } catch (error) {
        port.postMessage({ id: m.id, error: toErrorInfo(error) });
      }
    });
    port.postMessage({ ready: true });
  } catch (error) {
    port.postMessage({ ready: false, error: toErrorInfo(error) });
  }
})();
