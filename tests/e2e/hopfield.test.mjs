// End-to-end tests of the Hopfield lab in the built site (dist/): every plot draws (weights, rasters, overlaps,
// q(t) curves, worked example with its W, capacity heatmaps, curves against P and α, basins), WebGPU
// (SwiftShader) and the CPU give the same capacity results, the link reproduces the CLI's numbers exactly, and
// the worked example matches the lectures (TC-09).
//
// Run: node --test tests/e2e/hopfield.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cliMetrics, frameMetrics, launch, serve, watchConsole } from './harness.mjs';

const LONG = 180_000;
const QT = ['capacity_qt_1', 'capacity_qt_2', 'capacity_qt_3', 'capacity_qt_4'];
const STATIC = ['weights', 'raster', 'raster_inverse', 'overlap', ...QT, 'worked_images', 'worked_weights', 'worked_energy',
  'worked_steps', 'digits_images', 'digits_energy'];
const SWEEP = ['capacity_hebb', 'capacity_pinv', 'capacity_storkey', 'capacity_curve', 'capacity_retrieval', 'capacity_basin'];
// A smaller sweep than the default keeps the test quick on SwiftShader. 0.6 is on its q(0) grid (0.2, 0.4, …):
// the retrieval rate's 20 % flipped units.
const SMALL = {
  n: 64, p_max: 16, q0_steps: 5, trials: 4, dynamics: 'asynchronous', max_sweeps: 10, tie: 'keep', qt_p: [1, 4, 8, 16],
  qt_storage: 'hebb',
};

let server;
let context;

before(async () => {
  buildSite();
  server = await serve(DIST);
  context = await launch({ webgpu: true });
});

after(async () => {
  await context?.close();
  await server?.close();
});

const idle = (page, step) => page.waitForFunction((step) => {
  const p = window.playground;
  return p?.frame && p.frame.step === step && !p.running && p.pending.size === 0
    && document.getElementById('app').dataset.drawnStep === String(step);
}, step, { timeout: LONG });

async function openLab(backend, capacity = SMALL) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  const errors = watchConsole(page);
  await page.goto(`${server.url}/?lab=hopfield&backend=${backend}`);
  await idle(page, 0);
  await page.evaluate((capacity) => {
    const p = window.playground;
    p.commit({ ...p.state, params: { ...p.state.params, capacity } });
  }, capacity);
  // The commit restarts the run: wait for its step-0 plots (the old frame's step-0 marks are still set).
  await page.waitForFunction((ids) => ids.every((id) => window.playground.plots.get(id).handle), STATIC, { timeout: LONG });
  await idle(page, 0);
  return { page, errors };
}

async function runToEnd(page) {
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await idle(page, 3);
  return frameMetrics(page);
}

