// End-to-end tests of the credit-assignment lab in the built site (dist/): a small run of every rule side by side
// on the shipped digits in the page's CPU engine draws every plot (curves, per-class bars, weight pictures,
// digits by predicted class, SNR bars, cosine similarities, feedback angle, the rule classifier's guesses and
// scatter) with one colour per rule across them; the page's link run by the native CLI gives exactly the page's
// numbers, and the link opened in a fresh page restores the experiment and reproduces them; a diverging rule
// stops with a message in view and the others finish; a rule that does not train cannot be pictured, and an
// impossible withheld class is refused at its field.
//
// Run: node --test tests/e2e/credit.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cliMetrics, frameMetrics, launch, openLab, serve, waitDrawnToEnd } from './harness.mjs';

const LONG = 240_000;
const ALL = {
  backprop: true, hebbian: true, hybrid: true, node_perturbation: true,
  weight_perturbation: true, feedback_alignment: true, kolen_pollack: true,
};
const IDENTIFY = { kind: 'run', runs: 3, train_images: 200, epochs: 2, performance: true, weights: true, activity: true };
const SMALL = {
  train_images: 800, valid_images: 200, epochs: 3, snr_examples: 50, hidden: 30, lr: 0.1, rules: ALL, identify: IDENTIFY,
};
const PLOTS = ['loss', 'accuracy', 'per_class', 'weights_before', 'weights_after', 'weights_change', 'predicted', 'snr',
  'cosine_1', 'cosine_2', 'angle', 'identify_confusion', 'identify_plane'];

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

const openAt = (path, ctx = context) => openLab(ctx, `${server.url}/${path}`, { timeout: LONG });
const openWith = (params, backend = 'cpu', ctx = context) => openLab(ctx, `${server.url}/?lab=credit&backend=${backend}`, { params, timeout: LONG });
const metrics = frameMetrics;

test('every rule side by side draws every plot in one colour per rule, and the CLI and the link give the same numbers', async () => {
  const { page, errors } = await openWith(SMALL);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, PLOTS);
  const m = await metrics(page);
  assert.ok(m['validation accuracy, backprop'] > 50, JSON.stringify(m));
  assert.ok(m['gradient SNR, first layer, Hebbian'] > m['gradient SNR, first layer, backprop'], JSON.stringify(m));
  // Which rule is this? Three seeds of seven rules: every run placed in the plane and guessed.
  assert.ok(Number.isFinite(m['rule identification accuracy on unseen seeds']), JSON.stringify(m));
  const plane = await page.evaluate(() => window.playground.plots.get('identify_plane').handle.plot.series);
  assert.equal(plane.reduce((n, s) => n + s.points.length, 0), 21);
  // One colour per rule: the same rule has the same colour in the curves, the bars and the cosine plots.
  const colours = await page.evaluate(() => {
    const plot = (id) => window.playground.plots.get(id).handle.plot;
    const out = {};
    const add = (name, colour) => { (out[name] ??= new Set()).add(colour); };
    for (const s of plot('accuracy').series) add(s.name.replace(/, (training|validation)$/, ''), s.color);
    for (const s of plot('snr').series) add(s.name, s.color);
    for (const s of plot('per_class').series) add(s.name, s.color);
    for (const s of plot('cosine_1').series) add(s.name, s.color);
    for (const s of plot('identify_confusion').series) add(s.name.replace(/^guessed /, ''), s.color);
    for (const s of plot('identify_plane').series) add(s.name, s.color);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v]]));
  });
  const rules = Object.keys(colours).filter((k) => !k.startsWith('chance'));
  assert.equal(rules.length, 7, JSON.stringify(colours));
  for (const r of rules) assert.equal(colours[r].length, 1, `${r}: ${colours[r]}`);
  assert.equal(new Set(rules.map((r) => colours[r][0])).size, 7);
  // The weight pictures: one 28 × 28 image per hidden unit, before and after on one scale.
  const weights = await page.evaluate(() => window.playground.plots.get('weights_after').handle.plot);
  assert.equal(weights.images.length, 30);
  assert.equal(weights.width, 28);
  // The CLI on the page's state: exactly the page's numbers (the speed aside).
  const state = await page.evaluate(() => window.playground.state);
  const fromCli = await cliMetrics(state);
  assert.deepEqual(Object.keys(fromCli).sort(), Object.keys(m).sort());
  for (const [name, value] of Object.entries(m)) {
    if (name.includes('per second')) continue;
    const tol = 1e-4 * Math.max(1, Math.abs(value ?? 0));
    assert.ok(value === fromCli[name] || Math.abs(value - fromCli[name]) <= tol, `${name}: page ${value}, CLI ${fromCli[name]}`);
  }
  // The link restores the experiment in a fresh page and reproduces the run.
  const url = await page.evaluate(() => location.href);
  assert.match(url, /[?&]lab=credit.*#s=/);
  const again = await openAt(url.slice(server.url.length + 1));
  assert.deepEqual(await again.page.evaluate(() => window.playground.state), state);
  assert.equal(await again.page.inputValue('input[name="hidden"]'), '30');
  await again.page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(again.page, LONG);
  const m2 = await metrics(again.page);
  for (const [name, value] of Object.entries(m)) if (!name.includes('per second')) assert.equal(m2[name], value, name);
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await page.close();
  await again.page.close();
});

