/**
 * NumPy .npy encoding and decoding, format versions 1.0–3.0, C order. Pure ECMAScript (used by the engine and
 * by the renderer's "export .npy"). Writes float32, int32, uint8; reads those plus float64, float16, int64, int8
 * (converted). Fortran order is refused with NPY_UNSUPPORTED_DTYPE, malformed files with NPY_INVALID.
 */
import { InspectorError } from './errors';

export type NpyData = Float32Array | Int32Array | Uint8Array;

export interface NpyArray {
  shape: number[];
  data: NpyData;
}

function descrFor(data: NpyData): string {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Int32Array) return '<i4';
  return '|u1';
}

export function encodeNpy(array: NpyArray): Uint8Array {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new InspectorError('BAD_ARGUMENT', `npy: shape ${array.shape} holds ${count} values, data has ${array.data.length}`);
  }
  const shapeText = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${descrFor(array.data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that magic (6) + version (2) + length (2) + header is a multiple of 64, ending in \n.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + array.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength), 10 + header.length);
  return out;
}

function halfToFloat(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  if (e === 0) return (s ? -1 : 1) * Math.pow(2, -14) * (f / 1024);
  if (e === 0x1f) return f ? NaN : (s ? -1 : 1) * Infinity;
  return (s ? -1 : 1) * Math.pow(2, e - 15) * (1 + f / 1024);
}

/** Largest number of values a .npy may declare (2^31: beyond what one typed array holds). */
const MAX_NPY_VALUES = 2 ** 31 - 1;

/**
 * The header dictionary, read by its grammar — exactly the keys 'descr' (a quoted dtype), 'fortran_order'
 * (True/False) and 'shape' (a tuple of whole numbers), in any order, nothing else — as NumPy writes it. A header
 * regexes would half-accept (a float in the shape, a key twice, junk between entries) is NPY_INVALID.
 */
export function parseNpyHeader(header: string, name: string): { descr: string; fortran: boolean; shape: number[] } {
  const bad = (why: string): never => {
    throw new InspectorError('NPY_INVALID', `${name}: malformed header (${why})`);
  };
  const body = /^\s*\{(.*)\}\s*$/s.exec(header)?.[1] ?? bad('not a dictionary');
  const entry = /\s*'(descr|fortran_order|shape)'\s*:\s*('[^']*'|True|False|\([^()]*\))\s*(?:,|$)/y;
  const seen = new Map<string, string>();
  let at = 0;
  while (at < body.length && body.slice(at).trim().length > 0) {
    entry.lastIndex = at;
    const m = entry.exec(body) ?? bad(`unexpected text at "${body.slice(at, at + 20).trim()}"`);
    if (seen.has(m[1])) bad(`'${m[1]}' given twice`);
    seen.set(m[1], m[2]);
    at = entry.lastIndex;
  }
  const descrText = seen.get('descr');
  const fortranText = seen.get('fortran_order');
  const shapeText = seen.get('shape');
  if (!descrText?.startsWith("'") || (fortranText !== 'True' && fortranText !== 'False') || !shapeText?.startsWith('('))
    bad('needs descr, fortran_order and shape');
  const parts = shapeText!
    .slice(1, -1)
    .split(',')
    .map((x) => x.trim());
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 1 && parts[0] === '') parts.pop();
  if (!parts.every((x) => /^\d{1,10}$/.test(x))) bad(`the shape (${shapeText}) is not a tuple of whole numbers`);
  const shape = parts.map(Number);
  if (shape.length > 32 || shape.reduce((a, b) => a * b, 1) > MAX_NPY_VALUES) bad(`the shape (${shapeText}) is too large`);
  return { descr: descrText!.slice(1, -1), fortran: fortranText === 'True', shape };
}

export function decodeNpy(bytes: Uint8Array, name = '.npy file'): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new InspectorError('NPY_INVALID', `${name} is not a NumPy .npy file`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new InspectorError('NPY_INVALID', `${name}: unknown .npy version ${major}`);
  }
  if (headerStart + headerLength > bytes.length) throw new InspectorError('NPY_INVALID', `${name}: truncated header`);
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLength));
  const { descr, fortran, shape } = parseNpyHeader(header, name);
  if (fortran) throw new InspectorError('NPY_UNSUPPORTED_DTYPE', `${name}: Fortran-order arrays are not supported`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  const body = bytes.subarray(dataStart);
  const bigEndian = descr.startsWith('>');
  const kind = descr.replace(/^[<>|=]/, '');
  const itemSize: Record<string, number> = { f4: 4, f8: 8, f2: 2, i4: 4, u1: 1, i8: 8, i1: 1, b1: 1 };
  const size = itemSize[kind];
  if (size === undefined) throw new InspectorError('NPY_UNSUPPORTED_DTYPE', `${name}: dtype ${descr} is not supported`);
  if (body.length < count * size) {
    throw new InspectorError('NPY_INVALID', `${name}: header says ${count} values but the data is ${body.length} bytes`);
  }
  const dv = new DataView(body.buffer, body.byteOffset, count * size);
  const le = !bigEndian;
  switch (kind) {
    case 'f4': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, le);
      return { shape, data: out };
    }
    case 'f8': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, le);
      return { shape, data: out };
    }
    case 'f2': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(dv.getUint16(i * 2, le));
      return { shape, data: out };
    }
    case 'i4': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, le);
      return { shape, data: out };
    }
    case 'i8': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(i * 8, le));
      return { shape, data: out };
    }
    case 'i1': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getInt8(i);
      return { shape, data: out };
    }
    default:
      return { shape, data: new Uint8Array(body.subarray(0, count)) };
  }
}
