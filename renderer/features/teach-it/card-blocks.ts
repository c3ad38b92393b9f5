/**
 * The model card's Markdown as blocks the app draws itself (headings, paragraphs, lists, tables, **bold**): the
 * card names the person's classes and folder, so it is never put into the page as HTML.
 */
export interface Inline {
  text: string;
  bold: boolean;
}
export type Block = { kind: 'h1' | 'h2' | 'p'; parts: Inline[] } | { kind: 'ul'; items: Inline[][] } | { kind: 'table'; head: Inline[][]; rows: Inline[][][] };

export function inlineParts(text: string): Inline[] {
  return text
    .split('**')
    .map((t, i) => ({ text: t, bold: i % 2 === 1 }))
    .filter((p) => p.text !== '');
}

const cells = (line: string) =>
  line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((c) => inlineParts(c.trim()));

export function cardBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const last = blocks[blocks.length - 1];
    if (line.trim() === '') continue;
    if (line.startsWith('## ')) blocks.push({ kind: 'h2', parts: inlineParts(line.slice(3)) });
    else if (line.startsWith('# ')) blocks.push({ kind: 'h1', parts: inlineParts(line.slice(2)) });
    else if (line.startsWith('- ')) {
      if (last?.kind === 'ul' && lines[i - 1]?.startsWith('- ')) last.items.push(inlineParts(line.slice(2)));
      else blocks.push({ kind: 'ul', items: [inlineParts(line.slice(2))] });
    } else if (line.startsWith('|')) {
      if (/^\|[\s|:-]+\|$/.test(line.trim())) continue; // the | --- | line under the head
      if (last?.kind === 'table' && lines[i - 1]?.startsWith('|')) last.rows.push(cells(line));
      else blocks.push({ kind: 'table', head: cells(line), rows: [] });
    } else blocks.push({ kind: 'p', parts: inlineParts(line) });
  }
  return blocks;
}
