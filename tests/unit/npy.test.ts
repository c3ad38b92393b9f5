/** .npy encode/decode: round trips, headers as NumPy writes them, and coded errors for bad files. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../../shared/npy';
import { InspectorError } from '../../shared/errors';

function numpyAvailable(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('.npy codec', () => {
  it('round-trips float32 [2,3,4], int32 [5] and uint8 [] (scalar) arrays', () => {
    const f = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
    const back = decodeNpy(encodeNpy({ shape: [2, 3, 4], data: f }));
    expect(back.shape).toEqual([2, 3, 4]);
    expect(Array.from(back.data)).toEqual(Array.from(f));
    const i = Int32Array.from([1, -2, 3, -4, 2147483647]);
    expect(Array.from(decodeNpy(encodeNpy({ shape: [5], data: i })).data)).toEqual(Array.from(i));
    const s = decodeNpy(encodeNpy({ shape: [], data: Uint8Array.from([7]) }));
    expect(s.shape).toEqual([]);
    expect(Array.from(s.data)).toEqual([7]);
  });

  it('writes a header NumPy accepts: 64-byte aligned, ends in newline', () => {
    const bytes = encodeNpy({ shape: [3, 1], data: new Float32Array(3) });
    const headerLength = bytes[8] | (bytes[9] << 8);
    expect((10 + headerLength) % 64).toBe(0);
    expect(bytes[10 + headerLength - 1]).toBe(0x0a);
  });

  it.runIf(numpyAvailable())('reads what NumPy writes and NumPy reads what we write (float64 → float32, big-endian too)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-'));
    const ours = path.join(dir, 'ours.npy');
    fs.writeFileSync(ours, encodeNpy({ shape: [2, 2], data: Float32Array.from([1.5, -2, 3.25, 4]) }));
    const script = `
import numpy as np, sys
a = np.load('${ours}')
assert a.dtype == np.float32 and a.shape == (2, 2) and a.tolist() == [[1.5, -2.0], [3.25, 4.0]], a
np.save('${dir}/f8.npy', np.arange(6, dtype=np.float64).reshape(2, 3) / 4)
np.save('${dir}/be.npy', np.arange(4, dtype='>f4'))
np.save('${dir}/f2.npy', np.array([0.5, -1.25, 65504], dtype=np.float16))
`;
    execFileSync('/usr/bin/python3', ['-c', script]);
    const f8 = decodeNpy(fs.readFileSync(path.join(dir, 'f8.npy')));
    expect(f8.shape).toEqual([2, 3]);
    expect(Array.from(f8.data)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    expect(Array.from(decodeNpy(fs.readFileSync(path.join(dir, 'be.npy'))).data)).toEqual([0, 1, 2, 3]);
    expect(Array.from(decodeNpy(fs.readFileSync(path.join(dir, 'f2.npy'))).data)).toEqual([0.5, -1.25, 65504]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses non-npy bytes with NPY_INVALID and Fortran order with NPY_UNSUPPORTED_DTYPE', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as InspectorError).code;
      }
      return 'no error';
    };
    expect(code(() => decodeNpy(new TextEncoder().encode('hello world')))).toBe('NPY_INVALID');
    const good = encodeNpy({ shape: [2], data: new Float32Array(2) });
    expect(code(() => decodeNpy(good.subarray(0, good.length - 4)))).toBe('NPY_INVALID');
    const latin1 = Array.from(good, (b) => String.fromCharCode(b)).join('');
    const fortran = latin1.replace("'fortran_order': False", "'fortran_order': True ");
    expect(code(() => decodeNpy(Uint8Array.from(fortran, (c) => c.charCodeAt(0) & 0xff)))).toBe('NPY_UNSUPPORTED_DTYPE');
  });
});
