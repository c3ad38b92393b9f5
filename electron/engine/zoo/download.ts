/**
 * Downloading a zoo network onto the person's machine: into `<workspace>/zoo/<name>.onnx.part`, resumed with an
 * HTTP Range request after a dropped connection or a pause, never more bytes than the pinned size, and renamed to
 * `<name>.onnx` only once its SHA-256 matches the one the project pinned. The labels and preprocessing are written
 * beside it so the model opens ready to use.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ZooDownloadResult, ZooEntry, ZooListing, ZooModelState } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { IMAGENET_CLASSES } from '../../../shared/imagenet-classes';
import type { JobContext } from '../base/job-context';
import { readModelSettings, writeModelSettings } from '../model/registry';
import { workspaceRoot } from '../files/workspace';
import { activeZooCatalog, DEFAULT_ZOO_MIRROR, findZooEntry } from './catalog';
import type { JobDescriptor } from '../features/job-host';

export interface ZooOptions {
  /** Base URL the entry's path is appended to (default: CNN_INSPECTOR_ZOO_MIRROR, else the Hugging Face mirror). */
  mirror?: string;
  /** Folder for downloaded networks (default: the workspace's zoo/). */
  folder?: string;
  /** How many times a dropped connection is resumed before giving up (default 3). */
  retries?: number;
  /** No byte for this long counts as a dropped connection (default 30 s). */
  stallMs?: number;
}

export const zooFolder = (options: ZooOptions = {}): string => options.folder ?? path.join(workspaceRoot(), 'zoo');

