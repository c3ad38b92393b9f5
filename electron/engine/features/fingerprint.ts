/** What identifies a dataset's contents on disk, for caches and resumable runs. */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { Dataset } from '../data/dataset';
import { stamp } from '../files/workspace';

/**
 * A fingerprint of the images a run trains on: every file's name, class, size and modification time. A resumed
 * run must see the same images, or its split and its saved progress would not mean what they meant.
 */
export function datasetFingerprint(dataset: Dataset, root: string): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(dataset.summary.classes));
  for (const e of dataset.entries) hash.update(`${e.file}|${e.classIndex}|${stamp(path.join(root, e.file))}\n`);
  return hash.digest('hex').slice(0, 24);
}
