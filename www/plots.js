// @ts-check
// Plot renderer: draws the plot JSON of www/PROTOCOL.md (types: www/types/protocol.d.ts) with ECharts (canvas
// renderer). This module is the public API and the chart's life cycle; each plot kind's drawing is in its own
// module (plot-xy.js, plot-bars.js, plot-images.js, plot-table.js), the exports in plot-export.js, and what they share (palette,
// layout, axes) in plot-common.js.
//
// Public API
//   renderPlot(container, plot, {toolbar = true, prefix = ''} = {}) -> PlotHandle
//       Creates a chart inside `container` and draws `plot`. The container's children are replaced (a plot
//       rendered there before is disposed first). With `toolbar`, a small overlay in the top-right corner offers
//       two buttons, "PNG" and "CSV", that download `<prefix>-<title in plain letters>.png` and `.csv`
//       (plot-export.js fileStem: "hebb2d-weight-trajectory-on-sigma3-…"; the id when the title has no
//       letters). The chart follows the size of the container (ResizeObserver).
//   updatePlot(handle, plot) -> void
//       Redraws an existing chart with a new plot object (typically the next frame of the same plot id). It reuses
//       the chart: one setOption that replaces the series, no animation, no progressive rendering, so 30 frames a
//       second with a few thousand points neither flicker nor allocate a new canvas.
//   The chart element has role "img" and an aria-label: the title and a one-line summary (plot-text.js).
//   disposePlot(handle) -> void
//       Stops following the container size and frees the chart; the container is emptied.
//   plotToPNG(handle) -> string
//       A `data:image/png;base64,…` URL of the drawn chart on a white background.
//   plotToCSV(plot) -> string
//       The plot's data as CSV text (header rows included, "\n" line ends). Needs no DOM. Columns are named after
//       the axes they hold, units included. An xy plot gives one section per part it has, separated by an empty
//       line: `heatmap,<x label>,<y label>,<colour-bar label>` (cell centres), `series,<x label>,<y label>`
//       (scatter, line, dashed and trajectory series), `series,<x label> (tail),<y label> (tail),<x label>
//       (head),<y label> (head)` (arrows). Bars give `category,series,<y label>`; images give
//       `image,row,col,value`, colour images (channels = 3) `image,row,col,red,green,blue` (row 0 is the top
//       row; the image column holds the image's label, or `#index` when the label is empty); tables give their
//       columns and rows as drawn. Empty labels read x, y and value.
//
// PlotHandle: {container, chart, plot}. `chart` is the ECharts instance (tests use `chart.convertToPixel`), `plot`
// the plot last drawn. Treat both as read-only.
//
// Page assumptions: ECharts is the global `echarts`, loaded by a classic <script src="vendor/echarts.min.js">
// before this module runs. Nothing is fetched at run time.
//
// DOM and sizing: container > div.plot-root (position: relative) > div.plot-chart (the ECharts canvas) and
// div.plot-toolbar (absolutely placed buttons). The chart element is 100% wide and `var(--plot-height, 360px)`
// high; set `--plot-height` on the container (or any ancestor) to change it. A table's chart is as high as its
// rows need (plot-table.js tableHeight).
//
// Safety: titles, labels, series names and categories may come from a link the user edited. They only ever reach
// ECharts text (drawn on the canvas; tooltips use the canvas "richText" mode, not HTML) or DOM `textContent` /
// attributes, never `innerHTML`. CSV cells that hold names and start with = + - @ get a leading apostrophe so that
// spreadsheets do not run them as formulas.
//
// Conventions where PROTOCOL.md leaves room:
// - Heatmap cells tile `heatmap.x_range` × `heatmap.y_range`: cell (ix, iy) covers
//   [x0 + ix·dx, x0 + (ix+1)·dx] × [y0 + iy·dy, y0 + (iy+1)·dy] with dx = (x1 − x0)/nx, dy = (y1 − y0)/ny,
//   so a value belongs to its cell's centre. Non-finite (null) values leave their cell blank.
// - An xy axis without a range takes the heatmap's range when there is a heatmap, else ECharts' automatic range;
//   with `equal_aspect`, automatic ranges are computed here so that both axes get the same span.
// - Images map value_range[0] (and below) to black and value_range[1] (and above) to white; colour images
//   (channels = 3, pixels channel-major: all red values, then green, then blue) map each channel the same way.
//   A pixel with a non-finite value (in any channel) is magenta so that it stands out.

