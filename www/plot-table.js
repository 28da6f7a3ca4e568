// @ts-check
// Tables (kind "table"): a worked example's rows (states, energies, probabilities) drawn on the chart's canvas
// like every other plot, so that the PNG export, the pixel checks and the resize behaviour are the same. Cells
// come formatted by the lab; a column whose cells all read as numbers is right-aligned (digits line up), any
// other is left-aligned. The font shrinks (down to 9 px) until the widest cells fit the width; the chart is made
// tall enough for every row (tableHeight), so no row is ever cut.
import { chartHead, textWidth } from './plot-common.js';

/** @typedef {import('./plot-common.js').TablePlot} TablePlot */

const FONT_PX = 13;
const MIN_FONT_PX = 9;
const PAD = 14;
const BOTTOM = 12;

const numeric = (/** @type {string} */ s) => /^\s*[−+-]?(\d[\d,]*\.?\d*|\.\d+)([eE][−+-]?\d+)?\s*%?\s*$/.test(s);

/**
 * The table's fonts, column widths and row height for a chart `width` pixels wide.
 * @param {TablePlot} plot
 * @param {number} width
 */
function tableLayout(plot, width) {
  const cols = plot.columns.length;
  const cell = (/** @type {string[]} */ row, /** @type {number} */ c) => row[c] ?? '';
  const natural = (/** @type {number} */ px) => plot.columns.map((head, c) => Math.max(
    textWidth(head, `bold ${px}px sans-serif`),
    ...plot.rows.map((r) => textWidth(cell(r, c), `${px}px sans-serif`)),
  ) + PAD);
  const room = Math.max(40, width - 16);
  let px = FONT_PX;
  let widths = natural(px);
  const total = widths.reduce((a, b) => a + b, 0);
  if (total > room) {
    px = Math.max(MIN_FONT_PX, Math.floor(FONT_PX * (room / total)));
    widths = natural(px);
  }
  const used = widths.reduce((a, b) => a + b, 0);
  const right = plot.columns.map((_, c) => plot.rows.length > 0 && plot.rows.every((r) => cell(r, c) === '' || numeric(cell(r, c))));
  return { px, widths, right, left: Math.max(8, (width - used) / 2), rowH: Math.round(px * 1.6), cols, cell };
}

/**
 * The chart height that shows every row of `plot` at `width` (the renderer sizes table charts with it).
 * @param {TablePlot} plot
 * @param {number} width
 */
export function tableHeight(plot, width) {
  const { top } = chartHead(plot.title, [], width);
  const { rowH } = tableLayout(plot, width);
  return Math.ceil(top + (plot.rows.length + 1) * rowH + BOTTOM);
}

/**
 * @param {TablePlot} plot
 * @param {number} width
 */
export function tableOption(plot, width) {
  const { title, top } = chartHead(plot.title, [], width);
  return {
    title: [title],
    series: [{
      id: 'table',
      type: 'custom',
      coordinateSystem: 'none',
      progressive: 0,
      silent: true,
      data: [[0]],
      renderItem(/** @type {unknown} */ _params, /** @type {{getWidth: () => number}} */ api) {
        const g = tableLayout(plot, api.getWidth());
        const used = g.widths.reduce((a, b) => a + b, 0);
        /** @type {object[]} */
        const children = [];
        // Every other row shaded, so that a long row reads across.
        plot.rows.forEach((_, r) => {
          if (r % 2 === 1) {
            children.push({
              type: 'rect',
              shape: { x: g.left, y: top + (r + 1) * g.rowH, width: used, height: g.rowH },
              style: { fill: '#f1f3f6' },
            });
          }
        });
        children.push({
          type: 'line',
          shape: { x1: g.left, y1: top + g.rowH - 0.5, x2: g.left + used, y2: top + g.rowH - 0.5 },
          style: { stroke: '#555', lineWidth: 1 },
        });
        const text = (/** @type {string} */ s, /** @type {number} */ c, /** @type {number} */ y, /** @type {boolean} */ head) => {
          const x0 = g.left + g.widths.slice(0, c).reduce((a, b) => a + b, 0);
          children.push({
            type: 'text',
            style: {
              text: s,
              x: g.right[c] ? x0 + g.widths[c] - PAD / 2 : x0 + PAD / 2,
              y: y + g.rowH / 2,
              align: g.right[c] ? 'right' : 'left',
              verticalAlign: 'middle',
              // An explicit line height, as the image labels (zrender otherwise measures a CJK glyph).
              fontSize: g.px, lineHeight: g.px + 2, fontWeight: head ? 'bold' : 'normal', fill: '#222',
            },
          });
        };
        plot.columns.forEach((h, c) => text(h, c, top, true));
        plot.rows.forEach((row, r) => {
          for (let c = 0; c < g.cols; c++) text(g.cell(row, c), c, top + (r + 1) * g.rowH, false);
        });
        return { type: 'group', children };
      },
    }],
  };
}
