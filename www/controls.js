// @ts-check
// Controls generated from a lab's JSON Schema (schemars output): numbers with ranges and units, booleans,
// enums (oneOf const), lists of numbers (a comma-separated field), fixed pairs (two number fields), arrays of
// objects (add / remove items) and nested objects. A property with `x-when: "<kind>"` shows only while the
// `kind` next to it (same object) has that value. The page never hard-codes a parameter: a new field in a
// lab's Rust params struct appears here by itself.
import { field } from './format.js';

export function resolve(root, node) {
  let n = node;
  while (n && n.$ref) {
    const name = n.$ref.replace('#/$defs/', '');
    n = { ...root.$defs[name], ...n, $ref: undefined, description: n.description || root.$defs[name].description };
  }
  return n;
}

/** A field's on-screen label: its schema title, else its name in words. */
export const label = (name, schema) => schema.title || name.replaceAll('_', ' ');
const isNumber = (s) => s && (s.type === 'number' || s.type === 'integer');
const shown = (v, prop) => field(v, prop.format === 'float');

// The paths whose help line the reader opened: the controls are rebuilt after every edit, the open lines stay.
const openHelp = new Set();

// Builds the controls of `fields` (top-level keys of `value`) into `container`. Paths in `skip` are drawn
// elsewhere (the pattern editor) and left out here.
// onEdit(path, newValue) is called for every edit; the caller validates and re-renders errors with showErrors.
export function buildControls(container, { root, schema, fields, value, onEdit, disabled = false, skip = new Set() }) {
  container.replaceChildren();
  const ctx = { root, onEdit, disabled, skip };
  for (const name of fields) {
    const prop = resolve(root, schema.properties[name]);
    if (!prop || skip.has(name)) continue;
    container.append(when(control(ctx, name, name, prop, value[name]), prop, ''));
  }
  // Screen readers read a field's help line with the field.
  for (const help of container.querySelectorAll('.control > .help')) {
    for (const input of help.parentElement?.querySelectorAll(':scope > input, :scope > select') ?? []) {
      input.setAttribute('aria-describedby', help.id);
    }
  }
  refreshWhen(container, value);
}

// Shows the groups whose `x-when` kind is the one selected now (`value`: the object the paths start from).
export function refreshWhen(container, value) {
  for (const node of container.querySelectorAll('[data-when]')) {
    node.hidden = getPath(value, node.dataset.whenPath) !== node.dataset.when;
  }
}

// Whether the thing at `path` (a/b/c) exists in `value` and every `x-when` on the way holds.
export function pathShown(root, schema, value, path) {
  let s = schema;
  let v = value;
  for (const key of path.split('/')) {
    s = s && s.properties ? resolve(root, s.properties[key]) : s && resolve(root, s.items);
    if (!s || v === null || typeof v !== 'object' || !(key in v)) return false;
    if (s['x-when'] !== undefined && v.kind !== s['x-when']) return false;
    v = v[key];
  }
  return true;
}

function when(node, prop, parentPath) {
  if (prop['x-when'] !== undefined) {
    node.dataset.when = prop['x-when'];
    node.dataset.whenPath = parentPath ? `${parentPath}/kind` : 'kind';
  }
  return node;
}

function control(ctx, name, path, prop, value) {
  if (prop.type === 'array') {
    const item = resolve(ctx.root, prop.items);
    if (isNumber(item) && prop.minItems === prop.maxItems && prop.minItems <= 4) return tupleControl(ctx, name, path, prop, item, value);
    if (isNumber(item)) return listControl(ctx, name, path, prop, item, value);
    return arrayControl(ctx, name, path, prop, item, value);
  }
  if (prop.type === 'object') {
    const set = document.createElement('fieldset');
    const legend = document.createElement('legend');
    legend.textContent = label(name, prop);
    set.append(legend);
    for (const [key, sub] of Object.entries(prop.properties || {})) {
      const subPath = `${path}/${key}`;
      if (ctx.skip.has(subPath)) continue;
      const s = resolve(ctx.root, sub);
      set.append(when(control(ctx, key, subPath, s, value[key]), s, path));
    }
    return set;
  }
  const { row, text, help } = controlRow(name, path, prop);
  const options = prop.oneOf || (prop.enum && prop.enum.map((c) => ({ const: c })));
  let input;
  if (options) {
    input = document.createElement('select');
    for (const o of options) {
      const opt = document.createElement('option');
      opt.value = o.const;
      opt.textContent = o.title || String(o.const).replaceAll('_', ' ');
      if (o.description) opt.title = o.description;
      input.append(opt);
    }
    input.value = value;
    // The help line explains the field and the choice made.
    const chosen = options.find((o) => String(o.const) === String(value));
    if (help) help.textContent = [prop.description, chosen && chosen.description].filter(Boolean).join(' ');
    input.addEventListener('change', () => ctx.onEdit(path, input.value));
  } else if (prop.type === 'boolean') {
    input = document.createElement('input');
    input.type = 'checkbox';
    input.checked = Boolean(value);
    input.addEventListener('change', () => ctx.onEdit(path, input.checked));
  } else if (isNumber(prop)) {
    const [field, ...extra] = numberInput(row, prop, value, (v) => ctx.onEdit(path, v));
    input = field;
    text.after(...extra);
  } else {
    input = document.createElement('input');
    input.value = value ?? '';
    input.addEventListener('change', () => ctx.onEdit(path, input.value));
  }
  input.disabled = ctx.disabled;
  input.name = path;
  text.after(input);
  return row;
}

