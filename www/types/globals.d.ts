// Globals of the page: ECharts and KaTeX come from classic <script> tags (vendor/), the wasm bindings from
// trunk's loader, and `window.playground` is the lab page the console and the end-to-end tests reach.
import type * as EChartsModule from 'echarts';
import type * as KatexModule from 'katex';
import type * as Wasm from './hebbian-playground.js';
import type { LabPage } from '../lab.js';
import type { PlotHandle } from '../plots.js';
import type { Plot } from './protocol';

declare global {
  const echarts: typeof EChartsModule;
  const katex: typeof KatexModule;
  interface Window {
    /** Set by trunk's loader before it fires TrunkApplicationStarted. */
    wasmBindings: typeof Wasm;
    playground?: LabPage;
    /** The plot gallery's plots and their handles (gallery.html, for the end-to-end tests). */
    gallery?: { plots: Record<string, Plot>; handles: Record<string, PlotHandle> };
  }
}
