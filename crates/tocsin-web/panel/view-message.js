// view-message.js: #/messages/<id>, the live delivery grid. One row per account with
// its state (colour and words), attempts, link to the live post, error and next attempt;
// totals per state; Retry for failed rows; Retract everywhere (delete, with the
// withdrawal notice where a platform cannot) behind a confirm dialog; Draft a correction
// (#/messages/<id>/correct). `delivery` frames update rows in place; `resync` and unknown
// accounts refetch.
import { h, add, put, enc, badge, tag, fmtTime, field, formError, busy, dialog, stateLabel, isHttps } from '/panel/dom.js';
import * as api from '/panel/api.js';
import { ensure as ensureTitles, stepTitle } from '/panel/names.js';

export default async function messageView(c) {
  const id = c.params[0];
  await ensureTitles();
  let m = null;
  const rows = new Map();
  const totals = h('div', { class: 'totals', testid: 'delivery-totals', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const head = h('div');
  const gridErr = formError('delivery-action-error');

  const drawTotals = () => {
    const counts = {};
    for (const d of m.deliveries || []) counts[d.state] = (counts[d.state] || 0) + 1;
    put(totals, h('span', { class: 'total all' }, `${(m.deliveries || []).length} accounts`),
      ...Object.entries(counts).map(([s, n]) => h('span', { class: `total st-${s}`, testid: `total-${s}` }, h('strong', {}, String(n)), ` ${stateLabel(s)}`)));
  };

  const row = (d) => {
    const retry = d.state === 'failed' && c.can('approve')
      ? h('button', { type: 'button', testid: `retry-${d.account_id}` }, 'Retry') : null;
    if (retry) {
      retry.addEventListener('click', () => busy(retry, null, gridErr, async () => {
        m = await api.post(`/api/messages/${enc(id)}/deliveries/${enc(d.account_id)}/retry`);
        draw();
      }));
    }
    // A retraction's delivered row is a deletion done, or (where the platform cannot
    // delete) a withdrawal notice sent; a retracted original's post is gone. Only what
    // was deleted is called deleted.
    const done = m.kind === 'delete' && ['delivered', 'sent'].includes(d.state);
    const deletion = done && d.action !== 'notice';
    const gone = deletion || d.state === 'retracted';
    const state = badge(d.state, 'delivery-state');
    if (deletion) state.textContent = 'Deleted';
    if (done && d.action === 'notice') state.textContent = 'Notice sent';
    return h('tr', { testid: `delivery-${d.account_id}`, 'data-state': d.state, class: `st-row-${d.state}` },
      h('th', { scope: 'row' }, d.account || d.account_id, d.sandbox ? h('span', { class: 'tag sandbox', testid: 'delivery-sandbox' }, 'sandbox') : null),
      h('td', {}, d.platform_name || d.platform),
      h('td', {}, state, m.kind === 'delete' && d.action === 'notice'
        ? h('span', { class: 'help', testid: 'delivery-notice' }, ' cannot delete: withdrawal notice instead') : null),
      h('td', { testid: 'delivery-attempts', class: 'num' }, String(d.attempts ?? 0)),
      h('td', {}, gone ? h('span', { class: 'help', testid: 'delivery-post-deleted' }, 'post deleted')
        : isHttps(d.url) ? h('a', { href: d.url, target: '_blank', rel: 'noopener noreferrer', testid: 'delivery-link' }, 'View post') : null),
      h('td', { class: 'error-text', testid: 'delivery-error' }, d.error || ''),
      h('td', { testid: 'delivery-next' }, d.next_attempt_at ? fmtTime(d.next_attempt_at) : ''),
      h('td', {}, retry));
  };

  const drawRows = () => {
    rows.clear();
    put(tbody, ...(m.deliveries || []).map((d) => {
      const tr = row(d);
      rows.set(String(d.account_id), tr);
      return tr;
    }));
    drawTotals();
  };

  const drawHead = () => {
    c.setExercise(m.exercise);
    const canRetract = c.can('retract') && m.kind === 'post' && !m.retracted_at;
    // A correction is a draft like any other, and may follow a deletion: it goes where
    // the post still stands (where a withdrawal notice went instead).
    const canCorrect = c.can('edit_drafts') && m.kind === 'post';
    put(head,
      h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Alerts'), ' › Message'),
      h('h1', { testid: 'message-title' }, m.kind === 'delete' ? `Retraction: deleting the posts of message ${m.target_message_id}`
        : m.kind === 'correction' ? `Correction of message ${m.target_message_id}`
          : m.title || stepTitle(m.playbook, m.step)),
      h('p', { class: 'meta' },
        m.kind !== 'post' ? tag(m.kind === 'delete' ? 'RETRACTION' : 'CORRECTION', 'kind') : null,
        m.exercise ? tag('EXERCISE', 'exercise') : null,
        m.break_glass ? tag('BREAK-GLASS', 'breakglass') : null,
        ` ${stepTitle(m.playbook, m.step)} · approved by ${m.approved_by} at ${fmtTime(m.approved_at)} · `,
        h('a', { href: `#/drafts/${enc(m.draft_id)}`, testid: 'draft-link' }, 'draft'),
        c.can('read_audit') ? [' · ', h('a', { href: `#/messages/${enc(m.id)}/story`, testid: 'story-link' }, 'whole story (audit)')] : null,
        m.session_id ? [' · ', h('a', { href: `#/sessions/${enc(m.session_id)}` }, 'live session')] : null),
      m.target_message_id ? h('p', { class: 'notice' }, 'This retracts or corrects ',
        h('a', { href: `#/messages/${enc(m.target_message_id)}`, testid: 'target-message-link' }, 'the original message'), '.') : null,
      m.retracted_at ? h('p', { class: 'notice', testid: 'retracted-note' }, `Retracted at ${fmtTime(m.retracted_at)}.`) : null,
      m.review ? h('p', { class: 'notice ok' }, `Reviewed by ${m.review.by} at ${fmtTime(m.review.at)}: ${m.review.finding}`)
        : m.break_glass ? h('p', { class: 'notice' }, 'Break-glass: awaiting compliance review.') : null,
      targetsLine(m),
      followUps(c, m, gridErr),
      repeatForm(c, m),
      canRetract || canCorrect ? h('div', { class: 'actions' },
        canRetract ? h('button', { type: 'button', class: 'danger big', testid: 'retract-button', onclick: () => retract(c, m) }, 'Retract (delete) everywhere') : null,
        canCorrect ? h('a', { class: 'button big', href: `#/messages/${enc(m.id)}/correct`, testid: 'correct-button' }, 'Draft a correction') : null) : null);
  };

  const draw = () => { drawHead(); drawRows(); };
  const load = async () => {
    m = await api.get(`/api/messages/${enc(id)}`);
    draw();
  };

  await load();
  add(c.root, head, h('section', { class: 'panel' }, h('h2', {}, 'Delivery, account by account'), totals, gridErr,
    h('div', { class: 'table-wrap' }, h('table', { class: 'grid deliveries', testid: 'delivery-grid' },
      h('thead', {}, h('tr', {}, ['Account', 'Platform', 'State', 'Attempts', 'Live post', 'Error', 'Next attempt', ''].map((t) => h('th', { scope: 'col' }, t)))),
      tbody))),
  sentTexts(m));

  c.on('delivery', (f) => {
    if (String(f.message_id) !== String(id)) return;
    const d = (m.deliveries || []).find((x) => String(x.account_id) === String(f.account_id));
    if (!d) { load().catch(() => {}); return; }
    d.state = f.state;
    if (f.attempt != null) d.attempts = f.attempt;
    // Each frame carries the fields of its state: a newer state clears the older ones.
    if ('url' in f) d.url = f.url;
    d.next_attempt_at = f.next_attempt_at ?? null;
    if ('error' in f) d.error = f.error;
    else if (['queued', 'pending', 'sending', 'sent', 'delivered'].includes(f.state)) d.error = null;
    const tr = row(d);
    tr.classList.add('flash');
    rows.get(String(d.account_id)).replaceWith(tr);
    rows.set(String(d.account_id), tr);
    drawTotals();
  });
  c.on('message', (f) => { if (f.message && String(f.message.id) === String(id)) load().catch(() => {}); });
  c.on('resync', () => load().catch(() => {}));
  // Frames that arrived while the first answer was on its way are not replayed: while any
  // row is still moving, fetch the grid again every 2 s, so it always ends true.
  const moving = () => (m.deliveries || []).some((d) => !SETTLED.includes(d.state));
  const timer = setInterval(() => { if (moving()) load().catch(() => {}); }, 2000);
  c.onLeave(() => clearInterval(timer));
}

const SETTLED = ['delivered', 'sent', 'failed', 'cancelled', 'retracted', 'skipped'];

// Who it was approved for: the groups and the accounts per platform.
function targetsLine(m) {
  const t = m.targets;
  if (!t) return h('p', { class: 'muted', testid: 'message-targets' }, 'Sent to every connected account (from before audiences).');
  const groups = t.spec.everyone ? 'every account' : (t.spec.groups || []).join(', ') || 'accounts chosen one by one';
  const counts = Object.entries(t.per_platform || {}).map(([p, n]) => `${p} ${n}`).join(' · ');
  return h('p', { class: 'meta', testid: 'message-targets' }, h('strong', {}, 'Approved for: '), groups, counts ? ` (${counts})` : '');
}

// "Repeat this message" (approver, a post not retracted): every N hours until a time,
// the first run after one interval; it shows on the calendar, where it can be stopped.
function repeatForm(c, m) {
  if (!c.can('approve') || m.kind !== 'post' || m.retracted_at) return null;
  const every = h('select', { testid: 'repeat-every', name: 'every_minutes' },
    [[60, 'hour'], [120, '2 hours'], [180, '3 hours'], [240, '4 hours'], [360, '6 hours'], [720, '12 hours'], [1440, 'day']]
      .map(([v, label]) => h('option', { value: v }, `Every ${label}`)));
  every.value = '120';
  const until = h('input', { type: 'datetime-local', step: 60, testid: 'repeat-until', name: 'until' });
  const err = formError('repeat-error');
  const done = h('p', { role: 'status', testid: 'repeat-status' });
  const btn = h('button', { type: 'button', testid: 'repeat-button' }, 'Repeat');
  const box = h('details', { class: 'repeat', testid: 'repeat-form' }, h('summary', {}, 'Repeat this message'),
    field('How often', every, { name: 'every_minutes' }),
    field('Until', until, { name: 'until', required: true, help: 'Your computer’s local time. A repeat always ends.' }),
    err, btn, done);
  btn.addEventListener('click', () => busy(btn, box, err, async () => {
    put(done);
    const body = { every_minutes: Number(every.value), until: until.value ? new Date(until.value).toISOString() : '' };
    const s = await api.post(`/api/messages/${enc(m.id)}/schedules`, body);
    put(done, `Repeats ${every.selectedOptions[0].textContent.toLowerCase()}, first at ${fmtTime(s.next_run_at)}: `,
      h('a', { href: '#/calendar', testid: 'repeat-calendar-link' }, 'see the calendar'), '.');
  }));
  return box;
}

// "Send an update", "Send the all-clear", "Duplicate": a new draft of the same playbook
// with the same values and targets, opened for editing.
const FOLLOW_UP_LABELS = { update: 'Send an update', all_clear: 'Send the all-clear', duplicate: 'Duplicate' };
function followUps(c, m, errBox) {
  if (!c.can('edit_drafts') || !(m.follow_ups || []).length) return null;
  return h('div', { class: 'actions', testid: 'follow-ups' }, m.follow_ups.map((f) => {
    const b = h('button', { type: 'button', testid: `follow-up-${f.kind}`, title: f.title }, FOLLOW_UP_LABELS[f.kind] || f.title);
    b.addEventListener('click', () => busy(b, null, errBox, async () => {
      const d = await api.post(`/api/messages/${enc(m.id)}/follow-up`, { step: f.step });
      c.go(`#/drafts/${enc(d.id)}`);
    }));
    return b;
  }));
}

// What each platform got: the approved text (text only, never HTML), its count as that
// platform counts, and how many accounts got it.
function sentTexts(m) {
  const texts = m.texts || [];
  if (!texts.length) return null;
  const unitWords = { weighted_characters: 'weighted characters', characters: 'characters', graphemes: 'characters',
    utf16_units: 'UTF-16 units', bytes: 'bytes', sms_segments: 'SMS segments', unlimited: 'characters' };
  return h('section', { class: 'panel', testid: 'sent-texts' }, h('h2', {}, 'What each platform got'),
    h('div', { class: 'cards' }, texts.map((t) => h('article', { class: 'card', testid: `sent-text-${t.platform}` },
      h('h3', {}, t.platform_name, h('span', { class: 'muted' }, ` · ${t.accounts} account(s)`)),
      t.text == null ? h('p', { class: 'help' }, 'The text was purged by retention; its hash stays in the audit log.')
        // Focusable: a long text scrolls in its box, and a keyboard must reach it.
        : h('p', { class: 'post-text', testid: 'sent-text-body', tabindex: '0' }, t.text),
      t.count != null ? h('p', { class: 'help', testid: 'sent-text-count' },
        t.limit != null ? `${t.count} / ${t.limit} ${unitWords[t.unit] || t.unit}` : `${t.count} ${unitWords[t.unit] || t.unit}`) : null))));
}

function retract(c, m) {
  const reason = h('textarea', { rows: 2, name: 'reason', testid: 'retract-reason' });
  const posted = (m.deliveries || []).filter((d) => ['sent', 'delivered'].includes(d.state));
  const queued = (m.deliveries || []).filter((d) => !SETTLED.includes(d.state));
  const n = posted.length;
  // Where the platform cannot delete (email, SMS, Teams), the playbook's approved
  // withdrawal notice goes instead: say so, account by account, before anyone confirms.
  const noticed = posted.filter((d) => d.can_delete === false);
  const noticeNote = h('div', { testid: 'retract-notice-accounts' },
    noticed.length ? h('p', {}, `${noticed.length} of them cannot delete: deleting sends them the playbook’s withdrawal notice instead.`) : null);
  const plan = h('table', { class: 'grid compact', testid: 'retract-plan' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Account'), h('th', { scope: 'col' }, 'Platform'), h('th', { scope: 'col' }, 'What happens'))),
    h('tbody', {}, [
      ...posted.map((d) => h('tr', { testid: `retract-plan-${d.account_id}`, 'data-action': d.can_delete === false ? 'notice' : 'delete' },
        h('th', { scope: 'row' }, d.account || d.account_id), h('td', {}, d.platform_name || d.platform),
        h('td', {}, d.can_delete === false ? 'Gets the withdrawal notice (cannot delete)' : 'Post deleted'))),
      ...queued.map((d) => h('tr', { testid: `retract-plan-${d.account_id}`, 'data-action': 'cancel' },
        h('th', { scope: 'row' }, d.account || d.account_id), h('td', {}, d.platform_name || d.platform),
        h('td', {}, 'Not sent yet: cancelled'))),
    ]));
  return dialog({
    title: 'Retract everywhere',
    testid: 'retract-dialog',
    danger: true,
    submitLabel: 'Confirm: delete on every account',
    submitTestid: 'retract-confirm',
    body: [
      h('p', {}, `This deletes the post on every account that received the message (${n} posted so far); posts still queued are cancelled. To correct it instead, draft a correction: a second person approves it like any message.`),
      noticeNote,
      plan,
      field('Reason (recorded in the audit log)', reason, { name: 'reason', required: true }),
    ],
    onSubmit: async () => {
      const r = await api.post(`/api/messages/${enc(m.id)}/retract`, { mode: 'delete', reason: reason.value.trim() });
      c.go(`#/messages/${enc(r.id)}`);
    },
  });
}
