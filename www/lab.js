// @ts-check
// A lab page: renders the manifest's cells, keeps the state document in the URL, drives the engine worker
// and draws its frames. Used both on the site and inside an embed iframe. The cells live in their own modules:
// lab-cells.js (prose, exercises, plot slots, datasets, metrics), lab-runbar.js (the run bar), lab-share.js
// (copy link, classroom link, embed snippet), controls.js, pattern-editor.js and data-panel.js.
import { buildControls, getPath, label, pathShown, refreshWhen, resolve, setPath, showErrors } from './controls.js';
import { EngineClient, rememberFigures, rememberedFigures } from './engine.js';
import { renderPlot, updatePlot, disposePlot } from './plots.js';
import { clearMessages, showMessage } from './messages.js';
import { PatternEditor } from './pattern-editor.js';
import { DataPanel, FORMATS } from './data-panel.js';
import { button, el } from './dom.js';
import { count, duration, megabytes } from './format.js';
import { datasetCell, exerciseCell, fitDisplayMath, metricsCell, plotSlot, proseCell, showMetrics, teacherCell, typeset } from './lab-cells.js';
import { RunBar } from './lab-runbar.js';
import { keepCheckpoint, keptCheckpoint } from './kept-files.js';
import { SharePanel, permalink } from './lab-share.js';

/** @typedef {import('./types/protocol').Cell} Cell */
/** @typedef {import('./types/protocol').DatasetView} DatasetView */
/** @typedef {import('./types/protocol').Frame} Frame */
/** @typedef {import('./types/protocol').Manifest} Manifest */
/** @typedef {import('./types/protocol').Need} Need */
/** @typedef {import('./types/protocol').Plot} Plot */
/** @typedef {import('./types/messages').AnyState} AnyState */
/** @typedef {import('./types/messages').Backend} Backend */
/** @typedef {import('./types/protocol').EngineInfo} EngineInfo */
/** @typedef {import('./plots.js').PlotHandle} PlotHandle */

// The largest weights file read (src/checkpoint.rs MAX_BYTES): checked before the file is read into memory.
const MAX_CHECKPOINT_BYTES = 2 ** 30;
// How often a learning run's checkpoint is kept in this browser (and whenever it stops).
const AUTOSAVE_MS = 30_000;

