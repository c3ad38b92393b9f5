/**
 * Zip archives through fflate (a maintained, fuzzed inflater) with the caps an untrusted archive needs: a
 * Keras 3 `.keras` file is a zip whose members we read; exported TF.js models are zips we write.
 *
 * Reading: only the members asked for are inflated, each into a buffer of its *declared* size (so memory is
 * bounded before inflating), declared sizes are capped absolutely and against the compressed size (a zip bomb
 * declares gigabytes from a few kilobytes), member names that climb out (`..`, absolute) are refused, and the
 * inflated bytes must match the declared size and CRC. Errors: the caller's invalid code, DECOMPRESSED_TOO_LARGE.
 */
import { unzipSync, zipSync } from 'fflate';
import { InspectorError, type ErrorCode } from '../../../shared/errors';

export interface ZipCaps {
  /** Largest inflated size of one member. */
  maxMemberBytes: number;
  /** Largest inflated / compressed ratio accepted for members over 1 MB (deflate itself tops out near 1032). */
  maxRatio: number;
  /** Most entries the directory may list. */
  maxEntries: number;
}

export const DEFAULT_ZIP_CAPS: ZipCaps = { maxMemberBytes: 2 ** 31 - 1, maxRatio: 200, maxEntries: 10_000 };

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The CRC-32 the central directory declares for each member (fflate does not check it). */
function declaredCrcs(bytes: Uint8Array): Map<string, number> {
  const out = new Map<string, number>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 65_557); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return out;
  const count = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  const decoder = new TextDecoder();
  for (let i = 0; i < count && p + 46 <= bytes.length && view.getUint32(p, true) === 0x02014b50; i++) {
    const nameLength = view.getUint16(p + 28, true);
    out.set(decoder.decode(bytes.subarray(p + 46, p + 46 + nameLength)), view.getUint32(p + 16, true));
    p += 46 + nameLength + view.getUint16(p + 30, true) + view.getUint16(p + 32, true);
  }
  return out;
}

const climbsOut = (name: string) => name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name) || name.split(/[\\/]/).includes('..');

/**
 * The members of `bytes` named in `wanted` (those present), inflated within `caps`. `what` names the archive in
 * messages; `invalid` is the code for a damaged or foreign archive.
 */
export function readZipMembers(
  bytes: Uint8Array,
  what: string,
  wanted: string[],
  invalid: ErrorCode,
  caps: ZipCaps = DEFAULT_ZIP_CAPS,
): Map<string, Uint8Array> {
  let entries = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (f) => {
        if (++entries > caps.maxEntries)
          throw new InspectorError(invalid, `${what} lists more than ${caps.maxEntries} files: not an archive CNN Inspector reads`);
        if (climbsOut(f.name)) throw new InspectorError(invalid, `${what} holds a file named "${f.name}" that points outside the archive: refused`);
        if (!wanted.includes(f.name)) return false;
        const ratio = f.originalSize / Math.max(1, f.size);
        if (f.originalSize > caps.maxMemberBytes || (f.originalSize > 2 ** 20 && ratio > caps.maxRatio)) {
          throw new InspectorError(
            'DECOMPRESSED_TOO_LARGE',
            `${what}: ${f.name} would unpack from ${f.size} bytes to ${f.originalSize} bytes — refused as a possible zip bomb`,
          );
        }
        return true;
      },
    });
  } catch (error) {
    if (error instanceof InspectorError) throw error;
    throw new InspectorError(
      invalid,
      `${what} is not a readable zip archive (damaged or not a zip file)`,
      error instanceof Error ? error.message : String(error),
    );
  }
  const crcs = declaredCrcs(bytes);
  const out = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(files)) {
    if (crcs.get(name) !== crc32(data)) throw new InspectorError(invalid, `${what}: ${name} is damaged (its checksum does not match)`);
    out.set(name, data);
  }
  return out;
}

/** A zip of stored (uncompressed) entries — downloads of several files, e.g. a TF.js model folder. */
export function zipStored(entries: Array<{ name: string; data: Uint8Array }>): Uint8Array {
  return zipSync(Object.fromEntries(entries.map((e) => [e.name, [e.data, { level: 0 }]])));
}
