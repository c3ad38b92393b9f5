/** `cnn-inspect deconv`: one unit projected down to input space (deconvnet, gradient or guided backprop), as .npy. */
import * as path from 'node:path';
import { InspectorError } from '../../../shared/errors';
import { PROJECTION_METHODS, type ProjectionMethod } from '../../engine/analyses/projection';
import { writeNpy } from '../../engine/files/npy';
import { type CommandContext, required } from '../args';
import { loadImage } from '../run';

export async function runDeconv(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  const layer = required(flags, 'layer');
  const unitText = required(flags, 'unit');
  const unit = Number(unitText);
  if (!Number.isInteger(unit)) throw new InspectorError('BAD_ARGUMENT', `--unit must be an integer, got "${unitText}"`);
  const method = (typeof flags.method === 'string' ? flags.method : 'deconv') as ProjectionMethod;
  if (!PROJECTION_METHODS.includes(method)) throw new InspectorError('BAD_ARGUMENT', `--method must be deconv, gradient or guided (got "${method}")`);
  let position: number[] | undefined;
  if (typeof flags.position === 'string') {
    position = flags.position.split(',').map(Number);
    if (position.length !== 2 || position.some((v) => !Number.isInteger(v))) throw new InspectorError('BAD_ARGUMENT', '--position must be y,x');
  }
  const outFile = required(flags, 'out');
  const image = await loadImage(core, flags);
  const p = await core.project({ image, layer, unit, method, position });
  writeNpy(outFile, { shape: p.shape, data: p.data });
  print({ layer, unit, method, position: p.position, value: p.value, shape: p.shape, out: path.resolve(outFile) });
}
