/**
 * worker_threads entry: one EngineCore per session (a browser tab, a classroom student, the desktop window),
 * driven by messages from EngineHost. The sessions of a thread share its backend and its open models
 * (model/model-shelf.ts); each has its own model choice, dataset and uploads.
 */
import { parentPort } from 'node:worker_threads';
import { toErrorInfo } from '../../shared/errors';
import { makeJobContext } from './base/job-context';
import { EngineCore } from './core';
import { WORKER_METHODS, type HostToWorker, type WorkerMethod, type WorkerToHost } from './worker-protocol';

if (!parentPort) throw new Error('worker.ts must run in a worker thread');
const port = parentPort;
const sessions = new Map<string, EngineCore>();

function sessionCore(session: string): EngineCore {
  let core = sessions.get(session);
  if (!core) sessions.set(session, (core = new EngineCore()));
  return core;
}

function send(message: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function call(id: number, session: string, method: string, args: unknown[]): Promise<unknown> {
  if (!(WORKER_METHODS as readonly string[]).includes(method)) throw new Error(`unknown worker method ${method}`);
  if (method === 'close') {
    sessions.get(session)?.close();
    sessions.delete(session);
    return undefined;
  }
  const core = sessionCore(session);
  // Progress of reading and converting a model file; the host passes worker 0's to the person.
  if (method === 'openModel')
    return core.openModel(args[0] as string | undefined, (done, total, text) => send({ type: 'progress', id, done, total, message: text }));
  const fn = core[method as WorkerMethod] as (...a: unknown[]) => unknown;
  return fn.apply(core, args);
}

port.on('message', async (message: HostToWorker) => {
  try {
    let value: unknown;
    if (message.type === 'init') {
      value = await new EngineCore().init({ preferred: message.preferred, allowNative: message.allowNative });
    } else if (message.type === 'call') {
      value = await call(message.id, message.session, message.method, message.args);
    } else {
      const flag = new Int32Array(message.cancelFlag);
      const ctx = makeJobContext(
        (done, total, text, metrics) => send({ type: 'progress', id: message.id, done, total, message: text, ...(metrics ? { metrics } : {}) }),
        () => Atomics.load(flag, 0) === 1,
        () => Atomics.load(flag, 0) === 2,
        () => Atomics.load(flag, 0) === 3,
      );
      value = await sessionCore(message.session).runJob(message.kind, message.params, ctx);
    }
    send({ type: 'result', id: message.id, ok: true, value });
  } catch (error) {
    send({ type: 'result', id: message.id, ok: false, error: toErrorInfo(error) });
  }
});
