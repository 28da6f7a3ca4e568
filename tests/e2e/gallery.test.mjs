// End-to-end test of the plot renderer (www/plots.js) through the plot gallery (www/gallery.html).
// Run: node --test tests/e2e/gallery.test.mjs (needs `npm ci` and /usr/bin/chromium; no trunk build).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, countDrawnPixels, launch, serve, watchConsole } from './harness.mjs';

const IDS = ['clusters', 'landscape', 'trajectory', 'rules', 'fields', 'patterns', 'colours'];
const plotSel = (id) => `[data-plot-id="${id}"]`;
const chartSel = (id) => `${plotSel(id)} .plot-chart`;

let site;
let server;
let context;
let page;
let errors;

/** The site as the real build lays it out: www/* flat at the root, ECharts under vendor/. */
async function buildSite() {
  const dir = await mkdtemp(join(tmpdir(), 'hebbian-gallery-'));
  await mkdir(join(dir, 'vendor'));
  for (const entry of await readdir(join(REPO, 'www'), { withFileTypes: true })) {
    if (entry.isFile()) await copyFile(join(REPO, 'www', entry.name), join(dir, entry.name));
  }
  await copyFile(join(REPO, 'node_modules/echarts/dist/echarts.min.js'), join(dir, 'vendor/echarts.min.js'));
  return dir;
}

before(async () => {
  site = await buildSite();
  server = await serve(site);
  context = await launch({ webgpu: false }); // Plots draw on 2D canvases; WebGPU is not needed here.
  page = await context.newPage();
  await page.setViewportSize({ width: 1200, height: 1500 });
  errors = watchConsole(page);
  await page.goto(`${server.url}/gallery.html`);
  await page.waitForSelector('body[data-ready="1"]');
});

after(async () => {
  await context?.close();
  await server?.close();
  if (site) await rm(site, { recursive: true, force: true });
});

/** The pixel rectangle (relative to the chart element) of an xy plot's data ranges, and its pixels per unit. */
function gridBox(id, xRange, yRange) {
  return page.evaluate(({ id, xRange, yRange }) => {
    const chart = window.gallery.handles[id].chart;
    const [left, bottom] = chart.convertToPixel({ gridIndex: 0 }, [xRange[0], yRange[0]]);
    const [right, top] = chart.convertToPixel({ gridIndex: 0 }, [xRange[1], yRange[1]]);
    return {
      x: left, y: top, width: right - left, height: bottom - top,
      xScale: (right - left) / (xRange[1] - xRange[0]), yScale: (bottom - top) / (yRange[1] - yRange[0]),
    };
  }, { id, xRange, yRange });
}

/** The x and y axis ranges an xy chart ended up with (ECharts' own, after automatic ranges). */
function axisRanges(id) {
  return page.evaluate((id) => {
    const model = window.gallery.handles[id].chart.getModel();
    const extent = (type) => model.getComponent(type, 0).axis.scale.getExtent();
    return [extent('xAxis'), extent('yAxis')];
  }, id);
}

/**
 * Number of pixels in the square of half-side `radius` px around a data point that are red (clearly red, not
 * orange or magenta) or, with `red = false`, any colour that is not grey.
 */
function pixelsNear(id, point, radius, { red = true } = {}) {
  return page.evaluate(({ id, point, radius, red }) => {
    const chart = window.gallery.handles[id].chart;
    const canvas = chart.getDom().querySelector('canvas');
    const dpr = canvas.width / canvas.clientWidth;
    const [px, py] = chart.convertToPixel({ gridIndex: 0 }, point);
    const r = Math.round(radius * dpr);
    const [x, y] = [Math.round(px * dpr) - r, Math.round(py * dpr) - r];
    const { data } = canvas.getContext('2d').getImageData(x, y, 2 * r, 2 * r);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = data.slice(i, i + 4);
      if (a > 200 && (red ? r > 180 && g < 90 && b < 90 : Math.max(r, g, b) - Math.min(r, g, b) > 40)) n++;
    }
    return n;
  }, { id, point, radius, red });
}

