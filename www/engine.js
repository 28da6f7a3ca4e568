// The page's only link to the engine worker: sends commands, turns worker messages into callbacks.
export class EngineClient {
  // callbacks: {onEngine(info), onFrame(frame), onRunning(bool), onError(message)}
  constructor(backend, callbacks) {
    this.callbacks = callbacks;
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = ({ data }) => this.dispatch(data);
    this.worker.onerror = (e) => callbacks.onError(`the engine worker failed to start: ${e.message || 'unknown error'}`);
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.send({ type: 'init', backend });
  }

  dispatch(msg) {
    const cb = this.callbacks;
    switch (msg.type) {
      case 'engine':
        this.resolveReady(msg.info);
        cb.onEngine(msg.info);
        break;
      case 'frame':
        cb.onFrame(msg.frame);
        break;
      case 'running':
        cb.onRunning(msg.running);
        break;
      case 'error':
        cb.onError(msg.message);
        break;
      default:
        break;
    }
  }

  send(msg) {
    this.worker.postMessage(msg);
  }

  start(state) { this.send({ type: 'start', state }); }
  run() { this.send({ type: 'run' }); }
  pause() { this.send({ type: 'pause' }); }
  step() { this.send({ type: 'step' }); }
  reset() { this.send({ type: 'reset' }); }
  loseDevice() { this.send({ type: 'lose_device' }); }
}
