// view-story.js: #/messages/<id>/story, one message's whole story for a compliance
// officer, from the audit log: drafted, reviewed, approved, each delivery, its retraction
// and corrections, oldest first, with who did what and when (GET /api/messages/{id}/story).
import { h, add, enc, fmtTime } from '/panel/dom.js';
import * as api from '/panel/api.js';

export default async function messageStory(c) {
  const id = c.params[0];
  const s = await api.get(`/api/messages/${enc(id)}/story`);
  const rows = s.entries || [];
  add(c.root,
    h('p', { class: 'crumbs' }, h('a', { href: `#/messages/${enc(id)}`, testid: 'story-message-link' }, `Message ${id}`), ' › Whole story'),
    h('h1', {}, `The whole story of message ${id}`),
    h('p', { class: 'help' }, `Every audit entry naming this message, its draft ${s.draft_id}`,
      (s.acted_on_by || []).length ? `, or what acted on it (message ${s.acted_on_by.join(', ')})` : '',
      ', oldest first. The audit page exports and verifies the whole chain.'),
    h('section', { class: 'panel' },
      h('div', { class: 'table-wrap' }, h('table', { class: 'grid', testid: 'story-table' },
        h('thead', {}, h('tr', {}, ['#', 'Time', 'Who', 'What', 'Subjects', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows.length ? rows.map((e) => h('tr', { testid: 'story-row', 'data-action': e.action },
          h('td', { class: 'num' }, String(e.seq)), h('td', {}, fmtTime(e.at)), h('td', {}, e.actor), h('td', {}, e.action),
          h('td', { class: 'subjects' }, Object.entries(e.subjects || {}).map(([k, v]) => `${k}=${v}`).join(' ')),
          h('td', {}, e.outcome || '')))
          : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No entry names this message.')))))));
}
