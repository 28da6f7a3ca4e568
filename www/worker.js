// @ts-check
// The engine worker: owns the wasm engine (GPU or CPU), the current run and the loaded datasets, so the page
// never computes. Data files are streamed into the engine chunk by chunk (never held whole in JavaScript).
// Messages in: ToWorker, out: FromWorker (www/types/messages.d.ts); see PROTOCOL.md for how they are used.
import init, { WorkerEngine } from './hebbian-playground.js';

/** @typedef {import('./types/messages').ToWorker} ToWorker */
/** @typedef {import('./types/messages').FromWorker} FromWorker */
/** @typedef {import('./types/protocol').DataFormat} DataFormat */
/** @typedef {import('./types/protocol').Need} Need */
/** @typedef {import('./types/protocol').Frame} Frame */

// Set by 'init'; no other message is handled before (see onmessage).
/** @type {WorkerEngine} */
let engine;
let speed = 25;
let running = false;
// Whether the engine holds a run of the state last started (false while that state waits for data).
let hasRun = false;
// Set by 'cancel_load', which is handled at once (not queued): the streaming loop checks it between chunks.
let cancelRequested = false;
// Engine calls never overlap: each waits for the previous one (a run chunk may be awaiting the GPU).
/** @type {Promise<unknown>} */
let queue = Promise.resolve();
/**
 * @template T
 * @param {() => T | PromiseLike<T>} fn
 * @returns {Promise<T>}
 */
const serial = (fn) => {
  const next = queue.then(fn, fn);
  queue = next;
  return next;
};

const post = (/** @type {FromWorker} */ msg) => self.postMessage(msg);
const messageOf = (e) => (e instanceof Error ? e.message : String(e));
const fail = (e) => post({ type: 'error', message: messageOf(e) });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// A load the user cancelled: not an error of the data.
class Cancelled extends Error {}

// What the page calls each format (the Rust `Kind` ids).
const FORMAT_TITLES = { mnist_idx: 'MNIST IDX', cifar10: 'CIFAR-10' };

function setRunning(value) {
  running = value;
  post({ type: 'running', running });
}

// A chunk of a run hands back control after this long (the engine looks at the clock between pieces of work),
// so that Pause, Reset and edits take effect within about one chunk at every speed.
const CHUNK_MS = 80;
// At speed 0 (no animation) the page is sent the run's state this often, not after every chunk.
const QUIET_FRAME_MS = 500;

// Frames computed but not yet sent (speed 0): plots by id (the latest wins), notices and datasets in order.
/** @type {Frame | null} */
let held = null;
let lastSent = 0;
// The step the engine's run is at (Step runs until it moves on).
let stepNow = 0;
// Bumped by start and reset: a chunk that was in flight then belongs to the run before, and its frame is dropped.
let generation = 0;

/** @param {Frame} frame */
function hold(frame) {
  if (!held) {
    held = frame;
    return;
  }
  const plots = new Map(held.plots.map((p) => [p.id, p]));
  for (const p of frame.plots) {
    plots.delete(p.id);
    plots.set(p.id, p);
  }
  held = { ...frame, plots: [...plots.values()], notices: [...held.notices, ...frame.notices], datasets: [...held.datasets, ...frame.datasets] };
}

function sendHeld() {
  if (!held) return;
  post({ type: 'frame', frame: held });
  held = null;
  lastSent = performance.now();
}

async function advanceOnce() {
  const kindBefore = engine.info().kind;
  const ours = generation;
  const frame = await engine.advance(speed, CHUNK_MS);
  if (ours !== generation) return frame;
  stepNow = frame.step;
  hold(frame);
  if (speed > 0 || frame.done || performance.now() - lastSent >= QUIET_FRAME_MS) sendHeld();
  if (engine.info().kind !== kindBefore) post({ type: 'engine', info: engine.info() });
  return frame;
}

// Each loop's number: a Pause followed at once by Run starts a new loop while the old one still waits for its
// chunk, and the old one must then end without running chunks of its own.
let loopId = 0;

