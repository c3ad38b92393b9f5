/**
 * The layer graph of a loaded model as the rest of the app sees it: name, type, output shape, parameters,
 * inputs, and the receptive field of every spatial layer (ZF-style top-9 patches are cropped from it).
 *
 * Receptive fields are propagated in graph order. For an output position p of a layer with kernel k, stride s,
 * dilation d and top/left padding pad, fed by an input whose field is (size, stride j, offset o):
 *   j' = j·s,  size' = size + (k_eff − 1)·j,  o' = o − pad·j,   with k_eff = (k − 1)·d + 1.
 * Element-wise layers keep the field; layers with several inputs take the largest field among them.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { LayerInfo, ReceptiveField } from '../../../shared/contract';

type Pair = [number, number];

interface LayerConfigLike {
  kernelSize?: number | number[];
  poolSize?: number | number[];
  strides?: number | number[] | null;
  dilationRate?: number | number[];
  padding?: string | number | number[] | number[][];
  cropping?: number | number[] | number[][];
  activation?: string;
  filters?: number;
}

const pair = (v: number | number[] | null | undefined, fallback: number): Pair =>
  v === undefined || v === null ? [fallback, fallback] : Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];

/** Output shape without the batch dimension. */
function outputShapeOf(layer: tfl.layers.Layer): number[] {
  let shape = layer.outputShape as unknown;
  if (Array.isArray(shape) && Array.isArray(shape[0])) shape = shape[0];
  return (shape as Array<number | null>).slice(1).map((d) => (d === null ? -1 : d));
}

function inboundNames(layer: tfl.layers.Layer): string[] {
  const names: string[] = [];
  for (const node of (layer as unknown as { inboundNodes: Array<{ inboundLayers: tfl.layers.Layer[] }> }).inboundNodes) {
    for (const inbound of node.inboundLayers) if (!names.includes(inbound.name)) names.push(inbound.name);
  }
  return names;
}

/** TF's SAME padding: the top/left share of the total. */
function samePad(inSize: number, k: number, s: number): number {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + k - inSize, 0);
  return Math.floor(total / 2);
}

const WINDOWED = new Set([
  'Conv2D',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'GroupedConv2D',
  'MaxPooling2D',
  'AveragePooling2D',
  'CountedAveragePooling2D',
  'DilatedPooling2D',
]);

/** Layers the receptive-field arithmetic cannot follow: the field is left undefined from them on. */
const BREAKS_SPATIAL_MAP = new Set(['UpSampling2D', 'Conv2DTranspose', 'Reshape', 'Permute', 'MapMatMul', 'ZeroInsertion2D']);

