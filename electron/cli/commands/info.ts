/** `cnn-inspect info`: the model's layers, shapes, weights and multiply–adds. */
import { onnxRuntimeInstalled } from '../../engine/runtime/onnx-runtime';
import type { CommandContext } from '../args';

export async function runInfo(cx: CommandContext): Promise<void> {
  const { backend, summary, print, flags } = cx;
  print({
    name: summary.name,
    format: summary.format,
    ...(summary.notices.length ? { notices: summary.notices } : {}),
    inputShape: summary.inputShape,
    ...(summary.classes ? { classes: summary.classes } : {}),
    layers: summary.layers.map((l) => ({ name: l.name, type: l.type, outputShape: l.outputShape, params: l.params, ...(l.macs ? { macs: l.macs } : {}) })),
    macs: summary.layers.reduce((sum, l) => sum + (l.macs ?? 0), 0),
    ...(flags.backend ? { backend: backend.name, backendDetail: backend.detail, batchEngine: onnxRuntimeInstalled() ? 'onnxruntime' : 'tfjs' } : {}),
  });
}
