// End-to-end tests of the Hebbian-CNN lab in the built site (dist/): a small comparison (SoftHebb, hard-WTA +
// surround, random filters) runs on the shipped digits in the page's CPU engine, draws the filters, the
// per-layer norms, the probe's accuracy and the confusion matrices; the page's link run by the native CLI gives
// the same numbers within float rounding; a run pauses and resumes where it was; an impossible width is refused at its field.
//
// Run: node --test tests/e2e/hebbconv.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, assertPlotsDrawn, buildSite, cli, launch, serve, watchConsole } from './harness.mjs';

const LONG = 240_000;
const SMALL = {
  width_div: 16,
  train_images: 256,
  test_images: 200,
  probe_epochs: 10,
  second: { kind: 'compare', rule: 'hard_wta', surround: true },
};
const PLOTS = ['filters_1', 'filters_2', 'norms_1', 'norms_2', 'norms_3', 'probe', 'confusion_1', 'confusion_2'];

let server;
let context;
let gpuContext;
let tmp;

before(async () => {
  buildSite();
  tmp = await mkdtemp(join(tmpdir(), 'hebbian-hebbconv-'));
  server = await serve(DIST);
  context = await launch({ webgpu: false });
  gpuContext = await launch({ webgpu: true });
});

after(async () => {
  await context?.close();
  await gpuContext?.close();
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function openWith(params, backend = 'cpu', ctx = context) {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  const errors = watchConsole(page);
  await page.goto(`${server.url}/?lab=hebbconv&backend=${backend}`);
  const idleAtZero = () => page.waitForFunction(() => {
    const p = window.playground;
    return p?.frame && p.frame.step === 0 && !p.running && document.getElementById('app').dataset.drawnStep === '0';
  }, null, { timeout: LONG });
  await idleAtZero();
  await page.evaluate((params) => {
    const p = window.playground;
    p.commit({ ...p.state, params: { ...p.state.params, ...params } });
  }, params);
  await idleAtZero();
  return { page, errors };
}

const metrics = (page) => page.evaluate(() => Object.fromEntries(window.playground.frame.metrics.map((m) => [m.name, m.value])));

test('a comparison draws every plot, pauses and resumes, and the CLI gives its numbers within float rounding', async () => {
  const { page, errors } = await openWith(SMALL);
  const run = page.getByRole('button', { name: 'Run', exact: true });
  await run.click();
  // Pause mid-way: the step stays put while paused, then the run resumes from it.
  await page.waitForFunction(() => window.playground.frame.step >= 10, null, { timeout: LONG });
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await page.waitForFunction(() => !window.playground.running, null, { timeout: LONG });
  const paused = await page.evaluate(() => window.playground.frame.step);
  await page.waitForTimeout(500);
  assert.equal(await page.evaluate(() => window.playground.frame.step), paused);
  await run.click();
  await page.waitForFunction(() => {
    const p = window.playground;
    return p.frame.done && !p.running && document.getElementById('app').dataset.drawnStep === String(p.frame.total);
  }, null, { timeout: LONG });
  await assertPlotsDrawn(page, PLOTS);
  const m = await metrics(page);
  assert.ok(m['test accuracy, SoftHebb'] > 60, JSON.stringify(m));
  assert.ok(m['test accuracy, hard-WTA + surround'] > 20, JSON.stringify(m));
  assert.ok(m['test accuracy, random filters'] > 20, JSON.stringify(m));
  // The filters are 5 × 5 grey images, one per first-layer neuron; the confusion matrices count every test image.
  const filters = await page.evaluate(() => window.playground.plots.get('filters_1').handle.plot);
  assert.equal(filters.images.length, 6);
  assert.equal(filters.width, 5);
  const confusion = await page.evaluate(() => window.playground.plots.get('confusion_1').handle.plot.heatmap.values);
  assert.equal(confusion.reduce((a, b) => a + b, 0), 200);
  // The same state in the native CLI: the same numbers within float rounding. (Natively the GEMMs run faer's
  // SIMD kernels, in wasm its scalar ones: sums in another order. A network without competition amplifies
  // those differences; a competing one does not.)
  const state = await page.evaluate(() => window.playground.state);
  const file = join(tmp, 'state.json');
  await writeFile(file, JSON.stringify(state));
  const report = cli(['run', file, '--backend', 'cpu']);
  const fromCli = Object.fromEntries(report.metrics.map((x) => [x.name, x.value]));
  for (const name of ['test accuracy, SoftHebb', 'test accuracy, random filters']) {
    assert.ok(Math.abs(fromCli[name] - m[name]) <= 2, `${name}: CLI ${fromCli[name]}, page ${m[name]}`);
  }
  assert.deepEqual(Object.keys(fromCli).sort(), Object.keys(m).sort());
  assert.deepEqual(errors, []);
  await page.close();
});

test('on WebGPU the networks train on the device and give the CPU engine\'s numbers', async () => {
  const tiny = { width_div: 16, train_images: 64, test_images: 48, probe_epochs: 2, second: { kind: 'compare', rule: 'bcm', surround: false } };
  const results = {};
  for (const backend of ['gpu', 'cpu']) {
    const { page, errors } = await openWith(tiny, backend, backend === 'gpu' ? gpuContext : context);
    assert.equal(await page.evaluate(() => window.playground.engine.kind), backend);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForFunction(() => {
      const p = window.playground;
      return p.frame.done && !p.running && document.getElementById('app').dataset.drawnStep === String(p.frame.total);
    }, null, { timeout: LONG });
    await assertPlotsDrawn(page, ['filters_1', 'norms_1', 'probe', 'confusion_1']);
    results[backend] = await metrics(page);
    if (backend === 'gpu') {
      // BCM is not on the GPU yet: said in the page, and that network runs on the CPU.
      await page.locator('text=BCM competition does not run on the GPU yet').first().waitFor({ timeout: LONG });
    }
    assert.deepEqual(errors, []);
    await page.close();
  }
  for (const [name, cpu] of Object.entries(results.cpu)) {
    if (name.startsWith('images per second')) continue;
    const gpu = results.gpu[name];
    const tol = name.startsWith('test accuracy') ? 5 : name.startsWith('layer') ? 1e-3 * Math.abs(cpu) : 0.1 * Math.abs(cpu) + 0.05;
    assert.ok(Math.abs(gpu - cpu) <= tol, `${name}: GPU ${gpu}, CPU ${cpu}`);
  }
});

test('a width divisor out of range is refused at its field with its limit', async () => {
  const { page, errors } = await openWith({ arch: 'd', width_div: 16 });
  await page.locator('[name="width_div"]').fill('500');
  await page.locator('[name="width_div"]').blur();
  await page.waitForFunction(() => document.querySelector('.control[data-path="width_div"] .field-error')?.textContent.includes('96'));
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(errors, []);
  await page.close();
});
