// @ts-check
// The pattern editor of a `pattern_editor` cell: the binary patterns at a params path (letters.rs `Pattern`:
// {name, rows, cols, cells: "#.#…"}) drawn on small grids. Click or drag on a grid to paint cells, rename, add a
// blank pattern of the same size, remove one, or start a new set of another size (up to 32×32). From the
// keyboard: Tab to a grid, arrows move the cursor cell, Space or Enter switches it (a screen reader hears the
// cell and its state). Every edit goes to `onEdit(path, value)`, the lab's validate-and-commit path, so the
// permalink carries the drawing.
import { el } from './dom.js';

const MAX_SIDE = 32; // letters.rs MAX_SIDE
const MAX_PATTERNS = 64; // letters.rs MAX_PATTERNS
const MAX_NAME = 24;
const ON = '#';
const OFF = '.';


// A `.control` box for errors at `path` (showErrors in controls.js finds it).
function errorRow(path, ...children) {
  const row = el('div', { className: 'control' }, ...children, el('span', { className: 'field-error' }));
  row.dataset.path = path;
  return row;
}

export class PatternEditor {
  // cell: {path, title}; onEdit(path, value)
  constructor(cell, onEdit) {
    this.path = cell.path;
    this.onEdit = onEdit;
    this.patterns = [];
    /** @type {{pattern: number, cell: number} | null} the keyboard cursor, kept while the editor is redrawn */
    this.cursor = null;
    this.list = el('div', { className: 'patterns' });
    this.spoken = el('p', { className: 'sr-only' });
    this.spoken.setAttribute('aria-live', 'polite');
    this.rows = el('input', { type: 'number', min: 1, max: MAX_SIDE, step: 1, value: 5, name: 'new-set-rows' });
    this.cols = el('input', { type: 'number', min: 1, max: MAX_SIDE, step: 1, value: 5, name: 'new-set-cols' });
    this.addButton = el('button', { type: 'button', className: 'small', textContent: 'add a blank pattern', onclick: () => this.add() });
    const newSet = el('button', { type: 'button', className: 'small', textContent: 'new set', onclick: () => this.newSet() });
    this.newSetRow = errorRow(`${this.path}:new-set`, 'grid ', this.rows, ' × ', this.cols, ' ', newSet);
    this.newSetRow.classList.add('new-set');
    this.element = el('section', { className: 'cell pattern-editor', hidden: true },
      el('h3', { textContent: cell.title }),
      el('p', { className: 'hint', textContent: 'Click or drag on a grid to switch cells on and off (or Tab to a grid, move with the arrow keys, switch with Space).' }),
      errorRow(this.path, this.list), this.spoken,
      el('div', { className: 'editor-tools' }, this.addButton, this.newSetRow));
    this.element.dataset.path = this.path;
  }

  // Shows `patterns` (the value at the path), or hides the editor when there is none.
  update(patterns, shown) {
    this.element.hidden = !shown;
    if (!shown) return;
    this.patterns = patterns;
    const refocus = this.cursor !== null && this.list.contains(document.activeElement);
    this.list.replaceChildren(...patterns.map((p, i) => this.card(p, i)));
    this.addButton.disabled = patterns.length >= MAX_PATTERNS || patterns.length === 0;
    // A key press commits, which redraws the grids: keep the keyboard where it was.
    if (refocus && this.cursor) {
      /** @type {HTMLCanvasElement | null} */ (this.list.querySelector(`canvas[data-pattern="${this.cursor.pattern}"]`))?.focus();
    }
  }

  card(p, i) {
    const at = `${this.path}/${i}`;
    const name = el('input', { type: 'text', value: p.name, maxLength: MAX_NAME, name: `${at}/name`, size: 6 });
    name.setAttribute('aria-label', `name of pattern ${i + 1}`);
    name.addEventListener('change', () => this.commit(this.patterns.map((q, j) => (j === i ? { ...q, name: name.value } : q))));
    const remove = el('button', { type: 'button', className: 'small', textContent: 'remove', disabled: this.patterns.length <= 1 });
    remove.title = `Remove pattern ${p.name}`;
    remove.addEventListener('click', () => this.commit(this.patterns.filter((_, j) => j !== i)));
    const card = errorRow(at, this.grid(p, i), errorRow(`${at}/name`, name), remove);
    card.classList.add('pattern');
    return card;
  }

