// @ts-check
// The embed API: a lab in an iframe (?embed=1) reports its height to the host page and answers commands.
//
// Host -> lab (iframe.contentWindow.postMessage(msg, origin)):
//   {type: 'hebbian:set_state', state}     replace the experiment (a state document; see `hebbian state LAB`)
//   {type: 'hebbian:set_link', link}       the same from a permalink or its fragment
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

  const setState = (state) => {
    const errors = wasm.validate(state);
    if (errors.length) throw new Error(errors.map((e) => `${e.path}: ${e.message}`).join('; '));
    if (state.lab !== page.state.lab) throw new Error(`this frame shows lab "${page.state.lab}", not "${state.lab}"`);
    page.commit(state);
    page.renderControls();
  };

  const commands = {
    'hebbian:set_state': (m) => setState(m.state),
    'hebbian:set_link': (m) => setState(wasm.decode_link(String(m.link).split('#').pop())),
    'hebbian:run': () => page.client.run(),
    'hebbian:pause': () => page.client.pause(),
    'hebbian:step': () => page.client.step(),
    'hebbian:reset': () => page.reset(),
    'hebbian:get_metrics': (m) => {
      const f = page.frame;
      post({ type: 'hebbian:metrics', id: m.id, step: f ? f.step : 0, total: f ? f.total : 0, done: f ? f.done : false, metrics: f ? f.metrics : [] });
    },
    'hebbian:get_state': (m) => post({ type: 'hebbian:state', id: m.id, state: page.state, link: page.link() }),
  };

  window.addEventListener('message', (event) => {
    if (event.source !== window.parent || !event.data || typeof event.data.type !== 'string') return;
    const command = commands[event.data.type];
    if (!command) return;
    try {
      command(event.data);
    } catch (e) {
      const { message } = /** @type {Error} */ (e);
      showMessage(message, 'error');
      post({ type: 'hebbian:error', message, id: event.data.id });
    }
  });
}