// Runs chunks until the end, a pause, or (for Step) the first chunk that completes a step: a step of a large
// experiment can span many chunks, and Pause still interrupts it.
async function loop(stepOnly = false) {
  const id = ++loopId;
  const from = stepNow;
  while (running && id === loopId) {
    let frame;
    try {
      frame = await serial(advanceOnce);
    } catch (e) {
      sendHeld();
      fail(e);
      setRunning(false);
      return;
    }
    if (frame.done || (stepOnly && frame.step > from)) {
      sendHeld();
      setRunning(false);
      return;
    }
    // Yield so pause/reset messages get in; animated runs are paced to about one frame per display frame.
    await pause(speed > 0 && !stepOnly ? 16 : 0);
  }
  // Paused: the page gets the chunk that was in flight before it hears that the run stopped, so the step it
  // shows (and saves) when the run stops is the step the engine stopped at.
  if (id === loopId) {
    sendHeld();
    post({ type: 'running', running: false });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Data loading

// Progress messages at most every 100 ms (a large file has thousands of chunks), and always the last one.
let lastProgress = 0;
function progress(what, loaded, total, unit, force = false) {
  const now = performance.now();
  if (!force && now - lastProgress < 100) return;
  lastProgress = now;
  post({ type: 'progress', what, loaded, total: total === null ? null : Math.max(total, loaded), unit, done: false });
}

// Fetches `url` and answers the response, or throws a message that says why the URL could not be read.
async function fetchChecked(url) {
  let response;
  try {
    response = await fetch(url);
  } catch {
    // fetch gives no reason for a network error or a refused cross-origin read; both look the same here.
    throw new Error(`${url} could not be read: the server did not allow this page to read it (not same-origin or no CORS), or it could not be reached.`);
  }
  if (!response.ok) {
    throw new Error(`${url} could not be read: the server answered HTTP ${response.status}${response.statusText ? ` (${response.statusText})` : ''}.`);
  }
  return response;
}

function fileNameOf(url) {
  const last = new URL(url).pathname.split('/').filter(Boolean).pop() || 'download';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

// The sources of a load as [{name, size, stream, length}]: `size` is passed to the loader (which checks that the
// file has exactly that many bytes), `length` only feeds the progress bar.
function fileSources(files) {
  return files.map((f) => ({ name: f.name, size: f.size, length: f.size, stream: () => f.stream() }));
}

async function urlSources(urls) {
  const sources = [];
  for (const url of urls) {
    const response = await fetchChecked(url);
    const length = Number(response.headers.get('content-length')) || null;
    // No `size`: with a Content-Encoding the body has another length than Content-Length says.
    sources.push({ name: fileNameOf(response.url || url), size: null, length, stream: () => response.body });
  }
  return sources;
}

// Streams `sources` into one load for `need` (a `missing` answer); resolves to the dataset's summary line.
// Any failure cancels the load in the engine, so nothing half-read is kept.
async function load(need, sources, what) {
  cancelRequested = false;
  const total = sources.every((s) => s.length !== null) ? sources.reduce((n, s) => n + s.length, 0) : null;
  let loaded = 0;
  progress(what, 0, total, 'bytes', true);
  try {
    await serial(() => engine.load_begin(need));
    for (const source of sources) {
      await serial(() => engine.load_file(source.name, source.size ?? undefined));
      const reader = source.stream().getReader();
      for (;;) {
        if (cancelRequested) {
          reader.cancel();
          throw new Cancelled('loading was cancelled');
        }
        let chunk;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw new Error(`${source.name} could not be read to the end (${messageOf(e)})`);
        }
        if (chunk.done) break;
        await serial(() => engine.load_push(chunk.value));
        loaded += chunk.value.length;
        progress(what, loaded, total, 'bytes');
      }
      await serial(() => engine.load_end_file());
    }
    progress(what, loaded, total, 'bytes', true);
    return await serial(() => engine.load_finish());
  } catch (e) {
    await serial(() => engine.load_cancel());
    throw e;
  } finally {
    post({ type: 'progress', done: true });
  }
}

// The shipped data a state needs: the MNIST asset or the photographs, from the site's data/ folder.
async function loadShipped(need) {
  try {
    if (need.kind === 'mnist') {
      const names = ['mnist-10k-images-idx3-ubyte.gz', 'mnist-10k-labels-idx1-ubyte.gz'];
      const sources = await urlSources(names.map((n) => new URL(`data/mnist/${n}`, self.location.href).href));
      await load(need, sources, 'MNIST digits');
      return;
    }
    const files = await serial(() => engine.photo_files());
    try {
      for (const [i, file] of files.entries()) {
        progress('photographs', i, files.length, 'files', true);
        const response = await fetchChecked(new URL(`data/photos/${file}`, self.location.href).href);
        const bytes = new Uint8Array(await response.arrayBuffer());
        await serial(() => engine.add_photo(file, bytes));
      }
    } finally {
      post({ type: 'progress', done: true });
    }
  } catch (e) {
    const what = need.kind === 'mnist' ? 'the MNIST digits shipped with the playground' : 'the shipped photographs';
    throw new Error(`Could not load ${what}: ${messageOf(e)}`);
  }
}

// A user load for `format`, answered with data_loaded or data_error (never a bare error: the page's data panel
// waits for one of the two).
async function loadUser(format, getSources) {
  const title = FORMAT_TITLES[format] || format;
  try {
    const sources = await getSources();
    if (sources.length === 0) throw new Error('no files were given');
    const names = sources.map((s) => s.name);
    const what = names.length === 1 ? names[0] : `${names.length} ${title} files`;
    const line = await load({ kind: 'user', format }, sources, what);
    post({ type: 'data_loaded', format, line });
  } catch (e) {
    if (e instanceof Cancelled) post({ type: 'data_error', format, cancelled: true, message: `Loading your ${title} data was cancelled.` });
    else post({ type: 'data_error', format, cancelled: false, message: `Your ${title} data could not be loaded: ${messageOf(e)}` });
  }
}

// `auto` on a GPU compares the engines on the lab's own work, once, at the first start whose data is loaded:
// it applies the figures the page remembered for this adapter, or measures both engines (~0.3 s each) and sends
// the figures back to be remembered. Set by 'init' (null: nothing to measure, e.g. a chosen backend).
/** @type {import('./types/messages').Measure | null} */
let measure = null;
const MEASURE_MS = 300;

/** @param {import('./types/messages').AnyState} state */
async function chooseEngine(state) {
  const wanted = measure;
  measure = null;
  const info = engine.info();
  if (!wanted || info.kind !== 'gpu') return;
  const adapter = info.adapter ?? '';
  if (wanted.remembered && wanted.remembered.adapter === adapter) {
    engine.prefer(wanted.remembered.cpu, wanted.remembered.gpu);
  } else {
    const figures = await serial(() => engine.measure(state, MEASURE_MS));
    if (figures) post({ type: 'measured', adapter, cpu: figures.cpu, gpu: figures.gpu });
  }
  post({ type: 'engine', info: engine.info() });
}

// ---------------------------------------------------------------------------------------------------------------
// Handlers

/** @type {{[K in ToWorker['type']]?: (msg: Extract<ToWorker, {type: K}>) => unknown}} */
const handlers = {
  async init({ backend, measure: wanted }) {
    await init();
    engine = await WorkerEngine.create(backend || 'auto', Boolean(wanted && wanted.force));
    measure = wanted;
    post({ type: 'engine', info: engine.info() });
  },
  async start({ state, checkpoint }) {
    setRunning(false);
    generation += 1;
    held = null;
    hasRun = false;
    speed = state.view.speed;
    try {
      const need = await serial(() => engine.missing(state));
      if (need && need.kind === 'user') {
        // The page shows what to load and starts again once it is loaded.
        post({ type: 'no_run' });
        post({ type: 'need_data', need });
        return;
      }
      if (need) await loadShipped(need);
      await chooseEngine(state);
      await serial(() => (checkpoint ? engine.resume(state, checkpoint) : engine.start(state)));
    } catch (e) {
      post({ type: 'no_run' });
      throw e;
    }
    hasRun = true;
    const frame = await serial(() => engine.snapshot());
    stepNow = frame.step;
    post({ type: 'frame', frame });
  },
  async save({ auto }) {
    const bytes = hasRun ? await serial(() => engine.save()) : undefined;
    // The buffer moves to the page instead of being copied (a checkpoint can be tens of megabytes).
    if (bytes) self.postMessage({ type: 'checkpoint', bytes, auto }, { transfer: [/** @type {ArrayBuffer} */ (bytes.buffer)] });
    else post({ type: 'checkpoint', bytes: null, auto });
  },
  run() {
    if (running || !hasRun) return;
    setRunning(true);
    loop();
  },
  pause() {
    // The loop says the run stopped once its chunk in flight is in the page.
    running = false;
  },
  step() {
    if (running || !hasRun) return;
    setRunning(true);
    loop(true);
  },
  async reset() {
    if (!hasRun) return;
    setRunning(false);
    generation += 1;
    held = null;
    await serial(() => engine.reset());
    stepNow = 0;
    post({ type: 'frame', frame: await serial(() => engine.snapshot()) });
  },
  async lose_device() {
    // Through `serial` like every engine call: during a run chunk the engine is borrowed until the GPU answers.
    post({ type: 'device_lost_simulated', done: await serial(() => engine.lose_device()) });
  },
  async load_files({ format, files }) {
    await loadUser(format, async () => fileSources(files));
  },
  async load_urls({ format, urls }) {
    await loadUser(format, () => urlSources(urls));
  },
  async forget({ format }) {
    await serial(() => engine.forget(format));
    post({ type: 'forgotten', format });
  },
};

// Messages are handled in arrival order (a 'start' must wait for 'init'); a run loop goes on in the background.
// 'cancel_load' alone is handled at once, since the load it cancels holds the queue.
let inbox = Promise.resolve();
self.onmessage = (/** @type {MessageEvent<ToWorker>} */ { data }) => {
  if (data && data.type === 'cancel_load') {
    cancelRequested = true;
    return;
  }
  inbox = inbox.then(async () => {
    const handler = /** @type {((msg: ToWorker) => unknown) | undefined} */ (data && Object.hasOwn(handlers, data.type) ? handlers[/** @type {ToWorker['type']} */ (data.type)] : undefined);
    if (!handler) return fail(`unknown worker message ${JSON.stringify(data && data.type)}`);
    if (!engine && data.type !== 'init') return fail('the engine failed to start');
    try {
      await handler(data);
    } catch (e) {
      fail(e);
    }
  });
};
