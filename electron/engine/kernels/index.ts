/**
 * Kernels the project registers on backends that lack them (or whose own is too slow to train with).
 * One kernel per file, named by the kernel.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DBackpropFilterWasmConfig } from './Conv2DBackpropFilter';
import { conv2DBackpropInputWasmConfig } from './Conv2DBackpropInput';
import { depthwiseBackpropFilterWasmConfig } from './DepthwiseConv2dNativeBackpropFilter';
import { depthwiseBackpropInputWasmConfig } from './DepthwiseConv2dNativeBackpropInput';
import { maxPoolGradWasmConfig } from './MaxPoolGrad';

/** Missing on the backend: registered only if absent. */
const ADDED: KernelConfig[] = [conv2DBackpropFilterWasmConfig, depthwiseBackpropInputWasmConfig, depthwiseBackpropFilterWasmConfig];
/** Present but replaced (see each file for the measurement that justified it). */
const REPLACED: KernelConfig[] = [conv2DBackpropInputWasmConfig, maxPoolGradWasmConfig];

let registered = false;

export function registerProjectKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of ADDED) {
    if (!getKernel(config.kernelName, config.backendName)) registerKernel(config);
  }
  for (const config of REPLACED) {
    if (getKernel(config.kernelName, config.backendName)) unregisterKernel(config.kernelName, config.backendName);
    registerKernel(config);
  }
}
