// @ts-check
// Cartesian plots (kind "xy"): scatter, lines, trajectories and arrows, optionally over a heatmap with a colour bar.
import { tick, axisEnd } from './format.js';
import { LAYOUT, axisNumber, chartHead, colourOf, gridRect, heatmapCells, valueAxis } from './plot-common.js';

/** @typedef {import('./plot-common.js').XyPlot} XyPlot */
/** @typedef {import('./plot-common.js').Heatmap} Heatmap */

// Viridis, sampled at 10 stops: perceptually even and readable in grey print.
const HEATMAP_COLORS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58',
  '#b5de2b', '#fde725'];
const HEATMAP_ID = 'heatmap';
// Opacity of an uncertainty band: the line stays readable through it and overlapping bands still show.
const BAND_OPACITY = 0.2;

/**
 * The ECharts option of an xy plot at a chart size in pixels.
 * @param {XyPlot} plot
 * @param {number} width
 * @param {number} height
 */
export function xyOption(plot, width, height) {
  const hm = plot.heatmap;
  const { title, legend, top } = chartHead(plot.title, plot.series.map((s) => s.name), width);
  const right = hm ? LAYOUT.rightColourBar : LAYOUT.right;

  /** @type {number[] | null} */
  let xRange = plot.x_range ?? hm?.x_range ?? null;
  /** @type {number[] | null} */
  let yRange = plot.y_range ?? hm?.y_range ?? null;
  /** @type {number | null} */
  let aspect = null;
  if (plot.equal_aspect) {
    [xRange, yRange] = equalAspectRanges(plot, xRange, yRange);
    aspect = (xRange[1] - xRange[0]) / (yRange[1] - yRange[0]);
  }
  const grid = gridRect(width, height, top, right, aspect);

  const series = [];
  const option = {
    title: [title],
    grid: { ...grid, outerBoundsMode: 'none' }, // Exact pixels: never shrink the grid to fit the labels.
    xAxis: valueAxis(plot.x_label, xRange, 28),
    yAxis: valueAxis(plot.y_label, yRange, 48),
    legend: legend ? [legend] : [],
    tooltip: { trigger: 'item', renderMode: 'richText', confine: true, formatter: xyTooltip },
    series,
  };

  // Points on whole x only (iterations, sweeps, numbers of memories): ticks on whole numbers, never "t = 0.5".
  if (plot.series.some((s) => s.points.length > 0) && plot.series.every((s) => s.points.every((p) => Number.isInteger(p[0])))) {
    Object.assign(option.xAxis, { minInterval: 1 });
  }
  if (hm) {
    // Cells one unit wide around whole numbers (units, iterations, P): ticks on whole numbers only, never on
    // the cells' edges (an iteration 0.5 means nothing).
    const wholeTicks = (/** @type {ReturnType<typeof valueAxis>} */ axis) => {
      Object.assign(axis, { minInterval: 1 });
      axis.axisLabel.formatter = (v) => (Number.isInteger(v) ? axisNumber(v) : '');
    };
    if (unitCells(hm.x_range, hm.nx)) wholeTicks(option.xAxis);
    if (unitCells(hm.y_range, hm.ny)) wholeTicks(option.yAxis);
    series.push(heatmapSeries(hm));
    // A fixed range (heatmaps compared side by side share one scale); values beyond it take the end colours.
    const [lo, hi] = hm.value_range ?? finiteExtent(hm.values);
    const barLeft = grid.left + grid.width + LAYOUT.colourBarGap;
    option.visualMap = [{
      id: 'colour-bar',
      type: 'continuous',
      seriesId: HEATMAP_ID,
      dimension: 4,
      min: lo,
      max: hi,
      calculable: false,
      orient: 'vertical',
      left: barLeft,
      top: grid.top + 18,
      itemWidth: 14,
      itemHeight: Math.max(30, grid.height - 58),
      text: [tick(hi), tick(lo)],
      textGap: 6,
      textStyle: { fontSize: 11 },
      inRange: { color: HEATMAP_COLORS },
    }];
    option.title = [title, {
      id: 'colour-bar-label',
      text: hm.label,
      left: barLeft - 4,
      top: grid.top,
      textStyle: { fontSize: 11, fontWeight: 'normal', lineHeight: 14, width: width - barLeft, overflow: 'break' },
    }];
  }

  plot.series.forEach((s, i) => {
    const color = colourOf(s, i);
    const common = { id: `${s.mark}:${i}`, name: s.name, z: 3, progressive: 0, itemStyle: { color } };
    switch (s.mark) {
      case 'scatter':
        // A few points (one per run, say) are things to find and compare: larger markers; clouds stay fine.
        series.push(scatterSeries(common, s.points, s.points.length <= FEW_POINTS ? 10 : 6));
        break;
      case 'line':
      case 'dashed':
      case 'trajectory':
        series.push({
          ...common,
          type: 'line',
          data: s.points,
          showSymbol: false, // No element per point (see below).
          lineStyle: { color, width: 2, type: s.mark === 'dashed' ? 'dashed' : 'solid' },
        });
        // A line series would make one graphic element per marker, which costs ~0.05 ms per point and frame;
        // a scatter series in "large" mode draws all markers as one path. Same name: the legend toggles both.
        if (s.mark === 'trajectory') series.push(scatterSeries({ ...common, id: `${common.id}:markers` }, s.points, 5));
        break;
      case 'arrows':
        series.push(arrowSeries(common, s.points, color));
        break;
      default:
        throw new Error(`unknown mark ${JSON.stringify(s.mark)}`);
    }
    // The band after its line, so that the legend shows the line's symbol; drawn under it (z) and toggled with
    // it by the legend (same name).
    if (s.band) series.push(bandSeries({ ...common, id: `band:${i}` }, s.points, s.band, color));
  });
  return option;
}

