/**
 * The keyboard's way to draw a part box (the mouse drags one): Enter or Space places a box a third of the image
 * wide in its middle, the arrows move it, Shift + arrows grow or shrink it, Delete or Backspace removes it. A box is
 * [top, left, bottom, right) in input pixels and always stays inside the image, at least one pixel big.
 */
import { ARROW_STEPS } from '../../util/arrow-keys';

export type Box = [number, number, number, number];

/** One step: about 1/28 of the image, so 28 presses cross it whatever its resolution. */
export const boxStep = (size: [number, number]) => Math.max(1, Math.round(Math.min(size[0], size[1]) / 28));

export function centredBox([h, w]: [number, number]): Box {
  const bh = Math.max(1, Math.round(h / 3));
  const bw = Math.max(1, Math.round(w / 3));
  const top = Math.floor((h - bh) / 2);
  const left = Math.floor((w - bw) / 2);
  return [top, left, top + bh, left + bw];
}

/**
 * The box after a key, `undefined` when the key removes it, or `'ignored'` for a key that does nothing here (so the
 * page keeps its usual meaning, Tab included).
 */
export function boxAfterKey(box: Box | undefined, key: string, shift: boolean, size: [number, number]): Box | undefined | 'ignored' {
  if (key === 'Enter' || key === ' ') return box ?? centredBox(size);
  if (key === 'Delete' || key === 'Backspace') return box ? undefined : 'ignored';
  const arrow = ARROW_STEPS[key];
  if (!arrow || !box) return 'ignored';
  const [h, w] = size;
  const step = boxStep(size);
  const [dy, dx] = [arrow[0] * step, arrow[1] * step];
  const [top, left, bottom, right] = box;
  if (shift) return [top, left, clamp(bottom + dy, top + 1, h), clamp(right + dx, left + 1, w)];
  const y = clamp(top + dy, 0, h - (bottom - top));
  const x = clamp(left + dx, 0, w - (right - left));
  return [y, x, y + (bottom - top), x + (right - left)];
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
