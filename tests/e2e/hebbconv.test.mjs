// End-to-end tests of the Hebbian-CNN lab in the built site (dist/): a small comparison (SoftHebb, hard-WTA +
// surround, random filters) runs on the shipped digits in the page's CPU engine, draws the filters, the
// per-layer norms, the probe's accuracy and the confusion matrices; the page's link run by the native CLI gives
// the same numbers within float rounding; a run pauses and resumes where it was; natural-image patches train
// from the shipped photographs; pre-synaptic competition and Dale's principle are chosen per network (and
// refused together); an impossible width is refused at its field.
//
// Run: node --test tests/e2e/hebbconv.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, assertPlotsDrawn, buildSite, cli, cliMetrics, frameMetrics, launch, openLab, serve, watchConsole, waitDrawnToEnd } from './harness.mjs';

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

const openWith = (params, backend = 'cpu', ctx = context) => openLab(ctx, `${server.url}/?lab=hebbconv&backend=${backend}`, { params, timeout: LONG });
const metrics = frameMetrics;

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
  await waitDrawnToEnd(page, LONG);
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
  const fromCli = await cliMetrics(await page.evaluate(() => window.playground.state));
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
    await waitDrawnToEnd(page, LONG);
    await assertPlotsDrawn(page, ['filters_1', 'norms_1', 'probe', 'confusion_1']);
    results[backend] = await metrics(page);
    // Every network, BCM's included, trained on the device: no notice of one left on the CPU.
    assert.equal(await page.locator('text=does not run on the GPU').count(), 0);
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

test('weights saved mid-epoch load back in a fresh page and in the CLI, and the run ends with the numbers of the one never stopped', async () => {
  const tiny = { width_div: 16, train_images: 64, test_images: 48, batch: 16, probe_epochs: 2 };
  const { page, errors } = await openWith(tiny);
  const message = (text) => page.locator('#messages .message', { hasText: text }).first().waitFor({ timeout: LONG });
  const button = (name) => page.getByRole('button', { name, exact: true });
  await button('Save weights').click();
  await message('Nothing has been learnt yet');
  // One network batch per frame, paused inside the unsupervised epoch.
  await page.evaluate(() => { const p = window.playground; p.commit({ ...p.state, view: { ...p.state.view, speed: 1 } }); });
  await page.waitForFunction(() => !window.playground.running && window.playground.frame.step === 0, null, { timeout: LONG });
  await button('Run').click();
  // Pause from inside the page the moment step 3 is drawn: a click from here arrives after a round trip that a
  // loaded machine stretched past the epoch's last batch (the test once paused at 14).
  await page.evaluate(async () => {
    while (window.playground.frame.step < 3) await new Promise((r) => setTimeout(r, 5));
    [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Pause').click();
  });
  await page.waitForFunction(() => !window.playground.running, null, { timeout: LONG });
  const step = await page.evaluate(() => window.playground.frame.step);
  const learnSteps = 4 * 3; // 4 batches of 16 images; SoftHebb, no competition and the random floor
  assert.ok(step < learnSteps, `paused at ${step}`);
  const [download] = await Promise.all([page.waitForEvent('download'), button('Save weights').click()]);
  assert.equal(download.suggestedFilename(), `hebbconv-seed1-step${step}.safetensors`);
  const file = join(tmp, download.suggestedFilename());
  await download.saveAs(file);
  await message('Weights saved as');
  const state = await page.evaluate(() => window.playground.state);
  await button('Run').click();
  await page.waitForFunction(() => window.playground.frame.done && !window.playground.running, null, { timeout: LONG });
  const uninterrupted = await metrics(page);
  assert.deepEqual(errors, []);
  await page.close();

  // A fresh page with other settings: the file brings back its experiment and resumes at its step.
  const fresh = await openWith({ width_div: 8 });
  await fresh.page.locator('input[name="checkpoint-file"]').setInputFiles(file);
  await fresh.page.waitForFunction((s) => window.playground.frame?.step === s && !window.playground.running, step, { timeout: LONG });
  await fresh.page.locator('#messages .message', { hasText: `Resumed from ${download.suggestedFilename()}` }).waitFor({ timeout: LONG });
  assert.deepEqual(await fresh.page.evaluate(() => window.playground.state), state);
  assert.equal(await fresh.page.locator('[name="width_div"]').inputValue(), '16');
  assert.match(await fresh.page.locator('.progress-text').textContent(), new RegExp(`^network batch ${step} / `));
  await assertPlotsDrawn(fresh.page, ['filters_1', 'norms_1']);
  await fresh.page.getByRole('button', { name: 'Run', exact: true }).click();
  await fresh.page.waitForFunction(() => window.playground.frame.done && !window.playground.running, null, { timeout: LONG });
  const resumed = await metrics(fresh.page);
  for (const [name, value] of Object.entries(uninterrupted)) {
    if (!name.startsWith('images per second')) assert.equal(resumed[name], value, name);
  }
  // The CLI resumes from the same file (native sums in another order: within float rounding, as above).
  const fromCli = Object.fromEntries(cli(['run', file, '--backend', 'cpu']).metrics.map((x) => [x.name, x.value]));
  assert.deepEqual(Object.keys(fromCli).sort(), Object.keys(uninterrupted).sort());
  assert.ok(Math.abs(fromCli['test accuracy, SoftHebb'] - uninterrupted['test accuracy, SoftHebb']) <= 5, JSON.stringify(fromCli));

  // A file that is not a checkpoint says so where the student looks, and the experiment stays.
  await fresh.page.locator('input[name="checkpoint-file"]').setInputFiles({ name: 'notes.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not weights') });
  await fresh.page.locator('#messages .message.error', { hasText: 'notes.safetensors could not be loaded: this file is not a Hebbian Playground checkpoint' }).waitFor({ timeout: LONG });
  assert.deepEqual(await fresh.page.evaluate(() => window.playground.state), state);
  assert.deepEqual(fresh.errors, []);
  await fresh.page.close();
});

