/**
 * Files strangers made: the containment rule for files a model names, regular files only (FIFOs and devices
 * refused without blocking), size caps checked before reading, dataset folders that list links, pipes and BMPs
 * instead of dropping or misnaming them, the zip reader's caps (checked against Python's zipfile as the
 * independent writer), the strict .npy header grammar, a big image decoded within bounded memory, and durable
 * atomic writes.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNpyHeader } from '../../shared/npy';
import { openDataset } from '../../electron/engine/data/dataset';
import { checkImage, toModelInput } from '../../electron/engine/data/image';
import { writeFileAtomic } from '../../electron/engine/files/atomic';
import { confinedFile, readRegularFile } from '../../electron/engine/files/safe-files';
import { readZipMembers, zipStored } from '../../electron/engine/files/zip';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'untrusted-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return 'no error';
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe('files a model names', () => {
  it('stay inside the model folder after links, are regular files, and are sized before they are read', () => {
    const model = path.join(dir, 'model');
    fs.mkdirSync(model);
    fs.writeFileSync(path.join(model, 'w.bin'), Buffer.alloc(16));
    fs.writeFileSync(path.join(dir, 'secret'), 'secret');
    fs.symlinkSync(path.join(dir, 'secret'), path.join(model, 'link-out.bin'));
    fs.symlinkSync('w.bin', path.join(model, 'link-in.bin'));
    execFileSync('mkfifo', [path.join(model, 'pipe.bin')]);
    expect(confinedFile(model, 'w.bin', 'test')).toMatchObject({ size: 16 });
    expect(confinedFile(model, 'link-in.bin', 'test')).toMatchObject({ file: fs.realpathSync(path.join(model, 'w.bin')) });
    expect(codeOf(() => confinedFile(model, '../secret', 'test'))).toBe('PATH_OUTSIDE_FOLDER');
    expect(codeOf(() => confinedFile(model, '/etc/hostname', 'test'))).toBe('PATH_OUTSIDE_FOLDER');
    expect(codeOf(() => confinedFile(model, 'link-out.bin', 'test'))).toBe('PATH_OUTSIDE_FOLDER');
    expect(codeOf(() => confinedFile(model, 'pipe.bin', 'test'))).toBe('FILE_NOT_REGULAR');
    expect(codeOf(() => confinedFile(model, 'gone.bin', 'test', 'MODEL_WEIGHTS_MISSING'))).toBe('MODEL_WEIGHTS_MISSING');
  });

  it('a FIFO, /dev/zero and a folder are refused at once; a file over its cap before a byte is read', () => {
    const pipe = path.join(dir, 'pipe');
    execFileSync('mkfifo', [pipe]);
    const t0 = Date.now();
    expect(codeOf(() => readRegularFile(pipe))).toBe('FILE_NOT_REGULAR');
    expect(codeOf(() => readRegularFile('/dev/zero'))).toBe('FILE_NOT_REGULAR');
    expect(codeOf(() => readRegularFile(dir))).toBe('FILE_NOT_REGULAR');
    expect(Date.now() - t0).toBeLessThan(1000);
    fs.writeFileSync(path.join(dir, 'big'), Buffer.alloc(2000));
    expect(codeOf(() => readRegularFile(path.join(dir, 'big'), { maxBytes: 1999 }))).toBe('FILE_TOO_LARGE');
    expect(readRegularFile(path.join(dir, 'big'), { maxBytes: 2000 }).length).toBe(2000);
  });
});

describe('dataset folders list what they cannot use', () => {
  it('a linked class folder is a class; pipes, broken links and BMPs are listed with their reason', async () => {
    const elsewhere = path.join(dir, 'elsewhere', 'cats');
    fs.mkdirSync(elsewhere, { recursive: true });
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    fs.writeFileSync(path.join(elsewhere, 'a.png'), png);
    const root = path.join(dir, 'data');
    fs.mkdirSync(path.join(root, 'dogs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'dogs', 'b.png'), png);
    fs.writeFileSync(path.join(root, 'dogs', 'c.bmp'), 'BM');
    execFileSync('mkfifo', [path.join(root, 'dogs', 'd.png')]);
    fs.symlinkSync(path.join(dir, 'nowhere.png'), path.join(root, 'dogs', 'e.png'));
    fs.symlinkSync(elsewhere, path.join(root, 'cats'));
    const dataset = openDataset(root, root);
    expect(dataset.summary.classes).toEqual([
      { name: 'cats', count: 1 },
      { name: 'dogs', count: 1 },
    ]);
    const skipped = Object.fromEntries(dataset.summary.skipped.map((s) => [s.file, s.code]));
    expect(skipped).toEqual({ 'dogs/c.bmp': 'IMAGE_UNSUPPORTED_TYPE', 'dogs/d.png': 'FILE_NOT_REGULAR', 'dogs/e.png': 'FILE_NOT_FOUND' });
  });
});

describe('zip archives', () => {
  const py = (code: string, ...args: string[]) => execFileSync('/usr/bin/python3', ['-c', code, ...args]);

  it('reads members Python wrote, and refuses bombs, climbing names and damaged data', () => {
    const ok = path.join(dir, 'ok.zip');
    py(
      'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n z.writestr("a.txt", "hello " * 1000)\n z.writestr("b.bin", bytes(range(256)))',
      ok,
    );
    const members = readZipMembers(fs.readFileSync(ok), 'ok.zip', ['a.txt', 'b.bin'], 'KERAS_INVALID');
    expect(Buffer.from(members.get('a.txt')!).toString()).toBe('hello '.repeat(1000));
    expect([...members.get('b.bin')!]).toEqual([...Array(256).keys()]);
    const bomb = path.join(dir, 'bomb.zip');
    py('import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:\n z.writestr("w", bytes(8 * 2**20))', bomb);
    expect(codeOf(() => readZipMembers(fs.readFileSync(bomb), 'bomb.zip', ['w'], 'KERAS_INVALID'))).toBe('DECOMPRESSED_TOO_LARGE');
    const slip = path.join(dir, 'slip.zip');
    py('import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z:\n z.writestr("../x", "x")', slip);
    expect(codeOf(() => readZipMembers(fs.readFileSync(slip), 'slip.zip', ['../x'], 'KERAS_INVALID'))).toBe('KERAS_INVALID');
    // A flipped byte in stored data fails the checksum.
    const stored = Buffer.from(zipStored([{ name: 'c.txt', data: new TextEncoder().encode('checksummed') }]));
    stored[stored.indexOf('checksummed')] ^= 1;
    expect(codeOf(() => readZipMembers(stored, 'c.zip', ['c.txt'], 'KERAS_INVALID'))).toBe('KERAS_INVALID');
    expect(codeOf(() => readZipMembers(Buffer.from('not a zip at all, just text'), 'x.zip', ['a'], 'KERAS_INVALID'))).toBe('KERAS_INVALID');
  });
});

describe('.npy header grammar', () => {
  it('takes what NumPy writes and refuses anything looser', () => {
    expect(parseNpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 'x')).toEqual({ descr: '<f4', fortran: false, shape: [3, 4] });
    expect(parseNpyHeader("{'shape': (5,), 'fortran_order': True, 'descr': '|u1'}", 'x')).toEqual({ descr: '|u1', fortran: true, shape: [5] });
    expect(parseNpyHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 'x').shape).toEqual([]);
    for (const bad of [
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3.0, 4), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'extra': 1}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'shape': (1,)}",
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 4)}",
      "{'descr': '<f4', 'shape': (3, 4)}",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (99999, 99999, 99999)}",
      "['descr', 'shape']",
    ]) {
      expect(
        codeOf(() => parseNpyHeader(bad, 'x')),
        bad,
      ).toBe('NPY_INVALID');
    }
  });
});

describe('images', () => {
  it('a 9 000 × 9 000 PNG (81 MP) is checked and resized to the model input within ~150 MB more memory; 16 384² is refused', async () => {
    const big = await sharp({ create: { width: 9000, height: 9000, channels: 3, background: '#808080' }, limitInputPixels: false })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const size = await checkImage(big, 'big.png');
    const input = await toModelInput(big, 'big.png', { inputSize: [28, 28], channels: 1, scale: 1 / 255, mean: [0], std: [1] }, [28, 28, 1]);
    clearInterval(timer);
    expect(size).toEqual({ width: 9000, height: 9000 });
    expect(input.length).toBe(28 * 28);
    expect(Math.abs(input[0] - 128 / 255)).toBeLessThan(0.01);
    // Full-size RGB would be 243 MB; streamed through the resize it stays well under.
    expect((peak - before) / 2 ** 20).toBeLessThan(150);
    const huge = await sharp({ create: { width: 16384, height: 16384, channels: 3, background: '#000' }, limitInputPixels: false })
      .png({ compressionLevel: 9 })
      .toBuffer();
    await expect(checkImage(huge, 'huge.png')).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });
});

describe('atomic writes', () => {
  it('replace the file whole, leave no temporary file, and say where a write cannot go', () => {
    const file = path.join(dir, 'state.json');
    writeFileAtomic(file, 'old');
    writeFileAtomic(file, 'new');
    expect(fs.readFileSync(file, 'utf8')).toBe('new');
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('state.json.'))).toEqual([]);
    expect(codeOf(() => writeFileAtomic(path.join(file, 'inside-a-file.json'), 'x'))).toBe('OUTPUT_NOT_WRITABLE');
  });
});
