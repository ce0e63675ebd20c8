// dom.js: builds the page without innerHTML (h), plus the small pieces every view shares:
// labelled fields with an error slot, showing an API error next to what caused it,
// modal dialogs, state badges and time formatting. Untrusted text only ever reaches the
// page through text nodes and attribute values.

let uid = 0;

// h('button', {class: 'primary', testid: 'save', onclick}, 'Save'): attributes are set as
// attributes (or properties for value/checked/disabled/hidden), `on...` adds a listener,
// children are nodes or strings (strings become text nodes), arrays are flattened.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'hidden') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// Replace el's children (put) or add to them (add), skipping null/false like h does.
// Whether a link from a platform may be shown: an https URL, or a path on Tocsin itself
// (a sandbox post); the server shows no other, and this keeps a stale or forged frame
// from putting a javascript: link in the page.
export function isHttps(url) {
  const s = String(url || '');
  if (s.startsWith('/') && !s.startsWith('//') && !s.includes('\\')) return true;
  try { return new URL(s).protocol === 'https:'; } catch { return false; }
}

export function put(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function add(el, ...children) {
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export const enc = encodeURIComponent;

export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}${uid}`;
}

// A labelled form field. `name` ties it to API errors whose `field` names it.
export function field(label, control, { help, required, name, errorTestid, extra } = {}) {
  const input = control.matches('input,select,textarea') ? control : control.querySelector('input,select,textarea');
  if (!input.id) input.id = nextId();
  const helpId = `${input.id}-help`;
  const errId = `${input.id}-err`;
  input.setAttribute('aria-describedby', help ? `${helpId} ${errId}` : errId);
  if (required) input.setAttribute('aria-required', 'true');
  return h('div', { class: 'field' },
    h('label', { for: input.id }, label, required ? h('span', { class: 'req', title: 'required' }, ' *') : null),
    control,
    extra,
    help ? h('div', { class: 'help', id: helpId }, help) : null,
    h('div', { class: 'field-error', id: errId, role: 'alert', 'data-error-for': name || input.name || input.id, testid: errorTestid }));
}

export function errorText(err) {
  if (!err) return '';
  if (!(err instanceof Error)) return String(err);
  let msg = err.message || err.code || 'Something went wrong.';
  if (err.code === 'throttled' && err.retryAfter) msg += ` Try again in ${err.retryAfter} s.`;
  return msg;
}

export function clearErrors(scope) {
  for (const s of scope.querySelectorAll('[data-error-for], .form-error')) s.textContent = '';
  for (const s of scope.querySelectorAll('.invalid')) s.classList.remove('invalid');
}

// Put an API error under the field it names (error.field, with or without `values.`),
// or in `fallback` when no field in `scope` matches.
export function showError(scope, err, fallback) {
  const f = err && err.field;
  if (f && scope) {
    for (const n of [f, f.replace(/^values\./, '')]) {
      const slot = scope.querySelector(`[data-error-for="${CSS.escape(n)}"]`);
      if (slot) {
        slot.textContent = errorText(err);
        const box = slot.closest('.field');
        if (box) box.classList.add('invalid');
        return;
      }
    }
  }
  if (fallback) fallback.textContent = errorText(err);
  else console.error(err);
}

export const formError = (testid) => h('div', { class: 'form-error', role: 'alert', testid });

// Runs `action` with `button` disabled, showing any error in `scope`/`fallback`.
export async function busy(button, scope, fallback, action) {
  if (scope) clearErrors(scope);
  if (fallback) fallback.textContent = '';
  button.disabled = true;
  try {
    return await action();
  } catch (e) {
    showError(scope, e, fallback);
    return undefined;
  } finally {
    button.disabled = false;
  }
}

// A modal dialog holding `body`; resolves with onSubmit's result (true when none), or
// false when cancelled. An error thrown by onSubmit is shown inside and keeps it open.
export function dialog({ title, testid, body = [], submitLabel = 'OK', submitTestid, danger = false, onSubmit }) {
  return new Promise((resolve) => {
    const err = formError(`${testid}-error`);
    const submit = h('button', { type: 'submit', class: danger ? 'danger' : 'primary', testid: submitTestid }, submitLabel);
    const cancel = h('button', { type: 'button', testid: `${testid}-cancel`, onclick: () => close(false) }, 'Cancel');
    const form = h('form', { class: 'dialog-form', novalidate: true },
      h('h2', {}, title), body, err, h('div', { class: 'actions' }, submit, cancel));
    const d = h('dialog', { testid, 'aria-label': title }, form);
    let done = false;
    const close = (v) => {
      if (done) return;
      done = true;
      d.close();
      d.remove();
      resolve(v);
    };
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const r = await busy(submit, form, err, async () => {
        const v = onSubmit ? await onSubmit() : true;
        return v === undefined ? true : v;
      });
      if (r !== undefined) close(r);
    });
    d.addEventListener('cancel', (ev) => { ev.preventDefault(); close(false); });
    document.body.append(d);
    d.showModal();
    const first = form.querySelector('input,select,textarea');
    (first || submit).focus();
  });
}

export function confirmDialog(title, text, submitLabel, danger = false) {
  return dialog({ title, testid: 'confirm-dialog', body: [h('p', {}, text)], submitLabel, submitTestid: 'confirm-ok', danger });
}

const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : timeFmt.format(d);
}

// Text for a warning/problem that may be a string or an object.
export const asText = (x) => (typeof x === 'string' ? x : (x && (x.message || x.problem)) || JSON.stringify(x));

const STATE_LABELS = {
  sent: 'Sent', delivered: 'Delivered', pending: 'Pending', queued: 'Queued', sending: 'Sending', retrying: 'Retrying', retry_wait: 'Retrying',
  failed: 'Failed', unknown: 'Unknown outcome', retracted: 'Retracted', cancelled: 'Cancelled', skipped: 'Skipped (disabled since approval)',
  draft: 'Draft', submitted: 'Awaiting approval', changes_requested: 'Changes requested',
  published: 'Published', withdrawn: 'Withdrawn', approved: 'Approved',
  changed: 'Changed since approval', unapproved: 'Not approved', valid: 'Valid', expired: 'Expired',
  revoked: 'Revoked', closed: 'Closed', open: 'Open', half_open: 'Half open',
};
export const stateLabel = (s) => STATE_LABELS[s] || String(s ?? '').replace(/_/g, ' ');

export function badge(state, testid) {
  return h('span', { class: `badge st-${String(state).replace(/[^a-z_]/gi, '')}`, testid, 'data-state': state }, stateLabel(state));
}

export const tag = (text, cls = '') => h('span', { class: `tag ${cls}` }, text);
export const exerciseTag = (on) => (on ? tag('EXERCISE', 'exercise') : null);

export function countsChips(counts) {
  const entries = Object.entries(counts || {}).filter(([, n]) => n > 0);
  if (!entries.length) return h('span', { class: 'muted' }, 'no deliveries yet');
  return h('span', { class: 'chips' }, entries.map(([s, n]) => h('span', { class: `chip st-${s}` }, `${stateLabel(s)} ${n}`)));
}

export function section(title, testid, ...children) {
  return h('section', { class: 'panel', testid }, h('h2', {}, title), children);
}

export function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// A datetime-local value read in the browser's zone, as RFC 3339 UTC (or undefined).
export const localToUtc = (v) => (v ? new Date(v).toISOString() : undefined);

// An SVG document the server drew (the enrolment QR code) as a node: parsed as XML,
// never as HTML, and only an <svg> root is taken.
export function svgFrom(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (!root || root.nodeName !== 'svg') return h('p', { class: 'form-error' }, 'The QR code could not be shown: type the key in instead.');
  return document.importNode(root, true);
}
