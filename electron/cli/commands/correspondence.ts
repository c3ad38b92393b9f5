/** `cnn-inspect correspondence`: whether parts of objects are coded consistently across images (ZF Table 1). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCsv } from '../../../shared/csv';
import { InspectorError } from '../../../shared/errors';
import { correspondenceTable } from '../../../shared/result-tables';
import { writeFileAtomic } from '../../engine/files/atomic';
import { type CommandContext, positiveInt, required } from '../args';
import { runJob, tableCsv } from '../run';

export async function runCorrespondence(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const { images, parts } = readBoxesCsv(required(flags, 'boxes'), core.listImages({ offset: 0, limit: Number.MAX_SAFE_INTEGER }).images);
  const draws = flags.random === undefined ? undefined : positiveInt(flags, 'random', 5);
  const r = await runJob(
    core,
    'correspondence',
    { images, parts, layers: typeof flags.layers === 'string' ? flags.layers.split(',') : undefined, randomDraws: draws },
    flags,
  );
  const outFile = required(flags, 'out');
  writeFileAtomic(outFile, tableCsv(correspondenceTable(r)));
  print({ layers: r.layers, images: r.images, rows: r.rows, out: path.resolve(outFile) });
}

/** Reads image,part,top,left,bottom,right rows; every part needs one box on every image. */
function readBoxesCsv(file: string, entries: Array<{ index: number; file: string }>) {
  if (!fs.existsSync(file)) throw new InspectorError('FILE_NOT_FOUND', `No boxes file at ${file}`);
  const lines = parseCsv(fs.readFileSync(file, 'utf8')).filter((cells) => !/^image$/i.test(cells[0]?.trim() ?? ''));
  const images: number[] = [];
  const boxes = new Map<string, Map<number, [number, number, number, number]>>();
  for (const [n, row] of lines.entries()) {
    const cells = row.map((s) => s.trim());
    const numbers = cells.slice(2).map(Number);
    if (cells.length !== 6 || numbers.some((v) => !Number.isInteger(v)))
      throw new InspectorError('BAD_ARGUMENT', `${file} line ${n + 1}: expected image,part,top,left,bottom,right`);
    const entry = entries.find((e) => e.file === cells[0]);
    if (!entry) throw new InspectorError('IMAGE_NOT_FOUND', `${file} line ${n + 1}: no image "${cells[0]}" in the dataset`);
    if (!images.includes(entry.index)) images.push(entry.index);
    if (!boxes.has(cells[1])) boxes.set(cells[1], new Map());
    boxes.get(cells[1])!.set(entry.index, numbers as [number, number, number, number]);
  }
  const parts = [...boxes.entries()].map(([name, byImage]) => {
    const missing = images.filter((i) => !byImage.has(i));
    if (missing.length) throw new InspectorError('BAD_ARGUMENT', `Part "${name}" has no box on ${missing.length} of the images`);
    return { name, boxes: images.map((i) => byImage.get(i)!) };
  });
  return { images, parts };
}
