/**
 * The classroom load test: a browser-mode server in a process of its own, and simulated students over loopback,
 * each repeating what a student clicking through the Inspect tab asks — predict, one layer's activations, one
 * unit's deconvnet projection — on the bundled model and samples. Per request kind: p50 and p95 answer time with
 * the whole class, against the same requests from one student alone (the peer: what each would get with the
 * machine to themselves); errors (must be 0); the server's memory before the class came (after a 5 s warm-up class)
 * and after it left.
 *   BENCH_STUDENTS (30) and BENCH_CLASS_SECONDS (60) size it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import { createRemoteInspector } from '../shared/client';
import type { Inspector } from '../shared/contract';
import { decodeMessage, encodeMessage } from '../shared/wire';
import { print, round } from './bench-batch';

const KINDS = ['predict', 'activations', 'project'] as const;
type Kind = (typeof KINDS)[number];
type Timings = Record<Kind, number[]>;

/** The server as `npm run serve` starts it, with a short grace so a closed window's session ends within the test. */
async function startServerProcess(root: string): Promise<{ child: ChildProcess; studentUrl: string }> {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'electron', 'server.cjs'), '--port', '0', '--grace-ms', '1000'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const studentUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const found = /Students open (\S+)/.exec(out);
      if (found) resolve(found[1]);
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code}) before printing its links`)));
  });
  return { child, studentUrl };
}

/** Resident memory of a process in MiB (Linux /proc; the server's worker threads included). */
function residentMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function connectStudent(studentUrl: string): Promise<{ api: Inspector; socket: WebSocket }> {
  const link = new URL(studentUrl);
  const socket = new WebSocket(`ws://${link.host}/ws?token=${link.searchParams.get('token')}`, { maxPayload: 2 ** 30 });
  const handlers: Array<(m: ReturnType<typeof decodeMessage>) => void> = [];
  const closeHandlers: Array<(r: string) => void> = [];
  socket.on('message', (data: Buffer) => handlers.forEach((h) => h(decodeMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)))));
  socket.on('close', () => closeHandlers.forEach((h) => h('closed')));
  const api = createRemoteInspector({ send: (m) => socket.send(encodeMessage(m)), onMessage: (h) => handlers.push(h), onClose: (h) => closeHandlers.push(h) });
  return new Promise((resolve, reject) => {
    socket.on('open', () => resolve({ api, socket }));
    socket.on('error', reject);
  });
}

/** One student for `seconds`: the three requests in turn on random sample images, each timed. */
async function student(api: Inspector, seconds: number, timings: Timings): Promise<number> {
  const state = await api.getState();
  const layer = state.model!.layers.find((l) => l.type.toLowerCase().includes('conv'))!.name;
  const images = state.dataset!.count;
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const image = { source: 'dataset' as const, index: Math.floor(Math.random() * images) };
    const requests: Record<Kind, () => Promise<unknown>> = {
      predict: () => api.predict({ image, top: 5 }),
      activations: () => api.activations({ image, layer }),
      project: () => api.project({ image, layer, unit: 0, method: 'deconv' }),
    };
    for (const kind of KINDS) {
      const start = performance.now();
      try {
        await requests[kind]();
        timings[kind].push(performance.now() - start);
      } catch {
        errors++;
      }
    }
  }
  return errors;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

async function runClass(studentUrl: string, count: number, seconds: number): Promise<{ timings: Timings; errors: number }> {
  const timings: Timings = { predict: [], activations: [], project: [] };
  const clients = await Promise.all(Array.from({ length: count }, () => connectStudent(studentUrl)));
  const errors = (await Promise.all(clients.map((c) => student(c.api, seconds, timings)))).reduce((a, b) => a + b, 0);
  await Promise.all(clients.map((c) => new Promise((resolve) => (c.socket.once('close', resolve), c.socket.close()))));
  return { timings, errors };
}

export async function classroomBench(root: string): Promise<void> {
  const count = Number(process.env.BENCH_STUDENTS ?? 30);
  const seconds = Number(process.env.BENCH_CLASS_SECONDS ?? 60);
  const { child, studentUrl } = await startServerProcess(root);
  try {
    const alone = await runClass(studentUrl, 1, Math.min(10, seconds));
    // A short class first, so "before" is the warm server (its allocator pools, compiled kernels) and "after"
    // shows what the class left behind rather than what any first use costs.
    await runClass(studentUrl, count, Math.min(5, seconds));
    await new Promise((r) => setTimeout(r, 2500)); // their sessions end (grace 1 s)
    const before = residentMiB(child.pid!);
    const full = await runClass(studentUrl, count, seconds);
    await new Promise((r) => setTimeout(r, 2500));
    const after = residentMiB(child.pid!);
    for (const kind of KINDS) {
      for (const p of [50, 95]) {
        const ours = percentile(full.timings[kind], p);
        const peer = percentile(alone.timings[kind], p);
        print({
          name: `classroom: ${kind} p${p} with ${count} students (${full.timings[kind].length} answers in ${seconds} s)`,
          value: round(ours, 1),
          unit: 'ms',
          peer: 'the same requests from one student alone',
          peer_value: round(peer, 1),
          ratio: round(ours / peer, 2),
        });
      }
    }
    print({ name: `classroom: failed requests of ${count} students`, value: full.errors + alone.errors, unit: 'requests' });
    print({
      name: 'classroom: server memory after the class left',
      value: round(after, 0),
      unit: 'MiB',
      peer: 'before the class came',
      peer_value: round(before, 0),
      ratio: round(after / before, 3),
    });
  } finally {
    child.kill('SIGTERM');
  }
}
