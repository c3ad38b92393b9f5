/**
 * Browser / classroom server against hostile clients, on loopback only: DNS rebinding (Host), cross-site pages
 * (Origin), malformed request lines and paths that used to end the process, the token and its cookie, a client
 * reading server files through a planted model, a model whose shard is a FIFO while a second client must still be
 * answered within a second, oversized frames, job floods, other clients' jobs, uploads released when a client
 * leaves, and paths outside the allowed roots.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageRef, ModelSummary } from '../../shared/contract';
import { decodeMessage } from '../../shared/wire';
import { FRAME_LIMIT_BYTES, startServer, type RunningServer } from '../../electron/server/server';
import { connectSocket, type SocketClient } from '../helpers/socket-client';

const ROOT = path.resolve(__dirname, '..', '..');
const TINY_DIR = path.join(ROOT, 'tests', 'fixtures', 'models', 'tiny-functional');

let server: RunningServer;
let allowed: string;
let outside: string;

/** A raw HTTP exchange (so the request line and headers are exactly what a hostile client sends). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let got = '';
    socket.on('data', (d) => (got += d.toString('latin1')));
    socket.on('close', () => resolve(got));
    socket.on('error', () => resolve(got));
    setTimeout(() => socket.destroy(), 3000);
  });
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);

/** A client of the app over the real socket, authenticated the way the browser is (cookie or token). */
function connect(options: { headers?: Record<string, string>; query?: string } = {}): Promise<SocketClient> {
  return connectSocket(`ws://127.0.0.1:${server.port}/ws${options.query ?? ''}`, options.headers ?? { cookie: `cnn_inspector_${server.port}=${server.token}` });
}

