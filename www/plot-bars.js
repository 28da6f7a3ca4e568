// @ts-check
// Grouped bars (kind "bars"): one group per category, one bar per series.
import { tick } from './format.js';
import { LAYOUT, PALETTE, chartHead, gridRect, valueAxis, wrap } from './plot-common.js';

const CATEGORY_FONT = '12px sans-serif';
const CATEGORY_LINE = 14;

/**
 * @param {import('./plot-common.js').BarsPlot} plot
 * @param {number} width
 * @param {number} height
 */
export function barsOption(plot, width, height) {
  const { title, legend, top } = chartHead(plot.title, plot.series.map((s) => s.name), width);
  const grid = gridRect(width, height, top, LAYOUT.right, null);
  // Every category is named in full under its group (rule names, not only digits): wrapped to the group's width
  // on as many lines as the longest needs, the plot area giving up the height.
  const slot = grid.width / Math.max(1, plot.categories.length);
  // A hyphen is a place to break too ("Kolen-Pollack" on a phone).
  const lines = (/** @type {string} */ c) => wrap(c.replace(/-/g, '- '), CATEGORY_FONT, slot - 6)
    .map((l) => l.replace(/- /g, '-'));
  const wrapped = new Map(plot.categories.map((c) => [c, lines(c)]));
  const extra = (Math.max(1, ...[...wrapped.values()].map((l) => l.length)) - 1) * CATEGORY_LINE;
  grid.height = Math.max(20, grid.height - extra);
  return {
    title: [title],
    grid: { ...grid, outerBoundsMode: 'none' },
    xAxis: {
      type: 'category',
      name: plot.x_label,
      nameLocation: 'middle',
      nameGap: 28 + extra,
      data: plot.categories,
      axisLabel: {
        interval: 0,
        fontSize: 12,
        lineHeight: CATEGORY_LINE,
        formatter: (/** @type {string} */ c) => (wrapped.get(c) ?? [c]).join('\n'),
      },
    },
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
