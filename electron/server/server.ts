/**
 * Browser / classroom mode: serves the built renderer and the contract over a WebSocket, on 127.0.0.1 by
 * default; `--host 0.0.0.0` (or any non-loopback address) must be asked for explicitly.
 *   node dist/electron/server.cjs [--port 8765] [--host 127.0.0.1] [--model M] [--data D] [--allow DIR]…
 *
 * Every client is a stranger (the page of another site in the same browser, a student on the LAN):
 *  - a random token in every mode (as Jupyter does): the printed link carries it once, the server swaps it for an
 *    HttpOnly cookie and a redirect, so it leaves the address bar; the socket needs the cookie or the token;
 *  - a Host allow-list (the bound address, localhost, and in classroom mode the machine's own names and
 *    addresses), so DNS rebinding cannot reach the API; Origin is checked against the same list, never against
 *    the Host header the attacker chose;
 *  - every handler is total: a malformed request line, path or frame gets a 400 or a coded error, never an
 *    exception; CSP, frame-ancestors 'none', X-Frame-Options and nosniff on every response;
 *  - frames up to FRAME_LIMIT_BYTES (a model upload part or the largest image); each client behind a ClientGate
 *    (paths confined to the allowed roots, job and upload limits, released when it leaves).
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { EVENTS, MAX_IMAGE_UPLOAD_BYTES, MODEL_UPLOAD_PART_BYTES, subscribeTo, type EventName } from '../../shared/contract';

/** Events about one job: sent only to the window that started it. */
const JOB_EVENTS: ReadonlySet<EventName> = new Set(['jobProgress', 'jobFinished']);
import { toErrorInfo } from '../../shared/errors';
import { decodeMessage, encodeMessage, type WireMessage } from '../../shared/wire';
import { ClientGate, DEFAULT_CLIENT_LIMITS, PathPolicy, type ClientLimits } from '../engine/client-gate';
import { PROJECT_ROOT, RESOURCES_DIR } from '../engine/paths';
import { InspectorService } from '../engine/service';
import { workspaceRoot } from '../engine/files/workspace';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** The largest message a client may send: a model upload part or the largest image, plus framing. */
export const FRAME_LIMIT_BYTES = Math.max(MODEL_UPLOAD_PART_BYTES, MAX_IMAGE_UPLOAD_BYTES) + 2 ** 20;

/** Sent with every response: the app loads only its own files, can be framed by nobody, and types are not sniffed. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export interface ServerOptions {
  host?: string;
  port?: number;
  model?: string;
  data?: string;
  /** More folders browser clients may open (besides the samples, the workspace and the --model / --data folders). */
  allow?: string[];
  rendererDir?: string;
  workers?: number;
  /** Per-client limits (tests lower them). */
  limits?: Partial<ClientLimits>;
  /** Print nothing (tests). */
  quiet?: boolean;
}

export interface RunningServer {
  url: string;
  token: string;
  port: number;
  /** Host header values this server answers to. */
  allowedHosts: string[];
  service: InspectorService;
  /** Connected clients' gates (tests). */
  clients: Set<ClientGate>;
  close(): Promise<void>;
}

const isLoopback = (host: string) => host === '127.0.0.1' || host === 'localhost' || host === '::1';
const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';
const bracket = (h: string) => (h.includes(':') ? `[${h}]` : h);

function sameToken(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieToken(req: http.IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

/** Host names this server answers to: loopback names always; in classroom mode the machine's own names and addresses. */
function allowedHostNames(host: string): string[] {
  const names = new Set(['localhost', '127.0.0.1', '[::1]']);
  if (!isLoopback(host) && !isWildcard(host)) names.add(bracket(host).toLowerCase());
  if (isWildcard(host) || !isLoopback(host)) {
    const hostname = os.hostname().toLowerCase();
    names.add(hostname);
    names.add(`${hostname}.local`);
    for (const addresses of Object.values(os.networkInterfaces())) {
      for (const a of addresses ?? []) names.add(bracket(a.address.split('%')[0]).toLowerCase());
    }
  }
  return [...names];
}

/** The request's path, or undefined when the request line is not an origin-form path we can read. */
function requestPath(req: http.IncomingMessage): { pathname: string; token: string | null } | undefined {
  const raw = req.url ?? '';
  if (!raw.startsWith('/') || raw.startsWith('//')) return undefined;
  try {
    const url = new URL(`http://local${raw}`);
    return { pathname: decodeURIComponent(url.pathname), token: url.searchParams.get('token') };
  } catch {
    return undefined;
  }
}

function plain(res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra }).end(text);
}

