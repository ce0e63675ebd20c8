// view-draft.js: #/new/<playbook> (fill in a playbook, preview it live, save a draft) and
// #/drafts/<id> (the draft's state and previews; edit / submit / withdraw for its
// drafter; approve, request changes, override blockers and break glass for approvers,
// with the two-person rule stated on screen). Redraws when a `draft` frame names it.
import { h, add, put, enc, badge, tag, fmtTime, field, formError, busy, confirmDialog, section, showError, clearErrors } from '/panel/dom.js';
import * as api from '/panel/api.js';
import { editor, previewNodes, targetNodes } from '/panel/compose.js';

const EDITABLE = ['draft', 'submitted', 'changes_requested'];

function statusWarning(status) {
  if (!status || status === 'approved') return null;
  return h('div', { class: 'blocker', role: 'alert', testid: 'playbook-status-warning' },
    status === 'changed'
      ? 'This playbook’s templates changed since they were approved: it cannot be submitted or approved until it is approved again (tocsin playbooks approve).'
      : 'This playbook is not approved for use: it cannot be submitted or approved.');
}

// #/messages/<id>/correct: a correction is a draft like any other (the correction
// playbook's form, previews per platform, PHI and length checks, a second person's
// approval); once approved it is posted as a reply where the message still stands.
export async function correctionDraft(c) {
  return newDraft(c, { playbook: 'correction', corrects: c.params[0] });
}

export async function newDraft(c, opts = {}) {
  const id = opts.playbook || c.params[0];
  const detail = await api.get(`/api/playbooks/${enc(id)}`);
  const start = await startingValues(c, detail, opts);
  const err = formError('save-error');
  const save = h('button', { type: 'button', class: 'primary big', testid: 'save-draft-button', disabled: detail.status !== 'approved' }, 'Save draft');
  const ed = editor(c, detail, { values: start.values, actions: h('div', { class: 'actions' }, save, err) });
  add(c.root,
    h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Alerts'), opts.corrects ? ' › Correction' : ' › New draft'),
    h('h1', {}, detail.title),
    opts.corrects ? h('p', { class: 'notice', testid: 'corrects-note' }, 'This draft corrects ',
      h('a', { href: `#/messages/${enc(opts.corrects)}` }, `message ${opts.corrects}`),
      ': once a second person approves it, it is posted as a reply wherever that message still stands.') : null,
    h('p', { class: 'muted' }, detail.description, ` · Approval: ${String(detail.policy || '').replace(/_/g, ' ')}`),
    statusWarning(detail.status),
    start.note,
    ed.el);
  save.addEventListener('click', () => busy(save, ed.el, err, async () => {
    ed.form.touchAll();
    const body = { playbook: id, step: ed.step(), values: ed.form.values(), exercise: ed.exercise() };
    if (opts.corrects) body.corrects = Number(opts.corrects);
    if (ed.targets()) body.targets = ed.targets();
    if (Object.keys(ed.overrides()).length) body.overrides = ed.overrides();
    if (ed.images().length) body.images = ed.images();
    const d = await api.post('/api/drafts', body);
    c.go(`#/drafts/${enc(d.id)}`);
  }));
}

// What a new draft's form starts from: in the demo, the playbook's examples; elsewhere
// the values of the last message sent from this playbook (a boil-water update usually
// repeats the area and the reason; a retracted message is skipped), said so above the
// form. A correction starts empty.
async function startingValues(c, detail, opts) {
  if (opts.corrects) return { values: {}, note: null };
  if (c.me.demo) {
    const values = {};
    for (const v of detail.variables || []) if (v.example != null) values[v.name] = v.example;
    return { values, note: h('p', { class: 'notice', testid: 'draft-start-note' }, 'Demo: the form starts from the playbook’s example values.') };
  }
  try {
    const last = (await api.get('/api/messages')).find((m) => m.playbook === detail.id && m.kind === 'post' && m.draft_id && !m.retracted_at);
    if (!last) return { values: {}, note: null };
    const d = await api.get(`/api/drafts/${enc(last.draft_id)}`);
    return {
      values: d.values || {},
      note: h('p', { class: 'notice', testid: 'draft-start-note' }, 'Starts from the values of ',
        h('a', { href: `#/messages/${enc(last.id)}` }, `the last message from this playbook (${fmtTime(last.approved_at)})`),
        ': check every field before you save.'),
    };
  } catch {
    return { values: {}, note: null };
  }
}

