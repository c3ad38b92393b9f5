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

/** This tab's session on the server (sessionStorage: a reload keeps it, another tab gets its own). */
const SESSION_KEY = 'cnn-inspector-session';

function storedSession(): string | null {
  try {
    return sessionStorage.getItem(SESSION_KEY);
  } catch {
    return null;
  }
}

function rememberSession(id: string | undefined): void {
  try {
    if (id) sessionStorage.setItem(SESSION_KEY, id);
  } catch {
    // storage refused (a private window's quota): a reload starts a new session, nothing worse
  }
}

export function connectWebSocket(location: Location): Promise<Inspector> {
  const query = new URLSearchParams();
  const token = new URLSearchParams(location.search).get('token');
  if (token) query.set('token', token);
  const session = storedSession();
  if (session) query.set('session', session);
  const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${protocol}//${location.host}/ws${query.size > 0 ? `?${query}` : ''}`;
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
      void inspector.getState().then(
        (state) => rememberSession(state.session?.id),
        () => undefined,
      );
      resolve(inspector);
    });
    socket.addEventListener('error', () => reject(new Error(`Cannot reach the CNN Inspector server at ${url}`)));
  });
}
