// @ts-check
// Entry point: waits for the wasm bindings, then shows the landing page or a lab (from ?lab= and the #s=
// fragment); in ?embed=1 mode it renders the lab alone and answers the host page's postMessage API.
import { LabPage } from './lab.js';
import { showMessage } from './messages.js';
import { connectEmbed } from './embed.js';

/** @type {Promise<typeof import('./hebbian-playground.js')>} */
const wasmReady = new Promise((resolve) => {
  if (window.wasmBindings) resolve(window.wasmBindings);
  else addEventListener('TrunkApplicationStarted', () => resolve(window.wasmBindings), { once: true });
});

function landing(root, wasm) {
  const list = document.createElement('ul');
  list.className = 'lab-list';
  for (const lab of wasm.labs()) {
    const a = document.createElement('a');
    a.href = `?lab=${encodeURIComponent(lab.id)}`;
    a.textContent = lab.title;
    const p = document.createElement('p');
    p.textContent = lab.summary;
    const li = document.createElement('li');
    li.dataset.lab = lab.id;
    li.append(a, p);
    list.append(li);
  }
  const h1 = document.createElement('h1');
  h1.textContent = 'Labs';
  const intro = document.createElement('p');
  intro.textContent = 'Biologically plausible learning rules, run live on the GPU of this computer (or its CPU when WebGPU is missing). Every experiment is a link.';
  root.replaceChildren(h1, intro, list);
}

// The state to show: the link's when it reads and validates, else the lab's defaults with a message.
function initialState(wasm, query) {
  const labIds = wasm.labs().map((l) => l.id);
  const fragment = location.hash.slice(1);
  let lab = query.get('lab');
  if (fragment) {
    try {
      const { state, errors } = wasm.decode_link(fragment);
      if (errors.length === 0) return state;
      lab = labIds.includes(state.lab) ? state.lab : lab;
      showMessage(`This link's settings cannot run (${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}). Showing the lab's defaults instead.`, 'error');
    } catch (e) {
      showMessage(`This link could not be read: ${/** @type {Error} */ (e).message}. Showing the lab's defaults instead.`, 'error');
    }
  }
  if (!lab) return null;
  if (!labIds.includes(lab)) {
    showMessage(`There is no lab called "${lab}". Pick one of the labs below.`, 'error');
    return null;
  }
  return wasm.default_state(lab);
}

async function main() {
  const root = /** @type {HTMLElement} */ (document.getElementById('app')); // index.html has it
  const query = new URLSearchParams(location.search);
  const embed = query.get('embed') === '1';
  if (embed) document.body.classList.add('embed');
  let wasm;
  try {
    wasm = await wasmReady;
  } catch (e) {
    root.textContent = `The playground could not start: ${/** @type {Error} */ (e).message}`;
    return;
  }
  const asked = query.get('backend');
  /** @type {import('./types/messages').Backend} */
  const backend = asked === 'auto' || asked === 'cpu' || asked === 'gpu' ? asked : 'auto';
  if (query.has('backend') && backend !== asked) {
    showMessage(`Unknown backend "${query.get('backend')}" (use auto, cpu or gpu); choosing automatically.`, 'warning');
  }
  const state = initialState(wasm, query);
  if (!state) {
    history.replaceState(null, '', location.pathname);
    // No engine starts on the lab list: the badge would say "starting…" for ever.
    const badge = document.getElementById('engine-badge');
    if (badge) badge.hidden = true;
    landing(root, wasm);
    return;
  }
  const page = new LabPage(root, wasm, state, { backend, embed, teacher: query.get('teacher') === '1', calibrate: query.get('calibrate') === '1' });
  window.playground = page; // for the console and the end-to-end tests
  if (embed) connectEmbed(page);
}

main().catch((e) => showMessage(`Unexpected error: ${e.message}`, 'error'));
