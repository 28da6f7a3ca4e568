// @ts-check
// The lab's run bar: Run / Pause / Step / Reset with the run's progress, a data load's progress (while one runs),
// the seed, the view controls, the share tools and the engine line.
import { button, el } from './dom.js';
import { megabytes } from './format.js';
import { showMessage } from './messages.js';

/** @typedef {import('./types/protocol').EngineInfo} EngineInfo */
/** @typedef {import('./types/messages').Progress} Progress */
/** @typedef {import('./types/protocol').Frame} Frame */

const MAX_SEED = 4294967295;

export class RunBar {
  /**
   * @param {{run: () => void, pause: () => void, step: () => void, reset: () => void, cancelLoad: () => void,
   *          seed: () => number, setSeed: (seed: number) => void}} actions
   *   `seed`: the experiment's seed now; `setSeed`: the user chose another one.
   * @param {{tools: HTMLElement[], element: HTMLElement}} share the share tools and their panel
   * @param {string} stepWord what a step of the lab's runs is ("update", "sweep": the schema's `x-step`)
   */
  constructor(actions, share, stepWord = 'update') {
    this.stepWord = stepWord;
    /** @type {HTMLElement | null} */
    this.question = null;
    this.buttons = {
      run: button('Run', actions.run, 'Run to the end, drawing as it goes'),
      pause: button('Pause', actions.pause, 'Pause the run'),
      step: button('Step', actions.step, 'Compute one frame of updates'),
      reset: button('Reset', actions.reset, 'Back to update 0'),
    };
    this.progress = el('progress', { max: 1, value: 0 });
    this.progressText = el('span', { className: 'progress-text', textContent: '' });
    this.buttonRow = el('div', { className: 'buttons' }, ...Object.values(this.buttons), this.progress, this.progressText);
    this.loadText = el('span', { className: 'load-text' });
    this.loadBar = el('progress', { max: 1, value: 0 });
    this.loadBar.setAttribute('aria-label', 'data loaded');
    // In the run bar only while data loads (see showLoad).
    this.loadRow = el('div', { className: 'runbar-row load-row' }, this.loadText, this.loadBar,
      button('Cancel', actions.cancelLoad, 'Stop loading this data'));
    this.seedInput = el('input', { type: 'number', min: 0, max: MAX_SEED, step: 1, value: actions.seed(), name: 'seed' });
    this.seedInput.addEventListener('change', () => {
      const seed = Number(this.seedInput.value);
      if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
        showMessage(`The seed must be a whole number from 0 to ${MAX_SEED}.`, 'error');
        this.showSeed(actions.seed());
        return;
      }
      actions.setSeed(seed);
    });
    const dice = button('new seed', () => actions.setSeed(Math.floor(Math.random() * (MAX_SEED + 1))), 'New random seed');
    /** Where the lab page builds the view controls. */
    this.viewBox = el('div', { className: 'controls view-controls' });
    this.engineLine = el('span', { className: 'engine-line' });
    this.element = el('section', { className: 'cell runbar' },
      this.buttonRow,
      el('div', { className: 'runbar-row' }, el('label', { className: 'control' }, el('span', { className: 'control-label', textContent: 'seed' }), this.seedInput, dice), this.viewBox),
      el('div', { className: 'runbar-row' }, ...share.tools, this.engineLine),
      share.element);
  }

  /**
   * A question under the buttons ("This run is estimated at about 4 min … Run it?"), answered by its buttons;
   * replaced by the next question, removed by `clearQuestion`.
   * @param {string} text
   * @param {string} yes the confirming button's label
   * @param {() => void} onYes
   */
  ask(text, yes, onYes) {
    this.clearQuestion();
    const no = el('button', { type: 'button', textContent: 'Cancel', onclick: () => this.clearQuestion() });
    const ok = el('button', { type: 'button', className: 'primary', textContent: yes, onclick: () => { this.clearQuestion(); onYes(); } });
    this.question = el('div', { className: 'runbar-row question', role: 'alertdialog' }, el('span', { textContent: text }), ok, no);
    this.buttonRow.after(this.question);
    ok.focus();
  }

  clearQuestion() {
    this.question?.remove();
    this.question = null;
  }

  /** @param {number} seed */
  showSeed(seed) {
    this.seedInput.value = String(seed);
  }

  /** @param {{running: boolean, hasRun: boolean, invalid: boolean}} s */
  updateButtons({ running, hasRun, invalid }) {
    this.buttons.run.disabled = this.buttons.step.disabled = running || !hasRun || invalid;
    this.buttons.pause.disabled = !running;
  }

  /** @param {Frame} frame */
  showProgress(frame) {
    this.progress.value = frame.total ? frame.step / frame.total : 0;
    this.progressText.textContent = `${this.stepWord} ${frame.step} / ${frame.total}`;
  }

  waitForData() {
    this.progressText.textContent = 'waiting for your data (see "Your data")';
  }

  /**
   * A data load's progress under the run bar: "Loading MNIST digits… 0.8 / 1.6 MB".
   * @param {Progress} p
   */
  showLoad(p) {
    if (p.done) {
      this.loadRow.remove();
      return;
    }
    if (!this.loadRow.isConnected) this.buttonRow.after(this.loadRow);
    const amount = p.unit === 'files' ? `${p.loaded} / ${p.total} files` : megabytes(p.loaded, p.total);
    this.loadText.textContent = `Loading ${p.what}… ${amount}`;
    if (p.total) this.loadBar.value = p.loaded / p.total;
    else this.loadBar.removeAttribute('value');
  }

  /**
   * The engine line here and the badge in the site's header.
   * @param {EngineInfo} info
   */
  showEngine(info) {
    const text = info.kind === 'gpu' ? 'GPU' : 'CPU';
    const badge = document.getElementById('engine-badge');
    if (badge) {
      badge.textContent = text;
      // The adapter's technical name is for whoever hovers; the line below says it in words.
      badge.title = info.adapter ? `${info.reason} [${info.adapter}]` : info.reason;
      badge.dataset.kind = info.kind;
    }
    this.engineLine.textContent = `Engine: ${text} (${info.reason})`;
    this.engineLine.dataset.kind = info.kind;
  }
}
