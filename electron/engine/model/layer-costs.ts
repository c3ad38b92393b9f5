/**
 * What each layer costs per image: multiply–adds (MACs; FLOPs are about twice that) of the layers that multiply
 * weights with inputs — convolutions (plain, grouped, depthwise, separable, transposed), dense layers and map
 * products. Elementwise layers (activations, pooling, normalisation, adds) are not counted, as in the figures
 * papers and torchvision quote (AlexNet 0.71 G, ResNet-18 1.81 G at 224×224).
 */
import type * as tfl from '@tensorflow/tfjs-layers';

type Config = Record<string, unknown>;

const dims = (shape: unknown): number[] =>
  (Array.isArray(shape) ? (Array.isArray(shape[0]) ? shape[0] : shape) : []).slice(1).map((d: number | null) => d ?? 1);
const product = (xs: number[]) => xs.reduce((a, b) => a * b, 1);
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v ?? 1), Number(v ?? 1)]);

/** Multiply–adds of one layer for one image, from its class, configuration and input and output shapes. */
export function layerMacs(type: string, config: Config, input: number[], output: number[]): number {
  const positions = output.length === 3 ? output[0] * output[1] : 1;
  const inChannels = input[input.length - 1] ?? 0;
  const outChannels = output[output.length - 1] ?? 0;
  const [kh, kw] = pair(config.kernelSize);
  switch (type) {
    case 'Conv2D':
    case 'GroupedConv2D':
      return positions * outChannels * kh * kw * (inChannels / Number(config.groups ?? 1));
    case 'DepthwiseConv2D':
      return positions * outChannels * kh * kw;
    case 'SeparableConv2D': {
      const middle = inChannels * Number(config.depthMultiplier ?? 1);
      return positions * (middle * kh * kw + middle * outChannels);
    }
    case 'Conv2DTranspose':
      // Every input cell spreads its kernel over the output.
      return product(input.slice(0, 2)) * inChannels * kh * kw * outChannels;
    case 'Dense':
      return (product(input) / inChannels) * inChannels * outChannels;
    case 'MapMatMul':
      // Per output channel, an [H, W] × [W, K] product.
      return outChannels * output[0] * input[1] * output[1];
    default:
      return 0;
  }
}

/** Multiply–adds per image of every layer of `model`, by name. */
export function modelMacs(model: tfl.LayersModel): Map<string, number> {
  const out = new Map<string, number>();
  for (const layer of model.layers) {
    // The shapes of the tensors the layer was applied to (a functional model's layers have no inputShape).
    const node = (layer as unknown as { inboundNodes: Array<{ inputTensors: Array<{ shape: unknown }>; outputTensors: Array<{ shape: unknown }> }> })
      .inboundNodes[0];
    if (!node) continue;
    const input = dims(node.inputTensors[0]?.shape);
    const output = dims(node.outputTensors[0]?.shape);
    out.set(layer.name, layerMacs(layer.getClassName(), layer.getConfig() as Config, input, output));
  }
  return out;
}
