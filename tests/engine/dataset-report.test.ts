/**
 * Checking a folder before training: an image copied into two classes is a look-alike group across classes (a
 * label to check), an image saved twice in one class is a group within it, re-encoding (JPEG) keeps a look-alike a
 * look-alike, and distinct images are left alone. The hash is checked against a flipped image too.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { datasetReport, differenceHash } from '../../electron/engine/analyses/dataset-report';
import { openDataset } from '../../electron/engine/data/dataset';
import { writeImageFolder } from '../helpers/image-folders';

const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
  // A different pattern of 4×4-pixel blocks in every image (a fixed hash of class, image and block), 32×32.
  const block = (cls: string, image: number, by: number, bx: number) => {
    let h = (cls.charCodeAt(0) * 7919 + image * 104729 + by * 1299709 + bx * 15485863) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) >>> 0;
    return (h ^ (h >>> 16)) % 256;
  };
  await writeImageFolder(dir, ['cat', 'dog'], 6, 3, (cls, y, x, c, _random, image) => (block(cls, image, y >> 2, x >> 2) + c * 40) % 256, 32);
  fs.copyFileSync(path.join(dir, 'cat', '0.png'), path.join(dir, 'dog', 'copied-from-cat.png'));
  await sharp(path.join(dir, 'cat', '1.png'))
    .jpeg({ quality: 85 })
    .toFile(path.join(dir, 'cat', '1-again.jpg'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('dataset report', () => {
  it('finds the copied image across classes and the re-saved one within a class, nothing else', async () => {
    const r = await datasetReport(openDataset(dir, 'pets'), quiet);
    expect(r.checked).toBe(14);
    const groups = r.lookalikes.map((g) => [...g.files].sort());
    expect(groups).toEqual([
      ['cat/0.png', 'dog/copied-from-cat.png'],
      ['cat/1-again.jpg', 'cat/1.png'],
    ]);
    expect(r.lookalikes[0].acrossClasses).toBe(true);
    expect(r.lookalikes[0].classes).toEqual(['cat', 'dog']);
    expect(r.acrossClasses).toBe(1);
    expect(r.pairwise).toBe(true);
  });

  it('the difference hash tells an image from its mirror image', async () => {
    const png = fs.readFileSync(path.join(dir, 'cat', '2.png'));
    const mirrored = await sharp(png).flop().png().toBuffer();
    const [a, b] = [await differenceHash(png), await differenceHash(mirrored)];
    const bits = (v: number) =>
      v
        .toString(2)
        .split('')
        .filter((d) => d === '1').length;
    expect(bits(a[0] ^ b[0]) + bits(a[1] ^ b[1])).toBeGreaterThan(8);
  });
});