test('every plot draws; the worked example is the lectures T/U/C case; GPU and CPU agree', async () => {
  const gpu = await openLab('gpu');
  assert.equal(await gpu.page.evaluate(() => window.playground.engine.kind), 'gpu');
  await assertPlotsDrawn(gpu.page, STATIC, { margin: 300 });
  const g = await runToEnd(gpu.page);
  await assertPlotsDrawn(gpu.page, SWEEP, { margin: 300 });
  // TC-09: storing T, U, C; 004's T′ (T with unit 2 off, the default drawn probe) in the lecture's order
  // 2, 3, 8, …: E(T′) = −12, flipping s2 gives −32, flipping s3 would give −24 (ΔE = +8) and is rejected; it ends
  // at E(T) = −32 on T.
  assert.equal(g['worked example: energy of the probe'], -12);
  assert.equal(g['worked example: final energy'], -32);
  assert.equal(g['worked example: recalled memory (index, −1: none)'], 0);
  const steps = await gpu.page.evaluate(() => window.playground.plots.get('worked_steps').handle.plot);
  assert.deepEqual(steps.categories.slice(0, 2), ['i=2 ✓', 'i=3']);
  assert.deepEqual(steps.series[0].values.slice(0, 2), [-20, 8]);
  const energy = await gpu.page.evaluate(() => window.playground.plots.get('worked_energy').handle.plot);
  assert.deepEqual(energy.series[0].points.slice(0, 3).map((p) => p[1]), [-12, -32, -32]);
  const probe = await gpu.page.evaluate(() => window.playground.state.params.worked);
  assert.equal(probe.draw_probe, true);
  assert.equal(probe.probe_drawing[0].cells, '#.#.#..#.');
  // Capacity against α = P/N, from 20 % flipped units (q(0) = 0.6), and the basin per P.
  const retrieval = await gpu.page.evaluate(() => window.playground.plots.get('capacity_retrieval').handle.plot);
  assert.equal(retrieval.x_label, 'α = P / N');
  assert.match(retrieval.title, /20 % of units flipped \(q\(0\) = 0\.59/);
  assert.ok(g['Hebb: smallest q(0) recovering P = 1'] <= 0.2, JSON.stringify(g));
  // The mirror attractor: from near −v¹ the network ends on −v¹.
  assert.equal(g['final q from near −v¹'], -1);
  assert.equal(g['final q from the probe'], 1);
  // MNIST digits (correlated memories) with the bottom rows blanked: Hebb mixes them up, the others recall.
  assert.ok(g['digits, Hebb: final overlap with the damaged digit'] < 0.95, JSON.stringify(g));
  assert.equal(g['digits, pseudo-inverse: final overlap with the damaged digit'], 1);
  assert.equal(g['digits, Storkey: final overlap with the damaged digit'], 1);
  // Hebb loses exact recall before the pseudo-inverse and Storkey rules.
  assert.ok(g['Hebb: largest P with ≥ 90 % exact recall'] < g['pseudo-inverse: largest P with ≥ 90 % exact recall'], JSON.stringify(g));
  const cpu = await openLab('cpu');
  const c = await runToEnd(cpu.page);
  assert.deepEqual(g, c);
  assert.deepEqual(gpu.errors, []);
  assert.deepEqual(cpu.errors, []);
  // The page's state, run by the native CLI, gives the same numbers exactly.
  assert.deepEqual(await cliMetrics(await cpu.page.evaluate(() => window.playground.state)), c);
});

test('a long sweep fills its heatmaps a block of trials per step', async () => {
  // N = 512 with 64 probes per trial: one trial per step, 4 trials × 3 rules = 12 steps.
  const { page, errors } = await openLab('cpu', { ...SMALL, n: 512 });
  await page.getByRole('button', { name: 'Step', exact: true }).click();
  await idle(page, 1);
  const title = (id) => page.evaluate((id) => window.playground.plots.get(id).handle?.plot.title ?? null, id);
  assert.equal(await page.evaluate(() => window.playground.frame.total), 12);
  assert.match(await title('capacity_hebb'), /1 of 4 trials so far/);
  assert.equal(await title('capacity_storkey'), null, 'later rules not drawn yet');
  await assertPlotsDrawn(page, ['capacity_hebb', 'capacity_curve'], { margin: 300 });
  // No final capacity numbers while Hebb's trials are partial.
  assert.equal(await page.evaluate(() => window.playground.frame.metrics.some((m) => m.name.startsWith('Hebb:'))), false);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await idle(page, 12);
  assert.match(await title('capacity_storkey'), /N = 512, 4 trials\)/);
  assert.equal(await page.evaluate(() => window.playground.frame.metrics.some((m) => m.name.startsWith('Storkey:'))), true);
  assert.deepEqual(errors, []);
});

test('impossible parameters are refused next to their fields', async () => {
  const { page, errors } = await openLab('cpu');
  await page.locator('[name="capacity/p_max"]').fill('64');
  await page.locator('[name="capacity/p_max"]').blur();
  await page.waitForFunction(() => document.querySelector('.control[data-path="capacity/p_max"] .field-error')?.textContent.includes('P < N'));
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(errors, []);
});

