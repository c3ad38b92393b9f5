/** Rows of row-major matrices gathered into one buffer (batches of images or of activations). */

/** Rows of a row-major matrix `width` values wide, one after another. */
export function gatherRows(all: Float32Array, width: number, rows: ArrayLike<number>, out: Float32Array = new Float32Array(rows.length * width)): Float32Array {
  for (let i = 0; i < rows.length; i++) out.set(all.subarray(rows[i] * width, (rows[i] + 1) * width), i * width);
  return out;
}
