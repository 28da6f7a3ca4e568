// The page's only link to the engine worker: sends commands, turns worker messages into callbacks.
export class EngineClient {
  // callbacks: {onEngine(info), onFrame(frame), onRunning(bool), onError(message), onNoRun(), onNeedData(need),
  //             onProgress({what, loaded, total, unit, done}), onDataLoaded(format, line),
  //             onDataError(format, message, cancelled), onForgotten(format)}
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
      case 'no_run':
        cb.onNoRun();
        break;
      case 'need_data':
        cb.onNeedData(msg.need);
        break;
      case 'progress':
        cb.onProgress(msg);
        break;
      case 'data_loaded':
        cb.onDataLoaded(msg.format, msg.line);
        break;
      case 'data_error':
        cb.onDataError(msg.format, msg.message, msg.cancelled);
        break;
      case 'forgotten':
        cb.onForgotten(msg.format);
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
  // File objects are cloned to the worker without copying their bytes; it streams them.
  loadFiles(format, files) { this.send({ type: 'load_files', format, files }); }
  loadUrls(format, urls) { this.send({ type: 'load_urls', format, urls }); }
  forget(format) { this.send({ type: 'forget', format }); }
  cancelLoad() { this.send({ type: 'cancel_load' }); }
}
