// @ts-check
// What the plot kinds share (see plots.js): the palette, the hand-placed layout, legend and axis options, and the
// two data walks that both drawing and CSV export follow.

/** @typedef {import('./types/protocol').Plot} Plot */
/** @typedef {Extract<Plot, {kind: 'xy'}>} XyPlot */
/** @typedef {Extract<Plot, {kind: 'bars'}>} BarsPlot */
/** @typedef {Extract<Plot, {kind: 'images'}>} ImagesPlot */
/** @typedef {Extract<Plot, {kind: 'table'}>} TablePlot */
/** @typedef {import('./types/protocol').Heatmap} Heatmap */
/** @typedef {import('./types/protocol').Series} Series */

// Okabe and Ito's colour-blind-safe palette, as src/protocol.rs PALETTE (tests/colours.rs keeps them equal).
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#000000'];

// Pixel layout of the cartesian plots (the grid is placed by hand so that `equal_aspect` can make it square and
// the colour bar can sit right next to it).
export const LAYOUT = {
  titleTop: 6, left: 68, right: 24, rightColourBar: 96, bottom: 52, colourBarGap: 18,
};

/**
 * @param {{color: string | null}} series
 * @param {number} index
 */
export function colourOf(series, index) {
  return series.color || PALETTE[index % PALETTE.length];
}

const TITLE_FONT = 'bold 14px sans-serif';
const TITLE_LINE = 18;
const LEGEND_FONT = '12px sans-serif';
const LEGEND_ROW = 20;
// A legend item: its 25-pixel symbol, the 5-pixel gap before its text, the 10-pixel gap to the next item.
const LEGEND_ITEM_EXTRA = 40;

/** @type {CanvasRenderingContext2D | null} */
let measurer = null;
/**
 * @param {string} text
 * @param {string} font
 */
export function textWidth(text, font) {
  measurer ??= document.createElement('canvas').getContext('2d');
  if (!measurer) return text.length * 8;
  measurer.font = font;
  return measurer.measureText(text).width;
}

/**
 * `text` broken into lines no wider than `width` at word boundaries (a word wider than a line is cut).
 * @param {string} text
 * @param {string} font
 * @param {number} width
 */
