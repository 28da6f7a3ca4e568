// @ts-check
// The lab's notebook cells that only show what the manifest and the frames bring: prose (with TeX), exercises
// with hints, plot slots, dataset sections and the metrics table. The cells that act (controls, the run bar,
// the pattern editor) are built by the lab page (lab.js) with their own modules.
import { el } from './dom.js';
import { metric } from './format.js';

/** @typedef {import('./types/protocol').Cell} Cell */
/** @typedef {import('./types/protocol').Metric} Metric */

/**
 * Renders the TeX spans of our own sanitised Markdown (markdown.rs) in place with KaTeX.
 * @param {HTMLElement} root
 */
export function typeset(root) {
  for (const span of root.querySelectorAll('span.math')) {
    try {
      katex.render(span.textContent ?? '', /** @type {HTMLElement} */ (span), { displayMode: /** @type {HTMLElement} */ (span).dataset.display === '1', throwOnError: false });
    } catch {
      // Leave the TeX source visible.
    }
  }
  fitDisplayMath(root);
}

/**
 * Shrinks display equations wider than the column (a phone) to fit, down to 60 %; wider ones still scroll.
 * A cut-off equation whose end a student never scrolls to is worse than small type.
 * @param {HTMLElement} root
 */
export function fitDisplayMath(root) {
  for (const span of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('span.math[data-display="1"]'))) {
    span.style.fontSize = '';
    const [need, have] = [span.scrollWidth, span.clientWidth];
    if (have > 0 && need > have) span.style.fontSize = `${Math.max(0.6, (have - 2) / need)}em`;
  }
}

/** @param {Extract<Cell, {kind: 'prose'}>} cell */
export function proseCell(cell) {
  const div = el('div', { className: 'cell prose' });
  div.innerHTML = cell.html; // sanitised in Rust: raw HTML escaped, unsafe links dropped
  return div;
}

/**
 * @param {Extract<Cell, {kind: 'exercise'}>} cell
 * @param {boolean} teacher whether to add the answer (the teacher's view)
 */
export function exerciseCell(cell, teacher) {
  const prompt = el('div', { className: 'prompt' });
  prompt.innerHTML = cell.prompt_html;
  const box = el('section', { className: 'cell exercise' }, el('h3', { textContent: cell.title }), prompt);
  cell.hints_html.forEach((html, i) => {
    const body = el('div');
    body.innerHTML = html;
    box.append(el('details', { className: 'hint' }, el('summary', { textContent: `Hint ${i + 1}` }), body));
  });
  if (teacher && cell.answer_html) {
    const body = el('div');
    body.innerHTML = cell.answer_html;
    box.append(el('details', { className: 'answer' }, el('summary', { textContent: 'Answer (teacher\'s view)' }), body));
  }
  return box;
}

/**
 * Notes for teachers: learning goals and what a class should observe.
 * @param {Extract<Cell, {kind: 'teacher'}>} cell
 */
export function teacherCell(cell) {
  const body = el('div');
  body.innerHTML = cell.html; // sanitised in Rust like prose
  return el('section', { className: 'cell teacher' }, el('h3', { textContent: cell.title }), body);
}

/**
 * An empty, hidden slot for the plot with this id (`data-plot-id`).
 * @param {string} id
 * @param {string} className
 */
export function plotSlot(id, className) {
  const div = el('div', { className, hidden: true });
  div.dataset.plotId = id;
  return div;
}

/**
 * A dataset: its summary line above two plot slots, the examples and the samples per class; hidden until a
 * frame brings its view.
 * @param {string} id
 * @param {(id: string, className: string) => HTMLElement} slot makes (and registers) a plot slot
 */
export function datasetCell(id, slot) {
  const line = el('p', { className: 'dataset-line' });
  const section = el('section', { className: 'cell dataset', hidden: true }, line,
    el('div', { className: 'dataset-plots' }, slot(`${id}:examples`, 'plot examples'), slot(`${id}:classes`, 'plot classes')));
  section.dataset.datasetId = id;
  return { section, line };
}

/**
 * The metrics table; `body` takes the rows (see showMetrics).
 * @param {string} title
 */
export function metricsCell(title) {
  const body = el('tbody');
  const section = el('section', { className: 'cell metrics' }, el('h3', { textContent: title }),
    el('table', {}, el('thead', {}, el('tr', {}, el('th', { textContent: 'quantity' }), el('th', { textContent: 'value' }))), body));
  return { section, body };
}

/**
 * @param {HTMLElement} body a metrics table's body
 * @param {Metric[]} metrics
 */
export function showMetrics(body, metrics) {
  body.replaceChildren(...metrics.map((m) => el('tr', {}, el('td', { textContent: m.name }), el('td', { textContent: metric(m.value, m.unit) }))));
}
