/** `cnn-inspect topk-merge`: shard atlases merged into one, exactly the unsharded index. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InspectorError } from '../../../shared/errors';
import { mergeTopK, type TopKIndex } from '../../engine/analyses/topk';
import { writeFileAtomic } from '../../engine/files/atomic';
import { required, type Flags } from '../args';

/** Merges shard atlases (folders with index.json and patches/) into one folder, copying the winners' patches. */
export function mergeAtlasFolders(parts: string[], outDir: string): { layer: string; k: number; images: number; out: string } {
  const indexes = parts.map((dir) => {
    const file = path.join(dir, 'index.json');
    if (!fs.existsSync(file)) throw new InspectorError('FILE_NOT_FOUND', `No atlas index at ${file}`);
    const index = JSON.parse(fs.readFileSync(file, 'utf8')) as TopKIndex;
    for (const unit of index.units) for (const e of unit.top) if (e.patch) e.patch = path.resolve(dir, e.patch);
    return index;
  });
  const merged = mergeTopK(indexes);
  for (const unit of merged.units)
    for (const e of unit.top)
      if (e.patch) {
        const rel = path.posix.join('patches', merged.layer, `unit${unit.unit}_top${unit.top.indexOf(e) + 1}.png`);
        fs.mkdirSync(path.dirname(path.join(outDir, rel)), { recursive: true });
        fs.copyFileSync(e.patch, path.join(outDir, rel) + '.tmp');
        e.patch = rel;
      }
  // Second pass renames, so a patch copied from a folder that is also the output is never overwritten mid-merge.
  for (const unit of merged.units) for (const e of unit.top) if (e.patch) fs.renameSync(path.join(outDir, e.patch) + '.tmp', path.join(outDir, e.patch));
  writeFileAtomic(path.join(outDir, 'index.json'), JSON.stringify(merged));
  return { layer: merged.layer, k: merged.k, images: merged.images, out: path.resolve(outDir, 'index.json') };
}

export async function runTopkMerge(flags: Flags, _rest: string[], out: (text: string) => void): Promise<void> {
  out(`${JSON.stringify(mergeAtlasFolders(required(flags, 'parts').split(','), required(flags, 'out-dir')))}\n`);
}
