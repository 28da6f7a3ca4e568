// End-to-end tests of the Boltzmann-machine lab in the built site (dist/): the three-unit table shows the
// lecture's Z = 2.6919 and the worked update w12 0.2 → 0.19 (TC-11, TC-12), every plot draws, the letters are
// learnt (exact and chain variants recall all four corrupted letters), and the page's link run by the native CLI
// gives the page's numbers exactly.
//
// Run: node --test tests/e2e/boltzmann.test.mjs (builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DIST, assertPlotsDrawn, buildSite, cliMetrics, frameMetrics, launch, openLab, serve, waitDrawnToEnd } from './harness.mjs';

const LONG = 120_000;
const PLOTS = ['three_table', 'worked_update', 'energy', 'likelihood', 'probabilities', 'weights_exact', 'weights_chains', 'weights_lecture', 'recall'];

let server;
let context;

before(async () => {
  buildSite();
  server = await serve(DIST);
  context = await launch({ webgpu: false });
});

after(async () => {
  await context?.close();
  await server?.close();
});

test('the three-unit table, the worked update, learning and recall; the link gives the CLI numbers', async () => {
  const { page, errors } = await openLab(context, `${server.url}/?lab=boltzmann&backend=cpu`, { params: { epochs: 300 }, view: { speed: 50 }, timeout: LONG });
  const table = await page.evaluate(() => window.playground.plots.get('three_table').handle.plot);
  assert.match(table.title, /Z = 2\.6919/);
  assert.deepEqual(table.rows.map((r) => Number(r[1])), [0, 1, 1, 1.7, 1, 1.9, 1.8, 2.4]);
  assert.deepEqual(table.rows.map((r) => r[3]), ['0.3715', '0.1367', '0.1367', '0.0679', '0.1367', '0.0556', '0.0614', '0.0337']);
  const worked = await page.evaluate(() => window.playground.plots.get('worked_update').handle.plot);
  assert.deepEqual(worked.rows[0], ['w₁₂', '0.3', '0.4', '0.2', '0.19']);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, LONG);
  await assertPlotsDrawn(page, PLOTS);
  const m = await frameMetrics(page);
  assert.equal(m['recall correct (of 4), exact'], 4, JSON.stringify(m));
  assert.equal(m['recall correct (of 4), chains'], 4, JSON.stringify(m));
  assert.ok(m['log-likelihood per letter, exact'] > -2.5, JSON.stringify(m));
  const native = await cliMetrics(await page.evaluate(() => window.playground.state));
  for (const [name, value] of Object.entries(m)) if (!name.includes('per second')) assert.equal(native[name], value, name);
  assert.deepEqual(errors, []);
  await page.close();
});

test('too many hidden units are refused next to their field with the limit stated', async () => {
  const { page, errors } = await openLab(context, `${server.url}/?lab=boltzmann&backend=cpu`, { timeout: LONG });
  await page.locator('[name="hidden"]').fill('8');
  await page.locator('[name="hidden"]').blur();
  await page.waitForFunction(() => document.querySelector('.control[data-path="hidden"] .field-error')?.textContent.includes('7'));
  assert.ok(await page.getByRole('button', { name: 'Run', exact: true }).isDisabled());
  assert.deepEqual(errors, []);
  await page.close();
});