test('every plot draws a sizeable picture', async () => {
  // Coloured pixels (chroma ≥ 40) for the coloured kinds: axes, ticks and text are grey and do not count, and the
  // legend icons alone stay far below these numbers.
  const coloured = { clusters: 3000, landscape: 40000, trajectory: 1500, rules: 15000, colours: 20000 };
  for (const [id, min] of Object.entries(coloured)) {
    const n = await countDrawnPixels(page, plotSel(id), { minChroma: 40 });
    assert.ok(n > min, `${id}: ${n} coloured pixels, expected more than ${min}`);
  }
  // The image grids are grey: count every drawn pixel. An empty chart (title and toolbar) gives ~2,000.
  const drawn = { fields: 25000, patterns: 12000 };
  for (const [id, min] of Object.entries(drawn)) {
    const n = await countDrawnPixels(page, chartSel(id));
    assert.ok(n > min, `${id}: ${n} drawn pixels, expected more than ${min}`);
  }
});

test('the heatmap fills its data range and has a colour bar', async () => {
  const plot = await page.evaluate(() => window.gallery.plots.landscape);
  const box = await gridBox('landscape', plot.x_range, plot.y_range);
  // Inset by 2 px so that the axis lines and the grid border stay out.
  const inner = { x: box.x + 2, y: box.y + 2, width: box.width - 4, height: box.height - 4 };
  const n = await countDrawnPixels(page, chartSel('landscape'), { minChroma: 30, region: inner });
  const area = inner.width * inner.height;
  assert.ok(n > 0.95 * area, `heatmap coloured ${n} of ${Math.round(area)} pixels of its grid`);

  // Right of the grid: some column runs through the colour bar, a gradient of many colours from the top colour
  // (viridis yellow) down to the bottom one (viridis purple).
  const bar = await page.evaluate((right) => {
    const canvas = window.gallery.handles.landscape.chart.getDom().querySelector('canvas');
    const dpr = canvas.width / canvas.clientWidth;
    const x0 = Math.ceil((right + 4) * dpr);
    const { width, height } = canvas;
    const { data } = canvas.getContext('2d').getImageData(x0, 0, width - x0, height);
    let best = { distinct: 0 };
    for (let x = 0; x < width - x0; x++) {
      const colours = [];
      for (let y = 0; y < height; y++) {
        const i = 4 * (y * (width - x0) + x);
        const [r, g, b, a] = data.slice(i, i + 4);
        if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 30) colours.push([r, g, b]);
      }
      const distinct = new Set(colours.map((c) => c.join())).size;
      // Ends read 3 px in: the outermost pixels are anti-aliased into the background.
      if (distinct > best.distinct) best = { distinct, top: colours[3], bottom: colours.at(-4) };
    }
    return best;
  }, box.x + box.width);
  assert.ok(bar.distinct >= 40, `colour bar shows only ${bar.distinct} distinct colours`);
  const near = (c, hex) => [1, 3, 5].every((k, i) => Math.abs(c[i] - parseInt(hex.slice(k, k + 2), 16)) < 40);
  assert.ok(near(bar.top, '#fde725'), `colour bar top ${bar.top} is not viridis yellow`);
  assert.ok(near(bar.bottom, '#440154'), `colour bar bottom ${bar.bottom} is not viridis purple`);
});

test('arrows draw red shafts and heads over other marks', async () => {
  const landscape = await page.evaluate(() => window.gallery.plots.landscape.series[0].points);
  const [tail, head] = landscape;
  const mid = [(tail[0] + head[0]) / 2, (tail[1] + head[1]) / 2];
  assert.ok(await pixelsNear('landscape', head, 8) > 25, 'no red arrow head over the heatmap');
  assert.ok(await pixelsNear('landscape', mid, 4) > 4, 'no red arrow shaft over the heatmap');
  // Far from the arrow the heatmap has no red.
  assert.equal(await pixelsNear('landscape', [1.5, -1.2], 8), 0);

  const axes = await page.evaluate(() => window.gallery.plots.clusters.series[3].points);
  for (let i = 0; i < axes.length; i += 2) {
    assert.ok(await pixelsNear('clusters', axes[i + 1], 8) > 25, `no head on principal axis ${i / 2}`);
  }
});

test('trajectories have a marker on every point', async () => {
  // The first points of the spiral lie ~12 px apart. A 2 px line colours about half of the 4×4 square around a
  // point, and anti-aliasing fades most of those to grey (4 measured); a marker (5 px across) fills most of it.
  const path = await page.evaluate(() => window.gallery.plots.trajectory.series[1].points);
  for (const point of path.slice(0, 6)) {
    const n = await pixelsNear('trajectory', point, 2, { red: false });
    assert.ok(n >= 10, `only ${n} of 16 pixels coloured around ${point}`);
  }
});

