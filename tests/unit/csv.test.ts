/**
 * CSV as the CLI writes its files and the app its downloads (shared/csv.ts): read back by Python's csv module (an
 * independent reader) field for field, including the names JSON-style quoting used to garble — quotes,
 * backslashes, commas, line breaks, edge spaces — and parsed back by parseCsv the same way.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { csvField, csvText, parseCsv } from '../../shared/csv';
import { grandmotherTable } from '../../shared/result-tables';

const AWKWARD = ['plain', 'with,comma', 'say "hi"', 'C:\\photos\\cat.png', 'two\nlines', ' edge ', '', 'ünïcode ✓', '=1+1'];

describe('CSV (RFC 4180)', () => {
  it('quotes only what needs it and doubles inner quotes (not JSON escapes)', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('C:\\photos\\cat.png')).toBe('C:\\photos\\cat.png');
    expect(csvField('with,comma')).toBe('"with,comma"');
    expect(csvField(0.25)).toBe('0.25');
    expect(csvField(undefined)).toBe('');
  });

  it('Python’s csv module reads back every field exactly', () => {
    const rows = AWKWARD.map((name, i) => [name, i, i / 3]);
    const text = csvText(['name', 'index', 'third'], rows);
    const read = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', 'import csv, io, json, sys; print(json.dumps(list(csv.reader(io.StringIO(sys.stdin.read())))))'], {
        input: text,
        encoding: 'utf8',
      }),
    );
    expect(read).toEqual([['name', 'index', 'third'], ...rows.map((r) => r.map(String))]);
  });

  it('parseCsv reads what csvText wrote (and what a spreadsheet writes with CRLF)', () => {
    const rows = AWKWARD.map((name, i) => [name, String(i)]);
    expect(parseCsv(csvText(['name', 'index'], rows))).toEqual([['name', 'index'], ...rows.filter((r) => r.some((f) => f !== ''))]);
    expect(parseCsv('a,b\r\n"x, y",2\r\n\r\n')).toEqual([
      ['a', 'b'],
      ['x, y', '2'],
    ]);
  });

  it('a result table keeps its class names whole', () => {
    const t = grandmotherTable({ classes: ['cat "tabby"', 'dog, small'], ap: [[0.5], [0.25]] });
    expect(parseCsv(csvText(t.header, t.rows))).toEqual([
      ['class', 'unit', 'ap'],
      ['cat "tabby"', '0', '0.5'],
      ['dog, small', '0', '0.25'],
    ]);
  });
});
