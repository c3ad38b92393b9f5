/**
 * The parsers kept hand-written (no maintained library fits): .npy, IDX, the wire format and the ONNX protobuf
 * walker. Each is fed thousands of seeded mutations of a valid input (flipped bytes, cut lengths, lengths set to
 * extremes, spliced garbage) and must either decode or throw its own coded error — never another exception,
 * never hang, never allocate what the input only claims.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../electron/engine/backend';
import { decodeNpy, encodeNpy } from '../../shared/npy';
import { decodeMessage, encodeMessage } from '../../shared/wire';
import { parseIdx } from '../../electron/engine/data/idx';
import { onnxLoader } from '../../electron/engine/model/onnx-loader';
import { InspectorError } from '../../shared/errors';
import { mulberry32 } from '../../electron/engine/base/random';

const ROOT = path.resolve(__dirname, '..', '..');

function mutate(valid: Uint8Array, random: () => number): Uint8Array {
  const bytes = Uint8Array.from(valid);
  const kind = Math.floor(random() * 4);
  if (kind === 0) {
    for (let i = 0, n = 1 + Math.floor(random() * 8); i < n; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    return bytes;
  }
  if (kind === 1) return bytes.subarray(0, Math.floor(random() * bytes.length));
  if (kind === 2) {
    // A length or count field set to an extreme.
    const at = Math.floor(random() * Math.max(1, Math.min(bytes.length - 4, 64)));
    new DataView(bytes.buffer).setUint32(at, random() < 0.5 ? 0xffffffff : 0x7fffffff, random() < 0.5);
    return bytes;
  }
  const at = Math.floor(random() * bytes.length);
  const junk = Uint8Array.from({ length: 1 + Math.floor(random() * 32) }, () => Math.floor(random() * 256));
  const out = new Uint8Array(bytes.length + junk.length);
  out.set(bytes.subarray(0, at));
  out.set(junk, at);
  out.set(bytes.subarray(at), at + junk.length);
  return out;
}

function fuzz(
  valid: Uint8Array,
  runs: number,
  seed: number,
  decode: (b: Uint8Array) => unknown,
  allowed: (e: unknown) => boolean,
): { decoded: number; refused: number } {
  const random = mulberry32(seed);
  let decoded = 0;
  let refused = 0;
  for (let i = 0; i < runs; i++) {
    const input = mutate(valid, random);
    try {
      decode(input);
      decoded++;
    } catch (error) {
      if (!allowed(error)) throw new Error(`run ${i}: ${String(error)} (input of ${input.length} bytes)`);
      refused++;
    }
  }
  return { decoded, refused };
}

const coded =
  (...codes: string[]) =>
  (e: unknown) =>
    e instanceof InspectorError && codes.includes(e.code);

describe('hand-written parsers under mutation', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  it('.npy: decodes or says NPY_INVALID / NPY_UNSUPPORTED_DTYPE', () => {
    const valid = encodeNpy({ shape: [4, 5, 3], data: Float32Array.from({ length: 60 }, (_, i) => i / 7) });
    const { refused } = fuzz(valid, 3000, 1, (b) => decodeNpy(b, 'fuzz.npy'), coded('NPY_INVALID', 'NPY_UNSUPPORTED_DTYPE'));
    expect(refused).toBeGreaterThan(1000);
  });

  it('IDX (plain and gzip): decodes or says IDX_INVALID / DECOMPRESSED_TOO_LARGE', async () => {
    const { gzipSync } = await import('node:zlib');
    const plain = new Uint8Array(4 + 12 + 3 * 4 * 4);
    plain.set([0, 0, 8, 3]);
    new DataView(plain.buffer).setUint32(4, 3, false);
    new DataView(plain.buffer).setUint32(8, 4, false);
    new DataView(plain.buffer).setUint32(12, 4, false);
    const allowed = coded('IDX_INVALID', 'DECOMPRESSED_TOO_LARGE');
    expect(fuzz(plain, 2000, 2, (b) => parseIdx(b, 'fuzz'), allowed).refused).toBeGreaterThan(500);
    expect(fuzz(new Uint8Array(gzipSync(plain)), 2000, 3, (b) => parseIdx(b, 'fuzz.gz'), allowed).refused).toBeGreaterThan(500);
  });

  it('wire frames: decode or throw an Error (the server answers BAD_ARGUMENT), never reaching Object or Function', () => {
    const valid = encodeMessage({
      kind: 'call',
      id: 7,
      command: 'uploadImage',
      params: { name: 'a.png', bytes: new Uint8Array([1, 2, 3, 4]), f: new Float32Array([1, 2]) },
    });
    fuzz(
      valid,
      3000,
      4,
      (b) => decodeMessage(b),
      (e) => e instanceof Error,
    );
    const hostile = new TextEncoder().encode(JSON.stringify({ kind: 'call', id: 1, command: 'getState', params: { x: { $bin: 0, $type: 'constructor' } } }));
    const frame = new Uint8Array(4 + hostile.length + 8);
    new DataView(frame.buffer).setUint32(0, hostile.length, true);
    frame.set(hostile, 4);
    new DataView(frame.buffer).setUint32(4 + hostile.length, 4, true);
    expect(() => decodeMessage(frame)).toThrow(/unknown array type/);
    for (const json of ['null', '[]', '1', '{"no":"kind"}']) {
      const text = new TextEncoder().encode(json);
      const f = new Uint8Array(4 + text.length);
      new DataView(f.buffer).setUint32(0, text.length, true);
      f.set(text, 4);
      expect(() => decodeMessage(f), json).toThrow(/not a message/);
    }
  });

  it('ONNX files: open or say ONNX_INVALID or another ONNX / model code', async () => {
    const valid = new Uint8Array(fs.readFileSync(path.join(ROOT, 'tests', 'fixtures', 'onnx', 'cnn-ops.onnx')));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-onnx-'));
    const random = mulberry32(5);
    const allowed = coded(
      'ONNX_INVALID',
      'ONNX_UNSUPPORTED_OPSET',
      'ONNX_EXTERNAL_DATA_MISSING',
      'MODEL_UNSUPPORTED_OP',
      'MODEL_UNSUPPORTED_FORMAT',
      'MODEL_WEIGHTS_INCONSISTENT',
      'PATH_OUTSIDE_FOLDER',
      'FILE_NOT_REGULAR',
    );
    let refused = 0;
    try {
      for (let i = 0; i < 150; i++) {
        const file = path.join(dir, `m${i}.onnx`);
        fs.writeFileSync(file, mutate(valid, random));
        try {
          const loaded = await onnxLoader.load(file, {}, () => undefined);
          loaded.model.dispose();
        } catch (error) {
          if (!allowed(error)) throw new Error(`run ${i}: ${String(error)}`);
          refused++;
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(refused).toBeGreaterThan(50);
  });
});
