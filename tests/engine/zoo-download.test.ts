/**
 * The model zoo's download path against a loopback HTTP server (no zoo file can be fetched on the project's
 * machines): a whole download, a connection dropped halfway and resumed with a Range request, a corrupted file, a
 * mirror that sends too much, a missing file, an unreachable host, a cancelled download resumed later, a file
 * copied in by hand — and the downloaded network opening with ImageNet's class names and its preprocessing, its
 * probabilities the softmax of the network's own scores. The CLI's `zoo list | get` and `--model zoo:NAME` too.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZooEntry } from '../../shared/contract';
import { IMAGENET_CLASSES } from '../../shared/imagenet-classes';
import { predictProbabilities } from '../../electron/engine/analyses/activations';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { initBackend } from '../../electron/engine/backend';
import { openModel } from '../../electron/engine/model/loaded-model';
import { parseZooCatalog, ZOO_CATALOG } from '../../electron/engine/zoo/catalog';
import { downloadZooModel, listZoo, zooModelState } from '../../electron/engine/zoo/download';
import { tinyImagenetNet, TINY_PREPROCESSING as PRE } from '../helpers/tiny-imagenet-net';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'electron', 'cli.cjs');

let bytes: Buffer;
let entry: ZooEntry;
let net: tfl.Sequential;
let server: http.Server;
let base = '';
/** What the server does with the next requests, and what it saw. */
let mode: 'whole' | 'drop-once' | 'corrupt' | 'too-long' | 'trickle' | 'ignore-range' = 'whole';
let ranges: Array<string | undefined> = [];
let dropped = false;

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  ranges.push(req.headers.range);
  if (!req.url?.endsWith('/nets/tiny%20net.onnx')) {
    res.writeHead(404).end('no such file');
    return;
  }
  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = match && mode !== 'ignore-range' ? Number(match[1]) : 0;
  let body = bytes.subarray(start);
  if (mode === 'corrupt') {
    body = Buffer.from(body);
    body[body.length >> 1] ^= 0xff;
  }
  if (mode === 'too-long') body = Buffer.concat([body, Buffer.alloc(100)]);
  const headers: http.OutgoingHttpHeaders = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes' };
  if (mode !== 'too-long') headers['Content-Length'] = body.length;
  if (start > 0) headers['Content-Range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
  res.writeHead(start > 0 ? 206 : 200, headers);
  if (mode === 'drop-once' && !dropped) {
    dropped = true;
    res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 50));
    return;
  }
  if (mode === 'trickle') {
    let at = 0;
    const timer = setInterval(() => {
      if (res.destroyed || at >= body.length) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(body.subarray(at, at + 4096));
      at += 4096;
    }, 20);
    res.on('close', () => clearInterval(timer));
    return;
  }
  res.end(body);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-zoo-'));
let folderCount = 0;
const freshFolder = () => path.join(tmp, `zoo-${++folderCount}`);
const quiet = () =>
  makeJobContext(
    () => undefined,
    () => false,
  );

