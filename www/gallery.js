// @ts-check
// Plot gallery: one plot of every kind, from synthetic data, each in a `<div data-plot-id="…">` under #plots.
// For the end-to-end tests it publishes `window.gallery = {plots, handles}` (plot objects and PlotHandles by id)
// and then sets `document.body.dataset.ready = "1"`.
import { renderPlot } from './plots.js';

/** @typedef {import('./types/protocol').Plot} Plot */
/** @typedef {import('./types/protocol').Series} Series */

/** Deterministic uniform numbers in [0, 1) (mulberry32), so that every load draws the same pictures. */
function uniform(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Standard normal numbers (Box–Muller). */
function normal(seed) {
  const u = uniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

const range = (n) => Array.from({ length: n }, (_, i) => i);

/** @returns {Plot} */
function clusters() {
  const g = normal(1);
  /** @type {(name: string, cx: number, cy: number, sx: number, sy: number) => Series} */
  const cluster = (name, cx, cy, sx, sy) => ({
    name, mark: 'scatter', color: null, points: range(150).map(() => [cx + sx * g(), cy + sy * g()]),
  });
  return {
    id: 'clusters',
    title: 'Three input clusters and their principal axes',
    x_label: 'x₁',
    y_label: 'x₂',
    kind: 'xy',
    x_range: null,
    y_range: null,
    equal_aspect: true,
    heatmap: null,
    series: [
      cluster('cluster A', -2, 1, 0.5, 0.3),
      cluster('cluster B', 1.5, 1.5, 0.3, 0.6),
      cluster('cluster C', 0, -1.5, 0.8, 0.4),
      { name: 'principal axes', mark: 'arrows', color: '#d62728', points: [[0, 0], [2.5, 1], [0, 0], [-0.6, 1.5]] },
    ],
  };
}

/**
 * An energy landscape E(w) = ½ wᵀCw − |w|²/4 + |w|⁴/8 on a 48×36 grid, with a gradient arrow and a point.
 * @returns {Plot}
 */
function landscape() {
  const nx = 48;
  const ny = 36;
  /** @type {[number, number]} */
  const xr = [-2, 2];
  /** @type {[number, number]} */
  const yr = [-1.5, 1.5];
  const energy = (x, y) => {
    const r2 = x * x + y * y;
    return 0.5 * (0.3 * x * x + 0.8 * x * y + 1.2 * y * y) - r2 / 4 + (r2 * r2) / 8;
  };
  const values = [];
  for (let iy = 0; iy < ny; iy++) {
    for (let ix = 0; ix < nx; ix++) {
      const x = xr[0] + ((ix + 0.5) * (xr[1] - xr[0])) / nx;
      const y = yr[0] + ((iy + 0.5) * (yr[1] - yr[0])) / ny;
      values.push(energy(x, y));
    }
  }
  return {
    id: 'landscape',
    title: 'Energy landscape with a gradient step',
    x_label: 'w₁',
    y_label: 'w₂',
    kind: 'xy',
    x_range: xr,
    y_range: yr,
    equal_aspect: true,
    heatmap: { x_range: xr, y_range: yr, nx, ny, values, label: 'E(w)' },
    series: [
      { name: 'gradient step', mark: 'arrows', color: '#ff2020', points: [[-1.2, 0.9], [0.2, 0.1]] },
      { name: 'w₀', mark: 'scatter', color: '#ff9900', points: [[-1.2, 0.9]] },
    ],
  };
}

/** @returns {Plot} */
function trajectory() {
  const steps = 80;
  /** @type {[number, number][]} */
  const path = range(steps).map((t) => {
    const r = 1 + 1.5 * Math.exp(-t / 15);
    const a = 0.12 * t + 0.3;
    return [r * Math.cos(a), r * Math.sin(a)];
  });
  return {
    id: 'trajectory',
    title: 'Weight trajectory towards the unit circle',
    x_label: 'w₁',
    y_label: 'w₂',
    kind: 'xy',
    x_range: [-3, 3],
    y_range: [-3, 3],
    equal_aspect: true,
    heatmap: null,
    series: [
      { name: 'unit circle (theory)', mark: 'dashed', color: '#555555',
        points: range(101).map((i) => /** @type {[number, number]} */ ([Math.cos((2 * Math.PI * i) / 100), Math.sin((2 * Math.PI * i) / 100)])) },
      { name: 'w(t)', mark: 'trajectory', color: null, points: path },
      { name: 'norm bound', mark: 'line', color: null, points: [[-3, -2.5], [3, -2.5]] },
    ],
  };
}

/** @returns {Plot} */
function bars() {
  return {
    id: 'rules',
    title: 'Final angle and norm by rule',
    x_label: 'rule',
    y_label: 'value',
    kind: 'bars',
    categories: ['Hebb', 'Oja', 'BCM', 'Sanger', 'GHA'],
    series: [
      { name: 'angle to PC1 (rad)', values: [0.9, 0.05, 0.4, 0.07, 0.06] },
      { name: '|w|', values: [3.2, 1.0, 1.4, 1.0, 0.98] },
      { name: 'steps / 1000', values: [0.5, 2.1, 3.3, 2.7, 2.9] },
    ],
  };
}

/**
 * Gabor-like receptive fields, 28×28, values in [−1, 1].
 * @returns {Plot}
 */
function receptiveFields() {
  const size = 28;
  const images = range(16).map((k) => {
    const theta = (Math.PI * k) / 8;
    const freq = 0.15 + 0.05 * (k % 4);
    const pixels = [];
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        const x = col - size / 2 + 0.5;
        const y = row - size / 2 + 0.5;
        const u = x * Math.cos(theta) + y * Math.sin(theta);
        pixels.push(Math.exp(-(x * x + y * y) / 60) * Math.cos(2 * Math.PI * freq * u));
      }
    }
    return { label: `unit ${k}`, pixels };
  });
  return {
    id: 'fields',
    title: 'Receptive fields after training',
    x_label: '',
    y_label: '',
    kind: 'images',
    cols: 8,
    width: size,
    height: size,
    channels: 1,
    value_range: [-1, 1],
    grid: false,
    images,
  };
}