export class LabPage {
  /**
   * @param {HTMLElement} root
   * @param {typeof import('./hebbian-playground.js')} wasm the main-thread bindings
   * @param {AnyState} state
   * @param {{backend: Backend, embed: boolean, teacher: boolean, calibrate: boolean}} options `teacher`: the
   *   teacher's view (answers, learning goals) from ?teacher=1; `calibrate`: `auto` measures both engines anew,
   *   even a software WebGPU (?calibrate=1)
   */
  constructor(root, wasm, state, options) {
    this.root = root;
    this.wasm = wasm;
    this.options = options;
    this.manifest = wasm.manifest(state.lab);
    this.schema = this.manifest.schema;
    this.state = state;
    /** @type {Map<string, {cell: HTMLElement, handle: PlotHandle | null}>} */
    this.plots = new Map();
    /** @type {Map<string, Plot>} the latest plot of each id not yet drawn */
    this.pending = new Map();
    /** @type {Map<string, {section: HTMLElement, line: HTMLElement}>} dataset cells by id */
    this.datasets = new Map();
    /** @type {PatternEditor[]} one per pattern_editor cell */
    this.editors = [];
    /** @type {{body: HTMLElement, block: HTMLElement, fields: string[]}[]} */
    this.controlBlocks = [];
    /** @type {HTMLElement | null} */
    this.metricsBody = null;
    /** @type {Frame | null} */
    this.frame = null;
    /** @type {EngineInfo | null} */
    this.engine = null;
    this.drawScheduled = false;
    this.running = false;
    this.hasRun = false; // the worker holds a run of this.state (false while it starts or waits for data)
    this.invalid = false; // the last edit did not validate
    this.confirmed = ''; // the state whose long run the user agreed to
    /** @type {{frame: ((frame: Frame) => void)[], done: ((frame: Frame) => void)[]}} */
    this.listeners = { frame: [], done: [] };
    this.share = new SharePanel({
      embed: options.embed,
      title: this.manifest.info.title,
      state: () => this.state,
      link: (s) => this.link(s),
      fields: () => this.controlBlocks.flatMap((c) => c.fields),
      label: (name) => label(name, resolve(this.schema, this.schema.$defs.Params.properties[name])),
    });
    /** @type {{key: string, bytes: Uint8Array, name: string, step: number, announced: boolean} | null} a
     *  checkpoint file loaded for this.state: each start of that state resumes from it */
    this.checkpoint = null;
    if (this.manifest.checkpoints) this.share.tools.push(...this.checkpointTools());
    this.lastKept = { at: 0, step: -1, failed: false }; // the browser's own keeping of checkpoints (see keep)
    /** @type {Promise<void>} the last checkpoint write queued (see keep) */
    this.keeping = Promise.resolve();
    this.runBar = new RunBar({
      run: () => this.run(),
      pause: () => this.client.pause(),
      step: () => this.client.step(),
      reset: () => this.reset(),
      cancelLoad: () => this.client.cancelLoad(),
      seed: () => this.state.seed,
      setSeed: (seed) => this.commit({ ...this.state, seed }),
    }, this.share, this.schema.$defs.Params['x-step'] || 'update');
    this.client = new EngineClient(options.backend, {
      onEngine: (info) => this.showEngine(info),
      onFrame: (frame) => this.onFrame(frame),
      onRunning: (running) => this.setRunning(running),
      onError: (message) => showMessage(message, 'error', 'run'),
      onNoRun: () => {
        this.hasRun = false;
        this.updateButtons();
      },
      onNeedData: (need) => this.needData(need),
      onProgress: (p) => this.runBar.showLoad(p),
      // Loads start only from the data panel, so these come only when there is one.
      onDataLoaded: (format, line) => this.panel?.loaded(format, line),
      onDataError: (format, message, cancelled) => this.panel?.failed(format, message, cancelled),
      onForgotten: (format) => this.panel?.forgotten(format),
      onMeasured: (figures) => rememberFigures(state.lab, figures),
      onCheckpoint: (bytes, auto) => (auto ? this.keep(bytes) : this.download(bytes)),
    }, options.backend === 'auto' ? { remembered: rememberedFigures(state.lab), force: options.calibrate } : null);
    /** @type {DataPanel | null} */
    this.panel = null;
    this.dataPath = this.userDataPath();
    if (this.dataPath) {
      this.panel = new DataPanel(this.client, {
        onLoaded: (format) => this.useUserData(format),
        onForgotten: (format) => {
          if (this.dataKind() === FORMATS[format].kind) this.restart();
        },
      });
    }
    this.render();
    this.restart();
    if (this.manifest.checkpoints) this.offerKept();
    addEventListener('resize', () => fitDisplayMath(this.root));
  }

  // Where the lab's params choose their data, when that choice can be the user's own files (the page then
  // shows the data panel): a parameter whose options include a user format's kind (the Hebbian-CNN lab's
  // `images`), or the `kind` of an object parameter (the Datasets lab's `source/kind`); null when none.
  /** @returns {string | null} */
  userDataPath() {
    const kinds = (/** @type {any} */ node) => {
      const n = resolve(this.schema, node);
      return n ? (n.oneOf || []).map((/** @type {any} */ o) => o.const).concat(n.enum || []) : [];
    };
    const reads = (/** @type {any} */ node) => Object.values(FORMATS).some((f) => kinds(node).includes(f.kind));
    for (const [name, prop] of Object.entries(this.schema.$defs.Params.properties)) {
      if (reads(prop)) return name;
      const kind = resolve(this.schema, prop)?.properties?.kind;
      if (kind && reads(kind)) return `${name}/kind`;
    }
    return null;
  }

  // The data kind the experiment reads now (the value at `userDataPath`).
  /** @returns {string | undefined} */
  dataKind() {
    return this.dataPath ? getPath(this.state.params, this.dataPath) : undefined;
  }

  /**
   * @param {'frame' | 'done'} event
   * @param {(frame: Frame) => void} fn
   */
  on(event, fn) {
    this.listeners[event].push(fn);
  }

