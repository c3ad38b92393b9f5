/**
 * IDX files (the MNIST / Fashion-MNIST format), optionally gzip-compressed.
 * Layout: 2 zero bytes, a type byte (0x08 = uint8), a rank byte, rank big-endian uint32 dims, then the data.
 */
import * as fs from 'node:fs';
import { Gunzip } from 'fflate';
import { InspectorError } from '../../../shared/errors';
import { readRegularFile } from '../files/safe-files';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Most bytes an IDX file may declare (header + values): 2 GiB, past what one buffer holds. */
const MAX_IDX_BYTES = 2 ** 31 - 1;

/** Bytes the IDX header at the start of `head` declares (header + values), or undefined while it is incomplete. */
function declaredIdxBytes(head: Uint8Array): number | undefined {
  if (head.length < 4) return undefined;
  const rank = head[3];
  if (head.length < 4 + 4 * rank) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = 1;
  for (let i = 0; i < rank; i++) count *= view.getUint32(4 + 4 * i, false);
  return 4 + 4 * rank + count;
}

/**
 * Gunzips an IDX file no further than its own header allows: the first bytes out give the declared shape, and
 * output past header + values (a gzip bomb: 5 GB from a few MB) stops the inflate with DECOMPRESSED_TOO_LARGE.
 */
function gunzipIdx(bytes: Uint8Array, name: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let limit: number | undefined;
  const inflater = new Gunzip((chunk) => {
    total += chunk.length;
    if (limit === undefined) {
      limit = declaredIdxBytes(chunks.length === 0 ? chunk : Buffer.concat([...chunks, chunk]));
      if (limit !== undefined && limit > MAX_IDX_BYTES) {
        throw new InspectorError('DECOMPRESSED_TOO_LARGE', `${name}: its header declares ${limit} bytes, more than CNN Inspector reads`);
      }
    }
    if (total > (limit ?? 1024)) {
      throw new InspectorError('DECOMPRESSED_TOO_LARGE', `${name}: the compressed data unpacks to more than its header declares (${limit} bytes) — refused`);
    }
    chunks.push(chunk);
  });
  try {
    // Fed 4 KB at a time: fflate inflates a whole pushed chunk before handing it over, and 4 KB of deflate can
    // grow to at most ~4 MB, so the cap is checked before much more than the declared size exists.
    const step = 4096;
    for (let at = 0; at < bytes.length; at += step) inflater.push(bytes.subarray(at, at + step), at + step >= bytes.length);
  } catch (error) {
    if (error instanceof InspectorError) throw error;
    throw new InspectorError('IDX_INVALID', `${name}: corrupt gzip data`, String(error));
  }
  return Buffer.concat(chunks);
}

export function parseIdx(bytes: Uint8Array, name = 'IDX file'): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipIdx(bytes, name);
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
  return parseIdx(readRegularFile(file), file);
}
