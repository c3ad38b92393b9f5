/**
 * Browser / classroom mode: serves the built renderer and the contract over a WebSocket, on 127.0.0.1 by
 * default; `--host 0.0.0.0` (or any non-loopback address) must be asked for explicitly.
 *   node dist/electron/server.cjs [--port 8765] [--host 127.0.0.1] [--model M] [--data D] [--allow DIR]… [--grace-ms 30000]
 *
 * Every client is a stranger (the page of another site in the same browser, a student on the LAN):
 *  - a random token in every mode (as Jupyter does): the printed link carries it once, the server swaps it for an
 *    HttpOnly cookie and a redirect, so it leaves the address bar; the socket needs the cookie or the token;
 *  - a Host allow-list (the bound address, localhost, and in classroom mode the machine's own names and
 *    addresses), so DNS rebinding cannot reach the API; Origin is checked against the same list, never against
 *    the Host header the attacker chose;
 *  - every handler is total: a malformed request line, path or frame gets a 400 or a coded error, never an
 *    exception; CSP, frame-ancestors 'none', X-Frame-Options and nosniff on every response;
 *  - frames up to FRAME_LIMIT_BYTES (a model upload part or the largest image); each window a session of its own
 *    (classroom.ts) behind a ClientGate (paths confined to the allowed roots, job and upload limits, released when
 *    it leaves);
 *  - two tokens: the instructor's (the printed link) and the students' (the student link the instructor's window
 *    shows); which one a window came with decides its role, and a student's gate keeps to what the instructor offers.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { EVENTS, MAX_IMAGE_UPLOAD_BYTES, MODEL_UPLOAD_PART_BYTES, subscribeTo, type ClassroomRole } from '../../shared/contract';
import { toErrorInfo } from '../../shared/errors';
import { decodeMessage, encodeMessage, type WireMessage } from '../../shared/wire';
import { DEFAULT_CLIENT_LIMITS, PathPolicy, type ClientGate, type ClientLimits } from '../engine/client-gate';
import { EngineHost } from '../engine/host';
import { PROJECT_ROOT, RESOURCES_DIR } from '../engine/paths';
import { workspaceRoot } from '../engine/files/workspace';
import { Classroom, type Session } from './classroom';

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
  /** How long a session outlives its last window, in ms (a reload comes back within it; tests shorten it). */
  graceMs?: number;
  /** Windows (sessions) at most at once. */
  maxSessions?: number;
}

/** Long enough for a reload on a slow classroom laptop, short enough that a closed tab's memory soon returns. */
const DEFAULT_GRACE_MS = 30_000;

