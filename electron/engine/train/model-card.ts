/**
 * The model card written beside every fine-tuned model (after Mitchell et al., "Model Cards for Model Reporting"):
 * what the model is, what it learned from, how well it does per class on images it never trained on, and what
 * that does not tell you. Markdown (MODEL_CARD.md), a page to open in any browser (model-card.html, with the
 * confusion matrix as a coloured table), and JSON (model-card.json) for scripts — for the person and for whoever
 * they hand the model to.
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

export type CardInput = FinetuneResult & { baseName: string; dataset: DatasetSummary; strategy: Strategy; date: Date };

export function modelCard(r: CardInput): string {
  const worst = Object.entries(r.perClass).sort((a, b) => a[1] - b[1])[0];
  const confusions: string[] = [];
  r.confusion.forEach((row, t) =>
    row.forEach((count, p) => {
      if (t !== p && count > 0) confusions.push(`${count} × ${r.classes[t]} taken for ${r.classes[p]}`);
    }),
  );
  const last = r.history[r.history.length - 1];
  const setName = r.reportedOn === 'test' ? 'test' : 'held-back';
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
    r.reportedOn === 'test'
      ? `The folder **${r.dataset.name}**: ${r.trainImages} images to learn from, ${r.validationImages} held back to choose when to stop, and ${r.testImages} set aside as a test set it never saw while training (stratified splits, seed ${r.settings.seed}).`
      : `The folder **${r.dataset.name}**: ${r.trainImages} images to learn from and ${r.validationImages} held back to check it (a stratified split, seed ${r.settings.seed}).`,
    '',
    `| class | images learned from | accuracy on ${setName} images |`,
    '| --- | ---: | ---: |',
    ...r.classes.map((c) => `| ${c} | ${r.trainPerClass[c] ?? 0} | ${pct(r.perClass[c] ?? 0)} |`),
    '',
    r.reportedOn === 'test'
      ? `**Overall accuracy on the test images: ${pct(r.testAccuracy ?? 0)}** (${r.testImages} images; on the held-back images used to choose when to stop: ${pct(r.validationAccuracy)}).`
      : `**Overall accuracy on held-back images: ${pct(r.validationAccuracy)}** (${r.validationImages} images).`,
    r.bestEpoch !== undefined
      ? `Training kept the weights of epoch ${r.bestEpoch}${r.stoppedEarly ? (r.stopReason === 'asked' ? ', stopped early when the person pressed Stop and keep' : ', stopping early when held-back accuracy stopped improving') : ''}.`
      : '',
    last ? `Last training loss ${last.loss.toFixed(3)}.` : '',
    '',
    `## Mistakes it made on ${setName} images`,
    confusions.length
      ? confusions
          .slice(0, 12)
          .map((c) => `- ${c}`)
          .join('\n')
      : '- none',
    '',
    '## Settings',
    `epochs ${r.settings.epochs}, batch ${r.settings.batchSize}, ${r.settings.optimizer === 'adam' ? 'Adam' : 'SGD with momentum'}, learning rate ${r.settings.learningRate}, augmentation ${r.settings.augment && (r.settings.crop || r.settings.flip) ? `on (${[r.settings.crop ? 'random crops' : '', r.settings.flip ? 'mirror images' : ''].filter(Boolean).join(', ')})` : 'off'}, early stopping ${r.settings.earlyStopping ? 'on' : 'off'}${r.frozen.length ? `; layers kept fixed: ${r.frozen.join(', ')}` : ''}${
      Object.keys(r.settings.layerMultipliers ?? {}).length
        ? `; learning-rate factors: ${Object.entries(r.settings.layerMultipliers)
            .map(([l, f]) => `${l} ${f}×`)
            .join(', ')}`
        : ''
    }.`,
    r.skipped.length
      ? `${r.skipped.length} file(s) could not be read and were left out: ${r.skipped
          .slice(0, 5)
          .map((s) => s.file)
          .join(', ')}${r.skipped.length > 5 ? ', …' : ''}.`
      : '',
    '',
    '## What these numbers do not tell you',
    `- They come from ${r.reportedOn === 'test' ? r.testImages : r.validationImages} ${setName} images of the same folder: pictures taken differently (other cameras, light, backgrounds) may do worse.`,
    worst ? `- The weakest class is **${worst[0]}** (${pct(worst[1])}); more and more varied images of it help most.` : '',
    '- Held-back sets this small move by several points from one split to another; compare runs on the same split.',
    '',
  ]
    .filter((line, i, all) => line !== '' || all[i - 1] !== '')
    .join('\n');
}

/** The card's facts as data (what scripts and other tools read). */
export function modelCardJson(r: CardInput): Record<string, unknown> {
  return {
    name: `${r.baseName} — fine-tuned for ${r.classes.length} classes`,
    date: r.date.toISOString(),
    base_model: r.baseName,
    strategy: r.strategy,
    strategy_words: STRATEGY_WORDS[r.strategy],
    classes: r.classes,
    data: { folder: r.dataset.name, train_images: r.trainImages, validation_images: r.validationImages, train_per_class: r.trainPerClass, skipped: r.skipped },
    validation_accuracy: r.validationAccuracy,
    test_images: r.testImages,
    test_accuracy: r.testAccuracy,
    reported_on: r.reportedOn,
    per_class_accuracy: r.perClass,
    confusion: { rows_true_columns_predicted: r.confusion },
    best_epoch: r.bestEpoch,
    stopped_early: r.stoppedEarly,
    ...(r.stopReason ? { stop_reason: r.stopReason } : {}),
    settings: r.settings,
    frozen_layers: r.frozen,
    history: r.history,
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The card as one self-contained page: the Markdown's sections, plus the confusion matrix coloured by count. */
export function modelCardHtml(r: CardInput): string {
  const lines = modelCard(r).split('\n');
  const body: string[] = [];
  let table: string[][] | undefined;
  const flush = () => {
    if (!table) return;
    const [head, , ...rows] = table;
    body.push(
      `<table><thead><tr>${head.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((c, i) => `<td${i ? ' class="num"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`,
    );
    table = undefined;
  };
  const inline = (s: string) => escapeHtml(s).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>');
  for (const line of lines) {
    if (line.startsWith('|')) {
      (table ??= []).push(
        line
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
      continue;
    }
    flush();
    if (line.startsWith('# ')) body.push(`<h1>${inline(line.slice(2))}</h1>`);
    else if (line.startsWith('## ')) {
      if (line === '## Settings') body.push(confusionTable(r));
      body.push(`<h2>${inline(line.slice(3))}</h2>`);
    } else if (line.startsWith('- ')) body.push(`<li>${inline(line.slice(2))}</li>`);
    else if (line.trim()) body.push(`<p>${inline(line)}</p>`);
  }
  flush();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`${r.baseName} — model card`)}</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #1b2430; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #d7dee7; }
table { border-collapse: collapse; margin: 0.6em 0; } td, th { padding: 3px 8px; border: 1px solid #d7dee7; text-align: left; }
.num { text-align: right; font-variant-numeric: tabular-nums; } li { margin-left: 1.2em; }
.cm td { text-align: center; min-width: 2.4em; } .cm th.rot { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }
</style></head><body>
${body.join('\n')}
</body></html>
`;
}

function confusionTable(r: CardInput): string {
  const max = Math.max(1, ...r.confusion.flat());
  const cell = (count: number, diagonal: boolean) => {
    const share = count / max;
    const colour = diagonal ? `rgba(46, 125, 50, ${0.15 + 0.7 * share})` : count ? `rgba(198, 40, 40, ${0.15 + 0.7 * share})` : 'transparent';
    return `<td style="background:${colour}">${count || ''}</td>`;
  };
  return `<h2>Confusion matrix (${r.reportedOn === 'test' ? 'test' : 'held-back'} images)</h2>
<p>Rows: the true class; columns: what the model said. The diagonal (green) is right; red cells are its mistakes.</p>
<table class="cm"><thead><tr><th></th>${r.classes.map((c) => `<th class="rot">${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>
${r.confusion.map((row, t) => `<tr><th>${escapeHtml(r.classes[t])}</th>${row.map((n, p) => cell(n, t === p)).join('')}</tr>`).join('\n')}
</tbody></table>`;
}
