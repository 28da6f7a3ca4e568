// @ts-check
// The page's only link to the engine worker: sends commands (ToWorker), turns worker messages (FromWorker) into
// callbacks. The messages are declared in www/types/messages.d.ts.

/** @typedef {import('./types/messages').ToWorker} ToWorker */
/** @typedef {import('./types/messages').FromWorker} FromWorker */
/** @typedef {import('./types/messages').AnyState} AnyState */
/** @typedef {import('./types/protocol').DataFormat} DataFormat */
/**
 * @typedef {object} EngineCallbacks
 * @property {(info: import('./types/protocol').EngineInfo) => void} onEngine
 * @property {(frame: import('./types/protocol').Frame) => void} onFrame
 * @property {(running: boolean) => void} onRunning
 * @property {(message: string) => void} onError
 * @property {() => void} onNoRun
 * @property {(need: import('./types/protocol').Need) => void} onNeedData
 * @property {(progress: import('./types/messages').Progress) => void} onProgress
 * @property {(format: DataFormat, line: string) => void} onDataLoaded
 * @property {(format: DataFormat, message: string, cancelled: boolean) => void} onDataError
 * @property {(format: DataFormat) => void} onForgotten
 * @property {(figures: {adapter: string, cpu: number, gpu: number}) => void} onMeasured
 * @property {(bytes: Uint8Array | null, auto: boolean) => void} onCheckpoint
 */

// `auto`'s measurements, per lab, in this browser: {[lab]: {adapter, cpu, gpu}} (steps per millisecond).
const MEASURED_KEY = 'hebbian:engine-measured';

/**
 * The figures measured for `lab` on an earlier visit, or null (none, or storage unavailable).
 * @param {string} lab
 * @returns {{adapter: string, cpu: number, gpu: number} | null}
 */
export function rememberedFigures(lab) {
  try {
    const all = JSON.parse(localStorage.getItem(MEASURED_KEY) || '{}');
    const f = all && all[lab];
    return f && typeof f.adapter === 'string' && f.cpu > 0 && f.gpu > 0 ? { adapter: f.adapter, cpu: f.cpu, gpu: f.gpu } : null;
  } catch {
    return null; // storage blocked or a value we did not write: measure again
  }
}

/**
 * @param {string} lab
 * @param {{adapter: string, cpu: number, gpu: number}} figures
 */
export function rememberFigures(lab, { adapter, cpu, gpu }) {
  try {
    const all = JSON.parse(localStorage.getItem(MEASURED_KEY) || '{}');
    localStorage.setItem(MEASURED_KEY, JSON.stringify({ ...(all && typeof all === 'object' ? all : {}), [lab]: { adapter, cpu, gpu } }));
  } catch {
    // Private browsing may refuse storage: the next visit measures again.
  }
}

export class EngineClient {
  /**
   * @param {import('./types/messages').Backend} backend
   * @param {EngineCallbacks} callbacks
   * @param {import('./types/messages').Measure | null} measure what `auto` measures (see worker.js)
   */
  constructor(backend, callbacks, measure = null) {
    this.callbacks = callbacks;
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = ({ data }) => this.dispatch(data);
    this.worker.onerror = (e) => callbacks.onError(`the engine worker failed to start: ${e.message || 'unknown error'}`);
    /** @type {Promise<import('./types/protocol').EngineInfo>} the engine's info, once it runs */
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.send({ type: 'init', backend, measure });
  }

  /** @param {FromWorker} msg */
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
      case 'measured':
        cb.onMeasured(msg);
        break;
      case 'checkpoint':
        cb.onCheckpoint(msg.bytes, msg.auto);
        break;
      default:
        break;
    }
  }

  /** @param {ToWorker} msg */
  send(msg) {
    this.worker.postMessage(msg);
  }

  /**
   * @param {AnyState} state
   * @param {Uint8Array} [checkpoint] a checkpoint file of `state` to resume from (copied to the worker)
   */
  start(state, checkpoint) { this.send(checkpoint ? { type: 'start', state, checkpoint } : { type: 'start', state }); }
  /** @param {boolean} auto for the browser's own keeping (not a download) */
  save(auto = false) { this.send({ type: 'save', auto }); }
  run() { this.send({ type: 'run' }); }
  pause() { this.send({ type: 'pause' }); }
  step() { this.send({ type: 'step' }); }
  reset() { this.send({ type: 'reset' }); }
  loseDevice() { this.send({ type: 'lose_device' }); }
  // File objects are cloned to the worker without copying their bytes; it streams them.
  /**
   * @param {DataFormat} format
   * @param {File[]} files
   */
  loadFiles(format, files) { this.send({ type: 'load_files', format, files }); }
  /**
   * @param {DataFormat} format
   * @param {string[]} urls
   */
  loadUrls(format, urls) { this.send({ type: 'load_urls', format, urls }); }
  /** @param {DataFormat} format */
  forget(format) { this.send({ type: 'forget', format }); }
  cancelLoad() { this.send({ type: 'cancel_load' }); }
}
