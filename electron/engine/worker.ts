/** worker_threads entry: one EngineCore per worker, driven by messages from EngineHost. */
import { parentPort } from 'node:worker_threads';
import { toErrorInfo } from '../../shared/errors';
import { makeJobContext } from './base/job-context';
import { EngineCore } from './core';
import { WORKER_METHODS, type HostToWorker, type WorkerMethod, type WorkerToHost } from './worker-protocol';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const core = new EngineCore();

function send(message: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function call(method: string, args: unknown[]): Promise<unknown> {
  if (!(WORKER_METHODS as readonly string[]).includes(method)) throw new Error(`unknown worker method ${method}`);
  // Progress of reading and converting a model file; the host passes worker 0's to the person.
  if (method === 'openModel')
    return core.openModel(args[0] as string | undefined, (done, total, text) => send({ type: 'progress', jobId: 'open-model', done, total, message: text }));
  const fn = core[method as WorkerMethod] as (...a: unknown[]) => unknown;
  return fn.apply(core, args);
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