test('a paused run is kept in the browser: reopening its link offers to resume, and resumes where it was', async () => {
  const tiny = { width_div: 16, train_images: 64, test_images: 48, batch: 16, probe_epochs: 1, random_floor: false };
  const { page, errors } = await openWith(tiny);
  await page.evaluate(() => { const p = window.playground; p.commit({ ...p.state, view: { ...p.state.view, speed: 1 } }); });
  await page.waitForFunction(() => !window.playground.running && window.playground.frame.step === 0, null, { timeout: LONG });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => window.playground.frame.step >= 3, null, { timeout: LONG });
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await page.waitForFunction(() => !window.playground.running, null, { timeout: LONG });
  const step = await page.evaluate(() => window.playground.frame.step);
  // The pause kept the checkpoint in IndexedDB.
  const keptStep = () => page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('hebbian-playground', 2);
    open.onsuccess = () => {
      const get = open.result.transaction('checkpoints').objectStore('checkpoints').get('hebbconv');
      get.onsuccess = () => { resolve(get.result ? get.result.step : null); open.result.close(); };
      get.onerror = () => resolve(null);
    };
    open.onerror = () => resolve(null);
  }));
  for (let i = 0; i < 100 && (await keptStep()) !== step; i++) await page.waitForTimeout(100);
  assert.equal(await keptStep(), step);
  // The tab closes; the link opens again later.
  const url = page.url();
  await page.close();
  const again = await context.newPage();
  const againErrors = watchConsole(again);
  await again.goto(url);
  const question = again.locator('.runbar .question', { hasText: 'This browser kept the weights of this experiment' });
  await question.waitFor({ timeout: LONG });
  assert.match(await question.textContent(), new RegExp(`${step} network batches of 22`));
  await question.getByRole('button', { name: 'Resume' }).click();
  await again.waitForFunction((s) => window.playground.frame?.step === s && !window.playground.running, step, { timeout: LONG });
  await again.locator('#messages .message', { hasText: 'Resumed from the weights kept in this browser' }).waitFor({ timeout: LONG });
  assert.deepEqual([...errors, ...againErrors], []);
  await again.close();
});

/** `n` CIFAR-10 records: label i % 10, then a pattern of stripes whose direction and colour follow the label. */
function cifarRecords(n) {
  const out = Buffer.alloc(n * 3073);
  for (let i = 0; i < n; i++) {
    const l = i % 10;
    out[i * 3073] = l;
    for (let k = 0; k < 1024; k++) {
      const [r, c] = [Math.floor(k / 32), k % 32];
      out[i * 3073 + 1 + (l % 3) * 1024 + k] = ((l < 5 ? r : c) + l) % 4 < 2 ? 250 : 10;
    }
  }
  return out;
}