beforeAll(async () => {
  process.env.CNN_INSPECTOR_WORKSPACE = fs.mkdtempSync(path.join(os.tmpdir(), 'security-ws-'));
  allowed = fs.mkdtempSync(path.join(os.tmpdir(), 'security-allowed-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'security-outside-'));
  fs.writeFileSync(path.join(outside, 'secret.bin'), Buffer.alloc(3 * 3 * 3 * 4 * 4 + 16, 7));
  server = await startServer({ port: 0, quiet: true, workers: 2, allow: [allowed], limits: { maxUnfinishedJobs: 2, maxUploadBytes: 4 * 2 ** 20 } });
}, 120_000);

afterAll(async () => {
  await server?.close();
});

describe('HTTP: host, token, headers, malformed requests', () => {
  it('asks for the token in loopback mode too, swaps it for an HttpOnly cookie and a redirect without it', async () => {
    expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${server.port}/?token=wrong`)).status).toBe(401);
    const first = await fetch(server.url, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/');
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await fetch(`http://127.0.0.1:${server.port}/`, { headers: { cookie: cookie.split(';')[0] } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/CNN Inspector/);
    for (const [name, value] of [
      ['x-frame-options', 'DENY'],
      ['x-content-type-options', 'nosniff'],
    ])
      expect(page.headers.get(name)).toBe(value);
    expect(page.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
  });

  it('refuses a Host it does not serve (DNS rebinding), even with the right token', async () => {
    const response = await rawRequest(
      server.port,
      `GET /?token=${server.token} HTTP/1.1\r\nHost: attacker.example:${server.port}\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(response)).toBe(400);
    const none = await rawRequest(server.port, `GET / HTTP/1.0\r\n\r\n`);
    expect(statusOf(none)).toBe(400);
  });

  it('answers malformed request lines and paths with 400 and keeps serving (they used to end the process)', async () => {
    const host = `Host: 127.0.0.1:${server.port}\r\nConnection: close\r\n`;
    for (const line of ['GET // HTTP/1.1', 'GET /%ff HTTP/1.1', 'GET /%E0%A4%A HTTP/1.1', 'GET http://x/ HTTP/1.1', 'GET * HTTP/1.1']) {
      expect(statusOf(await rawRequest(server.port, `${line}\r\n${host}\r\n`)), line).toBe(400);
    }
    const upgrade = `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nHost: 127.0.0.1:${server.port}\r\n`;
    for (const p of ['//', '/%ff', '/ws/%']) expect(statusOf(await rawRequest(server.port, `GET ${p} HTTP/1.1\r\n${upgrade}\r\n`)), p).toBe(401);
    await rawRequest(server.port, 'THIS IS NOT HTTP\r\n\r\n');
    expect((await fetch(server.url, { redirect: 'manual' })).status).toBe(303);
  });

  it('refuses sockets from other sites (Origin) and without the token', async () => {
    await expect(connect({ headers: {} })).rejects.toThrow(/refused: 401/);
    await expect(connect({ headers: { cookie: `cnn_inspector_${server.port}=${server.token}`, origin: 'http://attacker.example' } })).rejects.toThrow(
      /refused: 401/,
    );
    await expect(
      connect({ headers: { cookie: `cnn_inspector_${server.port}=${server.token}`, origin: `http://attacker.example:${server.port}` } }),
    ).rejects.toThrow(/refused: 401/);
    const ok = await connect({ headers: { origin: `http://localhost:${server.port}` }, query: `?token=${server.token}` });
    expect((await ok.api.getState()).transport).toBe('browser');
    ok.socket.close();
  });
});

describe('a client never reads or names server paths', () => {
  it('a planted TF.js model whose shard climbs out of its folder is refused without handing any bytes back', async () => {
    const client = await connect();
    const json = JSON.parse(fs.readFileSync(path.join(TINY_DIR, 'model.json'), 'utf8'));
    const rel = path.relative(path.join(process.env.CNN_INSPECTOR_WORKSPACE!, 'uploaded-datasets', 'planted'), path.join(outside, 'secret.bin'));
    json.weightsManifest[0].paths = [rel];
    const { path: folder } = await client.api.addDatasetFiles({
      folder: 'planted',
      start: true,
      files: [{ path: 'model.json', bytes: new TextEncoder().encode(JSON.stringify(json)) }],
    });
    const error = await client.api.openModel({ path: path.join(folder, 'model.json') }).catch((e) => e);
    expect(error.code).toBe('PATH_OUTSIDE_FOLDER');
    expect(error.message).not.toMatch(/\d+ bytes/);
    expect((await client.api.getState()).model?.id).toBe('bundled:default');
    client.socket.close();
  });

  it('paths outside the samples, the workspace and the named folders are refused alike, whether they exist or not', async () => {
    const client = await connect();
    const codes = async (call: Promise<unknown>) => ((await call.catch((e) => e)) as { code?: string }).code;
    expect(await codes(client.api.openDataset({ path: '/' }))).toBe('PATH_NOT_ALLOWED');
    expect(await codes(client.api.openModel({ path: '/etc/passwd' }))).toBe('PATH_NOT_ALLOWED');
    expect(await codes(client.api.openModel({ path: '/no/such/model.onnx' }))).toBe('PATH_NOT_ALLOWED');
    expect(await codes(client.api.openModel({ path: 'relative/model.onnx' }))).toBe('PATH_NOT_ALLOWED');
    expect(await codes(client.api.exportModel({ format: 'onnx', path: path.join(outside, 'x.onnx') }))).toBe('PATH_NOT_ALLOWED');
    expect(await codes(client.api.startJob({ kind: 'compareModels', params: { other: path.join(TINY_DIR, 'model.json') } }))).toBe('PATH_NOT_ALLOWED');
    // A link inside an allowed folder that leads out of it is refused too.
    fs.symlinkSync(outside, path.join(allowed, 'link-out'));
    expect(await codes(client.api.openDataset({ path: path.join(allowed, 'link-out') }))).toBe('PATH_NOT_ALLOWED');
    // The named folder itself opens (a copy of the tiny model).
    fs.cpSync(TINY_DIR, path.join(allowed, 'tiny'), { recursive: true });
    expect(((await client.api.openModel({ path: path.join(allowed, 'tiny', 'model.json') })) as ModelSummary).inputShape).toEqual([12, 12, 3]);
    // Its settings go to the workspace, not beside the model.
    await client.api.saveModelSettings({ labels: ['a', 'b', 'c'] });
    expect(fs.existsSync(path.join(allowed, 'tiny', 'model.json.inspector.json'))).toBe(false);
    expect((await client.api.getState()).model?.classes).toEqual(['a', 'b', 'c']);
    await client.api.openModel({});
    client.socket.close();
  });

  it('a model whose shard is a FIFO is refused at once, and another client is answered within a second meanwhile', async () => {
    const dir = path.join(allowed, 'fifo-model');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(TINY_DIR, 'model.json'), path.join(dir, 'model.json'));
    execFileSync('mkfifo', [path.join(dir, 'weights.bin')]);
    const a = await connect();
    const b = await connect();
    const opening = a.api.openModel({ path: path.join(dir, 'model.json') }).catch((e) => e);
    const t0 = Date.now();
    await b.api.getState();
    await b.api.predict({ image: { source: 'dataset', index: 0 }, top: 1 });
    const answeredIn = Date.now() - t0;
    expect(answeredIn).toBeLessThan(1000);
    const error = await opening;
    expect(error.code).toBe('FILE_NOT_REGULAR');
    // The same with the shard a link to /dev/zero (endless zeros): refused as leading out of the folder.
    const zero = path.join(allowed, 'zero-model');
    fs.mkdirSync(zero);
    fs.copyFileSync(path.join(TINY_DIR, 'model.json'), path.join(zero, 'model.json'));
    fs.symlinkSync('/dev/zero', path.join(zero, 'weights.bin'));
    const t1 = Date.now();
    const zeroOpening = a.api.openModel({ path: path.join(zero, 'model.json') }).catch((e) => e);
    await b.api.predict({ image: { source: 'dataset', index: 1 }, top: 1 });
    const answeredDuringZero = Date.now() - t1;
    expect((await zeroOpening).code).toBe('PATH_OUTSIDE_FOLDER');
    expect(answeredDuringZero).toBeLessThan(1000);
    console.log(`second client answered in ${answeredIn} ms during the FIFO shard, ${answeredDuringZero} ms during the /dev/zero shard`);
    a.socket.close();
    b.socket.close();
  });
});

describe('per-client limits and release', () => {
  it('closes a socket that sends a frame over the limit, and keeps serving the others', async () => {
    const big = await connect();
    const other = await connect();
    big.socket.send(Buffer.alloc(FRAME_LIMIT_BYTES + 1));
    expect(await big.closed).toBe(1009);
    expect((await other.api.getState()).transport).toBe('browser');
    other.socket.close();
  });

  it('answers malformed frames with BAD_ARGUMENT and keeps the connection and the server', async () => {
    const client = await connect();
    const answers: Array<{ id: number; error?: { code: string } }> = [];
    client.socket.on('message', (data) => {
      const buf = data as Buffer;
      const m = decodeMessage(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)) as { kind: string; id: number; error?: { code: string } };
      if (m.kind === 'result') answers.push(m);
    });
    const frame = (json: string) => {
      const text = Buffer.from(json);
      const head = Buffer.alloc(4);
      head.writeUInt32LE(text.length);
      return Buffer.concat([head, text]);
    };
    client.socket.send('a text frame');
    client.socket.send(frame('null'));
    client.socket.send(frame('{"kind":"call","id":5,"command":"getState","params":{"x":{"$bin":0,"$type":"constructor"}}}'));
    client.socket.send(frame('{"kind":"call","id":6,"command":"openModel","params":{"path":{"toString":1}}}'));
    client.socket.send(frame('{"kind":"call","id":"x","command":"nope"}'));
    await expect.poll(() => answers.length, { timeout: 5000 }).toBe(5);
    // The four malformed frames are BAD_ARGUMENT, the unknown command UNKNOWN_COMMAND (answers may come in any order).
    expect(answers.map((a) => a.error?.code).sort()).toEqual(['BAD_ARGUMENT', 'BAD_ARGUMENT', 'BAD_ARGUMENT', 'BAD_ARGUMENT', 'UNKNOWN_COMMAND']);
    expect((await client.api.getState()).transport).toBe('browser');
    client.socket.close();
  });

  it('a job flood is cut at the per-client limit; another client cannot cancel or read its jobs', async () => {
    const flood = await connect();
    const other = await connect();
    const started: string[] = [];
    let refused: { code?: string } | undefined;
    for (let i = 0; i < 6 && !refused; i++) {
      try {
        started.push((await flood.api.startJob({ kind: 'evaluate', params: {} })).jobId);
      } catch (error) {
        refused = error as { code?: string };
      }
    }
    expect(started).toHaveLength(2);
    expect(refused?.code).toBe('TOO_MANY_JOBS');
    await expect(other.api.cancelJob({ jobId: started[0] })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    await expect(other.api.getJobResult({ jobId: started[0] })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    for (const id of started) await flood.api.cancelJob({ jobId: id });
    flood.socket.close();
    other.socket.close();
  });

  it('uploaded images are held within the quota and released when their client leaves', async () => {
    const png = await sharp({ create: { width: 600, height: 600, channels: 3, background: '#336699' } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    const client = await connect();
    const refs: ImageRef[] = [];
    for (let i = 0; i < 6; i++) refs.push((await client.api.uploadImage({ name: `p${i}.png`, bytes: new Uint8Array(png) })).ref);
    const gate = server.gates().find((g) => g.uploadBytes > 0)!;
    expect(gate.uploadBytes).toBeLessThanOrEqual(4 * 2 ** 20);
    // The oldest went first; the newest is still there.
    await expect(client.api.predict({ image: refs[0], top: 1 })).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await client.api.predict({ image: refs[5], top: 1 });
    client.socket.close();
    await client.closed;
    const other = await connect();
    await expect.poll(async () => (await other.api.predict({ image: refs[5], top: 1 }).catch((e) => e)).code, { timeout: 5000 }).toBe('IMAGE_NOT_FOUND');
    other.socket.close();
  });

  it('a model sent in parts opens; parts out of order are refused', async () => {
    const client = await connect();
    const bytes = new Uint8Array(fs.readFileSync(path.join(ROOT, 'tests', 'fixtures', 'onnx', 'cnn-ops.onnx')));
    const half = Math.floor(bytes.length / 2);
    expect(await client.api.uploadModel({ name: 'cnn-ops.onnx', bytes: bytes.subarray(0, half), offset: 0, total: bytes.length })).toBeNull();
    await expect(client.api.uploadModel({ name: 'cnn-ops.onnx', bytes: bytes.subarray(half), offset: half + 1, total: bytes.length })).rejects.toMatchObject({
      code: 'BAD_ARGUMENT',
    });
    const opened = await client.api.uploadModel({ name: 'cnn-ops.onnx', bytes: bytes.subarray(half), offset: half, total: bytes.length });
    expect(opened?.name).toBe('cnn-ops');
    await client.api.openModel({});
    client.socket.close();
  });
});
