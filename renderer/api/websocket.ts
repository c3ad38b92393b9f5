/** The WebSocket transport of browser mode: the shared wire format over one socket at /ws. */
import type { Inspector } from '../../shared/contract';
import { createRemoteInspector } from '../../shared/client';
import { decodeMessage, encodeMessage, type WireMessage } from '../../shared/wire';

export type ConnectionListener = (state: 'open' | 'closed', reason?: string) => void;
const connectionListeners = new Set<ConnectionListener>();

export function onConnectionChange(listener: ConnectionListener): () => void {
  connectionListeners.add(listener);
  return () => connectionListeners.delete(listener);
}

export function connectWebSocket(location: Location): Promise<Inspector> {
  const token = new URLSearchParams(location.search).get('token');
  const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${protocol}//${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ''}`;
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const handlers: Array<(m: WireMessage) => void> = [];
  const closeHandlers: Array<(reason: string) => void> = [];
  socket.addEventListener('message', (event) => {
    const message = decodeMessage(event.data as ArrayBuffer);
    handlers.forEach((h) => h(message));
  });
  socket.addEventListener('close', (event) => {
    const reason = event.reason || 'the server stopped';
    closeHandlers.forEach((h) => h(reason));
    connectionListeners.forEach((l) => l('closed', reason));
  });
  const inspector = createRemoteInspector({
    send: (m) => socket.send(encodeMessage(m)),
    onMessage: (h) => handlers.push(h),
    onClose: (h) => closeHandlers.push(h),
  });
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => {
      connectionListeners.forEach((l) => l('open'));
      resolve(inspector);
    });
    socket.addEventListener('error', () => reject(new Error(`Cannot reach the CNN Inspector server at ${url}`)));
  });
}
