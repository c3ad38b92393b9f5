/**
 * Shards of a dataset for work spread over processes or machines (a Kubernetes Indexed Job, a Slurm array): shard i
 * of n takes a contiguous run of the images in dataset order, so the parts merge back in order to exactly what one
 * process gives.
 */
import { InspectorError } from '../../../shared/errors';

export interface Shard {
  index: number;
  count: number;
}

/** Images [start, end) of shard `index` of `count` (all of them without a shard). */
export function shardRange(total: number, shard?: Shard): [number, number] {
  if (!shard) return [0, total];
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new InspectorError('BAD_ARGUMENT', `--shard must be i/n with 0 ≤ i < n (got ${shard.index}/${shard.count})`);
  }
  return [Math.floor((shard.index * total) / shard.count), Math.floor(((shard.index + 1) * total) / shard.count)];
}
