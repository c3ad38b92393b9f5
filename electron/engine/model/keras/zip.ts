/**
 * Reads named entries of a zip archive (a Keras 3 `.keras` file is one): the central directory, then each
 * entry stored or deflated. Errors: KERAS_INVALID.
 */
import * as zlib from 'node:zlib';
import { InspectorError } from '../../../../shared/errors';

export function readZipEntries(bytes: Buffer, what: string): Map<string, () => Buffer> {
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 65_557); i--) {
    if (bytes.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new InspectorError('KERAS_INVALID', `${what} is not a Keras archive (not a zip file)`);
  const count = bytes.readUInt16LE(eocd + 10);
  let p = bytes.readUInt32LE(eocd + 16);
  const entries = new Map<string, () => Buffer>();
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || bytes.readUInt32LE(p) !== 0x02014b50) throw new InspectorError('KERAS_INVALID', `${what}: the zip directory is damaged`);
    const method = bytes.readUInt16LE(p + 10);
    const compressed = bytes.readUInt32LE(p + 20);
    const nameLength = bytes.readUInt16LE(p + 28);
    const extraLength = bytes.readUInt16LE(p + 30);
    const commentLength = bytes.readUInt16LE(p + 32);
    const local = bytes.readUInt32LE(p + 42);
    const name = bytes.toString('utf8', p + 46, p + 46 + nameLength);
    entries.set(name, () => {
      if (local + 30 > bytes.length || bytes.readUInt32LE(local) !== 0x04034b50) throw new InspectorError('KERAS_INVALID', `${what}: entry ${name} is damaged`);
      const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
      const data = bytes.subarray(start, start + compressed);
      if (data.length !== compressed) throw new InspectorError('KERAS_INVALID', `${what}: entry ${name} is truncated`);
      if (method === 0) return data;
      if (method === 8) {
        try {
          return zlib.inflateRawSync(data);
        } catch (error) {
          throw new InspectorError('KERAS_INVALID', `${what}: entry ${name} cannot be decompressed`, String(error));
        }
      }
      throw new InspectorError('KERAS_INVALID', `${what}: entry ${name} uses zip compression method ${method}`);
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}
