/**
 * Chart text is read across a classroom: the one ECharts theme sets ≥ 14 px text and the page's colours for every
 * kind of chart text, and no view's chart option sets a smaller font or a colour of its own for axis text (which
 * would ignore the light theme).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART_FONT_PX, echartsTheme, type ChartColors } from '../../renderer/util/theme';

const RENDERER = path.resolve(__dirname, '..', '..', 'renderer');
const files = (dir: string): string[] =>
  fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : /\.(vue|ts)$/.test(e.name) ? [path.join(dir, e.name)] : []));

const COLORS: ChartColors = {
  bg: '#000001',
  panel: '#000002',
  panel2: '#000003',
  line: '#000004',
  text: '#000005',
  muted: '#000006',
  accent: '#000007',
  highlight: '#000008',
  good: '#000009',
  bad: '#00000a',
  categories: ['#100000', '#200000'],
};

describe('chart text', () => {
  it('the theme gives every kind of chart text 14 px and the theme colours', () => {
    const theme = echartsTheme(COLORS) as Record<string, Record<string, Record<string, unknown>>>;
    expect(CHART_FONT_PX).toBeGreaterThanOrEqual(14);
    for (const axis of ['categoryAxis', 'valueAxis', 'logAxis', 'timeAxis']) {
      expect(theme[axis].axisLabel).toEqual({ color: COLORS.muted, fontSize: CHART_FONT_PX });
      expect(theme[axis].nameTextStyle).toEqual({ color: COLORS.muted, fontSize: CHART_FONT_PX });
      expect(theme[axis].splitLine).toEqual({ lineStyle: { color: COLORS.line } });
    }
    for (const part of ['legend', 'tooltip', 'visualMap', 'title']) expect(theme[part].textStyle).toEqual({ color: COLORS.text, fontSize: CHART_FONT_PX });
    expect(theme.color).toEqual(COLORS.categories);
  });

  it('no chart option in the renderer sets a font under 14 px or a hard-coded text colour', () => {
    const offences: string[] = [];
    for (const file of files(RENDERER)) {
      const text = fs.readFileSync(file, 'utf8');
      text.split('\n').forEach((line, i) => {
        const size = /fontSize:\s*(\d+)/.exec(line);
        if (size && Number(size[1]) < 14) offences.push(`${path.relative(RENDERER, file)}:${i + 1}: ${line.trim()}`);
        if (/(axisLabel|textStyle|nameTextStyle)[^}]*color:\s*'#/.test(line)) offences.push(`${path.relative(RENDERER, file)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offences).toEqual([]);
  });
});
