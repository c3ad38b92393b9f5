/**
 * The renderer is served to the Electron window from `app://cnn-inspector/…`, a privileged scheme of our own,
 * not from file:// — where any page could read any file its URL names and every file:// page shares one origin.
 * Requests are answered only for files inside the built renderer folder (after decoding and normalising the
 * path), with the Content-Security-Policy on every answer.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const APP_SCHEME = 'app';
export const APP_HOST = 'cnn-inspector';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const RENDERER_URL = `${APP_ORIGIN}/index.html`;

/** The window's policy: scripts and connections to our own origin only (no ws:/wss: — IPC needs no socket). */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'", // ECharts and Vue set inline styles
  "img-src 'self' blob: data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Privileges of the scheme (registered before the app is ready): standard URLs, secure, fetch-able. */
export const APP_SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true, corsEnabled: false, stream: false };

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** Whether a URL is one of our renderer's pages (for navigation and the IPC sender check). */
export function isTrustedUrl(url: string): boolean {
  return url.startsWith(`${APP_ORIGIN}/`);
}

/** The file an app:// URL names inside `rendererDir`, or undefined for another host or a path that leaves it. */
export function rendererFileFor(url: string, rendererDir: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host !== APP_HOST) return undefined;
  let pathname: string;
  try {
    pathname = decodeURIComponent(parsed.pathname);
  } catch {
    return undefined;
  }
  if (pathname.includes('\0')) return undefined;
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, `.${path.posix.normalize(pathname === '/' ? '/index.html' : pathname)}`);
  // Normalising from the root already keeps '..' inside; the check stays for what another OS might read as a separator.
  return file.startsWith(`${root}${path.sep}`) ? file : undefined;
}

/** The answer to one app:// request: the file with its type and the CSP, or 404 for anything else. */
export function answerAppRequest(url: string, rendererDir: string): Response {
  const headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' };
  const file = rendererFileFor(url, rendererDir);
  let body: Buffer | undefined;
  try {
    if (file && fs.statSync(file).isFile()) body = fs.readFileSync(file);
  } catch {
    body = undefined;
  }
  if (!file || !body) return new Response('Not found', { status: 404, headers: { ...headers, 'Content-Type': 'text/plain' } });
  return new Response(body, { status: 200, headers: { ...headers, 'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' } });
}
