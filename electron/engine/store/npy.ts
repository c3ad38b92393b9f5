/** .npy files on disk (the codec itself is shared/npy.ts). */
import * as fs from 'node:fs';
import { InspectorError } from '../../../shared/errors';
import { decodeNpy, encodeNpy, type NpyArray } from '../../../shared/npy';
import { writeFileAtomic } from './atomic';

export { decodeNpy, encodeNpy, type NpyArray, type NpyData } from '../../../shared/npy';

export function readNpy(file: string): NpyArray {
  if (!fs.existsSync(file)) throw new InspectorError('FILE_NOT_FOUND', `No file at ${file}`);
  return decodeNpy(fs.readFileSync(file), file);
}

export function writeNpy(file: string, array: NpyArray): void {
  writeFileAtomic(file, encodeNpy(array));
}

/** Reads a .npy as float32, whatever numeric dtype it holds. */
export function toFloat32(array: NpyArray): Float32Array {
  return array.data instanceof Float32Array ? array.data : Float32Array.from(array.data);
}
