// Plot renderer: draws the plot JSON of www/PROTOCOL.md with ECharts (canvas renderer).
//
// Public API
//   renderPlot(container, plot, {toolbar = true} = {}) -> PlotHandle
//       Creates a chart inside `container` and draws `plot`. The container's children are replaced (a plot
//       rendered there before is disposed first). With `toolbar`, a small overlay in the top-right corner offers
//       two buttons, "PNG" and "CSV", that download `<plot id>.png` and `<plot id>.csv` (the id with characters
//       outside [A-Za-z0-9_.-] replaced by "_"). The chart follows the size of the container (ResizeObserver).
//   updatePlot(handle, plot) -> void
//       Redraws an existing chart with a new plot object (typically the next frame of the same plot id). It reuses
//       the chart: one setOption that replaces the series, no animation, no progressive rendering, so 30 frames a
//       second with a few thousand points neither flicker nor allocate a new canvas.
//   disposePlot(handle) -> void
//       Stops following the container size and frees the chart; the container is emptied.
//   plotToPNG(handle) -> string
//       A `data:image/png;base64,…` URL of the drawn chart on a white background.
//   plotToCSV(plot) -> string
//       The plot's data as CSV text (header rows included, "\n" line ends). Needs no DOM. An xy plot gives one
//       section per part it has, separated by an empty line: `heatmap,x,y,value` (cell centres), `series,x,y`
//       (scatter, line, dashed and trajectory series), `series,x0,y0,x1,y1` (arrows). Bars give
//       `category,series,value`; images give `image,row,col,value`, colour images (channels = 3)
//       `image,row,col,red,green,blue` (row 0 is the top row; the image column holds the image's label, or
//       `#index` when the label is empty).
//
// PlotHandle: {container, chart, plot}. `chart` is the ECharts instance (tests use `chart.convertToPixel`), `plot`
// the plot last drawn. Treat both as read-only.
//
// Page assumptions: ECharts is the global `echarts`, loaded by a classic <script src="vendor/echarts.min.js">
// before this module runs. Nothing is fetched at run time.
//
// DOM and sizing: container > div.plot-root (position: relative) > div.plot-chart (the ECharts canvas) and
// div.plot-toolbar (absolutely placed buttons). The chart element is 100% wide and `var(--plot-height, 360px)`
// high; set `--plot-height` on the container (or any ancestor) to change it.
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

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
  '#bcbd22', '#17becf'];
// Viridis, sampled at 10 stops: perceptually even and readable in grey print.
const HEATMAP_COLORS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58',
  '#b5de2b', '#fde725'];
const HEATMAP_ID = 'heatmap';
const UNDEFINED_PIXEL = [255, 0, 255];

// Pixel layout of the cartesian plots (the grid is placed by hand so that `equal_aspect` can make it square and
// the colour bar can sit right next to it).
const LAYOUT = {
  titleTop: 6, legendTop: 30, gridTopPlain: 42, gridTopLegend: 64,
  left: 68, right: 24, rightColourBar: 96, bottom: 52, colourBarGap: 18,
};

// ---------------------------------------------------------------------------------------------------------------
// Public functions

export function renderPlot(container, plot, { toolbar = true } = {}) {
  const previous = handleIn.get(container);
  if (previous) disposePlot(previous);
  const root = document.createElement('div');
  root.className = 'plot-root';
  root.style.position = 'relative';
  const chartEl = document.createElement('div');
  chartEl.className = 'plot-chart';
  chartEl.style.width = '100%';
  chartEl.style.height = 'var(--plot-height, 360px)';
  root.append(chartEl);
  container.replaceChildren(root);

  const handle = { container, chart: echarts.init(chartEl, null, { renderer: 'canvas' }), plot: null };
  if (toolbar) root.append(buildToolbar(handle));
  updatePlot(handle, plot);

  // The layout is in pixels, so a new size needs a new option. Redrawing does not change the size of chartEl
  // (its style fixes it), so this cannot start a ResizeObserver loop. A hidden chart (size 0) keeps its picture.
  const observer = new ResizeObserver(() => {
    const [w, h] = [chartEl.clientWidth, chartEl.clientHeight];
    if (w === 0 || h === 0 || (w === handle.chart.getWidth() && h === handle.chart.getHeight())) return;
    handle.chart.resize();
    updatePlot(handle, handle.plot);
  });
  observer.observe(chartEl);
  observers.set(handle, observer);
  handleIn.set(container, handle);
  return handle;
}

