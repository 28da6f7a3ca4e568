// A lab page: renders the manifest's cells, keeps the state document in the URL, drives the engine worker
// and draws its frames. Used both on the site and inside an embed iframe.
import { buildControls, getPath, pathShown, refreshWhen, resolve, setPath, showErrors } from './controls.js';
import { EngineClient } from './engine.js';
import { renderPlot, updatePlot, disposePlot } from './plots.js';
import { showMessage } from './messages.js';
import { PatternEditor } from './pattern-editor.js';
import { DataPanel, FORMATS } from './data-panel.js';

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

// TeX spans come from our own sanitised Markdown (markdown.rs); KaTeX renders them in place.
function typeset(root) {
  for (const span of root.querySelectorAll('span.math')) {
    try {
      katex.render(span.textContent, span, { displayMode: span.dataset.display === '1', throwOnError: false });
    } catch {
      // Leave the TeX source visible.
    }
  }
}

export class LabPage {
  // wasm: the main-thread bindings; options: {backend, embed, hostApi}
  constructor(root, wasm, state, options) {
    this.root = root;
    this.wasm = wasm;
    this.options = options;
    this.manifest = wasm.manifest(state.lab);
    this.schema = this.manifest.schema;
    this.state = state;
    this.plots = new Map(); // id -> {cell, handle}
    this.pending = new Map(); // id -> latest plot not yet drawn
    this.datasets = new Map(); // dataset cell id -> {section, line}
    this.editors = []; // PatternEditor per pattern_editor cell
    this.frame = null;
    this.running = false;
    this.hasRun = false; // the worker holds a run of this.state (false while it starts or waits for data)
    this.invalid = false; // the last edit did not validate
    this.listeners = { frame: [], done: [] };
    this.client = new EngineClient(options.backend, {
      onEngine: (info) => this.showEngine(info),
      onFrame: (frame) => this.onFrame(frame),
      onRunning: (running) => this.setRunning(running),
      onError: (message) => showMessage(message, 'error'),
      onNoRun: () => {
        this.hasRun = false;
        this.updateButtons();
      },
      onNeedData: (need) => this.needData(need),
      onProgress: (p) => this.showLoad(p),
      onDataLoaded: (format, line) => this.panel.loaded(format, line),
      onDataError: (format, message, cancelled) => this.panel.failed(format, message, cancelled),
      onForgotten: (format) => this.panel.forgotten(format),
    });
    if (this.readsUserData()) {
      this.panel = new DataPanel(this.client, {
        onLoaded: (format) => this.useUserData(format),
        onForgotten: (format) => {
          if (this.state.params.source.kind === FORMATS[format].kind) this.restart();
        },
      });
    }
    this.render();
    this.restart();
  }

  // Whether the lab's `source` param can read the user's own files (then the page shows the data panel).
  readsUserData() {
    const source = resolve(this.schema, this.schema.$defs.Params.properties.source);
    const kind = source && source.properties && resolve(this.schema, source.properties.kind);
    const kinds = kind ? (kind.oneOf || []).map((o) => o.const).concat(kind.enum || []) : [];
    return Object.values(FORMATS).some((f) => kinds.includes(f.kind));
  }

  on(event, fn) {
    this.listeners[event].push(fn);
  }

  render() {
    const m = this.manifest;
    const nodes = [];
    if (!this.options.embed) {
      nodes.push(el('h1', { textContent: m.info.title }), el('p', { className: 'summary', textContent: m.info.summary }));
    }
    this.controlBlocks = [];
    for (const cell of m.cells) {
      nodes.push(this.cell(cell));
      // The data panel goes right under the controls that choose the dataset.
      if (this.panel && cell.kind === 'controls' && cell.fields.includes('source')) nodes.push(this.panel.element);
    }
    if (this.panel && !nodes.includes(this.panel.element)) nodes.push(this.panel.element);
    this.root.replaceChildren(...nodes);
    typeset(this.root);
    this.renderControls();
    this.refreshDerived();
  }

