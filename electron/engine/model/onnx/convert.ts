/**
 * ONNX graph → TF.js Layers functional model, so every analysis runs on imported models unchanged.
 *
 * Layout: ONNX image tensors are NCHW, the engine's are NHWC. The conversion happens once, here: convolution
 * kernels are transposed OIHW → HWIO, channel axes map to the last axis, and a Flatten of a map with H·W > 1 keeps
 * TF's (h, w, c) order while the dense layer after it gets its weight rows permuted to match ONNX's (c, h, w)
 * order (a FlatReorder layer is inserted where the flattened vector goes anywhere else).
 *
 * Each operator is converted by its entry of the operator table (ops/, one file per family); a node whose inputs
 * are all constants is folded at load time first (ops/constants.ts), so exporters' shape plumbing disappears.
 *
 * Errors: MODEL_UNSUPPORTED_OP (each unsupported operator named with its node), ONNX_INVALID,
 * MODEL_WEIGHTS_INCONSISTENT.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { InspectorError } from '../../../../shared/errors';
import { where } from './attributes';
import { makeGraphContext, uniqueName, validName, type NodeContext, type Pair } from './graph-context';
import { foldConstantNode } from './ops/constants';
import { ONNX_OPERATORS, SUPPORTED_ONNX_OPS } from './ops';
import type { OnnxGraph, OnnxNode } from './proto';

export { SUPPORTED_ONNX_OPS };

/**
 * The scope of an ONNX node name. PyTorch ≥ 1.13 writes scopes ("/layer2/layer2.0/conv1/Conv"); they become the
 * module path ("layer2.0.conv1") a PyTorch user knows. Other producers' names are kept as they are.
 */
export function scopeOf(node: OnnxNode): string {
  if (!node.name.startsWith('/')) return validName(node.name);
  const segments = node.name.split('/').filter(Boolean);
  segments.pop(); // the op, e.g. "Conv"
  // A container's children are written "<container's segment>.<key>" ("/features/features.1/conv/conv.0/…").
  const parts: string[] = [];
  let previous = '';
  for (const seg of segments) {
    parts.push(previous && seg.startsWith(`${previous}.`) ? seg.slice(previous.length + 1) : seg);
    previous = seg;
  }
  return validName(parts.join('.'));
}

/**
 * One layer name per node, valid for TF.js and unique. Where a module exported as several nodes (a Pad then an
 * AveragePool), the node that produces the module's output gets the module's name, the others a suffixed one.
 */
export function layerNames(nodes: OnnxNode[], reserved: Set<string>): string[] {
  const bases = nodes.map((n) => scopeOf(n) || n.opType.toLowerCase());
  const lastOfBase = new Map<string, number>();
  bases.forEach((b, i) => lastOfBase.set(b, i));
  const names: string[] = [];
  bases.forEach((b, i) => {
    if (lastOfBase.get(b) === i) names[i] = uniqueName(b, reserved);
  });
  bases.forEach((b, i) => {
    if (names[i] === undefined) names[i] = uniqueName(`${b}_${nodes[i].opType.toLowerCase()}`, reserved);
  });
  return names;
}

