// @ts-check
// Exports of a plot: the drawn picture as PNG, its data as CSV, and the toolbar that downloads both.
import { exact } from './format.js';
import { colourImages, heatmapCells } from './plot-common.js';

/** @typedef {import('./plot-common.js').Plot} Plot */
/** @typedef {import('./plots.js').PlotHandle} PlotHandle */

/** @param {PlotHandle} handle */
export function plotToPNG(handle) {
  return handle.chart.getDataURL({
    type: 'png',
    backgroundColor: '#ffffff',
    pixelRatio: Math.max(2, globalThis.devicePixelRatio || 1),
  });
}

/**
 * @param {Plot} plot
 * @returns {string}
 */
export function plotToCSV(plot) {
  const lines = [];
  /** @param {string[]} header @param {string[][]} rows */
  const section = (header, rows) => {
    if (rows.length === 0) return;
    if (lines.length > 0) lines.push('');
    lines.push(header.map(csvText).join(','));
    for (const row of rows) lines.push(row.join(','));
  };
  // Columns are named after the axes they hold, units included ("update", "angle (degrees)").
  const [x, y] = plot.kind === 'images' || plot.kind === 'table' ? ['', ''] : [plot.x_label || 'x', plot.y_label || 'y'];
  switch (plot.kind) {
    case 'xy': {
      const hm = plot.heatmap;
      if (hm) {
        const name = csvText(hm.label);
        const rows = [];
        heatmapCells(hm, (x0, y0, x1, y1, v) => rows.push([name, exact((x0 + x1) / 2), exact((y0 + y1) / 2),
          exact(v)]));
        section(['heatmap', x, y, hm.label || 'value'], rows);
      }
      const points = [];
      const arrows = [];
      // With any uncertainty band, every point row gets its (low, high) of y: empty for series without one.
      const banded = plot.series.some((s) => s.band);
      for (const s of plot.series) {
        const name = csvText(s.name);
        if (s.mark === 'arrows') {
          for (let i = 0; i + 1 < s.points.length; i += 2) {
            const [t, h] = [s.points[i], s.points[i + 1]];
            arrows.push([name, exact(t[0]), exact(t[1]), exact(h[0]), exact(h[1])]);
          }
        } else {
          s.points.forEach((p, k) => {
            const row = [name, exact(p[0]), exact(p[1])];
            const b = s.band?.[k];
            if (banded) row.push(...(b ? [exact(b[0]), exact(b[1])] : ['', '']));
            points.push(row);
          });
        }
      }
      section(banded ? ['series', x, y, `${y} (low)`, `${y} (high)`] : ['series', x, y], points);
      section(['series', `${x} (tail)`, `${y} (tail)`, `${x} (head)`, `${y} (head)`], arrows);
      break;
    }
    case 'bars': {
      const rows = [];
      plot.categories.forEach((category, ci) => {
        for (const s of plot.series) rows.push([csvText(category), csvText(s.name), exact(s.values[ci])]);
      });
      section(['category', 'series', plot.y_label || 'value'], rows);
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
            for (let c = 0; c < channels; c++) values.push(exact(img.pixels[c * plane + k]));
            rows.push([name, String(row), String(col), ...values]);
          }
        }
      });
      section(channels === 3 ? ['image', 'row', 'col', 'red', 'green', 'blue'] : ['image', 'row', 'col', 'value'], rows);
      break;
    }
    case 'table':
      section(plot.columns, plot.rows.map((row) => plot.columns.map((_, c) => csvText(row[c] ?? ''))));
      break;
    default:
      throw new Error(`unknown plot kind ${JSON.stringify(/** @type {{kind: unknown}} */ (plot).kind)}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The PNG and CSV buttons of a chart (they export the plot the handle shows when clicked).
 * @param {PlotHandle} handle
 * @param {string} prefix the downloads' file name prefix (see fileStem)
 */
export function buildToolbar(handle, prefix) {
  const bar = document.createElement('div');
  bar.className = 'plot-toolbar';
  Object.assign(bar.style, { position: 'absolute', top: '4px', right: '4px', display: 'flex', gap: '4px', zIndex: 1 });
  const button = (text, what, onClick) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.title = `Download ${what}`;
    b.setAttribute('aria-label', `Download ${what} of this plot`);
    Object.assign(b.style, { font: '11px sans-serif', padding: '1px 6px', cursor: 'pointer' });
    b.addEventListener('click', onClick);
    bar.append(b);
  };
  // renderPlot draws a plot before anyone can click.
  const plot = () => /** @type {Plot} */ (handle.plot);
  button('PNG', 'the picture (PNG)', () => download(plotToPNG(handle), `${fileStem(plot(), prefix)}.png`));
  button('CSV', 'the data (CSV)', () => {
    const url = URL.createObjectURL(new Blob([plotToCSV(plot())], { type: 'text/csv' }));
    download(url, `${fileStem(plot(), prefix)}.csv`);
    // Revoking at once can cancel the download in some browsers.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  return bar;
}

/**
 * @param {string} url
 * @param {string} filename
 */
function download(url, filename) {
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  a.click();
}

// Letters of the plot titles spelled out in file names (a download named "Σ3" is hard to type in a shell).
const SPELLED = {
  α: 'alpha', β: 'beta', γ: 'gamma', δ: 'delta', ε: 'epsilon', η: 'eta', θ: 'theta', κ: 'kappa', λ: 'lambda',
  μ: 'mu', ρ: 'rho', σ: 'sigma', Σ: 'sigma', τ: 'tau', φ: 'phi', ω: 'omega', '₀': '0', '₁': '1', '₂': '2', '₃': '3',
  '‖': '', '·': '-', '×': 'x', '−': '-',
};

/**
 * A download's file name without extension: `<prefix>-<the title in plain letters>` (e.g.
 * "hebb2d-weight-trajectory-on-sigma3-var-1-1-rho-0-9"), at most 80 characters, cut at a word; the plot id
 * when the title has no letters or digits.
 * @param {Plot} plot
 * @param {string} prefix what the plot belongs to (the lab's id), or ''
 */
export function fileStem(plot, prefix) {
  const plain = [...String(plot.title)].map((c) => SPELLED[/** @type {keyof typeof SPELLED} */ (c)] ?? c).join('')
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  let words = plain.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  if (words === '') words = String(plot.id).replace(/[^A-Za-z0-9_-]+/g, '_') || 'plot';
  const stem = prefix ? `${prefix.replace(/[^A-Za-z0-9_-]+/g, '_')}-${words}` : words;
  if (stem.length <= 80) return stem;
  const cut = stem.slice(0, 80);
  return cut.includes('-') ? cut.slice(0, cut.lastIndexOf('-')) : cut;
}

/** @param {unknown} s */
function csvText(s) {
  let t = String(s ?? '');
  if (/^[=+\-@\t\r]/.test(t)) t = `'${t}`;
  return /[",\n\r]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t;
}
