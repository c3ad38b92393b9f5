/**
 * Image decoding and preprocessing: formats (PNG, JPEG, WebP, TIFF, GIF first frame), modes (grey, RGB, RGBA,
 * 16-bit), grey↔RGB conversion, resizing, BGR order, and exact .npy inputs — values checked against arithmetic
 * done here on known pixels.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Preprocessing } from '../../shared/contract';
import { encodeNpy } from '../../shared/npy';
import { decodeImage, preprocessPixels, sniffType, toModelInput } from '../../electron/engine/data/image';

const grey: Preprocessing = { inputSize: [4, 4], channels: 1, scale: 1 / 255, mean: [0.5], std: [0.25] };
const rgb: Preprocessing = { inputSize: [4, 4], channels: 3, scale: 1, mean: [10, 20, 30], std: [2, 4, 8] };

/** A 4×4 RGB image whose pixel (y,x) = (16y, 16x, 200). */
function rgbPixels(): Buffer {
  const b = Buffer.alloc(4 * 4 * 3);
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 4; x++) {
      b[(y * 4 + x) * 3] = 16 * y;
      b[(y * 4 + x) * 3 + 1] = 16 * x;
      b[(y * 4 + x) * 3 + 2] = 200;
    }
  return b;
}
const raw = { raw: { width: 4, height: 4, channels: 3 as const } };

describe('image decoding', () => {
  it('PNG, WebP (lossless), TIFF and GIF decode to the same RGB pixels', async () => {
    const px = rgbPixels();
    const files = {
      png: await sharp(px, raw).png().toBuffer(),
      webp: await sharp(px, raw).webp({ lossless: true }).toBuffer(),
      tiff: await sharp(px, raw).tiff({ compression: 'lzw' }).toBuffer(),
    };
    for (const [name, bytes] of Object.entries(files)) {
      expect(sniffType(bytes)).toBe(name);
      const d = await decodeImage(bytes, name, 3);
      expect([d.width, d.height, d.channels]).toEqual([4, 4, 3]);
      expect(Array.from(d.pixels)).toEqual(Array.from(px));
    }
    const gif = await sharp(px, raw).gif().toBuffer();
    expect(sniffType(gif)).toBe('gif');
    expect((await decodeImage(gif, 'gif', 3)).pixels.length).toBe(48);
  });

  it('RGBA is flattened onto black and 16-bit grey is reduced to 8 bits', async () => {
    const rgba = Buffer.from([255, 0, 0, 128, 0, 255, 0, 0, 0, 0, 255, 255, 10, 20, 30, 255]);
    const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } })
      .png()
      .toBuffer();
    const d = await decodeImage(png, 'rgba', 3);
    expect(d.pixels[0]).toBeGreaterThan(120);
    expect(d.pixels[0]).toBeLessThan(136); // 255 · 128/255 over black
    expect(Array.from(d.pixels.subarray(3, 6))).toEqual([0, 0, 0]); // fully transparent → black
    expect(Array.from(d.pixels.subarray(9, 12))).toEqual([10, 20, 30]);
    const png16 = await sharp(new Uint16Array([0, 65535, 32896, 257]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    expect(png16[24]).toBe(16); // PNG IHDR bit depth
    const g = await decodeImage(png16, '16-bit', 1);
    expect(Array.from(g.pixels)).toEqual([0, 255, 128, 1]);
  });

  it('grey → RGB and RGB → grey conversions follow the model', async () => {
    const greyPng = await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    const asRgb = await decodeImage(greyPng, 'grey', 3);
    expect(Array.from(asRgb.pixels.subarray(3, 6))).toEqual([100, 100, 100]);
    const asGrey = await decodeImage(await sharp(rgbPixels(), raw).png().toBuffer(), 'rgb', 1);
    expect(asGrey.channels).toBe(1);
    expect(asGrey.pixels.length).toBe(16);
  });
});

describe('preprocessing', () => {
  it('(pixel · scale − mean) / std per channel, BGR when asked', () => {
    const px = Uint8Array.from([10, 20, 30, 12, 24, 38]);
    expect(Array.from(preprocessPixels(px, rgb))).toEqual([0, 0, 0, 1, 1, 1]);
    const bgr = preprocessPixels(px, { ...rgb, channelOrder: 'bgr' });
    expect(Array.from(bgr)).toEqual([(30 - 10) / 2, (20 - 20) / 4, (10 - 30) / 8, (38 - 10) / 2, (24 - 20) / 4, (12 - 30) / 8]);
  });

  it('an image is resized to the model input; a .npy is used exactly', async () => {
    const big = await sharp(Buffer.alloc(8 * 8 * 3, 255), { raw: { width: 8, height: 8, channels: 3 } })
      .png()
      .toBuffer();
    const x = await toModelInput(big, 'white', grey, [4, 4, 1]);
    expect(x.length).toBe(16);
    for (const v of x) expect(v).toBeCloseTo((1 - 0.5) / 0.25, 5);
    const exact = Float32Array.from({ length: 16 }, (_, i) => i - 7.5);
    const viaNpy = await toModelInput(encodeNpy({ shape: [4, 4, 1], data: exact }), 'x.npy', grey, [4, 4, 1]);
    expect(Array.from(viaNpy)).toEqual(Array.from(exact));
    await expect(toModelInput(encodeNpy({ shape: [4, 4, 3], data: new Float32Array(48) }), 'x.npy', grey, [4, 4, 1])).rejects.toMatchObject({
      code: 'INPUT_SHAPE_MISMATCH',
    });
  });
});