/**
 * Ranges with the same span on both axes, so that the grid (sized to the span ratio) has equal scales. Given
 * ranges are kept; a missing one comes from the data: padded by 5%, its ends on multiples of a 1-2-5 step (short
 * tick labels), then widened by whole steps to the common span.
 */
/**
 * @param {XyPlot} plot
 * @param {number[] | null} xRange
 * @param {number[] | null} yRange
 * @returns {number[][]}
 */
function equalAspectRanges(plot, xRange, yRange) {
  if (xRange && yRange) return [xRange, yRange];
  const ext = [[Infinity, -Infinity], [Infinity, -Infinity]];
  for (const s of plot.series) {
    for (const p of s.points) {
      for (const d of [0, 1]) {
        if (Number.isFinite(p[d])) {
          ext[d][0] = Math.min(ext[d][0], p[d]);
          ext[d][1] = Math.max(ext[d][1], p[d]);
        }
      }
    }
  }
  const padded = ext.map(([lo, hi]) => {
    if (!(lo <= hi)) return [-1, 1];
    const pad = 0.05 * (hi - lo || Math.abs(lo) || 1);
    return [lo - pad, hi + pad];
  });
  const given = [xRange, yRange];
  const spanOf = (r) => r[1] - r[0];
  const step = niceStep(Math.max(...padded.map(spanOf), ...given.filter(Boolean).map(spanOf)) / 8);
  const round = (v) => axisEnd(v);
  const snapped = padded.map(([lo, hi]) => [Math.floor(lo / step) * step, Math.ceil(hi / step) * step]);
  const ranges = given.map((r, d) => r ?? snapped[d]);
  const span = Math.max(...ranges.map(spanOf));
  return ranges.map((r, d) => {
    if (given[d]) return r;
    const extra = span - spanOf(r);
    const below = step * Math.floor(extra / step / 2);
    return [round(r[0] - below), round(r[0] - below + span)];
  });
}

/**
 * The smallest 1, 2 or 5 × 10^k that is at least `raw` (NaN for NaN).
 * @param {number} raw
 */
function niceStep(raw) {
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
}

/**
 * @param {number[]} values
 * @returns {[number, number]}
 */
function finiteExtent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!(lo <= hi)) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

/**
 * Whether `n` cells over `range` are one unit wide and centred on whole numbers.
 * @param {number[]} range
 * @param {number} n
 */
function unitCells(range, n) {
  const near = (a, b) => Math.abs(a - b) < 1e-9;
  return near((range[1] - range[0]) / n, 1) && near(range[0] + 0.5, Math.round(range[0] + 0.5));
}