  render() {
    const m = this.manifest;
    const nodes = [];
    if (!this.options.embed) {
      nodes.push(el('h1', { textContent: m.info.title }), el('p', { className: 'summary', textContent: m.info.summary }));
      if (this.options.teacher) nodes.push(el('p', { className: 'teacher-banner', textContent: "Teacher's view: learning goals, expected observations and the answers to the exercises are shown. Students' links do not show them." }));
    }
    this.controlBlocks = [];
    for (const cell of m.cells) {
      nodes.push(this.cell(cell));
      // The data panel goes right under the controls that choose the dataset.
      if (this.panel && cell.kind === 'controls' && cell.fields.includes(String(this.dataPath).split('/')[0])) nodes.push(this.panel.element);
    }
    if (this.panel && !nodes.includes(this.panel.element)) nodes.push(this.panel.element);
    this.root.replaceChildren(...nodes);
    typeset(this.root);
    this.renderControls();
    this.refreshDerived();
  }

  /** @param {Cell} cell */
  cell(cell) {
    switch (cell.kind) {
      case 'prose':
        return proseCell(cell);
      case 'controls': {
        const body = el('div', { className: 'controls' });
        const block = el('section', { className: 'cell controls-cell' }, el('h3', { textContent: cell.title }), body);
        this.controlBlocks.push({ body, block, fields: cell.fields });
        return block;
      }
      case 'run':
        return this.runBar.element;
      case 'plot':
        return this.plotSlot(cell.id, 'cell plot');
      case 'plot_row':
        return el('div', { className: 'cell plot-row' }, ...cell.ids.map((id) => this.plotSlot(id, 'plot')));
      case 'exercise':
        return exerciseCell(cell, this.options.teacher);
      case 'teacher':
        return this.options.teacher ? teacherCell(cell) : el('div', { hidden: true });
      case 'metrics': {
        const { section, body } = metricsCell(cell.title);
        this.metricsBody = body;
        return section;
      }
      case 'dataset': {
        const d = datasetCell(cell.id, (id, className) => this.plotSlot(id, className));
        this.datasets.set(cell.id, d);
        return d.section;
      }
      case 'pattern_editor': {
        const editor = new PatternEditor(cell, (path, v) => this.edit({ ...this.state, params: setPath(this.state.params, path, v) }));
        this.editors.push(editor);
        return editor.element;
      }
      default:
        return el('div');
    }
  }

  /**
   * @param {string} id
   * @param {string} className
   */
  plotSlot(id, className) {
    const div = plotSlot(id, className);
    this.plots.set(id, { cell: div, handle: null });
    return div;
  }

  /** @param {DatasetView} view */
  showDataset(view) {
    const d = this.datasets.get(view.id);
    if (!d) return;
    d.line.textContent = view.line;
    d.section.hidden = false;
    const examples = view.examples;
    if (examples.kind === 'images') {
      // Tall enough for about 44 px per image row (plus its label), so that digits stay legible.
      const rows = Math.ceil(examples.images.length / Math.max(1, examples.cols));
      const height = Math.min(900, Math.max(240, 56 + rows * 64));
      this.plots.get(examples.id)?.cell.style.setProperty('--plot-height', `${height}px`);
    }
    this.pending.set(examples.id, examples);
    if (view.classes) this.pending.set(view.classes.id, view.classes);
  }

  hideDatasets() {
    for (const { section } of this.datasets.values()) section.hidden = true;
  }

  renderControls() {
    const params = this.schema.$defs.Params;
    const hidden = new Set(this.state.hidden);
    // The pattern editors draw their patterns; the generic controls leave them out.
    const skip = new Set(this.editors.map((e) => e.path));
    for (const { body, block, fields } of this.controlBlocks) {
      const shown = fields.filter((f) => !hidden.has(f));
      block.hidden = shown.length === 0;
      buildControls(body, {
        root: this.schema, schema: params, fields: shown, value: this.state.params, skip,
        onEdit: (path, v) => this.edit({ ...this.state, params: setPath(this.state.params, path, v) }),
      });
    }
    // The speed counts the lab's own steps ("sweeps/frame" in the Ising lab), as the progress text does.
    const view = structuredClone(this.schema.$defs.View);
    const step = this.schema.$defs.Params['x-step'];
    const steps = this.schema.$defs.Params['x-steps'] || `${step}s`;
    if (step && view.properties.speed) view.properties.speed['x-unit'] = `${steps}/frame`;
    buildControls(this.runBar.viewBox, {
      root: this.schema, schema: view, fields: Object.keys(view.properties).filter((k) => !view.properties[k]['x-hidden']),
      value: this.state.view, onEdit: (path, v) => this.edit({ ...this.state, view: setPath(this.state.view, path, v) }),
    });
  }

