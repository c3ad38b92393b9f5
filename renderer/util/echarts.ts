/**
 * One ECharts instance bound to a component's element: created on mount, resized with its element, disposed on
 * unmount. `render` draws the current data; `setup` adds event handlers once.
 */
import { onBeforeUnmount, onMounted, type Ref } from 'vue';
import * as echarts from 'echarts/core';
import { downloadDataUrl } from './download';

export function useEChart(el: Ref<HTMLElement | undefined>, render: (chart: echarts.ECharts) => void, setup?: (chart: echarts.ECharts) => void) {
  let chart: echarts.ECharts | undefined;
  let observer: ResizeObserver | undefined;
  onMounted(() => {
    chart = echarts.init(el.value!);
    setup?.(chart);
    render(chart);
    observer = new ResizeObserver(() => chart?.resize());
    observer.observe(el.value!);
  });
  onBeforeUnmount(() => {
    observer?.disconnect();
    chart?.dispose();
    chart = undefined;
  });
  return {
    redraw: () => chart && render(chart),
    exportPng: (filename: string) => chart && downloadDataUrl(chart.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: '#19202a' }), filename),
  };
}
