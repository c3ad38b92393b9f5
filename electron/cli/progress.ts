/**
 * The CLI's job context, the same for every command that runs a job. With --progress, stderr has one line saying
 * what the job is doing, how far it is and the time left from its measured pace (the app's progress bars say the
 * same, shared/time-left.ts): redrawn in place on a terminal, a line every 10 s in a log (a cluster job's output).
 * Ctrl-C cancels the job (it ends with JOB_CANCELLED) or, for training, pauses it; a second Ctrl-C quits at once.
 */
import type { TrainingMetrics } from '../../shared/contract';
import { timeLeft, trackProgress, type PaceTrack } from '../../shared/time-left';
import { makeJobContext, type JobContext } from '../engine/base/job-context';
import type { Flags } from './args';

/** Where the line goes: stderr, or a test's stand-in. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/** A terminal redraws at most this often; a log gets a line this often. */
const REDRAW_MS = 100;
const LOG_LINE_MS = 10_000;

/** "Drawing unit 12 of 4800 · 3 % · about 11 min left": the job's words (or its count), the share done, the time left. */
export function progressLine(track: PaceTrack, message: string, now: number): string {
  const parts = [message || `${track.done} of ${track.total}`];
  if (track.total > 0) parts.push(`${Math.min(100, Math.floor((100 * track.done) / track.total))} %`);
  const left = track.done < track.total ? timeLeft(track, now) : undefined;
  if (left) parts.push(left);
  return parts.join(' · ');
}

/**
 * A progress reporter writing `progressLine`s to `stream`; `end(finished)` shows the last state — all done for a job
 * that finished (its own count may stop short: an atlas counts in estimated milliseconds) — and ends the line.
 */
export function progressPrinter(stream: ProgressStream, clock: () => number = Date.now) {
  const track: PaceTrack = { done: 0, total: 0 };
  let shownAt = -Infinity;
  let pending = '';
  let lastMessage = '';
  const show = (line: string, now: number) => {
    stream.write(stream.isTTY ? `\r${line}\u001b[K` : `${line}\n`);
    shownAt = now;
    pending = '';
  };
  return {
    report(done: number, total: number, message: string): void {
      const now = clock();
      trackProgress(track, done, total, now);
      lastMessage = message;
      const line = progressLine(track, message, now);
      if (now - shownAt >= (stream.isTTY ? REDRAW_MS : LOG_LINE_MS)) show(line, now);
      else pending = line;
    },
    end(finished = false): void {
      if (shownAt === -Infinity) return;
      if (finished) show(progressLine({ ...track, done: track.total }, lastMessage, clock()), clock());
      else if (pending) show(pending, clock());
      if (stream.isTTY) stream.write('\n');
    },
  };
}

/**
 * The context a command runs its job with. `interrupt`: what the first Ctrl-C does — cancel the job, or pause a
 * training run (saved, resumable). `done(finished)` ends the progress line and lets go of Ctrl-C.
 */
export function cliJobContext(
  flags: Flags,
  interrupt: 'cancel' | 'pause' = 'cancel',
  stream: ProgressStream = process.stderr,
): { ctx: JobContext; done(finished?: boolean): void } {
  const printer = flags.progress ? progressPrinter(stream) : undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    stream.write(interrupt === 'pause' ? '\nPausing after this batch… (Ctrl-C again to quit at once)\n' : '\nCancelling… (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const report = (done: number, total: number, message: string, _metrics?: TrainingMetrics) => printer?.report(done, total, message);
  const ctx =
    interrupt === 'pause'
      ? makeJobContext(
          report,
          () => false,
          undefined,
          () => interrupted,
        )
      : makeJobContext(report, () => interrupted);
  return {
    ctx,
    done(finished = false) {
      printer?.end(finished);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Runs a command's job with `cliJobContext`, letting go of the line and of Ctrl-C however it ends. */
export async function withJobContext<T>(flags: Flags, run: (ctx: JobContext) => Promise<T>, interrupt: 'cancel' | 'pause' = 'cancel'): Promise<T> {
  const job = cliJobContext(flags, interrupt);
  let finished = false;
  try {
    const result = await run(job.ctx);
    finished = true;
    return result;
  } finally {
    job.done(finished);
  }
}
