/**
 * Hostile files git cannot hold, made fresh for a test: FIFOs (a read would wait for a writer forever), links to
 * /dev/zero (endless zeros) and links that lead out of a model's folder. Returns the folder; callers remove it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const TINY = path.join(ROOT, 'tests', 'fixtures', 'models', 'tiny-functional');

const fifo = (file: string) => execFileSync('mkfifo', [file]);

export function makeHostileFiles(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-'));
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'secret.bin'), Buffer.alloc(4096, 7));
  // Images.
  fifo(path.join(dir, 'fifo.png'));
  fs.symlinkSync('/dev/zero', path.join(dir, 'dev-zero.png'));
  fifo(path.join(dir, 'fifo.onnx'));
  // TF.js models: the shard a FIFO inside the folder; the shard a link to /dev/zero.
  for (const [name, make] of [
    ['shard-fifo', (f: string) => fifo(f)],
    ['shard-dev-zero', (f: string) => fs.symlinkSync('/dev/zero', f)],
  ] as const) {
    fs.mkdirSync(path.join(dir, name));
    fs.copyFileSync(path.join(TINY, 'model.json'), path.join(dir, name, 'model.json'));
    make(path.join(dir, name, 'weights.bin'));
  }
  // ONNX external data through a link inside the folder that leads out of it (the old check was lexical).
  fs.mkdirSync(path.join(dir, 'onnx-link-out'));
  fs.copyFileSync(path.join(ROOT, 'tests', 'fixtures', 'bad', 'onnx', 'external-missing', 'model.onnx'), path.join(dir, 'onnx-link-out', 'model.onnx'));
  fs.symlinkSync(path.join(outside, 'secret.bin'), path.join(dir, 'onnx-link-out', 'model.weights'));
  return dir;
}
