// @ts-check
// Every number the page shows goes through here, so that the same quantity always reads the same way.

/**
 * A metric's value with its unit, for the metrics table: 6 significant digits, exponent notation from 10⁴ up
 * and below 10⁻³; '—' for a value the engine left undefined (null).
 * @param {number | null} value
 * @param {string} unit
 */
export function metric(value, unit) {
  const a = value === null ? 0 : Math.abs(value);
  const text = value === null ? '—'
    : a >= 1e4 || (a < 1e-3 && value !== 0) ? value.toExponential(4) : String(Number(value.toPrecision(6)));
  return unit ? `${text} ${unit}` : text;
}

/**
 * A short number for plot labels and tooltips (colour-bar ends, hovered points): 4 significant digits,
 * exponent notation from 10⁵ up and below 10⁻³; '–' when not a finite number.
 * @param {unknown} v
 */
export function tick(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/**
 * An axis end without float noise (0.30000000000000004 → 0.3), so that the ticks ECharts derives from it read
 * short.
 * @param {number} v
 */
export function axisEnd(v) {
  return Number(v.toPrecision(12));
}

/**
 * A number in a CSV export: every digit JavaScript keeps (the data, not a picture of it); empty when not a
 * finite number.
 * @param {unknown} v
 */
export function exact(v) {
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : '';
}

/**
 * A parameter as a number field shows it. f32 parameters arrive widened to f64 (0.2 as 0.20000000298023224):
 * they get the 7 significant digits an f32 holds; anything else is shown as it is.
 * @template T
 * @param {T} v
 * @param {boolean} isF32
 * @returns {T | number}
 */
export function field(v, isF32) {
  return isF32 && typeof v === 'number' ? Number(v.toPrecision(7)) : v;
}

/**
 * Bytes loaded so far, in megabytes with one decimal: "0.8 / 1.6 MB", or "0.8 MB" when the total is unknown.
 * @param {number} loaded
 * @param {number | null} total
 */
export function megabytes(loaded, total) {
  const mb = (/** @type {number} */ bytes) => (bytes / 1e6).toFixed(1);
  return `${mb(loaded)}${total ? ` / ${mb(total)}` : ''} MB`;
}

/**
 * A duration for estimates: "45 s", "12 min", "1 h", "2.5 h" (as the engine's messages write them).
 * @param {number} seconds
 */
export function duration(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 3570) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1).replace(/\.0$/, '')} h`;
}

const SUPERSCRIPT = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };

/**
 * A count in words-friendly scientific notation: "2.3 × 10⁹", plain below 10⁴.
 * @param {number} x
 */
export function count(x) {
  if (Math.abs(x) < 1e4) return String(Math.round(x));
  const [mantissa, exponent] = x.toExponential(1).split('e');
  return `${mantissa} × 10${[...String(Number(exponent))].map((c) => SUPERSCRIPT[c]).join('')}`;
}