test('a drawn probe, corrupted by clicking its cells, is recalled with the energy of every step', async () => {
  const { page, errors } = await openLab('cpu');
  await page.locator('[name="worked/draw_probe"]').check();
  await page.waitForFunction(() => window.playground.state.params.worked.draw_probe === true);
  await idle(page, 0);
  // The default drawing is 004's corrupted T′: E(T′) = −12, recalled to T at −32 (TC-09).
  const metric = (name) => page.evaluate((name) => window.playground.frame.metrics.find((m) => m.name === name)?.value, name);
  await page.waitForFunction(() => window.playground.frame.metrics.some((m) => m.name === 'worked example: energy of the probe' && m.value === -12));
  assert.equal(await metric('worked example: final energy'), -32);
  // Click the probe's centre cell (row 1, column 1) off: the probe changes and so does its energy.
  const editor = page.locator('.pattern-editor[data-path="worked/probe_drawing"]');
  const grid = editor.locator('.pattern-grid[data-pattern="0"]');
  // The capacity cells above are tall: bring the editor into the viewport, where the mouse can reach it.
  await grid.scrollIntoViewIfNeeded();
  const box = await grid.boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction(() => window.playground.state.params.worked.probe_drawing[0].cells === '#.#....#.');
  await page.waitForFunction(() => window.playground.frame.metrics.some((m) => m.name === 'worked example: energy of the probe' && m.value !== -12));
  await idle(page, 0);
  // The clicked probe is in the link.
  assert.match(await page.evaluate(() => location.hash), /^#s=3\./);
  assert.deepEqual(errors, []);
});

test('the worked examples switch to the five neurons, 0/1 states, a random order and a threshold', async () => {
  const { page, errors } = await openLab('cpu');
  const metric = (name) => page.evaluate((name) => window.playground.frame.metrics.find((m) => m.name === name)?.value, name);
  await page.locator('[name="worked/kind"]').selectOption('five_neurons');
  // The old frame's step-0 marks stay set until the new frame arrives: wait for the new example's plot itself.
  await page.waitForFunction(() => window.playground.plots.get('worked_steps').handle?.plot.categories.length === 5, null,
    { timeout: LONG });
  await idle(page, 0);
  // TC-07 in the order 1, 3, 5, 2, 4 on 0/1 states: only unit 5 turns on, ending on s1 = 01011 (E = −2).
  const steps = await page.evaluate(() => window.playground.plots.get('worked_steps').handle.plot.categories);
  assert.deepEqual(steps, ['i=1', 'i=3', 'i=5 ✓', 'i=2', 'i=4']);
  assert.equal(await metric('worked example: final energy'), -2);
  await assertPlotsDrawn(page, ['worked_weights', 'worked_steps'], { margin: 300 });
  await page.locator('[name="worked/order"]').selectOption('random');
  await page.locator('[name="worked/states"]').selectOption('bipolar');
  // Both edits drawn: a random order, and ±1 states (the images' range starts at −1).
  await page.waitForFunction(() => window.playground.plots.get('worked_steps').handle?.plot.title.includes('a random order')
    && window.playground.plots.get('worked_images').handle?.plot.value_range[1] === -1, null, { timeout: LONG });
  await idle(page, 0);
  assert.equal(await metric('worked example: recalled memory (index, −1: none)'), 0);
  await page.locator('[name="worked/threshold"]').fill('10');
  await page.locator('[name="worked/threshold"]').blur();
  await page.waitForFunction(() => window.playground.frame.metrics.some((m) => m.name === 'worked example: recalled memory (index, −1: none)'
    && m.value === -1), null, { timeout: LONG });
  assert.equal(await page.evaluate(() => window.playground.state.params.worked.threshold), 10);
  assert.deepEqual(errors, []);
});

/**
 * A chart's canvases drawn over white, as the reader sees them: `at(points)` gives the RGBA values at (x, y) in
 * CSS pixels, `count(rgb, tolerance)` the number of pixels of a colour.
 */
function chartPixels(page, id) {
  const read = (f, arg) => page.evaluate(({ id, arg, f }) => {
    const chart = window.playground.plots.get(id).handle.chart;
    const dom = chart.getDom();
    const box = dom.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const out = document.createElement('canvas');
    out.width = Math.round(box.width * dpr);
    out.height = Math.round(box.height * dpr);
    const ctx = out.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, out.width, out.height);
    for (const c of dom.querySelectorAll('canvas')) {
      const r = c.getBoundingClientRect();
      ctx.drawImage(c, (r.left - box.left) * dpr, (r.top - box.top) * dpr, r.width * dpr, r.height * dpr);
    }
    if (f === 'at') {
      return arg.map(([x, y]) => [...ctx.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data]);
    }
    const { data } = ctx.getImageData(0, 0, out.width, out.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (arg.rgb.every((v, k) => Math.abs(data[i + k] - v) <= arg.tolerance)) n++;
    }
    return n;
  }, { id, arg, f });
  return { at: (points) => read('at', points), count: (rgb, tolerance) => read('count', { rgb, tolerance }) };
}