test('choosing your own CIFAR-10 files asks for them in the data panel, then trains on them', async () => {
  const train = join(tmp, 'data_batch_1.bin');
  const testFile = join(tmp, 'test_batch.bin');
  await writeFile(train, cifarRecords(40));
  await writeFile(testFile, cifarRecords(20));
  const { page, errors } = await openWith({ width_div: 16, train_images: 32, test_images: 20, probe_epochs: 1, random_floor: false, second: { kind: 'off', rule: 'none', surround: false } });
  await page.locator('[name="images"]').selectOption('user_cifar10');
  await page.locator('.data-panel', { hasText: 'This experiment reads your own CIFAR-10' }).waitFor({ timeout: LONG });
  assert.equal(await page.locator('select[name="data-format"]').inputValue(), 'cifar10');
  await page.locator('input[name="data-files"]').setInputFiles([train, testFile]);
  await page.waitForFunction(() => window.playground.frame?.step === 0 && window.playground.hasRun, null, { timeout: LONG });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => window.playground.frame.done && !window.playground.running, null, { timeout: LONG });
  const filters = await page.evaluate(() => window.playground.plots.get('filters_1').handle.plot);
  assert.equal(filters.channels, 3, 'colour filters on colour images');
  const m = await metrics(page);
  assert.ok(Number.isFinite(m['test accuracy, SoftHebb']), JSON.stringify(m));
  assert.deepEqual(errors, []);
  await page.close();
});

test('natural-image patches load the shipped photographs, train the networks and probe the 7 photographs', async () => {
  const { page, errors } = await openWith({ width_div: 16, train_images: 96, test_images: 70, probe_epochs: 2, second: { kind: 'off', rule: 'none', surround: false } });
  await page.locator('[name="images"]').selectOption('photos');
  await page.waitForFunction(() => window.playground.state.params.images === 'photos' && window.playground.frame?.step === 0 && window.playground.hasRun, null, { timeout: LONG });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, ['filters_1', 'norms_1', 'probe', 'confusion_1']);
  assert.ok(await page.evaluate(() => JSON.stringify(window.playground.plots.get('probe').handle.plot).includes('chance (1 in 7)')));
  const m = await metrics(page);
  assert.ok(m['test accuracy, SoftHebb'] > 100 / 7, JSON.stringify(m));
  assert.deepEqual(errors, []);
  await page.close();
});

test('pre-synaptic competition and Dale\'s principle are chosen per network in the controls, named in the results, and refused together', async () => {
  const { page, errors } = await openWith({ width_div: 16, train_images: 64, test_images: 48, probe_epochs: 1, random_floor: false, rule: 'hard_wta', second: { kind: 'compare', rule: 'hard_wta', surround: false } });
  await page.locator('[name="second/pre_synaptic"]').selectOption('output_channels');
  await page.waitForFunction(() => window.playground.state.params.second.pre_synaptic === 'output_channels' && window.playground.hasRun && !window.playground.running, null, { timeout: LONG });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, ['filters_1', 'filters_2', 'confusion_1', 'confusion_2']);
  const m = await metrics(page);
  assert.ok(Number.isFinite(m['test accuracy, hard-WTA']), JSON.stringify(m));
  assert.ok(Number.isFinite(m['test accuracy, hard-WTA + pre-synaptic (output channels)']), JSON.stringify(m));
  // Dale's principle feeds |w| forward: with pre-synaptic competition on the same network it is refused there.
  await page.locator('[name="second/dale"]').check();
  await page.waitForFunction(() => document.querySelector('.control[data-path="second/pre_synaptic"] .field-error')?.textContent.includes('Dale'), null, { timeout: LONG });
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(errors, []);
  await page.close();
});

test('a width divisor out of range is refused at its field with its limit', async () => {
  const { page, errors } = await openWith({ arch: 'd', width_div: 16 });
  await page.locator('[name="width_div"]').fill('500');
  await page.locator('[name="width_div"]').blur();
  await page.waitForFunction(() => document.querySelector('.control[data-path="width_div"] .field-error')?.textContent.includes('96'));
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  // The lab draws no theory lines: no "show theory" switch among the view controls, only the speed.
  assert.deepEqual(await page.locator('.view-controls .control').evaluateAll((cs) => cs.map((c) => c.dataset.path)), ['speed']);
  assert.deepEqual(errors, []);
  await page.close();
});