export function zooMirror(options: ZooOptions = {}): string {
  const base = options.mirror ?? process.env.CNN_INSPECTOR_ZOO_MIRROR ?? DEFAULT_ZOO_MIRROR;
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new InspectorError('BAD_ARGUMENT', `The zoo mirror "${base}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new InspectorError('BAD_ARGUMENT', `The zoo mirror must be an http(s) URL, not ${url.protocol}`);
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}

export const zooUrl = (entry: ZooEntry, options: ZooOptions = {}): string => zooMirror(options) + entry.path.split('/').map(encodeURIComponent).join('/');

const fileOf = (entry: ZooEntry, options: ZooOptions) => path.join(zooFolder(options), `${entry.name}.onnx`);
const sizeOf = (file: string): number => {
  try {
    const s = fs.lstatSync(file);
    return s.isFile() ? s.size : -1;
  } catch {
    return -1;
  }
};

export function zooModelState(entry: ZooEntry, options: ZooOptions = {}): ZooModelState {
  const file = fileOf(entry, options);
  const whole = sizeOf(file);
  const part = sizeOf(`${file}.part`);
  const state = whole === entry.bytes ? 'downloaded' : part > 0 ? 'partial' : 'absent';
  return { ...entry, state, have: state === 'downloaded' ? whole : Math.max(0, part), file, url: zooUrl(entry, options) };
}

export function listZoo(catalog: ZooEntry[] = activeZooCatalog(), options: ZooOptions = {}): ZooListing {
  return { folder: zooFolder(options), mirror: zooMirror(options), models: catalog.map((e) => zooModelState(e, options)) };
}

async function sha256OfFile(file: string, ctx: JobContext): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * 2 ** 20 })) {
    ctx.throwIfCancelled();
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e6 ? 2 : 1);

/** "12.3 of 46.8 MB, 3.1 MB/s, about 11 s left", from the rate measured since this request began. */
function progressMessage(entry: ZooEntry, have: number, startedAt: number, startBytes: number): string {
  const seconds = (Date.now() - startedAt) / 1000;
  const rate = seconds > 0.5 ? (have - startBytes) / seconds : 0;
  const left = rate > 0 ? Math.ceil((entry.bytes - have) / rate) : undefined;
  return `Downloading ${entry.title}: ${mb(have)} of ${mb(entry.bytes)} MB${rate > 0 ? `, ${mb(rate)} MB/s` : ''}${left !== undefined ? `, about ${left < 90 ? `${left} s` : `${Math.ceil(left / 60)} min`} left` : ''}`;
}

function byHand(entry: ZooEntry, options: ZooOptions): string {
  return `To copy it in by hand: download ${zooUrl(entry, options)} on a machine that can reach it and put it in ${zooFolder(options)} as ${entry.name}.onnx (or run: cnn-inspect zoo get ${entry.name} --file THE_FILE); its SHA-256 is checked before it opens.`;
}

/** Appends one HTTP response's body to the partial file; resolves with the bytes now on disk. */
async function fetchInto(entry: ZooEntry, part: string, options: ZooOptions, ctx: JobContext): Promise<number> {
  let have = Math.max(0, sizeOf(part));
  if (have > entry.bytes) {
    fs.rmSync(part, { force: true });
    have = 0;
  }
  if (have === entry.bytes) return have;
  const url = zooUrl(entry, options);
  const abort = new AbortController();
  let stalled = false;
  let lastByte = Date.now();
  const watch = setInterval(() => {
    if (ctx.isCancelled()) abort.abort();
    else if (Date.now() - lastByte > (options.stallMs ?? 30_000)) {
      stalled = true;
      abort.abort();
    }
  }, 100);
  let fd: number | undefined;
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: abort.signal, headers: have > 0 ? { Range: `bytes=${have}-` } : {}, redirect: 'follow' });
    } catch (error) {
      ctx.throwIfCancelled();
      throw new InspectorError(
        'ZOO_UNREACHABLE',
        `Could not reach ${new URL(url).host} to download ${entry.title} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}). ${byHand(entry, options)}`,
      );
    }
    const resumed = response.status === 206;
    if (!resumed && response.status !== 200) {
      await response.body?.cancel();
      throw new InspectorError('ZOO_UNREACHABLE', `The zoo mirror answered HTTP ${response.status} for ${entry.title} (${url}). ${byHand(entry, options)}`);
    }
    // A server that ignores Range sends the whole file again: start over rather than append it.
    const start = resumed ? have : 0;
    if (resumed && !new RegExp(`^bytes ${have}-`).test(response.headers.get('content-range') ?? '')) {
      await response.body?.cancel();
      throw new InspectorError(
        'ZOO_DOWNLOAD_INTERRUPTED',
        `The mirror resumed ${entry.title} at the wrong place (${response.headers.get('content-range')}); run the download again to start over`,
      );
    }
    const declared = Number(response.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && start + declared !== entry.bytes) {
      await response.body?.cancel();
      if (start > 0) fs.rmSync(part, { force: true });
      throw new InspectorError(
        'ZOO_FILE_MISMATCH',
        `The mirror offers ${start + declared} bytes for ${entry.title}; the file the project pinned has ${entry.bytes}. Nothing was kept. ${byHand(entry, options)}`,
      );
    }
    fs.mkdirSync(path.dirname(part), { recursive: true });
    fd = fs.openSync(part, start > 0 ? 'a' : 'w');
    have = start;
    const startedAt = Date.now();
    let reported = 0;
    if (!response.body) throw new InspectorError('ZOO_DOWNLOAD_INTERRUPTED', `The mirror sent no data for ${entry.title}`);
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      lastByte = Date.now();
      if (have + chunk.length > entry.bytes) {
        fs.closeSync(fd);
        fd = undefined;
        fs.rmSync(part, { force: true });
        throw new InspectorError(
          'ZOO_FILE_MISMATCH',
          `The mirror sent more than the ${entry.bytes} bytes of ${entry.title}; the download was deleted. ${byHand(entry, options)}`,
        );
      }
      fs.writeSync(fd, chunk);
      have += chunk.length;
      if (lastByte - reported > 250 || have === entry.bytes) {
        reported = lastByte;
        ctx.progress(have, entry.bytes, progressMessage(entry, have, startedAt, start));
      }
    }
    fs.fsyncSync(fd);
    return have;
  } catch (error) {
    ctx.throwIfCancelled();
    if (error instanceof InspectorError) throw error;
    const why = stalled ? 'no data for a while' : ((error as Error & { cause?: Error }).cause?.message ?? (error as Error).message);
    throw new InspectorError(
      'ZOO_DOWNLOAD_INTERRUPTED',
      `The download of ${entry.title} stopped at ${mb(sizeOf(part))} of ${mb(entry.bytes)} MB (${why}); what arrived is kept and the next try resumes there`,
    );
  } finally {
    clearInterval(watch);
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * One download per file at a time, across the app's worker threads, its windows and the CLI: a lock file the
 * running download touches as bytes arrive; one untouched for a minute is left from a process that died.
 */
function lockDownload(entry: ZooEntry, file: string): { touch(): void; release(): void } {
  const lock = `${file}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx'));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const age = Date.now() - fs.statSync(lock).mtimeMs;
      if (age < 60_000)
        throw new InspectorError(
          'ZOO_DOWNLOAD_INTERRUPTED',
          `${entry.title} is being downloaded already (by another window or command): wait for it to finish`,
        );
      fs.rmSync(lock, { force: true });
    }
  }
  let touched = Date.now();
  return {
    touch() {
      if (Date.now() - touched < 5_000) return;
      touched = Date.now();
      fs.utimesSync(lock, new Date(), new Date());
    },
    release: () => fs.rmSync(lock, { force: true }),
  };
}

