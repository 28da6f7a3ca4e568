// Browser benchmark of the built site (not a test): prints one JSON line per measurement on stdout.
//
//   node tests/e2e/bench.mjs            (after `trunk build`; BENCH_REPEAT=3 repetitions per measurement,
//                                        BENCH_ONLY=data for the dataset figures alone)
//
// Measures, in headless Chromium (WebGPU on SwiftShader unless a real GPU is there), for ?backend=gpu and cpu:
//   "first plot drawn"   navigation start → the lab's first frame drawn (`#app[data-drawn-step]` set, which
//                        happens right after the plots' synchronous ECharts draw; polled every display frame)
//   "run 3x2000"         the default 3 × 2000-update run at speed 0 (no animation, one chunk): click on Run →
//                        last frame received (`compute_ms`) and → last frame drawn (`drawn_ms`); the first run
//                        of a page (pipeline creation, wasm tier-up) is reported apart (`first`), then the median
//                        of BENCH_REPEAT runs after Reset
//   "main thread"        during an animated run (default speed): the longest main-thread task seen by a
//                        PerformanceObserver('longtask') (it reports tasks ≥ 50 ms only: 0 means none), the
//                        longest long animation frame ('long-animation-frame', frames ≥ 50 ms; with its blocking
//                        duration) and the longest gap between two requestAnimationFrame callbacks (any length)
//   "first digits"       navigation start → the Datasets lab's shipped MNIST examples drawn (fetch of the 1.6 MB
//                        asset, streamed parse in the worker, drawing), on the CPU path, fresh page each time
//   "load in the page"   a file pick in the Datasets lab's "Your data" panel → the loaded dataset's summary and
//                        examples drawn (reading the File in the worker, parsing, keeping it in IndexedDB,
//                        drawing): 60,000 MNIST-like digits (the shipped ones six times, plain and .gz) and
//                        five CIFAR-10 batches of random pixels; MB/s counts the bytes of the files picked
//   "dist sizes"         bytes of dist/*.wasm and of the whole dist/ folder
//   "Hebbian CNN"        (BENCH_ONLY=hebbconv) the CNN lab's default networks on 512 training images: its own
//                        images-per-second figures per phase and the main thread's longest tasks while it trains
//   "credit lab"         (BENCH_ONLY=credit) one rule at a time on 2,000 digits: the lab's training images per
//                        second per rule, on WebGPU and on the CPU engine
//   "SOM"                (BENCH_ONLY=som) one variant at a time on the lecture's MNIST map (100 × 100 units, 2,000
//                        digits, one epoch of 500 samples, as benches/som_minisom.py): the lab's epochs per
//                        second, on the CPU engine, then on WebGPU
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { DIST, REPO, cli, frameMetrics, launch, serve, waitDrawnToEnd } from './harness.mjs';

const REPEAT = Number(process.env.BENCH_REPEAT || 3);
const TIMEOUT = 300_000;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x) => Math.round(x * 10) / 10;
const summary = (xs) => ({ median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)), all: xs.map(round) });

async function folderBytes(dir) {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await folderBytes(p) : (await stat(p)).size;
  }
  return total;
}

async function openLab(context, server, backend) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  // Polls every display frame from the very start of the document: the time the first frame was drawn.
  await page.addInitScript(() => {
    const poll = () => {
      const app = document.getElementById('app');
      if (app && app.dataset.drawnStep !== undefined && app.dataset.drawnStep !== '') window.__firstDrawn = performance.now();
      else requestAnimationFrame(poll);
    };
    requestAnimationFrame(poll);
  });
  await page.goto(`${server.url}/?lab=hebb2d&backend=${backend}`);
  await page.waitForFunction(() => window.__firstDrawn !== undefined && window.playground?.engine, null, { timeout: TIMEOUT });
  return page;
}

const idleAtZero = (page) => page.waitForFunction(() => {
  const p = window.playground;
  return p.frame && p.frame.step === 0 && !p.running && document.getElementById('app').dataset.drawnStep === '0';
}, null, { timeout: TIMEOUT });

/** Opens `lab` on `backend` with `params` merged over the defaults' top level; resolves idle at step 0. */
async function openWithParams(context, server, lab, backend, params) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  await page.goto(`${server.url}/?lab=${lab}&backend=${backend}`);
  await idleAtZero(page);
  await page.evaluate((params) => {
    const p = window.playground;
    p.commit({ ...p.state, params: { ...p.state.params, ...params } });
  }, params);
  await page.waitForTimeout(300);
  await idleAtZero(page);
  return page;
}

