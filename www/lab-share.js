// @ts-check
// The lab's share tools: "Copy link" (a permalink of the experiment), "Classroom link…" (a link that hides
// chosen controls from students) and "Embed…" (an iframe snippet for a course page), with the panel the last two
// open under the run bar.
import { button, el } from './dom.js';
import { showMessage } from './messages.js';

/** @typedef {import('./types/messages').AnyState} AnyState */

/**
 * The page's own address showing `fragment` (a state's encoded link), without the options that only concern
 * this visit (?embed, ?backend, ?teacher: a link copied in the teacher's view is for students).
 * @param {string} fragment
 */
export function permalink(fragment) {
  const url = new URL(location.href);
  for (const option of ['embed', 'backend', 'teacher']) url.searchParams.delete(option);
  url.hash = fragment;
  return url.toString();
}

/**
 * The teacher's view of a permalink (answers and learning goals shown).
 * @param {string} link
 */
export function teacherLink(link) {
  const url = new URL(link);
  url.searchParams.set('teacher', '1');
  return url.toString();
}

export class SharePanel {
  /**
   * @param {{embed: boolean, title: string, state: () => AnyState, link: (state?: AnyState) => string,
   *          fields: () => string[], label: (name: string) => string}} source
   *   `state`: the experiment now; `link`: its permalink (or another state's); `fields`: the names a classroom
   *   link can hide, `label` their on-screen labels. The embed snippet is offered only on the site, not inside
   *   an embed.
   */
  constructor(source) {
    this.source = source;
    this.element = el('div', { className: 'share', hidden: true });
    /** @type {HTMLElement[]} The buttons, for the run bar. */
    this.tools = [button('Copy link', () => this.copyLink(), 'Copy a link that reproduces this experiment')];
    if (!source.embed) {
      this.tools.push(button('Classroom link…', () => this.toggle('classroom'), 'A link that hides chosen controls'));
      this.tools.push(button('Embed…', () => this.toggle('embed'), 'HTML to put this lab in a course page'));
    }
  }

  async copyLink() {
    const link = this.source.link();
    try {
      await navigator.clipboard.writeText(link);
      showMessage('Link copied.', 'info');
    } catch {
      showMessage(`Copy this link: ${link}`, 'info');
    }
    return link;
  }

  /**
   * Opens the classroom or embed panel, or closes it when it is the one open.
   * @param {'classroom' | 'embed'} kind
   */
  toggle(kind) {
    const box = this.element;
    if (!box.hidden && box.dataset.kind === kind) {
      box.hidden = true;
      return;
    }
    box.dataset.kind = kind;
    box.hidden = false;
    const state = this.source.state();
    if (kind === 'classroom') {
      const names = this.source.fields();
      const checks = names.map((n) => el('label', { className: 'check' }, el('input', { type: 'checkbox', value: n, checked: state.hidden.includes(n) }), ` ${this.source.label(n)}`));
      const out = el('input', { type: 'text', readOnly: true, className: 'link-out', name: 'classroom-link' });
      const make = () => {
        const hidden = checks.map((c) => /** @type {HTMLInputElement} */ (c.querySelector('input'))).filter((i) => i.checked).map((i) => i.value);
        out.value = this.source.link({ ...this.source.state(), hidden });
      };
      checks.forEach((c) => c.addEventListener('change', make));
      make();
      const teacher = el('a', { href: teacherLink(this.source.link()), textContent: "Open the teacher's view", className: 'teacher-link', target: '_blank' });
      box.replaceChildren(el('p', { textContent: 'Hide these controls from students:' }), el('div', { className: 'checks' }, ...checks), out,
        el('p', {}, teacher, ' (learning goals, what the class should observe, answers to the exercises; students\' links never show them).'));
    } else {
      const url = new URL(this.source.link());
      url.searchParams.set('embed', '1');
      box.replaceChildren(el('p', { textContent: 'Paste into a course page: the frame resizes itself to the lab.' }),
        el('textarea', { readOnly: true, rows: 8, value: embedSnippet(url.toString(), this.source.title), className: 'embed-out' }));
    }
  }
}

/**
 * An iframe of the lab with the script that sizes it to the lab's reported height (the lab posts
 * `hebbian:height` whenever its content changes), first sized to this page's height without the site header.
 * @param {string} url
 * @param {string} title
 */
export function embedSnippet(url, title) {
  const id = `hebbian-${Math.random().toString(36).slice(2, 8)}`;
  const header = document.getElementById('chrome')?.offsetHeight ?? 0;
  const height = Math.ceil(document.documentElement.scrollHeight - header);
  const attr = (/** @type {string} */ v) => v.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
  return `<iframe id="${id}" src="${attr(url)}" style="width:100%;border:0" height="${height}" title="${attr(title)}" loading="lazy"></iframe>
<script>
  addEventListener('message', (e) => {
    const frame = document.getElementById('${id}');
    if (e.source === frame.contentWindow && e.data && e.data.type === 'hebbian:height') frame.height = e.data.height;
  });
</script>`;
}
