// compose.js: the typed variable form, live previews and the per-platform preview cards,
// shared by a new draft, a draft's edit form and the live-session composer. As the user
// types, a `preview` frame goes over the websocket (POST .../preview when it is down)
// and the answer fills the cards, the PHI warning and the inline field errors.
import { h, put, field, clearErrors, errorText, asText, nextId } from '/panel/dom.js';
import * as api from '/panel/api.js';
import * as ws from '/panel/ws.js';

function inputFor(v, value) {
  const placeholder = v.default ?? v.example ?? '';
  const has = value !== undefined && value !== null;
  switch (v.type) {
    case 'choice':
    case 'enum': {
      const sel = h('select', {},
        h('option', { value: '' }, v.required === false ? '(none)' : 'Choose…'),
        (v.choices || []).map((c) => h('option', { value: c }, c)));
      sel.value = has ? value : v.default ?? '';
      return sel;
    }
    case 'datetime': {
      const i = h('input', { type: 'datetime-local', step: 60 });
      if (has) {
        i.value = value;
        // A stored value the picker cannot show stays visible as text rather than lost.
        if (!i.value && value) return h('input', { type: 'text', value, placeholder: 'YYYY-MM-DDTHH:MM' });
      }
      return i;
    }
    case 'integer':
      return h('input', { type: 'number', inputmode: 'numeric', step: 1, min: v.min, max: v.max, placeholder, value: has ? value : null });
    case 'url':
      return h('input', { type: 'url', inputmode: 'url', placeholder, value: has ? value : null });
    case 'phone':
      return h('input', { type: 'tel', placeholder, value: has ? value : null });
    case 'zip':
      return h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'postal-code', placeholder, value: has ? value : null });
    default: {
      const long = v.multiline || (v.max_length || 0) > 100;
      return long
        ? h('textarea', { rows: 3, placeholder, value: has ? value : null })
        : h('input', { type: 'text', placeholder, value: has ? value : null });
    }
  }
}

