/**
 * The WebSocket wire format: one binary frame per message, JSON for structure and raw bytes for typed arrays
 * (activation maps, PNGs), so big arrays never become JSON number lists.
 *   frame = u32 headerLength | header (UTF-8 JSON) | for each buffer: u32 byteLength | bytes
 * In the JSON, a typed array is replaced by {"$bin": n, "$type": "Float32Array"}.
 * Depends only on ECMAScript built-ins (works in Node and in the browser).
 */
import type { CommandName, EventName } from './contract';
import type { ErrorInfo } from './errors';
export type WireMessage = {
    kind: 'call';
    id: number;
    command: CommandName;
    params: unknown;
} | {
    kind: 'result';
    id: number;
    ok: true;
    value: unknown;
} | {
    kind: 'result';
    id: number;
    ok: false;
    error: ErrorInfo;
} | {
    kind: 'event';
    name: EventName;
    payload: unknown;
};
export declare function encodeMessage(message: WireMessage): Uint8Array;
export declare function decodeMessage(frame: ArrayBuffer | Uint8Array): WireMessage;
