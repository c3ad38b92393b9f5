/**
 * A folder of class sub-folders picked (<input webkitdirectory>) or dropped on the window, copied to the engine
 * in batches (addDatasetFiles) so it can be opened like a folder on disk — browser mode and desktop alike.
 */
import { MAX_IMAGE_UPLOAD_BYTES } from '../../shared/contract';
import { api } from '../api';

export interface FolderFiles {
  /** The folder's own name. */
  folder: string;
  /** Paths inside it ("class/file.png" or "file.png") and their files. */
  files: Array<{ path: string; file: File }>;
  /** Files left out: hidden, or in folders inside the class folders. */
  left: number;
}

const usable = (parts: string[]) => parts.length >= 1 && parts.length <= 2 && !parts.some((p) => p.startsWith('.'));

/** From a folder input: each file's webkitRelativePath is "Folder/class/file". */
export function filesFromInput(list: FileList): FolderFiles | undefined {
  const all = Array.from(list);
  if (!all.length) return undefined;
  const folder = (all[0].webkitRelativePath || all[0].name).split('/')[0];
  const files: FolderFiles['files'] = [];
  let left = 0;
  for (const file of all) {
    const parts = (file.webkitRelativePath || file.name).split('/').slice(1);
    if (usable(parts)) files.push({ path: parts.join('/'), file });
    else left++;
  }
  return { folder, files, left };
}

interface Entry {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  file?(ok: (f: File) => void, fail: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (entries: Entry[]) => void, fail: (e: unknown) => void): void };
}

async function readAll(dir: Entry): Promise<Entry[]> {
  const reader = dir.createReader!();
  const out: Entry[] = [];
  // readEntries returns at most 100 entries per call: read until it returns none.
  for (;;) {
    const batch = await new Promise<Entry[]>((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) return out;
    out.push(...batch);
  }
}

/** From a drop: the first dropped item that is a folder, walked two levels deep. */
export async function filesFromDrop(transfer: DataTransfer): Promise<FolderFiles | undefined> {
  const root = Array.from(transfer.items)
    .map((item) => (item.webkitGetAsEntry?.() ?? null) as unknown as Entry | null)
    .find((e) => Boolean(e?.isDirectory));
  if (!root) return undefined;
  const files: FolderFiles['files'] = [];
  let left = 0;
  const walk = async (dir: Entry, prefix: string[]) => {
    for (const entry of await readAll(dir)) {
      const parts = [...prefix, entry.name];
      if (entry.isDirectory) {
        if (parts.length < 2 && !entry.name.startsWith('.')) await walk(entry, parts);
        else left++;
      } else if (usable(parts)) {
        files.push({ path: parts.join('/'), file: await new Promise<File>((ok, fail) => entry.file!(ok, fail)) });
      } else left++;
    }
  };
  await walk(root as Entry, []);
  return { folder: root.name, files, left };
}

/** Copies the files in batches of about 8 MB; returns the folder's path on the engine's side. */
export async function uploadFolder(picked: FolderFiles, onProgress: (done: number, total: number) => void): Promise<string> {
  let batch: Array<{ path: string; bytes: Uint8Array }> = [];
  let size = 0;
  let first = true;
  let where = '';
  const flush = async () => {
    const r = await api().addDatasetFiles({ folder: picked.folder, start: first, files: batch });
    where = r.path;
    first = false;
    batch = [];
    size = 0;
  };
  for (const [i, f] of picked.files.entries()) {
    // No message may outgrow the server's frame limit: a batch is sent before it would, and a file bigger than
    // any image the engine reads is not sent at all (the engine lists what it could not use).
    if (f.file.size <= MAX_IMAGE_UPLOAD_BYTES) {
      if (size + f.file.size > 8 * 2 ** 20 && batch.length) await flush();
      batch.push({ path: f.path, bytes: new Uint8Array(await f.file.arrayBuffer()) });
      size += f.file.size;
    }
    onProgress(i + 1, picked.files.length);
  }
  if (batch.length || first) await flush();
  return where;
}
