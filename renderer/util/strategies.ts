/** The four ways of training a network on a person's classes, in words a non-programmer can follow. */
import type { FinetuneStrategy } from '../../shared/contract';

export const STRATEGIES: Array<{ id: FinetuneStrategy; title: string; text: string }> = [
  {
    id: 'features',
    title: 'Keep what it knows, teach a new last step',
    text: 'Every learned layer stays as it is; only a new final layer learns your classes. Fast, and best when you have few images.',
  },
  {
    id: 'fc',
    title: 'Keep the pattern detectors, retrain the top',
    text: 'The convolution layers (edges, textures, parts) stay; the fully connected layers and the new last step learn.',
  },
  {
    id: 'all',
    title: 'Adjust the whole network gently',
    text: 'Everything learns, the already-trained layers at a tenth of the speed of the new last step. Best with many images.',
  },
  { id: 'scratch', title: 'Start from nothing (for comparison)', text: 'Same network, random starting point: shows how much the pretrained knowledge helps.' },
];

export const strategyTitle = (id: FinetuneStrategy) => STRATEGIES.find((s) => s.id === id)?.title ?? id;

/** A short name for a way of training: its title up to the first comma or bracket ("Keep what it knows"). */
const strategyShortName = (id: FinetuneStrategy) => strategyTitle(id).split(/,| \(/)[0];

/** A run's name in the app, "Keep what it knows · my-shapes · 14:32": the way, the folder, the start time. */
export function runName(run: { strategy: FinetuneStrategy; datasetName?: string; startedAt?: string }): string {
  const time = run.startedAt ? new Date(run.startedAt) : undefined;
  const clock = time && !Number.isNaN(time.getTime()) ? `${String(time.getHours()).padStart(2, '0')}:${String(time.getMinutes()).padStart(2, '0')}` : undefined;
  return [strategyShortName(run.strategy), run.datasetName, clock].filter(Boolean).join(' · ');
}
