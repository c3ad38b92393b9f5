/**
 * .npy files too big to hold in memory, written and read a block of rows at a time. The writer reserves a
 * fixed-size header, appends rows as they come (float32, or float16 to halve the disk for big layers), writes
 * the final row count into the header at the end and only then renames the file into place — a crash leaves no
 * half-written array under the real name. float16 uses IEEE 754 round-to-nearest-even, as NumPy does.
 */
import * as fs from 'node:fs';
import { InspectorError } from '../../../shared/errors';
import { parseNpyHeader } from '../../../shared/npy';
import { writeFileAtomicWith } from './atomic';
import { openRegularFile } from './safe-files';

export type StreamDtype = 'float32' | 'float16' | 'int32';

const DESCR: Record<StreamDtype, string> = { float32: '<f4', float16: '<f2', int32: '<i4' };
const BYTES: Record<StreamDtype, number> = { float32: 4, float16: 2, int32: 4 };
/** Header bytes reserved (magic + version + length + text), a multiple of 64 as the format asks. */
const HEADER = 128;

const scratch = new DataView(new ArrayBuffer(4));

/** float32 → IEEE half bits, rounding to nearest even; overflow → ±Infinity, NaN kept. */
export function floatToHalf(value: number): number {
  scratch.setFloat32(0, value);
  const x = scratch.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the mantissa, with its implicit 1, into place and round.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: still right
  return sign | half;
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  if (e === 0x1f) return f ? NaN : s * Infinity;
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}

function headerText(dtype: StreamDtype, shape: number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const text = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  if (text.length + 11 > HEADER) throw new InspectorError('BAD_ARGUMENT', `npy: shape ${shape} too long for the header`);
  const out = Buffer.alloc(HEADER, 0x20);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  out.writeUInt16LE(HEADER - 10, 8);
  out.write(text, 10, 'latin1');
  out[HEADER - 1] = 0x0a;
  return out;
}

export class NpyStreamWriter {
  private readonly fd: number;
  private readonly tmp: string;
  private rows = 0;
  readonly rowSize: number;

  constructor(
    private readonly file: string,
    readonly dtype: StreamDtype,
    private readonly rowShape: number[],
  ) {
    this.rowSize = rowShape.reduce((a, b) => a * b, 1);
    this.tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    this.fd = fs.openSync(this.tmp, 'w');
    fs.writeSync(this.fd, headerText(dtype, [0, ...rowShape]));
  }

  /** Appends `count` rows held in `data` (count × rowSize values). */
  append(data: ArrayLike<number>, count: number): void {
    const n = count * this.rowSize;
    const out = Buffer.alloc(n * BYTES[this.dtype]);
    if (this.dtype === 'float16') for (let i = 0; i < n; i++) out.writeUInt16LE(floatToHalf(data[i]), i * 2);
    else if (this.dtype === 'int32') for (let i = 0; i < n; i++) out.writeInt32LE(data[i], i * 4);
    else for (let i = 0; i < n; i++) out.writeFloatLE(data[i], i * 4);
    fs.writeSync(this.fd, out);
    this.rows += count;
  }

  /** Writes the row count into the header and moves the file into place. */
  close(): number {
    fs.writeSync(this.fd, headerText(this.dtype, [this.rows, ...this.rowShape]), 0, HEADER, 0);
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.file);
    return this.rows;
  }

  abort(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(this.tmp, { force: true });
  }
}

