// @ts-check
// The "Your data" panel: the user's own MNIST (IDX) or CIFAR-10 files, from a file picker, a drop zone or URLs.
// The engine worker parses them as they stream in; the files (or URLs) are kept in this browser's IndexedDB
// (kept-files.js) so that a reload loads them again without asking, until "Forget". Nothing is uploaded.
import { drop, keep, kept, keptFormats } from './kept-files.js';
import { showMessage } from './messages.js';
import { el } from './dom.js';

/** @typedef {import('./types/protocol').DataFormat} DataFormat */
/** @typedef {{files: File[]} | {urls: string[]}} KeptEntry */

// The formats of src/data/loader.rs `Kind`, and the source kind (source.rs `SourceKind`) that reads each.
export const FORMATS = {
  mnist_idx: {
    title: 'MNIST (IDX files)',
    kind: 'user_mnist',
    files: 'the image and label files of the training and/or test set (train-images-idx3-ubyte, '
      + 'train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), plain or .gz',
  },
  cifar10: {
    title: 'CIFAR-10 (binary version)',
    kind: 'user_cifar10',
    files: 'cifar-10-binary.tar.gz, or its batch files data_batch_1.bin … data_batch_5.bin and test_batch.bin',
  },
};

const describeEntry = (entry) => (entry.files
  ? `${entry.files.length === 1 ? '1 file' : `${entry.files.length} files`} (${entry.files.map((f) => f.name).join(', ')})`
  : entry.urls.join(' '));