  // A canvas of rows × cols cells. A stroke paints every cell it crosses with the opposite of the first one's
  // state and commits once, when the pointer is released.
  grid(p, i) {
    const cell = Math.max(4, Math.min(24, Math.floor(120 / Math.max(p.rows, p.cols))));
    const canvas = el('canvas', { width: p.cols * cell, height: p.rows * cell, className: 'pattern-grid' });
    canvas.dataset.pattern = i;
    canvas.dataset.rows = p.rows;
    canvas.dataset.cols = p.cols;
    canvas.setAttribute('aria-label', `pattern ${p.name}: ${p.rows} × ${p.cols} cells; arrow keys move, Space switches a cell`);
    canvas.tabIndex = 0;
    const cells = [...p.cells];
    /** @returns {number} the keyboard cursor's cell in this grid, or −1 */
    const cursorCell = () => (this.cursor && this.cursor.pattern === i && this.cursor.cell < cells.length ? this.cursor.cell : -1);
    // Ink on paper, as the labs' plots show drawn patterns (on: black, off: white).
    const draw = () => {
      const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')); // a 2-D canvas made here
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = '#000000';
      cells.forEach((c, k) => {
        if (c === ON) ctx.fillRect((k % p.cols) * cell, Math.floor(k / p.cols) * cell, cell, cell);
      });
      ctx.strokeStyle = '#9aa1ad';
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let x = 0; x <= p.cols; x++) {
        ctx.moveTo(x * cell + 0.5, 0);
        ctx.lineTo(x * cell + 0.5, canvas.height);
      }
      for (let y = 0; y <= p.rows; y++) {
        ctx.moveTo(0, y * cell + 0.5);
        ctx.lineTo(canvas.width, y * cell + 0.5);
      }
      ctx.stroke();
      const k = cursorCell();
      if (k >= 0 && document.activeElement === canvas) {
        ctx.strokeStyle = '#ff7f0e';
        ctx.lineWidth = 3;
        ctx.strokeRect((k % p.cols) * cell + 1.5, Math.floor(k / p.cols) * cell + 1.5, cell - 3, cell - 3);
      }
    };
    const say = (/** @type {number} */ k) => {
      this.spoken.textContent = `${p.name}: row ${Math.floor(k / p.cols) + 1}, column ${(k % p.cols) + 1}, ${cells[k] === ON ? 'on' : 'off'}`;
    };
    canvas.addEventListener('focus', () => {
      if (cursorCell() < 0) this.cursor = { pattern: i, cell: 0 };
      say(cursorCell());
      draw();
    });
    canvas.addEventListener('blur', draw);
    canvas.addEventListener('keydown', (e) => {
      let k = cursorCell();
      if (k < 0) k = 0;
      const [r, c] = [Math.floor(k / p.cols), k % p.cols];
      const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
      if (e.key in moves) {
        const [dr, dc] = moves[/** @type {keyof typeof moves} */ (e.key)];
        const [r2, c2] = [Math.min(p.rows - 1, Math.max(0, r + dr)), Math.min(p.cols - 1, Math.max(0, c + dc))];
        this.cursor = { pattern: i, cell: r2 * p.cols + c2 };
        say(this.cursor.cell);
        draw();
      } else if (e.key === ' ' || e.key === 'Enter') {
        cells[k] = cells[k] === ON ? OFF : ON;
        this.cursor = { pattern: i, cell: k };
        say(k);
        this.commit(this.patterns.map((q, j) => (j === i ? { ...q, cells: cells.join('') } : q)));
      } else {
        return;
      }
      e.preventDefault(); // no page scrolling while drawing
    });
    const at = (e) => {
      const r = canvas.getBoundingClientRect();
      const x = Math.floor(((e.clientX - r.left) / r.width) * p.cols);
      const y = Math.floor(((e.clientY - r.top) / r.height) * p.rows);
      return x >= 0 && y >= 0 && x < p.cols && y < p.rows ? y * p.cols + x : -1;
    };
    /** @type {string | null} the cell state a stroke paints */
    let paint = null;
    const stroke = (e) => {
      const k = at(e);
      if (k < 0 || cells[k] === paint) return;
      cells[k] = paint;
      draw();
    };
    canvas.addEventListener('pointerdown', (e) => {
      const k = at(e);
      if (k < 0) return;
      paint = cells[k] === ON ? OFF : ON;
      canvas.setPointerCapture(e.pointerId);
      stroke(e);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (paint !== null) stroke(e);
    });
    const end = () => {
      if (paint === null) return;
      paint = null;
      const drawn = cells.join('');
      if (drawn !== p.cells) this.commit(this.patterns.map((q, j) => (j === i ? { ...q, cells: drawn } : q)));
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    draw();
    return canvas;
  }

  add() {
    const { rows, cols } = this.patterns[0];
    const names = new Set(this.patterns.map((p) => p.name));
    let n = this.patterns.length + 1;
    while (names.has(`P${n}`)) n++;
    this.commit([...this.patterns, { name: `P${n}`, rows, cols, cells: OFF.repeat(rows * cols) }]);
  }

  // Replaces the set by one blank pattern of the chosen size.
  newSet() {
    const rows = Number(this.rows.value);
    const cols = Number(this.cols.value);
    const ok = (n) => Number.isInteger(n) && n >= 1 && n <= MAX_SIDE;
    if (!ok(rows) || !ok(cols)) {
      this.newSetRow.classList.add('invalid');
      /** @type {HTMLElement} */ (this.newSetRow.querySelector(':scope > .field-error')).textContent = `rows and columns must be whole numbers from 1 to ${MAX_SIDE}`;
      return;
    }
    this.commit([{ name: 'A', rows, cols, cells: OFF.repeat(rows * cols) }]);
  }

  commit(patterns) {
    this.onEdit(this.path, patterns);
  }
}