test('equal_aspect plots have the same scale on both axes', async () => {
  for (const id of ['clusters', 'landscape', 'trajectory']) {
    const [xRange, yRange] = await axisRanges(id);
    const box = await gridBox(id, xRange, yRange);
    assert.ok(Math.abs(box.xScale / box.yScale - 1) < 0.01, `${id}: ${box.xScale} px/unit in x, ${box.yScale} in y`);
  }
  // The automatic ranges still hold every point of the clusters plot.
  const [[x0, x1], [y0, y1]] = await axisRanges('clusters');
  const points = await page.evaluate(() => window.gallery.plots.clusters.series.flatMap((s) => s.points));
  assert.ok(points.every(([x, y]) => x >= x0 && x <= x1 && y >= y0 && y <= y1), 'a point lies outside the axes');
});

/** Splits CSV text into sections (separated by empty lines): [{header, rows: [[cell…]…]}]. */
function csvSections(text) {
  assert.ok(text.endsWith('\n'));
  return text.slice(0, -1).split('\n\n').map((block) => {
    const [header, ...rows] = block.split('\n');
    return { header, rows: rows.map((r) => r.split(',')) };
  });
}

test('CSV export has one row per point, arrow, cell, bar and pixel', async () => {
  const exported = await page.evaluate(async () => {
    const { plotToCSV } = await import('/plots.js');
    return Object.fromEntries(Object.entries(window.gallery.plots).map(([id, p]) => [id, plotToCSV(p)]));
  });
  const plots = await page.evaluate(() => window.gallery.plots);
  const shape = (id) => csvSections(exported[id]).map((s) => [s.header, s.rows.length]);
  const pointCount = (p, arrows) => p.series.filter((s) => (s.mark === 'arrows') === arrows)
    .reduce((n, s) => n + (arrows ? s.points.length / 2 : s.points.length), 0);

  // Columns are named after the axes (units included), not x and y.
  assert.deepEqual(shape('clusters'), [['series,x₁,x₂', 450], ['series,x₁ (tail),x₂ (tail),x₁ (head),x₂ (head)', 2]]);
  assert.deepEqual(shape('landscape'), [['heatmap,w₁,w₂,E(w)', 48 * 36], ['series,w₁,w₂', 1],
    ['series,w₁ (tail),w₂ (tail),w₁ (head),w₂ (head)', 1]]);
  assert.deepEqual(shape('trajectory'), [['series,w₁,w₂', pointCount(plots.trajectory, false)]]);
  assert.deepEqual(shape('rules'), [['category,series,value', 5 * 3]]);
  assert.deepEqual(shape('fields'), [['image,row,col,value', 16 * 28 * 28]]);
  assert.deepEqual(shape('patterns'), [['image,row,col,value', 6 * 3 * 3]]);
  assert.deepEqual(shape('colours'), [['image,row,col,red,green,blue', 6 * 16 * 16]]);

  // Cells carry the data itself.
  const clusters = csvSections(exported.clusters);
  assert.deepEqual(clusters[0].rows[0], ['cluster A', ...plots.clusters.series[0].points[0].map(String)]);
  assert.deepEqual(clusters[1].rows[1], ['principal axes', '0', '0', '-0.6', '1.5']);
  const heat = csvSections(exported.landscape)[0].rows;
  assert.equal(Number(heat[0][3]), plots.landscape.heatmap.values[0]);
  assert.ok(Math.abs(Number(heat[0][1]) - (-2 + 2 / 48)) < 1e-12, 'heatmap x is the cell centre');
  assert.deepEqual(csvSections(exported.rules)[0].rows[1], ['Hebb', '|w|', '3.2']);
  assert.deepEqual(csvSections(exported.patterns)[0].rows.slice(0, 4), [
    ['row 0', '0', '0', '1'], ['row 0', '0', '1', '1'], ['row 0', '0', '2', '1'], ['row 0', '1', '0', '0']]);
  assert.deepEqual(csvSections(exported.colours)[0].rows[16 * 16 * 3 + 15], ['yellow', '0', '15', '1', '1', '0']);
});

test('PNG export gives a PNG of the whole chart', async () => {
  for (const id of IDS) {
    const { url, width } = await page.evaluate(async (id) => {
      const { plotToPNG } = await import('/plots.js');
      const handle = window.gallery.handles[id];
      return { url: plotToPNG(handle), width: handle.chart.getWidth() };
    }, id);
    assert.ok(url.startsWith('data:image/png;base64,'), `${id}: ${url.slice(0, 40)}`);
    const png = Buffer.from(url.slice('data:image/png;base64,'.length), 'base64');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.length > 5000, `${id}: PNG of only ${png.length} bytes`);
    assert.ok(png.readUInt32BE(16) >= width, `${id}: PNG narrower than the chart`); // IHDR width
  }
});

