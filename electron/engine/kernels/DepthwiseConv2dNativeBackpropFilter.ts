/**
 * DepthwiseConv2dNativeBackpropFilter for the wasm backend, which lacks it: the gradient of a depthwise
 * convolution with respect to its filter, without which tfjs-wasm cannot train a MobileNet-style model at all
 * (training uses ONNX Runtime where it is installed; this is the path without it). A direct loop: each channel c
 * and multiplier j gathers x of channel c under each kernel tap times dy of output channel c·mult + j.
 */
import {
  DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { depthwiseInfo, forEachDepthwiseTap } from './depthwise-taps';
import type { WasmBackendLike } from './wasm-backend';

export function depthwiseBackpropFilterWasm(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: WasmBackendLike;
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { filterShape } = attrs;
  const info = depthwiseInfo(x.shape, filterShape, attrs);
  const { inChannels, outChannels } = info;
  const mult = outChannels / inChannels;
  const dw = backend.makeOutput([...filterShape], 'float32');
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(dy);
  const dwv = backend.typedArrayFromHeap(dw);
  dwv.fill(0);
  forEachDepthwiseTap(info, (o, i, f) => {
    for (let c = 0; c < inChannels; c++) {
      const xc = xv[i + c];
      for (let j = 0; j < mult; j++) dwv[f + c * mult + j] += xc * dyv[o + c * mult + j];
    }
  });
  return dw;
}

export const depthwiseBackpropFilterWasmConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilterWasm as unknown as KernelFunc,
};
