/**
 * Reading files that strangers made. Every file a model, a dataset or a person names goes through here:
 *  - `readRegularFile`: opened without blocking and checked with fstat on the open descriptor, so a FIFO,
 *    /dev/zero, a socket or a folder is refused (FILE_NOT_REGULAR) instead of hanging a worker or filling memory,
 *    and a file over its cap is refused before a byte is read (FILE_TOO_LARGE).
 *  - `confinedFile`: a file named *inside* another file (TF.js shards, ONNX external data, Keras archive members)
 *    must, after following every symlink, stay inside the naming file's folder (PATH_OUTSIDE_FOLDER).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InspectorError, type ErrorCode } from '../../../shared/errors';

/** Node refuses single buffers past ~2 GiB anyway; nothing the engine reads whole may be bigger. */
export const MAX_WHOLE_FILE_BYTES = 2 ** 31 - 1;

export interface ReadOptions {
  /** Largest size accepted, in bytes. */
  maxBytes?: number;
  /** How the file is named in messages (default: its base name). */
  name?: string;
  /** Code for a missing file (FILE_NOT_FOUND by default; loaders use their own, e.g. MODEL_WEIGHTS_MISSING). */
  missingCode?: ErrorCode;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0)} MB`;

function notRegular(name: string, stat: fs.Stats): InspectorError {
  const kind = stat.isDirectory()
    ? 'a folder'
    : stat.isFIFO()
      ? 'a pipe (FIFO)'
      : stat.isCharacterDevice() || stat.isBlockDevice()
        ? 'a device'
        : stat.isSocket()
          ? 'a socket'
          : 'not an ordinary file';
  return new InspectorError('FILE_NOT_REGULAR', `${name} is ${kind}, not a file CNN Inspector reads`);
}

/**
 * Opens `file` for reading without ever blocking (O_NONBLOCK: opening a FIFO with no writer returns at once)
 * and checks the open descriptor, so what is checked is what is read. Returns the descriptor and its size.
 */
export function openRegularFile(file: string, options: ReadOptions = {}): { fd: number; size: number } {
  const name = options.name ?? path.basename(file);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new InspectorError(options.missingCode ?? 'FILE_NOT_FOUND', `No file at ${file}`);
    if (code === 'EISDIR') throw new InspectorError('FILE_NOT_REGULAR', `${name} is a folder, not a file CNN Inspector reads`);
    if (code === 'EACCES' || code === 'EPERM') throw new InspectorError('FILE_NOT_READABLE', `${name} cannot be read (no permission)`);
    if (code === 'ENXIO') throw new InspectorError('FILE_NOT_REGULAR', `${name} is a socket, not a file CNN Inspector reads`);
    throw new InspectorError('FILE_NOT_READABLE', `${name} cannot be opened`, String(error));
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw notRegular(name, stat);
  }
  const max = options.maxBytes ?? MAX_WHOLE_FILE_BYTES;
  if (stat.size > max) {
    fs.closeSync(fd);
    throw new InspectorError('FILE_TOO_LARGE', `${name} is ${mib(stat.size)}; files over ${mib(max)} are refused here`);
  }
  return { fd, size: stat.size };
}

/** The whole of a regular file, at most `maxBytes` (checked before reading). A file that grows while read is cut at its checked size. */
export function readRegularFile(file: string, options: ReadOptions = {}): Buffer {
  const { fd, size } = openRegularFile(file, { ...options, maxBytes: Math.min(options.maxBytes ?? MAX_WHOLE_FILE_BYTES, MAX_WHOLE_FILE_BYTES) });
  try {
    const bytes = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, bytes, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return done === size ? bytes : bytes.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}

/** `length` bytes of a regular file from `offset` (fewer if it ends first). */
export function readRegularRange(file: string, offset: number, length: number, options: ReadOptions = {}): Buffer {
  const { fd } = openRegularFile(file, options);
  try {
    const bytes = Buffer.alloc(length);
    const read = fs.readSync(fd, bytes, 0, length, offset);
    return read === length ? bytes : bytes.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}

/** True when `target` is `dir` or inside it (both already resolved). */
export function isInside(target: string, dir: string): boolean {
  const rel = path.relative(dir, target);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** realpath, or undefined when the path does not exist (or a link in it is broken). */
export function realPathOrUndefined(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

/**
 * A file that another file names (`name`, relative to `folder`): resolved through every symlink and required to
 * stay inside `folder`'s real path and to be a regular file. `what` says in messages who named it.
 */
export function confinedFile(folder: string, name: string, what: string, missingCode: ErrorCode = 'FILE_NOT_FOUND'): { file: string; size: number } {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\0') || path.isAbsolute(name)) {
    throw new InspectorError('PATH_OUTSIDE_FOLDER', `${what} names "${String(name)}", which is not a file beside it`);
  }
  const root = realPathOrUndefined(folder) ?? path.resolve(folder);
  const lexical = path.resolve(root, name);
  if (!isInside(lexical, root)) {
    throw new InspectorError('PATH_OUTSIDE_FOLDER', `${what} names ${name}, which lies outside its folder: refused`);
  }
  const real = realPathOrUndefined(lexical);
  if (real === undefined) throw new InspectorError(missingCode, `${what} names ${name}, which is missing`, lexical);
  if (!isInside(real, root)) {
    throw new InspectorError('PATH_OUTSIDE_FOLDER', `${what} names ${name}, a link to a file outside its folder: refused`);
  }
  const stat = fs.statSync(real);
  if (!stat.isFile()) throw notRegular(name, stat);
  return { file: real, size: stat.size };
}

/** Throws FILE_NOT_REGULAR / FILE_NOT_FOUND / FILE_NOT_READABLE unless `file` is an ordinary file that can be opened. */
export function checkRegularFile(file: string, options: ReadOptions = {}): number {
  const { fd, size } = openRegularFile(file, { maxBytes: Number.MAX_SAFE_INTEGER, ...options });
  fs.closeSync(fd);
  return size;
}