export class DataPanel {
  // client: the EngineClient; onLoaded(format) once data is in the engine; onForgotten(format) once it is gone.
  constructor(client, { onLoaded, onForgotten }) {
    this.client = client;
    this.onLoaded = onLoaded;
    this.onForgotten = onForgotten;
    /** @type {{format: DataFormat, entry: KeptEntry, auto: boolean} | null} the load in flight */
    this.pending = null;
    this.autoTried = new Set(); // formats whose kept files were loaded (or tried) once in this page
    this.lines = new Map(); // format -> summary line of the loaded data
    /** @type {DataFormat | null} the format the experiment waits for, if any */
    this.needed = null;
    this.generation = 0;

    this.format = el('select', { name: 'data-format' },
      ...Object.entries(FORMATS).map(([id, f]) => el('option', { value: id, textContent: f.title })));
    this.format.addEventListener('change', () => this.showHint());
    this.picker = el('input', { type: 'file', multiple: true, name: 'data-files' });
    this.picker.addEventListener('change', () => {
      const files = [...(this.picker.files ?? [])];
      this.picker.value = '';
      if (files.length) this.load(this.format.value, { files });
    });
    this.url = el('input', { type: 'url', name: 'data-url', placeholder: 'https://… (several: separate with spaces)' });
    this.urlButton = el('button', { type: 'button', textContent: 'Load from the web', onclick: () => this.loadTypedUrls() });
    this.url.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.loadTypedUrls();
    });
    this.drop = el('div', { className: 'dropzone', tabIndex: 0, textContent: 'or drop the files here' });
    this.drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      this.drop.classList.add('over');
    });
    this.drop.addEventListener('dragleave', () => this.drop.classList.remove('over'));
    this.drop.addEventListener('drop', (e) => {
      e.preventDefault();
      this.drop.classList.remove('over');
      const files = [...(e.dataTransfer?.files ?? [])];
      if (files.length) this.load(this.format.value, { files });
    });
    this.hint = el('p', { className: 'hint' });
    this.needLine = el('p', { className: 'need', hidden: true });
    this.needLine.setAttribute('role', 'status');
    this.status = el('ul', { className: 'data-status' });
    this.element = el('section', { className: 'cell data-panel' },
      el('h3', { textContent: 'Your data' }),
      this.needLine,
      el('div', { className: 'data-row' },
        el('label', { className: 'control' }, el('span', { className: 'control-label', textContent: 'format' }), this.format),
        el('label', { className: 'control' }, el('span', { className: 'control-label', textContent: 'files' }), this.picker),
        this.drop),
      el('div', { className: 'data-row' }, this.url, this.urlButton),
      this.hint,
      this.status);
    this.showHint();
    this.showKept();
  }

  showHint() {
    this.hint.textContent = `${FORMATS[this.format.value].title}: ${FORMATS[this.format.value].files}. `
      + 'The files are read in this browser and never leave it; they are kept here until you forget them.';
  }

  // Selects the format a source kind reads (when it reads one).
  follow(kind) {
    const format = Object.keys(FORMATS).find((f) => FORMATS[f].kind === kind);
    if (format && !this.pending) {
      this.format.value = format;
      this.showHint();
    }
    if (format !== this.needed) {
      this.needed = null;
      this.needLine.hidden = true;
    }
  }

  // The lines of the status list: what is loaded, else what is kept in this browser.
  async showKept() {
    const generation = ++this.generation; // a later call may finish first: only the newest one draws
    let formats = [];
    try {
      formats = await keptFormats();
    } catch (e) {
      showMessage(`Files kept in this browser cannot be read (${/** @type {Error} */ (e).message}); load your files again.`, 'warning');
    }
    const items = [];
    for (const format of Object.keys(FORMATS)) {
      /** @type {string | null} */
      let text = null;
      if (this.lines.has(format)) text = `Loaded: ${this.lines.get(format)}`;
      else if (this.pending?.format === format) text = `${FORMATS[format].title}: loading…`;
      else if (formats.includes(format)) {
        const entry = await kept(format).catch(() => null);
        if (entry) text = `${FORMATS[format].title}, kept in this browser: ${describeEntry(entry)}. Loaded when an experiment uses it.`;
      }
      if (text === null) continue;
      const forget = el('button', { type: 'button', className: 'small', textContent: 'Forget', onclick: () => this.forget(format) });
      forget.title = `Forget the ${FORMATS[format].title} data: remove it from this page and from this browser`;
      forget.disabled = Boolean(this.pending);
      const item = el('li', {}, el('span', { className: 'line', textContent: text }), ' ', forget);
      item.dataset.format = format;
      items.push(item);
    }
    if (generation === this.generation) this.status.replaceChildren(...items);
  }

  setBusy(busy) {
    for (const c of [this.format, this.picker, this.url, this.urlButton]) c.disabled = busy;
    this.drop.classList.toggle('busy', busy);
  }

  loadTypedUrls() {
    const words = this.url.value.split(/\s+/).filter(Boolean);
    if (words.length === 0) {
      showMessage('Type the address of a file to load (several: separate them with spaces).', 'error');
      return;
    }
    const urls = [];
    for (const word of words) {
      let url;
      try {
        url = new URL(word, location.href);
      } catch {
        showMessage(`"${word}" is not a web address.`, 'error');
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        showMessage(`"${word}" is not an http(s) address.`, 'error');
        return;
      }
      urls.push(url.href);
    }
    this.load(this.format.value, { urls });
  }

  load(format, entry, auto = false) {
    if (this.pending) {
      showMessage('Another dataset is loading; wait for it (or cancel it) first.', 'error');
      return;
    }
    this.pending = { format, entry, auto };
    this.setBusy(true);
    this.needLine.hidden = true;
    if (entry.files) this.client.loadFiles(format, entry.files);
    else this.client.loadUrls(format, entry.urls);
    this.showKept();
  }

  // The worker needs the user's data of `format`: load the kept files once, else ask for them.
  async need(format) {
    this.follow(FORMATS[format].kind);
    this.needed = format;
    if (this.pending) return;
    if (!this.autoTried.has(format)) {
      this.autoTried.add(format);
      const entry = await kept(format).catch(() => null);
      if (entry) {
        this.load(format, entry, true);
        return;
      }
    }
    this.askFor(format);
  }

  askFor(format) {
    this.needLine.textContent = `This experiment reads your own ${FORMATS[format].title} data: `
      + `choose ${FORMATS[format].files} below. They stay in this browser.`;
    this.needLine.hidden = false;
  }

  async loaded(format, line) {
    // The worker answers only loads this panel started.
    const { entry, auto } = /** @type {{entry: KeptEntry, auto: boolean}} */ (this.pending);
    this.pending = null;
    this.setBusy(false);
    this.lines.set(format, line);
    this.autoTried.add(format);
    if (this.needed === format) this.needed = null;
    if (!auto) {
      try {
        await keep(format, entry);
      } catch (e) {
        showMessage(`Your files are loaded but could not be kept in this browser (${/** @type {Error} */ (e).message}); after a reload you will need to choose them again.`, 'warning');
      }
    }
    await this.showKept();
    this.onLoaded(format);
  }

  failed(format, message, cancelled) {
    const auto = this.pending?.auto;
    this.pending = null;
    this.setBusy(false);
    if (cancelled) showMessage(message, 'info');
    else showMessage(auto ? `${message} (These are the files kept in this browser: choose them again, or forget them.)` : message, 'error');
    if (this.needed) this.askFor(this.needed);
    this.showKept();
  }

  async forget(format) {
    this.lines.delete(format);
    try {
      await drop(format);
    } catch (e) {
      showMessage(`The ${FORMATS[format].title} files could not be removed from this browser's storage: ${/** @type {Error} */ (e).message}`, 'error');
    }
    this.client.forget(format);
    this.showKept();
  }

  forgotten(format) {
    this.showKept();
    this.onForgotten(format);
  }
}
