/** What the two depthwise gradient kernels share: the convolution's geometry and the cells it connects. */
import { backend_util, type DepthwiseConv2dNativeBackpropInputAttrs } from '@tensorflow/tfjs-core';

/** The geometry of the depthwise convolution a gradient kernel is asked about (NHWC, TF's padding rules). */
export function depthwiseInfo(
  inputShape: readonly number[],
  filterShape: readonly number[],
  { strides, dilations, pad, dimRoundingMode }: Pick<DepthwiseConv2dNativeBackpropInputAttrs, 'strides' | 'dilations' | 'pad' | 'dimRoundingMode'>,
): backend_util.Conv2DInfo {
  const shape = (s: readonly number[]) => s as [number, number, number, number];
  return backend_util.computeConv2DInfo(shape(inputShape), shape(filterShape), strides, dilations, pad, dimRoundingMode, true);
}

/**
 * The cells a depthwise convolution connects (NHWC): for every output position and every kernel tap that falls
 * inside the input, the offsets of the output cell's channels, the input cell's channels and the tap's filter channels.
 */
export function forEachDepthwiseTap(info: backend_util.Conv2DInfo, visit: (output: number, input: number, filter: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  for (let n = 0; n < batchSize; n++) {
    const inBase = n * inHeight * inWidth * inChannels;
    const outBase = n * outHeight * outWidth * outChannels;
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const o = outBase + (oy * outWidth + ox) * outChannels;
        for (let ky = 0; ky < filterHeight; ky++) {
          const iy = oy * strideHeight - top + ky * dilationHeight;
          if (iy < 0 || iy >= inHeight) continue;
          for (let kx = 0; kx < filterWidth; kx++) {
            const ix = ox * strideWidth - left + kx * dilationWidth;
            if (ix < 0 || ix >= inWidth) continue;
            visit(o, inBase + (iy * inWidth + ix) * inChannels, (ky * filterWidth + kx) * outChannels);
          }
        }
      }
    }
  }
}
