/**
 * The WebSocket wire format: one binary frame per message, JSON for structure and raw bytes for typed arrays
 * (activation maps, PNGs), so big arrays never become JSON number lists.
 *   frame = u32 headerLength | header (UTF-8 JSON) | for each buffer: u32 byteLength | bytes
 * In the JSON, a typed array is replaced by {"$bin": n, "$type": "Float32Array"}.
 * Depends only on ECMAScript built-ins (works in Node and in the browser).
 */
import type { CommandName, EventName } from './contract';
import type { ErrorInfo } from './errors';

export type WireMessage =
  | { kind: 'call'; id: number; command: CommandName; params: unknown }
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; error: ErrorInfo }
  | { kind: 'event'; name: EventName; payload: unknown };

const TYPED = {
  Uint8Array,
  Int32Array,
  Float32Array,
  Float64Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int8Array,
} as const;
type TypedName = keyof typeof TYPED;
type AnyTyped = InstanceType<(typeof TYPED)[TypedName]>;

function typedName(v: unknown): TypedName | undefined {
  for (const name of Object.keys(TYPED) as TypedName[]) if (v instanceof TYPED[name]) return name;
  return undefined;
}

export function encodeMessage(message: WireMessage): Uint8Array {
  const buffers: Uint8Array[] = [];
  const header = JSON.stringify(message, (_key, value: unknown) => {
    const name = typedName(value);
    if (name) {
      const t = value as AnyTyped;
      buffers.push(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
      return { $bin: buffers.length - 1, $type: name };
    }
    if (value instanceof ArrayBuffer) {
      buffers.push(new Uint8Array(value));
      return { $bin: buffers.length - 1, $type: 'ArrayBuffer' };
    }
    return value;
  });
  const headerBytes = new TextEncoder().encode(header);
  const total = 4 + headerBytes.length + buffers.reduce((s, b) => s + 4 + b.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  out.set(headerBytes, 4);
  let offset = 4 + headerBytes.length;
  for (const b of buffers) {
    view.setUint32(offset, b.length, true);
    out.set(b, offset + 4);
    offset += 4 + b.length;
  }
  return out;
}

export function decodeMessage(frame: ArrayBuffer | Uint8Array): WireMessage {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new Error('wire: frame too short');
  const headerLength = view.getUint32(0, true);
  if (4 + headerLength > bytes.length) throw new Error('wire: truncated header');
  const header = new TextDecoder().decode(bytes.subarray(4, 4 + headerLength));
  const buffers: Uint8Array[] = [];
  let offset = 4 + headerLength;
  while (offset < bytes.length) {
    if (offset + 4 > bytes.length) throw new Error('wire: truncated buffer length');
    const length = view.getUint32(offset, true);
    if (offset + 4 + length > bytes.length) throw new Error('wire: truncated buffer');
    // slice() copies into a fresh, aligned ArrayBuffer so Float32Array views are valid.
    buffers.push(bytes.slice(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  const message = JSON.parse(header, (_key, value: unknown) => {
    if (value && typeof value === 'object' && '$bin' in value && '$type' in value) {
      const { $bin, $type } = value as { $bin: number; $type: TypedName | 'ArrayBuffer' };
      const b = buffers[$bin];
      if (!b) throw new Error(`wire: missing buffer ${$bin}`);
      if ($type === 'ArrayBuffer') return b.buffer;
      // Own keys only: "constructor" or "__proto__" from a hostile frame must not reach Object or Function.
      const Ctor = Object.prototype.hasOwnProperty.call(TYPED, $type) ? TYPED[$type as TypedName] : undefined;
      if (!Ctor) throw new Error(`wire: unknown array type ${String($type)}`);
      return new Ctor(b.buffer as ArrayBuffer, 0, b.byteLength / Ctor.BYTES_PER_ELEMENT);
    }
    return value;
  }) as WireMessage;
  if (!message || typeof message !== 'object' || Array.isArray(message) || typeof (message as { kind?: unknown }).kind !== 'string') {
    throw new Error('wire: not a message');
  }
  return message;
}
