// End-to-end tests of the Datasets lab and the page's data paths: the shipped MNIST asset streamed into the worker
// with a progress bar, Iris, the pattern editor and its permalink, the user's own MNIST / CIFAR-10 files (file
// input, IndexedDB across reloads, Forget), every malformed file and unreadable URL, class restriction, and colour.
//
// Run: node --test tests/e2e/data.test.mjs
// Builds dist/ with `trunk build` first unless HEBBIAN_SKIP_BUILD is set. Needs /usr/bin/chromium, `npm ci` and
// scripts/setup.sh's data (target/data, copied into dist/data by the build).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DIST, buildSite, countDrawnPixels, launch, serve, watchConsole } from './harness.mjs';

const LONG = 120_000;

let server; // the site
let other; // another origin without CORS headers, serving the test files
let context;
let tmp;
let files; // name -> path of the generated test files

before(async () => {
  buildSite();
  assert.ok(existsSync(join(DIST, 'data', 'mnist', 'mnist-10k-images-idx3-ubyte.gz')), 'dist/data is missing: run scripts/setup.sh, then trunk build');
  tmp = await mkdtemp(join(tmpdir(), 'hebbian-data-'));
  files = await writeTestFiles(join(tmp, 'files'));
  server = await serve(DIST);
  other = await serve(join(tmp, 'files'));
  context = await launch({ webgpu: false });
});

