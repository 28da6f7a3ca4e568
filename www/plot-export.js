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
        heatmapCells(hm, (x0, y0, x1, y1, v) => rows.push([name, exact((x0 + x1) / 2), exact((y0 + y1) / 2),
          exact(v)]));
        section('heatmap,x,y,value', rows);
      }
      const points = [];
      const arrows = [];
      for (const s of plot.series) {
        const name = csvText(s.name);
        if (s.mark === 'arrows') {
          for (let i = 0; i + 1 < s.points.length; i += 2) {
            const [t, h] = [s.points[i], s.points[i + 1]];
            arrows.push([name, exact(t[0]), exact(t[1]), exact(h[0]), exact(h[1])]);
          }
        } else {
          for (const p of s.points) points.push([name, exact(p[0]), exact(p[1])]);
        }
      }
      section('series,x,y', points);
      section('series,x0,y0,x1,y1', arrows);
      break;
    }
    case 'bars': {
      const rows = [];
      plot.categories.forEach((category, ci) => {
        for (const s of plot.series) rows.push([csvText(category), csvText(s.name), exact(s.values[ci])]);
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
            for (let c = 0; c < channels; c++) values.push(exact(img.pixels[c * plane + k]));
            rows.push([name, String(row), String(col), ...values]);
          }
        }
      });
      section(channels === 3 ? 'image,row,col,red,green,blue' : 'image,row,col,value', rows);
      break;
    }
    default:
      throw new Error(`unknown plot kind ${JSON.stringify(/** @type {{kind: unknown}} */ (plot).kind)}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The PNG and CSV buttons of a chart (they export the plot the handle shows when clicked).
 * @param {PlotHandle} handle
 */
export function buildToolbar(handle) {
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
  // renderPlot draws a plot before anyone can click.
  const plot = () => /** @type {Plot} */ (handle.plot);
  button('PNG', 'the picture (PNG)', () => download(plotToPNG(handle), `${fileStem(plot().id)}.png`));
  button('CSV', 'the data (CSV)', () => {
    const url = URL.createObjectURL(new Blob([plotToCSV(plot())], { type: 'text/csv' }));
    download(url, `${fileStem(plot().id)}.csv`);
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

/** @param {string} id */
function fileStem(id) {
  const stem = String(id).replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[.]+/, '');
  return stem === '' ? 'plot' : stem;
}

/** @param {unknown} s */
function csvText(s) {
  let t = String(s ?? '');
  if (/^[=+\-@\t\r]/.test(t)) t = `'${t}`;
  return /[",\n\r]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t;
}
