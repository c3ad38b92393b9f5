/**
 * Conv2DBackpropFilter for the wasm backend, which does not ship one (so conv layers could not be trained on it).
 *
 * dW[kh,kw,ci,co] = Σ_{n,oy,ox} x[n, oy·sH + kh·dH − padTop, ox·sW + kw·dW − padLeft, ci] · dy[n,oy,ox,co]
 *
 * Computed as one matrix product per chunk of images: a transposed im2col matrix colsT [K, M] (K = KH·KW·Ci,
 * M = images·OH·OW, zeros where the window hangs over the padding) times dy viewed as [M, Co], using the wasm
 * backend's own BatchMatMul (XNNPACK-class SIMD). Row index k = (kh·KW + kw)·Ci + ci, which is exactly the
 * [KH,KW,Ci,Co] filter layout, so the product needs no reordering. Chunking bounds the scratch memory.
 */
import { backend_util, Conv2DBackpropFilter, type Conv2DBackpropFilterAttrs, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { imagesPerChunk, wasmBatchMatMul, type WasmBackendLike } from './wasm-backend';

export function conv2DBackpropFilterWasm(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: WasmBackendLike;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new Error(`Conv2DBackpropFilter (wasm): float32 only, got x ${x.dtype}, dy ${dy.dtype}`);
  }
  if (backend_util.convertConv2DDataFormat(dataFormat) !== 'channelsLast') {
    throw new Error('Conv2DBackpropFilter (wasm): only NHWC is supported');
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth, filterHeight, filterWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const K = filterHeight * filterWidth * inChannels;
  const positionsPerImage = outHeight * outWidth;
  const chunk = imagesPerChunk(batchSize, positionsPerImage, K);
  const batchMatMul = wasmBatchMatMul();

  let accumulated: TensorInfo | undefined;
  for (let n0 = 0; n0 < batchSize; n0 += chunk) {
    const images = Math.min(chunk, batchSize - n0);
    const M = images * positionsPerImage;
    const colsT = backend.makeOutput([1, K, M], 'float32');
    const wholeBatch = images === batchSize;
    const dyChunk = wholeBatch
      ? { dataId: dy.dataId, shape: [1, M, outChannels], dtype: 'float32' as const }
      : backend.makeOutput([1, M, outChannels], 'float32');
    // Views are taken after every allocation: a heap growth detaches earlier views.
    const xv = backend.typedArrayFromHeap(x);
    const cv = backend.typedArrayFromHeap(colsT);
    if (!wholeBatch) {
      const dyv = backend.typedArrayFromHeap(dy);
      const start = n0 * positionsPerImage * outChannels;
      backend.typedArrayFromHeap(dyChunk).set(dyv.subarray(start, start + M * outChannels));
    }
    for (let kh = 0; kh < filterHeight; kh++) {
      for (let kw = 0; kw < filterWidth; kw++) {
        for (let ci = 0; ci < inChannels; ci++) {
          const row = ((kh * filterWidth + kw) * inChannels + ci) * M;
          let m = 0;
          for (let n = 0; n < images; n++) {
            const imageBase = (n0 + n) * inHeight * inWidth * inChannels;
            for (let oy = 0; oy < outHeight; oy++) {
              const iy = oy * strideHeight + kh * dilationHeight - padTop;
              if (iy < 0 || iy >= inHeight) {
                cv.fill(0, row + m, row + m + outWidth);
                m += outWidth;
                continue;
              }
              const rowBase = imageBase + iy * inWidth * inChannels + ci;
              for (let ox = 0; ox < outWidth; ox++, m++) {
                const ix = ox * strideWidth + kw * dilationWidth - padLeft;
                cv[row + m] = ix >= 0 && ix < inWidth ? xv[rowBase + ix * inChannels] : 0;
              }
            }
          }
        }
      }
    }
    const part = batchMatMul({
      inputs: { a: colsT, b: dyChunk },
      backend,
      attrs: { transposeA: false, transposeB: false },
    });
    backend.disposeData(colsT.dataId);
    if (!wholeBatch) backend.disposeData(dyChunk.dataId);
    if (!accumulated) {
      accumulated = part;
    } else {
      const acc = backend.typedArrayFromHeap(accumulated);
      const add = backend.typedArrayFromHeap(part);
      for (let i = 0; i < acc.length; i++) acc[i] += add[i];
      backend.disposeData(part.dataId);
    }
  }
  // [1, K, Co] has the [KH, KW, Ci, Co] layout already: relabel the shape, keep the data.
  return { dataId: accumulated!.dataId, shape: [...filterShape], dtype: 'float32' };
}

export const conv2DBackpropFilterWasmConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as KernelFunc,
};
