/**
 * Preload (sandboxed, context-isolated): exposes exactly one object, `window.inspector`, implementing the
 * contract. Never exposes ipcRenderer itself. Channel names are fixed here and checked again in ipc.ts.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { COMMANDS, eventSubscriptions, type EventName, type Inspector } from '../../shared/contract';
import { fromErrorInfo, type ErrorInfo } from '../../shared/errors';

const CALL_CHANNEL = 'inspector:call';
const EVENT_CHANNEL = 'inspector:event';

type CallReply = { ok: true; value: unknown } | { ok: false; error: ErrorInfo };

function subscribe(name: EventName, handler: (payload: never) => void): () => void {
  const listener = (_event: IpcRendererEvent, eventName: EventName, payload: unknown) => {
    if (eventName === name) (handler as (p: unknown) => void)(payload);
  };
  ipcRenderer.on(EVENT_CHANNEL, listener);
  return () => {
    ipcRenderer.removeListener(EVENT_CHANNEL, listener);
  };
}

const commands = Object.fromEntries(
  COMMANDS.map((command) => [
    command,
    async (params: unknown) => {
      const reply = (await ipcRenderer.invoke(CALL_CHANNEL, command, params)) as CallReply;
      if (reply.ok) return reply.value;
      throw fromErrorInfo(reply.error);
    },
  ]),
);

const inspector = { ...commands, ...eventSubscriptions(subscribe) } as unknown as Inspector;

contextBridge.exposeInMainWorld('inspector', inspector);
