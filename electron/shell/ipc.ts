/**
 * Binds the contract to Electron IPC: one invoke channel for commands, one channel for events. Every call is
 * checked — the channel, the sender frame (only our own renderer page, top frame), and the payload
 * (validate.ts) — before it reaches the engine. Errors go back as {code, message} values, not exceptions,
 * so the code survives Electron's error serialisation.
 */
import { ipcMain, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { EVENTS, subscribeTo, type EventName, type EventPayloads, type Inspector } from '../../shared/contract';
import { toErrorInfo } from '../../shared/errors';
import { dispatchCommand } from '../engine/dispatch';

export const CALL_CHANNEL = 'inspector:call';
export const EVENT_CHANNEL = 'inspector:event';

export function bindIpc(service: Inspector, isTrustedUrl: (url: string) => boolean): (contents: WebContents) => () => void {
  ipcMain.handle(CALL_CHANNEL, async (event: IpcMainInvokeEvent, command: unknown, params: unknown) => {
    const frame = event.senderFrame;
    if (!frame || frame.parent !== null || !isTrustedUrl(frame.url)) {
      return { ok: false, error: { code: 'UNAUTHORIZED', message: 'Calls are accepted only from the CNN Inspector window' } };
    }
    try {
      return { ok: true, value: await dispatchCommand(service, command, params) };
    } catch (error) {
      return { ok: false, error: toErrorInfo(error) };
    }
  });
  // Returns a binder that forwards events to one window; call its result to unbind.
  return (contents: WebContents) => {
    const forward =
      <E extends EventName>(name: E) =>
      (payload: EventPayloads[E]) => {
        if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, name, payload);
      };
    const disposers = EVENTS.map((name) => subscribeTo(service, name, forward(name)));
    return () => disposers.forEach((d) => d());
  };
}