beforeAll(async () => {
  await initBackend({ preferred: 'wasm' });
  ({ net, bytes, entry } = tinyImagenetNet('nets/tiny net.onnx'));
  server = http.createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror/`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('zoo catalog', () => {
  it('pins every network of ../shared/model-zoo.tsv by path, SHA-256 and size, with preprocessing and ImageNet labels', () => {
    const tsv = path.resolve(ROOT, '..', 'shared', 'model-zoo.tsv');
    if (fs.existsSync(tsv)) {
      const rows = fs
        .readFileSync(tsv, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split('\t'));
      expect(ZOO_CATALOG.map((e) => [e.name, e.path, e.sha256, String(e.bytes)])).toEqual(rows);
    }
    for (const e of ZOO_CATALOG) {
      expect(e.labels).toBe('imagenet');
      expect(e.preprocessing?.inputSize).toEqual([224, 224]);
    }
    expect(IMAGENET_CLASSES).toHaveLength(1000);
    expect([IMAGENET_CLASSES[0], IMAGENET_CLASSES[281], IMAGENET_CLASSES[999]]).toEqual(['tench', 'tabby', 'toilet tissue']);
  });

  it('a catalog a person brings is checked field by field', () => {
    const good = { name: 'mine', path: 'a/b.onnx', sha256: 'a'.repeat(64), bytes: 10 };
    expect(parseZooCatalog(JSON.stringify([good]))[0]).toMatchObject({ name: 'mine', title: 'mine' });
    for (const bad of [
      { ...good, name: '../x' },
      { ...good, path: '../b.onnx' },
      { ...good, path: 'a/b.onnx?x=1' },
      { ...good, sha256: 'xyz' },
      { ...good, bytes: -1 },
      { ...good, preprocessing: { channels: 2 } },
    ]) {
      expect(() => parseZooCatalog(JSON.stringify([bad]))).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    }
    expect(() => parseZooCatalog('{')).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });
});

describe('zoo download from a loopback mirror', () => {
  it('downloads, verifies, and the network opens with ImageNet labels, its preprocessing and softmax probabilities', async () => {
    mode = 'whole';
    ranges = [];
    const folder = freshFolder();
    expect(zooModelState(entry, { mirror: base, folder }).state).toBe('absent');
    const seen: string[] = [];
    const result = await downloadZooModel(
      entry,
      makeJobContext(
        (_d, _t, m) => seen.push(m),
        () => false,
      ),
      { mirror: base, folder },
    );
    expect(result).toMatchObject({ name: 'tiny-net', bytes: bytes.length, sha256: entry.sha256, fetched: bytes.length });
    expect(fs.readFileSync(result.file).equals(bytes)).toBe(true);
    expect(fs.existsSync(`${result.file}.part`)).toBe(false);
    expect(seen.some((m) => m.startsWith('Downloading Tiny net:'))).toBe(true);
    expect(listZoo([entry], { mirror: base, folder }).models[0]).toMatchObject({ state: 'downloaded', have: bytes.length });

    const before = tf.memory().numTensors;
    const model = await openModel(result.file, 'zoo');
    expect(model.summary.name).toBe('Tiny net');
    expect(model.summary.classes).toEqual([...IMAGENET_CLASSES]);
    expect(model.summary.preprocessing).toMatchObject(PRE);
    expect(model.summary.outputs).toBe('scores');
    const input = Float32Array.from({ length: 16 * 16 * 3 }, (_, i) => Math.sin(i * 0.37));
    const probabilities = predictProbabilities(model, input);
    // The network's own scores (TF.js, before export) turned into probabilities by hand.
    const scores = tf.tidy(() => (net.predict(tf.tensor4d(input, [1, 16, 16, 3])) as tf.Tensor).dataSync());
    const top = Math.max(...scores);
    const exps = Array.from(scores, (s) => Math.exp(s - top));
    const sum = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, i) => expect(probabilities[i]).toBeCloseTo(e / sum, 6));
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);

    // Asked again: verified from disk, nothing fetched.
    ranges = [];
    expect((await downloadZooModel(entry, quiet(), { mirror: base, folder })).fetched).toBe(0);
    expect(ranges).toHaveLength(0);
  });

  it('a connection dropped halfway is resumed with a Range request in the same download', async () => {
    mode = 'drop-once';
    dropped = false;
    ranges = [];
    const result = await downloadZooModel(entry, quiet(), { mirror: base, folder: freshFolder() });
    expect(fs.readFileSync(result.file).equals(bytes)).toBe(true);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(Number(/\d+/.exec(ranges[1]!)![0])).toBeGreaterThan(0);
  });

  it('a server that ignores Range sends the whole file again: it is started over, not appended', async () => {
    const folder = freshFolder();
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, 'tiny-net.onnx.part'), bytes.subarray(0, 1000));
    mode = 'ignore-range';
    const result = await downloadZooModel(entry, quiet(), { mirror: base, folder });
    expect(fs.readFileSync(result.file).equals(bytes)).toBe(true);
  });

  it('a corrupted download is refused by its SHA-256 and deleted', async () => {
    mode = 'corrupt';
    const folder = freshFolder();
    await expect(downloadZooModel(entry, quiet(), { mirror: base, folder })).rejects.toMatchObject({
      code: 'ZOO_FILE_MISMATCH',
      message: expect.stringContaining('SHA-256'),
    });
    expect(fs.readdirSync(folder)).toEqual([]);
  });

  it('a mirror that sends more than the pinned size is cut off', async () => {
    mode = 'too-long';
    const folder = freshFolder();
    await expect(downloadZooModel(entry, quiet(), { mirror: base, folder })).rejects.toMatchObject({ code: 'ZOO_FILE_MISMATCH' });
    expect(fs.readdirSync(folder)).toEqual([]);
  });

  it('a missing file and an unreachable host say how to copy the file in by hand', async () => {
    mode = 'whole';
    const folder = freshFolder();
    await expect(downloadZooModel({ ...entry, path: 'nets/other.onnx' }, quiet(), { mirror: base, folder })).rejects.toMatchObject({
      code: 'ZOO_UNREACHABLE',
      message: expect.stringContaining('HTTP 404'),
    });
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await downloadZooModel(entry, quiet(), { mirror: `http://127.0.0.1:${port}/`, folder }).catch((e) => e);
    expect(error).toMatchObject({ code: 'ZOO_UNREACHABLE' });
    expect(error.message).toContain(`put it in ${folder} as tiny-net.onnx`);
  });

  it('cancelling keeps what arrived; the next download resumes there and fetches only the rest', async () => {
    mode = 'trickle';
    const folder = freshFolder();
    let cancel = false;
    const ctx = makeJobContext(
      (done) => {
        if (done > bytes.length / 3) cancel = true;
      },
      () => cancel,
    );
    await expect(downloadZooModel(entry, ctx, { mirror: base, folder })).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
    const kept = zooModelState(entry, { mirror: base, folder });
    expect(kept.state).toBe('partial');
    expect(kept.have).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(folder, 'tiny-net.onnx.lock'))).toBe(false);
    mode = 'whole';
    const result = await downloadZooModel(entry, quiet(), { mirror: base, folder });
    expect(result.fetched).toBe(bytes.length - kept.have);
    expect(fs.readFileSync(result.file).equals(bytes)).toBe(true);
  });

  it('a second download of the same network while one runs is refused, not interleaved', async () => {
    mode = 'trickle';
    const folder = freshFolder();
    let cancel = false;
    const first = downloadZooModel(
      entry,
      makeJobContext(
        () => undefined,
        () => cancel,
      ),
      { mirror: base, folder },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(downloadZooModel(entry, quiet(), { mirror: base, folder })).rejects.toMatchObject({
      code: 'ZOO_DOWNLOAD_INTERRUPTED',
      message: expect.stringContaining('being downloaded already'),
    });
    cancel = true;
    await expect(first).rejects.toMatchObject({ code: 'JOB_CANCELLED' });
  });

  it('a file fetched by hand is copied in only when it is the pinned one', async () => {
    const folder = freshFolder();
    const good = path.join(tmp, 'by-hand.onnx');
    fs.writeFileSync(good, bytes);
    const bad = path.join(tmp, 'by-hand-bad.onnx');
    fs.writeFileSync(bad, Buffer.concat([bytes.subarray(1), Buffer.from([0])]));
    await expect(downloadZooModel(entry, quiet(), { folder, from: bad })).rejects.toMatchObject({ code: 'ZOO_FILE_MISMATCH' });
    const result = await downloadZooModel(entry, quiet(), { folder, from: good });
    expect(fs.readFileSync(result.file).equals(bytes)).toBe(true);
  });
});

