/** .npy files on disk (the codec itself is shared/npy.ts). */
import { decodeNpy, encodeNpy, type NpyArray } from '../../../shared/npy';
import { writeFileAtomic } from './atomic';
import { readRegularFile } from './safe-files';

export { decodeNpy, encodeNpy, type NpyArray, type NpyData } from '../../../shared/npy';

export function readNpy(file: string): NpyArray {
  return decodeNpy(readRegularFile(file), file);
}

export function writeNpy(file: string, array: NpyArray): void {
  writeFileAtomic(file, encodeNpy(array));
}

/** Reads a .npy as float32, whatever numeric dtype it holds. */
export function toFloat32(array: NpyArray): Float32Array {
  return array.data instanceof Float32Array ? array.data : Float32Array.from(array.data);
}
