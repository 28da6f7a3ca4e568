// End-to-end tests of the Hebb's-rule lab in the built site (dist/): the worked examples show the lecture's numbers
// (TC-01 scores 12, −12, 8, −4; TC-02 scores and softmax; TC-04's max |W − X|), clicking a test letter's cell
// changes its score, every plot draws, the MNIST prototypes reach the lecture's ballpark, the page's link run by
// the native CLI gives the page's numbers exactly, and a field past its limit is refused next to it; on WebGPU the
// prototypes train on the device, every plot draws and the accuracies equal the CPU engine's.
//
// Run: node --test tests/e2e/hebbrule.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cliMetrics, frameMetrics, launch, openLab, runOnEngine, serve, waitDrawnToEnd } from './harness.mjs';

const LONG = 120_000;
const PLOTS = ['tu_w1', 'tu_w2', 'tu_table', 'tuc_table', 'tuc_norms', 'tuc_weights', 'tuc_compare', 'tuc_normalised',
  'decay_weights', 'decay_table', 'running_mean', 'geometry', 'accuracy', 'prototypes', 'per_class', 'predicted'];

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

// A plot as drawn (the page draws one chart per display frame: wait for this one).
async function plot(page, id) {
  await page.waitForFunction((id) => window.playground.plots.get(id)?.handle, id, { timeout: LONG });
  return page.evaluate((id) => window.playground.plots.get(id).handle.plot, id);
}

test('the lecture\'s letters, an edited test letter, MNIST prototypes; the link gives the CLI numbers', async () => {
  const { page, errors } = await openLab(context, `${server.url}/?lab=hebbrule&backend=cpu`, { params: { epochs: 5 }, timeout: LONG });
  const tu = await plot(page, 'tu_table');
  assert.deepEqual(tu.rows.map((r) => Number(r[1])), [12, -12, 8, -4]);
  assert.match(tu.title, /w = \[0, 2, 0, -2, 2, -2, -2, 0, -2\]/);
  const tuc = await plot(page, 'tuc_table');
  assert.deepEqual(tuc.rows.map((r) => r[1]), ['4, 3, 3', '3, 4, 5', '3, 5, 4']);
  assert.deepEqual(tuc.rows.map((r) => r[2]), ['0.58 0.21 0.21', '0.09 0.24 0.67', '0.09 0.67 0.24']);
  const decay = await plot(page, 'decay_table');
  assert.match(decay.title, /2\.6\d\de-5/);
  // Click the centre of the first test letter (T′): its weight is 2, so its score drops from 8 to 4.
  const grid = page.locator('.pattern-editor[data-path="bipolar/probes"] .pattern-grid[data-pattern="0"]');
  await grid.scrollIntoViewIfNeeded();
  const box = await grid.boundingBox();
  assert.ok(box);
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction(() => window.playground.state.params.bipolar.probes[0].cells === '#.#....#.');
  await page.waitForFunction(() => window.playground.frame.metrics.some((m) => m.name === 'T vs U: w·x + b of T′' && m.value === 4));
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, PLOTS);
  const m = await frameMetrics(page);
  const dot = m['MNIST test accuracy, dot product'];
  assert.ok(dot > 55 && dot < 72, JSON.stringify(m));
  assert.ok(m['MNIST test accuracy, nearest prototype'] > dot, JSON.stringify(m));
  const native = await cliMetrics(await page.evaluate(() => window.playground.state));
  for (const [name, value] of Object.entries(m)) {
    if (!name.includes('per second') && !name.includes('time')) assert.equal(native[name], value, name);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('too many epochs are refused next to their field with the limit stated', async () => {
  const { page, errors } = await openLab(context, `${server.url}/?lab=hebbrule&backend=cpu`, { timeout: LONG });
  await page.locator('[name="epochs"]').fill('600');
  await page.locator('[name="epochs"]').blur();
  await page.waitForFunction(() => document.querySelector('.control[data-path="epochs"] .field-error')?.textContent.includes('500'));
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(errors, []);
  await page.close();
});

test('on WebGPU the prototypes train on the device and give the CPU engine\'s accuracies', async (t) => {
  const params = { train_images: 2000, test_images: 500, epochs: 3, rate: 0.05 };
  const results = {};
  for (const backend of ['gpu', 'cpu']) {
    const { page, errors } = await openLab(backend === 'gpu' ? gpuContext : context, `${server.url}/?lab=hebbrule&backend=${backend}`, { params, timeout: LONG });
    results[backend] = await runOnEngine(page, errors, backend, PLOTS, LONG);
  }
  // The kernel performs the CPU's float operations on each weight in the CPU's order (tests/hebbrule_gpu.rs): on
  // SwiftShader too the accuracies are equal.
  t.diagnostic(JSON.stringify(results));
  assert.ok(results.cpu['MNIST test accuracy, nearest prototype'] > 50, JSON.stringify(results.cpu));
  for (const name of ['MNIST test accuracy, dot product', 'MNIST test accuracy, nearest prototype']) {
    assert.equal(results.gpu[name], results.cpu[name], name);
  }
});
