/**
 * Results of deterministic dataset-level analyses, kept in the workspace so reopening them is instant. The key
 * covers the model file (path, size, mtime), the dataset (path and its class counts) and the job's parameters;
 * values are stored in the wire format, which keeps typed arrays as bytes.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DatasetSummary } from '../../../shared/contract';
import { decodeMessage, encodeMessage } from '../../../shared/wire';
import { writeFileAtomic } from './atomic';
import { stamp, workspaceRoot } from './workspace';
import { ENGINE_VERSION } from '../paths';

/** `schema`: how many times the kind's result layout gained fields since the engine version last changed (jobs.ts). */
export function cacheKey(modelJsonPath: string, dataset: DatasetSummary, kind: string, params: unknown, schema?: number): string {
  const fingerprint = JSON.stringify({
    // The engine version: a new release never serves results an older one computed.
    engine: ENGINE_VERSION,
    model: [path.resolve(modelJsonPath), stamp(modelJsonPath)],
    dataset: [dataset.id, dataset.count, dataset.classes],
    kind,
    // A job whose result gained fields since the engine version last changed (absent for the others, so their keys stay).
    schema,
    params,
  });
  return createHash('sha256').update(fingerprint).digest('hex').slice(0, 24);
}

function fileOf(key: string): string {
  return path.join(workspaceRoot(), 'cache', `${key}.bin`);
}

export function readCached<T>(key: string): T | undefined {
  const file = fileOf(key);
  if (!fs.existsSync(file)) return undefined;
  try {
    const message = decodeMessage(fs.readFileSync(file));
    return message.kind === 'result' && message.ok ? (message.value as T) : undefined;
  } catch {
    return undefined; // a damaged cache entry is recomputed
  }
}

export function writeCached(key: string, value: unknown): void {
  writeFileAtomic(fileOf(key), encodeMessage({ kind: 'result', id: 0, ok: true, value }));
}
