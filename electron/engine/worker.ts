/** worker_threads entry: one EngineCore per worker, driven by messages from EngineHost. */
import { parentPort } from 'node:worker_threads';
import type { ExportFormat } from '../../shared/contract';
import { toErrorInfo } from '../../shared/errors';
import { makeJobContext } from './base/job-context';
import { EngineCore } from './core';
import type { HostToWorker, WorkerToHost } from './worker-protocol';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const core = new EngineCore();

function send(message: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function call(method: string, args: unknown[]): Promise<unknown> {
  switch (method) {
    case 'openModel':
      // Progress of reading and converting the file; the host passes worker 0's to the person.
      return core.openModel(args[0] as string | undefined, (done, total, text) => send({ type: 'progress', jobId: 'open-model', done, total, message: text }));
    case 'openDataset':
      return core.openDataset(args[0] as string | undefined);
    case 'listImages':
      return core.listImages(args[0] as Parameters<EngineCore['listImages']>[0]);
    case 'getImage':
      return core.getImage(args[0] as Parameters<EngineCore['getImage']>[0]);
    case 'addUpload':
      return core.addUpload(args[0] as string, args[1] as string, args[2] as Uint8Array);
    case 'removeUploads':
      return core.removeUploads(args[0] as string[]);
    case 'predict':
      return core.predict(args[0] as Parameters<EngineCore['predict']>[0]);
    case 'activations':
      return core.activations(args[0] as Parameters<EngineCore['activations']>[0]);
    case 'project':
      return core.project(args[0] as Parameters<EngineCore['project']>[0]);
    case 'getFilters':
      return core.getFilters((args[0] as { layer?: string }).layer);
    case 'getAtlas':
      return core.getAtlas();
    case 'getAtlasLayer':
      return core.getAtlasLayer((args[0] as { layer: string }).layer);
    case 'getAtlasSheet':
      return core.getAtlasSheet(args[0] as { layer: string; unit: number });
    case 'exportModel':
      return core.exportModel((args[0] as { format: ExportFormat }).format, (args[0] as { path?: string }).path);
    case 'numTensors':
      return core.numTensors();
    default:
      throw new Error(`unknown worker method ${method}`);
  }
}

port.on('message', async (message: HostToWorker) => {
  try {
    let value: unknown;
    if (message.type === 'init') {
      value = await core.init({ preferred: message.preferred, allowNative: message.allowNative });
    } else if (message.type === 'call') {
      value = await call(message.method, message.args);
    } else {
      const flag = new Int32Array(message.cancelFlag);
      const ctx = makeJobContext(
        (done, total, text, metrics) => send({ type: 'progress', jobId: message.jobId, done, total, message: text, ...(metrics ? { metrics } : {}) }),
        () => Atomics.load(flag, 0) === 1,
        () => Atomics.load(flag, 0) === 2,
        () => Atomics.load(flag, 0) === 3,
      );
      value = await core.runJob(message.kind, message.params, ctx);
    }
    send({ type: 'result', id: message.id, ok: true, value });
  } catch (error) {
    send({ type: 'result', id: message.id, ok: false, error: toErrorInfo(error) });
  }
});
