// End-to-end tests of the Ising lab in the built site (dist/): the lattice and both curves draw on WebGPU
// (SwiftShader) and on the CPU, the GPU's checkerboard gives the CPU's lattice bit for bit, the permalink
// reproduces the CLI's numbers, and physics: ordered below T_c, disordered above. The temperature sweep draws
// |m|, e and c against kT with Onsager's curves, the same on WebGPU and the CPU, and its permalink restores it.
//
// Run: node --test tests/e2e/ising.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cliMetrics, frameMetrics, launch, openLab, serve, waitDrawnToEnd, watchConsole } from './harness.mjs';

const LONG = 120_000;
const PLOTS = ['lattice', 'magnetisation', 'energy'];

let server;
let gpuContext;

before(async () => {
  buildSite();
  server = await serve(DIST);
  gpuContext = await launch({ webgpu: true });
});

after(async () => {
  await gpuContext?.close();
  await server?.close();
});

/** Opens the Ising lab with `params` changed from the defaults, on `backend`; waits for the step-0 frame. */
const openWith = (params, backend) => openLab(gpuContext, `${server.url}/?lab=ising&backend=${backend}`, { params, view: { speed: 25 }, timeout: LONG });

async function runToEnd(page) {
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  return frameMetrics(page);
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
  assert.deepEqual(await cliMetrics(await cold.page.evaluate(() => window.playground.state)), m);
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

const SWEEP = {
  kind: 'temperature_sweep',
  side: 16,
  sweep: { kt_from: 1.0, kt_to: 3.5, temperatures: 6, equilibration: 20, measurement: 60, start: 'continue_from_previous' },
};
const SWEEP_PLOTS = ['lattice', 'sweep_m', 'sweep_e', 'sweep_c'];

test('a temperature sweep draws its plots, agrees on WebGPU and the CPU, and its link restores it', async () => {
  const cpu = await openWith(SWEEP, 'cpu');
  // The sweep's controls show, the one-temperature ones hide.
  assert.ok(await cpu.page.locator('[name="sweep/kt_to"]').isVisible());
  assert.ok(await cpu.page.locator('[name="kt"]').isHidden());
  const m = await runToEnd(cpu.page);
  assert.equal(await cpu.page.locator('.progress-text').textContent(), `sweep ${6 * 80} / ${6 * 80}`);
  assert.equal(m['temperatures done'], 6);
  assert.ok(m['T_c estimate: kT where mean |m| first falls below 0.5'] > 1.5, JSON.stringify(m));
  await assertPlotsDrawn(cpu.page, SWEEP_PLOTS);
  const plot = await cpu.page.evaluate(() => window.playground.plots.get('sweep_m').handle.plot);
  const measured = plot.series.find((s) => s.name === 'measured ⟨|m|⟩');
  const onsager = plot.series.find((s) => s.name === "Onsager's m₀ (infinite lattice)");
  assert.deepEqual(measured.points.map((p) => p[0]), [1, 1.5, 2, 2.5, 3, 3.5]);
  assert.equal(onsager.mark, 'dashed');
  assert.equal(onsager.color, measured.color);
  // The same sweep on WebGPU: the same numbers.
  const gpu = await openWith(SWEEP, 'gpu');
  assert.equal(await gpu.page.evaluate(() => window.playground.engine.kind), 'gpu');
  assert.deepEqual(await runToEnd(gpu.page), m);
  await assertPlotsDrawn(gpu.page, ['sweep_m']);
  // The permalink opens the sweep again, and it runs to the same numbers (and the CLI's).
  const url = await cpu.page.evaluate(() => location.href);
  assert.match(url, /#s=/);
  const again = await gpuContext.newPage();
  await again.setViewportSize({ width: 1200, height: 1000 });
  const errors = watchConsole(again);
  await again.goto(url);
  await again.waitForFunction(() => window.playground?.frame && document.getElementById('app').dataset.drawnStep === '0', null, { timeout: LONG });
  const state = await again.evaluate(() => window.playground.state);
  assert.equal(state.params.kind, 'temperature_sweep');
  assert.deepEqual(state.params.sweep, SWEEP.sweep);
  assert.deepEqual(await runToEnd(again), m);
  await assertPlotsDrawn(again, ['sweep_e', 'sweep_c']);
  assert.deepEqual(await cliMetrics(state), m);
  // kT to at or below kT from is refused next to its field.
  await again.locator('[name="sweep/kt_to"]').fill('0.5');
  await again.locator('[name="sweep/kt_to"]').blur();
  await again.waitForFunction(() => document.querySelector('.control[data-path="sweep/kt_to"] .field-error')?.textContent.includes('above kT from'));
  assert.ok(await again.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(cpu.errors, []);
  assert.deepEqual(gpu.errors, []);
  assert.deepEqual(errors, []);
  await Promise.all([cpu.page.close(), gpu.page.close(), again.close()]);
});

test('a link made before the sweep existed opens as one temperature', async () => {
  const page = await gpuContext.newPage();
  await page.goto(`${server.url}/?lab=ising&backend=cpu`);
  await page.waitForFunction(() => window.playground?.frame, null, { timeout: LONG });
  // The default state without the fields the sweep added.
  const link = await page.evaluate(() => {
    const p = window.playground;
    const { kind, sweep, ...params } = p.state.params;
    return p.wasm.encode_link({ ...p.state, params });
  });
  await page.close();
  const old = await gpuContext.newPage();
  const errors = watchConsole(old);
  await old.goto(`${server.url}/?lab=ising&backend=cpu#${link}`);
  await old.waitForFunction(() => window.playground?.frame && document.getElementById('app').dataset.drawnStep === '0', null, { timeout: LONG });
  assert.equal(await old.evaluate(() => window.playground.state.params.kind), 'one_temperature');
  assert.ok(await old.locator('[name="kt"]').isVisible());
  assert.ok(await old.locator('[name="sweep/kt_to"]').isHidden());
  assert.deepEqual(errors, []);
  await old.close();
});
