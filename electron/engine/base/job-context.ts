/** What a running job gets from its host: progress reporting, cancellation, and a way to yield. */
import type { TrainingMetrics } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';

export interface JobContext {
  progress(done: number, total: number, message: string, metrics?: TrainingMetrics): void;
  isCancelled(): boolean;
  throwIfCancelled(): void;
  /** Lets messages (cancel, other calls) through between batches. */
  yield(): Promise<void>;
  /** The person asked to stop but keep what is done (training: finish now, save the best epoch). */
  shouldFinish?(): boolean;
  /** The person asked to pause (training: save where it is, end with JOB_PAUSED, resume later). */
  shouldPause?(): boolean;
}

export function makeJobContext(
  report: (done: number, total: number, message: string, metrics?: TrainingMetrics) => void,
  isCancelled: () => boolean,
  shouldFinish?: () => boolean,
  shouldPause?: () => boolean,
): JobContext {
  return {
    progress: report,
    isCancelled,
    ...(shouldFinish ? { shouldFinish } : {}),
    ...(shouldPause ? { shouldPause } : {}),
    throwIfCancelled() {
      if (isCancelled()) throw new InspectorError('JOB_CANCELLED', 'The job was cancelled');
    },
    yield: () => new Promise((resolve) => setImmediate(resolve)),
  };
}
