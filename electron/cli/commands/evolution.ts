/** `cnn-inspect evolution`: a unit's strongest image at each training checkpoint, projected (ZF Fig. 4). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InspectorError } from '../../../shared/errors';
import { writeFileAtomic } from '../../engine/files/atomic';
import { type CommandContext, required } from '../args';
import { runJob } from '../run';

export async function runEvolution(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const outDir = required(flags, 'out-dir');
  let units: number[] | undefined;
  if (typeof flags.units === 'string') {
    units = flags.units.split(',').map(Number);
    if (units.some((u) => !Number.isInteger(u))) throw new InspectorError('BAD_ARGUMENT', '--units must be a comma-separated list of unit numbers');
  }
  const r = await runJob(core, 'evolution', { layer: typeof flags.layer === 'string' ? flags.layer : undefined, units }, flags);
  const cells = r.cells.map((cell) => {
    const base = `unit${cell.unit}_${cell.checkpoint}`;
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, `${base}_projection.png`), cell.projection);
    fs.writeFileSync(path.join(outDir, `${base}_patch.png`), cell.patch);
    return {
      checkpoint: cell.checkpoint,
      unit: cell.unit,
      image: cell.image,
      value: cell.value,
      position: cell.position,
      projection: `${base}_projection.png`,
      patch: `${base}_patch.png`,
    };
  });
  const index = { layer: r.layer, units: r.units, checkpoints: r.checkpoints, cells };
  writeFileAtomic(path.join(outDir, 'index.json'), JSON.stringify(index));
  print({ layer: r.layer, units: r.units, checkpoints: r.checkpoints, out: path.resolve(outDir, 'index.json') });
}
