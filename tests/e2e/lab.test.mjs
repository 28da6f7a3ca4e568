// End-to-end tests of the built site (dist/): the landing page, the hebb2d lab on WebGPU (SwiftShader) and on
// the CPU, permalinks, classroom links, the embed API (www/host-example.html) and the GPU → CPU fallback.
//
// Run: node --test tests/e2e/lab.test.mjs
// Builds dist/ with `trunk build` first unless HEBBIAN_SKIP_BUILD is set (the test script builds beforehand).
// Needs /usr/bin/chromium, `npm ci`, and the native CLI (the harness's cliBinary, else `cargo run --bin hebbian`).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, assertPlotsDrawn, buildSite, cli, launch, serve, watchConsole, waitDrawnToEnd } from './harness.mjs';

const PLOTS = ['inputs', 'activation', 'traj_1', 'traj_2', 'traj_3', 'norm', 'angle', 'growth'];
const LONG = 120_000; // WebGPU on SwiftShader and 2 cores: be generous.

let server;
let gpuContext; // one browser with WebGPU (SwiftShader) for every GPU test
let plainContext; // one browser without WebGPU
let tmp;

before(async () => {
  buildSite();
  tmp = await mkdtemp(join(tmpdir(), 'hebbian-lab-'));
  server = await serve(DIST);
  gpuContext = await launch({ webgpu: true });
  plainContext = await launch({ webgpu: false });
});

