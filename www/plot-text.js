// @ts-check
// The text alternative of a plot: its title and one line saying what it shows (what is plotted against what,
// which series, over what ranges), for screen readers and for anyone who cannot see the colours. The data
// itself is one click away in the plot's CSV export.
import { tick } from './format.js';

/** @typedef {import('./plot-common.js').Plot} Plot */

/**
 * @param {Plot} plot
 * @returns {string}
 */
export function describePlot(plot) {
  return `${plot.title}. ${summary(plot)}`;
}

/** @param {Plot} plot */
function summary(plot) {
  switch (plot.kind) {
    case 'xy': {
      const parts = [];
      const named = plot.series.filter((s) => s.name !== '' && s.points.length > 0);
      if (named.length > 0 || plot.series.some((s) => s.points.length > 0)) {
        const xs = plot.series.flatMap((s) => s.points.map((p) => p[0]));
        const ys = plot.series.flatMap((s) => s.points.map((p) => p[1]));
        parts.push(`${axis(plot.y_label, 'y')} against ${axis(plot.x_label, 'x')}${names(named.map((s) => `${s.name} (${mark(s.mark)}${s.band ? ' with an uncertainty band' : ''})`))}`);
        parts.push(`${axis(plot.x_label, 'x')} ${span(xs)}, ${axis(plot.y_label, 'y')} ${span(ys)}`);
      }
      if (plot.heatmap) {
        const hm = plot.heatmap;
        parts.push(`${parts.length ? 'over ' : ''}a ${hm.nx} × ${hm.ny} heatmap of ${hm.label || 'values'} ${span(hm.values)} over ${axis(plot.x_label, 'x')} ${span(hm.x_range)}, ${axis(plot.y_label, 'y')} ${span(hm.y_range)}`);
      }
      return parts.length ? `${sentence(parts.join('; '))}.` : 'Nothing drawn yet.';
    }
    case 'bars': {
      const values = plot.series.flatMap((s) => s.values);
      return `${sentence(`bars of ${axis(plot.y_label, 'value')} for ${plot.categories.length} categories (${list(plot.categories)})${names(plot.series.map((s) => s.name))}, ${span(values)}`)}.`;
    }
    case 'images':
      return `${plot.images.length} image${plot.images.length === 1 ? '' : 's'} of ${plot.width} × ${plot.height} pixels${plot.images.some((i) => i.label) ? ` (${list(plot.images.map((i) => i.label))})` : ''}, values ${span(plot.value_range)}.`;
    case 'table':
      return `A table of ${plot.rows.length} row${plot.rows.length === 1 ? '' : 's'} with the columns ${list(plot.columns)}.`;
    default:
      return '';
  }
}

// Labels are maths ("u₂", "ln ‖w‖"): a sentence starts with a word of ours rather than capitalising them.
/** @param {string} s */
const sentence = (s) => `Shows ${s}`;
/** @param {string} label @param {string} fallback */
const axis = (label, fallback) => label || fallback;
/** @param {string} m */
const mark = (m) => ({ scatter: 'points', line: 'line', dashed: 'dashed line', trajectory: 'path', arrows: 'arrows' }[m] ?? m);

/** Up to five items, then how many more. @param {string[]} items */
function list(items) {
  const shown = items.slice(0, 5).join(', ');
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}

/** ", series A, B" or "". @param {string[]} items */
const names = (items) => (items.length ? `: ${items.length === 1 ? 'series' : `${items.length} series`} ${list(items)}` : '');

/** "from a to b" over the finite values. @param {ArrayLike<number | null>} values */
function span(values) {
  let [lo, hi] = [Infinity, -Infinity];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'number' && Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  }
  return lo <= hi ? `from ${tick(lo)} to ${tick(hi)}` : '(no finite values)';
}