/** @param {Heatmap} hm */
function heatmapSeries(hm) {
  const cells = [];
  heatmapCells(hm, (x0, y0, x1, y1, v) => cells.push([x0, y0, x1, y1, v]));
  return {
    id: HEATMAP_ID,
    type: 'custom',
    name: hm.label,
    z: 1, // Under every other series.
    clip: true,
    progressive: 0,
    emphasis: { disabled: true },
    encode: { x: [0, 2], y: [1, 3] },
    data: cells,
    renderItem(params, api) {
      const a = api.coord([api.value(0), api.value(1)]);
      const b = api.coord([api.value(2), api.value(3)]);
      // Whole pixels, so that neighbouring cells meet without anti-aliased seams.
      const x = Math.round(Math.min(a[0], b[0]));
      const y = Math.round(Math.min(a[1], b[1]));
      return {
        type: 'rect',
        shape: { x, y, width: Math.round(Math.max(a[0], b[0])) - x, height: Math.round(Math.max(a[1], b[1])) - y },
        style: { fill: api.visual('color') },
      };
    },
  };
}

/**
 * The uncertainty band of a series: one translucent polygon in its colour through (x, high) left to right and
 * back through (x, low), under the lines. One data item per point (x, low, high), so that automatic axis ranges
 * include the band; the polygon is drawn by the first item. Points without finite values break the band.
 * @param {object} common
 * @param {[number, number][]} points
 * @param {[number, number][]} band
 * @param {string} color
 */
function bandSeries(common, points, band, color) {
  const data = [];
  points.forEach((p, k) => {
    const b = band[k];
    if (b && [p[0], b[0], b[1]].every(Number.isFinite)) data.push([p[0], b[0], b[1]]);
  });
  return {
    ...common,
    type: 'custom',
    z: 2, // Over a heatmap, under every line and marker.
    clip: true,
    silent: true, // The line under the pointer answers, not the area around it.
    emphasis: { disabled: true },
    encode: { x: 0, y: [1, 2] },
    data,
    renderItem(params, api) {
      if (params.dataIndex !== 0 || data.length < 2) return null;
      const upper = data.map((d) => api.coord([d[0], d[2]]));
      const lower = data.map((d) => api.coord([d[0], d[1]])).reverse();
      return {
        type: 'polygon',
        shape: { points: [...upper, ...lower] },
        style: { fill: color, opacity: BAND_OPACITY, stroke: null },
      };
    },
  };
}

/**
 * @param {object} common
 * @param {[number, number][]} points
 * @param {number} symbolSize
 */
/** Scatter series of at most this many points get large markers. */
const FEW_POINTS = 100;

function scatterSeries(common, points, symbolSize) {
  // "large" mode (one path for all symbols, no hover animation) from a few hundred points on.
  return { ...common, type: 'scatter', symbolSize, large: true, largeThreshold: 300, data: points };
}

/**
 * @param {object} common
 * @param {[number, number][]} points
 * @param {string} color
 */
function arrowSeries(common, points, color) {
  const data = [];
  for (let i = 0; i + 1 < points.length; i += 2) data.push([...points[i], ...points[i + 1]]);
  return {
    ...common,
    type: 'custom',
    clip: true,
    emphasis: { disabled: true },
    encode: { x: [0, 2], y: [1, 3] },
    data,
    renderItem(params, api) {
      const t = api.coord([api.value(0), api.value(1)]);
      const h = api.coord([api.value(2), api.value(3)]);
      const dx = h[0] - t[0];
      const dy = h[1] - t[1];
      const len = Math.hypot(dx, dy);
      if (!(len > 0)) return null; // Zero length or a non-finite end: nothing to draw.
      // Head of 10 px, but never longer than 40% of a short arrow.
      const head = Math.min(10, 0.4 * len);
      const ux = dx / len;
      const uy = dy / len;
      const bx = h[0] - ux * head;
      const by = h[1] - uy * head;
      const half = head * 0.45;
      return {
        type: 'group',
        children: [
          { type: 'line', shape: { x1: t[0], y1: t[1], x2: bx, y2: by }, style: { stroke: color, lineWidth: 2 } },
          {
            type: 'polygon',
            shape: { points: [[h[0], h[1]], [bx - uy * half, by + ux * half], [bx + uy * half, by - ux * half]] },
            style: { fill: color },
          },
        ],
      };
    },
  };
}

function xyTooltip(p) {
  const v = p.value;
  const name = p.seriesName ? `${p.seriesName}\n` : '';
  if (p.seriesId === HEATMAP_ID) return `${name}(${tick((v[0] + v[2]) / 2)}, ${tick((v[1] + v[3]) / 2)}): ${tick(v[4])}`;
  if (p.seriesId.startsWith('arrows:')) return `${name}(${tick(v[0])}, ${tick(v[1])}) → (${tick(v[2])}, ${tick(v[3])})`;
  return `${name}(${tick(v[0])}, ${tick(v[1])})`;
}
