// The engine worker: owns the wasm engine (GPU or CPU) and the current run, so the page never computes.
// Messages in:  {type:'init', backend} {type:'start', state} {type:'run'} {type:'pause'} {type:'step'}
//               {type:'reset'} {type:'lose_device'}
// Messages out: {type:'engine', info} {type:'frame', frame} {type:'running', running} {type:'error', message}
import init, { WorkerEngine } from './hebbian-playground.js';

let engine = null;
let speed = 25;
let running = false;
// Engine calls never overlap: each waits for the previous one (a run chunk may be awaiting the GPU).
let queue = Promise.resolve();
const serial = (fn) => (queue = queue.then(fn, fn));

const post = (msg) => self.postMessage(msg);
const fail = (e) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

function setRunning(value) {
  running = value;
  post({ type: 'running', running });
}

async function advanceOnce() {
  const kindBefore = engine.info().kind;
  const frame = await engine.advance(speed);
  post({ type: 'frame', frame });
  if (engine.info().kind !== kindBefore) post({ type: 'engine', info: engine.info() });
  return frame;
}

async function loop() {
  while (running) {
    let frame;
    try {
      frame = await serial(advanceOnce);
    } catch (e) {
      fail(e);
      setRunning(false);
      return;
    }
    if (frame.done) {
      setRunning(false);
      return;
    }
    // Yield so pause/reset messages get in, and pace the animation to about one frame per display frame.
    await pause(16);
  }
}

const handlers = {
  async init({ backend }) {
    await init();
    engine = await WorkerEngine.create(backend || 'auto');
    post({ type: 'engine', info: engine.info() });
  },
  async start({ state }) {
    setRunning(false);
    speed = state.view.speed;
    await serial(() => engine.start(state));
    post({ type: 'frame', frame: await serial(() => engine.snapshot()) });
  },
  run() {
    if (running) return;
    setRunning(true);
    loop();
  },
  pause() {
    setRunning(false);
  },
  async step() {
    if (running) return;
    await serial(advanceOnce);
  },
  async reset() {
    setRunning(false);
    await serial(() => engine.reset());
    post({ type: 'frame', frame: await serial(() => engine.snapshot()) });
  },
  async lose_device() {
    // Through `serial` like every engine call: during a run chunk the engine is borrowed until the GPU answers.
    post({ type: 'device_lost_simulated', done: await serial(() => engine.lose_device()) });
  },
};

// Messages are handled in arrival order (a 'start' must wait for 'init'); a run loop goes on in the background.
let inbox = Promise.resolve();
self.onmessage = ({ data }) => {
  inbox = inbox.then(async () => {
    const handler = handlers[data && data.type];
    if (!handler) return fail(`unknown worker message ${JSON.stringify(data && data.type)}`);
    if (!engine && data.type !== 'init') return fail('the engine failed to start');
    try {
      await handler(data);
    } catch (e) {
      fail(e);
    }
  });
};