export async function draftView(c) {
  const id = c.params[0];
  let ed = null;
  let detail = null;
  const stale = h('div', { class: 'notice', role: 'status', testid: 'draft-changed-elsewhere', hidden: true },
    'Someone changed this draft. ', h('button', { type: 'button', onclick: () => load() }, 'Load the new version'));

  async function load(note) {
    const d = await api.get(`/api/drafts/${enc(id)}`);
    const mine = d.created_by === c.me.user;
    const editable = mine && c.can('edit_drafts') && EDITABLE.includes(d.state);
    if (!detail) detail = await api.get(`/api/playbooks/${enc(d.playbook)}`);
    const stepName = ((detail.steps || []).find((x) => x.id === d.step) || {}).title || d.step;
    c.setExercise(d.exercise);
    stale.hidden = true;
    const top = h('div', { class: 'draft-head' },
      h('p', { class: 'crumbs' }, h('a', { href: '#/' }, 'Alerts'), ' › Draft'),
      h('h1', {}, d.headline || `${detail.title} · ${stepName}`),
      h('p', { class: 'meta' }, badge(d.state, 'draft-state'), d.exercise ? tag('EXERCISE', 'exercise') : null,
        ` ${detail.title} · ${stepName} · drafted by `, h('strong', { testid: 'draft-created-by' }, d.created_by),
        ` · updated ${fmtTime(d.updated_at)}`,
        d.session_id ? [' · ', h('a', { href: `#/sessions/${enc(d.session_id)}` }, 'live session')] : null,
        d.corrects_message_id ? [' · corrects ', h('a', { href: `#/messages/${enc(d.corrects_message_id)}`, testid: 'draft-corrects-link' }, `message ${d.corrects_message_id}`)] : null),
      note ? h('p', { class: 'form-error big', role: 'alert', testid: 'draft-action-error' }, note) : null,
      d.message_id ? h('p', { class: 'notice ok' }, 'Published. ',
        h('a', { class: 'button primary', href: `#/messages/${enc(d.message_id)}`, testid: 'message-link' }, 'Open the live delivery grid')) : null,
      d.note ? h('p', { class: 'notice', testid: 'draft-note' }, h('strong', {}, 'Note: '), d.note) : null,
      statusWarning(d.playbook_status),
      stale);
    let body;
    if (editable) {
      const panel = drafterPanel(c, d, detail, load);
      ed = panel.ed;
      body = h('div', {}, panel.el, reviewPanel(c, d, load));
    } else {
      ed = null;
      body = h('div', { class: 'compose' },
        h('div', { class: 'compose-form' }, valuesTable(d, detail),
          section('Who gets it', 'draft-targets', h('div', { testid: 'target-chooser' }, targetNodes(d.targets, null))),
          reviewPanel(c, d, load)),
        h('div', { class: 'compose-preview' }, h('h2', {}, 'What each platform will get'),
          h('div', { testid: 'preview-area' }, previewNodes(d))));
    }
    // The drafter may add the card to the post: both sizes are kept, the square one for
    // Instagram, with the card's alt text; the draft is saved with it.
    const attach = editable && ed ? async (btn) => {
      const errBox = c.root.querySelector('[data-testid="card-attach-error"]');
      btn.disabled = true;
      try {
        const r = await api.post(`/api/playbooks/${enc(d.playbook)}/card`, { step: d.step, values: ed.form.values(), attach: true });
        const images = ed.images();
        if (images.length >= 4) throw new Error('A draft carries four images at most: remove one first.');
        await api.put(`/api/drafts/${enc(d.id)}`, { values: ed.form.values(), images: [...images, r.image] });
        await load();
      } catch (e) {
        if (errBox) errBox.textContent = e.message;
        btn.disabled = false;
      }
    } : null;
    put(c.root, top, body, cardPreview(d, attach));
  }

  await load();
  c.on('draft', (f) => {
    if (!f.draft || String(f.draft.id) !== String(id)) return;
    if (ed && ed.form.isDirty()) stale.hidden = false;
    else load().catch(() => {});
  });
  c.on('resync', () => { if (!(ed && ed.form.isDirty())) load().catch(() => {}); });
}