test('the toolbar downloads files named after what the plot shows', async () => {
  const save = async (button) => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator(`${plotSel('rules')} .plot-toolbar button`, { hasText: button }).click(),
    ]);
    return { name: download.suggestedFilename(), body: await readFile(await download.path()) };
  };
  const csv = await save('CSV');
  assert.equal(csv.name, 'final-angle-and-norm-by-rule.csv');
  assert.match(csv.body.toString('utf8'), /^category,series,value\nHebb,angle to PC1 \(rad\),0\.9\n/);
  const png = await save('PNG');
  assert.equal(png.name, 'final-angle-and-norm-by-rule.png');
  // In a lab: the lab's id first, Greek letters spelled out, at most 80 characters cut at a word.
  const names = await page.evaluate(async () => {
    const { fileStem } = await import('/plot-export.js');
    return [
      fileStem({ id: 'traj_3', title: 'Weight trajectory on Σ3 (var 1, 1, ρ = 0.9)' }, 'hebb2d'),
      fileStem({ id: 'x y', title: '‖·‖' }, ''),
      fileStem({ id: 'long', title: 'word '.repeat(40) }, 'lab'),
    ];
  });
  assert.equal(names[0], 'hebb2d-weight-trajectory-on-sigma3-var-1-1-rho-0-9');
  assert.equal(names[1], 'x_y');
  assert.ok(names[2].length <= 80 && names[2].endsWith('word') && names[2].startsWith('lab-word-'), names[2]);
  assert.equal(png.body.subarray(1, 4).toString('latin1'), 'PNG');
});

test('live updates reuse the chart and stay cheap', async () => {
  const result = await page.evaluate(async () => {
    const { updatePlot } = await import('/plots.js');
    const handle = window.gallery.handles.trajectory;
    const chart = handle.chart;
    const canvas = chart.getDom().querySelector('canvas');
    const n = 3000;
    const times = [];
    for (let frame = 0; frame < 30; frame++) {
      const path = Array.from({ length: n }, (_, t) => {
        const a = 0.01 * t + 0.1 * frame;
        const r = 1 + 1.5 * Math.exp(-t / 500);
        return [r * Math.cos(a), r * Math.sin(a)];
      });
      const plot = {
        ...window.gallery.plots.trajectory,
        title: `frame ${frame}`,
        series: [
          { name: 'w(t)', mark: 'trajectory', color: null, points: path },
          { name: 'samples', mark: 'scatter', color: null, points: path.map(([x, y]) => [y, x]) },
        ],
      };
      // From the update to the next frame: the whole cost of showing it.
      const t0 = performance.now();
      updatePlot(handle, plot);
      await new Promise(requestAnimationFrame);
      times.push(performance.now() - t0);
    }
    return {
      sameChart: handle.chart === chart && !chart.isDisposed(),
      sameCanvas: chart.getDom().querySelector('canvas') === canvas,
      canvases: chart.getDom().querySelectorAll('canvas').length,
      title: chart.getOption().title[0].text,
      mean: times.reduce((a, b) => a + b) / times.length,
    };
  });
  console.log(`live update: ${result.mean.toFixed(1)} ms per frame of 6,000 points`);
  assert.ok(result.sameChart && result.sameCanvas, 'the chart or its canvas was re-created');
  assert.equal(result.canvases, 1);
  assert.equal(result.title, 'frame 29');
  // Generous for a busy 2-core machine drawing in software (~50 ms measured; a marker element per point took
  // ~250 ms); a real browser is several times faster.
  assert.ok(result.mean < 120, `a frame of 6,000 points took ${result.mean.toFixed(1)} ms on average`);
  assert.ok(await countDrawnPixels(page, plotSel('trajectory'), { minChroma: 40 }) > 5000);
  // A different kind in the same slot replaces the option entirely.
  await page.evaluate(async () => {
    const { updatePlot } = await import('/plots.js');
    updatePlot(window.gallery.handles.trajectory, window.gallery.plots.rules);
  });
  assert.ok(await countDrawnPixels(page, plotSel('trajectory'), { minChroma: 40 }) > 15000);
});