export function wrap(text, font, width) {
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (!line || textWidth(next, font) <= width) {
      line = next;
      continue;
    }
    lines.push(line);
    line = word;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

/**
 * The head of a chart, laid out for its width: the title wrapped on as many lines as it needs (never cut, so a
 * PNG export carries it whole), the legend wrapped on rows (never paged), and where the plot area starts.
 * @param {string} title
 * @param {string[]} names series names (empty names have no legend entry)
 * @param {number} width chart width in pixels
 */
export function chartHead(title, names, width) {
  // Leave room for the toolbar in the top-right corner.
  const lines = wrap(title, TITLE_FONT, Math.max(40, width - 110));
  const legendTop = LAYOUT.titleTop + lines.length * TITLE_LINE + 6;
  const named = [...new Set(names.filter((n) => n !== ''))];
  const title0 = {
    id: 'title',
    text: lines.join('\n'),
    left: 8,
    top: LAYOUT.titleTop,
    textStyle: { fontSize: 14, fontWeight: 'bold', lineHeight: TITLE_LINE },
  };
  if (named.length === 0) return { title: title0, legend: null, top: legendTop + 12 };
  // Rows as ECharts packs them: items left to right until the next would pass the legend's width.
  const legendWidth = Math.max(60, width - 24);
  let rows = 1;
  let used = 0;
  for (const name of named) {
    const w = textWidth(name, LEGEND_FONT) + LEGEND_ITEM_EXTRA;
    if (used > 0 && used + w > legendWidth) {
      rows += 1;
      used = 0;
    }
    used += w;
  }
  const legend = {
    id: 'legend', type: 'plain', top: legendTop, left: 'center', width: legendWidth, data: named, itemHeight: 10,
    itemGap: 10, textStyle: { fontSize: 12 },
  };
  return { title: title0, legend, top: legendTop + rows * LEGEND_ROW + 14 };
}

/**
 * Axis options shared by the cartesian kinds. A given range keeps its ends (a lab pads [0, 1] to [−0.02, 1.02]
 * so that curves at 0 and 1 are not drawn on the frame), and ECharts puts its round ticks inside it, but it also
 * labels the two ends: 1.02 printed over 1, 31 over 30. Those end labels are left blank unless they fall on the
 * round grid. Automatic ranges are rounded by ECharts itself.
 * @param {string} name
 * @param {number[] | null} range
 * @param {number} gap
 */
export function valueAxis(name, range, gap) {
  return {
    type: 'value',
    name,
    nameLocation: 'middle',
    nameGap: gap,
    min: range ? range[0] : null,
    max: range ? range[1] : null,
    scale: true, // Automatic ranges need not include 0.
    axisLine: { show: true, onZero: false },
    splitLine: { show: true },
    axisLabel: { hideOverlap: true, formatter: range ? roundTicksOnly(range) : axisNumber },
  };
}

/**
 * The tick label formatter of an axis with this fixed range: blank at an end that is off the round grid.
 * @param {number[]} range
 */
export function roundTicksOnly(range) {
  const span = range[1] - range[0];
  if (!(span > 0)) return axisNumber;
  const step = tickStep(span);
  const offGridEnd = (/** @type {number} */ v) => range.some((end) => Math.abs(v - end) <= span * 1e-9)
    && Math.abs(v / step - Math.round(v / step)) > 1e-6;
  return (/** @type {number} */ v) => (offGridEnd(v) ? '' : axisNumber(v));
}

/**
 * The tick spacing ECharts picks for a value axis spanning `span` (its `nice(span / 5, true)`: 1, 2, 3, 5 or
 * 10 × 10ᵏ).
 * @param {number} span
 */
export function tickStep(span) {
  const raw = span / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f < 1.5 ? 1 : f < 2.5 ? 2 : f < 4 ? 3 : f < 7 ? 5 : 10) * power;
}

/**
 * A tick label: as is below 10⁴, compact scientific notation from there ("2e5", "1.5e19"), so that the labels of
 * a diverging trajectory fit the margin instead of being clipped.
 * @param {number} v
 */
export function axisNumber(v) {
  if (Math.abs(v) < 1e4) return String(Number(v.toPrecision(6)));
  return Number(v.toPrecision(3)).toExponential().replace('e+', 'e');
}

/**
 * The grid rectangle in pixels: the free area, or the largest centred box of the given aspect (width/height).
 * @param {number} width
 * @param {number} height
 * @param {number} top
 * @param {number} right
 * @param {number | null} aspect
 */
export function gridRect(width, height, top, right, aspect) {
  const left = LAYOUT.left;
  const availW = Math.max(20, width - left - right);
  const availH = Math.max(20, height - top - LAYOUT.bottom);
  if (!aspect) return { left, top, width: availW, height: availH };
  const w = Math.min(availW, availH * aspect);
  const h = w / aspect;
  return { left: left + (availW - w) / 2, top: top + (availH - h) / 2, width: w, height: h };
}

/**
 * Calls f(x0, y0, x1, y1, value) for every cell with a finite value.
 * @param {Heatmap} hm
 * @param {(x0: number, y0: number, x1: number, y1: number, v: number) => void} f
 */
export function heatmapCells(hm, f) {
  const dx = (hm.x_range[1] - hm.x_range[0]) / hm.nx;
  const dy = (hm.y_range[1] - hm.y_range[0]) / hm.ny;
  for (let iy = 0; iy < hm.ny; iy++) {
    for (let ix = 0; ix < hm.nx; ix++) {
      const v = hm.values[iy * hm.nx + ix];
      if (!Number.isFinite(v)) continue;
      const x0 = hm.x_range[0] + ix * dx;
      const y0 = hm.y_range[0] + iy * dy;
      f(x0, y0, x0 + dx, y0 + dy, v);
    }
  }
}

/**
 * Whether an images plot holds colour (channels = 3) images; anything else is drawn grey.
 * @param {ImagesPlot} plot
 */
export function colourImages(plot) {
  return plot.channels === 3;
}
