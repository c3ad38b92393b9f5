/**
 * The CLI's --progress line (electron/cli/progress.ts): the job's words, the share done and the time left from the
 * measured pace — redrawn at most 10 times a second on a terminal, a line every 10 s in a log, the last state always
 * shown at the end.
 */
import { describe, expect, it } from 'vitest';
import { progressLine, progressPrinter } from '../../electron/cli/progress';

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return { stream: { isTTY, write: (text: string) => written.push(text) }, written };
}

describe('the CLI progress line', () => {
  it('says the share done and, after 2 s of measured pace, the time left', () => {
    const track = { done: 30, total: 120, startedAt: 0, doneAtStart: 0, pace: [[0, 0] as [number, number]] };
    // 30 done in 20 s: 90 left at 1.5 a second = 60 s.
    expect(progressLine(track, 'Finding the strongest images', 20_000)).toBe('Finding the strongest images · 25 % · about 1 min left');
    expect(progressLine(track, '', 1_000)).toBe('30 of 120 · 25 %'); // too early to tell; no words: the count
    expect(progressLine({ ...track, done: 120 }, 'Done', 20_000)).toBe('Done · 100 %');
  });

  it('on a terminal: redrawn in place, at most every 100 ms, the last state shown at the end', () => {
    const { stream, written } = fakeStream(true);
    let now = 0;
    const printer = progressPrinter(stream, () => now);
    printer.report(0, 100, 'Scanning');
    now = 50;
    printer.report(1, 100, 'Scanning'); // too soon: kept for later
    expect(written).toEqual(['\rScanning · 0 %\u001b[K']);
    now = 10_000;
    printer.report(40, 100, 'Scanning');
    // 40 in 10 s: 60 left at 4 a second = 15 s.
    expect(written.at(-1)).toBe('\rScanning · 40 % · about 15 s left\u001b[K');
    now = 10_010;
    printer.report(41, 100, 'Drawing');
    printer.end();
    expect(written.slice(-2)).toEqual(['\rDrawing · 41 % · about 15 s left\u001b[K', '\n']);
  });

  it('in a log: a plain line every 10 s, and the last one', () => {
    const { stream, written } = fakeStream(false);
    let now = 0;
    const printer = progressPrinter(stream, () => now);
    for (let s = 0; s <= 25; s++) {
      now = s * 1000;
      printer.report(s, 50, `Image ${s} of 50`);
    }
    printer.end();
    expect(written.map((l) => l.split(' · ')[0])).toEqual(['Image 0 of 50', 'Image 10 of 50', 'Image 20 of 50', 'Image 25 of 50']);
    // Every write a whole line, none a carriage-return redraw: the lines that are not.
    expect(written.filter((l) => !l.endsWith('\n') || l.includes('\r'))).toEqual([]);
    expect(written[2]).toBe('Image 20 of 50 · 40 % · about 30 s left\n');
  });

  it('a job that finished ends at 100 %, whatever its own count said last', () => {
    const { stream, written } = fakeStream(false);
    let now = 0;
    const printer = progressPrinter(stream, () => now);
    printer.report(0, 5000, 'Measuring');
    now = 4000;
    printer.report(4870, 5000, 'Drawing unit 874 of 874');
    printer.end(true);
    expect(written).toEqual(['Measuring · 0 %\n', 'Drawing unit 874 of 874 · 100 %\n']);
  });

  it('prints nothing at the end of a job that never reported', () => {
    const { stream, written } = fakeStream(true);
    progressPrinter(stream).end();
    expect(written).toEqual([]);
  });
});
