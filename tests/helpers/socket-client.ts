/** A client of the browser-mode server over its real WebSocket, as a test drives it (the app's own wire format). */
import WebSocket from 'ws';
import { createRemoteInspector } from '../../shared/client';
import type { Inspector } from '../../shared/contract';
import { decodeMessage, encodeMessage } from '../../shared/wire';

export interface SocketClient {
  api: Inspector;
  socket: WebSocket;
  /** Settles with the close code once the socket has closed. */
  closed: Promise<number>;
}

/** Connects to `url` (ws://…/ws?…) with `headers`; rejects with the status when the server refuses the upgrade. */
export function connectSocket(url: string, headers: Record<string, string> = {}): Promise<SocketClient> {
  const socket = new WebSocket(url, { headers, maxPayload: 2 ** 30 });
  const handlers: Array<(m: ReturnType<typeof decodeMessage>) => void> = [];
  const closeHandlers: Array<(r: string) => void> = [];
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  socket.on('message', (data) => {
    const buf = data as Buffer;
    const m = decodeMessage(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    handlers.forEach((h) => h(m));
  });
  socket.on('close', () => closeHandlers.forEach((h) => h('closed')));
  socket.on('error', () => undefined);
  const api = createRemoteInspector({ send: (m) => socket.send(encodeMessage(m)), onMessage: (h) => handlers.push(h), onClose: (h) => closeHandlers.push(h) });
  return new Promise((resolve, reject) => {
    socket.on('open', () => resolve({ api, socket, closed }));
    socket.on('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
    socket.on('error', reject);
  });
}
