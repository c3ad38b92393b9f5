/** What the project's wasm kernels use of BackendWasm (typed here rather than importing its internals). */
import { getKernel, type TensorInfo } from '@tensorflow/tfjs-core';

export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  /** A view on the wasm heap; any later allocation can detach it, so take views after allocating. */
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object): boolean;
}

/** Scratch budget of the im2col-style kernels, in float32 elements (32 MiB). */
export const MAX_SCRATCH_ELEMENTS = 8 * 1024 * 1024;

type BatchMatMul = (args: {
  inputs: { a: TensorInfo; b: TensorInfo };
  backend: WasmBackendLike;
  attrs: { transposeA: boolean; transposeB: boolean };
}) => TensorInfo;

/** The wasm backend's own BatchMatMul kernel (SIMD), called directly from inside another kernel. */
export function wasmBatchMatMul(): BatchMatMul {
  const kernel = getKernel('BatchMatMul', 'wasm');
  if (!kernel) throw new Error('the wasm backend has no BatchMatMul kernel');
  return kernel.kernelFunc as unknown as BatchMatMul;
}

/** How many images fit in one chunk whose scratch matrix is rowsPerImage × columns floats. */
export function imagesPerChunk(batchSize: number, rowsPerImage: number, columns: number): number {
  return Math.max(1, Math.min(batchSize, Math.floor(MAX_SCRATCH_ELEMENTS / (rowsPerImage * columns))));
}