/** Runs the open lab to its end and closes it: its last frame's metrics and the engine it ran on. */
async function runToEnd(page, timeout) {
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, timeout);
  const metrics = await frameMetrics(page);
  const engine = await page.evaluate(() => window.playground.engine.kind);
  await page.close();
  return { engine, metrics };
}

/** Clicks Run at step 0; resolves to {compute_ms, drawn_ms} measured with the page's clock. */
async function timedRun(page) {
  await idleAtZero(page);
  // evaluate waits for the returned promise: the run's end.
  return page.evaluate(() => {
    const p = window.playground;
    const app = document.getElementById('app');
    const t0 = performance.now();
    const result = new Promise((resolve) => {
      let compute = null;
      p.on('done', () => {
        if (compute === null) compute = performance.now() - t0;
      });
      const poll = () => {
        if (compute !== null && app.dataset.drawnStep === String(p.frame.total)) resolve({ compute_ms: compute, drawn_ms: performance.now() - t0 });
        else requestAnimationFrame(poll);
      };
      requestAnimationFrame(poll);
    });
    document.querySelector('.runbar .buttons button').click(); // Run
    return result;
  });
}

async function firstPlot(context, server, backend) {
  const times = [];
  let engine;
  for (let i = 0; i < REPEAT; i++) {
    const page = await openLab(context, server, backend);
    times.push(await page.evaluate(() => window.__firstDrawn));
    engine = await page.evaluate(() => window.playground.engine);
    await page.close();
  }
  return { engine, ms: summary(times) };
}

async function runTimes(context, server, backend) {
  const page = await openLab(context, server, backend);
  await page.evaluate(() => {
    const p = window.playground;
    p.commit({ ...p.state, view: { ...p.state.view, speed: 0 } });
  });
  const runs = [];
  for (let i = 0; i < REPEAT + 1; i++) {
    if (i > 0) await page.getByRole('button', { name: 'Reset', exact: true }).click();
    runs.push(await timedRun(page));
  }
  const engine = await page.evaluate(() => window.playground.engine.kind);
  const metrics = await page.evaluate(() => window.playground.frame.metrics.length);
  await page.close();
  const [first, ...warm] = runs;
  return {
    engine, metrics,
    first: { compute_ms: round(first.compute_ms), drawn_ms: round(first.drawn_ms) },
    compute_ms: summary(warm.map((r) => r.compute_ms)),
    drawn_ms: summary(warm.map((r) => r.drawn_ms)),
  };
}

