/**
 * A client-side Inspector over any message channel (WebSocket in browser mode, tests' loopback). Turns command
 * calls into WireMessages and results back into values or InspectorErrors; fans events out to subscribers.
 */
import type { CommandName, Disposer, EventName, EventPayloads, Inspector, InspectorApi } from './contract';
import { COMMANDS, eventSubscriptions } from './contract';
import { fromErrorInfo } from './errors';
import type { WireMessage } from './wire';

export interface MessageChannelLike {
  send(message: WireMessage): void;
  /** Called by the channel for each incoming message. */
  onMessage(handler: (message: WireMessage) => void): void;
  /** Called by the channel when it closes; pending calls are rejected. */
  onClose(handler: (reason: string) => void): void;
}

export function createRemoteInspector(channel: MessageChannelLike): Inspector {
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();

  channel.onMessage((message) => {
    if (message.kind === 'result') {
      const p = pending.get(message.id);
      if (!p) return;
      pending.delete(message.id);
      if (message.ok) p.resolve(message.value);
      else p.reject(fromErrorInfo(message.error));
    } else if (message.kind === 'event') {
      for (const l of listeners.get(message.name) ?? []) l(message.payload);
    }
  });
  channel.onClose((reason) => {
    for (const p of pending.values()) p.reject(fromErrorInfo({ code: 'INTERNAL', message: `Connection to the engine closed: ${reason}` }));
    pending.clear();
  });

  const call = (command: CommandName, params: unknown) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      channel.send({ kind: 'call', id, command, params });
    });

  const subscribe = <E extends EventName>(name: E, handler: (e: EventPayloads[E]) => void): Disposer => {
    let set = listeners.get(name);
    if (!set) listeners.set(name, (set = new Set()));
    const h = handler as (payload: unknown) => void;
    set.add(h);
    return () => set!.delete(h);
  };

  const api = Object.fromEntries(COMMANDS.map((c) => [c, (params: unknown) => call(c, params)])) as unknown as InspectorApi;
  return { ...api, ...eventSubscriptions(subscribe) };
}
