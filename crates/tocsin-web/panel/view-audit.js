// view-audit.js: #/audit. Filters (actor, action, playbook, account, outcome, since,
// until; the actor, action and playbook fields suggest the values that exist), the entries
// table newest first, paged back by before_seq, JSONL / CSV export links that
// carry the same filters, and Verify, which checks the hash chain on the server.
import { h, add, put, field, formError, busy, fmtTime, localToUtc, showError } from '/panel/dom.js';
import * as api from '/panel/api.js';

const LIMIT = 50;

export default async function audit(c) {
  const inputs = {
    actor: h('input', { type: 'text', testid: 'audit-filter-actor' }),
    action: h('input', { type: 'text', testid: 'audit-filter-action', placeholder: 'e.g. session.sign_in' }),
    playbook: h('input', { type: 'text', testid: 'audit-filter-playbook' }),
    account: h('input', { type: 'text', testid: 'audit-filter-account' }),
    outcome: h('input', { type: 'text', testid: 'audit-filter-outcome' }),
    since: h('input', { type: 'datetime-local', testid: 'audit-filter-since' }),
    until: h('input', { type: 'datetime-local', testid: 'audit-filter-until' }),
  };
  for (const [k, i] of Object.entries(inputs)) i.name = k;
  // The choices that exist (actors and actions of the newest entries, the library's
  // playbooks), offered as the fields' suggestions; typing anything else still filters.
  const lists = {
    actor: h('datalist', { id: 'audit-actors', testid: 'audit-actors' }),
    action: h('datalist', { id: 'audit-actions', testid: 'audit-actions' }),
    playbook: h('datalist', { id: 'audit-playbooks', testid: 'audit-playbooks' }),
  };
  for (const [k, l] of Object.entries(lists)) inputs[k].setAttribute('list', l.id);
  api.get('/api/audit/facets').then((f) => {
    put(lists.actor, ...(f.actors || []).map((a) => h('option', { value: a })));
    put(lists.action, ...(f.actions || []).map((a) => h('option', { value: a })));
    put(lists.playbook, ...(f.playbooks || []).map((p) => h('option', { value: p.id }, p.title)));
  }).catch(() => {});
  const filters = () => {
    const f = {};
    for (const [k, i] of Object.entries(inputs)) f[k] = i.type === 'datetime-local' ? localToUtc(i.value) : i.value.trim();
    return f;
  };
  const err = formError('audit-error');
  const apply = h('button', { type: 'submit', class: 'primary', testid: 'audit-apply' }, 'Apply filters');
  const jsonl = h('a', { class: 'button', testid: 'audit-export-jsonl', download: 'tocsin-audit.jsonl' }, 'Export JSON Lines');
  const csv = h('a', { class: 'button', testid: 'audit-export-csv', download: 'tocsin-audit.csv' }, 'Export CSV');
  const verify = h('button', { type: 'button', testid: 'audit-verify-button' }, 'Verify the chain');
  const verifyOut = h('div', { testid: 'audit-verify-result', role: 'status' });
  const tbody = h('tbody');
  const pageInfo = h('span', { testid: 'audit-page-info', class: 'muted' });
  const newer = h('button', { type: 'button', testid: 'audit-newer' }, '← Newer');
  const older = h('button', { type: 'button', testid: 'audit-older' }, 'Older →');
  const latest = h('button', { type: 'button', testid: 'audit-latest' }, 'Latest entries');
  const form = h('form', { class: 'panel filters', novalidate: true },
    h('h2', {}, 'Filters'),
    h('div', { class: 'filter-grid' },
      field('Actor', inputs.actor, { name: 'actor' }), field('Action', inputs.action, { name: 'action' }),
      field('Playbook', inputs.playbook, { name: 'playbook' }), field('Account', inputs.account, { name: 'account' }),
      field('Outcome', inputs.outcome, { name: 'outcome' }),
      field('Since (your local time)', inputs.since, { name: 'since' }), field('Until (your local time)', inputs.until, { name: 'until' })),
    err, h('div', { class: 'actions' }, apply, jsonl, csv, verify), verifyOut, Object.values(lists));

  // Newest first: the first page is the newest entries that match; "Older" pages back
  // with before_seq (the smallest seq shown), "Newer" returns along the trail.
  let trail = [];
  let cursor;
  let headSeq = 0;
  const load = async () => {
    const f = filters();
    jsonl.href = `/api/audit/export${api.query({ format: 'jsonl', ...f })}`;
    csv.href = `/api/audit/export${api.query({ format: 'csv', ...f })}`;
    const r = await api.get(`/api/audit${api.query({ ...f, order: 'newest', before_seq: cursor, limit: LIMIT })}`);
    const entries = r.entries || [];
    headSeq = r.head_seq;
    put(tbody, ...(entries.length ? entries.map((e) => h('tr', { testid: 'audit-row', 'data-seq': e.seq },
      h('td', { class: 'num' }, String(e.seq)), h('td', {}, fmtTime(e.at)), h('td', {}, e.actor), h('td', {}, e.action),
      h('td', { class: 'subjects' }, Object.entries(e.subjects || {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')),
      h('td', {}, e.outcome), h('td', {}, e.exercise ? 'exercise' : ''),
      h('td', {}, h('code', { title: e.hash }, String(e.hash || '').slice(0, 12)))))
      : [h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No entries match.'))]));
    const seqs = entries.map((e) => e.seq);
    pageInfo.textContent = entries.length ? `Entries ${Math.max(...seqs)}–${Math.min(...seqs)}, newest first; the log is at ${headSeq}.` : `The log is at ${headSeq}.`;
    newer.disabled = trail.length === 0;
    older.disabled = entries.length < LIMIT;
    older.dataset.before = entries.length ? Math.min(...seqs) : '';
  };
  const go = (fn) => async () => {
    err.textContent = '';
    try {
      fn();
      await load();
    } catch (e) {
      showError(form, e, err);
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); go(() => { trail = []; cursor = undefined; })(); });
  older.addEventListener('click', go(() => { trail.push(cursor); cursor = Number(older.dataset.before); }));
  newer.addEventListener('click', go(() => { cursor = trail.pop(); }));
  latest.addEventListener('click', go(() => { trail = []; cursor = undefined; }));
  verify.addEventListener('click', () => busy(verify, null, verifyOut, async () => {
    verifyOut.className = '';
    put(verifyOut, 'Verifying…');
    const r = await api.get('/api/audit/verify');
    verifyOut.className = r.ok ? 'notice ok' : 'form-error big';
    put(verifyOut, r.ok ? `Intact: ${r.entries} entries verified, none edited or deleted.` : `BROKEN: ${r.entries} entries checked.`,
      (r.problems || []).length ? h('ul', {}, r.problems.map((p) => h('li', {}, typeof p === 'string' ? p : JSON.stringify(p)))) : null);
  }));

  add(c.root, h('h1', {}, 'Audit log'), form,
    h('section', { class: 'panel' }, h('div', { class: 'actions' }, newer, older, latest, pageInfo),
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid', testid: 'audit-table' },
        h('thead', {}, h('tr', {}, ['#', 'Time', 'Actor', 'Action', 'Subjects', 'Outcome', 'Exercise', 'Hash'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody))));
  await go(() => {})();
}
