// view-consent.js: #/consent, the consent register compliance keeps: the records with
// their state, a form to add one (reference, subject, scope playbooks and channels,
// expiry, where the signed form is kept), and revoke with a reason.
import { h, add, put, enc, badge, field, formError, busy, dialog, fmtTime, localToUtc, nextId } from '/panel/dom.js';
import * as api from '/panel/api.js';

const CHANNELS = ['mastodon', 'bluesky', 'x', 'facebook', 'threads', 'linkedin', 'telegram', 'discord', 'slack', 'teams', 'matrix', 'email', 'sms', 'webhook', 'cap'];

function checkboxes(legend, items, testPrefix) {
  const boxes = items.map(([value, label]) => {
    const id = nextId();
    return { value, el: h('span', { class: 'check' }, h('input', { type: 'checkbox', id, value, testid: `${testPrefix}-${value}` }), h('label', { for: id }, label)) };
  });
  return {
    el: h('fieldset', { class: 'checks' }, h('legend', {}, legend, h('span', { class: 'help' }, ' (none ticked = any)')), boxes.map((b) => b.el),
      h('div', { class: 'field-error', 'data-error-for': testPrefix === 'consent-playbook' ? 'scope_playbooks' : 'scope_channels' })),
    values: () => boxes.filter((b) => b.el.querySelector('input').checked).map((b) => b.value),
  };
}

export default async function consent(c) {
  const [records, playbooks] = await Promise.all([api.get('/api/consents'), api.get('/api/playbooks')]);
  const table = h('tbody');
  const listErr = formError('consent-list-error');
  const draw = (rows) => put(table, ...(rows.length ? rows.map((r) => h('tr', { testid: `consent-${r.reference}` },
    h('th', { scope: 'row' }, r.reference), h('td', {}, r.subject), h('td', {}, badge(r.state, 'consent-state')),
    h('td', {}, (r.scope_playbooks || []).join(', ') || 'none (covers nothing)'), h('td', {}, (r.scope_channels || []).join(', ') || 'none (covers nothing)'),
    h('td', {}, r.expires_at ? fmtTime(r.expires_at) : 'never'), h('td', {}, r.form_location),
    h('td', {}, `${r.recorded_by || ''} ${fmtTime(r.recorded_at)}`, r.revoked_at ? h('div', {}, `revoked ${fmtTime(r.revoked_at)}`) : null),
    h('td', {}, r.state === 'revoked' || !c.can('manage_consent') ? null
      : h('button', { type: 'button', class: 'danger quiet', testid: `consent-revoke-${r.reference}`, onclick: () => revoke(r) }, 'Revoke'))))
    : [h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'No consent records.'))]));
  const reload = async () => draw(await api.get('/api/consents'));
  const revoke = async (r) => {
    const reason = h('textarea', { rows: 2, name: 'reason', testid: 'revoke-reason' });
    const ok = await dialog({
      title: `Revoke consent ${r.reference}?`, testid: 'revoke-dialog', danger: true, submitLabel: 'Revoke', submitTestid: 'revoke-confirm',
      body: [h('p', {}, 'Overrides can no longer cite it. Messages already sent are not changed.'), field('Reason', reason, { name: 'reason', required: true })],
      onSubmit: () => api.post(`/api/consents/${enc(r.reference)}/revoke`, { reason: reason.value.trim() }),
    });
    if (ok) await reload().catch((e) => { listErr.textContent = e.message; });
  };
  draw(records);

  const reference = h('input', { type: 'text', testid: 'consent-reference' });
  const subject = h('input', { type: 'text', testid: 'consent-subject', placeholder: 'e.g. Patient story, knee replacement live session' });
  const expires = h('input', { type: 'datetime-local', testid: 'consent-expires' });
  const location = h('input', { type: 'text', testid: 'consent-form-location', placeholder: 'e.g. Records office, binder 12' });
  const pbs = checkboxes('Playbooks it covers', playbooks.map((p) => [p.id, p.title]), 'consent-playbook');
  const chans = checkboxes('Channels it covers', CHANNELS.map((x) => [x, x]), 'consent-channel');
  const err = formError('consent-error');
  const addBtn = h('button', { type: 'submit', class: 'primary', testid: 'consent-add-button' }, 'Add consent record');
  const form = h('form', { class: 'panel', novalidate: true }, h('h2', {}, 'Record a consent'),
    field('Reference', reference, { name: 'reference', required: true }),
    field('Subject', subject, { name: 'subject', required: true, help: 'What the consent is for. Do not write the patient’s name.' }),
    pbs.el, chans.el,
    field('Expires (your local time, optional)', expires, { name: 'expires_at' }),
    field('Where the signed form is kept', location, { name: 'form_location', required: true }),
    err, addBtn);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(addBtn, form, err, async () => {
      const body = { reference: reference.value.trim(), subject: subject.value.trim(), scope_playbooks: pbs.values(), scope_channels: chans.values(), form_location: location.value.trim() };
      if (expires.value) body.expires_at = localToUtc(expires.value);
      await api.post('/api/consents', body);
      form.reset();
      await reload();
    });
  });

  add(c.root, h('h1', {}, 'Consent register'),
    h('section', { class: 'panel' }, h('h2', {}, 'Records'), listErr, h('div', { class: 'table-wrap' }, h('table', { class: 'grid', testid: 'consent-table' },
      h('thead', {}, h('tr', {}, ['Reference', 'Subject', 'State', 'Playbooks', 'Channels', 'Expires', 'Form kept at', 'Recorded', ''].map((t) => h('th', { scope: 'col' }, t)))),
      table))),
    c.can('manage_consent') ? form : null);
}
