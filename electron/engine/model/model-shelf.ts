/**
 * Models open in this thread, shared by every session that opens the same file: thirty students on the
 * instructor's ResNet hold one copy of its weights, not thirty. An entry is found by the file's path and the
 * stamps of the file and its saved settings, so a model saved over, or given new class names, opens afresh while
 * the sessions still on the old copy keep it. The last session to let a model go disposes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { releaseBatchSessions } from '../runtime/batch-forward';
import { openModel, type LoadedModel } from './loaded-model';
import { modelSettingsStamp, type LoadProgress } from './registry';

interface ShelfEntry {
  key: string;
  opening: Promise<LoadedModel>;
  holders: number;
  /** Set once the open succeeded: how a release finds its entry. */
  model?: LoadedModel;
}

const shelf = new Map<string, ShelfEntry>();

function shelfKey(file: string, id: string): string {
  let stamp = 'absent';
  try {
    const stat = fs.statSync(file);
    stamp = `${stat.size}:${stat.mtimeMs}`;
  } catch {
    // openModel reports the missing file with its own code
  }
  return JSON.stringify([path.resolve(file), id, stamp, modelSettingsStamp(file)]);
}

/** The model at `file`, opened once for all holders; each acquire is matched by one releaseModel. */
export async function acquireModel(file: string, id: string, onProgress?: LoadProgress): Promise<LoadedModel> {
  const key = shelfKey(file, id);
  let entry = shelf.get(key);
  if (!entry) {
    const created: ShelfEntry = { key, opening: openModel(file, id, onProgress), holders: 0 };
    created.opening.then(
      (model) => (created.model = model),
      () => shelf.get(key) === created && shelf.delete(key),
    );
    shelf.set(key, created);
    entry = created;
  } else {
    onProgress?.(1, 1, 'Already open');
  }
  entry.holders++;
  try {
    return await entry.opening;
  } catch (error) {
    entry.holders--;
    throw error;
  }
}

/** One holder lets the model go; the last one frees its tensors and batch sessions. */
export function releaseModel(model: LoadedModel): void {
  for (const [key, entry] of shelf) {
    if (entry.model !== model) continue;
    if (--entry.holders > 0) return;
    shelf.delete(key);
    void releaseBatchSessions(model);
    model.dispose();
    return;
  }
}

/** How many distinct models this thread holds, and their holders (tests, and the classroom's memory figure). */
export function shelfContents(): Array<{ id: string; holders: number }> {
  return [...shelf.values()].filter((e) => e.model).map((e) => ({ id: e.model!.summary.id, holders: e.holders }));
}
