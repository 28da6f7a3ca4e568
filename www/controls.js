// Controls generated from a lab's JSON Schema (schemars output): numbers with ranges and units, booleans,
// enums (oneOf const), arrays of objects (add / remove items) and nested objects. The page never hard-codes
// a parameter: a new field in a lab's Rust params struct appears here by itself.

export function resolve(root, node) {
  let n = node;
  while (n && n.$ref) {
    const name = n.$ref.replace('#/$defs/', '');
    n = { ...root.$defs[name], ...n, $ref: undefined, description: n.description || root.$defs[name].description };
  }
  return n;
}

const label = (name, schema) => schema.title || name.replaceAll('_', ' ');

// Builds the controls of `fields` (top-level keys of `value`) into `container`.
// onEdit(path, newValue) is called for every edit; the caller validates and re-renders errors with showErrors.
export function buildControls(container, { root, schema, fields, value, onEdit, disabled = false }) {
  container.replaceChildren();
  for (const name of fields) {
    const prop = resolve(root, schema.properties[name]);
    if (!prop) continue;
    container.append(control(root, name, name, prop, value[name], onEdit, disabled));
  }
}

function control(root, name, path, prop, value, onEdit, disabled) {
  if (prop.type === 'array') return arrayControl(root, name, path, prop, value, onEdit, disabled);
  if (prop.type === 'object') {
    const set = document.createElement('fieldset');
    const legend = document.createElement('legend');
    legend.textContent = label(name, prop);
    set.append(legend);
    for (const [key, sub] of Object.entries(prop.properties || {})) {
      set.append(control(root, key, `${path}/${key}`, resolve(root, sub), value[key], onEdit, disabled));
    }
    return set;
  }
  const row = document.createElement('label');
  row.className = 'control';
  row.dataset.path = path;
  if (prop.description) row.title = prop.description;
  const text = document.createElement('span');
  text.className = 'control-label';
  text.textContent = label(name, prop);
  row.append(text);
  const options = prop.oneOf || (prop.enum && prop.enum.map((c) => ({ const: c })));
  let input;
  if (options) {
    input = document.createElement('select');
    for (const o of options) {
      const opt = document.createElement('option');
      opt.value = o.const;
      opt.textContent = String(o.const).replaceAll('_', ' ');
      if (o.description) opt.title = o.description;
      input.append(opt);
    }
    input.value = value;
    input.addEventListener('change', () => onEdit(path, input.value));
  } else if (prop.type === 'boolean') {
    input = document.createElement('input');
    input.type = 'checkbox';
    input.checked = Boolean(value);
    input.addEventListener('change', () => onEdit(path, input.checked));
  } else if (prop.type === 'number' || prop.type === 'integer') {
    input = numberInput(row, prop, value, (v) => onEdit(path, v));
  } else {
    input = document.createElement('input');
    input.value = value ?? '';
    input.addEventListener('change', () => onEdit(path, input.value));
  }
  input.disabled = disabled;
  input.name = path;
  row.append(input);
  if (prop['x-unit']) {
    const unit = document.createElement('span');
    unit.className = 'unit';
    unit.textContent = prop['x-unit'];
    row.append(unit);
  }
  const err = document.createElement('span');
  err.className = 'field-error';
  row.append(err);
  return row;
}

// A number field, plus a slider when the range is small enough to slide through.
function numberInput(row, prop, value, commit) {
  const input = document.createElement('input');
  input.type = 'number';
  input.value = value;
  const integer = prop.type === 'integer';
  if (prop.minimum !== undefined) input.min = prop.minimum;
  if (prop.maximum !== undefined) input.max = prop.maximum;
  input.step = integer ? 1 : 'any';
  const parse = () => {
    const v = Number(input.value);
    if (input.value.trim() === '' || !Number.isFinite(v)) return null;
    return integer ? Math.round(v) : v;
  };
  input.addEventListener('change', () => {
    const v = parse();
    if (v === null) {
      row.querySelector('.field-error').textContent = 'enter a number';
      row.classList.add('invalid');
      return;
    }
    commit(v);
  });
  const span = prop.maximum - prop.minimum;
  if (!integer && Number.isFinite(span) && span > 0 && span <= 20) {
    const slider = document.createElement('input');
    slider.type = 'range';
    slider.min = prop.minimum;
    slider.max = prop.maximum;
    slider.step = span / 200;
    slider.value = value;
    slider.setAttribute('aria-label', `${prop.title || ''} slider`);
    slider.addEventListener('input', () => (input.value = slider.value));
    slider.addEventListener('change', () => commit(Number(slider.value)));
    input.addEventListener('change', () => (slider.value = input.value));
    row.append(slider);
  }
  return input;
}

function arrayControl(root, name, path, prop, value, onEdit, disabled) {
  const set = document.createElement('fieldset');
  set.className = 'array';
  const legend = document.createElement('legend');
  legend.textContent = label(name, prop);
  set.append(legend);
  const item = resolve(root, prop.items);
  (value || []).forEach((v, i) => {
    const sub = control(root, `Σ${i + 1}`, `${path}/${i}`, { ...item, title: `Σ${i + 1}` }, v, onEdit, disabled);
    if (!disabled && value.length > (prop.minItems ?? 0)) {
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'small';
      remove.textContent = `remove Σ${i + 1}`;
      remove.addEventListener('click', () => onEdit(path, value.filter((_, j) => j !== i)));
      sub.append(remove);
    }
    set.append(sub);
  });
  if (!disabled && (value || []).length < (prop.maxItems ?? Infinity)) {
    const add = document.createElement('button');
    add.type = 'button';
    add.className = 'small';
    add.textContent = 'add a distribution';
    add.addEventListener('click', () => onEdit(path, [...value, structuredClone(value[value.length - 1])]));
    set.append(add);
  }
  return set;
}

// Marks fields with errors ([{path, message}]); returns the errors no field could show.
export function showErrors(container, errors) {
  for (const row of container.querySelectorAll('.control')) {
    row.classList.remove('invalid');
    row.querySelector('.field-error').textContent = '';
  }
  const rest = [];
  for (const e of errors) {
    const row = container.querySelector(`.control[data-path="${CSS.escape(e.path)}"]`);
    if (row) {
      row.classList.add('invalid');
      row.querySelector('.field-error').textContent = e.message;
    } else {
      rest.push(e);
    }
  }
  return rest;
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
