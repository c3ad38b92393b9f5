/**
 * IDX files (the MNIST / Fashion-MNIST format), optionally gzip-compressed.
 * Layout: 2 zero bytes, a type byte (0x08 = uint8), a rank byte, rank big-endian uint32 dims, then the data.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { InspectorError } from '../../../shared/errors';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function parseIdx(bytes: Uint8Array, name = 'IDX file'): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (error) {
      throw new InspectorError('IDX_INVALID', `${name}: corrupt gzip data`, String(error));
    }
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new InspectorError('IDX_INVALID', `${name}: not an IDX file (bad magic number)`);
  }
  if (bytes[2] !== 0x08) {
    throw new InspectorError('IDX_INVALID', `${name}: only unsigned-byte IDX data is supported (type 0x${bytes[2].toString(16)})`);
  }
  const rank = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) throw new InspectorError('IDX_INVALID', `${name}: truncated header`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - headerBytes !== count) {
    throw new InspectorError('IDX_INVALID', `${name}: header says ${count} values but the file holds ${bytes.length - headerBytes}`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

export function readIdx(file: string): IdxArray {
  if (!fs.existsSync(file)) throw new InspectorError('FILE_NOT_FOUND', `No IDX file at ${file}`);
  return parseIdx(fs.readFileSync(file), file);
}