  // A control changed: validate in Rust, show errors next to the fields, run only what is valid.
  edit(next) {
    const errors = this.wasm.validate(next);
    if (errors.length) {
      let rest = errors;
      for (const host of this.errorHosts()) rest = showErrors(host, rest);
      for (const e of rest) showMessage(`${e.path}: ${e.message}`, 'error', 'run');
      this.invalid = true;
      this.updateButtons();
      return;
    }
    this.commit(next);
  }

  errorHosts() {
    return [...this.controlBlocks.map((c) => c.body), ...this.editors.map((e) => e.element)];
  }

  // What follows the params without being a control: x-when groups, pattern editors, the data panel's format.
  refreshDerived() {
    const params = this.state.params;
    for (const { body } of this.controlBlocks) refreshWhen(body, params);
    for (const editor of this.editors) {
      editor.update(getPath(params, editor.path), pathShown(this.schema, this.schema.$defs.Params, params, editor.path));
    }
    if (this.panel) this.panel.follow(this.dataKind());
  }

  commit(next) {
    // Rebuild the controls only when the params change shape (an item added or removed), so focus survives edits.
    const shape = (v) => JSON.stringify(v, (_, x) => (x !== null && typeof x === 'object' ? x : 0));
    const rebuild = shape(next.params) !== shape(this.state.params);
    this.state = next;
    this.runBar.showSeed(next.seed);
    if (rebuild) this.renderControls();
    for (const host of this.errorHosts()) showErrors(host, []);
    this.invalid = false;
    this.refreshDerived();
    this.restart();
  }

  // Run, asking first when the run is estimated over a minute in the browser (once per experiment: a run
  // paused and resumed, or reset, does not ask again).
  run() {
    const key = JSON.stringify(this.state);
    const cost = this.wasm.estimate(this.state);
    if (cost.browser_seconds <= this.wasm.ask_seconds() || this.confirmed === key) {
      this.client.run();
      return;
    }
    const work = cost.parts.filter((p) => p.units > 0).sort((a, b) => b.seconds - a.seconds)[0];
    const detail = work ? ` (${count(work.units)} ${work.what})` : '';
    this.runBar.ask(
      `This run is estimated at about ${duration(cost.browser_seconds)} on your computer's CPU${detail}. You can pause it at any time.`,
      'Run it',
      () => {
        this.confirmed = key;
        this.client.run();
      });
  }

  restart() {
    this.runBar.clearQuestion();
    clearMessages('run');
    for (const p of this.plots.values()) {
      if (p.handle) disposePlot(p.handle);
      p.handle = null;
      p.cell.hidden = true;
    }
    this.hideDatasets();
    this.pending.clear();
    // Nothing is drawn until the new run's first frame: whoever waits for a drawn step (the browser tests) must
    // not take the old run's for it.
    this.root.dataset.drawnStep = '';
    this.hasRun = false;
    this.updateButtons();
    this.updateUrl();
    // A loaded checkpoint stays with its experiment (a restart after the user's data loads resumes from it too).
    if (this.checkpoint && this.checkpoint.key !== JSON.stringify(this.state)) this.checkpoint = null;
    this.client.start(this.state, this.checkpoint?.bytes);
  }