after(async () => {
  await gpuContext?.close();
  await plainContext?.close();
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** Opens `path` (e.g. `?lab=hebb2d#s=…`) in a new page; for a lab, waits until the step-0 frame is drawn. */
async function open(context, path, { lab = true } = {}) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  const errors = watchConsole(page);
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  // A request the browser cancels (net::ERR_ABORTED: a page left or closed while loading, a preload dropped
  // for the real fetch, seen under load on the wasm module) failed nowhere; missing files are the HTTP errors
  // above, and every other network failure counts.
  page.on('requestfailed', (r) => {
    const why = r.failure()?.errorText;
    if (why !== 'net::ERR_ABORTED') errors.push(`request failed: ${r.url()} (${why})`);
  });
  await page.goto(`${server.url}/${path}`);
  if (lab) await waitIdleAtZero(page);
  return { page, errors };
}

/** Waits until the lab shows a fresh, drawn step-0 frame and nothing runs. */
async function waitIdleAtZero(page) {
  await page.waitForFunction(() => {
    const p = window.playground;
    return p && p.engine && p.frame && p.frame.step === 0 && !p.running
      && document.getElementById('app').dataset.drawnStep === '0';
  }, null, { timeout: LONG });
}

const button = (page, name) => page.getByRole('button', { name, exact: true });

/** Presses Run from step 0 and waits for the last frame to be drawn; returns that frame's metrics. */
async function runToEnd(page) {
  await waitIdleAtZero(page);
  await button(page, 'Run').click();
  await waitDrawnToEnd(page, LONG);
  return page.evaluate(() => window.playground.frame.metrics);
}

/** Sets a generated control the way a user does (type, then leave the field) and waits for the new run. */
async function setControl(page, name, value) {
  const control = page.locator(`[name="${name}"]`);
  if (await control.evaluate((e) => e.tagName === 'SELECT')) await control.selectOption(String(value));
  else {
    await control.fill(String(value));
    await control.blur();
  }
}

/** Commits a state change through the page (as the embed API does) and waits for the fresh step-0 frame. */
async function commit(page, change) {
  await page.evaluate((change) => {
    const p = window.playground;
    const s = structuredClone(p.state);
    p.commit({ ...s, ...change, params: { ...s.params, ...change.params }, view: { ...s.view, ...change.view } });
  }, change);
  await waitIdleAtZero(page);
}

/** The native CLI's report for a state document. */
const cliRun = (file) => cli(['run', file, '--backend', 'cpu']);

const values = (metrics) => metrics.map((m) => [m.name, m.value]);

// ---------------------------------------------------------------------------------------------------------------
// Tests

test('the landing page lists the labs and loads cleanly', async () => {
  const { page, errors } = await open(plainContext, '', { lab: false });
  await page.waitForSelector('.lab-list li');
  const labs = await page.$$eval('.lab-list li', (items) => items.map((li) => ({
    id: li.dataset.lab, href: li.querySelector('a').getAttribute('href'), title: li.querySelector('a').textContent,
    summary: li.querySelector('p').textContent,
  })));
  // The page lists the same labs, in the same order, as the CLI: every lab in the registry, none left out.
  assert.deepEqual(labs.map((l) => l.id), cli(['labs', '--json']).map((l) => l.id));
  assert.deepEqual(labs.slice(0, 4).map((l) => l.id), ['hebb2d', 'datasets', 'hopfield', 'ising']);
  assert.equal(labs[0].href, '?lab=hebb2d');
  assert.match(labs[0].title, /Hebbian/);
  assert.ok(labs[0].summary.length > 20, `summary: ${labs[0].summary}`);
  assert.equal(await page.locator('h1').textContent(), 'Labs');
  // No engine starts on the lab list: no badge stuck on "starting…".
  assert.equal(await page.locator('#engine-badge').isVisible(), false);
  assert.equal(await page.locator('#messages .message').count(), 0);
  assert.equal(await page.evaluate(() => window.playground), undefined);
  assert.deepEqual(errors, []);
  // The link leads to the lab.
  await page.locator('.lab-list li[data-lab="hebb2d"] a').click();
  await waitIdleAtZero(page);
  assert.equal(await page.evaluate(() => window.playground.state.lab), 'hebb2d');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the automatic engine choice leaves a software WebGPU (SwiftShader) for the faster CPU engine, and says why', async () => {
  const { page, errors } = await open(gpuContext, '?lab=hebb2d');
  // The adapter is there, and it is a CPU device.
  assert.ok(await page.evaluate(async () => Boolean(await navigator.gpu.requestAdapter())));
  const line = page.locator('.engine-line');
  assert.equal(await line.getAttribute('data-kind'), 'cpu');
  assert.match(await line.textContent(), /WebGPU here runs on the processor.*the CPU engine is faster/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the lab runs on WebGPU and draws every plot', async () => {
  const { page, errors } = await open(gpuContext, '?lab=hebb2d&backend=gpu');
  assert.equal(await page.locator('.engine-line').getAttribute('data-kind'), 'gpu');
  assert.match(await page.locator('.engine-line').textContent(), /^Engine: GPU/);
  assert.equal(await page.locator('#engine-badge').getAttribute('data-kind'), 'gpu');
  const metrics = await runToEnd(page);
  assert.equal(await page.locator('.progress-text').textContent(), 'update 2000 / 2000');
  assert.equal(await page.locator('progress').evaluate((p) => p.value), 1);
  assert.deepEqual(metrics[0], { name: 'update', value: 2000, unit: '' });
  // Simple Hebb grows without bound: every ‖w‖ is well above its start (~1), and finite.
  for (const m of metrics.filter((m) => m.name.includes('‖w‖ (run 1)'))) {
    assert.ok(Number.isFinite(m.value) && m.value > 3, `${m.name} = ${m.value}`);
  }
  // The report table shows the same metrics.
  assert.equal(await page.locator('.metrics tbody tr').count(), metrics.length);
  await assertPlotsDrawn(page, PLOTS);
  // No fourth distribution: its plot stays hidden.
  assert.equal(await page.locator('[data-plot-id="traj_4"]').isHidden(), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test("`auto` measures both engines on the lab at hand, keeps the faster, says why, and remembers it", async () => {
  // A small experiment (SwiftShader needs seconds per GPU piece of the default run).
  const { page: maker } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  const link = await maker.evaluate(() => {
    const s = structuredClone(window.playground.state);
    return window.playground.link({ ...s, params: { ...s.params, steps: 300, trials: 2 } });
  });
  await maker.close();
  const path = `?lab=hebb2d&calibrate=1${link.slice(link.indexOf('#'))}`;
  // ?calibrate=1 measures even a software WebGPU, which the rule would leave unmeasured.
  const { page, errors } = await open(gpuContext, path);
  const line = page.locator('.engine-line');
  await page.waitForFunction(() => /measured/.test(document.querySelector('.engine-line')?.textContent ?? ''), null, { timeout: LONG });
  const text = await line.textContent();
  const figures = await page.evaluate(() => JSON.parse(localStorage.getItem('hebbian:engine-measured')).hebb2d);
  assert.ok(figures.cpu > 0 && figures.gpu > 0, JSON.stringify(figures));
  assert.match(figures.adapter, /\S/);
  // On SwiftShader the CPU engine wins by far, and the badge says so in words.
  assert.ok(figures.cpu > figures.gpu, JSON.stringify(figures));
  assert.equal(await line.getAttribute('data-kind'), 'cpu');
  assert.match(text, /the CPU engine runs this lab [0-9.]+× faster than WebGPU on .* \(measured just now\)/);
  assert.doesNotMatch(text, /BrowserWebGpu|unnamed adapter/);
  await runToEnd(page);
  await page.close();
  // The next visit uses the remembered figures instead of measuring again.
  const again = await open(gpuContext, path);
  const text2 = await again.page.locator('.engine-line').textContent();
  assert.match(text2, /measured earlier in this browser/);
  assert.equal(await again.page.locator('.engine-line').getAttribute('data-kind'), 'cpu');
  assert.deepEqual(await again.page.evaluate(() => JSON.parse(localStorage.getItem('hebbian:engine-measured')).hebb2d), figures);
  assert.deepEqual(errors, []);
  assert.deepEqual(again.errors, []);
  await again.page.close();
});

test('a changed experiment survives its link exactly', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  await setControl(page, 'eta', 0.002);
  await page.waitForFunction(() => window.playground.state.params.eta === 0.002);
  await setControl(page, 'rule', 'oja');
  await page.waitForFunction(() => window.playground.state.params.rule === 'oja');
  const metrics = await runToEnd(page);
  const url = await page.evaluate(() => location.href);
  const state = await page.evaluate(() => window.playground.state);
  assert.match(url, /[?&]lab=hebb2d/);
  assert.match(url, /#s=3\./);

  const second = await open(plainContext, url.slice(server.url.length + 1));
  assert.equal(await second.page.inputValue('input[name="eta"]'), '0.002');
  assert.equal(await second.page.inputValue('select[name="rule"]'), 'oja');
  assert.equal(await second.page.inputValue('input[name="steps"]'), '2000');
  assert.deepEqual(await second.page.evaluate(() => window.playground.state), state);
  const again = await runToEnd(second.page);
  assert.deepEqual(again, metrics);
  // Oja's rule converges to a unit vector: the link really carried the rule.
  for (const m of again.filter((m) => m.name.includes('‖w‖ (run 1)'))) {
    assert.ok(Math.abs(m.value - 1) < 0.2, `${m.name} = ${m.value}`);
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(second.errors, []);
  await page.close();
  await second.page.close();
});

test('the browser CPU path gives exactly the CLI metrics', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  assert.equal(await page.locator('.engine-line').getAttribute('data-kind'), 'cpu');
  const variants = [{}, { seed: 7, params: { rule: 'covariance', trials: 5 }, view: { speed: 0 } }];
  for (const [i, change] of variants.entries()) {
    if (i > 0) await commit(page, change);
    const metrics = await runToEnd(page);
    const file = join(tmp, `state-${i}.json`);
    await writeFile(file, JSON.stringify(await page.evaluate(() => window.playground.state)));
    const report = cliRun(file);
    assert.equal(report.engine.kind, 'cpu');
    assert.deepEqual(metrics.map((m) => m.name), report.metrics.map((m) => m.name));
    assert.deepEqual(metrics.map((m) => m.unit), report.metrics.map((m) => m.unit));
    assert.deepEqual(values(metrics), values(report.metrics), `variant ${i}`);
    assert.ok(metrics.some((m) => m.value === null) || i > 0, 'the default run has undefined (null) metrics');
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('without WebGPU the lab runs on the CPU and says why', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d');
  // Chromium with WebGPU disabled still has navigator.gpu, but no adapter.
  assert.equal(await page.evaluate(async () => (navigator.gpu ? await navigator.gpu.requestAdapter() : null)), null);
  const line = page.locator('.engine-line');
  assert.equal(await line.getAttribute('data-kind'), 'cpu');
  assert.match(await line.textContent(), /^Engine: CPU \(.*WebGPU.*(unavailable|not available|not supported)/i);
  assert.equal(await page.locator('#engine-badge').getAttribute('data-kind'), 'cpu');
  await runToEnd(page);
  assert.equal(await page.locator('.progress-text').textContent(), 'update 2000 / 2000');
  await assertPlotsDrawn(page, PLOTS);
  assert.equal(await page.locator('#messages .message.error').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('tampered links show a readable error and the defaults', async () => {
  const { page: helper } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  const links = await helper.evaluate(() => {
    const w = window.wasmBindings;
    const base = window.playground.state;
    const real = w.encode_link(base);
    const corr = structuredClone(base);
    corr.params.inputs[1].corr = 1.5;
    const xss = { ...structuredClone(base), lab: '<img src=x onerror="window.__xss=1">' };
    return { real, corr: w.encode_link(corr), xss: w.encode_link(xss) };
  });
  await helper.close();
  assert.match(links.real, /^s=3\./);
  const cases = [
    { name: 'garbage', hash: 's=1.garbage!!', message: /could not be read/ },
    { name: 'truncated', hash: links.real.slice(0, Math.floor(links.real.length / 2)), message: /could not be read/ },
    { name: 'corr 1.5', hash: links.corr, message: /inputs\/1\/corr: .*not positive semidefinite/ },
    { name: 'html lab id', hash: links.xss, message: /<img src=x onerror/ },
  ];
  for (const c of cases) {
    const { page, errors } = await open(plainContext, `?lab=hebb2d&backend=cpu#${c.hash}`);
    const messages = await page.locator('#messages .message.error').allTextContents();
    assert.equal(messages.length, 1, `${c.name}: ${JSON.stringify(messages)}`);
    assert.match(messages[0], c.message, c.name);
    assert.match(messages[0], /Showing the lab's defaults instead/, c.name);
    assert.doesNotMatch(messages[0], /undefined|\[object|RuntimeError|unreachable/, c.name);
    // The lab still renders, with the defaults.
    assert.equal(await page.inputValue('input[name="steps"]'), '2000', c.name);
    assert.equal(await page.inputValue('input[name="inputs/1/corr"]'), '0.4', c.name);
    assert.equal(await page.evaluate(() => window.playground.state.seed), 55, c.name);
    assert.ok(await page.locator('[data-plot-id="inputs"] canvas').count() > 0, c.name);
    // Nothing from the link became markup.
    assert.equal(await page.locator('img').count(), 0, c.name);
    assert.equal(await page.evaluate(() => window.__xss), undefined, c.name);
    // The URL now holds the defaults, not the broken link.
    assert.equal(await page.evaluate(() => location.hash), `#${links.real}`, c.name);
    assert.deepEqual(errors, [], c.name);
    await page.close();
  }
});

test('an invalid value typed in a control is refused next to the field', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  const row = page.locator('.control[data-path="inputs/2/corr"]');
  await setControl(page, 'inputs/2/corr', 1.5);
  await page.waitForFunction(() => document.querySelector('.control[data-path="inputs/2/corr"] .field-error').textContent !== '');
  assert.match(await row.locator('.field-error').textContent(), /Σ3 .*positive semidefinite/);
  assert.match(await row.getAttribute('class'), /\binvalid\b/);
  assert.equal(await button(page, 'Run').isDisabled(), true);
  assert.equal(await button(page, 'Step').isDisabled(), true);
  assert.equal(await page.evaluate(() => window.playground.state.params.inputs[2].corr), 0.9, 'not committed');
  await setControl(page, 'inputs/2/corr', 0.5);
  await page.waitForFunction(() => window.playground.state.params.inputs[2].corr === 0.5);
  await waitIdleAtZero(page);
  assert.equal(await row.locator('.field-error').textContent(), '');
  assert.doesNotMatch(await row.getAttribute('class'), /\binvalid\b/);
  assert.equal(await button(page, 'Run').isDisabled(), false);
  assert.equal(await button(page, 'Step').isDisabled(), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a classroom link hides the chosen controls', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  await button(page, 'Classroom link…').click();
  const out = page.locator('input[name="classroom-link"]');
  const before = await out.inputValue();
  await page.locator('.share .checks input[value="rule"]').check();
  await page.waitForFunction((b) => document.querySelector('input[name="classroom-link"]').value !== b, before);
  const link = await out.inputValue();
  assert.ok(link.startsWith(`${server.url}/`), link);
  assert.doesNotMatch(link, /backend=|embed=/);
  // The teacher's own page is unchanged.
  assert.equal(await page.locator('select[name="rule"]').count(), 1);
  assert.deepEqual(await page.evaluate(() => window.playground.state.hidden), []);

  const student = await open(plainContext, link.slice(server.url.length + 1));
  assert.equal(await student.page.locator('select[name="rule"]').count(), 0);
  for (const name of ['eta', 'steps', 'trials', 'inputs/0/corr', 'samples', 'speed']) {
    assert.equal(await student.page.locator(`[name="${name}"]`).count(), 1, name);
  }
  assert.deepEqual(await student.page.evaluate(() => window.playground.state.hidden), ['rule']);
  assert.equal(await student.page.locator('#messages .message.error').count(), 0);
  assert.deepEqual(errors, []);
  assert.deepEqual(student.errors, []);
  await page.close();
  await student.page.close();
});

test('the example host page sizes the iframe and drives the lab by postMessage', async () => {
  const { page, errors } = await open(plainContext, 'host-example.html?backend=cpu', { lab: false });
  const received = (type) => page.evaluate((type) => window.received.filter((m) => m.type === type), type);
  await page.waitForFunction(() => window.received.some((m) => m.type === 'hebbian:ready'), null, { timeout: LONG });
  assert.equal((await received('hebbian:ready'))[0].engine.kind, 'cpu');
  assert.match(await page.locator('#status').textContent(), /ready \(CPU\)/);
  const lab = page.frames().find((f) => f.url().includes('embed=1'));
  assert.ok(lab, 'the lab iframe');
  await lab.waitForFunction(() => document.getElementById('app').dataset.drawnStep === '0', null, { timeout: LONG });
  assert.equal(await lab.locator('#chrome').isVisible(), false, 'no site chrome in the embed');
  assert.equal(await lab.locator('h1').count(), 0);

  // The iframe follows the lab's height: no inner scroll bar, nothing cut off.
  const fits = () => page.evaluate(() => {
    const f = document.getElementById('lab');
    const inner = f.contentDocument.documentElement.scrollHeight;
    return { frame: f.clientHeight, inner, ok: inner > 1000 && Math.abs(f.clientHeight - inner) <= 3 };
  });
  await page.waitForFunction(() => {
    const f = document.getElementById('lab');
    const inner = f.contentDocument.documentElement.scrollHeight;
    return inner > 1000 && Math.abs(f.clientHeight - inner) <= 3;
  }, null, { timeout: 30_000 }).catch(async () => assert.fail(`iframe height ${JSON.stringify(await fits())}`));
  const heights = await received('hebbian:height');
  assert.ok(heights.length >= 1 && heights.at(-1).height > 1000, JSON.stringify(heights));

  // run -> done
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => window.received.some((m) => m.type === 'hebbian:done'), null, { timeout: LONG });
  const [done] = await received('hebbian:done');
  assert.equal(done.step, 2000);
  // get_metrics -> the same metrics, shown in the page
  await page.getByRole('button', { name: 'Get metrics', exact: true }).click();
  await page.waitForFunction(() => window.received.some((m) => m.type === 'hebbian:metrics'));
  const [reply] = await received('hebbian:metrics');
  assert.equal(reply.step, 2000);
  assert.equal(reply.total, 2000);
  assert.equal(reply.done, true);
  assert.deepEqual(reply.metrics, done.metrics);
  const shown = await page.locator('#metrics-out').textContent();
  assert.match(shown, /^update 2000 \/ 2000 \(done\)/);
  assert.ok(shown.includes(`${done.metrics[5].name}: ${done.metrics[5].value}`), shown);

  // set_state with another seed: a fresh run with other numbers
  await page.getByRole('button', { name: 'Try another seed', exact: true }).click();
  await lab.waitForFunction(() => window.playground.state.seed === 56);
  assert.equal((await received('hebbian:state'))[0].state.seed, 55);
  assert.equal(await lab.inputValue('input[name="seed"]'), '56');
  await lab.waitForFunction(() => window.playground.frame.step === 0 && !window.playground.running);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => window.received.filter((m) => m.type === 'hebbian:done').length === 2, null, { timeout: LONG });
  const second = (await received('hebbian:done'))[1];
  assert.equal(second.step, 2000);
  assert.notDeepEqual(values(second.metrics), values(done.metrics));
  // The eigenvalues do not depend on the seed; the learned weights do.
  assert.deepEqual(second.metrics[1], done.metrics[1]);
  assert.notEqual(second.metrics[3].value, done.metrics[3].value);
  assert.deepEqual(await received('hebbian:error'), []);

  // A state that cannot run is refused with a reason, and the lab keeps its experiment.
  await page.evaluate(() => {
    const { state } = window.received.find((m) => m.type === 'hebbian:state');
    state.params.inputs[0].corr = 1.5;
    document.getElementById('lab').contentWindow.postMessage({ type: 'hebbian:set_state', state, id: 'bad' }, location.origin);
  });
  await page.waitForFunction(() => window.received.some((m) => m.type === 'hebbian:error'));
  const [refused] = await received('hebbian:error');
  assert.equal(refused.id, 'bad');
  assert.match(refused.message, /inputs\/0\/corr: .*positive semidefinite/);
  assert.equal(await lab.evaluate(() => window.playground.state.seed), 56);
  assert.equal(await lab.evaluate(() => window.playground.state.params.inputs[0].corr), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a lost GPU device mid-run: the run finishes on the CPU and says so', async () => {
  const { page, errors } = await open(gpuContext, '?lab=hebb2d&backend=gpu');
  assert.equal(await page.locator('.engine-line').getAttribute('data-kind'), 'gpu');
  await setControl(page, 'speed', 10);
  await page.waitForFunction(() => window.playground.state.view.speed === 10);
  await waitIdleAtZero(page);
  await button(page, 'Run').click();
  await page.waitForFunction(() => window.playground.frame.step >= 300, null, { timeout: LONG });
  const lostAt = await page.evaluate(() => {
    window.playground.client.loseDevice();
    return window.playground.frame.step;
  });
  assert.ok(lostAt < 1500, `the run was nearly over (${lostAt}) when the device was lost`);
  await page.waitForFunction(() => window.playground.frame.done && !window.playground.running
    && document.getElementById('app').dataset.drawnStep === '2000', null, { timeout: LONG });
  assert.equal(await page.locator('.progress-text').textContent(), 'update 2000 / 2000');
  const warnings = await page.locator('#messages .message.warning').allTextContents();
  assert.ok(warnings.some((w) => /GPU failed/.test(w) && /continues on the CPU/.test(w)), JSON.stringify(warnings));
  assert.equal(await page.locator('#messages .message.error').count(), 0);
  const line = page.locator('.engine-line');
  assert.equal(await line.getAttribute('data-kind'), 'cpu');
  assert.match(await line.textContent(), /^Engine: CPU \(switched to CPU after a GPU failure/);
  assert.equal(await page.locator('#engine-badge').getAttribute('data-kind'), 'cpu');
  // The run went on from where it was: its weights match an all-CPU run of the same state closely (the GPU part
  // differs from the CPU in the last bits only).
  const metrics = await page.evaluate(() => window.playground.frame.metrics);
  const file = join(tmp, 'lost.json');
  await writeFile(file, JSON.stringify(await page.evaluate(() => window.playground.state)));
  const cli = cliRun(file).metrics;
  for (const [i, m] of metrics.entries()) {
    if (!m.name.includes('‖w‖ (run 1)')) continue;
    assert.ok(Math.abs(m.value - cli[i].value) < 1e-2 * cli[i].value, `${m.name}: ${m.value} vs CPU ${cli[i].value}`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('Step, Reset and Pause', async () => {
  const { page, errors } = await open(gpuContext, '?lab=hebb2d&backend=gpu');
  const step = () => page.evaluate(() => window.playground.frame.step);
  const stepTo = (n) => page.waitForFunction((n) => window.playground.frame.step === n, n, { timeout: LONG });
  // A frame holds `speed` updates rounded up to whole recording intervals (hebb2d.rs keeps chunk boundaries on
  // record boundaries); the default speed sits on a boundary.
  const { speed, record_every: every } = await page.evaluate(() => ({ ...window.playground.state.view, ...window.playground.state.params }));
  assert.deepEqual([speed, every], [20, 10]);
  const chunk = Math.ceil(speed / every) * every;
  await button(page, 'Step').click();
  await stepTo(chunk);
  await button(page, 'Step').click();
  await stepTo(2 * chunk);
  assert.equal(await page.locator('.progress-text').textContent(), `update ${2 * chunk} / 2000`);
  await button(page, 'Reset').click();
  await stepTo(0);
  assert.equal(await page.locator('.progress-text').textContent(), 'update 0 / 2000');

  await button(page, 'Run').click();
  await page.waitForFunction(() => window.playground.running && window.playground.frame.step >= 100, null, { timeout: LONG });
  assert.equal(await button(page, 'Run').isDisabled(), true);
  await button(page, 'Pause').click();
  await page.waitForFunction(() => !window.playground.running, null, { timeout: LONG });
  await page.waitForTimeout(300); // a chunk already under way may still land
  const paused = await step();
  await page.waitForTimeout(700);
  assert.equal(await step(), paused, 'the step changed after Pause');
  assert.ok(paused > 0 && paused < 2000 && paused % chunk === 0, `paused at ${paused}`);
  assert.equal(await button(page, 'Run').isDisabled(), false);
  assert.equal(await button(page, 'Pause').isDisabled(), true);
  // Step goes on from there; with a speed on a record boundary, a step is exactly `speed` updates.
  await button(page, 'Step').click();
  await stepTo(paused + chunk);
  await setControl(page, 'speed', 40);
  await page.waitForFunction(() => window.playground.state.view.speed === 40);
  await waitIdleAtZero(page);
  await button(page, 'Step').click();
  await stepTo(40);
  // Off a boundary, the speed is rounded up: 25 with record_every 10 gives 30.
  await setControl(page, 'speed', 25);
  await page.waitForFunction(() => window.playground.state.view.speed === 25);
  await waitIdleAtZero(page);
  await button(page, 'Step').click();
  await stepTo(30);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a diverging run warns where the student is looking, with the number the table shows, until the experiment changes', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  await commit(page, { params: { eta: 0.1, trials: 1 } });
  // The student is at the run bar, far down the page.
  await page.locator('.runbar').scrollIntoViewIfNeeded();
  await runToEnd(page);
  const warnings = page.locator('#messages .message.warning');
  await warnings.first().waitFor();
  assert.equal(await warnings.count(), 3, 'one warning per diverging distribution');
  const inView = await warnings.first().evaluate((box) => {
    const r = box.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight && r.width > 0;
  });
  assert.ok(inView, 'the warning is outside the viewport');
  // The warning's ‖w‖ is the metrics table's max ‖w‖ for that distribution, written the same way.
  for (const text of await warnings.allTextContents()) {
    const [, sigma, shown] = /diverged on (Σ\d).*max ‖w‖, (\S+) so far/.exec(text) ?? [];
    const cell = await page.locator('.metrics tr', { hasText: `${sigma} max ‖w‖` }).locator('td').nth(1).textContent();
    assert.equal(shown, cell, text);
  }
  // The diverged trajectories' axes label 10¹⁹ compactly (before, "18,000,000,000,000,000,000" was clipped).
  const labels = await page.evaluate(() => {
    const axis = window.playground.plots.get('traj_1').handle.chart.getOption().yAxis[0];
    return [axis.axisLabel.formatter(1.8e19), axis.axisLabel.formatter(-250000), axis.axisLabel.formatter(0.25)];
  });
  assert.deepEqual(labels, ['1.8e19', '-2.5e5', '0.25']);
  // A new experiment: the old run's warnings go.
  await commit(page, { params: { eta: 0.001 } });
  assert.equal(await warnings.count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('parameters spanning decades get log sliders, and typed values are kept exactly', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  const slider = page.locator('.control[data-path="eta"] input[type=range]');
  assert.equal(await slider.getAttribute('data-scale'), 'log');
  // η runs from 10⁻⁶ to 1: the default 10⁻³ sits mid-way (before, a linear slider of step 0.005 could not show it).
  assert.equal(Number(await slider.inputValue()), 500);
  // Two thirds of the way: 10⁻².
  await slider.evaluate((s) => {
    s.value = '667';
    s.dispatchEvent(new Event('input'));
    s.dispatchEvent(new Event('change'));
  });
  await page.waitForFunction(() => window.playground.state.params.eta === 0.01);
  assert.equal(await page.locator('[name="eta"]').inputValue(), '0.01');
  // A typed value stays as typed; the slider follows to the nearest position.
  await setControl(page, 'eta', '0.00123');
  await page.waitForFunction(() => window.playground.state.params.eta === 0.00123);
  assert.equal(Number(await slider.inputValue()), Math.round(((Math.log10(0.00123) + 6) / 6) * 1000));
  // Whole numbers over decades too (updates 1 to 10⁶), rounded to whole values.
  const steps = page.locator('.control[data-path="steps"] input[type=range]');
  assert.equal(await steps.getAttribute('data-scale'), 'log');
  // A narrow real range keeps a linear slider (the correlation ρ of Σ1).
  assert.equal(await page.locator('.control[data-path="inputs/0/corr"] input[type=range]').getAttribute('data-scale'), null);
  assert.deepEqual(errors, []);
  await page.close();
});

test('plot titles are never cut and legends wrap instead of paging, also on a phone', async () => {
  const { page, errors } = await open(plainContext, '?lab=hopfield&backend=cpu');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => window.playground.frame.done, null, { timeout: LONG });
  await page.waitForTimeout(500); // the charts' resize to the phone width
  const charts = await page.evaluate(() => [...window.playground.plots.values()]
    .filter((p) => p.handle?.plot)
    .map((p) => {
      const option = p.handle.chart.getOption();
      return { id: p.handle.plot.id, title: p.handle.plot.title, shown: option.title[0].text, legends: option.legend.map((l) => l.type) };
    }));
  assert.ok(charts.length >= 6, `${charts.length} charts`);
  let wrapped = 0;
  for (const c of charts) {
    // The whole title, only broken into lines.
    assert.equal(c.shown.replaceAll('\n', ' '), c.title.replace(/\s+/g, ' ').trim(), c.id);
    if (c.shown.includes('\n')) wrapped += 1;
    assert.ok(c.legends.every((t) => t === 'plain'), `${c.id}: legend ${c.legends}`);
  }
  assert.ok(wrapped > 0, 'no title needed a second line at 390 px: the test shows nothing');
  assert.deepEqual(errors, []);
  await page.close();
});

test('each distribution keeps its colour in every plot, its theory line dashed in the same colour', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  await runToEnd(page);
  const colours = await page.evaluate(() => {
    const out = {};
    for (const id of ['inputs', 'norm', 'angle']) {
      const plot = window.playground.plots.get(id).handle.plot;
      out[id] = Object.fromEntries(plot.series.map((s) => [s.name, s.color]));
    }
    return out;
  });
  for (const sigma of ['Σ1', 'Σ2', 'Σ3']) {
    assert.ok(colours.norm[sigma], `${sigma} has no colour`);
    assert.equal(colours.inputs[sigma], colours.norm[sigma], `${sigma}: inputs vs norm`);
    assert.equal(colours.norm[`theory: slope ηλ₁ on ${sigma}`], colours.norm[sigma], `${sigma}: theory line`);
  }
  // The angle plot has no Σ1 (isotropic): Σ2 and Σ3 must not take Σ1's and Σ2's colours.
  for (const sigma of ['Σ2', 'Σ3']) assert.equal(colours.angle[sigma], colours.norm[sigma], `${sigma}: angle vs norm`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the classroom panel names controls by their labels, and the embed snippet sizes its frame by itself', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  await button(page, 'Classroom link…').click();
  const labels = await page.locator('.share .checks label').allTextContents();
  assert.ok(labels.some((l) => l.trim() === 'η (learning rate)'), labels.join(' | '));
  assert.ok(!labels.some((l) => l.trim() === 'eta'), labels.join(' | '));
  await button(page, 'Embed…').click();
  const snippet = await page.locator('.embed-out').inputValue();
  assert.match(snippet, /<script>[\s\S]*hebbian:height[\s\S]*<\/script>/);
  // Pasted into an empty course page, the frame takes the lab's height.
  const host = await plainContext.newPage();
  await host.setContent(`<!doctype html><body style="margin:0">${snippet}</body>`);
  const frame = host.locator('iframe');
  await host.waitForFunction(() => {
    const f = document.querySelector('iframe');
    return f.height && Number(f.height) > 300;
  }, null, { timeout: LONG });
  // The frame's own document (the frame list's URLs can lag behind the element under load).
  const lab = await (await frame.elementHandle()).contentFrame();
  await lab.waitForFunction(() => document.getElementById('app')?.dataset.drawnStep === '0', null, { timeout: LONG });
  await host.waitForTimeout(500);
  const [height, content] = [Number(await frame.getAttribute('height')), await lab.evaluate(() => Math.ceil(document.documentElement.scrollHeight))];
  assert.ok(Math.abs(height - content) <= 2, `frame ${height} px, lab ${content} px`);
  assert.deepEqual(errors, []);
  await host.close();
  await page.close();
});

test("the teacher's view shows goals and answers that students' pages and links never carry", async () => {
  const { page: student, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  assert.equal(await student.locator('.exercise .answer').count(), 0);
  assert.equal(await student.locator('.teacher').count(), 0);
  // The Sources note closes the lab.
  assert.equal(await student.locator('#app > .cell').last().locator('h3').textContent(), 'Sources');
  await button(student, 'Classroom link…').click();
  const href = await student.locator('.share a.teacher-link').getAttribute('href');
  assert.match(href, /[?&]teacher=1/);
  await student.close();

  const { page } = await open(plainContext, `${href.slice(href.indexOf('?'))}&backend=cpu`);
  await page.locator('.teacher h3').first().waitFor();
  assert.ok(await page.locator('.teacher-banner').isVisible());
  const exercises = await page.locator('.exercise').count();
  assert.equal(await page.locator('.exercise .answer').count(), exercises, 'every exercise has its answer');
  await page.locator('.exercise .answer summary').first().click();
  assert.ok((await page.locator('.exercise .answer').first().textContent()).length > 100);
  // A link copied in the teacher's view is a student's link.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const copied = await page.evaluate(() => window.playground.share.copyLink());
  assert.doesNotMatch(copied, /teacher=/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('every field explains itself on a tap or a key, without hovering', async () => {
  const { page, errors } = await open(plainContext, '?lab=hebb2d&backend=cpu');
  await page.setViewportSize({ width: 390, height: 844 });
  const row = page.locator('.control[data-path="normalise_init"]');
  const help = row.locator('.help');
  assert.equal(await help.isVisible(), false);
  const toggle = row.locator('.help-toggle');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  await toggle.click();
  await help.waitFor({ state: 'visible' });
  assert.match(await help.textContent(), /unit length/);
  assert.equal(await row.locator('input').getAttribute('aria-describedby'), await help.getAttribute('id'));
  // It stays open while the controls are rebuilt after an edit, and the checkbox was not toggled by the tap.
  assert.equal(await row.locator('input').isChecked(), true);
  await page.fill('input[name="steps"]', '1000');
  await page.press('input[name="steps"]', 'Enter');
  await page.locator('.control[data-path="normalise_init"] .help').waitFor({ state: 'visible' });
  // A choice explains the option chosen, too; the keyboard opens it.
  const rule = page.locator('.control[data-path="rule"]');
  await rule.locator('.help-toggle').focus();
  await page.keyboard.press('Enter');
  await rule.locator('.help').waitFor({ state: 'visible' });
  assert.ok((await rule.locator('.help').textContent()).length > 10);
  // Every field with a description has its help button.
  const missing = await page.evaluate(() => [...document.querySelectorAll('.control[title]')]
    .filter((r) => !r.querySelector(':scope > .help-toggle')).map((r) => r.dataset.path));
  assert.deepEqual(missing, []);
  assert.deepEqual(errors, []);
  await page.close();
});
