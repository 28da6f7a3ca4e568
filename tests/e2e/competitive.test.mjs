// End-to-end tests of the competitive-learning lab in the built site (dist/): the worked example's tables show
// the lecture's numbers (TC-06), every plot draws, the blobs' centroids land on the blob centres, the page's link
// run by the native CLI gives the page's numbers exactly, and a refused field says its limit; on WebGPU the run
// trains on the device, draws every plot and gives the CPU engine's figures.
//
// Run: node --test tests/e2e/competitive.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cli, cliMetrics, frameMetrics, launch, openLab, runOnEngine, serve, waitDrawnToEnd } from './harness.mjs';

const LONG = 120_000;
const PLOTS = ['worked_before', 'worked_updates', 'blobs_distance', 'blobs_activation', 'blob_error', 'dead_map', 'dead_error', 'dead_wins', 'digits_centroids', 'digits_units', 'digits_error'];

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

test('the worked tables, the blobs, dead units and digits; the link gives the CLI numbers', async () => {
  // Fewer digits and epochs than the default (0.9 s natively, seconds here), with the conscience (its curve is
  // pink; plain winner-take-all's black has no colour for the drawn-pixel count): the same cells.
  const { digits } = cli(['state', 'competitive']).params;
  const params = { digits: { ...digits, digits: 2000, epochs: 2, remedy: 'conscience' } };
  const { page, errors } = await openLab(context, `${server.url}/?lab=competitive&backend=cpu`, { params, view: { speed: 0 }, timeout: LONG });
  const before = await page.evaluate(() => window.playground.plots.get('worked_before').handle.plot);
  assert.deepEqual(before.rows.map((r) => r.slice(1, 5)), [['1.29', '0.33', '0.1414', '1.2207'], ['0.32', '0.76', '1.1662', '0.1732']]);
  const updates = await page.evaluate(() => window.playground.plots.get('worked_updates').handle.plot);
  assert.deepEqual(updates.rows[2].slice(1), ['(0.75,0.10,0.85)', '(0.15,0.85,0.15)', '1.375, 0.34', '0.335, 0.81']);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, PLOTS);
  const m = await frameMetrics(page);
  assert.ok(m['blobs, plain WTA: farthest centre from its nearest centroid'] < 0.1, JSON.stringify(m));
  assert.equal(m['dead units, plain WTA: dead units'], 3, JSON.stringify(m));
  const native = await cliMetrics(await page.evaluate(() => window.playground.state));
  for (const [name, value] of Object.entries(m)) {
    if (!name.includes('per second') && !name.includes('time')) assert.equal(native[name], value, name);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('more shipped digits than there are is refused next to its field with the limit stated', async () => {
  const { page, errors } = await openLab(context, `${server.url}/?lab=competitive&backend=cpu`, { timeout: LONG });
  await page.locator('[name="digits/digits"]').fill('9000');
  await page.locator('[name="digits/digits"]').blur();
  await page.waitForFunction(() => document.querySelector('.control[data-path="digits/digits"] .field-error')?.textContent.includes('8000'));
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(errors, []);
  await page.close();
});

test('on WebGPU the run trains on the device and gives the CPU engine\'s figures', async (t) => {
  // Four blob epochs, 1,000 digits with leaky learning (every unit moves on every digit).
  const { blobs, digits } = cli(['state', 'competitive']).params;
  const params = { blobs: { ...blobs, epochs: 4 }, digits: { ...digits, digits: 1000, epochs: 2, remedy: 'leaky' } };
  const results = {};
  for (const backend of ['gpu', 'cpu']) {
    const { page, errors } = await openLab(backend === 'gpu' ? gpuContext : context, `${server.url}/?lab=competitive&backend=${backend}`, { params, view: { speed: 0 }, timeout: LONG });
    results[backend] = await runOnEngine(page, errors, backend, PLOTS, LONG);
  }
  // The kernel performs the CPU's float operations in the CPU's order (tests/competitive_gpu.rs): on SwiftShader
  // too every figure is equal.
  t.diagnostic(JSON.stringify(results));
  for (const [name, cpu] of Object.entries(results.cpu)) {
    if (!name.includes('per second') && !name.includes('time')) assert.equal(results.gpu[name], cpu, name);
  }
});
