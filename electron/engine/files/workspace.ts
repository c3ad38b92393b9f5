/**
 * The workspace on disk: results that are expensive to compute and cheap to browse (atlases, caches), one folder
 * per (model, dataset) pair so reopening is instant and works offline. Location: CNN_INSPECTOR_WORKSPACE, else
 * ~/.cnn-inspector/workspace.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function workspaceRoot(): string {
  return process.env.CNN_INSPECTOR_WORKSPACE ?? path.join(os.homedir(), '.cnn-inspector', 'workspace');
}

/**
 * Folder for results of `modelId` on `datasetId`. The key includes the model file's size and modification time,
 * so retraining a model in place does not serve a stale atlas.
 */
/** Size and modification time of a file (or 'missing'): what results kept on disk are keyed on. */
export function stamp(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export function pairFolder(modelPath: string, datasetPath: string, kind: string): string {
  const key = createHash('sha256')
    .update(`${path.resolve(modelPath)}|${stamp(modelPath)}|${path.resolve(datasetPath)}`)
    .digest('hex')
    .slice(0, 16);
  return path.join(workspaceRoot(), kind, key);
}
