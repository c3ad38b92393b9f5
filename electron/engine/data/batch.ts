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
  const inputs: Float32Array[] = [];
  const used: ImageEntry[] = [];
  for (const entry of entries) {
    try {
      inputs.push(await dataset.loadInput(entry.index, loaded.summary.preprocessing, loaded.summary.inputShape));
      used.push(entry);
    } catch (error) {
      const info = toErrorInfo(error);
      skipped.push({ file: entry.file, code: info.code, message: info.message });
    }
  }
  const batch = new Float32Array(used.length * size);
  inputs.forEach((x, i) => batch.set(x, i * size));
  return { batch, used };
}
