/** The keyboard's part boxes (Parts view): placed in the middle, moved and resized by steps, never outside the image. */
import { describe, expect, it } from 'vitest';
import { boxAfterKey, boxStep, centredBox, type Box } from '../../renderer/features/parts/box-keys';

describe('part boxes by keyboard', () => {
  it('Enter places a third-size box in the middle, and keeps an existing one', () => {
    expect(centredBox([28, 28])).toEqual([9, 9, 18, 18]);
    expect(centredBox([224, 224])).toEqual([74, 74, 149, 149]);
    expect(centredBox([1, 1])).toEqual([0, 0, 1, 1]);
    expect(boxAfterKey(undefined, 'Enter', false, [28, 28])).toEqual([9, 9, 18, 18]);
    expect(boxAfterKey([1, 2, 3, 4], ' ', false, [28, 28])).toEqual([1, 2, 3, 4]);
  });

  it('arrows move by a 28th of the image and stop at its edges', () => {
    expect(boxStep([28, 28])).toBe(1);
    expect(boxStep([224, 224])).toBe(8);
    expect(boxAfterKey([9, 9, 18, 18], 'ArrowRight', false, [28, 28])).toEqual([9, 10, 18, 19]);
    expect(boxAfterKey([9, 9, 18, 18], 'ArrowUp', false, [28, 28])).toEqual([8, 9, 17, 18]);
    expect(boxAfterKey([0, 0, 5, 5], 'ArrowLeft', false, [28, 28])).toEqual([0, 0, 5, 5]);
    expect(boxAfterKey([20, 23, 28, 28], 'ArrowDown', false, [28, 28])).toEqual([20, 23, 28, 28]);
    expect(boxAfterKey([74, 74, 149, 149], 'ArrowDown', false, [224, 224])).toEqual([82, 74, 157, 149]);
  });

  it('Shift + arrows resize from the bottom-right corner, never below one pixel nor past the edge', () => {
    expect(boxAfterKey([9, 9, 18, 18], 'ArrowDown', true, [28, 28])).toEqual([9, 9, 19, 18]);
    expect(boxAfterKey([9, 9, 10, 10], 'ArrowLeft', true, [28, 28])).toEqual([9, 9, 10, 10]);
    expect(boxAfterKey([9, 9, 28, 28], 'ArrowRight', true, [28, 28])).toEqual([9, 9, 28, 28]);
  });

  it('a random walk of keys keeps every box inside the image and at least a pixel big', () => {
    const keys = ['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight'];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const size of [
      [28, 28],
      [32, 20],
      [224, 224],
    ] as Array<[number, number]>) {
      let box: Box = centredBox(size);
      for (let i = 0; i < 500; i++) {
        const next = boxAfterKey(box, keys[Math.floor(rand() * 4)], rand() < 0.5, size);
        if (next === 'ignored' || next === undefined) throw new Error('an arrow must give a box');
        box = next;
        expect(box[0]).toBeGreaterThanOrEqual(0);
        expect(box[1]).toBeGreaterThanOrEqual(0);
        expect(box[2]).toBeLessThanOrEqual(size[0]);
        expect(box[3]).toBeLessThanOrEqual(size[1]);
        expect(box[2] - box[0]).toBeGreaterThanOrEqual(1);
        expect(box[3] - box[1]).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('Delete removes a box; other keys and arrows without a box are left to the page', () => {
    expect(boxAfterKey([1, 1, 2, 2], 'Delete', false, [28, 28])).toBeUndefined();
    expect(boxAfterKey([1, 1, 2, 2], 'Backspace', false, [28, 28])).toBeUndefined();
    expect(boxAfterKey(undefined, 'Delete', false, [28, 28])).toBe('ignored');
    expect(boxAfterKey(undefined, 'ArrowLeft', false, [28, 28])).toBe('ignored');
    expect(boxAfterKey([1, 1, 2, 2], 'Tab', false, [28, 28])).toBe('ignored');
    expect(boxAfterKey([1, 1, 2, 2], 'a', false, [28, 28])).toBe('ignored');
  });
});
