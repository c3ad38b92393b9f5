/**
 * Atomic, durable file writes: the data goes to a temporary sibling, is flushed to the disk (fsync), renamed over
 * the target, and the folder itself is flushed so the rename is on the disk too. A crash or power cut then leaves
 * the old file or the new one, never an empty or half-written one (a rename alone can reach the disk before the
 * data it points to).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InspectorError } from '../../../shared/errors';

const WHY: Record<string, string> = {
  EACCES: 'no permission to write there',
  EPERM: 'no permission to write there',
  EROFS: 'the disk is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  ENOENT: 'its folder cannot be made',
  EEXIST: 'a file stands where a folder is needed',
};

/** A failed write (a Node errno error) as OUTPUT_NOT_WRITABLE naming the file and the reason; anything else unchanged. */
export function writeError(error: unknown, file: string): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (typeof code === 'string' && WHY[code]) return new InspectorError('OUTPUT_NOT_WRITABLE', `Cannot write ${file}: ${WHY[code]}`, String(error));
  return error;
}

/** Flushes a folder's entries (a new or renamed file in it) to the disk; a no-op where folders cannot be opened (Windows). */
export function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot open a folder for fsync; NTFS journals the rename itself.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  writeFileAtomicWith(file, (fd) => fs.writeFileSync(fd, data));
}

/** The same for a file written a piece at a time: `write` is given the open temporary file. */
export function writeFileAtomicWith(file: string, write: (fd: number) => void): void {
  try {
    writeDurably(file, write);
  } catch (error) {
    throw writeError(error, file);
  }
}

function writeDurably(file: string, write: (fd: number) => void): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    write(fd);
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  syncFolder(dir);
}
