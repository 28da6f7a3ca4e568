// @ts-check
// trunk's initializer for the page's WebAssembly download: a progress bar while it loads, and a readable
// message instead of an endless "Loading…" when it cannot load or compile.
export default function initializer() {
  let bar;
  return {
    onStart() {
      const app = document.getElementById('app');
      bar = Object.assign(document.createElement('progress'), { max: 1, value: 0, className: 'load-progress' });
      bar.setAttribute('aria-label', 'Loading the playground');
      app?.append(bar);
    },
    onProgress({ current, total }) {
      if (bar && total) bar.value = current / total;
    },
    onComplete() {
      bar?.remove();
    },
    onSuccess() {},
    onFailure(error) {
      const app = document.getElementById('app');
      if (!app) return;
      const p = document.createElement('p');
      p.className = 'message error';
      p.textContent = `The playground could not load its WebAssembly module (${error?.message || error}). ` +
        'Reload the page; if this persists, the browser may block or lack WebAssembly.';
      app.replaceChildren(p);
    },
  };
}
