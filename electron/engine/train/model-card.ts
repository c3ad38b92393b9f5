/**
 * The model card written beside every fine-tuned model (after Mitchell et al., "Model Cards for Model Reporting"):
 * what the model is, what it learned from, how well it does per class on images it never trained on, and what
 * that does not tell you. Plain Markdown, for the person and for whoever they hand the model to.
 */
import type { DatasetSummary } from '../../../shared/contract';
import type { FinetuneResult, Strategy } from './finetune';

const STRATEGY_WORDS: Record<Strategy, string> = {
  features: 'every pretrained layer kept fixed; only a new final layer learned the classes (features + new classifier)',
  fc: 'convolution layers kept fixed; the fully connected layers and a new final layer learned',
  all: 'the whole network fine-tuned, pretrained layers at a tenth of the new layer’s learning rate',
  scratch: 'the same architecture trained from random weights (a control, not transfer learning)',
};

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

export function modelCard(r: FinetuneResult & { baseName: string; dataset: DatasetSummary; strategy: Strategy; date: Date }): string {
  const worst = Object.entries(r.perClass).sort((a, b) => a[1] - b[1])[0];
  const confusions: string[] = [];
  r.confusion.forEach((row, t) =>
    row.forEach((count, p) => {
      if (t !== p && count > 0) confusions.push(`${count} × ${r.classes[t]} taken for ${r.classes[p]}`);
    }),
  );
  const last = r.history[r.history.length - 1];
  return [
    `# ${r.baseName} — fine-tuned for ${r.classes.length} classes`,
    '',
    `Made with CNN Inspector on ${r.date.toISOString().slice(0, 10)}.`,
    '',
    '## What it does',
    `Sorts an image into one of: ${r.classes.join(', ')}.`,
    `It starts from **${r.baseName}** and was trained with ${STRATEGY_WORDS[r.strategy]}.`,
    '',
    '## What it learned from',
    `The folder **${r.dataset.name}**: ${r.trainImages} images to learn from and ${r.validationImages} held back to check it (a stratified split, seed ${r.settings.seed}).`,
    '',
    '| class | images learned from | accuracy on held-back images |',
    '| --- | ---: | ---: |',
    ...r.classes.map((c) => `| ${c} | ${r.trainPerClass[c] ?? 0} | ${pct(r.perClass[c] ?? 0)} |`),
    '',
    `**Overall accuracy on held-back images: ${pct(r.validationAccuracy)}** (${r.validationImages} images).`,
    r.bestEpoch !== undefined ? `Training kept the weights of epoch ${r.bestEpoch}${r.stoppedEarly ? ', stopping early when held-back accuracy stopped improving' : ''}.` : '',
    last ? `Last training loss ${last.loss.toFixed(3)}.` : '',
    '',
    '## Mistakes it made on held-back images',
    confusions.length ? confusions.slice(0, 12).map((c) => `- ${c}`).join('\n') : '- none',
    '',
    '## Settings',
    `epochs ${r.settings.epochs}, batch ${r.settings.batchSize}, ${r.settings.optimizer === 'adam' ? 'Adam' : 'SGD with momentum'}, learning rate ${r.settings.learningRate}, augmentation ${r.settings.augment ? `on (random crops${r.settings.flip ? ', mirror images' : ''})` : 'off'}, early stopping ${r.settings.earlyStopping ? 'on' : 'off'}${r.frozen.length ? `; layers kept fixed: ${r.frozen.join(', ')}` : ''}.`,
    r.skipped.length ? `${r.skipped.length} file(s) could not be read and were left out: ${r.skipped.slice(0, 5).map((s) => s.file).join(', ')}${r.skipped.length > 5 ? ', …' : ''}.` : '',
    '',
    '## What these numbers do not tell you',
    `- They come from ${r.validationImages} held-back images of the same folder: pictures taken differently (other cameras, light, backgrounds) may do worse.`,
    worst ? `- The weakest class is **${worst[0]}** (${pct(worst[1])}); more and more varied images of it help most.` : '',
    '- Held-back sets this small move by several points from one split to another; compare runs on the same split.',
    '',
  ]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
}
