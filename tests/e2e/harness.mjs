// Shared helpers for the end-to-end tests (node --test + playwright-core driving Debian's chromium).
//
//   serve(dir, {headers} = {})            -> Promise<{url, close}>   static files on 127.0.0.1, random free port
//   launch({webgpu = true} = {})          -> Promise<BrowserContext> headless chromium, fresh profile
//   watchConsole(page)                    -> string[]                console errors and page errors, as they come
//   countDrawnPixels(page, selector, {minChroma = 0, region = null, fromScreen = false} = {}) -> Promise<number>
//   assertPlotsDrawn(page, ids, {margin = 400} = {}) -> Promise   each lab plot drew more than its empty chart
//   buildSite()                           -> void                    trunk build unless HEBBIAN_SKIP_BUILD; dist/ there
//   cli(args)                             -> any                     the native CLI's JSON answer
//   REPO, DIST                            the repository root and the built site
//
// playwright-core never downloads a browser: it drives /usr/bin/chromium (see /work/shared/TOOLCHAIN.md).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = join(REPO, 'dist');

/** Builds dist/ with `trunk build` unless HEBBIAN_SKIP_BUILD is set (the test script builds once beforehand). */
export function buildSite() {
  if (!process.env.HEBBIAN_SKIP_BUILD) {
    execFileSync('trunk', ['build'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  assert.ok(existsSync(join(DIST, 'index.html')), 'dist/ is missing: run `trunk build`');
}

/**
 * The newest build of the native CLI, target/{budgets,release,debug}/hebbian (the test script builds only the
 * optimised `budgets` profile, and a debug build takes minutes over a CNN run), or undefined when none is built.
 */
export function cliBinary() {
  const builds = ['budgets', 'release', 'debug'].map((p) => join(REPO, 'target', p, 'hebbian')).filter((b) => existsSync(b));
  return builds.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** The native CLI's JSON answer to `args` (the newest build, else `cargo run --bin hebbian`). */
export function cli(args) {
  const bin = cliBinary();
  const out = bin
    ? execFileSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 28 })
    : execFileSync('cargo', ['run', '-q', '--bin', 'hebbian', '--', ...args], { cwd: REPO, encoding: 'utf8', maxBuffer: 1 << 28 });
  return JSON.parse(out);
}

/**
 * The native CLI's metrics ({name: value}) for `state` run on its CPU engine: what every lab's e2e test compares
 * the page's numbers with.
 */
export async function cliMetrics(state) {
  const dir = await mkdtemp(join(tmpdir(), 'hebbian-cli-'));
  try {
    const file = join(dir, 'state.json');
    await writeFile(file, JSON.stringify(state));
    return Object.fromEntries(cli(['run', file, '--backend', 'cpu']).metrics.map((m) => [m.name, m.value]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', // Required by WebAssembly.instantiateStreaming.
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.bin': 'application/octet-stream',
  '.gz': 'application/gzip',
};

/**
 * Serves the files under `dir` at http://127.0.0.1:<free port>/ ("/" and folders mean their index.html). Missing
 * files, paths that leave `dir`, and methods other than GET/HEAD answer 404. Files of other extensions are
 * served as application/octet-stream. `headers` are added to every answer (e.g. COOP/COEP for cross-origin
 * isolation). `close()` also drops kept-alive connections, so the test process can exit.
 */
export async function serve(dir, { headers = {} } = {}) {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    const notFound = () => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end('not found');
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return notFound();
      const pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      let file = resolve(root, `.${pathname}`);
      if (file !== root && !file.startsWith(root + sep)) return notFound();
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-length': body.length,
        'cache-control': 'no-store',
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      notFound(); // stat/readFile failed (no such file), or a malformed %-escape.
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

// Flags from TOOLCHAIN.md. Without the Vulkan/ANGLE SwiftShader trio a WebGPU canvas stays blank without error.
// `--disable-accelerated-2d-canvas` keeps 2D canvases (the ECharts plots) on Skia's CPU rasteriser: through
// SwiftShader's emulated GL a frame of a few thousand points takes ~0.5 s to reach the screen, on the CPU ~20 ms.
const COMMON_FLAGS = ['--no-sandbox', '--disable-gpu-sandbox', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
  '--disable-accelerated-2d-canvas'];
const WEBGPU_FLAGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];
// A browser without WebGPU: `navigator.gpu` is absent.
const NO_WEBGPU_FLAGS = ['--disable-features=WebGPU'];

/**
 * Launches headless Debian chromium with a fresh profile folder. With `webgpu`, WebGPU runs on SwiftShader
 * (compute and canvas); without, the page sees no WebGPU at all. `await context.close()` also deletes the
 * profile folder.
 */
export async function launch({ webgpu = true } = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'hebbian-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [...COMMON_FLAGS, ...(webgpu ? WEBGPU_FLAGS : NO_WEBGPU_FLAGS)],
  });
  // Deleting on the context's 'close' event races the browser's last writes (ENOTEMPTY): delete after the
  // browser has exited instead.
  const close = context.close.bind(context);
  context.close = async (...args) => {
    await close(...args);
    await rm(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  return context;
}

/** Waits until the run on `page` is done and its last frame drawn. */
export async function waitDrawnToEnd(page, timeout) {
  await page.waitForFunction(() => {
    const p = window.playground;
    return p.frame.done && !p.running && document.getElementById('app').dataset.drawnStep === String(p.frame.total);
  }, null, { timeout });
}

/** Waits until `page` shows its lab idle at step 0 with that frame drawn. */
export async function waitIdleAtZero(page, timeout) {
  await page.waitForFunction(() => {
    const p = window.playground;
    return p?.frame && p.frame.step === 0 && !p.running && document.getElementById('app').dataset.drawnStep === '0';
  }, null, { timeout });
}

/**
 * Opens `url` (the site's address with `?lab=…` and any link) in a new 1200 × 1000 page of `ctx` and waits for its
 * idle step-0 frame; with `params` and / or `view`, commits them merged into the state's own (as if typed into
 * the controls, which are redrawn to show them) and waits again. Returns the page and its console errors.
 */
export async function openLab(ctx, url, { params = null, view = null, timeout = 240_000 } = {}) {
  const page = await ctx.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  const errors = watchConsole(page);
  await page.goto(url);
  await waitIdleAtZero(page, timeout);
  if (params || view) {
    await page.evaluate(({ params, view }) => {
      const p = window.playground;
      p.commit({ ...p.state, params: { ...p.state.params, ...params }, view: { ...p.state.view, ...view } });
      p.renderControls();
    }, { params, view });
    await waitIdleAtZero(page, timeout);
  }
  return { page, errors };
}

/** The metrics of `page`'s last frame, by name. */
export const frameMetrics = (page) => page.evaluate(() => Object.fromEntries(window.playground.frame.metrics.map((m) => [m.name, m.value])));

/**
 * Collects the page's console errors (including failed resource loads, which Chromium logs as console errors)
 * and uncaught exceptions. Tests assert that the returned array is still empty at the end.
 */
export function watchConsole(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

/**
 * Counts the drawn pixels inside the element matched by `selector`: a pixel counts when it is neither transparent
 * nor near-white. By default the element's canvases are read (composited as laid out, in device pixels), so page
 * text and borders do not count. `minChroma` (0–255) counts only coloured pixels (max − min channel at least this
 * much: greys and black do not count). `region` = {x, y, width, height} in CSS pixels relative to the element
 * limits the count to that box. `fromScreen` reads a screenshot of the element instead: needed for WebGPU
 * canvases, which read back as transparent once their frame has been presented.
 */
export async function countDrawnPixels(page, selector, { minChroma = 0, region = null, fromScreen = false } = {}) {
  const png = fromScreen ? (await page.locator(selector).screenshot()).toString('base64') : null;
  return page.evaluate(async ({ selector, minChroma, region, png }) => {
    const el = document.querySelector(selector);
    if (!el) throw new Error(`no element matches ${selector}`);
    const box = el.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const out = document.createElement('canvas');
    out.width = Math.round(box.width * dpr);
    out.height = Math.round(box.height * dpr);
    const ctx = out.getContext('2d');
    if (png) {
      const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
      ctx.drawImage(await createImageBitmap(new Blob([bytes], { type: 'image/png' })), 0, 0, out.width, out.height);
    } else {
      for (const c of el.querySelectorAll('canvas')) {
        const r = c.getBoundingClientRect();
        ctx.drawImage(c, (r.left - box.left) * dpr, (r.top - box.top) * dpr, r.width * dpr, r.height * dpr);
      }
    }
    const area = region ?? { x: 0, y: 0, width: box.width, height: box.height };
    const x0 = Math.max(0, Math.floor(area.x * dpr));
    const y0 = Math.max(0, Math.floor(area.y * dpr));
    const x1 = Math.min(out.width, Math.ceil((area.x + area.width) * dpr));
    const y1 = Math.min(out.height, Math.ceil((area.y + area.height) * dpr));
    if (x1 <= x0 || y1 <= y0) return 0;
    const { data } = ctx.getImageData(x0, y0, x1 - x0, y1 - y0);
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
      if (a < 16) continue;
      if (r > 245 && g > 245 && b > 245) continue;
      if (Math.max(r, g, b) - Math.min(r, g, b) < minChroma) continue;
      count++;
    }
    return count;
  }, { selector, minChroma, region, png });
}

/**
 * Asserts that each plot of the lab (`ids`, as in window.playground.plots) drew a real picture: its pixels must be
 * more than twice, and `margin` more than, those of the same plot drawn with all data removed (title, axes and
 * legend only), measured in the same page at the same size. Curves, bars and heatmaps count coloured pixels
 * (chroma ≥ 40: grey axes and text do not count); image grids, often black and white, and tables count every drawn
 * pixel.
 */
export async function assertPlotsDrawn(page, ids, { margin = 400 } = {}) {
  const kinds = await page.evaluate(async (ids) => {
    const { renderPlot } = await import('./plots.js');
    return ids.map((id) => {
      const plot = structuredClone(window.playground.plots.get(id).handle.plot);
      if (plot.kind === 'xy') {
        plot.heatmap = null;
        for (const s of plot.series) s.points = [];
      } else if (plot.kind === 'bars') {
        for (const s of plot.series) s.values = [];
      } else if (plot.kind === 'images') {
        plot.images = [];
      } else if (plot.kind === 'table') {
        plot.rows = [];
      }
      const blank = document.createElement('div');
      blank.className = 'cell plot';
      blank.dataset.blank = id;
      document.querySelector(`[data-plot-id="${id}"]`).after(blank);
      renderPlot(blank, plot, { toolbar: false });
      return plot.kind;
    });
  }, ids);
  const counts = {};
  for (const [i, id] of ids.entries()) {
    const minChroma = kinds[i] === 'images' || kinds[i] === 'table' ? 0 : 40;
    counts[id] = {
      drawn: await countDrawnPixels(page, `[data-plot-id="${id}"]`, { minChroma }),
      blank: await countDrawnPixels(page, `[data-blank="${id}"]`, { minChroma }),
    };
  }
  await page.evaluate(() => document.querySelectorAll('[data-blank]').forEach((e) => e.remove()));
  for (const [id, { drawn, blank }] of Object.entries(counts)) {
    assert.ok(drawn > 2 * blank && drawn > blank + margin, `plot ${id}: ${drawn} drawn pixels; the same chart without data has ${blank}`);
  }
}

/**
 * Runs the lab open in `page` (its engine `backend`: 'gpu' or 'cpu') to its end and returns its metrics, having
 * checked that every plot in `plots` drew and that the run stayed on its engine: no fallback, no message about
 * the CPU or the GPU (such as "computes on the CPU"), no console error (`errors`, from watchConsole); `timeout` ms
 * for the run. Closes the page.
 */
export async function runOnEngine(page, errors, backend, plots, timeout) {
  assert.equal(await page.evaluate(() => window.playground.engine.kind), backend);
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, timeout);
  await assertPlotsDrawn(page, plots);
  const metrics = await frameMetrics(page);
  assert.equal(await page.evaluate(() => window.playground.engine.kind), backend);
  const messages = await page.locator('#messages .message').allTextContents();
  assert.deepEqual(messages.filter((w) => /CPU|GPU/.test(w)), [], JSON.stringify(messages));
  assert.deepEqual(errors, []);
  await page.close();
  return metrics;
}