  cell(cell) {
    switch (cell.kind) {
      case 'prose': {
        const div = el('div', { className: 'cell prose' });
        div.innerHTML = cell.html; // sanitised in Rust: raw HTML escaped, unsafe links dropped
        return div;
      }
      case 'controls': {
        const body = el('div', { className: 'controls' });
        const block = el('section', { className: 'cell controls-cell' }, el('h3', { textContent: cell.title }), body);
        this.controlBlocks.push({ body, block, fields: cell.fields });
        return block;
      }
      case 'run':
        return this.runBar();
      case 'plot':
        return this.plotSlot(cell.id, 'cell plot');
      case 'plot_row':
        return el('div', { className: 'cell plot-row' }, ...cell.ids.map((id) => this.plotSlot(id, 'plot')));
      case 'exercise':
        return this.exercise(cell);
      case 'metrics': {
        this.metricsBody = el('tbody');
        return el('section', { className: 'cell metrics' }, el('h3', { textContent: cell.title }),
          el('table', {}, el('thead', {}, el('tr', {}, el('th', { textContent: 'quantity' }), el('th', { textContent: 'value' }))), this.metricsBody));
      }
      case 'dataset':
        return this.datasetCell(cell.id);
      case 'pattern_editor': {
        const editor = new PatternEditor(cell, (path, v) => this.edit({ ...this.state, params: setPath(this.state.params, path, v) }));
        this.editors.push(editor);
        return editor.element;
      }
      default:
        return el('div');
    }
  }

  plotSlot(id, className) {
    const div = el('div', { className, hidden: true });
    div.dataset.plotId = id;
    this.plots.set(id, { cell: div, handle: null });
    return div;
  }

