/**
 * One ECharts instance bound to a component's element: created on mount with the page's theme, created again when
 * the theme changes (ECharts fixes a theme at init), resized with its element, disposed on unmount. `render` draws
 * the current data; `setup` adds event handlers to each instance.
 */
import { onBeforeUnmount, onMounted, watch, type Ref } from 'vue';
import * as echarts from 'echarts/core';
import { downloadDataUrl } from './download';
import { chartColors, echartsTheme } from './theme';
import { useUiStore } from '../stores/ui';

export function useEChart(
  el: Ref<HTMLElement | undefined>,
  render: (chart: echarts.ECharts) => void,
  setup?: (chart: echarts.ECharts) => void,
  // A chart laid out in pixels from its element's size (the occlusion map over its image) draws again when resized.
  options: { redrawOnResize?: boolean } = {},
) {
  let chart: echarts.ECharts | undefined;
  let observer: ResizeObserver | undefined;
  const ui = useUiStore();
  function create() {
    chart?.dispose();
    chart = echarts.init(el.value!, echartsTheme());
    setup?.(chart);
    render(chart);
  }
  onMounted(() => {
    create();
    observer = new ResizeObserver(() => {
      chart?.resize();
      if (chart && options.redrawOnResize) render(chart);
    });
    observer.observe(el.value!);
  });
  const stopTheme = watch(
    () => ui.theme,
    () => el.value && create(),
    { flush: 'post' },
  );
  onBeforeUnmount(() => {
    stopTheme();
    observer?.disconnect();
    chart?.dispose();
    chart = undefined;
  });
  return {
    redraw: () => chart && render(chart),
    exportPng: (filename: string) => chart && exportChartPng(chart, filename),
  };
}

/** A chart as a PNG on the theme's panel colour (a transparent PNG is unreadable on a dark slide or a white page). */
function exportChartPng(chart: echarts.ECharts, filename: string): void {
  downloadDataUrl(chart.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: chartColors().panel }), filename);
}
