// @ts-check
// User-facing messages (errors, warnings, notices) in the page's message area, which stays in view at the bottom
// of the window; text only, never HTML. A message about the current run (`scope` 'run': a notice of the engine,
// a refused edit) goes when the experiment changes (`clearMessages('run')`); others stay until dismissed.

/**
 * @param {string} text
 * @param {'info' | 'warning' | 'error'} level
 * @param {'page' | 'run'} scope
 */
export function showMessage(text, level = 'info', scope = 'page') {
  const area = document.getElementById('messages');
  if (!area) return;
  // The same warning twice in a row adds nothing.
  const last = /** @type {HTMLElement | null} */ (area.lastElementChild);
  if (last && last.dataset.text === text) return;
  const box = document.createElement('div');
  box.className = `message ${level}`;
  box.dataset.text = text;
  box.dataset.scope = scope;
  box.setAttribute('role', level === 'error' ? 'alert' : 'status');
  const span = document.createElement('span');
  span.textContent = text;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'close';
  close.textContent = '×';
  close.title = 'Dismiss';
  close.addEventListener('click', () => box.remove());
  box.append(span, close);
  area.append(box);
  if (level === 'info') setTimeout(() => box.remove(), 6000);
}

/**
 * Removes the messages of `scope` (the lab calls it when the experiment changes: they were about the run before).
 * @param {'page' | 'run'} scope
 */
export function clearMessages(scope) {
  for (const box of document.querySelectorAll(`#messages .message[data-scope="${scope}"]`)) box.remove();
}
