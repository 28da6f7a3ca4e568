// @ts-check
// The embed API: a lab in an iframe (?embed=1) reports its height to the host page and answers commands.
//
// Host -> lab (iframe.contentWindow.postMessage(msg, origin)):
//   {type: 'hebbian:set_state', state}     replace the experiment (a state document; see `hebbian state LAB`)
//   {type: 'hebbian:set_link', link}       the same from a permalink or its fragment
//     Both are checked as links are (state version, every field) and refused over 256 KiB; of several sent in a
//     row only the last is applied (an error answers that one).
//   {type: 'hebbian:run' | 'hebbian:pause' | 'hebbian:step' | 'hebbian:reset'}
//   {type: 'hebbian:get_metrics', id}      -> {type: 'hebbian:metrics', id, step, total, done, metrics}
//   {type: 'hebbian:get_state', id}        -> {type: 'hebbian:state', id, state, link}
// Lab -> host (to window.parent, target origin '*': it carries no secrets):
//   {type: 'hebbian:ready', lab, engine}   once the engine is up
//   {type: 'hebbian:height', height}       whenever the content height changes (size the iframe to it)
//   {type: 'hebbian:done', step, metrics}  when a run reaches its last update
//   {type: 'hebbian:error', message}       when a command is refused
import { showMessage } from './messages.js';

export function connectEmbed(page) {
  const post = (msg) => window.parent.postMessage(msg, '*');
  const wasm = page.wasm;

  let lastHeight = 0;
  const report = () => {
    const height = Math.ceil(document.documentElement.scrollHeight);
    if (height !== lastHeight) {
      lastHeight = height;
      post({ type: 'hebbian:height', height });
    }
  };
  new ResizeObserver(report).observe(document.body);
  report();

  page.client.ready.then((engine) => post({ type: 'hebbian:ready', lab: page.state.lab, engine }));
  page.on('done', (frame) => post({ type: 'hebbian:done', step: frame.step, metrics: frame.metrics }));

  // A refused command: the lab shows why and tells the host.
  const guarded = (id, action) => {
    try {
      action();
    } catch (e) {
      const { message } = /** @type {Error} */ (e);
      showMessage(message, 'error');
      post({ type: 'hebbian:error', message, id });
    }
  };

  // set_state and set_link: the decoded state is validated in Rust (`decode_link`), which also checks its version,
  // exactly as when a link is opened.
  const apply = ({ text }) => {
    const { state, errors } = wasm.decode_link(text);
    if (errors.length) throw new Error(errors.map((e) => `${e.path}: ${e.message}`).join('; '));
    if (state.lab !== page.state.lab) throw new Error(`this frame shows lab "${page.state.lab}", not "${state.lab}"`);
    page.commit(state);
    page.renderControls();
  };

  // A burst of set_state / set_link messages is applied once, with the last one: applying each (validation,
  // controls, URL, a new run in the worker) took 6 ms or more, so 2000 of them held the lab for seconds. The
  // latest waits for a task of its own, queued behind the messages that arrived with it; any other command
  // applies it first, so commands still act in the order they were sent.
  /** @type {{text: string, id: unknown} | null} */
  let pending = null;
  const applyPending = () => {
    const next = pending;
    pending = null;
    if (next) guarded(next.id, () => apply(next));
  };
  const queue = (text, id) => {
    if (!pending) setTimeout(applyPending, 0);
    pending = { text, id };
  };

  /** @type {Map<string, (m: any) => void>} a Map, so that names of Object.prototype's members are no commands */
  const commands = new Map(Object.entries({
    'hebbian:set_state': (m) => queue(stateText(m.state), m.id),
    'hebbian:set_link': (m) => queue(linkText(m.link), m.id),
    'hebbian:run': () => page.client.run(),
    'hebbian:pause': () => page.client.pause(),
    'hebbian:step': () => page.client.step(),
    'hebbian:reset': () => page.reset(),
    'hebbian:get_metrics': (m) => {
      const f = page.frame;
      post({ type: 'hebbian:metrics', id: m.id, step: f ? f.step : 0, total: f ? f.total : 0, done: f ? f.done : false, metrics: f ? f.metrics : [] });
    },
    'hebbian:get_state': (m) => post({ type: 'hebbian:state', id: m.id, state: page.state, link: page.link() }),
  }));

  window.addEventListener('message', (event) => {
    if (event.source !== window.parent || !event.data || typeof event.data.type !== 'string') return;
    const { type } = event.data;
    const command = commands.get(type);
    if (!command) return;
    if (type !== 'hebbian:set_state' && type !== 'hebbian:set_link') applyPending();
    guarded(event.data.id, () => command(event.data));
  });
}

// A state or link larger than this is refused before any other work: a state document is a few kilobytes, and a
// link holds at most 64 KiB of state.
const MAX_TEXT = 256 * 1024;
const TOO_LARGE = 'is too large (over 256 KiB); an experiment takes a few kilobytes. Nothing was changed.';

/** The JSON text of a set_state message's state; throws when it is not a state document or too large. */
function stateText(state) {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new Error('set_state needs a state document, an object like the one get_state answers with.');
  }
  // Counting as JSON.stringify goes stops a 50 MB string or a million-item list after at most MAX_TEXT
  // characters of work; each value costs at least one character, a string at least its length.
  let size = 0;
  const tooLarge = new Error(`This state ${TOO_LARGE}`);
  let text;
  try {
    text = JSON.stringify(state, (key, value) => {
      size += key.length + (typeof value === 'string' ? value.length : 1);
      if (size > MAX_TEXT) throw tooLarge;
      return value;
    });
  } catch (e) {
    if (e === tooLarge) throw e;
    throw new Error(`set_state needs a state document that can be written as JSON (${/** @type {Error} */ (e).message}).`);
  }
  if (text.length > MAX_TEXT) throw tooLarge;
  return text;
}

/** The fragment of a set_link message's link (a permalink or its part after #); throws when it is too long. */
function linkText(link) {
  if (typeof link !== 'string') throw new Error('set_link needs a link: the text of a permalink, or its part after #.');
  if (link.length > MAX_TEXT) throw new Error(`This link ${TOO_LARGE}`);
  return link.slice(link.lastIndexOf('#') + 1);
}