/**
 * The six 3×3 bar patterns (three rows, three columns), values in [0, 1].
 * @returns {Plot}
 */
function patterns() {
  const images = [];
  /** @type {[string, (r: number, c: number) => number][]} */
  const orientations = [['row', (r) => r], ['col', (r, c) => c]];
  for (const [orientation, on] of orientations) {
    for (let k = 0; k < 3; k++) {
      const pixels = range(9).map((i) => (on(Math.floor(i / 3), i % 3) === k ? 1 : 0));
      images.push({ label: `${orientation} ${k}`, pixels });
    }
  }
  return {
    id: 'patterns',
    title: 'Bar patterns (3×3)',
    x_label: '',
    y_label: '',
    kind: 'images',
    cols: 6,
    width: 3,
    height: 3,
    channels: 1,
    value_range: [0, 1],
    grid: true, // Each unit of a small pattern in its own cell.
    images,
  };
}

/**
 * Colour images (channels = 3, channel-major): red, green and blue ramps and their mixtures, 16×16.
 * @returns {Plot}
 */
function colours() {
  const size = 16;
  /** @type {[string, number[]][]} */
  const mixes = [['red', [1, 0, 0]], ['green', [0, 1, 0]], ['blue', [0, 0, 1]], ['yellow', [1, 1, 0]],
    ['cyan', [0, 1, 1]], ['magenta', [1, 0, 1]]];
  const images = mixes.map(([label, weights]) => {
    const pixels = [];
    for (const w of weights) {
      for (let k = 0; k < size * size; k++) pixels.push(w * (0.25 + (0.75 * (k % size)) / (size - 1)));
    }
    return { label, pixels };
  });
  return {
    id: 'colours',
    title: 'Colour images (RGB)',
    x_label: '',
    y_label: '',
    kind: 'images',
    cols: 6,
    width: size,
    height: size,
    channels: 3,
    value_range: [0, 1],
    grid: false,
    images,
  };
}

/**
 * A worked example's table: the eight states of three binary units with their energy and probability (the
 * three-unit Boltzmann machine w₁₂ = 0.2, w₁₃ = 0.1, w₂₃ = 0.3, b = 1).
 * @returns {Plot}
 */
function states() {
  const w = [[0, 0.2, 0.1], [0.2, 0, 0.3], [0.1, 0.3, 0]];
  const rows = range(8).map((k) => {
    const s = [(k >> 2) & 1, (k >> 1) & 1, k & 1];
    let e = s[0] + s[1] + s[2];
    for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) e -= w[i][j] * s[i] * s[j];
    return { s, e, q: Math.exp(-e) };
  });
  const z = rows.reduce((a, r) => a + r.q, 0);
  return {
    id: 'states',
    title: `Every state of three units (Z = ${z.toFixed(4)})`,
    x_label: '',
    y_label: '',
    kind: 'table',
    columns: ['s₁s₂s₃', 'E(s)', 'e^−E(s)', 'p(s)'],
    rows: rows.map((r) => [r.s.join(''), r.e.toFixed(1), r.q.toFixed(4), (r.q / z).toFixed(4)]),
  };
}

const plots = [clusters(), landscape(), trajectory(), bars(), receptiveFields(), patterns(), colours(), states()];
/** @type {Record<string, import('./plots.js').PlotHandle>} */
const handles = {};
const host = /** @type {HTMLElement} */ (document.getElementById('plots')); // gallery.html has it
for (const plot of plots) {
  const slot = document.createElement('div');
  slot.dataset.plotId = plot.id;
  host.append(slot);
  handles[plot.id] = renderPlot(slot, plot);
}
window.gallery = { plots: Object.fromEntries(plots.map((p) => [p.id, p])), handles };
document.body.dataset.ready = '1';
