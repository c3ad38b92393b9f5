/**
 * Reads a batch of dataset entries as one [N,H,W,C] float32 array for the model. Files that cannot be read are
 * left out of the batch and named in `skipped` — never dropped silently.
 */
import type { ImageEntry, SkippedFile } from '../../../shared/contract';
import { toErrorInfo } from '../../../shared/errors';
import type { LoadedModel } from '../model/loaded-model';
import type { Dataset } from './dataset';

export interface InputBatch {
  /** [used.length, H, W, C], row-major. */
  batch: Float32Array;
  /** The entries that made it into the batch, in order. */
  used: ImageEntry[];
}

export async function loadInputBatch(dataset: Dataset, entries: ImageEntry[], loaded: LoadedModel, skipped: SkippedFile[]): Promise<InputBatch> {
  const size = loaded.summary.inputShape.reduce((a, b) => a * b, 1);
  // Decoded in parallel (sharp works on libuv's thread pool); order and the skipped list stay the entries' order.
  const results = await Promise.all(
    entries.map((entry) =>
      dataset.loadInput(entry.index, loaded.summary.preprocessing, loaded.summary.inputShape).then(
        (input) => ({ entry, input }),
        (error: unknown) => ({ entry, error: toErrorInfo(error) }),
      ),
    ),
  );
  const used: ImageEntry[] = [];
  const inputs: Float32Array[] = [];
  for (const r of results) {
    if ('input' in r) {
      used.push(r.entry);
      inputs.push(r.input);
    } else skipped.push({ file: r.entry.file, code: r.error.code, message: r.error.message });
  }
  const batch = new Float32Array(used.length * size);
  inputs.forEach((x, i) => batch.set(x, i * size));
  return { batch, used };
}

/**
 * Batches of `entries` with the next one decoding while the current one runs through the model: decoding and
 * inference overlap, and at most two batches are in memory.
 */
export async function* prefetchBatches(
  dataset: Dataset,
  entries: ImageEntry[],
  loaded: LoadedModel,
  batchSize: number,
  skipped: SkippedFile[],
): AsyncGenerator<InputBatch & { end: number }> {
  const load = (start: number) =>
    loadInputBatch(dataset, entries.slice(start, start + batchSize), loaded, skipped).then((b) => ({ ...b, end: Math.min(entries.length, start + batchSize) }));
  let next = entries.length > 0 ? load(0) : undefined;
  for (let start = 0; next; start += batchSize) {
    const current = await next;
    next = start + batchSize < entries.length ? load(start + batchSize) : undefined;
    yield current;
  }
}