/** Reads rows of a float32 / float16 / int32 .npy without loading the file. */
const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `count` float32 values at the start of `bytes` (a view where the host is little-endian and the buffer aligned). */
function littleEndianFloats(bytes: Buffer, count: number): Float32Array {
  if (littleEndianHost && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Float32Array(count);
  for (let k = 0; k < count; k++) out[k] = bytes.readFloatLE(k * 4);
  return out;
}

export class NpyRowReader {
  readonly shape: number[];
  readonly dtype: StreamDtype;
  readonly rowSize: number;
  private readonly dataStart: number;

  constructor(private readonly file: string) {
    const { fd } = openRegularFile(file, { maxBytes: Number.MAX_SAFE_INTEGER });
    try {
      const head = Buffer.alloc(12);
      fs.readSync(fd, head, 0, 12, 0);
      if (head.readUInt32BE(0) !== 0x934e554d || head[4] !== 0x50 || head[5] !== 0x59)
        throw new InspectorError('NPY_INVALID', `${file} is not a NumPy .npy file`);
      const major = head[6];
      const length = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
      const start = major === 1 ? 10 : 12;
      if (length > 2 ** 20) throw new InspectorError('NPY_INVALID', `${file}: a header of ${length} bytes is not a .npy header`);
      const text = Buffer.alloc(length);
      fs.readSync(fd, text, 0, length, start);
      const { descr, fortran, shape } = parseNpyHeader(text.toString('latin1'), file);
      const dtype = (Object.keys(DESCR) as StreamDtype[]).find((k) => DESCR[k] === descr);
      if (!dtype) throw new InspectorError('NPY_UNSUPPORTED_DTYPE', `${file}: dtype ${descr} (row reading takes float32, float16, int32)`);
      if (fortran) throw new InspectorError('NPY_UNSUPPORTED_DTYPE', `${file}: Fortran order`);
      this.shape = shape;
      this.dtype = dtype;
      this.rowSize = this.shape.slice(1).reduce((a, b) => a * b, 1);
      this.dataStart = start + length;
    } finally {
      fs.closeSync(fd);
    }
  }

  get rows(): number {
    return this.shape[0] ?? 0;
  }

  /** Appends this file's rows, as bytes, to the open file `fd` (through `block`). */
  copyDataTo(fd: number, block: Buffer): void {
    let left = this.rows * this.rowSize * BYTES[this.dtype];
    const src = fs.openSync(this.file, 'r');
    try {
      for (let at = this.dataStart; left > 0;) {
        const got = fs.readSync(src, block, 0, Math.min(block.length, left), at);
        if (got === 0) throw new InspectorError('NPY_INVALID', `${this.file} is shorter than its header says`);
        fs.writeSync(fd, block, 0, got);
        at += got;
        left -= got;
      }
    } finally {
      fs.closeSync(src);
    }
  }

  /** Rows [start, start + count) as float32 (int32 for int32 files). */
  read(start: number, count: number): Float32Array | Int32Array {
    const n = count * this.rowSize;
    const bytes = Buffer.alloc(n * BYTES[this.dtype]);
    const fd = fs.openSync(this.file, 'r');
    try {
      const got = fs.readSync(fd, bytes, 0, bytes.length, this.dataStart + start * this.rowSize * BYTES[this.dtype]);
      if (got < bytes.length) throw new InspectorError('NPY_INVALID', `${this.file} is shorter than its header says`);
    } finally {
      fs.closeSync(fd);
    }
    // Buffer.alloc gives this read a buffer of its own (never the shared pool), so a view of it needs no copy.
    if (this.dtype === 'int32')
      return littleEndianHost ? new Int32Array(bytes.buffer, bytes.byteOffset, n) : Int32Array.from({ length: n }, (_, k) => bytes.readInt32LE(k * 4));
    if (this.dtype === 'float32') return littleEndianFloats(bytes, n);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = halfToFloat(bytes.readUInt16LE(i * 2));
    return out;
  }

  /** The given rows (any order, repeats allowed) as float32, one after another; into `out` when given. */
  readRows(rows: ArrayLike<number>, out: Float32Array = new Float32Array(rows.length * this.rowSize)): Float32Array {
    const rowBytes = this.rowSize * BYTES[this.dtype];
    const bytes = Buffer.alloc(rowBytes);
    // float32 on a little-endian machine: straight into place.
    const direct = this.dtype === 'float32' && littleEndianHost;
    const fd = fs.openSync(this.file, 'r');
    try {
      for (let i = 0; i < rows.length; i++) {
        const at = i * this.rowSize;
        const target = direct ? new Uint8Array(out.buffer, out.byteOffset + at * 4, rowBytes) : bytes;
        if (fs.readSync(fd, target, 0, rowBytes, this.dataStart + rows[i] * rowBytes) < rowBytes)
          throw new InspectorError('NPY_INVALID', `${this.file} is shorter than its header says`);
        if (direct) continue;
        if (this.dtype === 'float16') for (let k = 0; k < this.rowSize; k++) out[at + k] = halfToFloat(bytes.readUInt16LE(k * 2));
        else if (this.dtype === 'int32') for (let k = 0; k < this.rowSize; k++) out[at + k] = bytes.readInt32LE(k * 4);
        else out.set(littleEndianFloats(bytes, this.rowSize), at);
      }
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }

  /** Blocks of about `blockRows` rows, in order. */
  *blocks(blockRows: number): Generator<{ start: number; count: number; data: Float32Array | Int32Array }> {
    for (let start = 0; start < this.rows; start += blockRows) {
      const count = Math.min(blockRows, this.rows - start);
      yield { start, count, data: this.read(start, count) };
    }
  }
}

/**
 * The rows of `parts` one after another in `target` (the parts' dtype and row shape must agree), copied as bytes so
 * the result is exactly the file one writer would have written for all the rows; atomically (files/atomic.ts), a
 * block at a time.
 */
export function concatNpyRows(parts: string[], target: string): number {
  const readers = parts.map((p) => new NpyRowReader(p));
  const [first] = readers;
  if (!first) throw new InspectorError('BAD_ARGUMENT', 'Nothing to join');
  const rowShape = first.shape.slice(1);
  for (const [i, r] of readers.entries()) {
    if (r.dtype !== first.dtype || r.shape.slice(1).join(',') !== rowShape.join(','))
      throw new InspectorError('BAD_ARGUMENT', `${parts[i]} holds ${r.dtype} rows of [${r.shape.slice(1)}], ${parts[0]} ${first.dtype} of [${rowShape}]`);
  }
  const rows = readers.reduce((sum, r) => sum + r.rows, 0);
  writeFileAtomicWith(target, (out) => {
    fs.writeSync(out, headerText(first.dtype, [rows, ...rowShape]));
    const block = Buffer.alloc(8 * 2 ** 20);
    for (const r of readers) r.copyDataTo(out, block);
  });
  return rows;
}