  // A dataset: its summary line, the examples and the samples per class; hidden until a frame brings its view.
  datasetCell(id) {
    const line = el('p', { className: 'dataset-line' });
    const section = el('section', { className: 'cell dataset', hidden: true }, line,
      el('div', { className: 'dataset-plots' }, this.plotSlot(`${id}:examples`, 'plot examples'), this.plotSlot(`${id}:classes`, 'plot classes')));
    section.dataset.datasetId = id;
    this.datasets.set(id, { section, line });
    return section;
  }

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
      this.plots.get(examples.id).cell.style.setProperty('--plot-height', `${height}px`);
    }
    this.pending.set(examples.id, examples);
    if (view.classes) this.pending.set(view.classes.id, view.classes);
  }

  hideDatasets() {
    for (const { section } of this.datasets.values()) section.hidden = true;
  }

  exercise(cell) {
    const prompt = el('div', { className: 'prompt' });
    prompt.innerHTML = cell.prompt_html;
    const box = el('section', { className: 'cell exercise' }, el('h3', { textContent: cell.title }), prompt);
    cell.hints_html.forEach((html, i) => {
      const body = el('div');
      body.innerHTML = html;
      box.append(el('details', { className: 'hint' }, el('summary', { textContent: `Hint ${i + 1}` }), body));
    });
    return box;
  }

  runBar() {
    const b = (text, fn, title) => el('button', { type: 'button', textContent: text, title, onclick: fn });
    this.buttons = {
      run: b('Run', () => this.client.run(), 'Run to the end, drawing as it goes'),
      pause: b('Pause', () => this.client.pause(), 'Pause the run'),
      step: b('Step', () => this.client.step(), 'Compute one frame of updates'),
      reset: b('Reset', () => this.reset(), 'Back to update 0'),
    };
    this.progress = el('progress', { max: 1, value: 0 });
    this.progressText = el('span', { className: 'progress-text', textContent: '' });
    this.buttonRow = el('div', { className: 'buttons' }, ...Object.values(this.buttons), this.progress, this.progressText);
    this.loadText = el('span', { className: 'load-text' });
    this.loadBar = el('progress', { max: 1, value: 0 });
    this.loadBar.setAttribute('aria-label', 'data loaded');
    // In the run bar only while data loads (see showLoad).
    this.loadRow = el('div', { className: 'runbar-row load-row' }, this.loadText, this.loadBar,
      b('Cancel', () => this.client.cancelLoad(), 'Stop loading this data'));
    this.seedInput = el('input', { type: 'number', min: 0, max: 4294967295, step: 1, value: this.state.seed, name: 'seed' });
    this.seedInput.addEventListener('change', () => {
      const seed = Number(this.seedInput.value);
      if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295) {
        showMessage('The seed must be a whole number from 0 to 4294967295.', 'error');
        this.seedInput.value = this.state.seed;
        return;
      }
      this.commit({ ...this.state, seed });
    });
    const dice = b('new seed', () => this.commit({ ...this.state, seed: Math.floor(Math.random() * 4294967296) }), 'New random seed');
    this.viewBox = el('div', { className: 'controls view-controls' });
    this.shareBox = el('div', { className: 'share', hidden: true });
    const tools = [b('Copy link', () => this.copyLink(), 'Copy a link that reproduces this experiment')];
    if (!this.options.embed) {
      tools.push(b('Classroom link…', () => this.toggleShare('classroom'), 'A link that hides chosen controls'));
      tools.push(b('Embed…', () => this.toggleShare('embed'), 'HTML to put this lab in a course page'));
    }
    this.engineLine = el('span', { className: 'engine-line' });
    return el('section', { className: 'cell runbar' },
      this.buttonRow,
      el('div', { className: 'runbar-row' }, el('label', { className: 'control' }, el('span', { className: 'control-label', textContent: 'seed' }), this.seedInput, dice), this.viewBox),
      el('div', { className: 'runbar-row' }, ...tools, this.engineLine),
      this.shareBox);
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
    buildControls(this.viewBox, {
      root: this.schema, schema: this.schema.$defs.View, fields: Object.keys(this.schema.$defs.View.properties),
      value: this.state.view, onEdit: (path, v) => this.edit({ ...this.state, view: setPath(this.state.view, path, v) }),
    });
  }

  // A control changed: validate in Rust, show errors next to the fields, run only what is valid.
  edit(next) {
    const errors = this.wasm.validate(next);
    if (errors.length) {
      let rest = errors;
      for (const host of this.errorHosts()) rest = showErrors(host, rest);
      for (const e of rest) showMessage(`${e.path}: ${e.message}`, 'error');
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
    if (this.panel) this.panel.follow(params.source.kind);
  }

  commit(next) {
    // Rebuild the controls only when the params change shape (an item added or removed), so focus survives edits.
    const shape = (v) => JSON.stringify(v, (_, x) => (x !== null && typeof x === 'object' ? x : 0));
    const rebuild = shape(next.params) !== shape(this.state.params);
    this.state = next;
    this.seedInput.value = next.seed;
    if (rebuild) this.renderControls();
    for (const host of this.errorHosts()) showErrors(host, []);
    this.invalid = false;
    this.refreshDerived();
    this.restart();
  }

  restart() {
    for (const p of this.plots.values()) {
      if (p.handle) disposePlot(p.handle);
      p.handle = null;
      p.cell.hidden = true;
    }
    this.hideDatasets();
    this.pending.clear();
    this.hasRun = false;
    this.updateButtons();
    this.updateUrl();
    this.client.start(this.state);
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
      this.progressText.textContent = 'waiting for your data (see "Your data")';
    } else {
      showMessage(`This experiment needs data this page cannot load (${JSON.stringify(need)}).`, 'error');
    }
  }

  // The user's data of `format` is in the engine: show it (switching the source to it when needed).
  useUserData(format) {
    const kind = FORMATS[format].kind;
    if (this.state.params.source.kind === kind) {
      this.restart();
      return;
    }
    const next = { ...this.state, params: setPath(this.state.params, 'source/kind', kind) };
    this.edit(next);
    if (this.state === next) this.renderControls();
  }

  // A data load's progress under the run bar: "Loading MNIST digits… 0.8 / 1.6 MB".
  showLoad(p) {
    if (p.done) {
      this.loadRow.remove();
      return;
    }
    if (!this.loadRow.isConnected) this.buttonRow.after(this.loadRow);
    const mb = (bytes) => (bytes / 1e6).toFixed(1);
    const amount = p.unit === 'files'
      ? `${p.loaded} / ${p.total} files`
      : `${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''} MB`;
    this.loadText.textContent = `Loading ${p.what}… ${amount}`;
    if (p.total) this.loadBar.value = p.loaded / p.total;
    else this.loadBar.removeAttribute('value');
  }

  updateButtons() {
    this.buttons.run.disabled = this.buttons.step.disabled = this.running || !this.hasRun || this.invalid;
    this.buttons.pause.disabled = !this.running;
  }

  updateUrl() {
    const params = new URLSearchParams(location.search);
    params.set('lab', this.state.lab);
    history.replaceState(null, '', `?${params}#${this.wasm.encode_link(this.state)}`);
  }

  link(state = this.state) {
    const url = new URL(location.href);
    url.searchParams.delete('embed');
    url.searchParams.delete('backend');
    url.hash = this.wasm.encode_link(state);
    return url.toString();
  }

  async copyLink(state) {
    const link = this.link(state);
    try {
      await navigator.clipboard.writeText(link);
      showMessage('Link copied.', 'info');
    } catch {
      showMessage(`Copy this link: ${link}`, 'info');
    }
    return link;
  }

  toggleShare(kind) {
    const box = this.shareBox;
    if (!box.hidden && box.dataset.kind === kind) {
      box.hidden = true;
      return;
    }
    box.dataset.kind = kind;
    box.hidden = false;
    if (kind === 'classroom') {
      const names = this.controlBlocks.flatMap((c) => c.fields);
      const checks = names.map((n) => el('label', { className: 'check' }, el('input', { type: 'checkbox', value: n, checked: this.state.hidden.includes(n) }), ` ${n.replaceAll('_', ' ')}`));
      const out = el('input', { type: 'text', readOnly: true, className: 'link-out', name: 'classroom-link' });
      const make = () => {
        const hidden = checks.map((c) => c.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
        out.value = this.link({ ...this.state, hidden });
      };
      checks.forEach((c) => c.addEventListener('change', make));
      make();
      box.replaceChildren(el('p', { textContent: 'Hide these controls from students:' }), el('div', { className: 'checks' }, ...checks), out);
    } else {
      const url = new URL(this.link());
      url.searchParams.set('embed', '1');
      const snippet = `<iframe src="${url}" style="width:100%;border:0" height="900" title="${this.manifest.info.title}" loading="lazy"></iframe>`;
      box.replaceChildren(el('p', { textContent: 'Paste into a course page (see the README for sizing and the postMessage API):' }),
        el('textarea', { readOnly: true, rows: 3, value: snippet, className: 'embed-out' }));
    }
  }

  showEngine(info) {
    const text = info.kind === 'gpu' ? `GPU · ${info.adapter}` : 'CPU';
    const badge = document.getElementById('engine-badge');
    if (badge) {
      badge.textContent = text;
      badge.title = info.reason;
      badge.dataset.kind = info.kind;
    }
    this.engineLine.textContent = info.kind === 'gpu' ? `Engine: ${text}` : `Engine: CPU (${info.reason})`;
    this.engineLine.dataset.kind = info.kind;
    this.engine = info;
  }

  setRunning(running) {
    this.running = running;
    this.updateButtons();
  }

  onFrame(frame) {
    this.frame = frame;
    if (!this.hasRun) {
      this.hasRun = true;
      this.updateButtons();
    }
    for (const plot of frame.plots) this.pending.set(plot.id, plot);
    for (const view of frame.datasets) this.showDataset(view);
    for (const n of frame.notices) showMessage(n, 'warning');
    this.progress.value = frame.total ? frame.step / frame.total : 0;
    this.progressText.textContent = `update ${frame.step} / ${frame.total}`;
    this.renderMetrics(frame.metrics);
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
      const plot = this.pending.get(id);
      this.pending.delete(id);
      const slot = this.plots.get(id);
      if (slot) {
        slot.cell.hidden = false;
        if (slot.handle) updatePlot(slot.handle, plot);
        else slot.handle = renderPlot(slot.cell, plot);
      }
    }
    if (this.pending.size) {
      this.drawScheduled = true;
      requestAnimationFrame(() => this.draw());
    } else {
      this.root.dataset.drawnStep = this.frame ? this.frame.step : '';
    }
  }

  renderMetrics(metrics) {
    if (!this.metricsBody) return;
    const fmt = (v) => (v === null ? '—' : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(4) : Number(v.toPrecision(6)).toString());
    this.metricsBody.replaceChildren(...metrics.map((m) => el('tr', {}, el('td', { textContent: m.name }), el('td', { textContent: `${fmt(m.value)}${m.unit ? ` ${m.unit}` : ''}` }))));
  }
}