// The step's alert card drawn with the draft's values, with its alt text as the image's
// alt (nothing when the step has no card). POST /api/playbooks/<id>/card answers a PNG
// data URL; the button switches between 1200×675 and Instagram's 1080×1080.
function cardPreview(d, attach) {
  const box = h('section', { class: 'card-preview', testid: 'card-preview', hidden: true });
  const draw = async (size) => {
    try {
      const card = await api.post(`/api/playbooks/${enc(d.playbook)}/card`, { step: d.step, values: d.values || {}, size });
      const other = size === 'instagram' ? 'landscape' : 'instagram';
      put(box, h('h2', {}, 'Alert card'),
        h('img', { src: card.png, alt: card.alt, width: card.width, height: card.height, testid: 'card-image' }),
        h('p', { class: 'muted', testid: 'card-alt' }, h('strong', {}, 'Alt text: '), card.alt),
        h('button', { type: 'button', testid: 'card-size', onclick: () => draw(other) },
          other === 'instagram' ? 'Show the Instagram card (1080×1080)' : 'Show the 1200×675 card'),
        attach ? h('button', { type: 'button', testid: 'card-attach', onclick: (ev) => attach(ev.target) }, 'Add this card to the post') : null,
        attach ? h('div', { class: 'form-error', role: 'alert', testid: 'card-attach-error' }) : null);
      box.hidden = false;
    } catch (e) {
      if (e.field === 'step') { box.hidden = true; return; }
      put(box, h('h2', {}, 'Alert card'), h('p', { class: 'form-error', role: 'alert', testid: 'card-error' }, e.message));
      box.hidden = false;
    }
  };
  draw('landscape');
  return box;
}

// A date-time value as typed (`2026-07-14T09:30`, on the playbook's clock) in words:
// "Tue, Jul 14, 2026, 9:30 AM (America/Chicago)". Anything else is shown as typed.
const wallFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZone: 'UTC' });
function wallTime(text, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(String(text).trim());
  if (!m) return String(text);
  const at = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]));
  return Number.isNaN(at.getTime()) ? String(text) : `${wallFmt.format(at)}${zone ? ` (${zone})` : ''}`;
}

function valuesTable(d, detail) {
  const spec = (k) => (detail.variables || []).find((v) => v.name === k) || {};
  const shown = (k, v) => (spec(k).type === 'datetime' ? wallTime(v, detail.timezone) : String(v));
  return section('Values', 'draft-values',
    h('dl', { class: 'values' }, Object.entries(d.values || {}).map(([k, v]) => [h('dt', {}, spec(k).label || k), h('dd', { testid: `draft-value-${k}` }, shown(k, v))])));
}

