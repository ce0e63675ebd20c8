// compose.js: the typed variable form, live previews and the per-platform preview cards,
// shared by a new draft, a draft's edit form and the live-session composer. As the user
// types, a `preview` frame goes over the websocket (POST .../preview when it is down)
// and the answer fills the cards, the PHI warning and the inline field errors.
import { h, add, put, field, clearErrors, errorText, asText, nextId } from '/panel/dom.js';
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
    const row = field(v.label || v.name, control, {
      help: helpBits.join(' '), required: v.required !== false, name: v.name, errorTestid: `var-error-${v.name}`, extra,
    });
    row.dataset.variable = v.name;
    return row;
  });
  const rowOf = new Map(rows.map((r) => [r.dataset.variable, r]));
  const labelOf = new Map((detail.variables || []).map((v) => [v.name, v.label || v.name]));
  const shown = (n) => !rowOf.get(n)?.hidden;
  const el = h('div', { class: 'var-form' }, rows);
  let dirty = false;
  el.addEventListener('input', () => { dirty = true; });
  return {
    el,
    isDirty: () => dirty,
    markClean: () => { dirty = false; },
    // Values as typed of the fields shown; empty fields are left out so the playbook's
    // default applies.
    values() {
      const out = {};
      for (const [n, i] of inputs) if (i.value !== '' && shown(n)) out[n] = i.value;
      return out;
    },
    // Shows only the fields named (a step asks only for what its texts read); null shows
    // every field. A hidden field keeps what was typed in it for when it comes back.
    showOnly(names) {
      const keep = names ? new Set(names) : null;
      for (const [n, row] of rowOf) row.hidden = !!keep && !keep.has(n);
    },
    touchAll() { for (const n of inputs.keys()) if (shown(n)) touched.add(n); },
    // After a post: the shown fields empty, nothing marked as touched or wrong.
    reset() {
      for (const [n, i] of inputs) if (shown(n)) i.value = '';
      touched.clear();
      clearErrors(el);
      dirty = false;
    },
    // field_errors from a preview, shown only under fields the user has touched; returns
    // what it showed ({input, label, message}) for the summary at the top.
    showFieldErrors(list) {
      clearErrors(el);
      const out = [];
      for (const fe of list || []) {
        const n = String(fe.field || '').replace(/^values\./, '');
        if (!touched.has(n) || !shown(n)) continue;
        const slot = el.querySelector(`[data-error-for="${CSS.escape(n)}"]`);
        if (slot) {
          const message = String(fe.message || '').replace(/^variable `[^`]*`: /, '');
          slot.textContent = message;
          slot.closest('.field').classList.add('invalid');
          out.push({ input: inputs.get(n), label: labelOf.get(n) || n, message });
        }
      }
      return out;
    },
    // Possible PHI found in a field's value: marked at the field whether touched or not.
    showPhi(blockers) {
      for (const r of rowOf.values()) r.classList.remove('phi-field');
      for (const s of el.querySelectorAll('.phi-note')) s.remove();
      const out = [];
      const seen = new Set();
      for (const b of blockers) {
        const key = `${b.variable}\u0000${b.family}`;
        const row = rowOf.get(b.variable);
        if (seen.has(key) || !row || row.hidden) continue;
        seen.add(key);
        row.classList.add('phi-field');
        const message = `possible PHI here: ${b.description || b.family}`;
        add(row, h('div', { class: 'phi-note', testid: `var-phi-${b.variable}` }, message.charAt(0).toUpperCase() + message.slice(1)));
        out.push({ input: inputs.get(b.variable), label: labelOf.get(b.variable) || b.variable, message });
      }
      return out;
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

const platformTitle = (v) => v.name || v.platform || v.target;

// One line per PHI family and field ("A Social Security number in Affected area: every
// platform and the headline"), rather than one per target: the same hit usually shows in
// every variant. `labels` maps variable names to their labels.
function phiByFamily(phi, variants, labels) {
  const names = new Map(variants.map((v) => [v.target, v.name || v.target]));
  names.set('headline', 'headline');
  const lines = new Map();
  for (const b of phi) {
    const what = b.description || String(b.family).replace(/_/g, ' ');
    const field = b.variable ? (labels[b.variable] || b.variable) : null;
    const key = `${what}\u0000${field || ''}`;
    if (!lines.has(key)) lines.set(key, { what, field, targets: new Set() });
    lines.get(key).targets.add(b.target);
  }
  return [...lines.values()].map(({ what, field, targets }) => {
    const everywhere = variants.length > 0 && variants.every((v) => targets.has(v.target));
    const others = [...targets].filter((t) => !everywhere || !variants.some((v) => v.target === t)).map((t) => names.get(t) || t);
    const where = everywhere ? ['every platform', ...others].join(' and the ') : others.join(', ');
    const head = what.charAt(0).toUpperCase() + what.slice(1);
    return h('li', {}, field ? [head, ' in ', h('em', {}, field)] : [head, ' in the template’s own text'], `: ${where}`);
  });
}

// Links, hashtags and mentions in a stretch of post text, marked as the platforms show
// them (text only: nothing becomes a live link in a preview).
const TOKENS = /(https?:\/\/[^\s<>"]+|#[\p{L}\p{N}_]+|@[\p{L}\p{N}_.]+(?:@[\w.-]+)?)/gu;
function styled(text) {
  const out = [];
  let at = 0;
  for (const m of text.matchAll(TOKENS)) {
    const kind = m[0].startsWith('#') ? 'hashtag' : m[0].startsWith('@') ? 'mention' : 'link';
    out.push(text.slice(at, m.index), h('span', { class: `post-${kind}` }, m[0]));
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

// A post's text with the possible PHI marked (spans are UTF-16 offsets, as JS counts) and
// its links and hashtags styled.
function markedText(text, spans) {
  const sorted = [...(spans || [])].sort((a, b) => a[0] - b[0]);
  const out = [];
  let at = 0;
  for (const [start, end] of sorted) {
    if (start < at || end > text.length || end <= start) continue;
    out.push(...styled(text.slice(at, start)), h('mark', { class: 'phi-mark', title: 'Possible protected health information' }, text.slice(start, end)));
    at = end;
  }
  out.push(...styled(text.slice(at)));
  return out;
}

// Who a platform's post appears as: the first account the target set reaches on it
// ("Springfield Health · @health@social.example"), and how many more.
function postedAs(targets, platform) {
  const on = ((targets && targets.accounts) || []).filter((a) => a.targeted && a.platform === platform);
  if (!on.length) return null;
  const more = on.length > 1 ? ` and ${on.length - 1} more account${on.length > 2 ? 's' : ''}` : '';
  return h('p', { class: 'posted-as muted' }, `As ${on[0].display_name}${more}`);
}

// The HTML email as it will render, in a frame that runs no script, loads nothing
// remote and cannot reach the panel (sandbox with no permissions; CSP blocks fetches).
function emailFrame(v) {
  const doc = `<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">${v.text}`;
  return h('iframe', { class: 'email-frame', sandbox: '', srcdoc: doc, title: 'The HTML email as it will render', testid: `preview-frame-${v.target}` });
}

// Preview (or a Draft's variants and blockers) as a list of nodes. `labels` maps
// variable names to their labels (for naming the field a PHI hit came from).
// A draft image as the API takes it: its hash, its description, and for an alert card
// its square version (the 1080×1080 copy for Instagram) and what it was drawn from.
function imageOut(i) {
  const out = { sha256: i.sha256, alt: i.alt };
  if (i.square) out.square = i.square;
  if (i.card) out.card = i.card;
  return out;
}

export function previewNodes(p, labels = {}) {
  const blockers = p.blockers || [];
  const phi = blockers.filter((b) => b.kind === 'phi');
  const over = blockers.filter((b) => b.kind !== 'phi');
  const phiTargets = new Set(phi.map((b) => b.target));
  const nodes = [];
  if (p.headline) nodes.push(h('p', { class: 'headline', testid: 'preview-headline' }, h('strong', {}, 'Headline: '), p.headline));
  if (phi.length) {
    nodes.push(h('div', { class: 'phi-warning', role: 'alert', testid: 'phi-warning' },
      h('strong', {}, 'Possible protected health information: approval is blocked'),
      h('ul', {}, phiByFamily(phi, p.variants || [], labels)),
      h('p', {}, 'Remove it from the text. Only an approver can override, with a reason and a consent record that covers this message.')));
  }
  if (over.length) {
    nodes.push(h('div', { class: 'blocker', role: 'alert', testid: 'limit-blockers' },
      h('strong', {}, 'Over a platform limit: approval is blocked'),
      h('ul', {}, over.map((b) => h('li', {}, `${((p.variants || []).find((v) => v.target === b.target) || {}).name || b.target}: ${asText(b.problem || b.kind)}`)))));
  }
  const hard = (p.variants || []).filter((v) => v.over_reading_grade);
  if (hard.length) {
    nodes.push(h('div', { class: 'reading-warning', role: 'status', testid: 'reading-grade-warning' },
      h('strong', {}, 'Hard to read: above this playbook’s reading grade'),
      h('ul', {}, hard.map((v) => h('li', {}, `${v.target}: grade ${v.readability.grade} (${v.readability.formula}), the maximum is ${v.reading_grade_max}`))),
      h('p', {}, 'Not a blocker: shorter sentences and plainer words bring the grade down. The approver acknowledges it when approving.')));
  }
  // A preview answers `images` as what each platform does with them; a stored draft
  // answers its images as a list and the same view as `images_view`.
  const iv = Array.isArray(p.images) ? p.images_view : p.images;
  const images = (iv && iv.items) || [];
  const without = new Set((iv && iv.sent_without) || []);
  if (iv && iv.notes && iv.notes.length) {
    nodes.push(h('ul', { class: 'image-notes', testid: 'image-notes' }, iv.notes.map((n) => h('li', {}, n))));
  }
  if (!(p.variants || []).length) {
    nodes.push(h('p', { class: 'muted', testid: 'preview-empty' }, 'Fill in the required fields to see what each platform will get.'));
  }
  const card = (v) => {
    const unit = String(v.unit || '').replace(/_/g, ' ');
    const bad = v.over || phiTargets.has(v.target);
    return h('article', { class: `card preview-card${bad ? ' bad' : ''}`, testid: `preview-${v.target}`, 'data-target': v.target },
      h('header', {},
        h('h3', {}, platformTitle(v), v.platform && v.target !== v.platform ? h('span', { class: 'muted' }, ` (${v.target})`) : null),
        h('span', { class: `counter${v.over ? ' over' : ''}`, testid: `preview-count-${v.target}` },
          // A variant the platform does not measure (e.g. email_html) has no count.
          v.count == null ? 'no length limit' : v.limit != null ? `${v.count} / ${v.limit} ${unit}` : `${v.count} ${unit}`,
          v.over ? ' (over)' : '')),
      postedAs(p.targets, v.target),
      images.length ? (without.has(v.target)
        ? h('p', { class: 'muted', testid: `preview-no-image-${v.target}` }, `Sent without the image${images.length > 1 ? 's' : ''}`)
        : h('div', { class: 'preview-images', testid: `preview-images-${v.target}` },
          images.map((i) => h('img', { src: i.url, alt: i.alt, width: 120, height: Math.max(1, Math.round(120 * i.height / i.width)) })))) : null,
      v.edited ? h('p', { class: 'edited-note', testid: `preview-edited-${v.target}` }, 'Written by the drafter for this platform') : null,
      phiTargets.has(v.target) ? h('p', { class: 'phi-inline' }, 'Possible PHI in this text') : null,
      v.target === 'email_html' ? emailFrame(v) : null,
      h(v.target === 'email_html' ? 'details' : 'div', { class: 'post-source' },
        v.target === 'email_html' ? h('summary', {}, 'HTML source') : null,
        // Focusable: a long text scrolls, and a keyboard must be able to scroll it.
        h('pre', { class: `post-text platform-${v.target}`, testid: `preview-text-${v.target}`, tabindex: '0', lang: v.language }, markedText(v.text, v.phi_spans))),
      (v.problems || []).length ? h('ul', { class: 'problems', testid: `preview-problems-${v.target}` },
        v.problems.map((x) => h('li', {}, asText(x)))) : null,
      (v.warnings || []).length ? h('ul', { class: 'warnings', testid: `preview-warnings-${v.target}` },
        v.warnings.map((x) => h('li', {}, asText(x)))) : null,
      readingNodes(v));
  };
  nodes.push(...byLanguage(p.variants || [], card));
  return nodes;
}

// The cards grouped by language when the playbook is written in several, each group
// headed by the language's name in its own words ("Español", "中文(简体)") and marked
// with its `lang`, so the approver reviews every language and a screen reader reads
// each in its own voice. A text stored without its language goes with the first group
// (the primary language's). One language: the cards as they always were.
function byLanguage(variants, card) {
  const groups = [];
  for (const v of variants) {
    const key = v.language || (groups[0] ? groups[0].key : '');
    let g = groups.find((x) => x.key === key);
    if (!g) {
      g = { key, name: v.language_name || '', items: [] };
      groups.push(g);
    }
    if (!g.name && v.language_name) g.name = v.language_name;
    g.items.push(v);
  }
  if (groups.length <= 1) return [h('div', { class: 'cards' }, variants.map(card))];
  return groups.map((g) => h('section', { class: 'language-group', testid: `preview-language-${g.key}`, 'aria-label': g.name || g.key },
    h('h3', { class: 'language-name', lang: g.key || null }, g.name || 'Primary language',
      g.key ? h('span', { class: 'muted' }, ` (${g.key})`) : null),
    h('div', { class: 'cards' }, g.items.map(card))));
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
    t.total ? `${t.total} account${t.total === 1 ? '' : 's'}: ${counts.map(([p, n]) => `${(t.platform_names || {})[p] || p} ${n}`).join(' · ')}` : 'No account.'));
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
  const http = (r) => {
    const body = { step: r.step, values: r.values, exercise: r.exercise };
    if (r.overrides) body.overrides = r.overrides;
    if (r.images) body.images = r.images;
    if (r.targets) body.targets = r.targets;
    if (r.session_id != null) body.session_id = r.session_id;
    return api.post(`/api/playbooks/${encodeURIComponent(r.playbook)}/preview`, body);
  };
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
// opts: {values, step, exercise, targets, lockStep, lockExercise, lockTargets, initialPreview, actions, onExercise,
//        hide (variable names never shown), sessionId (a live session's post: its values apply)}
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
  // Only the fields the chosen step reads, less those set elsewhere (a session's).
  const hide = new Set(opts.hide || []);
  const showStepFields = () => {
    const step = (detail.steps || []).find((x) => x.id === stepSel.value);
    const names = step && step.variables ? step.variables : (detail.variables || []).map((v) => v.name);
    form.showOnly(names.filter((n) => !hide.has(n)));
  };
  showStepFields();
  const request = () => {
    const r = { playbook: detail.id, step: stepSel.value, values: form.values(), exercise: exercise.checked };
    if (targets) r.targets = targets;
    if (opts.sessionId != null) r.session_id = opts.sessionId;
    if (Object.keys(overrides).length) r.overrides = { ...overrides };
    if (images.length) r.images = images.map(imageOut);
    return r;
  };
  // The draft's images (at most four), each with its required description.
  let images = (opts.images || []).map((i) => ({ ...imageOut(i), alt: i.alt || '' }));
  let dirtyImages = false;
  const imagesBox = h('section', { class: 'images', testid: 'images', 'aria-labelledby': 'images-heading' });
  const imageError = h('div', { class: 'field-error', 'data-error-for': 'file', role: 'alert' });
  const drawImages = () => {
    const file = h('input', { type: 'file', id: nextId(), testid: 'image-file', accept: 'image/png,image/jpeg,image/webp,image/gif', disabled: images.length >= 4 });
    file.addEventListener('change', async () => {
      const f = file.files && file.files[0];
      if (!f) return;
      imageError.textContent = '';
      try {
        const res = await fetch('/api/images', { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json', 'Content-Type': 'application/octet-stream' }, body: f });
        const data = await res.json().catch(() => ({}));
        if (!res.ok) throw new Error((data.error && data.error.message) || `${res.status} ${res.statusText}`);
        images.push({ sha256: data.sha256, alt: '' });
        dirtyImages = true;
        drawImages();
        pv.now();
      } catch (e) {
        imageError.textContent = `${f.name}: ${e.message}`;
      }
    });
    put(imagesBox,
      h('h2', { id: 'images-heading' }, 'Images'),
      h('p', { class: 'help' }, 'Up to four: PNG, JPEG, WebP or GIF, 10 MB at most. Location and camera details are removed. Describe each image for people who cannot see it.'),
      h('ol', { class: 'plain image-list' }, images.map((img, i) => {
        const alt = h('textarea', { rows: 2, id: nextId(), testid: `image-alt-${i}`, name: `images.${i}.alt`, required: true, 'aria-required': 'true' });
        alt.value = img.alt;
        alt.addEventListener('input', () => { img.alt = alt.value; dirtyImages = true; pv.schedule(); });
        const remove = h('button', { type: 'button', class: 'quiet', testid: `image-remove-${i}` }, `Remove image ${i + 1}`);
        remove.addEventListener('click', () => { images.splice(i, 1); dirtyImages = true; drawImages(); pv.now(); });
        return h('li', { class: 'image-item' },
          h('img', { src: `/api/images/${encodeURIComponent(img.sha256)}`, alt: img.alt || `Image ${i + 1}, not yet described`, width: 96 }),
          h('div', { class: 'field' },
            h('label', { for: alt.id }, `Description of image ${i + 1} (alt text) `, h('span', { class: 'req' }, '*')),
            alt,
            h('div', { class: 'field-error', 'data-error-for': `images.${i}.alt` }),
            h('div', { class: 'field-error', 'data-error-for': `images.${i}` }),
            img.square ? h('p', { class: 'help', testid: `image-square-${i}` }, 'An alert card: Instagram gets its square 1080×1080 version.') : null),
          remove);
      })),
      h('div', { class: 'field' }, h('label', { for: file.id }, 'Add image'), file, imageError));
  };
  const labels = Object.fromEntries((detail.variables || []).map((v) => [v.name, v.label || v.name]));
  // The drafter's own text for the platforms the step lets them rewrite (kept outside the
  // cards, which are redrawn with every preview).
  let overrides = { ...(opts.overrides || {}) };
  const overridesBox = h('div', { class: 'overrides', testid: 'overrides' });
  const platformName = (t) => (((last && last.variants) || []).find((v) => v.target === t) || {}).name || t;
  const drawOverrides = () => {
    const step = (detail.steps || []).find((x) => x.id === stepSel.value) || {};
    const allowed = step.overrides || [];
    for (const k of Object.keys(overrides)) if (!allowed.includes(k)) delete overrides[k];
    put(overridesBox, allowed.length ? h('details', { open: Object.keys(overrides).length > 0 },
      h('summary', {}, 'Write a platform’s text yourself'),
      h('p', { class: 'help' }, 'The playbook lets you rewrite these texts. What you write goes out as written (no hashtags are added), is counted and checked for PHI like the playbook’s text, and is what the approver reviews.'),
      allowed.map((t) => {
        const box = h('input', { type: 'checkbox', id: nextId(), testid: `override-on-${t}`, checked: t in overrides });
        const area = h('textarea', { rows: 4, testid: `override-text-${t}`, name: `overrides.${t}`, hidden: !(t in overrides) });
        area.value = overrides[t] || '';
        box.addEventListener('change', () => {
          if (box.checked) {
            const v = ((last && last.variants) || []).find((x) => x.target === t);
            overrides[t] = area.value || (v ? v.text : '');
            area.value = overrides[t];
            area.hidden = false;
            area.focus();
          } else {
            delete overrides[t];
            area.hidden = true;
          }
          dirtyOverrides = true;
          pv.now();
        });
        area.addEventListener('input', () => { overrides[t] = area.value; dirtyOverrides = true; pv.schedule(); });
        return h('div', { class: 'field' }, h('div', { class: 'field checkbox' }, box,
          h('label', { for: box.id }, `Write the ${platformName(t)} text myself`)), area,
          h('div', { class: 'field-error', 'data-error-for': `overrides.${t}` }));
      })) : null);
  };
  let dirtyOverrides = false;
  const summary = h('div', { class: 'error-summary', testid: 'form-summary', role: 'alert', hidden: true });
  const draw = (p) => {
    last = p;
    put(targetsBox, ...targetNodes(p.targets, opts.lockTargets ? null : (spec) => { targets = spec; targetsDirty = true; pv.now(); }));
    put(cards, ...previewNodes(p, labels));
    const shownErrors = form.showFieldErrors(p.field_errors);
    const phiFields = form.showPhi((p.blockers || []).filter((b) => b.kind === 'phi' && b.variable));
    const items = [...shownErrors, ...phiFields];
    summary.hidden = items.length === 0;
    put(summary, items.length ? [
      h('h2', {}, items.length === 1 ? 'One field needs attention' : `${items.length} fields need attention`),
      h('ul', {}, items.map((it) => h('li', {}, h('button', { type: 'button', class: 'linklike', onclick: () => it.input.focus() }, `${it.label}: ${it.message}`)))),
    ] : []);
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
  stepSel.addEventListener('change', () => { showStepFields(); drawOverrides(); pv.now(); });
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
      summary,
      form.el,
      overridesBox,
      imagesBox,
      h('section', { class: 'who', 'aria-labelledby': 'who-heading' },
        h('h2', { id: 'who-heading' }, 'Who gets it'),
        opts.lockTargets ? h('p', { class: 'help' }, 'A live session’s posts go to the target set chosen when it started.') : null,
        targetsBox),
      opts.actions || null),
    h('div', { class: 'compose-preview' }, h('h2', {}, 'What each platform will get'), status, cards));
  drawOverrides();
  drawImages();
  if (opts.initialPreview) draw(opts.initialPreview);
  else pv.now();
  const setStep = (s) => { stepSel.value = s; showStepFields(); drawOverrides(); pv.now(); };
  return {
    el, form, request, setStep, step: () => stepSel.value, exercise: () => exercise.checked, lastPreview: () => last, refresh: pv.now,
    // The target choice to save (null: the step's audience, or a session's set).
    targets: () => targets,
    // The drafter's own texts, and whether they changed since the form opened.
    overrides: () => ({ ...overrides }),
    overridesDirty: () => dirtyOverrides,
    // The images with their descriptions, and whether they changed since the form opened.
    images: () => images.map(imageOut),
    imagesDirty: () => dirtyImages,
    targetsDirty: () => targetsDirty,
  };
}
