/**
 * The light/dark theme: chosen by a button, remembered in this browser, applied as `data-theme` on the document so
 * style.css's variables switch; and the one ECharts theme, built from those same variables so a chart can never
 * disagree with the page around it.
 */
export type ThemeName = 'dark' | 'light';

const STORAGE_KEY = 'cnn-inspector.theme';
/** Chart text is read from across a classroom: never under 14 px. */
export const CHART_FONT_PX = 14;

export function savedTheme(): ThemeName {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'light' ? 'light' : 'dark';
  } catch {
    return 'dark'; // storage refused (private window, file://): the default theme
  }
}

export function applyTheme(theme: ThemeName, remember = true): void {
  document.documentElement.dataset.theme = theme;
  if (!remember) return;
  try {
    localStorage.setItem(STORAGE_KEY, theme);
  } catch {
    // Not remembered; the theme still applies to this page.
  }
}

/** The colours a chart needs, read from the current theme's CSS variables. */
export interface ChartColors {
  bg: string;
  panel: string;
  panel2: string;
  line: string;
  text: string;
  muted: string;
  accent: string;
  highlight: string;
  good: string;
  bad: string;
  /** Colour-blind-safe colours for categories (classes, images, series), in order. */
  categories: string[];
}

export function chartColors(): ChartColors {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string) => css.getPropertyValue(name).trim();
  return {
    bg: v('--bg'),
    panel: v('--panel'),
    panel2: v('--panel-2'),
    line: v('--line'),
    text: v('--text'),
    muted: v('--muted'),
    accent: v('--accent'),
    highlight: v('--accent-2'),
    good: v('--good'),
    bad: v('--bad'),
    categories: [1, 2, 3, 4, 5, 6, 7, 8].map((i) => v(`--cat-${i}`)),
  };
}

/** The i-th category colour, cycling when there are more categories than colours. */
export function categoryColor(c: ChartColors, i: number): string {
  return c.categories[((i % c.categories.length) + c.categories.length) % c.categories.length];
}

/** An ECharts theme object (passed to echarts.init) with the page's colours and ≥ 14 px text everywhere. */
export function echartsTheme(c: ChartColors = chartColors()): Record<string, unknown> {
  const text = { color: c.text, fontSize: CHART_FONT_PX };
  const axis = {
    axisLine: { lineStyle: { color: c.line } },
    axisTick: { lineStyle: { color: c.line } },
    axisLabel: { color: c.muted, fontSize: CHART_FONT_PX },
    nameTextStyle: { color: c.muted, fontSize: CHART_FONT_PX },
    splitLine: { lineStyle: { color: c.line } },
  };
  return {
    color: c.categories,
    backgroundColor: 'transparent',
    textStyle: text,
    title: { textStyle: text },
    legend: { textStyle: text, pageTextStyle: text, pageIconColor: c.accent, pageIconInactiveColor: c.line },
    tooltip: { backgroundColor: c.panel2, borderColor: c.line, textStyle: text },
    visualMap: { textStyle: text },
    categoryAxis: axis,
    valueAxis: axis,
    logAxis: axis,
    timeAxis: axis,
    markLine: { label: { fontSize: CHART_FONT_PX } },
    bar: { label: text },
  };
}