/** Starts watching the main thread: long tasks, long animation frames and gaps between display frames. */
async function watchMainThread(page) {
  await page.evaluate(() => {
    const seen = (window.__seen = { longtask: [], loaf: [], rafGap: 0 });
    // Entries arrive late (a long animation frame after its presentation): keep only those that began after now,
    // so that the page's first draw of all plots does not count.
    const t0 = performance.now();
    const fresh = (l) => l.getEntries().filter((e) => e.startTime >= t0);
    new PerformanceObserver((l) => seen.longtask.push(...fresh(l).map((e) => e.duration))).observe({ type: 'longtask' });
    try {
      new PerformanceObserver((l) => seen.loaf.push(...fresh(l).map((e) => ({ duration: e.duration, blocking: e.blockingDuration }))))
        .observe({ type: 'long-animation-frame' });
    } catch {
      seen.loaf = null; // not supported by this browser
    }
    let last = performance.now();
    const tick = (t) => {
      seen.rafGap = Math.max(seen.rafGap, t - last);
      last = t;
      if (!window.__stopRaf) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

/** What `watchMainThread` saw. */
async function mainThreadSeen(page) {
  await page.waitForTimeout(200); // let the observers deliver the last entries
  const seen = await page.evaluate(() => {
    window.__stopRaf = true;
    return window.__seen;
  });
  return {
    longest_longtask_ms: round(Math.max(0, ...seen.longtask)),
    longtasks: seen.longtask.length,
    longest_long_animation_frame_ms: seen.loaf ? round(Math.max(0, ...seen.loaf.map((f) => f.duration))) : null,
    longest_long_animation_frame_blocking_ms: seen.loaf ? round(Math.max(0, ...seen.loaf.map((f) => f.blocking))) : null,
    long_animation_frames: seen.loaf ? seen.loaf.length : null,
    longest_raf_gap_ms: round(seen.rafGap),
  };
}

async function mainThread(context, server, backend) {
  const page = await openLab(context, server, backend);
  await idleAtZero(page);
  await watchMainThread(page);
  const t0 = Date.now();
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await page.waitForFunction(() => window.playground.frame.done && document.getElementById('app').dataset.drawnStep === '2000', null, { timeout: TIMEOUT });
  const wall = Date.now() - t0;
  const seen = await mainThreadSeen(page);
  await page.close();
  return { animated_run_wall_ms: wall, ...seen };
}

/**
 * The Hebbian-CNN lab's default networks (architecture A, widths ÷ 8: SoftHebb, no competition, random filters)
 * on fewer images, run at the default speed on `backend`: the lab's own images-per-second figures per phase
 * and the main thread's longest tasks while it trains.
 */
async function hebbconvRun(context, server, backend) {
  const page = await openWithParams(context, server, 'hebbconv', backend, { train_images: 512, test_images: 256, probe_epochs: 2 });
  await watchMainThread(page);
  const t0 = Date.now();
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  await waitDrawnToEnd(page, TIMEOUT * 4);
  const wall = Date.now() - t0;
  const metrics = await frameMetrics(page);
  const engine = await page.evaluate(() => window.playground.engine.kind);
  const seen = await mainThreadSeen(page);
  await page.close();
  return {
    engine,
    run_wall_ms: wall,
    unsupervised_images_per_s: round(metrics['images per second per network, unsupervised epoch']),
    probe_images_per_s: round(metrics['images per second per network, probe features and training']),
    softhebb_accuracy: metrics['test accuracy, SoftHebb'],
    ...seen,
  };
}

/**
 * The credit lab's epoch per rule: one rule at a time on 2,000 training digits for 2 epochs (no SNR), on
 * `backend`: its own training images per second (the forward pass, the rule's update and the optimiser).
 */
async function creditRun(context, server, backend, rule) {
  const { rules } = cli(['state', 'credit']).params;
  const only = Object.fromEntries(Object.keys(rules).map((k) => [k, k === rule]));
  const page = await openWithParams(context, server, 'credit', backend, { rules: only, pictures: rule, train_images: 2000, epochs: 2, snr_examples: 0 });
  const { engine, metrics } = await runToEnd(page, TIMEOUT);
  return { engine, rule, images_per_s: round(metrics['training images per second per rule']) };
}

async function somRun(context, server, backend, variant) {
  const variants = { lecture: variant === 'lecture', gaussian: variant === 'gaussian' };
  const page = await openWithParams(context, server, 'som', backend, { variants, data: 'digits', rows: 100, cols: 100, samples: 500, every: 2, epochs: 1, measured: 1, sigma: 20 });
  const { engine, metrics } = await runToEnd(page, TIMEOUT);
  return { engine, variant, epochs_per_s: Number(metrics['epochs per second (per variant)'].toPrecision(3)) };
}

/**
 * Opens `lab` on `backend`, commits `params` (merged into the defaults' groups) at speed 0, clicks Run and
 * returns the milliseconds until the last frame is drawn (median of REPEAT runs, each after Reset).
 */
async function timedLab(context, server, lab, backend, params) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  await page.goto(`${server.url}/?lab=${lab}&backend=${backend}`);
  const ready = () => page.waitForFunction(() => {
    const p = window.playground;
    return p?.frame && p.frame.step === 0 && !p.running && p.pending.size === 0
      && document.getElementById('app').dataset.drawnStep === '0';
  }, null, { timeout: TIMEOUT });
  await ready();
  await page.evaluate((params) => {
    const p = window.playground;
    const merged = { ...p.state.params };
    for (const [k, v] of Object.entries(params)) merged[k] = typeof v === 'object' ? { ...merged[k], ...v } : v;
    p.commit({ ...p.state, params: merged, view: { ...p.state.view, speed: 0 } });
  }, params);
  await page.waitForTimeout(500);
  await ready();
  const runs = [];
  for (let i = 0; i < REPEAT; i++) {
    if (i > 0) {
      await page.getByRole('button', { name: 'Reset', exact: true }).click();
      await ready();
    }
    runs.push((await timedRun(page)).drawn_ms);
  }
  const engine = await page.evaluate(() => window.playground.engine.kind);
  await page.close();
  return { engine, ms: summary(runs) };
}

/** Navigation start → the Datasets lab's shipped MNIST examples drawn. */
async function firstDigits(context, server) {
  const times = [];
  for (let i = 0; i < REPEAT; i++) {
    const page = await context.newPage();
    await page.setViewportSize({ width: 1200, height: 1000 });
    await page.goto(`${server.url}/?lab=datasets&backend=cpu`);
    await page.waitForFunction(() => {
      const p = window.playground;
      const cell = document.querySelector('[data-dataset-id="data"]');
      if (p && cell && !cell.hidden && p.plots.get('data:examples')?.handle && p.pending.size === 0
        && window.__digits === undefined) window.__digits = performance.now();
      return window.__digits !== undefined;
    }, null, { timeout: TIMEOUT, polling: 'raf' });
    times.push(await page.evaluate(() => window.__digits));
    await page.close();
  }
  return summary(times);
}

/** Full-size files for the in-page load benchmark; returns {name: [paths]}. */
async function benchFiles(dir) {
  const digits = gunzipSync(await readFile(join(REPO, 'target/data/mnist/mnist-10k-images-idx3-ubyte.gz'))).subarray(16);
  const labels = gunzipSync(await readFile(join(REPO, 'target/data/mnist/mnist-10k-labels-idx1-ubyte.gz'))).subarray(8);
  const idx = (dims, data) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head.writeUInt32BE(0x800 | dims.length, 0);
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([head, data]);
  };
  const images = idx([60000, 28, 28], Buffer.concat(Array(6).fill(digits)));
  const labs = idx([60000], Buffer.concat(Array(6).fill(labels)));
  const put = async (name, bytes) => {
    await writeFile(join(dir, name), bytes);
    return join(dir, name);
  };
  const batches = [];
  for (let k = 1; k <= 5; k++) {
    const b = Buffer.alloc(10000 * 3073);
    for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24; // deterministic noise
    for (let r = 0; r < 10000; r++) b[r * 3073] = r % 10;
    batches.push(await put(`data_batch_${k}.bin`, b));
  }
  return {
    'MNIST IDX 60000': ['mnist_idx', [await put('train-images-idx3-ubyte', images), await put('train-labels-idx1-ubyte', labs)]],
    'MNIST IDX 60000 .gz': ['mnist_idx', [await put('train-images-idx3-ubyte.gz', gzipSync(images, { level: 6 })), await put('train-labels-idx1-ubyte.gz', gzipSync(labs, { level: 6 }))]],
    'CIFAR-10 5 batches': ['cifar10', batches],
  };
}

/** File pick → the loaded dataset's summary and examples drawn, in the Datasets lab. */
async function loadInPage(context, server, format, paths, expect) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1200, height: 1000 });
  await page.goto(`${server.url}/?lab=datasets&backend=cpu`);
  await page.waitForFunction(() => window.playground?.plots.get('data:examples')?.handle, null, { timeout: TIMEOUT });
  await page.locator('select[name="data-format"]').selectOption(format);
  const t0 = Date.now();
  await page.locator('input[name="data-files"]').setInputFiles(paths);
  await page.waitForFunction((expect) => {
    const p = window.playground;
    const cell = document.querySelector('[data-dataset-id="data"]');
    return cell && cell.querySelector('.dataset-line').textContent.includes(expect) && p.pending.size === 0;
  }, expect, { timeout: TIMEOUT, polling: 'raf' });
  const ms = Date.now() - t0;
  // Leave nothing kept for the next measurement.
  await page.evaluate(() => new Promise((resolve) => {
    const r = indexedDB.deleteDatabase('hebbian-playground');
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  }));
  await page.close();
  return ms;
}

