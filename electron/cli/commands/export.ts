/** `cnn-inspect export`: the model as ONNX or TF.js. */
import type { ExportFormat } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { EXPORT_FORMATS, exportModelToPath } from '../../engine/model/export';
import { ENGINE_VERSION } from '../../engine/paths';
import { type CommandContext, required } from '../args';

export async function runExport(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  const format = required(flags, 'format');
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new InspectorError('BAD_ARGUMENT', `--format must be one of ${EXPORT_FORMATS.join(', ')}`);
  const written = await exportModelToPath(core.requireModel(), format as ExportFormat, required(flags, 'out'), ENGINE_VERSION);
  print({ format, path: written });
}