test('the chart follows the size of its container', async () => {
  await page.locator(plotSel('landscape')).evaluate((el) => { el.style.width = '320px'; });
  await page.waitForFunction(() => window.gallery.handles.landscape.chart.getWidth() < 330);
  const plot = await page.evaluate(() => window.gallery.plots.landscape);
  const box = await gridBox('landscape', plot.x_range, plot.y_range);
  assert.ok(Math.abs(box.xScale / box.yScale - 1) < 0.01, 'equal aspect lost after resizing');
  assert.ok(box.x + box.width < 320, 'grid wider than the narrowed chart');
});

test('a plot rendered into a hidden container draws once shown', async () => {
  await page.evaluate(async () => {
    const { renderPlot } = await import('/plots.js');
    const slot = document.createElement('div');
    slot.id = 'late';
    slot.hidden = true;
    document.getElementById('plots').append(slot);
    window.gallery.handles.late = renderPlot(slot, window.gallery.plots.clusters);
    slot.hidden = false;
  });
  await page.waitForFunction(() => window.gallery.handles.late.chart.getWidth() > 300);
  assert.ok(await countDrawnPixels(page, '#late', { minChroma: 40 }) > 3000);
});

test('text from plots is never parsed as HTML', async () => {
  const evil = '<img src=x onerror="window.__pwned=1">';
  const result = await page.evaluate(async (evil) => {
    const { renderPlot, plotToCSV } = await import('/plots.js');
    const slot = document.createElement('div');
    document.body.append(slot);
    const plots = [
      { id: evil, title: evil, x_label: evil, y_label: evil, kind: 'xy', x_range: null, y_range: null,
        equal_aspect: false, heatmap: null, series: [{ name: evil, mark: 'scatter', color: null, points: [[0, 1]] }] },
      { id: 'b', title: evil, x_label: evil, y_label: evil, kind: 'bars', categories: [evil],
        series: [{ name: evil, values: [1] }] },
      { id: 'i', title: evil, x_label: '', y_label: '', kind: 'images', cols: 1, width: 1, height: 1,
        value_range: [0, 1], images: [{ label: evil, pixels: [0.5] }] },
    ];
    const csv = [];
    for (const plot of plots) {
      renderPlot(slot, plot);
      csv.push(plotToCSV(plot));
    }
    // Hovering shows a tooltip; it must not become DOM either.
    slot.scrollIntoView();
    const rect = slot.querySelector('canvas').getBoundingClientRect();
    const center = [rect.x + rect.width / 2, rect.y + rect.height / 2];
    const canvases = slot.querySelectorAll('canvas').length;
    return { images: document.querySelectorAll('img').length, canvases, csv, center };
  }, evil);
  await page.mouse.move(...result.center);
  await page.waitForTimeout(300);
  assert.equal(result.images, 0);
  assert.equal(result.canvases, 1, 'rendering into a used container must replace the old chart');
  assert.equal(await page.evaluate(() => document.querySelectorAll('img').length), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.ok(result.csv[1].includes('"<img src=x onerror=""window.__pwned=1"">"'), 'CSV quotes a name with quotes');
});

test('axis end labels never print over their neighbours: padded ends stay blank, round ends are labelled', async () => {
  const labels = await page.evaluate(async () => {
    const { renderPlot } = await import('/plots.js');
    const slot = document.createElement('div');
    document.body.append(slot);
    const shown = (handle, axis) => handle.chart.getModel().getComponent(axis, 0).axis.getViewLabels()
      .map((l) => l.formattedLabel).filter((l) => l !== '');
    const line = { name: 'q', mark: 'line', color: null, points: [[0, 0], [31, 1]] };
    const plot = (x, y) => ({ id: 'ends', title: 'ends', x_label: 'P', y_label: 'q', kind: 'xy', x_range: x, y_range: y,
      equal_aspect: false, heatmap: null, series: [line] });
    const padded = renderPlot(slot, plot([0, 31], [-0.02, 1.02]));
    const a = { x: shown(padded, 'xAxis'), y: shown(padded, 'yAxis') };
    const round = renderPlot(slot, plot([0, 30], [-1, 1]));
    const b = { x: shown(round, 'xAxis'), y: shown(round, 'yAxis') };
    slot.remove();
    return { a, b };
  });
  assert.ok(!labels.a.y.includes('-0.02') && !labels.a.y.includes('1.02'), labels.a.y.join(' '));
  assert.ok(labels.a.y.includes('0') && labels.a.y.includes('1'), labels.a.y.join(' '));
  assert.ok(!labels.a.x.includes('31') && labels.a.x.includes('30'), labels.a.x.join(' '));
  assert.ok(labels.b.x.includes('30') && labels.b.y.includes('-1') && labels.b.y.includes('1'), JSON.stringify(labels.b));
});

test('every plot has a text alternative: its title and what it shows, kept up to date', async () => {
  const alts = await page.evaluate(() => Object.fromEntries(Object.entries(window.gallery.handles)
    .map(([id, h]) => [id, { role: h.chart.getDom().getAttribute('role'), label: h.chart.getDom().getAttribute('aria-label'), title: h.plot.title }])));
  for (const id of IDS) {
    const a = alts[id];
    assert.equal(a.role, 'img', id);
    assert.ok(a.label.startsWith(`${a.title}.`), `${id}: ${a.label}`);
    assert.ok(a.label.length > a.title.length + 20, `${id}: ${a.label}`);
    assert.match(a.label, /from -?[0-9.e+-]+ to -?[0-9.e+-]+/, id);
  }
  assert.match(alts.patterns.label, /images? of \d+ × \d+ pixels/);
  assert.match(alts.rules.label, /bars of .* for \d+ categories/i);
  // A new frame updates it (a chart of its own: earlier tests change the gallery's).
  const [label, before] = await page.evaluate(async () => {
    const { renderPlot, updatePlot } = await import('/plots.js');
    const slot = document.createElement('div');
    document.body.append(slot);
    const plot = { id: 'alt', title: 'Alt', x_label: 't', y_label: 'q', kind: 'xy', x_range: null, y_range: null,
      equal_aspect: false, heatmap: null, series: [{ name: 'q', mark: 'line', color: null, points: [[0, 0], [1, 1]] }] };
    const h = renderPlot(slot, plot);
    const first = h.chart.getDom().getAttribute('aria-label');
    updatePlot(h, { ...plot, series: [{ ...plot.series[0], points: [[0, 0], [1000, 1]] }] });
    const second = h.chart.getDom().getAttribute('aria-label');
    slot.remove();
    return [second, first];
  });
  assert.match(before, /t from 0 to 1,/);
  assert.match(label, /t from 0 to 1000,/);
});

test('a table draws every row at its full height, exports its cells and says what it holds', async () => {
  const plot = await page.evaluate(() => window.gallery.plots.states);
  // Text is grey: count every drawn pixel; the same table without rows draws its title and header only.
  const drawn = await countDrawnPixels(page, chartSel('states'));
  await page.evaluate(async () => {
    const { renderPlot } = await import('/plots.js');
    const slot = document.createElement('div');
    slot.id = 'empty-table';
    document.getElementById('plots').append(slot);
    renderPlot(slot, { ...window.gallery.plots.states, rows: [] });
  });
  const blank = await countDrawnPixels(page, '#empty-table .plot-chart');
  await page.evaluate(() => document.getElementById('empty-table').remove());
  assert.ok(drawn > 3 * blank && drawn > 2000, `${drawn} drawn pixels; without rows ${blank}`);
  // Tall enough for the title, the header and all 8 rows, at a desktop and at a phone's width.
  for (const width of [900, 340]) {
    await page.locator(plotSel('states')).evaluate((el, w) => { el.style.width = `${w}px`; }, width);
    await page.waitForFunction((w) => window.gallery.handles.states.chart.getWidth() <= w + 1, width);
    const rows = await page.evaluate(() => {
      const h = window.gallery.handles.states;
      const el = /** @type {HTMLElement} */ (h.chart.getDom());
      return { height: el.clientHeight, width: el.clientWidth };
    });
    assert.ok(rows.height >= 9 * 14 + 30, `${width} px: a table of 9 lines in ${rows.height} px`);
  }
  await page.locator(plotSel('states')).evaluate((el) => { el.style.width = ''; });
  const csv = await page.evaluate(async () => (await import('/plots.js')).plotToCSV(window.gallery.plots.states));
  const [section] = csvSections(csv);
  assert.equal(section.header, plot.columns.join(','));
  assert.deepEqual(section.rows, plot.rows);
  const label = await page.evaluate(() => window.gallery.handles.states.chart.getDom().getAttribute('aria-label'));
  assert.match(label, /^Every state of three units \(Z = 2\.6919\)\. A table of 8 rows with the columns s₁s₂s₃, E\(s\)/);
});

test('the page logged no errors', () => {
  assert.deepEqual(errors, []);
});
