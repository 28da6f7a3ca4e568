// @ts-check
// User-facing messages (errors, warnings, notices) in the page's message area; text only, never HTML.
export function showMessage(text, level = 'info') {
  const area = document.getElementById('messages');
  if (!area) return;
  // The same warning twice in a row adds nothing.
  const last = /** @type {HTMLElement | null} */ (area.lastElementChild);
  if (last && last.dataset.text === text) return;
  const box = document.createElement('div');
  box.className = `message ${level}`;
  box.dataset.text = text;
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