after(async () => {
  await context?.close();
  await server?.close();
  await other?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------------
// Test files

/** An IDX file: magic 00 00 08 <dims>, the dimensions (big-endian u32), then the bytes. */
function idx(dims, data, { type = 0x08 } = {}) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(type, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

/** `n` 28×28 "digits": sample i has label i % 10 and a bright 6-pixel-wide bar whose place depends on its label. */
function mnistPair(n, { labels = n } = {}) {
  const pixels = new Uint8Array(n * 784);
  for (let i = 0; i < n; i++) {
    const l = i % 10;
    for (let r = 4; r < 24; r++) for (let c = 2 + 2 * l; c < 8 + 2 * l; c++) pixels[i * 784 + r * 28 + c] = 255;
  }
  return {
    images: idx([n, 28, 28], pixels),
    labels: idx([labels], Array.from({ length: labels }, (_, i) => i % 10)),
  };
}

/** `n` CIFAR-10 records: label i % 10, then a saturated colour (red, green or blue by label) as R, G, B planes. */
function cifarBatch(n) {
  const out = Buffer.alloc(n * 3073);
  for (let i = 0; i < n; i++) {
    const l = i % 10;
    out[i * 3073] = l;
    const plane = l % 3;
    for (let k = 0; k < 1024; k++) out[i * 3073 + 1 + plane * 1024 + k] = 128 + (k % 32) * 4;
  }
  return out;
}

async function writeTestFiles(dir) {
  await mkdir(dir, { recursive: true });
  const good = mnistPair(30);
  const small = mnistPair(20);
  const wrongMagic = Buffer.from(good.images);
  wrongMagic.writeUInt8(0x12, 0); // an IDX magic number starts with two zero bytes
  const gzImages = gzipSync(small.images);
  const corrupt = Buffer.from(gzImages);
  for (let i = 20; i < corrupt.length - 20; i += 7) corrupt[i] ^= 0x5a;
  const contents = {
    'train-images-idx3-ubyte': good.images,
    'train-labels-idx1-ubyte': good.labels,
    'gz/train-images-idx3-ubyte.gz': gzImages,
    'gz/train-labels-idx1-ubyte.gz': gzipSync(small.labels),
    'magic/train-images-idx3-ubyte': wrongMagic,
    'truncated/train-images-idx3-ubyte': good.images.subarray(0, 16 + 784 * 12 + 100),
    'mismatch/train-labels-idx1-ubyte': mnistPair(30, { labels: 29 }).labels,
    'corrupt/train-images-idx3-ubyte.gz': corrupt,
    'data_batch_1.bin': cifarBatch(20),
    'short/data_batch_1.bin': cifarBatch(20).subarray(0, 3073 * 2 + 100),
  };
  const paths = {};
  for (const [name, bytes] of Object.entries(contents)) {
    paths[name] = join(dir, name);
    await mkdir(dirname(paths[name]), { recursive: true });
    await writeFile(paths[name], bytes);
  }
  return paths;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/**
 * Opens `path` in a new page of `ctx`; returns {page, errors}. The page records every text the data-load
 * progress line shows (window.__loadTexts), however briefly it shows.
 */
async function open(ctx, path) {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  const errors = watchConsole(page);
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
  });
  await page.addInitScript(() => {
    window.__loadTexts = [];
    new MutationObserver(() => {
      const row = document.querySelector('.load-row');
      const text = row && !row.hidden ? row.querySelector('.load-text').textContent : null;
      if (text && window.__loadTexts.at(-1) !== text) window.__loadTexts.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await page.goto(`${server.url}/${path}`);
  return { page, errors };
}

/** Waits until dataset cell `id` shows a line matching `line` and every plot of the frame is drawn. */
async function waitView(page, id, line = /./) {
  await page.waitForFunction(({ id, source, flags }) => {
    const p = window.playground;
    const cell = document.querySelector(`[data-dataset-id="${id}"]`);
    return p && cell && !cell.hidden && new RegExp(source, flags).test(cell.querySelector('.dataset-line').textContent)
      && p.pending.size === 0 && p.plots.get(`${id}:examples`).handle !== null
      && document.getElementById('app').dataset.drawnStep === String(p.frame.step);
  }, { id, source: line.source, flags: line.flags }, { timeout: LONG });
  return page.locator(`[data-dataset-id="${id}"] .dataset-line`).textContent();
}

/** Sets a generated control the way a user does (type, then leave the field). */
async function setControl(page, name, value) {
  const control = page.locator(`[name="${name}"]`);
  if (await control.evaluate((e) => e.tagName === 'SELECT')) await control.selectOption(String(value));
  else {
    await control.fill(String(value));
    await control.blur();
  }
}

const button = (page, name) => page.getByRole('button', { name, exact: true });
const errorTexts = (page) => page.locator('#messages .message.error').allTextContents();

/** Dismisses every message, so that the next check sees only new ones. */
async function clearMessages(page) {
  await page.evaluate(() => document.querySelectorAll('#messages .message').forEach((m) => m.remove()));
}

/**
 * Pixel counts of plot `id` as drawn and of the same plot redrawn next to it (same size) in other variants:
 * `empty` (no data: title and axes only) and, for images, `flat` (every image one grey: its mean value), each
 * also with its count of edges (see countEdges).
 */
async function plotVariants(page, id, { minChroma = 0 } = {}) {
  await page.evaluate(async (id) => {
    const { renderPlot } = await import('./plots.js');
    const slot = document.querySelector(`[data-plot-id="${id}"]`);
    const plot = window.playground.plots.get(id).handle.plot;
    const variants = { empty: structuredClone(plot) };
    if (plot.kind === 'xy') for (const s of variants.empty.series) s.points = [];
    if (plot.kind === 'bars') for (const s of variants.empty.series) s.values = [];
    if (plot.kind === 'images') {
      variants.empty.images = [];
      variants.flat = structuredClone(plot);
      for (const img of variants.flat.images) {
        const mean = img.pixels.reduce((a, v) => a + v, 0) / img.pixels.length;
        img.pixels = img.pixels.map(() => mean);
      }
    }
    for (const [name, p] of Object.entries(variants)) {
      const div = document.createElement('div');
      div.className = slot.className;
      div.style.cssText = slot.style.cssText;
      div.dataset.variant = name;
      slot.after(div);
      renderPlot(div, p, { toolbar: false });
    }
  }, id);
  const selectors = { drawn: `[data-plot-id="${id}"] .plot-chart` };
  for (const name of ['empty', 'flat']) {
    if (await page.locator(`[data-variant="${name}"]`).count()) selectors[name] = `[data-variant="${name}"] .plot-chart`;
  }
  const counts = {};
  for (const [name, selector] of Object.entries(selectors)) {
    counts[name] = await countDrawnPixels(page, selector, { minChroma });
    counts[`${name}Edges`] = await countEdges(page, selector);
  }
  await page.evaluate(() => document.querySelectorAll('[data-variant]').forEach((e) => e.remove()));
  return counts;
}

/**
 * Detail in the canvases of `selector`: pixels whose brightness differs from their right-hand neighbour's by more
 * than 10 of 255. A flat square has edges only along its border; strokes and textures have many.
 */
function countEdges(page, selector) {
  return page.evaluate((selector) => {
    let edges = 0;
    for (const c of document.querySelector(selector).querySelectorAll('canvas')) {
      const { data, width, height } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      const lum = (i) => data[i] + data[i + 1] + data[i + 2];
      for (let y = 0; y < height; y++) {
        for (let x = 0; x + 1 < width; x++) {
          const i = 4 * (y * width + x);
          if (data[i + 3] > 0 && Math.abs(lum(i) - lum(i + 4)) > 30) edges++;
        }
      }
    }
    return edges;
  }, selector);
}

/**
 * Asserts that an image grid shows real pictures: far more drawn pixels than an empty chart, and far more detail
 * (edges) than the same grid with every image flat at its mean (which keeps the borders between images and
 * background, and removes everything inside the images).
 */
async function assertImagesDrawn(page, id) {
  const c = await plotVariants(page, id);
  assert.ok(c.drawn > c.empty + 5000, `${id}: ${JSON.stringify(c)} (drawn vs empty chart)`);
  assert.ok(c.drawnEdges > c.flatEdges + Math.max(800, 0.2 * c.flatEdges), `${id}: ${JSON.stringify(c)} (detail vs flat images)`);
  return c;
}

/** Asserts that a chart with coloured marks (bars, scatter) draws clearly more colour than without its data. */
async function assertColourDrawn(page, id) {
  const c = await plotVariants(page, id, { minChroma: 40 });
  assert.ok(c.drawn > 2 * c.empty && c.drawn > c.empty + 400, `${id}: ${JSON.stringify(c)}`);
  return c;
}

/** Loads test files through the panel's file input. */
async function pickFiles(page, format, names) {
  await page.locator('select[name="data-format"]').selectOption(format);
  await page.locator('input[name="data-files"]').setInputFiles(names.map((n) => files[n]));
}

const unexpected = (errors, allowed = []) => errors.filter((e) => !allowed.some((re) => re.test(e)));

// ---------------------------------------------------------------------------------------------------------------
// Tests

test('the shipped MNIST digits load with a progress bar and are drawn', async () => {
  const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
  const line = await waitView(page, 'data', /10000 samples/);
  assert.match(line, /^MNIST .*10000 samples \(8006 train \/ 997 validation \/ 997 test\), 1×28×28, 10 classes/);
  // The progress line showed the download, in MB of the two files together (1.6 MB).
  const texts = await page.evaluate(() => window.__loadTexts);
  assert.ok(texts.length >= 2, JSON.stringify(texts));
  assert.match(texts[0], /^Loading MNIST digits… 0\.0 \/ 1\.6 MB$/);
  assert.match(texts.at(-1), /^Loading MNIST digits… 1\.6 \/ 1\.6 MB$/);
  assert.equal(await page.locator('.load-row').count(), 0, 'the progress line goes once loaded');
  // 8 examples of each of the 10 digits, labelled by class.
  const plot = await page.evaluate(() => window.playground.plots.get('data:examples').handle.plot);
  assert.equal(plot.images.length, 80);
  assert.deepEqual([...new Set(plot.images.map((i) => i.label))], ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  await assertImagesDrawn(page, 'data:examples');
  await assertColourDrawn(page, 'data:classes');
  // Nothing to load for the prepared view before Run; the Run button works.
  assert.equal(await page.locator('[data-dataset-id="prepared"]').isHidden(), true);
  assert.equal(await button(page, 'Run').isDisabled(), false);
  assert.deepEqual(await errorTexts(page), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('restricting the classes to 0 and 1 keeps exactly those two', async () => {
  const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
  await waitView(page, 'data', /10000 samples/);
  await setControl(page, 'preprocess/classes', '0, 1');
  await page.waitForFunction(() => JSON.stringify(window.playground.state.params.preprocess.classes) === '[0,1]');
  assert.equal(await page.inputValue('input[name="preprocess/classes"]'), '0, 1');
  await waitView(page, 'data', /10000 samples/);
  await button(page, 'Run').click();
  // The prepared line counts the samples kept, not the dataset as loaded.
  const prepared = await waitView(page, 'prepared', /after preprocessing/);
  assert.match(prepared, /after preprocessing: \d+ samples \(1704 train \//);
  const { classes, examples, metrics } = await page.evaluate(() => ({
    classes: window.playground.plots.get('prepared:classes').handle.plot,
    examples: window.playground.plots.get('prepared:examples').handle.plot,
    metrics: window.playground.frame.metrics,
  }));
  const nonZero = classes.categories.filter((_, c) => classes.series.some((s) => s.values[c] > 0));
  assert.deepEqual(nonZero, ['0', '1'], JSON.stringify(classes.series));
  assert.deepEqual([...new Set(examples.images.map((i) => i.label))], ['0', '1']);
  // The shipped split keeps 801 of the 1001 zeros and 903 of the 1127 ones for training.
  assert.equal(metrics.find((m) => m.name === 'training samples after restriction').value, 1704);
  assert.deepEqual(classes.series.find((s) => s.name === 'train').values.slice(0, 2), [801, 903]);
  assert.ok(examples.title.includes('classes [0, 1]'), examples.title);
  await assertColourDrawn(page, 'prepared:classes');
  await assertImagesDrawn(page, 'prepared:examples');
  // A list that is not numbers is refused next to the field, and nothing is committed.
  await setControl(page, 'preprocess/classes', '0, one');
  const row = page.locator('.control[data-path="preprocess/classes"]');
  await page.waitForFunction(() => document.querySelector('.control[data-path="preprocess/classes"] .field-error').textContent !== '');
  assert.match(await row.locator('.field-error').textContent(), /"one" is not a whole number/);
  // A class the dataset does not have: Rust's validation message, at the field.
  await setControl(page, 'preprocess/classes', '0, 12');
  await page.waitForFunction(() => /class 12 does not exist/.test(document.querySelector('.control[data-path="preprocess/classes"] .field-error').textContent));
  assert.equal(await button(page, 'Run').isDisabled(), true);
  assert.equal(await page.evaluate(() => JSON.stringify(window.playground.state.params.preprocess.classes)), '[0,1]');
  assert.deepEqual(errors, []);
  await page.close();
});

test('Iris shows a scatter; other sources show only their own settings', async () => {
  const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
  await waitView(page, 'data', /10000 samples/);
  await setControl(page, 'source/kind', 'iris');
  await waitView(page, 'data', /^Iris: 150 samples/);
  const plot = await page.evaluate(() => window.playground.plots.get('data:examples').handle.plot);
  assert.equal(plot.kind, 'xy');
  assert.deepEqual(plot.series.map((s) => s.name), ['setosa', 'versicolor', 'virginica']);
  await assertColourDrawn(page, 'data:examples');
  await assertColourDrawn(page, 'data:classes');
  // x-when: only the chosen source's settings show; blobs' centres are pairs of number fields.
  assert.equal(await page.locator('[name="source/blobs/spread"]').isVisible(), false);
  await setControl(page, 'source/kind', 'blobs');
  await waitView(page, 'data', /blobs/i);
  assert.equal(await page.locator('[name="source/blobs/spread"]').isVisible(), true);
  assert.equal(await page.inputValue('input[name="source/blobs/centres/1/0"]'), '2');
  assert.equal(await page.inputValue('input[name="source/blobs/centres/1/1"]'), '1');
  await setControl(page, 'source/blobs/centres/1/1', '-1.5');
  await page.waitForFunction(() => window.playground.state.params.source.blobs.centres[1][1] === -1.5);
  assert.deepEqual(await page.evaluate(() => window.playground.state.params.source.blobs.centres[1]), [2, -1.5]);
  // Items are labelled neutrally, and adding one copies the last.
  const legends = await page.locator('[data-when="blobs"] fieldset.array legend, [data-when="blobs"] .control[data-path^="source/blobs/centres/"] .control-label').allTextContents();
  assert.deepEqual(legends, ['centres', '#1', '#2', '#3']);
  await button(page, 'add #4').click();
  await page.waitForFunction(() => window.playground.state.params.source.blobs.centres.length === 4);
  assert.equal(await page.locator('[name="source/letters/bipolar"]').isVisible(), false);
  assert.equal(await page.locator('.pattern-editor').isVisible(), false);
  assert.equal(await page.locator('body').textContent().then((t) => t.includes('add a distribution')), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('letters already ±1: "map 0/1 to ±1" leaves them alone and says so, a 20 % flip stays ±1, the line tells', async () => {
  const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
  await waitView(page, 'data', /10000 samples/);
  await setControl(page, 'source/kind', 'letters');
  await waitView(page, 'data', /Letter patterns \(bipolar/);
  // The two remaining "bipolar" boxes say what they do; the corruption has none.
  const labelOf = (path) => page.locator(`.control[data-path="${path}"] .control-label`).textContent();
  assert.equal(await labelOf('source/letters/bipolar'), 'letters as ±1 (else 0/1)');
  assert.equal(await labelOf('preprocess/bipolar'), 'map 0/1 to ±1 (2v − 1)');
  assert.equal(await page.locator('[name="corruption/bipolar"]').count(), 0);
  await page.locator('[name="preprocess/bipolar"]').check();
  await setControl(page, 'corruption/flip_percent', '20');
  await page.waitForFunction(() => {
    const p = window.playground.state.params;
    return p.preprocess.bipolar === true && p.corruption.flip_percent === 20;
  });
  await button(page, 'Run').click();
  const line = await waitView(page, 'prepared', /after preprocessing/);
  assert.match(line, /values -1…1 \(±1 only\)/);
  const pixels = await page.evaluate(() => window.playground.plots.get('prepared:examples').handle.plot.images.flatMap((i) => i.pixels));
  assert.deepEqual([...new Set(pixels)].sort(), [-1, 1]);
  const warnings = await page.locator('#messages .message.warning').allTextContents();
  assert.ok(warnings.some((w) => w.includes('already ±1')), JSON.stringify(warnings));
  assert.deepEqual(await errorTexts(page), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('natural-image patches load the shipped photographs with progress', async () => {
  const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
  await waitView(page, 'data', /10000 samples/);
  await page.evaluate(() => (window.__loadTexts = []));
  await setControl(page, 'source/kind', 'patches');
  const line = await waitView(page, 'data', /^Natural-image patches \(12×12\): 2000 samples/);
  assert.match(line, /1×12×12/);
  const texts = await page.evaluate(() => window.__loadTexts);
  const photos = (await readdir(join(DIST, 'data', 'photos'))).filter((f) => f.endsWith('.png')).length;
  assert.ok(texts.includes(`Loading photographs… 0 / ${photos} files`), JSON.stringify(texts));
  await assertImagesDrawn(page, 'data:examples');
  assert.deepEqual(await errorTexts(page), []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('letters: drawing in the pattern editor changes the state and the link', async () => {
  const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
  await waitView(page, 'data', /10000 samples/);
  assert.equal(await page.locator('.pattern-editor').isVisible(), false);
  await setControl(page, 'source/kind', 'letters');
  await waitView(page, 'data', /Letter patterns/);
  assert.equal(await page.locator('.pattern-editor').isVisible(), true);
  assert.equal(await page.locator('.pattern-grid').count(), 5);
  assert.equal(await page.locator('[name="source/letters/bipolar"]').isVisible(), true);
  // The generic controls leave the patterns to the editor.
  assert.equal(await page.locator('.controls [name^="source/letters/patterns"]').count(), 0);
  const before = await page.evaluate(() => ({ hash: location.hash, cells: window.playground.state.params.source.letters.patterns[0].cells }));
  assert.equal(before.cells, '###.#..#.');

  // Click the bottom-left cell of T (row 2, column 0): off -> on.
  const cellCentre = async (pattern, row, col) => {
    const grid = page.locator(`.pattern-grid[data-pattern="${pattern}"]`);
    const box = await grid.boundingBox();
    const [rows, cols] = await grid.evaluate((c) => [Number(c.dataset.rows), Number(c.dataset.cols)]);
    return [box.x + ((col + 0.5) * box.width) / cols, box.y + ((row + 0.5) * box.height) / rows];
  };
  await page.mouse.click(...(await cellCentre(0, 2, 0)));
  await page.waitForFunction(() => window.playground.state.params.source.letters.patterns[0].cells === '###.#.##.');
  const url = await page.evaluate(() => location.href);
  assert.notEqual(new URL(url).hash, before.hash);
  await waitView(page, 'data', /Letter patterns/);
  const examples = await page.evaluate(() => window.playground.plots.get('data:examples').handle.plot.images[0]);
  assert.deepEqual(examples.pixels, [1, 1, 1, -1, 1, -1, 1, 1, -1]);

  // Add a blank pattern and drag along its middle row.
  await button(page, 'add a blank pattern').click();
  await page.waitForFunction(() => window.playground.state.params.source.letters.patterns.length === 6);
  const [x0, y] = await cellCentre(5, 1, 0);
  const [x2] = await cellCentre(5, 1, 2);
  await page.mouse.move(x0, y);
  await page.mouse.down();
  await page.mouse.move((x0 + x2) / 2, y, { steps: 4 });
  await page.mouse.move(x2, y, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(() => window.playground.state.params.source.letters.patterns[5].cells === '...###...');
  // Rename it; a name longer than 24 characters is refused next to the name.
  await page.locator('input[name="source/letters/patterns/5/name"]').fill('bar');
  await page.locator('input[name="source/letters/patterns/5/name"]').blur();
  await page.waitForFunction(() => window.playground.state.params.source.letters.patterns[5].name === 'bar');
  await page.locator('input[name="source/letters/patterns/5/name"]').evaluate((i) => {
    i.removeAttribute('maxlength');
    i.value = 'a name far longer than twenty-four';
    i.dispatchEvent(new Event('change'));
  });
  await page.waitForFunction(() => document.querySelector('.control[data-path="source/letters/patterns/5/name"] .field-error').textContent !== '');
  assert.match(await page.locator('.control[data-path="source/letters/patterns/5/name"] .field-error').textContent(), /at most 24 characters/);
  assert.equal(await page.evaluate(() => window.playground.state.params.source.letters.patterns[5].name), 'bar');

  // The link carries the drawing: a fresh page shows the same cells, and draws them.
  const link = await page.evaluate(() => location.href);
  const state = await page.evaluate(() => window.playground.state);
  const second = await open(context, link.slice(server.url.length + 1));
  await waitView(second.page, 'data', /Letter patterns/);
  assert.deepEqual(await second.page.evaluate(() => window.playground.state), state);
  assert.equal(await second.page.locator('.pattern-grid').count(), 6);
  const [cx, cy] = await (async () => {
    const grid = second.page.locator('.pattern-grid[data-pattern="0"]');
    const box = await grid.boundingBox();
    return [box.width / 6, (5 * box.height) / 6]; // row 2, column 0
  })();
  const pixelAt = (x, y) => second.page.locator('.pattern-grid[data-pattern="0"]').evaluate((c, [x, y]) => {
    const r = c.getBoundingClientRect();
    return [...c.getContext('2d').getImageData(Math.floor((x * c.width) / r.width), Math.floor((y * c.height) / r.height), 1, 1).data];
  }, [x, y]);
  const on = await pixelAt(cx, cy);
  // Ink on paper, as the labs' plots draw letters.
  assert.ok(on[0] < 60 && on[1] < 60 && on[2] < 60, `the drawn cell is on (black ink): ${on}`);
  const off = await pixelAt(cx, cy - cy / 2.5); // row 1, column 0: off
  assert.ok(off[0] > 200 && off[1] > 200 && off[2] > 200, `an off cell is paper (white): ${off}`);

  // A new 4×6 set replaces the patterns with one blank pattern of that size.
  await second.page.locator('input[name="new-set-rows"]').fill('4');
  await second.page.locator('input[name="new-set-cols"]').fill('6');
  await button(second.page, 'new set').click();
  await second.page.waitForFunction(() => JSON.stringify(window.playground.state.params.source.letters.patterns)
    === JSON.stringify([{ name: 'A', rows: 4, cols: 6, cells: '.'.repeat(24) }]));
  await second.page.locator('input[name="new-set-rows"]').fill('40');
  await button(second.page, 'new set').click();
  assert.match(await second.page.locator('.new-set .field-error').textContent(), /1 to 32/);
  assert.deepEqual(errors, []);
  assert.deepEqual(second.errors, []);
  await page.close();
  await second.page.close();
});

test('letters: the pattern editor works from the keyboard and says where the cursor is', async () => {
  const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
  await waitView(page, 'data', /10000 samples/);
  await setControl(page, 'source/kind', 'letters');
  await waitView(page, 'data', /Letter patterns/);
  const cells = () => page.evaluate(() => window.playground.state.params.source.letters.patterns[1].cells);
  assert.equal(await cells(), '#.##.####'); // U
  // Tab order reaches the grids; focus U's grid, move to row 2, column 2 (the centre) and switch it on.
  await page.locator('.pattern-grid[data-pattern="1"]').focus();
  const spoken = page.locator('.pattern-editor [aria-live]');
  assert.equal(await spoken.textContent(), 'U: row 1, column 1, on');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowRight');
  assert.equal(await spoken.textContent(), 'U: row 2, column 2, off');
  await page.keyboard.press('Space');
  await page.waitForFunction(() => window.playground.state.params.source.letters.patterns[1].cells === '#.#######');
  // The redrawn grid keeps the focus and the cursor: Space again switches the same cell back.
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.pattern), '1');
  assert.equal(await spoken.textContent(), 'U: row 2, column 2, on');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.playground.state.params.source.letters.patterns[1].cells === '#.##.####');
  // The arrows stop at the edges.
  for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowLeft');
  assert.equal(await spoken.textContent(), 'U: row 2, column 1, on');
  assert.deepEqual(errors, []);
  await page.close();
});

test('your own files: loaded from the file input, kept across reloads, forgotten', async () => {
  const ctx = await launch({ webgpu: false });
  try {
    const { page, errors } = await open(ctx, '?lab=datasets&backend=cpu');
    await waitView(page, 'data', /10000 samples/);
    assert.equal(await page.locator('.data-panel').isVisible(), true);
    await pickFiles(page, 'mnist_idx', ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte']);
    // Loading switches the source to the user's MNIST and draws it.
    const line = await waitView(page, 'data', /30 samples/);
    assert.match(line, /30 samples \(24 train \/ 6 validation \/ 0 test\), 1×28×28, 10 classes/);
    assert.equal(await page.evaluate(() => window.playground.state.params.source.kind), 'user_mnist');
    assert.equal(await page.inputValue('select[name="source/kind"]'), 'user_mnist');
    assert.match(await page.locator('.data-status li[data-format="mnist_idx"]').textContent(), /Loaded: .*30 samples/);
    const texts = await page.evaluate(() => window.__loadTexts);
    assert.ok(texts.some((t) => /^Loading 2 MNIST IDX files… /.test(t)), JSON.stringify(texts));
    await assertImagesDrawn(page, 'data:examples');
    const pixels = await page.evaluate(() => window.playground.plots.get('data:examples').handle.plot.images[0].pixels);
    assert.equal(pixels.filter((v) => v > 0.99).length, 6 * 20, "the first example is the generated bar");

    // A reload loads them again from IndexedDB, without asking.
    await page.reload();
    await waitView(page, 'data', /30 samples/);
    assert.equal(await page.locator('.data-panel .need').isVisible(), false);
    assert.match(await page.locator('.data-status li[data-format="mnist_idx"]').textContent(), /Loaded: .*30 samples/);
    assert.ok((await page.evaluate(() => window.__loadTexts)).length > 0, 'the reload showed its progress');

    // The gzipped pair replaces them.
    await pickFiles(page, 'mnist_idx', ['gz/train-images-idx3-ubyte.gz', 'gz/train-labels-idx1-ubyte.gz']);
    await waitView(page, 'data', /20 samples/);

    // A CIFAR-10 batch: drawn in colour.
    await pickFiles(page, 'cifar10', ['data_batch_1.bin']);
    const cifarLine = await waitView(page, 'data', /3×32×32/);
    assert.match(cifarLine, /20 samples .*3×32×32, 10 classes/);
    assert.equal(await page.evaluate(() => window.playground.state.params.source.kind), 'user_cifar10');
    const cifar = await page.evaluate(() => window.playground.plots.get('data:examples').handle.plot);
    assert.equal(cifar.channels, 3);
    assert.deepEqual([...new Set(cifar.images.map((i) => i.label))].slice(0, 3), ['airplane', 'automobile', 'bird']);
    const colour = await plotVariants(page, 'data:examples', { minChroma: 60 });
    assert.ok(colour.drawn > 5000 && colour.drawn > 10 * (colour.empty + 1), `colour pixels: ${JSON.stringify(colour)}`);

    // Forget the MNIST files: gone from the panel, and the experiment asks for them again.
    await page.locator('select[name="source/kind"]').selectOption('user_mnist');
    await waitView(page, 'data', /20 samples/);
    await page.locator('.data-status li[data-format="mnist_idx"] button').click();
    await page.waitForFunction(() => !document.querySelector('.data-status li[data-format="mnist_idx"]'));
    await page.locator('.data-panel .need').waitFor({ state: 'visible' });
    assert.match(await page.locator('.data-panel .need').textContent(), /your own MNIST \(IDX files\) data/);
    assert.equal(await page.locator('[data-dataset-id="data"]').isHidden(), true);
    assert.equal(await button(page, 'Run').isDisabled(), true);
    // … and after a reload too; the CIFAR-10 files are still kept.
    await page.reload();
    await page.locator('.data-panel .need').waitFor({ state: 'visible', timeout: LONG });
    assert.equal(await page.locator('[data-dataset-id="data"]').isHidden(), true);
    assert.equal(await page.locator('.data-status li[data-format="mnist_idx"]').count(), 0);
    assert.match(await page.locator('.data-status li[data-format="cifar10"]').textContent(), /kept in this browser: 1 file \(data_batch_1\.bin\)/);
    assert.deepEqual(await errorTexts(page), []);
    // A failed load while the experiment waits: the error, and the request for the files again.
    await pickFiles(page, 'mnist_idx', ['truncated/train-images-idx3-ubyte', 'train-labels-idx1-ubyte']);
    await page.locator('#messages .message.error').waitFor();
    assert.match((await errorTexts(page))[0], /truncated/);
    await page.locator('.data-panel .need').waitFor({ state: 'visible' });
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    await ctx.close();
  }
});

test('every malformed file or unreadable URL says what is wrong, and the page keeps working', async () => {
  const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
  await waitView(page, 'data', /10000 samples/);
  const cases = [
    { name: 'wrong magic', format: 'mnist_idx', files: ['magic/train-images-idx3-ubyte', 'train-labels-idx1-ubyte'], message: /train-images-idx3-ubyte: not an IDX file: wrong magic number/ },
    { name: 'truncated', format: 'mnist_idx', files: ['truncated/train-images-idx3-ubyte', 'train-labels-idx1-ubyte'], message: /train-images-idx3-ubyte: truncated/ },
    { name: 'mismatched counts', format: 'mnist_idx', files: ['train-images-idx3-ubyte', 'mismatch/train-labels-idx1-ubyte'], message: /has 30 images but .*train-labels-idx1-ubyte has 29 labels/ },
    { name: 'labels only', format: 'mnist_idx', files: ['train-labels-idx1-ubyte'], message: /no train images file was given/ },
    { name: 'corrupt gzip', format: 'mnist_idx', files: ['corrupt/train-images-idx3-ubyte.gz', 'gz/train-labels-idx1-ubyte.gz'], message: /corrupt gzip in train-images-idx3-ubyte\.gz: / },
    { name: 'CIFAR length', format: 'cifar10', files: ['short/data_batch_1.bin'], message: /data_batch_1\.bin.*3073/ },
    { name: '404', format: 'mnist_idx', urls: [`${server.url}/nothing/train-images-idx3-ubyte`], message: /nothing\/train-images-idx3-ubyte could not be read: the server answered HTTP 404/ },
    { name: 'no CORS', format: 'mnist_idx', urls: [`${other.url}/train-images-idx3-ubyte`, `${other.url}/train-labels-idx1-ubyte`], message: /could not be read: the server did not allow this page to read it \(not same-origin or no CORS\)/ },
  ];
  for (const c of cases) {
    await clearMessages(page);
    if (c.files) await pickFiles(page, c.format, c.files);
    else {
      await page.locator('select[name="data-format"]').selectOption(c.format);
      await page.locator('input[name="data-url"]').fill(c.urls.join(' '));
      await button(page, 'Load from the web').click();
    }
    await page.locator('#messages .message.error').first().waitFor({ timeout: LONG });
    const messages = await errorTexts(page);
    assert.equal(messages.length, 1, `${c.name}: ${JSON.stringify(messages)}`);
    assert.match(messages[0], c.message, c.name);
    assert.match(messages[0], /^Your (MNIST IDX|CIFAR-10) data could not be loaded: /, c.name);
    assert.doesNotMatch(messages[0], /undefined|\[object|RuntimeError|unreachable/, c.name);
    // Nothing half-loaded: the experiment still shows the shipped digits, and the panel is ready again.
    assert.equal(await page.evaluate(() => window.playground.state.params.source.kind), 'mnist', c.name);
    assert.equal(await page.locator('.data-status li').count(), 0, c.name);
    assert.equal(await page.locator('input[name="data-files"]').isDisabled(), false, c.name);
    // The page still responds: a control edit starts a new run that draws.
    const examples = c.name === 'no CORS' ? 3 : 4 + (cases.indexOf(c) % 2);
    await setControl(page, 'examples', examples);
    await page.waitForFunction((n) => window.playground.state.params.examples === n, examples);
    await waitView(page, 'data', /10000 samples/);
    assert.equal(await page.evaluate(() => window.playground.plots.get('data:examples').handle.plot.images.length), 10 * examples, c.name);
  }
  // … and a good load still succeeds after all that.
  await clearMessages(page);
  await page.locator('select[name="data-format"]').selectOption('mnist_idx');
  await page.locator('input[name="data-url"]').fill(`${server.url}/data/mnist/mnist-10k-images-idx3-ubyte.gz ${server.url}/data/mnist/mnist-10k-labels-idx1-ubyte.gz`);
  await button(page, 'Load from the web').click();
  await waitView(page, 'data', /10000 samples \(8000 train \/ 2000 validation/);
  assert.equal(await page.evaluate(() => window.playground.state.params.source.kind), 'user_mnist');
  assert.deepEqual(await errorTexts(page), []);
  // Forget it, so that the other tests of this browser start clean.
  await page.locator('.data-status li[data-format="mnist_idx"] button').click();
  await page.waitForFunction(() => !document.querySelector('.data-status li[data-format="mnist_idx"]'));
  assert.deepEqual(unexpected(errors, [/HTTP 404 .*\/nothing\//, /CORS policy/, /Failed to load resource/, /net::ERR_FAILED/]), []);
  await page.close();
});

test('a slow download shows its progress and can be cancelled', async () => {
  // A cross-origin server that allows reading (CORS) and sends 1 KB every 50 ms: 0.8 MB, so that after the first
  // 0.1 MB the Cancel click has half a minute to arrive (with 0.2 MB a loaded CI machine once finished the download
  // first).
  const body = mnistPair(1000).images;
  const slow = createServer((req, res) => {
    res.writeHead(200, { 'content-length': body.length, 'access-control-allow-origin': '*' });
    let at = 0;
    const timer = setInterval(() => {
      if (res.destroyed || at >= body.length) return clearInterval(timer);
      res.write(body.subarray(at, at + 1024));
      at += 1024;
    }, 50);
    res.on('close', () => clearInterval(timer));
  });
  await new Promise((ok) => slow.listen(0, '127.0.0.1', ok));
  try {
    const { page, errors } = await open(context, '?lab=datasets&backend=cpu');
    await waitView(page, 'data', /10000 samples/);
    await page.locator('select[name="data-format"]').selectOption('mnist_idx');
    await page.locator('input[name="data-url"]').fill(`http://127.0.0.1:${slow.address().port}/train-images-idx3-ubyte`);
    await button(page, 'Load from the web').click();
    await page.waitForFunction(() => /^Loading train-images-idx3-ubyte… 0\.[1-9] \/ 0\.8 MB$/.test(document.querySelector('.load-text')?.textContent ?? ''), null, { timeout: LONG });
    assert.equal(await page.locator('input[name="data-files"]').isDisabled(), true, 'one load at a time');
    await button(page, 'Cancel').click();
    await page.locator('#messages .message.info').waitFor();
    assert.deepEqual(await page.locator('#messages .message.info').allTextContents(), ['Loading your MNIST IDX data was cancelled.×']);
    assert.equal(await page.locator('.load-row').count(), 0);
    assert.equal(await page.locator('input[name="data-files"]').isDisabled(), false);
    assert.equal(await page.locator('.data-status li').count(), 0);
    // The experiment goes on with the shipped digits.
    assert.equal(await page.evaluate(() => window.playground.state.params.source.kind), 'mnist');
    assert.equal(await button(page, 'Run').isDisabled(), false);
    assert.deepEqual(await errorTexts(page), []);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    slow.closeAllConnections();
    await new Promise((ok) => slow.close(ok));
  }
});

test('when the shipped digits cannot be fetched, the page says so and other data still works', async () => {
  const site = join(tmp, 'site');
  await cp(DIST, site, { recursive: true, filter: (src) => !src.includes(`${join('data', 'mnist')}`) });
  const broken = await serve(site);
  try {
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${broken.url}/?lab=datasets&backend=cpu`);
    await page.locator('#messages .message.error').waitFor({ timeout: LONG });
    const messages = await errorTexts(page);
    assert.equal(messages.length, 1, JSON.stringify(messages));
    assert.match(messages[0], /^Could not load the MNIST digits shipped with the playground: .*data\/mnist\/mnist-10k-images-idx3-ubyte\.gz could not be read: the server answered HTTP 404/);
    assert.equal(await page.locator('.load-row').count(), 0);
    assert.equal(await button(page, 'Run').isDisabled(), true);
    assert.equal(await page.locator('[data-dataset-id="data"]').isHidden(), true);
    await setControl(page, 'source/kind', 'iris');
    await waitView(page, 'data', /^Iris: 150 samples/);
    assert.equal(await button(page, 'Run').isDisabled(), false);
    assert.deepEqual(unexpected(errors, [/404/, /Failed to load resource/]), []);
    await page.close();
  } finally {
    await broken.close();
  }
});

test('the other labs still work beside the data paths', async () => {
  const { page, errors } = await open(context, '?lab=hebb2d&backend=cpu');
  await page.waitForFunction(() => document.getElementById('app').dataset.drawnStep === '0', null, { timeout: LONG });
  // No data panel and no pattern editor in a lab without a dataset source.
  assert.equal(await page.locator('.data-panel').count(), 0);
  assert.equal(await page.locator('.pattern-editor').count(), 0);
  assert.equal(await page.locator('input[name="inputs/2/corr"]').count(), 1);
  // The input distributions are labelled as the schema says (x-item-label, else #1, #2, …).
  const { prefix, count } = await page.evaluate(() => {
    const p = window.playground;
    return { prefix: p.schema.$defs.Params.properties.inputs['x-item-label'] ?? '#', count: p.state.params.inputs.length };
  });
  const labels = await page.locator('fieldset.array > fieldset > legend').allTextContents();
  assert.deepEqual(labels, Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`));
  assert.equal(await button(page, `add ${prefix}${count + 1}`).count(), 1);
  assert.equal(await button(page, `remove ${prefix}1`).count(), 1);
  assert.deepEqual(errors, []);
  await page.close();
});
