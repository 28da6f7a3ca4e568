// End-to-end tests of the RBM lab in the built site (dist/): the toy model's table, conditionals and free-energy
// identity give the lecture's numbers; a small run of CD-1, CD-k and persistent CD side by side on the shipped
// digits in the page's CPU engine draws every plot with one colour per variant across them, and the native CLI
// run of the page's link gives exactly the page's numbers; impossible combinations are refused at their field;
// on WebGPU every variant trains on the device and gives the CPU engine's numbers within the twins' tolerance.
//
// Run: node --test tests/e2e/rbm.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cliMetrics, frameMetrics, launch, openLab, serve, waitDrawnToEnd } from './harness.mjs';

const LONG = 240_000;
const SMALL = {
  digits: 40, held_out: 20, hidden: 30, epochs: 4, k: 2, lr: 0.05, sweeps: 20,
  ais: { runs: 4, temperatures: 20, points: 2 },
  dbn: { layer1: 20, layer2: 10, layer3: 0, digits: 200, epochs: 2, lr: 0.1, momentum: 0.5, readout_epochs: 3 },
};
const PLOTS = ['toy_table', 'toy_conditionals', 'toy_free_energy', 'recon', 'loglik', 'filters',
  'activations', 'samples', 'reconstruction', 'dbn'];

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

const openWith = (params, backend = 'cpu', ctx = context) => openLab(ctx, `${server.url}/?lab=rbm&backend=${backend}`, { params, timeout: LONG });

test('the toy model and every variant draw every plot, one colour per variant, and the CLI gives the page\'s numbers', async () => {
  const { page, errors } = await openWith(SMALL);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, PLOTS);
  const m = await frameMetrics(page);
  // The lecture's toy model (TC-13): Z = 57.684, p(h1=1|v=001) = 0.598688, p(v1=1|h=01) = 0.574443, both ways.
  assert.ok(Math.abs(m['toy model: Z'] - 57.684) < 1e-3, JSON.stringify(m));
  for (const how of ['enumerated', 'σ(·)']) {
    assert.ok(Math.abs(m[`toy model: p(h₁=1 | v=001), ${how}`] - 0.598688) < 1e-5);
    assert.ok(Math.abs(m[`toy model: p(v₁=1 | h=01), ${how}`] - 0.574443) < 1e-5);
  }
  // The full state table, with the lecture's worked state E([1,0,1], [0,1]) = −0.3, p = 0.023, and the row its
  // table leaves out (v = 101, h = 10).
  const table = await page.evaluate(() => window.playground.plots.get('toy_table').handle.plot);
  assert.equal(table.rows.length, 32);
  assert.deepEqual(table.rows[21], ['101', '01', '-0.30', '1.3499', '0.0234']);
  assert.deepEqual(table.rows[22].slice(0, 4), ['101', '10', '-0.50', '1.6487']);
  // Training moved every variant's likelihood above the untrained model's (near −784 ln 2 = −543).
  for (const v of ['CD-1', 'CD-2', 'persistent CD']) assert.ok(m[`log p of training digits (AIS), ${v}`] > -500, `${v}: ${JSON.stringify(m)}`);
  // One colour per variant across the curves and the histogram.
  const colours = await page.evaluate(() => {
    const plot = (id) => window.playground.plots.get(id).handle.plot;
    const out = {};
    const add = (name, colour) => { (out[name] ??= new Set()).add(colour); };
    for (const s of plot('recon').series) add(s.name, s.color);
    for (const s of plot('loglik').series) if (!s.name.startsWith('uniform')) add(s.name.replace(/, (training|held-out)$/, ''), s.color);
    for (const s of plot('activations').series) add(s.name, s.color);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v]]));
  });
  assert.deepEqual(Object.keys(colours).sort(), ['CD-1', 'CD-2', 'persistent CD']);
  for (const [name, c] of Object.entries(colours)) assert.equal(c.length, 1, `${name}: ${c}`);
  assert.equal(new Set(Object.values(colours).map((c) => c[0])).size, 3);
  const filters = await page.evaluate(() => window.playground.plots.get('filters').handle.plot);
  assert.equal(filters.images.length, 30);
  const range = filters.value_range;
  assert.equal(range[0], -range[1]);
  // The CLI on the page's state: exactly the page's numbers (the speeds aside).
  const fromCli = await cliMetrics(await page.evaluate(() => window.playground.state));
  assert.deepEqual(Object.keys(fromCli).sort(), Object.keys(m).sort());
  for (const [name, value] of Object.entries(m)) {
    if (name.includes('per second')) continue;
    const tol = 1e-6 * Math.max(1, Math.abs(value ?? 0));
    assert.ok(value === fromCli[name] || Math.abs(value - fromCli[name]) <= tol, `${name}: page ${value}, CLI ${fromCli[name]}`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('impossible combinations are refused at their field with the limit stated', async () => {
  const { page, errors } = await openWith(SMALL);
  await page.locator('[name="variants/cd1"]').uncheck();
  await page.waitForFunction(() => document.querySelector('.control[data-path="pictures"] .field-error')?.textContent.includes('does not train'), null, { timeout: LONG });
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(errors, []);
  await page.close();
});

test('on WebGPU every variant trains on the device and gives the CPU engine\'s numbers', async () => {
  const results = {};
  for (const backend of ['gpu', 'cpu']) {
    const { page, errors } = await openWith(SMALL, backend, backend === 'gpu' ? gpuContext : context);
    assert.equal(await page.evaluate(() => window.playground.engine.kind), backend);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await waitDrawnToEnd(page, LONG);
    await assertPlotsDrawn(page, ['recon', 'loglik', 'filters']);
    results[backend] = await frameMetrics(page);
    assert.deepEqual(errors, []);
    await page.close();
  }
  // The twins agree within 2e-5 per weight over a few updates, and the draws are the same Philox counters; a
  // sample flipped by a last-bit difference moves a few numbers by a little, so the tolerance is relative.
  for (const [name, cpu] of Object.entries(results.cpu)) {
    if (name.includes('per second')) continue;
    const gpu = results.gpu[name];
    const tol = name.includes('accuracy') ? 2 : 2e-2 * Math.abs(cpu) + 1e-3;
    assert.ok(Math.abs(gpu - cpu) <= tol, `${name}: GPU ${gpu}, CPU ${cpu}`);
  }
});