describe('cnn-inspect zoo', () => {
  const run = promisify(execFile);
  const cli = async (args: string[], env: Record<string, string>) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, CNN_INSPECTOR_BACKEND: 'wasm', ...env } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      return error as { code: number; stdout: string; stderr: string };
    }
  };

  it('lists the built-in zoo; gets a network of a brought catalog; predicts with it as zoo:NAME', async () => {
    const workspace = fs.mkdtempSync(path.join(tmp, 'ws-'));
    const listed = await cli(['zoo', 'list'], { CNN_INSPECTOR_WORKSPACE: workspace });
    expect(listed.code).toBe(0);
    const list = JSON.parse(listed.stdout);
    expect(list.models.map((m: { name: string }) => m.name)).toContain('zfnet-512');
    expect(list.mirror).toMatch(/^https:\/\//);
    expect(list.folder).toBe(path.join(workspace, 'zoo'));

    mode = 'whole';
    const catalog = path.join(tmp, 'catalog.json');
    fs.writeFileSync(catalog, JSON.stringify([entry]));
    const env = { CNN_INSPECTOR_WORKSPACE: workspace, CNN_INSPECTOR_ZOO_CATALOG: catalog, CNN_INSPECTOR_ZOO_MIRROR: base };
    expect(JSON.parse((await cli(['zoo', 'list'], env)).stdout).models).toMatchObject([{ name: 'tiny-net', state: 'absent' }]);
    const got = await cli(['zoo', 'get', 'tiny-net'], env);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ name: 'tiny-net', fetched: bytes.length, file: path.join(workspace, 'zoo', 'tiny-net.onnx') });
    const image = path.join(ROOT, 'resources', 'samples', fs.readdirSync(path.join(ROOT, 'resources', 'samples'))[0]);
    const file = fs.statSync(image).isDirectory() ? path.join(image, fs.readdirSync(image)[0]) : image;
    const predicted = await cli(['predict', '--model', 'zoo:tiny-net', '--image', file, '--top', '3'], env);
    expect(predicted.code).toBe(0);
    const top = JSON.parse(predicted.stdout);
    expect(JSON.stringify(top)).toMatch(new RegExp(IMAGENET_CLASSES.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')));

    const unknown = await cli(['zoo', 'get', 'no-such-net'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error ZOO_UNKNOWN_MODEL: /);
    const absent = await cli(['info', '--model', 'zoo:zfnet-512'], { CNN_INSPECTOR_WORKSPACE: workspace });
    expect(absent.stderr).toMatch(/^error MODEL_NOT_FOUND: .*cnn-inspect zoo get zfnet-512/);
  });
});