export function describeLayers(model: tfl.LayersModel): LayerInfo[] {
  const fields = new Map<string, ReceptiveField | undefined>();
  const infos: LayerInfo[] = [];
  const inputShapes = new Map<string, number[]>();

  // Sequential models do not list their InputLayer; add it so the tree starts at the image.
  const first = model.layers[0];
  const hasInputLayer = first.getClassName() === 'InputLayer';
  // A Sequential model's first layer is fed by an implicit InputLayer (e.g. "conv1_input").
  const inputLayerName = hasInputLayer ? first.name : (inboundNames(first)[0] ?? 'input');
  if (!hasInputLayer) {
    const inputShape = (model.inputs[0].shape as Array<number | null>).slice(1).map((d) => d ?? -1);
    infos.push({ name: inputLayerName, type: 'InputLayer', outputShape: inputShape, params: 0, inputs: [] });
    if (inputShape.length === 3) fields.set(inputLayerName, { size: [1, 1], stride: [1, 1], offset: [0, 0] });
    inputShapes.set(inputLayerName, inputShape);
  }

  for (const layer of model.layers) {
    const type = layer.getClassName();
    const config = layer.getConfig() as LayerConfigLike;
    let inputs = inboundNames(layer);
    if (!hasInputLayer && inputs.length === 0 && type !== 'InputLayer') inputs = [inputLayerName];
    const outputShape = outputShapeOf(layer);
    inputShapes.set(layer.name, outputShape);
    const info: LayerInfo = { name: layer.name, type, outputShape, params: layer.countParams(), inputs };
    if (config.activation && config.activation !== 'linear') info.activation = config.activation;

    let field: ReceptiveField | undefined;
    if (type === 'InputLayer') {
      field = outputShape.length === 3 ? { size: [1, 1], stride: [1, 1], offset: [0, 0] } : undefined;
    } else if (outputShape.length === 3 && !BREAKS_SPATIAL_MAP.has(type)) {
      const candidates = inputs.map((n) => fields.get(n)).filter((f): f is ReceptiveField => f !== undefined);
      const incoming = candidates.sort((a, b) => b.size[0] * b.size[1] - a.size[0] * a.size[1])[0];
      if (incoming && candidates.length === inputs.length) {
        if (WINDOWED.has(type)) {
          const k = pair(config.kernelSize ?? config.poolSize, 1);
          const s = pair(config.strides ?? (type.endsWith('Pooling2D') ? config.poolSize : 1), 1);
          const d = pair(config.dilationRate, 1);
          const kEff: Pair = [(k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1];
          const inShape = inputShapes.get(inputs[0]) ?? [];
          const pad: Pair = config.padding === 'same' ? [samePad(inShape[0], kEff[0], s[0]), samePad(inShape[1], kEff[1], s[1])] : [0, 0];
          field = {
            size: [incoming.size[0] + (kEff[0] - 1) * incoming.stride[0], incoming.size[1] + (kEff[1] - 1) * incoming.stride[1]],
            stride: [incoming.stride[0] * s[0], incoming.stride[1] * s[1]],
            offset: [incoming.offset[0] - pad[0] * incoming.stride[0], incoming.offset[1] - pad[1] * incoming.stride[1]],
          };
          if (!type.endsWith('Pooling2D')) {
            info.kernel = { size: k, strides: s, filters: outputShape[2] };
          }
        } else if (type === 'ZeroPadding2D' || type === 'ConstantPadding2D' || type === 'EdgePadding2D') {
          const p = config.padding as number | number[] | number[][];
          const top = typeof p === 'number' ? p : Array.isArray(p[0]) ? (p as number[][])[0][0] : (p as number[])[0];
          const left = typeof p === 'number' ? p : Array.isArray(p[1]) ? (p as number[][])[1][0] : ((p as number[])[1] ?? top);
          field = { ...incoming, offset: [incoming.offset[0] - top * incoming.stride[0], incoming.offset[1] - left * incoming.stride[1]] };
        } else if (type === 'Cropping2D') {
          const c = config.cropping as number | number[] | number[][];
          const top = typeof c === 'number' ? c : Array.isArray(c[0]) ? (c as number[][])[0][0] : (c as number[])[0];
          const left = typeof c === 'number' ? c : Array.isArray(c[1]) ? (c as number[][])[1][0] : ((c as number[])[1] ?? top);
          field = { ...incoming, offset: [incoming.offset[0] + top * incoming.stride[0], incoming.offset[1] + left * incoming.stride[1]] };
        } else {
          field = incoming;
        }
      }
    }
    fields.set(layer.name, field);
    if (field && outputShape.length === 3) info.receptiveField = field;
    infos.push(info);
  }
  return infos;
}

/** The input-space box [top, left, bottom, right) of output position (y, x), clipped to the image. */
export function receptiveBox(field: ReceptiveField, y: number, x: number, imageSize: [number, number]): [number, number, number, number] {
  const top = field.offset[0] + y * field.stride[0];
  const left = field.offset[1] + x * field.stride[1];
  return [Math.max(0, top), Math.max(0, left), Math.min(imageSize[0], top + field.size[0]), Math.min(imageSize[1], left + field.size[1])];
}
