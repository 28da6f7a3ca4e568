// Every lab as a student sees it after a default run, at desktop (1440 × 900) and phone (390 × 844) sizes (one
// run, the page narrowed after it), and its teacher's view at desktop size as it opens: full-page screenshots kept in target/screenshots/ for review (the test
// run's artifact), and the checks a screenshot review would make on every lab: nothing wider than a phone's
// screen, every plot that is shown has drawn something, no console error.
//
// Run: node --test tests/e2e/screens.test.mjs (builds dist/ first unless HEBBIAN_SKIP_BUILD is set;
// HEBBIAN_SCREENS_LAB=id for one lab).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DIST, REPO, buildSite, launch, serve, watchConsole } from './harness.mjs';

const SHOTS = join(REPO, 'target', 'screenshots');
const LONG = 180_000;
const SIZES = [{ name: 'desktop', width: 1440, height: 900 }, { name: 'phone', width: 390, height: 844 }];

let server;
let context;

before(async () => {
  buildSite();
  await mkdir(SHOTS, { recursive: true });
  server = await serve(DIST);
  context = await launch({ webgpu: false });
});

after(async () => {
  await context?.close();
  await server?.close();
});

/** The lab ids the landing page lists. */
async function labIds() {
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await page.locator('.lab-list li').first().waitFor();
  const ids = await page.locator('.lab-list li').evaluateAll((items) => items.map((li) => li.dataset.lab));
  await page.close();
  return ids;
}

// Labs whose default run takes a minute or more in the browser run this lighter state instead (the same cells
// and plots, fewer images); their default run is checked natively (tests/hebbconv_lab.rs).
const LIGHT = {
  hebbconv: { train_images: 128, test_images: 100, probe_epochs: 3 },
  credit: { train_images: 1000, valid_images: 300, snr_examples: 100 },
  chl: { train_images: 1000, epochs: 3 },
  rbm: { hidden: 100, epochs: 10, sweeps: 100, dbn: { layer1: 200, layer2: 200, layer3: 0, digits: 500, epochs: 2, lr: 0.1, momentum: 0.5, readout_epochs: 5 } },
};

/** Opens a lab at a size, runs its default experiment (or its lighter state) to the end. */
async function ranLab(id, size) {
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.setViewportSize({ width: size.width, height: size.height });
  await page.goto(`${server.url}/?lab=${id}&backend=cpu`);
  const idle = () => page.waitForFunction(() => {
    const p = window.playground;
    return p && p.engine && p.frame && !p.running && document.getElementById('app').dataset.drawnStep === String(p.frame.step);
  }, null, { timeout: LONG });
  await idle();
  if (LIGHT[id]) {
    await page.evaluate((params) => {
      const p = window.playground;
      p.commit({ ...p.state, params: { ...p.state.params, ...params } });
      // The screenshot's controls show the values run (commit redraws them only when the shape changes).
      p.renderControls();
    }, LIGHT[id]);
    await idle();
  }
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => window.playground.frame.done && !window.playground.running
    && document.getElementById('app').dataset.drawnStep === String(window.playground.frame.total), null, { timeout: LONG });
  return { page, errors };
}

/** The review checks at the page's current size: nothing wider than the window, every shown plot drawn. */
async function checkReadable(page, where) {
  const wide = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, window: innerWidth }));
  assert.ok(wide.page <= wide.window, `${where}: the page is ${wide.page} px wide`);
  // Every plot that is shown has drawn: its canvas holds pixels that are neither blank nor white.
  const blank = await page.evaluate(() => [...document.querySelectorAll('[data-plot-id]')]
    .filter((slot) => !slot.hidden && slot.offsetParent !== null)
    .filter((slot) => {
      const canvas = slot.querySelector('canvas');
      if (!canvas) return true;
      const ctx = canvas.getContext('2d');
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      let drawn = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && Math.min(data[i], data[i + 1], data[i + 2]) < 200) drawn++;
      return drawn < 200;
    }).map((slot) => slot.dataset.plotId));
  assert.deepEqual(blank, [], `${where}: plots without drawing`);
}

test('every lab, run with its defaults (or a lighter state), reads at desktop and phone sizes (screenshots kept for review)', async () => {
  const ids = await labIds();
  assert.ok(ids.length >= 4, ids.join());
  // HEBBIAN_SCREENS_LAB=id shoots one lab (while working on it); CI shoots them all.
  const only = process.env.HEBBIAN_SCREENS_LAB;
  for (const id of ids.filter((i) => !only || i === only)) {
    // One run per lab: shot at desktop size, then the same page narrowed to a phone's (plots follow their
    // container's size, so this is what a phone draws after the same run).
    const [desktop, phone] = SIZES;
    const { page, errors } = await ranLab(id, desktop);
    await page.screenshot({ path: join(SHOTS, `${id}-${desktop.name}.png`), fullPage: true });
    await checkReadable(page, `${id} at ${desktop.width} × ${desktop.height}`);
    await page.setViewportSize({ width: phone.width, height: phone.height });
    // Resize observers redraw on the next frames.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 300)))));
    await page.screenshot({ path: join(SHOTS, `${id}-${phone.name}.png`), fullPage: true });
    await checkReadable(page, `${id} at ${phone.width} × ${phone.height}`);
    assert.deepEqual(errors, [], id);
    await page.close();
    // The teacher's view adds goals and answers (text): shot as it opens, without a run.
    const teacher = await context.newPage();
    await teacher.setViewportSize({ width: desktop.width, height: desktop.height });
    await teacher.goto(`${server.url}/?lab=${id}&backend=cpu&teacher=1`);
    // Every plot of the step-0 frame drawn (the SOM's second component-plane panel was missing from a shot taken
    // as soon as the frame arrived).
    await teacher.waitForFunction(() => {
      const p = window.playground;
      return p && p.engine && p.frame && document.getElementById('app').dataset.drawnStep === String(p.frame.step);
    }, null, { timeout: LONG });
    await teacher.screenshot({ path: join(SHOTS, `${id}-teacher.png`), fullPage: true });
    await teacher.close();
  }
});
