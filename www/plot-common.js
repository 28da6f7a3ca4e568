// @ts-check
// What the plot kinds share (see plots.js): the palette, the hand-placed layout, legend and axis options, and the
// two data walks that both drawing and CSV export follow.

/** @typedef {import('./types/protocol').Plot} Plot */
/** @typedef {Extract<Plot, {kind: 'xy'}>} XyPlot */
/** @typedef {Extract<Plot, {kind: 'bars'}>} BarsPlot */
/** @typedef {Extract<Plot, {kind: 'images'}>} ImagesPlot */
/** @typedef {import('./types/protocol').Heatmap} Heatmap */
/** @typedef {import('./types/protocol').Series} Series */

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
  '#bcbd22', '#17becf'];

// Pixel layout of the cartesian plots (the grid is placed by hand so that `equal_aspect` can make it square and
// the colour bar can sit right next to it).
export const LAYOUT = {
  titleTop: 6, legendTop: 30, gridTopPlain: 42, gridTopLegend: 64,
  left: 68, right: 24, rightColourBar: 96, bottom: 52, colourBarGap: 18,
};

/**
 * @param {{color: string | null}} series
 * @param {number} index
 */
export function colourOf(series, index) {
  return series.color || PALETTE[index % PALETTE.length];
}

/** @param {string[]} names */
export function legendOption(names) {
  const named = [...new Set(names.filter((n) => n !== ''))];
  if (named.length === 0) return null;
  return {
    id: 'legend', type: 'scroll', top: LAYOUT.legendTop, left: 'center', data: named, itemHeight: 10,
    textStyle: { fontSize: 12 },
  };
}

/**
 * Axis options shared by the cartesian kinds.
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
    axisLabel: { hideOverlap: true },
  };
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
