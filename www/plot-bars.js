// @ts-check
// Grouped bars (kind "bars"): one group per category, one bar per series.
import { tick } from './format.js';
import { LAYOUT, PALETTE, chartHead, gridRect, valueAxis } from './plot-common.js';

/**
 * @param {import('./plot-common.js').BarsPlot} plot
 * @param {number} width
 * @param {number} height
 */
export function barsOption(plot, width, height) {
  const { title, legend, top } = chartHead(plot.title, plot.series.map((s) => s.name), width);
  const grid = gridRect(width, height, top, LAYOUT.right, null);
  return {
    title: [title],
    grid: { ...grid, outerBoundsMode: 'none' },
    xAxis: { type: 'category', name: plot.x_label, nameLocation: 'middle', nameGap: 28, data: plot.categories },
    yAxis: { ...valueAxis(plot.y_label, null, 48), scale: false }, // Bars start at 0.
    legend: legend ? [legend] : [],
    tooltip: {
      trigger: 'item',
      renderMode: 'richText',
      confine: true,
      formatter: (p) => `${p.name}\n${p.seriesName ? `${p.seriesName}: ` : ''}${tick(p.value)}`,
    },
    series: plot.series.map((s, i) => ({
      id: `bars:${i}`,
      type: 'bar',
      name: s.name,
      data: s.values,
      itemStyle: { color: s.color ?? PALETTE[i % PALETTE.length] },
      progressive: 0,
    })),
  };
}