// The drafter's side: the same form (PUT on save), submit, withdraw.
function drafterPanel(c, d, detail, reload) {
  const err = formError('draft-error');
  const save = h('button', { type: 'button', testid: 'save-draft-button' }, 'Save changes');
  const submit = h('button', { type: 'button', class: 'primary big', testid: 'submit-button', disabled: d.state === 'submitted' },
    d.state === 'submitted' ? 'Submitted for approval' : 'Submit for approval');
  const withdraw = h('button', { type: 'button', class: 'danger quiet', testid: 'withdraw-button' }, 'Withdraw');
  const ed = editor(c, detail, {
    values: d.values, overrides: d.overrides, images: d.images, step: d.step, exercise: d.exercise, lockStep: true, lockExercise: true, initialPreview: d,
    targets: d.targets ? d.targets.spec : null, lockTargets: !!d.session_id,
    actions: h('div', {},
      h('p', { class: 'help' }, 'Once submitted, a second person approves it.'),
      h('div', { class: 'actions' }, save, submit, withdraw), err),
  });
  const saveValues = async () => {
    ed.form.touchAll();
    const body = { values: ed.form.values() };
    if (ed.targetsDirty()) body.targets = ed.targets();
    if (ed.overridesDirty()) body.overrides = ed.overrides();
    if (ed.imagesDirty()) body.images = ed.images();
    await api.put(`/api/drafts/${enc(d.id)}`, body);
    ed.form.markClean();
  };
  save.addEventListener('click', () => busy(save, ed.el, err, async () => { await saveValues(); await reload(); }));
  submit.addEventListener('click', () => busy(submit, ed.el, err, async () => {
    if (ed.form.isDirty() || ed.targetsDirty() || ed.overridesDirty() || ed.imagesDirty()) await saveValues();
    await api.post(`/api/drafts/${enc(d.id)}/submit`);
    await reload();
  }));
  withdraw.addEventListener('click', async () => {
    if (!(await confirmDialog('Withdraw this draft?', 'It will not be sent. This cannot be undone.', 'Withdraw', true))) return;
    await busy(withdraw, ed.el, err, async () => { await api.post(`/api/drafts/${enc(d.id)}/withdraw`); await reload(); });
  });
  if (d.state === 'submitted') {
    // Editing a submitted draft voids any approval in flight; say so rather than surprise.
    submit.after(h('span', { class: 'help' }, ' Saving changes now voids the review in progress.'));
  }
  return { el: ed.el, ed };
}

// Approver's side: approve, request changes, override, break glass.
// Each targeted account's publishing quota, read from its platform as the approver
// looks (Instagram and Threads have one): "3 of 100 posts used in the last 24 hours", or
// "limit reached" before the approver publishes into a refusal.
function quotaBox(d) {
  // Only platforms that count posts against a quota are asked about (the API takes 200
  // accounts at a time; a large fleet's other accounts have nothing to show).
  const QUOTA_PLATFORMS = ['instagram', 'threads'];
  const ids = ((d.targets && d.targets.accounts) || [])
    .filter((a) => a.targeted && !a.sandbox && QUOTA_PLATFORMS.includes(a.platform)).map((a) => a.id).slice(0, 200);
  const box = h('div', { class: 'quotas', testid: 'quotas', hidden: true });
  if (!ids.length) return box;
  api.post('/api/accounts/quotas', { accounts: ids }).then((quotas) => {
    if (!quotas.length) return;
    put(box, h('h3', {}, 'Publishing limits'),
      h('ul', { class: 'plain' }, quotas.map((q) => h('li', { class: q.exhausted ? 'blocker' : 'muted', testid: `quota-${q.account}` },
        `${q.display_name}: `, q.summary))));
    box.hidden = false;
  }).catch(() => {});
  return box;
}

