// End-to-end tests of the self-organising-map lab in the built site (dist/): the neighbourhood table gives the
// lecture's counts (16 neighbours of unit 11 at k = 2 on 10 × 10; 441 and 1681 at k = 20 on 50 × 50: TC-14), every
// plot draws, setosa's winners share no unit with the other species', and the page's link run by the native CLI
// gives the page's numbers exactly; on WebGPU both maps train on the device, every plot draws and the figures are
// the CPU engine's.
//
// Run: node --test tests/e2e/som.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cliMetrics, frameMetrics, launch, openLab, runOnEngine, serve, waitDrawnToEnd } from './harness.mjs';

const LONG = 120_000;
const PLOTS = ['hood_box', 'hood_gauss', 'hood_counts', 'schedule', 'errors', 'te', 'umatrix_lecture', 'umatrix_gaussian', 'hits_lecture', 'hits_gaussian', 'planes_lecture', 'planes_gaussian'];

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

test('the neighbourhood counts, a trained Iris map, setosa apart; the link gives the CLI numbers', async () => {
  const { page, errors } = await openLab(context, `${server.url}/?lab=som&backend=cpu`, { params: { epochs: 100 }, view: { speed: 50 }, timeout: LONG });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, PLOTS);
  const table = await page.evaluate(() => window.playground.plots.get('hood_counts').handle.plot);
  assert.deepEqual(table.rows.map((r) => r[4]), ['16', '9', '25', '441', '1681']);
  const m = await frameMetrics(page);
  assert.equal(m['units shared by setosa and others, lecture\'s box'], 0, JSON.stringify(m));
  assert.equal(m['units shared by setosa and others, Gaussian'], 0, JSON.stringify(m));
  assert.equal(m['box radius 0 after epoch'], 58);
  const native = await cliMetrics(await page.evaluate(() => window.playground.state));
  for (const [name, value] of Object.entries(m)) if (!name.includes('per second')) assert.equal(native[name], value, name);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a winner outside the map is refused next to its field with the limit stated', async () => {
  const { page, errors } = await openLab(context, `${server.url}/?lab=som&backend=cpu`, { timeout: LONG });
  await page.locator('[name="neighbourhood/row"]').fill('12');
  await page.locator('[name="neighbourhood/row"]').blur();
  await page.waitForFunction(() => document.querySelector('.control[data-path="neighbourhood/row"] .field-error')?.textContent.includes('0 to 9'));
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(errors, []);
  await page.close();
});

test('on WebGPU both maps train on the device and give the CPU engine\'s figures', async (t) => {
  const params = { rows: 12, cols: 12, epochs: 20, radius: 6 };
  const results = {};
  for (const backend of ['gpu', 'cpu']) {
    const ctx = backend === 'gpu' ? gpuContext : context;
    const { page, errors } = await openLab(ctx, `${server.url}/?lab=som&backend=${backend}`, { params, timeout: LONG });
    results[backend] = await runOnEngine(page, errors, backend, PLOTS, LONG);
  }
  // The twins give the same winners and the weights within an ulp (tests/som_gpu.rs): the figures agree to 1e-4.
  t.diagnostic(JSON.stringify(results));
  for (const [name, cpu] of Object.entries(results.cpu)) {
    if (name.includes('per second')) continue;
    const gpu = results.gpu[name];
    assert.ok(Math.abs(gpu - cpu) <= 1e-4 * (1 + Math.abs(cpu)), `${name}: GPU ${gpu}, CPU ${cpu}`);
  }
});