  // "Save weights" and "Load weights…": what the run has learnt, to a file and back (labs whose runs are long).
  checkpointTools() {
    const input = el('input', { type: 'file', accept: '.safetensors', hidden: true, name: 'checkpoint-file' });
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      input.value = '';
      if (file) this.loadCheckpoint(file);
    });
    return [
      button('Save weights', () => this.client.save(), 'Save what the networks have learnt so far to a file, to resume from later'),
      button('Load weights…', () => input.click(), 'Resume an experiment from a weights file saved on this page'),
      input,
    ];
  }

  /**
   * Offers the run's checkpoint file as a download.
   * @param {Uint8Array | null} bytes
   */
  download(bytes) {
    if (!bytes) {
      showMessage('Nothing has been learnt yet: run the experiment, then save its weights.', 'info', 'run');
      return;
    }
    const { step } = this.wasm.checkpoint_header(bytes);
    const name = `${this.state.lab}-seed${this.state.seed}-step${step}.safetensors`;
    const url = URL.createObjectURL(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (bytes)], { type: 'application/octet-stream' }));
    const a = el('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    showMessage(`Weights saved as ${name} (${megabytes(bytes.length, null)}): "Load weights…" resumes from them, here or in the command line.`, 'info', 'run');
  }

  /**
   * Keeps the run's checkpoint in this browser (one per lab, the latest), so that a closed tab or a crash loses
   * nothing: the next visit of the same experiment offers to resume from it.
   * @param {Uint8Array | null} bytes
   */
  keep(bytes) {
    if (!bytes) return this.keeping;
    const { state, step } = this.wasm.checkpoint_header(bytes);
    if (step === this.lastKept.step) return this.keeping;
    this.lastKept.step = step;
    const entry = { key: JSON.stringify(state), bytes, step, total: this.frame?.total ?? 0, saved: Date.now() };
    // One write at a time, in the order the checkpoints came: each write opens the storage anew, and two
    // opening at once could land the older one last (seen when a pause's save and the run's last frame
    // crossed).
    this.keeping = this.keeping.then(() => keepCheckpoint(state.lab, entry)).catch((e) => {
      if (this.lastKept.failed) return;
      this.lastKept.failed = true;
      showMessage(`This browser did not keep the weights as the run goes (${e instanceof Error ? e.message : e}); "Save weights" still saves them to a file.`, 'warning', 'run');
    });
    return this.keeping;
  }

  // While a run learns, its checkpoint is kept in this browser every AUTOSAVE_MS and whenever it stops.
  autosave(frame) {
    if (!this.manifest.checkpoints || frame.step === 0) return;
    const now = performance.now();
    if (frame.done || !this.running || now - this.lastKept.at >= AUTOSAVE_MS) {
      this.lastKept.at = now;
      this.client.save(true);
    }
  }

  // Weights this browser kept of the experiment on the page, from an earlier visit: offered, not imposed.
  async offerKept() {
    let entry;
    try {
      entry = await keptCheckpoint(this.state.lab);
    } catch {
      return; // storage blocked (private browsing): nothing was kept
    }
    if (!entry || entry.key !== JSON.stringify(this.state) || this.checkpoint) return;
    const when = new Date(entry.saved).toLocaleString();
    this.runBar.ask(`This browser kept the weights of this experiment from an earlier visit (${this.stepWords(entry.step)} of ${entry.total}, ${when}). Resume from them?`, 'Resume', () => {
      this.checkpoint = { key: entry.key, bytes: entry.bytes, name: 'the weights kept in this browser', step: entry.step, announced: false };
      this.restart();
    });
  }

  /**
   * "4 network batches" in the lab's own words (the schema's x-step / x-steps).
   * @param {number} n
   */
  stepWords(n) {
    const step = this.schema.$defs.Params['x-step'] || 'update';
    return `${n} ${n === 1 ? step : this.schema.$defs.Params['x-steps'] || `${step}s`}`;
  }

  /**
   * Resumes from a checkpoint file: its experiment replaces the one on the page, at the step it was saved.
   * @param {File} file
   */
  async loadCheckpoint(file) {
    clearMessages('run');
    let header;
    let bytes;
    try {
      if (file.size > MAX_CHECKPOINT_BYTES) {
        throw new Error(`it is ${megabytes(file.size, null)}; a weights file holds at most ${megabytes(MAX_CHECKPOINT_BYTES, null)}`);
      }
      bytes = new Uint8Array(await file.arrayBuffer());
      header = this.wasm.checkpoint_header(bytes);
    } catch (e) {
      showMessage(`${file.name} could not be loaded: ${e instanceof Error ? e.message : e}`, 'error', 'run');
      return;
    }
    if (header.state.lab !== this.state.lab) {
      const lab = this.wasm.labs().find((l) => l.id === header.state.lab);
      showMessage(`${file.name} holds a run of the lab "${lab ? lab.title : header.state.lab}", not of this one: open that lab to load it.`, 'error', 'run');
      return;
    }
    this.checkpoint = { key: JSON.stringify(header.state), bytes, name: file.name, step: header.step, announced: false };
    this.commit(header.state);
    this.renderControls();
  }

  reset() {
    // The views of the run so far go; step 0's come back with the next frame.
    this.hideDatasets();
    this.client.reset();
  }

  // The worker needs data that only the user can give.
  needData(need) {
    if (need.kind === 'user' && this.panel) {
      this.panel.need(need.format);
      this.runBar.waitForData();
    } else {
      showMessage(`This experiment needs data this page cannot load (${JSON.stringify(need)}).`, 'error');
    }
  }

  // The user's data of `format` is in the engine: show it (switching the source to it when needed).
  useUserData(format) {
    const kind = FORMATS[format].kind;
    if (this.dataKind() === kind) {
      this.restart();
      return;
    }
    const next = { ...this.state, params: setPath(this.state.params, this.dataPath, kind) };
    this.edit(next);
    if (this.state === next) this.renderControls();
  }

  updateButtons() {
    this.runBar.updateButtons({ running: this.running, hasRun: this.hasRun, invalid: this.invalid });
  }

  updateUrl() {
    const params = new URLSearchParams(location.search);
    params.set('lab', this.state.lab);
    history.replaceState(null, '', `?${params}#${this.wasm.encode_link(this.state)}`);
  }

  /**
   * The permalink of `state` (by default the experiment now).
   * @param {AnyState} [state]
   */
  link(state = this.state) {
    return permalink(this.wasm.encode_link(state));
  }

  /** @param {EngineInfo} info */
  showEngine(info) {
    this.runBar.showEngine(info);
    this.engine = info;
  }

  setRunning(running) {
    this.running = running;
    this.updateButtons();
    // A pause keeps what was learnt at once (a done run is kept by its last frame).
    if (!running && this.frame && !this.frame.done) this.autosave(this.frame);
  }

  onFrame(frame) {
    this.frame = frame;
    const ck = this.checkpoint;
    if (ck && !ck.announced && frame.step === ck.step) {
      ck.announced = true;
      showMessage(`Resumed from ${ck.name}: the weights after ${this.stepWords(ck.step)} of ${frame.total}. Run goes on from there.`, 'info', 'run');
    }
    if (!this.hasRun) {
      this.hasRun = true;
      this.updateButtons();
    }
    for (const plot of frame.plots) this.pending.set(plot.id, plot);
    for (const view of frame.datasets) this.showDataset(view);
    for (const n of frame.notices) showMessage(n, 'warning', 'run');
    this.runBar.showProgress(frame);
    this.renderMetrics(frame.metrics);
    this.autosave(frame);
    // Draw once per display frame, whatever the worker's pace: the main thread stays free.
    if (!this.drawScheduled) {
      this.drawScheduled = true;
      requestAnimationFrame(() => this.draw());
    }
    for (const fn of this.listeners.frame) fn(frame);
    if (frame.done) for (const fn of this.listeners.done) fn(frame);
  }

  // One chart per display frame, the least recently drawn first: redrawing all of them at once blocks the
  // main thread for 100 ms or more on a slow machine, one at a time keeps every task short.
  draw() {
    this.drawScheduled = false;
    const next = this.pending.keys().next();
    if (!next.done) {
      const id = next.value;
      const plot = /** @type {Plot} */ (this.pending.get(id));
      this.pending.delete(id);
      const slot = this.plots.get(id);
      if (slot) {
        slot.cell.hidden = false;
        if (slot.handle) updatePlot(slot.handle, plot);
        else slot.handle = renderPlot(slot.cell, plot, { prefix: this.state.lab });
      }
    }
    if (this.pending.size) {
      this.drawScheduled = true;
      requestAnimationFrame(() => this.draw());
    } else {
      this.root.dataset.drawnStep = this.frame ? String(this.frame.step) : '';
    }
  }

  /** @param {import('./types/protocol').Metric[]} metrics */
  renderMetrics(metrics) {
    if (this.metricsBody) showMetrics(this.metricsBody, metrics);
  }
}
