/**
 * A helper thread for linear probes (see runOnThreads in probe.ts): its own WebAssembly backend, given one probe
 * task at a time; it reads the layer's kept maps itself and keeps the last layer's features for the next task
 * (the other ablations and seeds of a layer usually follow).
 */
import { parentPort } from 'node:worker_threads';
import { toErrorInfo } from '../../../shared/errors';
import { initBackend } from '../backend';
import { NpyRowReader } from '../files/npy-stream';
import { layerFeatures, probeTaskAccuracy, type ProbeFeatures, type ProbeTask } from './probe';

const port = parentPort!;
let features: { file: string; source: ProbeFeatures } | undefined;

void (async () => {
  try {
    await initBackend({ preferred: 'wasm', allowNative: false });
    port.on('message', async (task: ProbeTask) => {
      try {
        if (features?.file !== task.file) {
          features = undefined; // the previous layer's features can go before the next are read
          features = { file: task.file, source: layerFeatures(new NpyRowReader(task.file)) };
        }
        const accuracy = await probeTaskAccuracy(task, features.source, (pass, passes) => port.postMessage({ pass, passes }));
        port.postMessage({ accuracy });
      } catch (error) {
        port.postMessage({ error: toErrorInfo(error) });
      }
    });
    port.postMessage({ ready: true });
  } catch (error) {
    port.postMessage({ ready: false, error: toErrorInfo(error) });
  }
})();