test('a diverging rule stops with a message in view and keeps its last weights; the others finish', async () => {
  const { page, errors } = await openWith({
    train_images: 300, valid_images: 100, epochs: 2, snr_examples: 0, hidden: 20,
    rules: { ...ALL, hybrid: false, node_perturbation: false, weight_perturbation: false, feedback_alignment: false, kolen_pollack: false },
    hebbian: { clamp: true, oja: false, lr1: 1, lr2: 1 },
    activation: 'identity',
  });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  const message = page.locator('#messages .message', { hasText: 'Hebbian diverged' }).first();
  await message.waitFor({ timeout: LONG });
  assert.ok(await message.isVisible());
  const m = await metrics(page);
  assert.ok(m['validation accuracy, backprop'] > 30, JSON.stringify(m));
  await assertPlotsDrawn(page, ['loss', 'accuracy', 'weights_after']);
  assert.deepEqual(errors, []);
  await page.close();
});

test('impossible combinations are refused at their field with the limit stated', async () => {
  const { page, errors } = await openWith({ classes: 3 });
  await page.locator('[name="rules/backprop"]').uncheck();
  await page.waitForFunction(() => document.querySelector('.control[data-path="pictures"] .field-error')?.textContent.includes('not among the rules'), null, { timeout: LONG });
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  await page.locator('[name="rules/backprop"]').check();
  await page.locator('[name="withheld/kind"]').selectOption('withhold');
  await page.waitForFunction(() => document.querySelector('.control[data-path="withheld/class"] .field-error')?.textContent.includes('classes 0 to 2'), null, { timeout: LONG });
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  // The rule classifier needs at least one kind of metric.
  await page.locator('[name="withheld/kind"]').selectOption('off');
  for (const kind of ['performance', 'weights', 'activity']) await page.locator(`[name="identify/${kind}"]`).uncheck();
  await page.waitForFunction(() => document.querySelector('.control[data-path="identify/performance"] .field-error')?.textContent.includes('at least one kind of metric'), null, { timeout: LONG });
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  await page.locator('[name="identify/weights"]').check();
  // The errors clear, then the Run button comes back once the lab has checked the state again.
  await page.waitForFunction(() => [...document.querySelectorAll('.field-error')].every((e) => !e.textContent)
    && [...document.querySelectorAll('button')].some((b) => b.textContent.trim() === 'Run' && !b.disabled), null, { timeout: LONG });
  assert.deepEqual(errors, []);
  await page.close();
});

test('on WebGPU every rule trains on the device (node perturbation\'s noise drawn there) and gives the CPU engine\'s numbers', async () => {
  const tiny = {
    train_images: 200, valid_images: 100, epochs: 2, snr_examples: 20, hidden: 20, lr: 0.1, bias: true,
    rules: { ...ALL, hebbian: false, hybrid: false, weight_perturbation: false },
  };
  const results = {};
  for (const backend of ['gpu', 'cpu']) {
    const { page, errors } = await openWith(tiny, backend, backend === 'gpu' ? gpuContext : context);
    assert.equal(await page.evaluate(() => window.playground.engine.kind), backend);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await waitDrawnToEnd(page, LONG);
    await assertPlotsDrawn(page, ['loss', 'accuracy', 'weights_after', 'angle']);
    results[backend] = await metrics(page);
    assert.deepEqual(errors, []);
    await page.close();
  }
  for (const [name, cpu] of Object.entries(results.cpu)) {
    if (name.includes('per second')) continue;
    const gpu = results.gpu[name];
    const tol = name.includes('accuracy') ? 2 : 1e-3 * Math.abs(cpu) + 1e-3;
    assert.ok(Math.abs(gpu - cpu) <= tol, `${name}: GPU ${gpu}, CPU ${cpu}`);
  }
});
