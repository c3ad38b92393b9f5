/**
 * Browser / classroom mode: serves the built renderer and the contract over a WebSocket, on 127.0.0.1 by
 * default. `--host 0.0.0.0` (or any non-loopback address) must be asked for explicitly, and then the URL carries
 * a random token that every HTTP request and the socket must present.
 *   node dist/electron/server.cjs [--port 8765] [--host 127.0.0.1] [--model M] [--data D] [--no-open-default]
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { toErrorInfo } from '../shared/errors';
import { decodeMessage, encodeMessage, type WireMessage } from '../shared/wire';
import { dispatchCommand } from './engine/dispatch';
import { PROJECT_ROOT } from './engine/paths';
import { InspectorService } from './engine/service';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export interface ServerOptions {
  host?: string;
  port?: number;
  model?: string;
  data?: string;
  rendererDir?: string;
  workers?: number;
  /** Print nothing (tests). */
  quiet?: boolean;
}

export interface RunningServer {
  url: string;
  token?: string;
  service: InspectorService;
  close(): Promise<void>;
}

const isLoopback = (host: string) => host === '127.0.0.1' || host === 'localhost' || host === '::1';

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: http.IncomingMessage): string | undefined {
  return /(?:^|;\s*)cnn_token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const token = isLoopback(host) ? undefined : randomBytes(18).toString('base64url');
  const rendererDir = options.rendererDir ?? path.join(PROJECT_ROOT, 'dist', 'renderer');
  if (!fs.existsSync(path.join(rendererDir, 'index.html'))) {
    throw new Error(`The renderer is not built (${rendererDir}): run \`npm run build\``);
  }
  const service = new InspectorService({ transport: 'browser', workers: options.workers });
  const state = await service.getState();
  await service.openModel({ path: options.model });
  await service.openDataset({ path: options.data });

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    if (token) {
      const ok = sameToken(url.searchParams.get('token'), token) || sameToken(cookieToken(req), token);
      if (!ok) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('This CNN Inspector session needs the link with its token.');
        return;
      }
      res.setHeader('set-cookie', `cnn_token=${token}; HttpOnly; SameSite=Strict; Path=/`);
    }
    let rel = decodeURIComponent(url.pathname);
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = path.normalize(path.join(rendererDir, rel));
    if (!file.startsWith(rendererDir + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    });
    fs.createReadStream(file).pipe(res);
  });

  // Model files come over the socket too (VGG-sized ONNX files are ~0.5 GB); the renderer refuses bigger ones.
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const origin = req.headers.origin;
    // Refuse pages from other sites (cross-site WebSocket hijacking) and, when a token is set, anyone without it.
    let originOk = !origin;
    try {
      originOk ||= new URL(origin!).host === req.headers.host;
    } catch {
      originOk = false; // "null" (opaque origins) and garbage
    }
    const tokenOk = !token || sameToken(url.searchParams.get('token'), token) || sameToken(cookieToken(req), token);
    if (url.pathname !== '/ws' || !originOk || !tokenOk) {
      socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => {
    const send = (m: WireMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeMessage(m));
    };
    const disposers = [
      service.onJobProgress((payload) => send({ kind: 'event', name: 'jobProgress', payload })),
      service.onJobFinished((payload) => send({ kind: 'event', name: 'jobFinished', payload })),
      service.onStateChanged((payload) => send({ kind: 'event', name: 'stateChanged', payload })),
      service.onModelLoading((payload) => send({ kind: 'event', name: 'modelLoading', payload })),
    ];
    ws.on('close', () => disposers.forEach((d) => d()));
    ws.on('message', async (data, isBinary) => {
      let message: WireMessage;
      try {
        if (!isBinary) throw new Error('text frames are not part of the protocol');
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        message = decodeMessage(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
      } catch (error) {
        send({ kind: 'result', id: -1, ok: false, error: { code: 'BAD_ARGUMENT', message: `Malformed message: ${String(error)}` } });
        return;
      }
      if (message.kind !== 'call') return;
      try {
        const value = await dispatchCommand(service, message.command, message.params);
        send({ kind: 'result', id: message.id, ok: true, value });
      } catch (error) {
        send({ kind: 'result', id: message.id, ok: false, error: toErrorInfo(error) });
      }
    });
  });

  const port = await listen(server, host, options.port ?? 8765);
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}/${token ? `?token=${token}` : ''}`;
  if (!options.quiet) {
    console.log(`CNN Inspector (browser mode) — backend ${state.backend.detail}`);
    console.log(`Open ${url}`);
    if (token) console.log(`Listening on ${host}: students open the link above with this machine's address instead of localhost.`);
  }
  return {
    url,
    token,
    service,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await service.dispose();
    },
  };
}

/** Listens on `port`, or the next free one (up to 20 tries); port 0 picks any free port. */
function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let attempt = 0;
    const tryPort = (p: number) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE' && port !== 0 && attempt++ < 20) tryPort(p + 1);
        else reject(error);
      });
      server.listen(p, host, () => resolve((server.address() as { port: number }).port));
    };
    tryPort(port);
  });
}

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

if (typeof require !== "undefined" && require.main === module) {
  const argv = process.argv.slice(2);
  startServer({
    host: argValue(argv, 'host'),
    port: argValue(argv, 'port') ? Number(argValue(argv, 'port')) : undefined,
    model: argValue(argv, 'model'),
    data: argValue(argv, 'data'),
  }).then(
    (running) => {
      const stop = () => void running.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (error) => {
      const info = toErrorInfo(error);
      console.error(`error ${info.code}: ${info.message}`);
      process.exit(1);
    },
  );
}
