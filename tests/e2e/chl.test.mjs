// End-to-end tests of the contrastive Hebbian learning lab in the built site (dist/): a small run on the shipped
// digits in the page's CPU engine draws every plot (the traced digit, its free and clamped phases before training
// and now, the accuracy curves with the lecture's reference line, the first layer's weights, the per-class bars),
// each output unit in one look across the four phase plots on one y scale; the page's link run by the native CLI
// gives exactly the page's numbers, and the link opened in a fresh page restores the experiment and reproduces
// them; too many Euler steps and a traced digit beyond the test digits are refused at their fields with the
// limit stated; on WebGPU the run trains and tests on the device and gives the CPU engine's accuracies within one
// digit.
//
// Run: node --test tests/e2e/chl.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cliMetrics, frameMetrics, launch, openLab, runOnEngine, serve, waitDrawnToEnd } from './harness.mjs';

const LONG = 240_000;
const SMALL = { train_images: 1000, test_images: 200, epochs: 2, traced: 3 };
const PHASES = ['free_before', 'clamped_before', 'free_now', 'clamped_now'];
const PLOTS = ['digit', ...PHASES, 'accuracy', 'weights', 'per_class'];

let server;
let context;
let gpuContext;

before(async () => {
  buildSite();
  server = await serve(DIST);
  context = await launch({ webgpu: false });
  gpuContext = await launch({ webgpu: true });
});

after(async () => {
  await context?.close();
  await gpuContext?.close();
  await server?.close();
});

const openAt = (path) => openLab(context, `${server.url}/${path}`, { timeout: LONG });
const openWith = (params, backend = 'cpu', ctx = context) => openLab(ctx, `${server.url}/?lab=chl&backend=${backend}`, { params, timeout: LONG });

test('a small run draws every plot, one look per output unit across the phases, and the CLI and the link give the same numbers', async () => {
  const { page, errors } = await openWith(SMALL);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, PLOTS);
  const m = await frameMetrics(page);
  assert.ok(m['test accuracy'] > 40, JSON.stringify(m));
  assert.equal(m['Euler steps per phase'], 20);
  // The four phase plots: the same ten output units in the same colour and mark, one y range.
  const looks = await page.evaluate((ids) => ids.map((id) => {
    const plot = window.playground.plots.get(id).handle.plot;
    return { y: plot.y_range, units: plot.series.filter((s) => s.name.startsWith('output')).map((s) => `${s.name} ${s.color} ${s.mark}`) };
  }), PHASES);
  for (const l of looks) {
    assert.deepEqual(l.y, [0, 1]);
    assert.equal(l.units.length, 10);
    assert.deepEqual(l.units, looks[0].units);
  }
  assert.equal(new Set(looks[0].units.map((u) => u.replace(/^output \d /, ''))).size, 10);
  // The lecture's figure is drawn as a labelled reference line.
  const names = await page.evaluate(() => window.playground.plots.get('accuracy').handle.plot.series.map((s) => s.name));
  assert.ok(names.some((n) => n.includes('0.9675') && n.includes('52,500')), names.join());
  // The CLI on the page's state: exactly the page's numbers (the speeds aside).
  const state = await page.evaluate(() => window.playground.state);
  const fromCli = await cliMetrics(state);
  assert.deepEqual(Object.keys(fromCli).sort(), Object.keys(m).sort());
  const timed = (name) => name.includes('per second') || name.includes('time');
  for (const [name, value] of Object.entries(m)) {
    if (!timed(name)) assert.equal(value, fromCli[name], `${name}: page ${value}, CLI ${fromCli[name]}`);
  }
  // The link restores the experiment in a fresh page and reproduces the run.
  const url = await page.evaluate(() => location.href);
  assert.match(url, /[?&]lab=chl.*#s=/);
  const again = await openAt(url.slice(server.url.length + 1));
  assert.deepEqual(await again.page.evaluate(() => window.playground.state), state);
  await again.page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(again.page, LONG);
  const m2 = await frameMetrics(again.page);
  for (const [name, value] of Object.entries(m)) if (!timed(name)) assert.equal(m2[name], value, name);
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await page.close();
  await again.page.close();
});

test('too many Euler steps and a traced digit beyond the test digits are refused at their fields', async () => {
  const { page, errors } = await openWith({ test_images: 100 });
  await page.locator('[name="dt"]').fill('0.01');
  await page.locator('[name="dt"]').press('Enter');
  await page.waitForFunction(() => document.querySelector('.control[data-path="dt"] .field-error')?.textContent.includes('the limit is 200'), null, { timeout: LONG });
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  await page.locator('[name="dt"]').fill('0.5');
  await page.locator('[name="dt"]').press('Enter');
  await page.locator('[name="traced"]').fill('150');
  await page.locator('[name="traced"]').press('Enter');
  await page.waitForFunction(() => document.querySelector('.control[data-path="traced"] .field-error')?.textContent.includes('0 to 99'), null, { timeout: LONG });
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  await page.locator('[name="traced"]').fill('5');
  await page.locator('[name="traced"]').press('Enter');
  await page.waitForFunction(() => [...document.querySelectorAll('.field-error')].every((e) => !e.textContent)
    && [...document.querySelectorAll('button')].some((b) => b.textContent.trim() === 'Run' && !b.disabled), null, { timeout: LONG });
  assert.deepEqual(errors, []);
  await page.close();
});

test('on WebGPU the run trains on the device and gives the CPU engine\'s accuracies', async (t) => {
  const params = { train_images: 300, test_images: 100, epochs: 2, rate: 0.05, traced: 3 };
  const results = {};
  for (const backend of ['gpu', 'cpu']) {
    const { page, errors } = await openWith(params, backend, backend === 'gpu' ? gpuContext : context);
    results[backend] = await runOnEngine(page, errors, backend, PLOTS, LONG);
  }
  // The twins agree within 2e-6 per weight after a few batches (tests/chl_gpu.rs); over two epochs a digit near
  // a tie may fall the other way, so the accuracies may differ by one digit (1 % of the test digits, 1/3 % of the
  // training digits).
  t.diagnostic(JSON.stringify(results));
  assert.ok(results.cpu['test accuracy'] > 30, JSON.stringify(results.cpu));
  for (const name of ['test accuracy', 'training accuracy', 'Euler steps per phase']) {
    const [gpu, cpu] = [results.gpu[name], results.cpu[name]];
    assert.ok(Math.abs(gpu - cpu) <= 1.0 + 1e-9, `${name}: GPU ${gpu}, CPU ${cpu}`);
  }
});
