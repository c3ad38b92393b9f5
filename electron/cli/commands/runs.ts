/** `cnn-inspect runs`: the app's unfinished fine-tuning runs (paused, or interrupted), for resuming from here. */
import * as path from 'node:path';
import { listUnfinishedRuns, runsRoot } from '../../engine/train/run-store';

export async function runRuns(out: (text: string) => void): Promise<void> {
  out(`${JSON.stringify({ runs: listUnfinishedRuns().map((r) => ({ ...r, folder: path.join(runsRoot(), r.id) })) })}\n`);
}
