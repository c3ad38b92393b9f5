/**
 * Image decoding and preprocessing with sharp. Every failure is a coded error:
 *   IMAGE_EMPTY_FILE (zero bytes), IMAGE_UNSUPPORTED_TYPE (not an image format we read),
 *   IMAGE_DECODE_FAILED (looks like an image but is corrupt), IMAGE_TOO_LARGE (decompression-bomb guard),
 *   INPUT_SHAPE_MISMATCH (.npy of the wrong shape).
 * A .npy float32 [H,W,C] (or [1,H,W,C]) is the model input exactly: no resizing, no preprocessing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { Preprocessing } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { decodeNpy, toFloat32 } from '../files/npy';
import { readRegularFile } from '../files/safe-files';

/**
 * Largest image accepted, in pixels: 100 megapixels (a 12 000 × 8 000 photo), far beyond any CNN input. Decoding
 * streams through the resize, so memory stays near the output size, but the decode time grows with the pixels.
 */
export const MAX_INPUT_PIXELS = 100_000_000;

/** Largest image or .npy file read (bytes); the same bound as an upload. */
export const MAX_IMAGE_FILE_BYTES = 200 * 2 ** 20;

/** Extensions a dataset folder lists as images; the content decides the format (BMP and SVG are not read). */
export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif', '.avif']);

export type SniffedType = 'png' | 'jpeg' | 'gif' | 'webp' | 'tiff' | 'avif' | 'npy' | 'unknown';

const READABLE = 'PNG, JPEG, WebP, TIFF, GIF, AVIF or .npy';

export function sniffType(bytes: Uint8Array): SniffedType {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'gif';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'webp';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 0x2a))) return 'tiff';
  if (b.length >= 6 && b[0] === 0x93 && b[1] === 0x4e && b[2] === 0x55 && b[3] === 0x4d) return 'npy';
  // ISO-BMFF "ftyp" box naming an AVIF brand.
  if (b.length >= 12 && b[4] === 0x66 && b[5] === 0x74 && b[6] === 0x79 && b[7] === 0x70 && b[8] === 0x61 && b[9] === 0x76 && b[10] === 0x69) return 'avif';
  return 'unknown';
}

/**
 * The format by content, refusing anything else before a decoder sees it: an SVG renamed .png would otherwise
 * be rendered (a 123-byte SVG can ask for a gigapixel canvas), and a BMP reach a decoder that lacks it.
 */
function imageType(bytes: Uint8Array, name: string): Exclude<SniffedType, 'npy' | 'unknown'> {
  checkNotEmpty(bytes, name);
  const type = sniffType(bytes);
  if (type === 'npy') throw new InspectorError('IMAGE_UNSUPPORTED_TYPE', `${name} is a .npy array, not an image`);
  if (type === 'unknown') {
    const head = Buffer.from(bytes.subarray(0, 256)).toString('latin1').trimStart();
    const what = /^(<\?xml|<svg|<!DOCTYPE svg)/i.test(head) ? 'an SVG drawing' : head.startsWith('BM') ? 'a BMP image' : 'not an image';
    throw new InspectorError('IMAGE_UNSUPPORTED_TYPE', `${name} is ${what}: CNN Inspector reads ${READABLE}`);
  }
  return type;
}

function checkNotEmpty(bytes: Uint8Array, name: string): void {
  if (bytes.length === 0) throw new InspectorError('IMAGE_EMPTY_FILE', `${name} is empty (0 bytes)`);
}

function sharpError(error: unknown, name: string, type: SniffedType): InspectorError {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return new InspectorError('IMAGE_TOO_LARGE', `${name} is larger than ${MAX_INPUT_PIXELS} pixels`, message);
  }
  if (type === 'unknown' || /unsupported image format/i.test(message)) {
    return new InspectorError('IMAGE_UNSUPPORTED_TYPE', `${name} is not an image CNN Inspector can read (${READABLE})`, message);
  }
  return new InspectorError('IMAGE_DECODE_FAILED', `${name} could not be decoded: the file looks like ${type.toUpperCase()} but is damaged`, message);
}

// libvips keeps recently decoded images in a cache; an engine that decodes thousands of strangers' files once each
// gains nothing from it and would hold their pixels.
sharp.cache(false);

function pipeline(bytes: Uint8Array): ReturnType<typeof sharp> {
  // First frame only for GIF/TIFF; failOn 'warning' rejects what libjpeg/libpng only warn about (corrupt Huffman
  // data, bad CRCs, truncation) instead of returning grey or garbled pixels; sequentialRead lets the decode stream
  // through the resize, so a big image costs its output size in memory, not its full size.
  return sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning', pages: 1, sequentialRead: true });
}

export interface DecodedImage {
  /** 8-bit pixels, [H,W,C] row-major. */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Decodes to 8-bit grey or RGB (alpha flattened onto black, 16-bit reduced to 8-bit). */
export async function decodeImage(bytes: Uint8Array, name: string, channels: 1 | 3): Promise<DecodedImage> {
  const type = imageType(bytes, name);
  try {
    let p = pipeline(bytes).flatten({ background: '#000000' });
    p = channels === 1 ? p.toColourspace('b-w') : p.toColourspace('srgb');
    const { data, info } = await p.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) {
      throw new Error(`decoder produced ${info.channels} channels, wanted ${channels}`);
    }
    return { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels };
  } catch (error) {
    throw sharpError(error, name, type);
  }
}

