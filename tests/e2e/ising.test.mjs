// End-to-end tests of the Ising lab in the built site (dist/): the lattice and both curves draw on WebGPU
// (SwiftShader) and on the CPU, the GPU's checkerboard gives the CPU's lattice bit for bit, the permalink
// reproduces the CLI's numbers, and physics: ordered below T_c, disordered above.
//
// Run: node --test tests/e2e/ising.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, assertPlotsDrawn, buildSite, cli, launch, serve, watchConsole } from './harness.mjs';

const LONG = 120_000;
const PLOTS = ['lattice', 'magnetisation', 'energy'];

let server;
let gpuContext;
let tmp;

before(async () => {
  buildSite();
  tmp = await mkdtemp(join(tmpdir(), 'hebbian-ising-'));
  server = await serve(DIST);
  gpuContext = await launch({ webgpu: true });
});

after(async () => {
  await gpuContext?.close();
  await server?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Opens the Ising lab with `params` changed from the defaults, on `backend`; waits for the step-0 frame. */
async function openWith(params, backend) {
  const page = await gpuContext.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  const errors = watchConsole(page);
  await page.goto(`${server.url}/?lab=ising&backend=${backend}`);
  await page.waitForFunction(() => window.playground?.frame && document.getElementById('app').dataset.drawnStep === '0', null, { timeout: LONG });
  await page.evaluate((params) => {
    const p = window.playground;
    p.commit({ ...p.state, params: { ...p.state.params, ...params }, view: { ...p.state.view, speed: 25 } });
  }, params);
  await page.waitForFunction(() => {
    const p = window.playground;
    return p.frame.step === 0 && !p.running && document.getElementById('app').dataset.drawnStep === '0';
  }, null, { timeout: LONG });
  return { page, errors };
}

async function runToEnd(page) {
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => {
    const p = window.playground;
    return p.frame.done && !p.running && document.getElementById('app').dataset.drawnStep === String(p.frame.total);
  }, null, { timeout: LONG });
  return page.evaluate(() => Object.fromEntries(window.playground.frame.metrics.map((m) => [m.name, m.value])));
}

test('the lattice and the curves draw, and WebGPU gives the CPU lattice bit for bit', async () => {
  const params = { side: 64, sweeps: 100, kt: 2.2 };
  const gpu = await openWith(params, 'gpu');
  assert.equal(await gpu.page.evaluate(() => window.playground.engine.kind), 'gpu');
  const gpuMetrics = await runToEnd(gpu.page);
  await assertPlotsDrawn(gpu.page, PLOTS);
  const gpuLattice = await gpu.page.evaluate(() => window.playground.plots.get('lattice').handle.plot.images[0].pixels);
  const cpu = await openWith(params, 'cpu');
  const cpuMetrics = await runToEnd(cpu.page);
  await assertPlotsDrawn(cpu.page, PLOTS);
  const cpuLattice = await cpu.page.evaluate(() => window.playground.plots.get('lattice').handle.plot.images[0].pixels);
  assert.deepEqual(gpuLattice, cpuLattice);
  assert.deepEqual(gpuMetrics, cpuMetrics);
  assert.deepEqual(gpu.errors, []);
  assert.deepEqual(cpu.errors, []);
  await gpu.page.close();
  await cpu.page.close();
});

test('ordered below T_c, disordered above, and the link reproduces the CLI numbers', async () => {
  const cold = await openWith({ side: 32, sweeps: 200, kt: 1.0, start: 'up' }, 'cpu');
  const m = await runToEnd(cold.page);
  assert.ok(m['mean |m| over the second half'] > 0.9, JSON.stringify(m));
  // The page's link, run by the native CLI, gives the same numbers exactly.
  const state = await cold.page.evaluate(() => window.playground.state);
  const file = join(tmp, 'cold.json');
  await writeFile(file, JSON.stringify(state));
  const report = cli(['run', file, '--backend', 'cpu']);
  assert.deepEqual(Object.fromEntries(report.metrics.map((x) => [x.name, x.value])), m);
  const hot = await openWith({ side: 64, sweeps: 200, kt: 5.0, start: 'up' }, 'cpu');
  const h = await runToEnd(hot.page);
  assert.ok(h['mean |m| over the second half'] < 0.2, JSON.stringify(h));
  // In a field h the ground state is every spin along h: −2 − |h| per spin, drawn as the dashed line; the
  // source's kT = 2.2 is said to lie below T_c.
  const field = await openWith({ side: 16, sweeps: 20, kt: 2.2, h: -0.5 }, 'cpu');
  await runToEnd(field.page);
  const energy = await field.page.evaluate(() => window.playground.plots.get('energy').handle.plot);
  const ground = energy.series.find((s) => s.name.startsWith('ground state'));
  assert.equal(ground.name, 'ground state −2 − |h| = -2.5');
  assert.deepEqual(ground.points.map((p) => p[1]), [-2.5, -2.5]);
  assert.match(energy.title, /kT = 2\.2 \(below T_c ≈ 2\.269\)/);
  await assertPlotsDrawn(field.page, ['energy']);
  assert.deepEqual(field.errors, []);
  // An odd side is refused next to its field, and nothing runs.
  await hot.page.locator('[name="side"]').fill('33');
  await hot.page.locator('[name="side"]').blur();
  await hot.page.waitForFunction(() => document.querySelector('.control[data-path="side"] .field-error')?.textContent.includes('even'));
  assert.ok(await hot.page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(cold.errors, []);
  assert.deepEqual(hot.errors, []);
});