function reviewPanel(c, d, reload) {
  if (!c.can('approve') || !EDITABLE.includes(d.state)) return null;
  const mine = d.created_by === c.me.user;
  const blockers = d.blockers || [];
  const phi = blockers.some((b) => b.kind === 'phi');
  const parts = [];
  // Approve or break glass; on success, straight to the delivery grid.
  const publish = async (action, body, btn, scope, errBox) => {
    clearErrors(scope);
    btn.disabled = true;
    try {
      const r = await api.post(`/api/drafts/${enc(d.id)}/${action}`, body);
      c.go(`#/messages/${enc(r.message_id)}`);
    } catch (e) {
      if (e.code === 'stale_review') await reload('The text changed since you opened it. Review the new version below, then approve again.');
      else showError(scope, e, errBox);
    } finally {
      btn.disabled = false;
    }
  };

  if (mine) {
    parts.push(h('p', { class: 'two-person', testid: 'self-approval-note' },
      `Drafted by ${d.created_by}. You cannot approve your own draft: another approver must.`));
  } else if (d.state === 'submitted') {
    const err = formError('approve-error');
    const approve = h('button', { type: 'button', class: 'primary big', testid: 'approve-button', disabled: blockers.length > 0 },
      'Approve and publish now');
    // Accounts outside the playbook's audience need the approver's explicit yes.
    const confirm = h('input', { type: 'checkbox', id: `confirm-targets-${d.id}`, testid: 'confirm-targets' });
    const confirmBox = d.needs_target_confirmation ? h('div', { class: 'field checkbox blocker', testid: 'confirm-targets-box' }, confirm,
      h('label', { for: confirm.id }, `I confirm sending to the ${(d.targets.outside_audience || []).length} account(s) outside the playbook’s audience (${(d.targets.audience || []).join(', ')}).`),
      h('div', { class: 'field-error', 'data-error-for': 'confirm_targets', testid: 'confirm-targets-error' })) : null;
    // Send later (optional): the approved post waits for its time, on the calendar.
    const later = h('input', { type: 'datetime-local', step: 60, testid: 'approve-send-at', name: 'send_at' });
    later.addEventListener('input', () => { approve.textContent = later.value ? 'Approve and send at that time' : 'Approve and publish now'; });
    const laterField = field('Send later (optional)', later, { name: 'send_at', help: 'Your computer’s local time. Leave empty to publish now. A scheduled post shows on the calendar and can be cancelled there until it goes.' });
    const sendAt = () => (later.value ? new Date(later.value).toISOString() : undefined);
    // A variant above the playbook's reading grade: not a blocker, but the approver says they saw it.
    const ack = h('input', { type: 'checkbox', id: `acknowledge-reading-grade-${d.id}`, testid: 'acknowledge-reading-grade' });
    const hard = (d.variants || []).filter((v) => v.over_reading_grade);
    const ackBox = d.needs_reading_grade_acknowledgement ? h('div', { class: 'field checkbox warning', testid: 'acknowledge-reading-grade-box' }, ack,
      h('label', { for: ack.id }, `I have read it: ${hard.map((v) => `${v.name || v.target} reads at grade ${v.readability.grade}`).join(', ')}, above this playbook’s maximum of ${hard.length ? hard[0].reading_grade_max : ''}.`),
      h('div', { class: 'field-error', 'data-error-for': 'acknowledge_reading_grade', testid: 'acknowledge-reading-grade-error' })) : null;
    const box = h('div', {}, quotaBox(d), confirmBox, ackBox, laterField, approve, blockers.length ? h('p', { class: 'help' }, 'Blocked: fix the text, or override below.') : null, err);
    approve.addEventListener('click', () => publish('approve', { reviewed_hash: d.hash, confirm_targets: confirm.checked, acknowledge_reading_grade: ack.checked, send_at: sendAt() }, approve, box, err));
    parts.push(h('p', { class: 'two-person' }, `Drafted by ${d.created_by}. You are the second person: read every platform’s text before approving.`), box);

    if (blockers.length) {
      const reason = h('textarea', { rows: 2, testid: 'override-reason', name: 'override.reason' });
      const consent = h('input', { type: 'text', testid: 'override-consent-ref', name: 'override.consent_ref' });
      const oErr = formError('override-error');
      const oBtn = h('button', { type: 'button', class: 'danger', testid: 'override-button' }, 'Override and approve');
      const oBox = h('fieldset', { class: 'override', testid: 'override-form' }, h('legend', {}, 'Override the blockers'),
        field('Reason (at least 10 characters)', reason, { name: 'override.reason', required: true }),
        phi ? field('Consent record reference', consent, { name: 'override.consent_ref', required: true, help: 'A consent record in force that covers this playbook and every channel.' }) : null,
        oErr, oBtn);
      oBtn.addEventListener('click', () => {
        if (reason.value.trim().length < 10) { oErr.textContent = 'Give a reason of at least 10 characters.'; return; }
        const override = { reason: reason.value.trim() };
        if (phi) override.consent_ref = consent.value.trim();
        publish('approve', { reviewed_hash: d.hash, override, confirm_targets: confirm.checked, acknowledge_reading_grade: ack.checked }, oBtn, oBox, oErr);
      });
      parts.push(oBox);
    }

    const why = h('textarea', { rows: 2, testid: 'request-changes-reason', name: 'reason' });
    const rErr = formError('request-changes-error');
    const rBtn = h('button', { type: 'button', testid: 'request-changes-button' }, 'Request changes');
    const rBox = h('fieldset', {}, h('legend', {}, 'Send back to the drafter'), field('What needs changing', why, { name: 'reason', required: true }), rErr, rBtn);
    rBtn.addEventListener('click', () => busy(rBtn, rBox, rErr, async () => {
      await api.post(`/api/drafts/${enc(d.id)}/request-changes`, { reason: why.value });
      await reload();
    }));
    parts.push(rBox);
  }

  if (c.can('break_glass')) {
    const reason = h('textarea', { rows: 2, testid: 'break-glass-reason', name: 'reason' });
    const consent = h('input', { type: 'text', testid: 'break-glass-consent-ref', name: 'override.consent_ref' });
    const bErr = formError('break-glass-error');
    const bBtn = h('button', { type: 'button', class: 'danger', testid: 'break-glass-button' }, 'Break glass: publish alone now');
    const bBox = h('details', { class: 'break-glass', testid: 'break-glass-section' },
      h('summary', { testid: 'break-glass-toggle' }, 'Emergency: publish without a second approver'),
      h('p', { class: 'blocker' }, 'Break-glass publishes with your approval alone. It is marked BREAK-GLASS, recorded in the audit log and queued for compliance review. You will be asked for your password and code.'),
      field('Why this cannot wait for a second approver', reason, { name: 'reason', required: true }),
      blockers.length ? h('p', { class: 'help' }, 'The reason also overrides the blockers shown (at least 10 characters).') : null,
      phi ? field('Consent record reference', consent, { name: 'override.consent_ref', required: true }) : null,
      bErr, bBtn);
    bBtn.addEventListener('click', async () => {
      bErr.textContent = '';
      if (!reason.value.trim()) { bErr.textContent = 'Give the reason.'; return; }
      const outside = (d.targets && d.targets.outside_audience) || [];
      const who = d.targets ? `${d.targets.total} account(s)${outside.length ? `, ${outside.length} of them outside the playbook’s audience` : ''}` : 'its accounts';
      const hardToRead = d.needs_reading_grade_acknowledgement ? ' Some of its text reads above the playbook’s reading grade.' : '';
      if (!(await confirmDialog('Publish alone?', `This sends the message to ${who} now, with your approval only, and queues it for compliance review.${hardToRead}`, 'Break glass and publish', true))) return;
      const body = { reviewed_hash: d.hash, reason: reason.value.trim(), confirm_targets: !!d.needs_target_confirmation, acknowledge_reading_grade: !!d.needs_reading_grade_acknowledgement };
      if (blockers.length) body.override = phi ? { reason: body.reason, consent_ref: consent.value.trim() } : { reason: body.reason };
      await publish('break-glass', body, bBtn, bBox, bErr);
    });
    parts.push(bBox);
  }
  return section('Review', 'review-panel', parts);
}