/** True when `dir` exists and is a folder (the roots named on the command line). */
function isFolder(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** The roots browser clients may name: the bundled resources, the workspace, and what the server was started with. */
function clientRoots(options: ServerOptions): string[] {
  const roots = [RESOURCES_DIR, workspaceRoot()];
  if (options.model) roots.push(isFolder(options.model) ? options.model : path.dirname(options.model));
  if (options.data) roots.push(options.data);
  for (const dir of options.allow ?? []) roots.push(dir);
  return roots.map((r) => path.resolve(r));
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const token = randomBytes(18).toString('base64url');
  const rendererDir = options.rendererDir ?? path.join(PROJECT_ROOT, 'dist', 'renderer');
  if (!fs.existsSync(path.join(rendererDir, 'index.html'))) {
    throw new Error(`The renderer is not built (${rendererDir}): run \`npm run build\``);
  }
  for (const dir of options.allow ?? []) if (!isFolder(dir)) throw new Error(`--allow ${dir}: no such folder`);
  const service = new InspectorService({ transport: 'browser', workers: options.workers });
  const state = await service.getState();
  await service.openModel({ path: options.model });
  await service.openDataset({ path: options.data });
  const policy = new PathPolicy(clientRoots(options));
  const limits: ClientLimits = { ...DEFAULT_CLIENT_LIMITS, ...options.limits };
  const clients = new Set<ClientGate>();

  let port = 0;
  const hostNames = allowedHostNames(host);
  const allowedHosts = () => hostNames.map((h) => `${h}:${port}`);
  const cookieName = () => `cnn_inspector_${port}`;
  const hostOk = (value: string | undefined) => value !== undefined && allowedHosts().includes(value.toLowerCase());
  const originOk = (origin: string | undefined) => {
    if (origin === undefined) return true; // not a browser: the token decides
    try {
      const u = new URL(origin);
      return u.protocol === 'http:' && hostOk(u.host);
    } catch {
      return false; // "null" (opaque origins) and garbage
    }
  };

  const server = http.createServer((req, res) => {
    try {
      serveFile(req, res);
    } catch (error) {
      plain(res, 500, `Server error: ${toErrorInfo(error).message}`);
    }
  });

  function serveFile(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'Only GET here.', { allow: 'GET, HEAD' });
    if (!hostOk(req.headers.host)) return plain(res, 400, 'This CNN Inspector server does not answer to that host name.');
    const where = requestPath(req);
    if (!where) return plain(res, 400, 'Bad request path.');
    const withCookie = sameToken(cookieToken(req, cookieName()), token);
    if (!withCookie && !sameToken(where.token, token)) {
      return plain(res, 401, 'This CNN Inspector session needs the link with its token (printed where the server was started).');
    }
    if (where.token !== null) {
      // The token moves into an HttpOnly cookie and out of the address bar (and of the history and screenshots).
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        'set-cookie': `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        location: encodeURI(where.pathname),
        'cache-control': 'no-store',
      });
      res.end();
      return;
    }
    const rel = where.pathname === '/' ? '/index.html' : where.pathname;
    const file = path.normalize(path.join(rendererDir, rel));
    let stat: fs.Stats | undefined;
    try {
      stat = file.startsWith(rendererDir + path.sep) ? fs.statSync(file) : undefined;
    } catch {
      stat = undefined;
    }
    if (!stat?.isFile()) return plain(res, 404, 'Not found');
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    fs.createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: FRAME_LIMIT_BYTES });
  server.on('upgrade', (req, socket: Duplex, head) => {
    socket.on('error', () => socket.destroy());
    try {
      const where = requestPath(req);
      const tokenOk = sameToken(cookieToken(req, cookieName()), token) || sameToken(where?.token, token);
      if (!where || where.pathname !== '/ws' || !hostOk(req.headers.host) || !originOk(req.headers.origin) || !tokenOk) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    } catch {
      socket.destroy();
    }
  });

  wss.on('connection', (ws: WebSocket) => {
    const gate = new ClientGate(service, policy, randomUUID(), limits);
    clients.add(gate);
    const send = (m: WireMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeMessage(m));
    };
    // A job's progress and end go to the window that started it only (others could not read its result).
    const disposers = EVENTS.map((name) =>
      subscribeTo(service, name, (payload) => {
        if (!JOB_EVENTS.has(name) || gate.ownsJob((payload as { jobId: string }).jobId)) send({ kind: 'event', name, payload } as WireMessage);
      }),
    );
    // An oversized or malformed frame makes ws emit 'error' and close the socket; without a listener that error
    // would end the whole server.
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      disposers.forEach((d) => d());
      clients.delete(gate);
      void gate.close().catch(() => undefined);
    });
    ws.on('message', (data, isBinary) => void answer(gate, send, data, isBinary).catch(() => ws.terminate()));
  });

  port = await listen(server, host, options.port ?? 8765);
  const shownHost = isWildcard(host) ? 'localhost' : host;
  const url = `http://${bracket(shownHost)}:${port}/?token=${token}`;
  if (!options.quiet) {
    console.log(`CNN Inspector (browser mode) — backend ${state.backend.detail}`);
    console.log(`Open ${url}`);
    if (!isLoopback(host)) console.log(`Listening on ${host}: students open the link above with this machine's address instead of localhost.`);
  }
  return {
    url,
    token,
    port,
    allowedHosts: allowedHosts(),
    service,
    clients,
    async close() {
      for (const client of wss.clients) client.terminate();
      await Promise.all([...clients].map((c) => c.close().catch(() => undefined)));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await service.dispose();
    },
  };
}

/** One message from a client: decoded, run through its gate, answered — never throwing. */
async function answer(gate: ClientGate, send: (m: WireMessage) => void, data: WebSocket.RawData, isBinary: boolean): Promise<void> {
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
  const id = Number.isSafeInteger(message.id) ? message.id : -1;
  try {
    const value = await gate.call(message.command, message.params);
    send({ kind: 'result', id, ok: true, value });
  } catch (error) {
    send({ kind: 'result', id, ok: false, error: toErrorInfo(error) });
  }
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

function argValues(argv: string[], name: string): string[] {
  return argv.flatMap((a, i) => (a === `--${name}` && argv[i + 1] !== undefined ? [argv[i + 1]] : []));
}

if (typeof require !== 'undefined' && require.main === module) {
  const argv = process.argv.slice(2);
  startServer({
    host: argValue(argv, 'host'),
    port: argValue(argv, 'port') ? Number(argValue(argv, 'port')) : undefined,
    model: argValue(argv, 'model'),
    data: argValue(argv, 'data'),
    allow: argValues(argv, 'allow'),
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