// `at` as a datetime-local value (YYYY-MM-DDTHH:MM) on the wall clock of `zone` (the
// playbook's time zone; the browser's own when unknown).
export function wallClock(at, zone) {
  const opts = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  let parts;
  try {
    parts = new Intl.DateTimeFormat('en-CA', { ...opts, timeZone: zone || undefined }).formatToParts(at);
  } catch {
    parts = new Intl.DateTimeFormat('en-CA', opts).formatToParts(at);
  }
  const get = (type) => (parts.find((p) => p.type === type) || {}).value || '';
  return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}`;
}

// The form for a playbook's variables. onChange() runs on every edit.
export function variableForm(detail, initial, onChange) {
  const inputs = new Map();
  const touched = new Set();
  const rows = (detail.variables || []).map((v) => {
    const input = inputFor(v, initial[v.name]);
    input.name = v.name;
    input.dataset.testid = `var-${v.name}`;
    let control = input;
    const extra = [];
    if (v.type === 'datetime') {
      // "Now" and "In 1 hour", on the playbook's clock.
      const setTo = (ms) => () => {
        input.value = wallClock(new Date(Date.now() + ms), detail.timezone);
        input.dispatchEvent(new Event('input', { bubbles: true }));
      };
      control = h('div', { class: 'with-suffix' }, input,
        h('span', { class: 'suffix', testid: `var-tz-${v.name}` }, detail.timezone || ''),
        h('button', { type: 'button', class: 'quiet', testid: `var-now-${v.name}`, onclick: setTo(0) }, 'Now'),
        h('button', { type: 'button', class: 'quiet', testid: `var-in-hour-${v.name}`, onclick: setTo(3600 * 1000) }, 'In 1 hour'));
    } else if (v.type === 'hashtag') {
      control = h('div', { class: 'with-prefix' }, h('span', { class: 'prefix', 'aria-hidden': 'true' }, '#'), input);
    }
    if (v.max_length && (input.tagName === 'TEXTAREA' || input.type === 'text')) {
      const counter = h('div', { class: 'char-count', testid: `var-count-${v.name}`, 'aria-live': 'polite' });
      const count = () => {
        const n = [...input.value].length;
        counter.textContent = `${n} / ${v.max_length} characters`;
        counter.classList.toggle('over', n > v.max_length);
      };
      input.addEventListener('input', count);
      count();
      extra.push(counter);
    }
    const helpBits = [v.help, v.type === 'datetime' ? `Local time in ${detail.timezone || 'the playbook’s zone'}.` : null,
      v.example && v.type !== 'text' ? `Example: ${v.example}` : null].filter(Boolean);
    const edited = () => {
      touched.add(v.name);
      onChange();
    };
    input.addEventListener('input', edited);
    input.addEventListener('change', edited);
    inputs.set(v.name, input);
    return field(v.label || v.name, control, {
      help: helpBits.join(' '), required: v.required !== false, name: v.name, errorTestid: `var-error-${v.name}`, extra,
    });
  });
  const el = h('div', { class: 'var-form' }, rows);
  let dirty = false;
  el.addEventListener('input', () => { dirty = true; });
  return {
    el,
    isDirty: () => dirty,
    markClean: () => { dirty = false; },
    // Values as typed; empty fields are left out so the playbook's default applies.
    values() {
      const out = {};
      for (const [n, i] of inputs) if (i.value !== '') out[n] = i.value;
      return out;
    },
    touchAll() { for (const n of inputs.keys()) touched.add(n); },
    // field_errors from a preview, shown only under fields the user has touched.
    showFieldErrors(list) {
      clearErrors(el);
      for (const fe of list || []) {
        const n = String(fe.field || '').replace(/^values\./, '');
        if (!touched.has(n)) continue;
        const slot = el.querySelector(`[data-error-for="${CSS.escape(n)}"]`);
        if (slot) {
          slot.textContent = fe.message;
          slot.closest('.field').classList.add('invalid');
        }
      }
    },
    set(name, value) {
      const i = inputs.get(name);
      if (i) i.value = value;
    },
    clearLong() {
      for (const i of inputs.values()) if (i.tagName === 'TEXTAREA') i.value = '';
    },
  };
}

const platformTitle = (v) => v.platform || v.target;

// One line per PHI family ("medical record number: every platform and the headline"),
// rather than one per family and target: the same hit usually shows in every variant.
function phiByFamily(phi, variants) {
  const families = new Map();
  for (const b of phi) {
    const f = String(b.family).replace(/_/g, ' ');
    if (!families.has(f)) families.set(f, new Set());
    families.get(f).add(b.target);
  }
  return [...families].map(([f, targets]) => {
    const everywhere = variants.length > 0 && variants.every((v) => targets.has(v.target));
    const others = [...targets].filter((t) => !everywhere || !variants.some((v) => v.target === t));
    const where = everywhere ? ['every platform', ...others].join(' and the ') : others.join(', ');
    return `${f}: ${where}`;
  });
}

// Preview (or a Draft's variants and blockers) as a list of nodes.
export function previewNodes(p) {
  const blockers = p.blockers || [];
  const phi = blockers.filter((b) => b.kind === 'phi');
  const over = blockers.filter((b) => b.kind !== 'phi');
  const phiTargets = new Set(phi.map((b) => b.target));
  const nodes = [];
  if (p.headline) nodes.push(h('p', { class: 'headline', testid: 'preview-headline' }, h('strong', {}, 'Headline: '), p.headline));
  if (phi.length) {
    nodes.push(h('div', { class: 'phi-warning', role: 'alert', testid: 'phi-warning' },
      h('strong', {}, 'Possible protected health information: approval is blocked'),
      h('ul', {}, phiByFamily(phi, p.variants || []).map((line) => h('li', {}, line))),
      h('p', {}, 'Remove it from the text. Only an approver can override, with a reason and a consent record that covers this message.')));
  }
  if (over.length) {
    nodes.push(h('div', { class: 'blocker', role: 'alert', testid: 'limit-blockers' },
      h('strong', {}, 'Over a platform limit: approval is blocked'),
      h('ul', {}, over.map((b) => h('li', {}, `${b.target}: ${asText(b.problem || b.kind)}`)))));
  }
  const hard = (p.variants || []).filter((v) => v.over_reading_grade);
  if (hard.length) {
    nodes.push(h('div', { class: 'reading-warning', role: 'status', testid: 'reading-grade-warning' },
      h('strong', {}, 'Hard to read: above this playbook’s reading grade'),
      h('ul', {}, hard.map((v) => h('li', {}, `${v.target}: grade ${v.readability.grade} (${v.readability.formula}), the maximum is ${v.reading_grade_max}`))),
      h('p', {}, 'Not a blocker: shorter sentences and plainer words bring the grade down. The approver acknowledges it when approving.')));
  }
  if (!(p.variants || []).length) {
    nodes.push(h('p', { class: 'muted', testid: 'preview-empty' }, 'Fill in the required fields to see what each platform will get.'));
  }
  nodes.push(h('div', { class: 'cards' }, (p.variants || []).map((v) => {
    const unit = String(v.unit || '').replace(/_/g, ' ');
    const bad = v.over || phiTargets.has(v.target);
    return h('article', { class: `card preview-card${bad ? ' bad' : ''}`, testid: `preview-${v.target}`, 'data-target': v.target },
      h('header', {},
        h('h3', {}, platformTitle(v), v.platform && v.target !== v.platform ? h('span', { class: 'muted' }, ` (${v.target})`) : null),
        h('span', { class: `counter${v.over ? ' over' : ''}`, testid: `preview-count-${v.target}` },
          // A variant the platform does not measure (e.g. email_html) has no count.
          v.count == null ? 'no length limit' : v.limit != null ? `${v.count} / ${v.limit} ${unit}` : `${v.count} ${unit}`,
          v.over ? ' (over)' : '')),
      phiTargets.has(v.target) ? h('p', { class: 'phi-inline' }, 'Possible PHI in this text') : null,
      h('pre', { class: 'post-text', testid: `preview-text-${v.target}` }, v.text),
      (v.problems || []).length ? h('ul', { class: 'problems', testid: `preview-problems-${v.target}` },
        v.problems.map((x) => h('li', {}, asText(x)))) : null,
      (v.warnings || []).length ? h('ul', { class: 'warnings', testid: `preview-warnings-${v.target}` },
        v.warnings.map((x) => h('li', {}, asText(x)))) : null,
      readingNodes(v));
  })));
  return nodes;
}

// A variant's plain-language check: grade (with the formula), sentence lengths, passive
// voice, and jargon with what to write instead.
function readingNodes(v) {
  const r = v.readability;
  if (!r) return null;
  const lengths = r.sentence_lengths || [];
  return h('details', { class: `reading${v.over_reading_grade ? ' over' : ''}`, testid: `preview-reading-${v.target}`, open: v.over_reading_grade ? '' : null },
    h('summary', { testid: `preview-grade-${v.target}` },
      `Reading grade ${r.grade} (${r.formula}${r.band ? `: ${r.band}` : ''})`,
      v.reading_grade_max != null ? `, maximum ${v.reading_grade_max}` : '',
      v.over_reading_grade ? ' (above)' : ''),
    h('p', { testid: `preview-sentences-${v.target}` },
      lengths.length ? `${lengths.length} sentence(s) of ${lengths.join(', ')} words; average ${r.average_sentence_length}, longest ${r.longest_sentence}.` : 'No sentences.'),
    (r.passive || []).length ? h('div', { testid: `preview-passive-${v.target}` }, h('strong', {}, 'Passive voice: '),
      r.passive.map((x) => `“${x.phrase}”`).join(', '), '. Say who does what.') : null,
    (r.jargon || []).length ? h('div', { testid: `preview-jargon-${v.target}` }, h('strong', {}, 'Jargon: '),
      h('ul', {}, r.jargon.map((x) => h('li', {}, `“${x.term}” → ${x.replacement}`)))) : null);
}

// "Who gets it": the groups and accounts a message goes to, with a count per platform.
// `t` is a preview's (or a draft's) `targets`; onChange(spec) gets the new choice, or is
// null for a read-only view (the approver's).
export function targetNodes(t, onChange) {
  if (!t) return [];
  const spec = t.spec || { everyone: false, groups: [], exclude_accounts: [], include_accounts: [] };
  const edit = (fn) => {
    const next = {
      everyone: !!spec.everyone, groups: [...(spec.groups || [])],
      exclude_accounts: [...(spec.exclude_accounts || [])], include_accounts: [...(spec.include_accounts || [])],
    };
    fn(next);
    onChange(next);
  };
  const without = (list, x) => list.filter((y) => y !== x);
  const ro = !onChange;
  const counts = Object.entries(t.per_platform || {});
  const nodes = [];
  nodes.push(h('p', { class: 'target-counts', testid: 'target-counts' },
    t.total ? `${t.total} account${t.total === 1 ? '' : 's'}: ${counts.map(([p, n]) => `${p} ${n}`).join(' · ')}` : 'No account.'));
  if (t.empty) nodes.push(h('p', { class: 'form-error', role: 'alert', testid: 'target-empty' }, t.empty));
  if ((t.outside_audience || []).length) {
    nodes.push(h('p', { class: 'blocker', role: 'alert', testid: 'target-outside' },
      `${t.outside_audience.length} account${t.outside_audience.length === 1 ? ' is' : 's are'} outside the playbook’s audience (${(t.audience || []).join(', ') || 'every account'}): the approver must confirm ${t.outside_audience.length === 1 ? 'it' : 'them'}.`));
  }
  const everyone = h('input', { type: 'checkbox', id: nextId(), testid: 'target-everyone', checked: !!spec.everyone, disabled: ro });
  if (!ro) everyone.addEventListener('change', () => edit((n) => { n.everyone = everyone.checked; }));
  const groups = (t.groups || []).map((g) => {
    const box = h('input', { type: 'checkbox', id: nextId(), testid: `target-group-${g.name}`, checked: g.chosen, disabled: ro });
    if (!ro) box.addEventListener('change', () => edit((n) => { n.groups = box.checked ? [...without(n.groups, g.name), g.name] : without(n.groups, g.name); }));
    return h('li', {}, box, h('label', { for: box.id }, h('strong', {}, g.name),
      ` (${g.accounts ? `${g.accounts} account${g.accounts === 1 ? '' : 's'}` : 'empty'})`,
      g.in_audience ? null : h('span', { class: 'muted' }, ' outside the audience')));
  });
  const accounts = (t.accounts || []).map((a) => {
    const box = h('input', { type: 'checkbox', id: nextId(), testid: `target-account-${a.id}`, checked: a.targeted, disabled: ro || !a.usable });
    if (!ro) {
      box.addEventListener('change', () => edit((n) => {
        if (box.checked) {
          n.exclude_accounts = without(n.exclude_accounts, a.id);
          const inGroup = n.everyone || a.groups.some((g) => n.groups.includes(g));
          if (!inGroup) n.include_accounts = [...without(n.include_accounts, a.id), a.id];
        } else {
          n.include_accounts = without(n.include_accounts, a.id);
          const inGroup = n.everyone || a.groups.some((g) => n.groups.includes(g));
          if (inGroup) n.exclude_accounts = [...without(n.exclude_accounts, a.id), a.id];
        }
      }));
    }
    return h('li', { 'data-targeted': String(a.targeted) }, box, h('label', { for: box.id }, a.display_name,
      h('span', { class: 'muted' }, ` ${a.platform}${a.groups.length ? ` · ${a.groups.join(', ')}` : ' · no group'}`),
      a.outside_audience ? h('span', { class: 'warn' }, ' (outside the audience)') : null,
      a.usable ? null : h('span', { class: 'muted' }, ' (not connected)')));
  });
  nodes.push(h('div', { class: 'field checkbox' }, everyone, h('label', { for: everyone.id }, 'Every connected account')));
  nodes.push(h('fieldset', { class: 'target-groups', testid: 'target-groups' }, h('legend', {}, 'Groups'),
    groups.length ? h('ul', { class: 'plain' }, groups) : h('p', { class: 'muted' }, 'No groups yet: an admin puts accounts in groups.')));
  nodes.push(h('details', { class: 'target-accounts', testid: 'target-accounts', open: true },
    h('summary', {}, 'Accounts'), h('ul', { class: 'plain' }, accounts)));
  return nodes;
}

// Debounced previews: over the websocket when it is open, else over HTTP. Only the
// newest answer is drawn.
export function livePreview(getRequest, onResult, onError) {
  let timer = null;
  let seq = 0;
  const http = (r) => api.post(`/api/playbooks/${encodeURIComponent(r.playbook)}/preview`,
    r.targets ? { step: r.step, values: r.values, exercise: r.exercise, targets: r.targets } : { step: r.step, values: r.values, exercise: r.exercise });
  const run = () => {
    clearTimeout(timer);
    const r = getRequest();
    seq += 1;
    const mine = seq;
    const viaSocket = ws.isOpen()
      ? ws.request('preview', r).catch((e) => (['socket_closed', 'timeout', 'rate_limited'].includes(e.code) ? http(r) : Promise.reject(e)))
      : http(r);
    viaSocket.then((p) => { if (mine === seq) onResult(p); }, (e) => { if (mine === seq) onError(e); });
  };
  return {
    schedule() { clearTimeout(timer); timer = setTimeout(run, 250); },
    now: run,
    stop() { clearTimeout(timer); seq += 1; },
  };
}

// The whole editor: step select, exercise checkbox, variable form, live preview.
// opts: {values, step, exercise, targets, lockStep, lockExercise, lockTargets, initialPreview, actions, onExercise}
export function editor(c, detail, opts = {}) {
  const stepSel = h('select', { testid: 'step-select', disabled: !!opts.lockStep },
    (detail.steps || []).map((s) => h('option', { value: s.id }, s.title || s.id)));
  if (opts.step) stepSel.value = opts.step;
  const exercise = h('input', { type: 'checkbox', testid: 'exercise-checkbox', checked: !!opts.exercise, disabled: !!opts.lockExercise, id: nextId() });
  const status = h('p', { class: 'preview-status', testid: 'preview-status', role: 'status' });
  const cards = h('div', { testid: 'preview-area', 'aria-live': 'polite' });
  const targetsBox = h('div', { class: 'targets', testid: 'target-chooser' });
  let last = null;
  // The target choice: null until the drafter changes it (the step's audience applies).
  let targets = opts.targets || null;
  let targetsDirty = false;
  const form = variableForm(detail, opts.values || {}, () => pv.schedule());
  const request = () => {
    const r = { playbook: detail.id, step: stepSel.value, values: form.values(), exercise: exercise.checked };
    if (targets) r.targets = targets;
    return r;
  };
  const draw = (p) => {
    last = p;
    put(targetsBox, ...targetNodes(p.targets, opts.lockTargets ? null : (spec) => { targets = spec; targetsDirty = true; pv.now(); }));
    put(cards, ...previewNodes(p));
    form.showFieldErrors(p.field_errors);
    const n = (p.field_errors || []).length;
    status.textContent = n ? `Preview updated; ${n} field${n > 1 ? 's are' : ' is'} still empty or not valid.` : 'Preview up to date.';
    status.classList.toggle('warn', n > 0 || !!p.blocked);
  };
  const pv = livePreview(request, draw, (e) => {
    status.textContent = `Preview failed: ${errorText(e)}`;
    status.classList.add('warn');
  });
  const exerciseChanged = () => {
    c.setExercise(exercise.checked);
    if (opts.onExercise) opts.onExercise(exercise.checked);
    pv.now();
  };
  stepSel.addEventListener('change', () => pv.now());
  exercise.addEventListener('change', exerciseChanged);
  c.onLeave(() => pv.stop());
  c.setExercise(exercise.checked);
  const el = h('div', { class: 'compose' },
    h('div', { class: 'compose-form' },
      field('Step', stepSel, { name: 'step' }),
      h('div', { class: 'field checkbox' }, exercise,
        h('label', { for: exercise.id }, 'Exercise (drill): sandbox accounts only, marked EXERCISE'),
        h('div', { class: 'field-error', 'data-error-for': 'exercise' })),
      h('p', { class: 'help' }, h('span', { class: 'req' }, '*'), ' required'),
      form.el,
      h('section', { class: 'who', 'aria-labelledby': 'who-heading' },
        h('h2', { id: 'who-heading' }, 'Who gets it'),
        opts.lockTargets ? h('p', { class: 'help' }, 'A live session’s posts go to the target set chosen when it started.') : null,
        targetsBox),
      opts.actions || null),
    h('div', { class: 'compose-preview' }, h('h2', {}, 'What each platform will get'), status, cards));
  if (opts.initialPreview) draw(opts.initialPreview);
  else pv.now();
  const setStep = (s) => { stepSel.value = s; pv.now(); };
  return {
    el, form, request, setStep, step: () => stepSel.value, exercise: () => exercise.checked, lastPreview: () => last, refresh: pv.now,
    // The target choice to save (null: the step's audience, or a session's set).
    targets: () => targets,
    targetsDirty: () => targetsDirty,
  };
}
