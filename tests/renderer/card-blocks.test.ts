/** The model card drawn by the app: the engine's own Markdown parsed into headings, lists, tables and bold text. */
import { describe, expect, it } from 'vitest';
import { cardBlocks, inlineParts } from '../../renderer/features/teach-it/card-blocks';

describe('model card blocks', () => {
  it('reads the structure the model card uses', () => {
    const md = [
      '# Net — fine-tuned for 2 classes',
      '',
      'Made with CNN Inspector.',
      '## What it learned from',
      '| class | images | accuracy |',
      '| --- | ---: | ---: |',
      '| cat | 10 | 90.0 % |',
      '| <b>dog</b> | 12 | 75.0 % |',
      '',
      '**Overall accuracy: 80 %** (20 images).',
      '## Mistakes',
      '- 2 × cat taken for dog',
      '- 1 × dog taken for cat',
    ].join('\n');
    const blocks = cardBlocks(md);
    expect(blocks.map((b) => b.kind)).toEqual(['h1', 'p', 'h2', 'table', 'p', 'h2', 'ul']);
    const table = blocks[3] as Extract<(typeof blocks)[number], { kind: 'table' }>;
    expect(table.head.map((c) => c[0].text)).toEqual(['class', 'images', 'accuracy']);
    // A class name with markup stays text (the view draws it with {{ }}, never as HTML).
    expect(table.rows.map((r) => r.map((c) => c[0].text))).toEqual([
      ['cat', '10', '90.0 %'],
      ['<b>dog</b>', '12', '75.0 %'],
    ]);
    expect(blocks[4]).toEqual({
      kind: 'p',
      parts: [
        { text: 'Overall accuracy: 80 %', bold: true },
        { text: ' (20 images).', bold: false },
      ],
    });
    expect((blocks[6] as { items: unknown[] }).items).toHaveLength(2);
  });

  it('bold runs alternate on **', () => {
    expect(inlineParts('a **b** c **d**')).toEqual([
      { text: 'a ', bold: false },
      { text: 'b', bold: true },
      { text: ' c ', bold: false },
      { text: 'd', bold: true },
    ]);
  });
});
