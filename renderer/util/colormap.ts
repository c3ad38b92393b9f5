/**
 * Viridis colour map (perceptually uniform, readable in grey and by most colour-blind viewers; projects well).
 * 9 anchor colours, linearly interpolated. Input t in [0,1].
 */
const VIRIDIS: Array<[number, number, number]> = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** CSS gradient of the colour map, for legends. */
export function viridisGradient(direction = 'to right'): string {
  return `linear-gradient(${direction}, ${VIRIDIS.map((c, i) => `rgb(${c.join(',')}) ${(i / (VIRIDIS.length - 1)) * 100}%`).join(', ')})`;
}

/**
 * Paints one unit's map (channel `unit` of a [H,W,C] array, or one value of a [C] array) into RGBA pixels with
 * the shared scale [min, max].
 */
export function unitToRgba(
  data: Float32Array,
  shape: number[],
  unit: number,
  min: number,
  max: number,
): { rgba: Uint8ClampedArray<ArrayBuffer>; width: number; height: number } {
  const [h, w, c] = shape.length === 3 ? shape : [1, 1, shape[0]];
  const rgba = new Uint8ClampedArray(h * w * 4);
  const range = max - min || 1;
  for (let p = 0; p < h * w; p++) {
    const [r, g, b] = viridis((data[p * c + unit] - min) / range);
    rgba[p * 4] = r;
    rgba[p * 4 + 1] = g;
    rgba[p * 4 + 2] = b;
    rgba[p * 4 + 3] = 255;
  }
  return { rgba, width: w, height: h };
}