export function updatePlot(handle, plot) {
  const chart = handle.chart;
  const option = buildOption(plot, chart.getWidth(), chart.getHeight());
  if (handle.plot === null || handle.plot.kind !== plot.kind) {
    chart.setOption(option, { notMerge: true });
  } else {
    // Same kind: merge into the existing chart, replacing the components whose number may change.
    chart.setOption(option, { replaceMerge: ['series', 'visualMap', 'title', 'legend'] });
  }
  handle.plot = plot;
}

export function disposePlot(handle) {
  observers.get(handle)?.disconnect();
  observers.delete(handle);
  if (handleIn.get(handle.container) === handle) handleIn.delete(handle.container);
  handle.chart.dispose();
  handle.container.replaceChildren();
}

export function plotToPNG(handle) {
  return handle.chart.getDataURL({
    type: 'png',
    backgroundColor: '#ffffff',
    pixelRatio: Math.max(2, globalThis.devicePixelRatio || 1),
  });
}

export function plotToCSV(plot) {
  const lines = [];
  const section = (header, rows) => {
    if (rows.length === 0) return;
    if (lines.length > 0) lines.push('');
    lines.push(header);
    for (const row of rows) lines.push(row.join(','));
  };
  switch (plot.kind) {
    case 'xy': {
      const hm = plot.heatmap;
      if (hm) {
        const name = csvText(hm.label);
        const rows = [];
        heatmapCells(hm, (x0, y0, x1, y1, v) => rows.push([name, csvNum((x0 + x1) / 2), csvNum((y0 + y1) / 2),
          csvNum(v)]));
        section('heatmap,x,y,value', rows);
      }
      const points = [];
      const arrows = [];
      for (const s of plot.series) {
        const name = csvText(s.name);
        if (s.mark === 'arrows') {
          for (let i = 0; i + 1 < s.points.length; i += 2) {
            const [t, h] = [s.points[i], s.points[i + 1]];
            arrows.push([name, csvNum(t[0]), csvNum(t[1]), csvNum(h[0]), csvNum(h[1])]);
          }
        } else {
          for (const p of s.points) points.push([name, csvNum(p[0]), csvNum(p[1])]);
        }
      }
      section('series,x,y', points);
      section('series,x0,y0,x1,y1', arrows);
      break;
    }
    case 'bars': {
      const rows = [];
      plot.categories.forEach((category, ci) => {
        for (const s of plot.series) rows.push([csvText(category), csvText(s.name), csvNum(s.values[ci])]);
      });
      section('category,series,value', rows);
      break;
    }
    case 'images': {
      const rows = [];
      const plane = plot.width * plot.height;
      const channels = colourImages(plot) ? 3 : 1;
      plot.images.forEach((img, index) => {
        const name = csvText(img.label === '' ? `#${index}` : img.label);
        for (let row = 0; row < plot.height; row++) {
          for (let col = 0; col < plot.width; col++) {
            const k = row * plot.width + col;
            const values = [];
            for (let c = 0; c < channels; c++) values.push(csvNum(img.pixels[c * plane + k]));
            rows.push([name, String(row), String(col), ...values]);
          }
        }
      });
      section(channels === 3 ? 'image,row,col,red,green,blue' : 'image,row,col,value', rows);
      break;
    }
    default:
      throw new Error(`unknown plot kind ${JSON.stringify(plot.kind)}`);
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// Internals

// Kept outside the handles so that a handle stays a plain data object: each handle's ResizeObserver, and the
// handle drawn in each container.
const observers = new WeakMap();
const handleIn = new WeakMap();

function buildToolbar(handle) {
  const bar = document.createElement('div');
  bar.className = 'plot-toolbar';
  Object.assign(bar.style, { position: 'absolute', top: '4px', right: '4px', display: 'flex', gap: '4px', zIndex: 1 });
  const button = (text, what, onClick) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.title = `Download ${what}`;
    Object.assign(b.style, { font: '11px sans-serif', padding: '1px 6px', cursor: 'pointer' });
    b.addEventListener('click', onClick);
    bar.append(b);
  };
  button('PNG', 'the picture (PNG)', () => download(plotToPNG(handle), `${fileStem(handle.plot.id)}.png`));
  button('CSV', 'the data (CSV)', () => {
    const url = URL.createObjectURL(new Blob([plotToCSV(handle.plot)], { type: 'text/csv' }));
    download(url, `${fileStem(handle.plot.id)}.csv`);
    // Revoking at once can cancel the download in some browsers.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  return bar;
}

function download(url, filename) {
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.click();
}

function fileStem(id) {
  const stem = String(id).replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[.]+/, '');
  return stem === '' ? 'plot' : stem;
}

function csvNum(v) {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : '';
}

function csvText(s) {
  let t = String(s ?? '');
  if (/^[=+\-@\t\r]/.test(t)) t = `'${t}`;
  return /[",\n\r]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t;
}

/** Short, readable number for labels and tooltips. */
function fmt(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

function buildOption(plot, width, height) {
  const base = {
    animation: false,
    title: [{
      id: 'title',
      text: plot.title,
      left: 8,
      top: LAYOUT.titleTop,
      // Leave room for the toolbar in the top-right corner.
      textStyle: { fontSize: 14, fontWeight: 'bold', width: Math.max(40, width - 110), overflow: 'truncate' },
    }],
  };
  switch (plot.kind) {
    case 'xy': return { ...base, ...xyOption(plot, width, height, base.title) };
    case 'bars': return { ...base, ...barsOption(plot, width, height) };
    case 'images': return { ...base, ...imagesOption(plot) };
    default: throw new Error(`unknown plot kind ${JSON.stringify(plot.kind)}`);
  }
}

function colourOf(series, index) {
  return series.color || PALETTE[index % PALETTE.length];
}

function legendOption(names) {
  const named = [...new Set(names.filter((n) => n !== ''))];
  if (named.length === 0) return null;
  return {
    id: 'legend', type: 'scroll', top: LAYOUT.legendTop, left: 'center', data: named, itemHeight: 10,
    textStyle: { fontSize: 12 },
  };
}

/** Axis options shared by the cartesian kinds. */
function valueAxis(name, range, gap) {
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

/** The grid rectangle in pixels: the free area, or the largest centred box of the given aspect (width/height). */
function gridRect(width, height, top, right, aspect) {
  const left = LAYOUT.left;
  const availW = Math.max(20, width - left - right);
  const availH = Math.max(20, height - top - LAYOUT.bottom);
  if (!aspect) return { left, top, width: availW, height: availH };
  const w = Math.min(availW, availH * aspect);
  const h = w / aspect;
  return { left: left + (availW - w) / 2, top: top + (availH - h) / 2, width: w, height: h };
}

function xyOption(plot, width, height, titles) {
  const hm = plot.heatmap;
  const legend = legendOption(plot.series.map((s) => s.name));
  const top = legend ? LAYOUT.gridTopLegend : LAYOUT.gridTopPlain;
  const right = hm ? LAYOUT.rightColourBar : LAYOUT.right;

  let xRange = plot.x_range ?? hm?.x_range ?? null;
  let yRange = plot.y_range ?? hm?.y_range ?? null;
  let aspect = null;
  if (plot.equal_aspect) {
    [xRange, yRange] = equalAspectRanges(plot, xRange, yRange);
    aspect = (xRange[1] - xRange[0]) / (yRange[1] - yRange[0]);
  }
  const grid = gridRect(width, height, top, right, aspect);

  const series = [];
  const option = {
    grid: { ...grid, outerBoundsMode: 'none' }, // Exact pixels: never shrink the grid to fit the labels.
    xAxis: valueAxis(plot.x_label, xRange, 28),
    yAxis: valueAxis(plot.y_label, yRange, 48),
    legend: legend ? [legend] : [],
    tooltip: { trigger: 'item', renderMode: 'richText', confine: true, formatter: xyTooltip },
    series,
  };

  if (hm) {
    series.push(heatmapSeries(hm));
    const [lo, hi] = finiteExtent(hm.values);
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
      text: [fmt(hi), fmt(lo)],
      textGap: 6,
      textStyle: { fontSize: 11 },
      inRange: { color: HEATMAP_COLORS },
    }];
    option.title = [...titles, {
      id: 'colour-bar-label',
      text: hm.label,
      left: barLeft - 4,
      top: grid.top,
      textStyle: { fontSize: 11, fontWeight: 'normal', width: width - barLeft, overflow: 'truncate' },
    }];
  }

  plot.series.forEach((s, i) => {
    const color = colourOf(s, i);
    const common = { id: `${s.mark}:${i}`, name: s.name, z: 3, progressive: 0, itemStyle: { color } };
    switch (s.mark) {
      case 'scatter':
        series.push(scatterSeries(common, s.points, 6));
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
  });
  return option;
}

/**
 * Ranges with the same span on both axes, so that the grid (sized to the span ratio) has equal scales. Given
 * ranges are kept; a missing one comes from the data: padded by 5%, its ends on multiples of a 1-2-5 step (short
 * tick labels), then widened by whole steps to the common span.
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
  const round = (v) => Number(v.toPrecision(12)); // Drop float noise such as 0.30000000000000004.
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

/** The smallest 1, 2 or 5 × 10^k that is at least `raw`. */
function niceStep(raw) {
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
}

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

/** Calls f(x0, y0, x1, y1, value) for every cell with a finite value. */
function heatmapCells(hm, f) {
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

function scatterSeries(common, points, symbolSize) {
  // "large" mode (one path for all symbols, no hover animation) from a few hundred points on.
  return { ...common, type: 'scatter', symbolSize, large: true, largeThreshold: 300, data: points };
}

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
  if (p.seriesId === HEATMAP_ID) return `${name}(${fmt((v[0] + v[2]) / 2)}, ${fmt((v[1] + v[3]) / 2)}): ${fmt(v[4])}`;
  if (p.seriesId.startsWith('arrows:')) return `${name}(${fmt(v[0])}, ${fmt(v[1])}) → (${fmt(v[2])}, ${fmt(v[3])})`;
  return `${name}(${fmt(v[0])}, ${fmt(v[1])})`;
}

function barsOption(plot, width, height) {
  const legend = legendOption(plot.series.map((s) => s.name));
  const grid = gridRect(width, height, legend ? LAYOUT.gridTopLegend : LAYOUT.gridTopPlain, LAYOUT.right, null);
  return {
    grid: { ...grid, outerBoundsMode: 'none' },
    xAxis: { type: 'category', name: plot.x_label, nameLocation: 'middle', nameGap: 28, data: plot.categories },
    yAxis: { ...valueAxis(plot.y_label, null, 48), scale: false }, // Bars start at 0.
    legend: legend ? [legend] : [],
    tooltip: {
      trigger: 'item',
      renderMode: 'richText',
      confine: true,
      formatter: (p) => `${p.name}\n${p.seriesName ? `${p.seriesName}: ` : ''}${fmt(p.value)}`,
    },
    series: plot.series.map((s, i) => ({
      id: `bars:${i}`,
      type: 'bar',
      name: s.name,
      data: s.values,
      itemStyle: { color: PALETTE[i % PALETTE.length] },
      progressive: 0,
    })),
  };
}

/** Where the cells of an image grid go, for a chart of the given size. */
function imageGridLayout(plot, width, height) {
  const n = plot.images.length;
  const cols = Math.max(1, Math.min(plot.cols || n, n));
  const rows = Math.max(1, Math.ceil(n / cols));
  const labelH = plot.images.some((img) => img.label !== '') ? 14 : 0;
  const gap = 6;
  const top = LAYOUT.gridTopPlain - 10;
  const pad = 8;
  const scale = Math.max(0.1, Math.min(
    ((width - 2 * pad) / cols - gap) / plot.width,
    ((height - top - pad) / rows - gap - labelH) / plot.height,
  ));
  const imgW = plot.width * scale;
  const imgH = plot.height * scale;
  const cellW = imgW + gap;
  const cellH = imgH + gap + labelH;
  // Centred in the free area below the title.
  return {
    cols, imgW, imgH, cellW, cellH,
    left: (width - cols * cellW) / 2 + gap / 2,
    top: top + Math.max(0, (height - top - pad - rows * cellH) / 2) + gap / 2,
  };
}

function imagesOption(plot) {
  const [lo, hi] = plot.value_range;
  const span = hi - lo || 1;
  // The canvases of this frame, drawn at the scale last asked for. ECharts draws images with smoothing, so each
  // image is enlarged here by an integer factor with sharp pixels and ECharts only scales it by less than 2.
  const cache = new Map();
  const canvasFor = (index, factor) => {
    const key = `${index}@${factor}`;
    if (!cache.has(key)) cache.set(key, pixelCanvas(plot, plot.images[index].pixels, lo, span, factor));
    return cache.get(key);
  };
  return {
    tooltip: {
      trigger: 'item',
      renderMode: 'richText',
      formatter: (p) => plot.images[p.dataIndex].label || `#${p.dataIndex}`,
    },
    series: [{
      id: 'images',
      type: 'custom',
      coordinateSystem: 'none',
      progressive: 0,
      emphasis: { disabled: true },
      data: plot.images.map((_, i) => [i]),
      renderItem(params, api) {
        const g = imageGridLayout(plot, api.getWidth(), api.getHeight());
        const i = params.dataIndex;
        const x = g.left + (i % g.cols) * g.cellW;
        const y = g.top + Math.floor(i / g.cols) * g.cellH;
        const factor = Math.max(1, Math.ceil((g.imgW * api.getDevicePixelRatio()) / plot.width));
        const children = [
          { type: 'image', style: { image: canvasFor(i, factor), x, y, width: g.imgW, height: g.imgH } },
          {
            type: 'rect',
            shape: { x: x - 0.5, y: y - 0.5, width: g.imgW + 1, height: g.imgH + 1 },
            style: { fill: null, stroke: '#9a9a9a', lineWidth: 1 },
          },
        ];
        const label = plot.images[i].label;
        if (label !== '') {
          children.push({
            type: 'text',
            style: {
              text: label, x: x + g.imgW / 2, y: y + g.imgH + 2, align: 'center', verticalAlign: 'top',
              // An explicit line height: zrender otherwise measures it as the width of a CJK glyph, which is
              // far off where no CJK font is installed (labels then overlap the image).
              fontSize: 11, lineHeight: 14, fill: '#333', width: g.cellW, overflow: 'truncate',
            },
          });
        }
        return { type: 'group', children };
      },
    }],
  };
}

/** Whether an images plot holds colour (channels = 3) images; anything else is drawn grey. */
function colourImages(plot) {
  return plot.channels === 3;
}

/**
 * One image as a canvas enlarged `factor` times: grey from black (lo) to white (lo + span), or for colour images
 * each channel from 0 (lo) to 255 (lo + span).
 */
function pixelCanvas(plot, pixels, lo, span, factor) {
  const { width, height } = plot;
  const plane = width * height;
  const channels = colourImages(plot) ? 3 : 1;
  const small = document.createElement('canvas');
  small.width = width;
  small.height = height;
  const image = new ImageData(width, height);
  const level = (v) => Math.round(255 * Math.min(1, Math.max(0, (v - lo) / span)));
  for (let k = 0; k < plane; k++) {
    let rgb = [];
    for (let c = 0; c < channels; c++) rgb.push(pixels[c * plane + k]);
    if (rgb.every(Number.isFinite)) {
      rgb = rgb.map(level);
      if (channels === 1) rgb = [rgb[0], rgb[0], rgb[0]];
    } else {
      rgb = UNDEFINED_PIXEL;
    }
    image.data.set(rgb, 4 * k);
    image.data[4 * k + 3] = 255;
  }
  small.getContext('2d').putImageData(image, 0, 0);
  if (factor === 1) return small;
  const big = document.createElement('canvas');
  big.width = width * factor;
  big.height = height * factor;
  const ctx = big.getContext('2d');
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, big.width, big.height);
  return big;
}
