/**
 * Reads the numbers of an ONNX TensorProto: float32 (raw or float_data), float16, float64, int32/int64/int8/uint8,
 * inline or in an external-data file beside the model. Errors: ONNX_EXTERNAL_DATA_MISSING, ONNX_INVALID.
 */
import { InspectorError } from '../../../../shared/errors';
import { confinedFile, readRegularRange } from '../../files/safe-files';
import { ONNX_DTYPE, type OnnxTensor } from './proto';

export const elementCount = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** The tensor's bytes when stored raw, inline or external. */
function rawBytes(t: OnnxTensor, baseDir: string): Uint8Array | undefined {
  if (t.dataLocation === 1) {
    const entry = (key: string) => t.externalData.find((e) => e.key === key)?.value;
    const location = entry('location');
    if (!location) throw new InspectorError('ONNX_INVALID', `Tensor "${t.name}" says its data is external but names no file`);
    // The file must stay inside the model's folder after every link, and be an ordinary file (not a FIFO).
    const { file, size } = confinedFile(baseDir, location, `The weights of "${t.name}"`, 'ONNX_EXTERNAL_DATA_MISSING');
    const offset = Number(entry('offset') ?? 0);
    const length = entry('length') !== undefined ? Number(entry('length')) : size - offset;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new InspectorError(
        'ONNX_INVALID',
        `Tensor "${t.name}" gives an impossible place in ${location} (offset ${entry('offset')}, length ${entry('length')})`,
      );
    }
    if (offset + length > size) {
      throw new InspectorError('ONNX_EXTERNAL_DATA_MISSING', `${location} is shorter than the weights of "${t.name}" need (truncated?)`, file);
    }
    return readRegularRange(file, offset, length);
  }
  if (t.rawLocation) {
    const bytes = readRegularRange(t.rawLocation.file, t.rawLocation.offset, t.rawLocation.length);
    if (bytes.length !== t.rawLocation.length) throw new InspectorError('ONNX_INVALID', `The weights of "${t.name}" run past the end of the file`);
    return bytes;
  }
  return t.rawData && t.rawData.byteLength > 0 ? t.rawData : undefined;
}

/** A Float32Array over little-endian raw bytes: a view when aligned, else one copy. */
function float32View(raw: Uint8Array): Float32Array {
  if (raw.byteOffset % 4 === 0) return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  // Buffer#slice is a view, not a copy: copy through Uint8Array's slice.
  return new Float32Array(Uint8Array.prototype.slice.call(raw).buffer);
}

/** The tensor as float32 (integers converted). May be a view into the file's bytes: copy before mutating. */
export function tensorToFloat32(t: OnnxTensor, baseDir: string): Float32Array {
  const n = elementCount(t.dims);
  const raw = rawBytes(t, baseDir);
  let out: Float32Array;
  switch (t.dataType) {
    case ONNX_DTYPE.FLOAT:
      out = raw ? float32View(raw) : Float32Array.from(t.floatData);
      break;
    case ONNX_DTYPE.FLOAT16: {
      out = new Float32Array(n);
      if (raw) {
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        for (let i = 0; i < Math.min(n, raw.byteLength / 2); i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      } else {
        // float16 values are stored one per int32_data entry.
        for (let i = 0; i < Math.min(n, t.int32Data.length); i++) out[i] = halfToFloat(t.int32Data[i]);
      }
      break;
    }
    case ONNX_DTYPE.DOUBLE:
      if (raw) {
        const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
        out = new Float32Array(raw.byteLength / 8);
        for (let i = 0; i < out.length; i++) out[i] = dv.getFloat64(i * 8, true);
      } else out = Float32Array.from(t.doubleData);
      break;
    default:
      out = Float32Array.from(tensorToNumbers(t, baseDir));
  }
  if (out.length !== n) {
    throw new InspectorError('MODEL_WEIGHTS_INCONSISTENT', `Tensor "${t.name}" holds ${out.length} numbers but its shape [${t.dims.join(', ')}] needs ${n}`);
  }
  return out;
}

/** Small integer tensors (shapes, axes, pads) as plain numbers. */
export function tensorToNumbers(t: OnnxTensor, baseDir: string): number[] {
  const raw = rawBytes(t, baseDir);
  if (t.dataType === ONNX_DTYPE.FLOAT || t.dataType === ONNX_DTYPE.FLOAT16 || t.dataType === ONNX_DTYPE.DOUBLE) {
    return Array.from(tensorToFloat32(t, baseDir));
  }
  if (!raw) {
    if (t.dataType === ONNX_DTYPE.INT64) return t.int64Data.map(Number);
    return t.int32Data.map(Number);
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  switch (t.dataType) {
    case ONNX_DTYPE.INT64:
      for (let i = 0; i < raw.byteLength / 8; i++) out.push(Number(dv.getBigInt64(i * 8, true)));
      break;
    case ONNX_DTYPE.INT32:
      for (let i = 0; i < raw.byteLength / 4; i++) out.push(dv.getInt32(i * 4, true));
      break;
    case ONNX_DTYPE.INT8:
      for (let i = 0; i < raw.byteLength; i++) out.push(dv.getInt8(i));
      break;
    case ONNX_DTYPE.UINT8:
    case 9 /* BOOL */:
      for (let i = 0; i < raw.byteLength; i++) out.push(dv.getUint8(i));
      break;
    default:
      throw new InspectorError('MODEL_UNSUPPORTED_OP', `Tensor "${t.name}" has ONNX data type ${t.dataType}, which CNN Inspector does not read`);
  }
  return out;
}