// A label row: the name, its help button, then (appended by the caller) the inputs, the unit, the help line and
// the error line. The help line opens by a tap or a key, not only by hovering (touch screens have no hover).
function controlRow(name, path, prop) {
  const row = document.createElement('label');
  row.className = 'control';
  row.dataset.path = path;
  if (prop.description) row.title = prop.description;
  const text = document.createElement('span');
  text.className = 'control-label';
  text.textContent = label(name, prop);
  row.append(text);
  /** @type {HTMLElement | null} */
  let help = null;
  if (prop.description || (prop.oneOf || []).some((o) => o.description)) {
    help = document.createElement('span');
    help.className = 'help';
    help.id = `help:${path}`;
    help.textContent = prop.description || '';
    help.hidden = !openHelp.has(path);
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'help-toggle';
    toggle.textContent = '?';
    toggle.setAttribute('aria-label', `What is “${label(name, prop)}”?`);
    toggle.setAttribute('aria-controls', help.id);
    toggle.setAttribute('aria-expanded', String(!help.hidden));
    const line = help;
    toggle.addEventListener('click', (e) => {
      e.preventDefault(); // a button inside a label would also focus the label's input
      line.hidden = !line.hidden;
      if (line.hidden) openHelp.delete(path);
      else openHelp.add(path);
      toggle.setAttribute('aria-expanded', String(!line.hidden));
    });
    text.after(toggle);
  }
  if (prop['x-unit']) {
    const unit = document.createElement('span');
    unit.className = 'unit';
    unit.textContent = prop['x-unit'];
    row.append(unit);
  }
  if (help) row.append(help);
  const err = document.createElement('span');
  err.className = 'field-error';
  row.append(err);
  return { row, text, help };
}

function markInvalid(row, message) {
  row.querySelector(':scope > .field-error').textContent = message;
  row.classList.add('invalid');
}

// A number field, plus a slider when the range is small enough to slide through: [field, slider?].
function numberInput(row, prop, value, commit) {
  const input = document.createElement('input');
  input.type = 'number';
  input.value = shown(value, prop);
  const integer = prop.type === 'integer';
  if (prop.minimum !== undefined) input.min = String(prop.minimum);
  if (prop.maximum !== undefined) input.max = String(prop.maximum);
  input.step = integer ? '1' : 'any';
  const parse = () => {
    const v = Number(input.value);
    if (input.value.trim() === '' || !Number.isFinite(v)) return null;
    return integer ? Math.round(v) : v;
  };
  input.addEventListener('change', () => {
    const v = parse();
    if (v === null) return markInvalid(row, 'enter a number');
    commit(v);
  });
  const slider = sliderFor(prop, value, integer);
  if (!slider) return [input];
  slider.setAttribute('aria-label', `${prop.title || ''} slider`);
  slider.addEventListener('input', () => (input.value = String(slider.valueOf())));
  slider.addEventListener('change', () => commit(slider.valueOf()));
  // A typed value is kept exactly; the slider only moves to the nearest position.
  input.addEventListener('change', () => slider.show(Number(input.value)));
  return [input, slider];
}

const LOG_POSITIONS = 1000;

/**
 * The slider of a number field, or null when none helps: linear for a small real range, logarithmic for a
 * positive range that spans two decades or more (η from 10⁻⁶ to 1, kT, τ, updates), so that every decade gets
 * the same room. `valueOf()` is the value at the slider's position (rounded to 2 significant digits on a log
 * scale, to a whole number for integers); `show(v)` moves it to `v`.
 * @returns {(HTMLInputElement & {valueOf(): number, show(v: number): void}) | null}
 */
function sliderFor(prop, value, integer) {
  const { minimum: lo, maximum: hi } = prop;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi <= lo) return null;
  const log = lo > 0 && hi / lo >= 100;
  if (!log && (integer || hi - lo > 20)) return null;
  const slider = /** @type {any} */ (document.createElement('input'));
  slider.type = 'range';
  if (log) {
    const [a, b] = [Math.log10(lo), Math.log10(hi)];
    slider.min = '0';
    slider.max = String(LOG_POSITIONS);
    slider.step = '1';
    slider.dataset.scale = 'log';
    slider.valueOf = () => {
      const v = 10 ** (a + (Number(slider.value) / LOG_POSITIONS) * (b - a));
      return Math.min(hi, Math.max(lo, integer ? Math.round(v) : Number(v.toPrecision(2))));
    };
    slider.show = (v) => {
      const clamped = Math.min(hi, Math.max(lo, Number.isFinite(v) && v > 0 ? v : lo));
      slider.value = String(Math.round(((Math.log10(clamped) - a) / (b - a)) * LOG_POSITIONS));
    };
  } else {
    slider.min = String(lo);
    slider.max = String(hi);
    slider.step = String((hi - lo) / 200);
    slider.valueOf = () => Number(slider.value);
    slider.show = (v) => (slider.value = String(v));
  }
  slider.show(Number(shown(value, prop)));
  return slider;
}

