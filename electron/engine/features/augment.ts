/**
 * Data augmentation on a batch, in place of a copy: random crops (pad by `pad` with `fill`, then crop back to the
 * original size) and random horizontal flips. Layout [N,H,W,C], float32.
 */
import { mulberry32 } from '../base/random';

export interface AugmentOptions {
  cropPad: number;
  flip: boolean;
  /** Value the padding takes (the preprocessed value of a background pixel). */
  fill: number;
}

export function augmentBatch(batch: Float32Array, shape: [number, number, number, number], options: AugmentOptions, random: () => number): Float32Array {
  const [n, h, w, c] = shape;
  const out = new Float32Array(batch.length);
  const imageSize = h * w * c;
  for (let i = 0; i < n; i++) {
    const dy = options.cropPad > 0 ? Math.floor(random() * (2 * options.cropPad + 1)) - options.cropPad : 0;
    const dx = options.cropPad > 0 ? Math.floor(random() * (2 * options.cropPad + 1)) - options.cropPad : 0;
    const flip = options.flip && random() < 0.5;
    const base = i * imageSize;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      for (let x = 0; x < w; x++) {
        const sxUnflipped = x + dx;
        const sx = flip ? w - 1 - sxUnflipped : sxUnflipped;
        const o = base + (y * w + x) * c;
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
          for (let ch = 0; ch < c; ch++) out[o + ch] = options.fill;
        } else {
          const s = base + (sy * w + sx) * c;
          for (let ch = 0; ch < c; ch++) out[o + ch] = batch[s + ch];
        }
      }
    }
  }
  return out;
}

export { mulberry32 };

/** [N,H,W,C] images mirrored left↔right (a copy). */
export function mirrorImages(x: Float32Array, [n, h, w, c]: number[]): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++) {
        const src = ((i * h + y) * w + xx) * c;
        const dst = ((i * h + y) * w + (w - 1 - xx)) * c;
        for (let k = 0; k < c; k++) out[dst + k] = x[src + k];
      }
  return out;
}