test('averages show their bands, the capacity maps share a scale, rasters run in time, letters are ink', async () => {
  const { page, errors } = await openLab('cpu');
  await runToEnd(page);
  const option = (id) => page.evaluate((id) => {
    const o = window.playground.plots.get(id).handle.chart.getOption();
    return { visualMap: o.visualMap?.map((v) => [v.min, v.max]), x: o.xAxis?.[0], y: o.yAxis?.[0] };
  }, id);
  // One colour scale for the three capacity maps, as drawn.
  const scales = await Promise.all(['capacity_hebb', 'capacity_pinv', 'capacity_storkey'].map(async (id) => (await option(id)).visualMap[0]));
  assert.deepEqual(scales, [[0, 1], [0, 1], [0, 1]]);
  // Hebb's exact-recall curve has a band: translucent blue (its colour #0072B2 at 20 % over white) fills part of
  // the plot.
  const band = await chartPixels(page, 'capacity_curve').count([204, 227, 240], 4);
  assert.ok(band > 300, `${band} pixels of Hebb's band`);
  const plot = await page.evaluate(() => window.playground.plots.get('capacity_curve').handle.plot);
  assert.match(plot.title, /standard error over 4 trials/);
  const csv = await page.evaluate(async () => {
    const { plotToCSV } = await import('./plot-export.js');
    return plotToCSV(window.playground.plots.get('capacity_curve').handle.plot);
  });
  const lines = csv.split('\n');
  assert.equal(lines[0], 'series,P (memories),fraction exact,fraction exact (low),fraction exact (high)');
  const row = lines.find((l) => l.startsWith('Hebb,') && l.split(',')[1] === '8').split(',');
  assert.ok(Number(row[3]) <= Number(row[2]) && Number(row[2]) <= Number(row[4]), row.join(','));
  assert.ok(lines.some((l) => l.startsWith('N / (2 ln N)') && l.endsWith(',,')), 'theory lines have no band');
  // The raster: time across in whole iterations, units up.
  const raster = await option('raster');
  assert.match(raster.x.name, /^time t/);
  assert.equal(raster.x.minInterval, 1);
  assert.equal(raster.y.name, 'unit a');
  // The letters: memory T's top-left cell (+1, ink) is dark, the cell below it (−1, paper) light.
  const [x, y, w, h] = await page.evaluate(() => {
    const chart = window.playground.plots.get('worked_images').handle.chart;
    const images = chart.getZr().storage.getDisplayList().filter((e) => e.type === 'image');
    const first = images.reduce((a, b) => (b.style.x < a.style.x ? b : a));
    const [gx, gy] = first.transformCoordToGlobal(first.style.x, first.style.y);
    return [gx, gy, first.style.width, first.style.height];
  });
  const [ink, paper] = await chartPixels(page, 'worked_images').at([[x + w / 6, y + h / 6], [x + w / 6, y + h / 2]]);
  assert.ok(ink.slice(0, 3).every((v) => v < 60), `+1 drawn ${ink}`);
  assert.ok(paper.slice(0, 3).every((v) => v > 200), `−1 drawn ${paper}`);
  // Between two paper cells (rows 1 and 2 of the first column), a grey grid line.
  const across = await chartPixels(page, 'worked_images').at([-2, -1, 0, 1, 2].map((d) => [x + w / 6, y + (2 * h) / 3 + d]));
  const darkest = Math.min(...across.map((p) => p[0]));
  assert.ok(darkest > 60 && darkest < 200, `grid line ${JSON.stringify(across)}`);
  assert.deepEqual(errors, []);
});

test('the probe letter is chosen by its name', async () => {
  const { page, errors } = await openLab('cpu');
  await page.locator('[name="worked/draw_probe"]').uncheck();
  await page.locator('[name="worked/flips"]').fill('0');
  await page.locator('[name="worked/flips"]').blur();
  await page.locator('[name="worked/probe"]').fill('C');
  await page.locator('[name="worked/probe"]').blur();
  await page.waitForFunction(() => window.playground.state.params.worked.probe === 'C' && !window.playground.state.params.worked.draw_probe);
  await page.waitForFunction(() => window.playground.frame.metrics.some((m) => m.name === 'worked example: recalled memory (index, −1: none)' && m.value === 2), null, { timeout: LONG });
  // A name no letter has is refused at the field, naming the letters.
  await page.locator('[name="worked/probe"]').fill('Q');
  await page.locator('[name="worked/probe"]').blur();
  await page.waitForFunction(() => document.querySelector('.control[data-path="worked/probe"] .field-error')?.textContent.includes('T, U, C'));
  assert.deepEqual(errors, []);
});
