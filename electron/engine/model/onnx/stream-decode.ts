/**
 * Decodes an ONNX file without holding it in memory: the protobuf is walked from disk, every small part (nodes,
 * shapes, attributes, metadata) decoded as usual, and each initializer's raw_data only located (offset, length)
 * and read when its layer is built. A 500 MB VGG then costs its weights once (in the engine), not file + weights.
 */
import * as fs from 'node:fs';
import { openRegularFile } from '../../files/safe-files';
import { onnxType, toPlain, type OnnxGraph, type OnnxModel, type OnnxTensor } from './proto';

class FileCursor {
  private readonly fd: number;
  readonly size: number;
  pos = 0;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(file: string) {
    // Not a whole-file read (windows of 64 KiB): no size cap, but never a FIFO or device.
    ({ fd: this.fd, size: this.size } = openRegularFile(file, { maxBytes: Number.MAX_SAFE_INTEGER }));
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private byteAt(p: number): number {
    if (p < this.windowStart || p >= this.windowStart + this.window.length) {
      if (p >= this.size) throw new Error('unexpected end of file');
      this.window = Buffer.alloc(Math.min(1 << 16, this.size - p));
      fs.readSync(this.fd, this.window, 0, this.window.length, p);
      this.windowStart = p;
    }
    return this.window[p - this.windowStart];
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byteAt(this.pos++);
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new Error('malformed varint');
    }
  }

  bytes(start: number, end: number): Buffer {
    if (end > this.size) throw new Error('unexpected end of file');
    const out = Buffer.alloc(end - start);
    fs.readSync(this.fd, out, 0, out.length, start);
    return out;
  }
}

/** One field of a message: its number, and the byte ranges of the whole field and of its payload. */
interface Field {
  number: number;
  start: number;
  payloadStart: number;
  end: number;
}

function* fields(cursor: FileCursor, end: number): Generator<Field> {
  while (cursor.pos < end) {
    const start = cursor.pos;
    const key = cursor.varint();
    const number = Math.floor(key / 8);
    const wire = key & 7;
    let payloadStart = cursor.pos;
    switch (wire) {
      case 0:
        cursor.varint();
        break;
      case 1:
        cursor.pos += 8;
        break;
      case 5:
        cursor.pos += 4;
        break;
      case 2: {
        const length = cursor.varint();
        payloadStart = cursor.pos;
        cursor.pos += length;
        break;
      }
      default:
        throw new Error(`unsupported protobuf wire type ${wire}`);
    }
    if (cursor.pos > end || number === 0) throw new Error('malformed protobuf field');
    yield { number, start, payloadStart, end: cursor.pos };
  }
}

const GRAPH_FIELD = 7;
const INITIALIZER_FIELD = 5;
const RAW_DATA_FIELD = 9;

function decodeTensor(cursor: FileCursor, f: Field, file: string): OnnxTensor {
  const saved = cursor.pos;
  cursor.pos = f.payloadStart;
  const parts: Buffer[] = [];
  let raw: { offset: number; length: number } | undefined;
  for (const g of fields(cursor, f.end)) {
    if (g.number === RAW_DATA_FIELD) raw = { offset: g.payloadStart, length: g.end - g.payloadStart };
    else parts.push(cursor.bytes(g.start, g.end));
  }
  cursor.pos = saved;
  const tensor = toPlain(onnxType('TensorProto'), Buffer.concat(parts)) as unknown as OnnxTensor;
  if (raw) tensor.rawLocation = { file, ...raw };
  return tensor;
}

export function decodeOnnxFile(file: string): OnnxModel {
  const cursor = new FileCursor(file);
  try {
    const modelParts: Buffer[] = [];
    let graph: OnnxGraph | undefined;
    for (const f of fields(cursor, cursor.size)) {
      if (f.number !== GRAPH_FIELD) {
        modelParts.push(cursor.bytes(f.start, f.end));
        continue;
      }
      const graphParts: Buffer[] = [];
      const initializers: OnnxTensor[] = [];
      const after = cursor.pos;
      cursor.pos = f.payloadStart;
      for (const g of fields(cursor, f.end)) {
        if (g.number === INITIALIZER_FIELD) initializers.push(decodeTensor(cursor, g, file));
        else graphParts.push(cursor.bytes(g.start, g.end));
      }
      cursor.pos = after;
      graph = toPlain(onnxType('GraphProto'), Buffer.concat(graphParts)) as unknown as OnnxGraph;
      graph.initializer = initializers;
    }
    const model = toPlain(onnxType('ModelProto'), Buffer.concat(modelParts)) as unknown as OnnxModel;
    model.graph = graph;
    return model;
  } finally {
    cursor.close();
  }
}