/** Labels and preprocessing beside the file, unless the person already saved their own. */
function writeZooSettings(entry: ZooEntry, file: string): void {
  const saved = readModelSettings(file);
  if (saved.labels && saved.preprocessing && saved.name) return;
  writeModelSettings(file, {
    ...(!saved.name ? { name: entry.title } : {}),
    ...(entry.labels === 'imagenet' && !saved.labels ? { labels: [...IMAGENET_CLASSES] } : {}),
    ...(entry.preprocessing && !saved.preprocessing ? { preprocessing: entry.preprocessing } : {}),
  });
}

async function verified(entry: ZooEntry, file: string, ctx: JobContext): Promise<boolean> {
  ctx.progress(entry.bytes, entry.bytes, `Checking ${entry.title} (SHA-256)…`);
  return (await sha256OfFile(file, ctx)) === entry.sha256;
}

/**
 * Makes `<name>.onnx` present and verified: already there, copied from a file the person brings (`from`), or
 * downloaded (resuming what a previous try left). Cancelling keeps the partial file for the next try.
 */
export async function downloadZooModel(entry: ZooEntry, ctx: JobContext, options: ZooOptions & { from?: string } = {}): Promise<ZooDownloadResult> {
  const file = fileOf(entry, options);
  const done = (fetched: number): ZooDownloadResult => {
    writeZooSettings(entry, file);
    return { name: entry.name, file, bytes: entry.bytes, sha256: entry.sha256, fetched };
  };
  if (sizeOf(file) === entry.bytes && !options.from) {
    if (await verified(entry, file, ctx)) return done(0);
    throw new InspectorError(
      'ZOO_FILE_MISMATCH',
      `${file} is not the ${entry.title} the project pinned (its SHA-256 differs); it was left as it is — delete it and download again`,
    );
  }
  if (options.from) return copyIn(entry, options.from, file, ctx, done);
  const lock = lockDownload(entry, file);
  try {
    return await fetchAndVerify(entry, file, { ...ctx, progress: (d, t, m) => (lock.touch(), ctx.progress(d, t, m)) }, options, done);
  } finally {
    lock.release();
  }
}

async function fetchAndVerify(
  entry: ZooEntry,
  file: string,
  ctx: JobContext,
  options: ZooOptions,
  done: (fetched: number) => ZooDownloadResult,
): Promise<ZooDownloadResult> {
  const part = `${file}.part`;
  const before = Math.max(0, sizeOf(part));
  let have = before;
  for (let attempt = 0; ; attempt++) {
    try {
      have = await fetchInto(entry, part, options, ctx);
      break;
    } catch (error) {
      const code = (error as InspectorError).code;
      if (code !== 'ZOO_DOWNLOAD_INTERRUPTED' || attempt >= (options.retries ?? 3)) throw error;
      ctx.progress(Math.max(0, sizeOf(part)), entry.bytes, `Connection dropped; resuming ${entry.title}…`);
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
    }
  }
  if (have !== entry.bytes)
    throw new InspectorError(
      'ZOO_DOWNLOAD_INTERRUPTED',
      `The download of ${entry.title} ended at ${mb(have)} of ${mb(entry.bytes)} MB; the next try resumes there`,
    );
  if (!(await verified(entry, part, ctx))) {
    fs.rmSync(part, { force: true });
    throw new InspectorError(
      'ZOO_FILE_MISMATCH',
      `The file downloaded from ${new URL(zooUrl(entry, options)).host} is not the ${entry.title} the project pinned (its SHA-256 differs); it was deleted. Try again later or another mirror. ${byHand(entry, options)}`,
    );
  }
  fs.renameSync(part, file);
  return done(have - before);
}

/** A file the person downloaded by hand: checked against the pinned size and hash, then copied into the zoo folder. */
async function copyIn(entry: ZooEntry, from: string, file: string, ctx: JobContext, done: (fetched: number) => ZooDownloadResult): Promise<ZooDownloadResult> {
  const size = fs.existsSync(from) ? fs.statSync(from) : undefined;
  if (!size?.isFile()) throw new InspectorError('FILE_NOT_FOUND', `No file at ${from}`);
  if (size.size !== entry.bytes)
    throw new InspectorError('ZOO_FILE_MISMATCH', `${from} has ${size.size} bytes; the ${entry.title} the project pinned has ${entry.bytes}`);
  if (!(await verified(entry, from, ctx)))
    throw new InspectorError('ZOO_FILE_MISMATCH', `${from} is not the ${entry.title} the project pinned (its SHA-256 differs)`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(from, `${file}.part`);
  fs.renameSync(`${file}.part`, file);
  return done(0);
}

/** The zoo-download job: one catalog model, checked against its pinned SHA-256. */
export const zooDownloadJob: JobDescriptor<'zooDownload'> = {
  run: (_host, params, ctx) => downloadZooModel(findZooEntry(params.name), ctx),
};