/** Image → model input [H,W,C] float32 per `pre`; .npy → used exactly after a shape check. */
export async function toModelInput(bytes: Uint8Array, name: string, pre: Preprocessing, inputShape: number[]): Promise<Float32Array> {
  checkNotEmpty(bytes, name);
  if (sniffType(bytes) === 'npy') {
    const array = decodeNpy(bytes, name);
    const shape = array.shape.length === 4 && array.shape[0] === 1 ? array.shape.slice(1) : array.shape;
    if (shape.length !== 3 || shape.some((d, i) => d !== inputShape[i])) {
      throw new InspectorError('INPUT_SHAPE_MISMATCH', `${name} has shape [${array.shape.join(', ')}] but the model takes [${inputShape.join(', ')}]`);
    }
    if (!(array.data instanceof Float32Array)) {
      throw new InspectorError('NPY_UNSUPPORTED_DTYPE', `${name}: input arrays must be float32`);
    }
    // NaN or ±Inf would flow through every layer and show as blank maps and "NaN % sure": refused here.
    const bad = array.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new InspectorError(
        'INPUT_NOT_FINITE',
        `${name} holds ${Number.isNaN(array.data[bad]) ? 'NaN' : 'infinite'} values (first at position ${bad}): a model input must be ordinary numbers`,
      );
    }
    return array.data;
  }
  const type = imageType(bytes, name);
  const [h, w] = pre.inputSize;
  let pixels: Buffer;
  try {
    let p = pipeline(bytes).flatten({ background: '#000000' });
    p = p.resize(w, h, { fit: pre.resize === 'center-crop' ? 'cover' : 'fill', kernel: 'lanczos3' });
    p = pre.channels === 1 ? p.toColourspace('b-w') : p.toColourspace('srgb');
    const out = await p.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (out.info.channels !== pre.channels) throw new Error(`decoder produced ${out.info.channels} channels`);
    pixels = out.data;
  } catch (error) {
    throw sharpError(error, name, type);
  }
  return preprocessPixels(pixels, pre);
}

/** Raw 8-bit [H,W,C] pixels → (pixel·scale − mean)/std per channel, BGR-swapped when the model wants it. */
export function preprocessPixels(pixels: Uint8Array, pre: Preprocessing): Float32Array {
  const c = pre.channels;
  const out = new Float32Array(pixels.length);
  const bgr = c === 3 && pre.channelOrder === 'bgr';
  for (let i = 0; i < pixels.length; i += c) {
    for (let ch = 0; ch < c; ch++) {
      const src = bgr ? 2 - ch : ch;
      out[i + ch] = (pixels[i + src] * pre.scale - pre.mean[ch % pre.mean.length]) / pre.std[ch % pre.std.length];
    }
  }
  return out;
}

/** A PNG for display: the image as decoded, the longer side at most `size` pixels (upscaled small images too). */
export async function displayPng(bytes: Uint8Array, name: string, size = 256): Promise<Uint8Array> {
  const type = imageType(bytes, name);
  try {
    const meta = await pipeline(bytes).metadata();
    const longer = Math.max(meta.width ?? size, meta.height ?? size);
    const scale = size / longer;
    const png = await pipeline(bytes)
      .resize(Math.max(1, Math.round((meta.width ?? size) * scale)), Math.max(1, Math.round((meta.height ?? size) * scale)), {
        kernel: scale > 1 ? 'nearest' : 'lanczos3',
      })
      .png()
      .toBuffer();
    return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
  } catch (error) {
    throw sharpError(error, name, type);
  }
}

/** A PNG rendering of a preprocessed .npy input (min–max scaled), so .npy inputs can be shown too. */
export async function npyDisplayPng(bytes: Uint8Array, name: string, size = 256): Promise<Uint8Array> {
  const array = decodeNpy(bytes, name);
  const shape = array.shape.length === 4 ? array.shape.slice(1) : array.shape;
  if (shape.length !== 3 || (shape[2] !== 1 && shape[2] !== 3)) {
    throw new InspectorError('INPUT_SHAPE_MISMATCH', `${name} of shape [${array.shape}] cannot be shown as an image`);
  }
  const data = toFloat32(array);
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min || 1;
  const pixels = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) pixels[i] = Math.round(((data[i] - min) / range) * 255);
  const [h, w, c] = shape;
  const scale = size / Math.max(h, w);
  const png = await sharp(pixels, { raw: { width: w, height: h, channels: c as 1 | 3 } })
    .resize(Math.round(w * scale), Math.round(h * scale), { kernel: 'nearest' })
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

/**
 * Checks an image without decoding it at full size: its header for the size, then a decode streamed down to a
 * thumbnail so damaged pixel data is found now (an upload is refused at once, not at its first use).
 */
export async function checkImage(bytes: Uint8Array, name: string): Promise<{ width: number; height: number }> {
  const type = imageType(bytes, name);
  try {
    const meta = await pipeline(bytes).metadata();
    await pipeline(bytes).resize(64, 64, { fit: 'inside' }).raw().toBuffer();
    return { width: meta.width ?? 0, height: meta.height ?? 0 };
  } catch (error) {
    throw sharpError(error, name, type);
  }
}

/** An image or .npy file's bytes: an ordinary file (never a pipe or device), at most MAX_IMAGE_FILE_BYTES. */
export function readFileBytes(file: string): Uint8Array {
  if (!fs.existsSync(file)) throw new InspectorError('FILE_NOT_FOUND', `No file at ${file}`);
  if (fs.statSync(file).isDirectory()) throw new InspectorError('IMAGE_UNSUPPORTED_TYPE', `${file} is a folder, not an image`);
  return readRegularFile(file, { maxBytes: MAX_IMAGE_FILE_BYTES });
}

export function isImageOrNpyName(file: string): boolean {
  const ext = path.extname(file).toLowerCase();
  return IMAGE_EXTENSIONS.has(ext) || ext === '.npy';
}
