/**
 * Small labelled image folders written for a test: one sub-folder per class, 12×12 RGB PNGs whose pixels come
 * from `pixel(class, y, x, channel, random, image)` (random: a seeded uniform [0, 1) generator; image: its number).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';

export async function writeImageFolder(
  dir: string,
  classes: string[],
  perClass: number,
  seed: number,
  pixel: (cls: string, y: number, x: number, c: number, random: () => number, image: number) => number,
  size = 12,
): Promise<void> {
  let s = seed;
  const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
  for (const cls of classes) {
    fs.mkdirSync(path.join(dir, cls), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const b = Buffer.alloc(size * size * 3);
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) for (let c = 0; c < 3; c++) b[(y * size + x) * 3 + c] = Math.round(pixel(cls, y, x, c, random, i));
      await sharp(b, { raw: { width: size, height: size, channels: 3 } })
        .png()
        .toFile(path.join(dir, cls, `${i}.png`));
    }
  }
}

/** "top" images bright above the middle, "bottom" ones below: learnable from a small convolution. */
export const topBottom = (cls: string, y: number, _x: number, _c: number, random: () => number): number =>
  ((cls === 'top') === y < 6 ? 190 : 50) + random() * 60;
