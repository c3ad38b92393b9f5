/**
 * A job's time left from its measured pace — the app's progress bars and the CLI's --progress line say the same.
 * The pace is that of the last minute (from the start while the job is younger), so a job that sped through its
 * first part and then slowed (an atlas's projections after its scan) says so.
 */

/** How a job has been going: the progress reports kept for its pace. */
export interface PaceTrack {
  done: number;
  total: number;
  /** When the first report came (or the count changed unit), and how far along it was then. */
  startedAt?: number;
  doneAtStart?: number;
  /** Recent reports [time, done], for the pace of the last minute (the first 10 % of a job is often not its pace). */
  pace?: Array<[number, number]>;
}

/** How far back the estimate looks. */
export const PACE_WINDOW_MS = 60_000;

/**
 * One more progress report. A job whose count changes its unit (a resumed run replays its passes, then counts
 * batches) measures its pace afresh from there: rates across the two units would make the estimate nonsense.
 */
export function trackProgress(track: PaceTrack, done: number, total: number, now: number): void {
  if (track.startedAt === undefined || (track.total && total !== track.total)) {
    track.startedAt = now;
    track.doneAtStart = done;
    track.pace = [];
  }
  track.done = done;
  track.total = total;
  track.pace = [...(track.pace ?? []).filter(([at]) => at >= now - 2 * PACE_WINDOW_MS), [now, done]];
}

/** "about 3 min left", or undefined until there is enough to go on (2 s of measured progress). */
export function timeLeft(track: PaceTrack, now = Date.now()): string | undefined {
  if (track.startedAt === undefined || !track.total) return undefined;
  const recent = (track.pace ?? []).filter(([t]) => t <= now && t >= now - PACE_WINDOW_MS);
  const [since, doneThen] = track.startedAt >= now - PACE_WINDOW_MS || recent.length < 2 ? [track.startedAt, track.doneAtStart ?? 0] : recent[0];
  if (track.done <= doneThen) return undefined;
  const elapsed = (now - since) / 1000;
  if (elapsed < 2) return undefined;
  const seconds = (elapsed * (track.total - track.done)) / (track.done - doneThen);
  if (seconds < 60) return `about ${Math.max(5, Math.round(seconds / 5) * 5)} s left`;
  if (seconds < 3600) return `about ${Math.round(seconds / 60)} min left`;
  return `about ${(seconds / 3600).toFixed(1)} h left`;
}
