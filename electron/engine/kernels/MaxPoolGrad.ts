/**
 * MaxPoolGrad for the wasm backend, replacing the one it ships: that one routes the gradient to the wrong input
 * element at some window positions under SAME padding (5 of 3 136 elements for a 28×28×4 input, 3×3 windows,
 * stride 2, against the cpu backend and an independent loop), and it was the third-slowest kernel of a training
 * step. Semantics: each output position's gradient goes to the first maximum of its window in row-major order.
 */
import { backend_util, MaxPoolGrad, type KernelConfig, type KernelFunc, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './wasm-backend';

export function maxPoolGradWasm(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: WasmBackendLike;
  attrs: MaxPoolGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs;
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  const info = backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const dx = backend.makeOutput([...input.shape], 'float32');
  const xv = backend.typedArrayFromHeap(input);
  const dyv = backend.typedArrayFromHeap(dy);
  const dxv = backend.typedArrayFromHeap(dx);
  dxv.fill(0);
  for (let n = 0; n < batchSize; n++) {
    const inBase = n * inHeight * inWidth * inChannels;
    const outBase = n * outHeight * outWidth * inChannels;
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - padTop;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - padLeft;
        for (let c = 0; c < inChannels; c++) {
          let best = -Infinity;
          let at = -1;
          for (let ky = 0; ky < filterHeight; ky++) {
            const iy = y0 + ky;
            if (iy < 0 || iy >= inHeight) continue;
            for (let kx = 0; kx < filterWidth; kx++) {
              const ix = x0 + kx;
              if (ix < 0 || ix >= inWidth) continue;
              const i = inBase + (iy * inWidth + ix) * inChannels + c;
              if (xv[i] > best || at < 0) {
                best = xv[i];
                at = i;
              }
            }
          }
          if (at >= 0) dxv[at] += dyv[outBase + (oy * outWidth + ox) * inChannels + c];
        }
      }
    }
  }
  return dx;
}

export const maxPoolGradWasmConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGradWasm as unknown as KernelFunc,
};