/** The graph's one image input as a TF.js input layer [H, W, C] (the size from the file, else the settings, else 224). */
function imageInput(graph: OnnxGraph, inputHw: Pair | undefined, usedNames: Set<string>, notices: string[]) {
  const initializerNames = new Set(graph.initializer.map((t) => t.name));
  const graphInputs = graph.input.filter((i) => !initializerNames.has(i.name));
  if (graphInputs.length !== 1) {
    throw new InspectorError(
      'MODEL_UNSUPPORTED_FORMAT',
      `The model has ${graphInputs.length} inputs (${graphInputs.map((i) => i.name).join(', ')}); CNN Inspector handles single-image models`,
    );
  }
  const inputInfo = graphInputs[0];
  const dims = inputInfo.type?.tensorType?.shape?.dim ?? [];
  if (dims.length !== 4) {
    throw new InspectorError(
      'MODEL_UNSUPPORTED_FORMAT',
      `The model input "${inputInfo.name}" has ${dims.length} dimensions; an image model takes [batch, channels, height, width]`,
    );
  }
  const dimValue = (d: { dimValue?: number; dimParam?: string }): number | undefined => (d.dimValue && d.dimValue > 0 ? Number(d.dimValue) : undefined);
  const channels = dimValue(dims[1]);
  if (!channels) throw new InspectorError('MODEL_UNSUPPORTED_FORMAT', `The model input "${inputInfo.name}" does not say how many channels it has`);
  let hw: Pair;
  const fileHw: [number | undefined, number | undefined] = [dimValue(dims[2]), dimValue(dims[3])];
  if (fileHw[0] && fileHw[1]) hw = [fileHw[0], fileHw[1]];
  else {
    hw = inputHw ?? [224, 224];
    notices.push(`The model accepts any image size; CNN Inspector runs it at ${hw[0]}×${hw[1]}${inputHw ? ' (from its settings)' : ''}`);
  }
  const name = uniqueName(validName(inputInfo.name) || 'input', usedNames);
  return { onnxName: inputInfo.name, input: tfl.input({ shape: [hw[0], hw[1], channels], name }) };
}

export function convertOnnxGraph(
  graph: OnnxGraph,
  opset: number,
  baseDir: string,
  inputHw: Pair | undefined,
  onProgress: (done: number, total: number, message: string) => void = () => undefined,
): { model: tfl.LayersModel; notices: string[] } {
  const usedNames = new Set<string>();
  const cx = makeGraphContext(graph, opset, baseDir, usedNames);
  const { onnxName, input } = imageInput(graph, inputHw, usedNames, cx.notices);
  cx.values.set(onnxName, { kind: 'tensor', t: input });
  const nodeNames = layerNames(graph.node, usedNames);

  // Nodes, in the topological order ONNX requires.
  graph.node.forEach((node, index) => {
    if (cx.folded.has(node)) return;
    if (index % 8 === 0) onProgress(index, graph.node.length, `Converting layer ${index + 1} of ${graph.node.length}`);
    const n: NodeContext = {
      cx,
      node,
      index,
      op: node.opType,
      out: node.output[0],
      define: (v) => cx.values.set(node.output[0], v),
      defineLayer: (t, extra = {}) => cx.values.set(node.output[0], { kind: 'tensor', t, ...extra }),
      nameFor: () => nodeNames[index],
    };
    const entry = ONNX_OPERATORS[node.opType];
    if (!entry) return cx.unsupported(node, index, `the operator ${node.opType}`);
    if (opset < entry.since)
      throw new InspectorError('ONNX_INVALID', `${where(node, index)}: ${node.opType} does not exist in opset ${opset} (it came in opset ${entry.since})`);
    const inputsAreConst = node.input.filter(Boolean).every((name) => {
      const v = cx.values.get(name);
      return (v && v.kind === 'const') || (!v && cx.initializers.has(name));
    });
    if (inputsAreConst && node.input.some(Boolean) && foldConstantNode(n)) return;
    entry.convert(n);
  });

  if (graph.output.length < 1) throw new InspectorError('ONNX_INVALID', 'The model declares no outputs');
  const outName = graph.output[0].name;
  const outValue = cx.values.get(outName);
  if (!outValue || outValue.kind !== 'tensor') throw new InspectorError('ONNX_INVALID', `The model output "${outName}" is not computed from its input`);
  let output = outValue.t;
  if (output.shape.length === 4 && output.shape[1] === 1 && output.shape[2] === 1) {
    output = tfl.layers.flatten({ name: uniqueName('output_flatten', usedNames) }).apply(output) as tfl.SymbolicTensor;
  }
  if (graph.output.length > 1) cx.notices.push(`The model has ${graph.output.length} outputs; CNN Inspector shows the first, "${outName}"`);
  const model = tfl.model({ inputs: input, outputs: output, name: graph.name ? graph.name.replace(/[^A-Za-z0-9_.-]/g, '_') : 'onnx_model' });
  return { model, notices: cx.notices };
}