async function main() {
  const wasm = {};
  for (const f of await readdir(DIST)) if (f.endsWith('.wasm')) wasm[f] = (await stat(join(DIST, f))).size;
  if (Object.keys(wasm).length === 0) throw new Error('dist/ has no .wasm: run `trunk build` first');
  const server = await serve(DIST);
  const context = await launch({ webgpu: true });
  try {
    const probe = await context.newPage();
    const userAgent = await probe.evaluate(() => navigator.userAgent);
    await probe.close();
    const line = (bench, fields) => console.log(JSON.stringify({ bench, ...fields }));
    line('browser', { user_agent: userAgent, repeat: REPEAT });
    // BENCH_ONLY=data, memory, hebbconv, credit or som measures the dataset, associative-memory, Hebbian-CNN,
    // credit-assignment or self-organising-map figures alone.
    const only = process.env.BENCH_ONLY;
    // The CPU engine first: on a software adapter an epoch on WebGPU takes minutes.
    for (const backend of only === 'som' ? ['cpu', 'gpu'] : []) {
      for (const variant of ['lecture', 'gaussian']) {
        line('browser SOM lab, 100 x 100 x 784, 2,000 digits, one epoch of 500 samples, one variant', { backend, ...(await somRun(context, server, backend, variant)) });
      }
    }
    if (only === 'som') return;
    for (const backend of only === 'hebbconv' ? ['gpu', 'cpu'] : []) {
      line('browser Hebbian CNN, architecture A ÷ 8, 3 networks, 512 training / 256 test images, 2 probe epochs, default speed', { backend, ...(await hebbconvRun(context, server, backend)) });
    }
    if (only === 'hebbconv') return;
    for (const backend of only === 'credit' ? ['gpu', 'cpu'] : []) {
      for (const rule of ['backprop', 'hebbian', 'feedback_alignment', 'kolen_pollack', 'node_perturbation', 'weight_perturbation']) {
        line('browser credit lab, one rule, 2,000 training digits, 2 epochs, batch 32', await creditRun(context, server, backend, rule));
      }
    }
    if (only === 'credit') return;
    for (const backend of only === 'memory' ? ['gpu', 'cpu'] : []) {
      // The Hopfield lab's default capacity sweep: N = 100, P = 1…30, 10 q(0) values, 10 trials, three rules.
      line('browser Hopfield capacity sweep (default: N 100, P 1-30, 10 q0, 10 trials, 3 rules), Run → drawn', { backend, ...(await timedLab(context, server, 'hopfield', backend, {})) });
      const n784 = { capacity: { n: 784, p_max: 20, q0_steps: 2, trials: 2, max_sweeps: 10 } };
      line('browser Hopfield capacity sweep N 784 (P 1-20, 2 q0, 2 trials, 3 rules), Run → drawn', { backend, ...(await timedLab(context, server, 'hopfield', backend, n784)) });
      for (const [side, sweeps] of [[100, 500], [1024, 10]]) {
        const r = await timedLab(context, server, 'ising', backend, { side, sweeps });
        line(`browser Ising ${side}x${side}, ${sweeps} sweeps, Run → drawn`, { backend, ...r, sweeps_per_s: round(sweeps / (r.ms.median / 1000)) });
      }
    }
    if (only === 'memory') return;
    for (const backend of only === 'data' ? [] : ['gpu', 'cpu']) {
      const first = await firstPlot(context, server, backend);
      line('browser first plot drawn after navigation start', { backend, engine: first.engine.kind, adapter: first.engine.adapter, ms: first.ms });
      const run = await runTimes(context, server, backend);
      line('browser run 3x2000 updates, speed 0', { backend, ...run });
      line('browser main thread during an animated run (default speed)', { backend, ...(await mainThread(context, server, backend)) });
    }
    line('browser first digits drawn after navigation start (Datasets lab, shipped MNIST)', { ms: await firstDigits(context, server) });
    const dir = await mkdtemp(join(tmpdir(), 'hebbian-bench-'));
    try {
      for (const [name, [format, paths]] of Object.entries(await benchFiles(dir))) {
        let bytes = 0;
        for (const p of paths) bytes += (await stat(p)).size;
        const expect = format === 'cifar10' ? '50000 samples' : '60000 samples';
        const times = [];
        for (let i = 0; i < REPEAT; i++) times.push(await loadInPage(context, server, format, paths, expect));
        const ms = median(times);
        line('browser load of your files, pick → drawn', { case: name, file_bytes: bytes, ms: summary(times), mb_per_s: round(bytes / 1e6 / (ms / 1000)) });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    line('dist sizes', { wasm_bytes: wasm, dist_bytes: await folderBytes(DIST) });
  } finally {
    await context.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