export interface RunningServer {
  /** The instructor's link. */
  url: string;
  token: string;
  /** The link students open (the machine's LAN address when it listens beyond loopback). */
  studentUrl: string;
  studentToken: string;
  port: number;
  /** Host header values this server answers to. */
  allowedHosts: string[];
  host: EngineHost;
  classroom: Classroom;
  /** The gates of the sessions open now (tests). */
  gates(): ClientGate[];
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
function requestPath(req: http.IncomingMessage): { pathname: string; token: string | null; session?: string } | undefined {
  const raw = req.url ?? '';
  if (!raw.startsWith('/') || raw.startsWith('//')) return undefined;
  try {
    const url = new URL(`http://local${raw}`);
    const session = url.searchParams.get('session') ?? undefined;
    return { pathname: decodeURIComponent(url.pathname), token: url.searchParams.get('token'), ...(session ? { session } : {}) };
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

/** The machine's first LAN address (IPv4 preferred), for the student link; undefined when it has none. */
function lanAddress(): string | undefined {
  const all = Object.values(os.networkInterfaces()).flatMap((a) => a ?? []);
  const external = all.filter((a) => !a.internal);
  return (external.find((a) => a.family === 'IPv4') ?? external[0])?.address.split('%')[0];
}

/** The host part of the links: the bound address, the LAN address when bound to all, localhost on loopback. */
function linkHost(host: string): string {
  if (isWildcard(host)) return lanAddress() ?? 'localhost';
  return host;
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const tokens: Record<ClassroomRole, string> = { instructor: randomBytes(18).toString('base64url'), student: randomBytes(18).toString('base64url') };
  const rendererDir = options.rendererDir ?? path.join(PROJECT_ROOT, 'dist', 'renderer');
  if (!fs.existsSync(path.join(rendererDir, 'index.html'))) {
    throw new Error(`The renderer is not built (${rendererDir}): run \`npm run build\``);
  }
  for (const dir of options.allow ?? []) if (!isFolder(dir)) throw new Error(`--allow ${dir}: no such folder`);
  const engine = new EngineHost({ workers: options.workers });
  const backend = await engine.backend();
  const policy = new PathPolicy(clientRoots(options));
  const limits: ClientLimits = { ...DEFAULT_CLIENT_LIMITS, ...options.limits };

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
  /** The role a token gives (the cookie's or the link's), or undefined for none of ours. */
  const roleOf = (...given: Array<string | null | undefined>): ClassroomRole | undefined => {
    for (const role of ['instructor', 'student'] as const) if (given.some((g) => sameToken(g, tokens[role]))) return role;
    return undefined;
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
    const linkRole = roleOf(where.token);
    if (!roleOf(cookieToken(req, cookieName())) && !linkRole) {
      return plain(res, 401, 'This CNN Inspector session needs the link with its token (printed where the server was started).');
    }
    if (where.token !== null && linkRole) {
      // The token moves into an HttpOnly cookie and out of the address bar (and of the history and screenshots).
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        'set-cookie': `${cookieName()}=${tokens[linkRole]}; HttpOnly; SameSite=Strict; Path=/`,
        location: encodeURI(where.pathname),
        'cache-control': 'no-store',
      });
      res.end();
      return;
    }
    sendRendererFile(req, res, rendererDir, where.pathname);
  }

  port = await listen(server, host, options.port ?? 8765);
  const shownHost = bracket(linkHost(host));
  const url = `http://${bracket(isWildcard(host) ? 'localhost' : host)}:${port}/?token=${tokens.instructor}`;
  const studentUrl = `http://${shownHost}:${port}/?token=${tokens.student}`;
  const classroom = new Classroom({
    host: engine,
    policy,
    limits,
    startModel: options.model,
    startData: options.data,
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
    maxSessions: options.maxSessions ?? 200,
    studentUrl,
  });
  // The server's model opens once before anyone comes: a bad --model fails the start, not the first student.
  try {
    await classroom.openOnce();
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await engine.dispose();
    throw error;
  }
  const wss = acceptSockets(server, {
    check: (req) => {
      const where = requestPath(req);
      const role = roleOf(cookieToken(req, cookieName()), where?.token);
      const ok = where && where.pathname === '/ws' && hostOk(req.headers.host) && originOk(req.headers.origin);
      return ok && role ? { role, wanted: where.session } : undefined;
    },
    classroom,
  });

  if (!options.quiet) {
    console.log(`CNN Inspector (browser mode) — backend ${backend.detail}`);
    console.log(`Open ${url}`);
    console.log(`Students open ${studentUrl} (also shown in your window)`);
    if (isLoopback(host)) console.log('(Listening on this machine only: start with --host 0.0.0.0 for a classroom.)');
  }
  return {
    url,
    token: tokens.instructor,
    studentUrl,
    studentToken: tokens.student,
    port,
    allowedHosts: allowedHosts(),
    host: engine,
    classroom,
    gates: () => classroom.gates(),
    async close() {
      for (const client of wss.clients) client.terminate();
      await classroom.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await engine.dispose();
    },
  };
}

/** A file of the built renderer, or 404 for anything outside it. */
function sendRendererFile(req: http.IncomingMessage, res: http.ServerResponse, rendererDir: string, pathname: string): void {
  const rel = pathname === '/' ? '/index.html' : pathname;
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

/**
 * The WebSocket side: an upgrade `check` accepts (by token, Host, Origin) joins its session — the one it names
 * when it comes back from a reload — and gets that session's events only.
 */
function acceptSockets(
  server: http.Server,
  { check, classroom }: { check: (req: http.IncomingMessage) => { role: ClassroomRole; wanted?: string } | undefined; classroom: Classroom },
): WebSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: FRAME_LIMIT_BYTES });
  const refuse = (socket: Duplex, status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  server.on('upgrade', (req, socket: Duplex, head) => {
    socket.on('error', () => socket.destroy());
    try {
      const accepted = check(req);
      if (!accepted) return refuse(socket, '401 Unauthorized');
      const session = classroom.join(accepted.role, accepted.wanted);
      if (!session) return refuse(socket, '503 Service Unavailable');
      wss.handleUpgrade(req, socket, head, (ws) => attach(ws, session, classroom));
    } catch {
      socket.destroy();
    }
  });
  return wss;
}

/** One window's socket on its session: requests through the session's gate, the session's events back. */
function attach(ws: WebSocket, session: Session, classroom: Classroom): void {
  const send = (m: WireMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(encodeMessage(m));
  };
  const disposers = EVENTS.map((name) => subscribeTo(session.service, name, (payload) => send({ kind: 'event', name, payload } as WireMessage)));
  // An oversized or malformed frame makes ws emit 'error' and close the socket; without a listener that error
  // would end the whole server.
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    disposers.forEach((d) => d());
    classroom.leave(session);
  });
  ws.on('message', (data, isBinary) => void answer(session, send, data, isBinary).catch(() => ws.terminate()));
}

/** One message from a client: decoded, run through its gate, answered — never throwing. */
async function answer(session: Session, send: (m: WireMessage) => void, data: WebSocket.RawData, isBinary: boolean): Promise<void> {
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
    await session.ready;
    const value = await session.gate.call(message.command, message.params);
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
    graceMs: argValue(argv, 'grace-ms') ? Number(argValue(argv, 'grace-ms')) : undefined,
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