// A fixed number of numbers (a 2-D point): one number field each, named path/0, path/1, …
function tupleControl(ctx, name, path, prop, item, value) {
  const { row, text } = controlRow(name, path, prop);
  let anchor = text;
  const current = [...value];
  current.forEach((v, k) => {
    const input = document.createElement('input');
    input.type = 'number';
    input.step = item.type === 'integer' ? '1' : 'any';
    input.value = String(shown(v, item));
    input.name = `${path}/${k}`;
    input.disabled = ctx.disabled;
    input.className = 'tuple';
    input.setAttribute('aria-label', `${label(name, prop)} ${k + 1}`);
    input.addEventListener('change', () => {
      const x = Number(input.value);
      if (input.value.trim() === '' || !Number.isFinite(x)) return markInvalid(row, 'enter a number');
      current[k] = x;
      ctx.onEdit(path, [...current]);
    });
    anchor.after(input);
    anchor = input;
  });
  return row;
}

// A list of numbers of any length as text: "0, 1" (empty: none).
function listControl(ctx, name, path, prop, item, value) {
  const { row, text } = controlRow(name, path, prop);
  const input = document.createElement('input');
  input.type = 'text';
  input.className = 'list';
  input.name = path;
  input.disabled = ctx.disabled;
  input.value = (value || []).join(', ');
  input.placeholder = 'all';
  const integer = item.type === 'integer';
  input.addEventListener('change', () => {
    const parts = input.value.split(/[\s,;]+/).filter((p) => p !== '');
    const numbers = parts.map(Number);
    const bad = parts.find((p, i) => !Number.isFinite(numbers[i]) || (integer && !Number.isInteger(numbers[i]))
      || (item.minimum !== undefined && numbers[i] < item.minimum));
    if (bad !== undefined) {
      return markInvalid(row, `"${bad}" is not ${integer ? 'a whole number' : 'a number'}${item.minimum === 0 ? ' ≥ 0' : ''}; separate numbers with commas`);
    }
    ctx.onEdit(path, numbers);
  });
  text.after(input);
  return row;
}

// Items of an array of objects (or of pairs): labelled `<x-item-label>1`, … when the schema names them, else #1, …
function arrayControl(ctx, name, path, prop, item, value) {
  const set = document.createElement('fieldset');
  set.className = 'array';
  const legend = document.createElement('legend');
  legend.textContent = label(name, prop);
  set.append(legend);
  const prefix = prop['x-item-label'] ?? (item.title ? `${item.title} ` : '#');
  const list = value || [];
  list.forEach((v, i) => {
    const sub = control(ctx, `${prefix}${i + 1}`, `${path}/${i}`, { ...item, title: `${prefix}${i + 1}` }, v);
    if (!ctx.disabled && list.length > (prop.minItems ?? 0)) {
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'small';
      remove.textContent = `remove ${prefix}${i + 1}`;
      remove.addEventListener('click', () => ctx.onEdit(path, list.filter((_, j) => j !== i)));
      sub.append(remove);
    }
    set.append(sub);
  });
  if (!ctx.disabled && list.length > 0 && list.length < (prop.maxItems ?? Infinity)) {
    const add = document.createElement('button');
    add.type = 'button';
    add.className = 'small';
    add.textContent = `add ${prefix}${list.length + 1}`;
    add.addEventListener('click', () => ctx.onEdit(path, [...list, structuredClone(list[list.length - 1])]));
    set.append(add);
  }
  return set;
}

// Marks fields with errors ([{path, message}]); an error goes to the control of its path or, failing that, of
// the nearest enclosing path (a pair's number to the pair). Returns the errors no control could show.
export function showErrors(container, errors) {
  for (const row of container.querySelectorAll('.control')) {
    row.classList.remove('invalid');
    row.querySelector(':scope > .field-error').textContent = '';
  }
  const rest = [];
  for (const e of errors) {
    /** @type {Element | null} */
    let row = null;
    for (let p = e.path; p && !row; p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '') {
      row = container.querySelector(`.control[data-path="${CSS.escape(p)}"]`);
    }
    if (row) {
      row.classList.add('invalid');
      const err = /** @type {HTMLElement} */ (row.querySelector(':scope > .field-error')); // controlRow made it
      err.textContent = err.textContent ? `${err.textContent}; ${e.message}` : e.message;
    } else {
      rest.push(e);
    }
  }
  return rest;
}

export function getPath(obj, path) {
  let node = obj;
  for (const k of path.split('/')) node = node === null || typeof node !== 'object' ? undefined : node[k];
  return node;
}

// Sets `path` (a/b/0/c) in a deep copy of `obj`.
export function setPath(obj, path, v) {
  const out = structuredClone(obj);
  const keys = path.split('/');
  let node = out;
  for (const k of keys.slice(0, -1)) node = node[k];
  node[keys[keys.length - 1]] = v;
  return out;
}
