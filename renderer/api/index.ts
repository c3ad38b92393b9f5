/**
 * The renderer's one way to the engine. Chosen at start: the Electron bridge (window.inspector) when present,
 * otherwise a WebSocket to the browser-mode server. Stores call through `api()`; tests install a fake.
 */
import type { Inspector } from '../../shared/contract';
import { connectWebSocket } from './websocket';

let current: Inspector | undefined;
let transportName = 'none';

export function setApi(inspector: Inspector, transport = 'test'): void {
  current = inspector;
  transportName = transport;
}

export function api(): Inspector {
  if (!current) throw new Error('api not connected');
  return current;
}

export function transport(): string {
  return transportName;
}

export async function connect(): Promise<Inspector> {
  if (window.inspector) {
    setApi(window.inspector, 'electron');
    return window.inspector;
  }
  const inspector = await connectWebSocket(window.location);
  setApi(inspector, 'browser');
  return inspector;
}