import { LAYOUT } from './plot-common.js';
import { xyOption } from './plot-xy.js';
import { barsOption } from './plot-bars.js';
import { imagesOption } from './plot-images.js';
import { tableHeight, tableOption } from './plot-table.js';
import { buildToolbar } from './plot-export.js';
import { describePlot } from './plot-text.js';

export { plotToCSV, plotToPNG } from './plot-export.js';

/** @typedef {import('./plot-common.js').Plot} Plot */
/** @typedef {{container: HTMLElement, chart: import('echarts').EChartsType, plot: Plot | null}} PlotHandle */

// Kept outside the handles so that a handle stays a plain data object: each handle's ResizeObserver, and the
// handle drawn in each container.
/** @type {WeakMap<PlotHandle, ResizeObserver>} */
const observers = new WeakMap();
/** @type {WeakMap<HTMLElement, PlotHandle>} */
const handleIn = new WeakMap();

/**
 * @param {HTMLElement} container
 * @param {Plot} plot
 * @param {{toolbar?: boolean, prefix?: string}} [options]
 * @returns {PlotHandle}
 */
export function renderPlot(container, plot, { toolbar = true, prefix = '' } = {}) {
  const previous = handleIn.get(container);
  if (previous) disposePlot(previous);
  const root = document.createElement('div');
  root.className = 'plot-root';
  root.style.position = 'relative';
  const chartEl = document.createElement('div');
  chartEl.className = 'plot-chart';
  chartEl.style.width = '100%';
  chartEl.style.height = 'var(--plot-height, 360px)';
  chartEl.setAttribute('role', 'img'); // its aria-label (plot-text.js) says what the canvas shows
  root.append(chartEl);
  container.replaceChildren(root);

  /** @type {PlotHandle} */
  const handle = { container, chart: echarts.init(chartEl, null, { renderer: 'canvas' }), plot: null };
  if (toolbar) root.append(buildToolbar(handle, prefix));
  updatePlot(handle, plot);

  // The layout is in pixels, so a new size needs a new option. Redrawing does not change the size of chartEl
  // (its style fixes it), so this cannot start a ResizeObserver loop. A hidden chart (size 0) keeps its picture.
  const observer = new ResizeObserver(() => {
    const [w, h] = [chartEl.clientWidth, chartEl.clientHeight];
    if (w === 0 || h === 0 || (w === handle.chart.getWidth() && h === handle.chart.getHeight())) return;
    handle.chart.resize();
    if (handle.plot) updatePlot(handle, handle.plot);
  });
  observer.observe(chartEl);
  observers.set(handle, observer);
  handleIn.set(container, handle);
  return handle;
}

/**
 * @param {PlotHandle} handle
 * @param {Plot} plot
 */
export function updatePlot(handle, plot) {
  const chart = handle.chart;
  if (plot.kind === 'table') {
    // A table is as tall as its rows need at this width (every row shown, none cut).
    const el = chart.getDom();
    const h = tableHeight(plot, chart.getWidth());
    if (Math.abs(el.clientHeight - h) > 1) {
      el.style.height = `${h}px`;
      chart.resize();
    }
  }
  const option = buildOption(plot, chart.getWidth(), chart.getHeight());
  if (handle.plot === null || handle.plot.kind !== plot.kind) {
    chart.setOption(option, { notMerge: true });
  } else {
    // Same kind: merge into the existing chart, replacing the components whose number may change.
    chart.setOption(option, { replaceMerge: ['series', 'visualMap', 'title', 'legend'] });
  }
  handle.plot = plot;
  const alt = describePlot(plot);
  const chartEl = handle.chart.getDom();
  if (chartEl.getAttribute('aria-label') !== alt) chartEl.setAttribute('aria-label', alt);
}

/** @param {PlotHandle} handle */
export function disposePlot(handle) {
  observers.get(handle)?.disconnect();
  observers.delete(handle);
  if (handleIn.get(handle.container) === handle) handleIn.delete(handle.container);
  handle.chart.dispose();
  handle.container.replaceChildren();
}

/**
 * @param {Plot} plot
 * @param {number} width
 * @param {number} height
 */
function buildOption(plot, width, height) {
  switch (plot.kind) {
    case 'xy': return { animation: false, ...xyOption(plot, width, height) };
    case 'bars': return { animation: false, ...barsOption(plot, width, height) };
    case 'images': return { animation: false, ...imagesOption(plot, width) };
    case 'table': return { animation: false, ...tableOption(plot, width) };
    default: throw new Error(`unknown plot kind ${JSON.stringify(/** @type {{kind: unknown}} */ (plot).kind)}`);
  }
}
