/**
 * DepthwiseConv2dNativeBackpropInput for the wasm backend, which lacks it: the gradient of a depthwise
 * convolution with respect to its input, needed to project units of MobileNet-style models (gradient, guided and
 * deconvnet steps through depthwise layers) and, with DepthwiseConv2dNativeBackpropFilter, to fine-tune them. A direct loop: for each output position, each
 * channel c and multiplier j, dy spreads back over the kernel window of channel c.
 */
import {
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { depthwiseInfo, forEachDepthwiseTap } from './depthwise-taps';
import type { WasmBackendLike } from './wasm-backend';

export function depthwiseBackpropInputWasm(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: WasmBackendLike;
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const { inputShape } = attrs;
  const info = depthwiseInfo(inputShape, filter.shape, attrs);
  const { inChannels, outChannels } = info;
  const mult = outChannels / inChannels;
  const dx = backend.makeOutput([...inputShape], 'float32');
  const dyv = backend.typedArrayFromHeap(dy);
  const fv = backend.typedArrayFromHeap(filter);
  const dxv = backend.typedArrayFromHeap(dx);
  dxv.fill(0);
  forEachDepthwiseTap(info, (o, i, f) => {
    for (let c = 0; c < inChannels; c++) {
      let sum = 0;
      for (let j = 0; j < mult; j++) sum += dyv[o + c * mult + j] * fv[f + c * mult + j];
      dxv[i + c] += sum;
    }
  });
  return dx;
}

export const depthwiseBackpropInputWasmConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInputWasm as unknown as KernelFunc,
};
