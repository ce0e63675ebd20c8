// view-home.js: the Alerts home (#/). The playbook picker with search (title, id, tags)
// and approval badges, drafts awaiting approval, my drafts, recent messages with counts
// by delivery state and, for compliance, the break-glass review queue. Lists refresh in
// place on `draft` and `message` frames so coordinators see each other's work at once.
import { h, add, put, enc, badge, tag, exerciseTag, countsChips, fmtTime, section, debounce, field, formError, busy, stateLabel } from '/panel/dom.js';
import * as api from '/panel/api.js';
import { learn, stepTitle } from '/panel/names.js';

const STATUS_NOTE = {
  approved: 'Approved for use',
  changed: 'Templates changed since approval, cannot be used',
  unapproved: 'Not approved, cannot be used',
};

function playbookEntry(c, p) {
  const usable = p.status === 'approved';
  const start = !c.can('edit_drafts') ? null
    : usable
      ? h('a', { class: 'button primary', href: `#/new/${enc(p.id)}`, testid: `playbook-start-${p.id}` }, 'Start')
      : h('button', { type: 'button', disabled: true, testid: `playbook-start-${p.id}` }, 'Cannot start');
  return h('li', { class: 'playbook', testid: `playbook-${p.id}`, 'data-status': p.status },
    h('div', { class: 'pb-main' },
      h('h3', {}, p.title, ' ', h('span', { class: 'muted' }, p.id)),
      h('p', {}, p.description),
      h('p', { class: 'tags' }, (p.tags || []).map((t) => tag(t)), p.session ? tag('live session', 'session') : null)),
    h('div', { class: 'pb-side' },
      badge(p.status, `playbook-status-${p.id}`),
      h('span', { class: 'help' }, STATUS_NOTE[p.status] || ''),
      start,
      p.session && usable ? h('a', { href: '#/sessions' }, 'Start a live session') : null));
}

export function draftItem(d) {
  return h('li', { class: 'row-item', testid: `draft-item-${d.id}` },
    h('a', { href: `#/drafts/${enc(d.id)}` }, stepTitle(d.playbook, d.step)),
    badge(d.state), exerciseTag(d.exercise),
    h('span', { class: 'muted' }, `by ${d.created_by}, ${fmtTime(d.updated_at)}`));
}

export function messageItem(m) {
  return h('li', { class: 'row-item', testid: `message-item-${m.id}` },
    h('a', { href: `#/messages/${enc(m.id)}` }, m.title || stepTitle(m.playbook, m.step)),
    m.kind !== 'post' ? tag(m.kind) : null, exerciseTag(m.exercise),
    m.break_glass ? tag('BREAK-GLASS', 'breakglass') : null,
    m.retracted_at ? tag('retracted') : null,
    h('span', { class: 'muted' }, `approved by ${m.approved_by}, ${fmtTime(m.approved_at)}`),
    countsChips(m.counts));
}

const list = (items, draw, empty, testid) => (items.length
  ? h('ul', { class: 'rows', testid }, items.map(draw))
  : h('p', { class: 'muted', testid }, empty));

export default async function home(c) {
  const search = h('input', { type: 'search', testid: 'playbook-search', placeholder: 'Boil water, heat, measles…', autocomplete: 'off' });
  const pbList = h('ul', { class: 'playbooks', testid: 'playbook-list' });
  const waiting = section('Awaiting approval', 'drafts-submitted');
  const mine = c.can('edit_drafts') ? section('My drafts', 'drafts-mine') : null;
  const messages = section('Recent messages', 'messages-recent');
  const reviews = c.can('manage_consent') ? section('Break-glass messages to review', 'review-queue') : null;
  add(c.root,
    h('h1', {}, 'Alerts'),
    h('div', { class: 'home' },
      h('section', { class: 'panel picker' }, h('h2', {}, 'Start from a playbook'),
        field('Find a playbook (title, id or tag)', search, { name: 'search' }), pbList),
      h('div', { class: 'side' }, waiting, mine, reviews, messages)));

  let playbooks = await api.get('/api/playbooks');
  learn(playbooks);
  const drawPlaybooks = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    const hay = (p) => [p.title, p.id, ...(p.tags || [])].join(' ').toLowerCase();
    const shown = playbooks.filter((p) => words.every((w) => hay(p).includes(w)));
    put(pbList, ...(shown.length ? shown.map((p) => playbookEntry(c, p))
      : [h('li', { class: 'muted' }, 'No playbook matches.')]));
  };
  search.addEventListener('input', drawPlaybooks);
  drawPlaybooks();
  search.focus();

  const fill = (box, node) => put(box, box.firstChild, node);
  const loadDrafts = async () => {
    const [submitted, all] = await Promise.all([api.get('/api/drafts?state=submitted'), api.get('/api/drafts')]);
    fill(waiting, list(submitted, draftItem, 'Nothing is waiting for approval.', 'drafts-submitted-list'));
    if (!mine) return;
    const open = all.filter((d) => d.created_by === c.me.user && ['draft', 'changes_requested', 'submitted'].includes(d.state));
    fill(mine, list(open, draftItem, 'You have no open drafts.', 'drafts-mine-list'));
  };
  const loadMessages = async () => {
    const ms = await api.get('/api/messages');
    fill(messages, list(ms.slice(0, 15), messageItem, 'No messages yet.', 'messages-list'));
  };
  const loadReviews = async () => {
    if (!reviews) return;
    const queue = await api.get('/api/reviews');
    fill(reviews, list(queue, (m) => reviewItem(m, loadReviews), 'No break-glass message awaits review.', 'review-list'));
  };
  const safe = (fn, box) => () => fn().catch((e) => fill(box || waiting, h('p', { class: 'form-error' }, e.message)));
  const drafts = debounce(safe(loadDrafts, waiting), 200);
  const loadRecent = safe(loadMessages, messages);
  const loadQueue = safe(loadReviews, reviews);
  const msgs = debounce(() => { loadRecent(); loadQueue(); }, 200);
  await Promise.all([safe(loadDrafts, waiting)(), loadRecent(), loadQueue()]);
  c.on('draft', drafts);
  c.on('message', msgs);
  c.on('resync', async () => {
    drafts();
    msgs();
    playbooks = await api.get('/api/playbooks');
    learn(playbooks);
    drawPlaybooks();
  });
}

function reviewItem(m, reload) {
  const finding = h('textarea', { rows: 2, name: 'finding', testid: `review-finding-${m.id}` });
  const err = formError(`review-error-${m.id}`);
  const btn = h('button', { type: 'button', testid: `review-submit-${m.id}` }, 'Record review');
  const box = h('li', { class: 'row-item review', testid: `review-${m.id}` },
    h('a', { href: `#/messages/${enc(m.id)}` }, m.title || stepTitle(m.playbook, m.step)), exerciseTag(m.exercise),
    h('span', { class: 'muted' }, `break-glass by ${m.approved_by}, ${fmtTime(m.approved_at)} · ${stateLabel(m.kind)}`),
    field('Finding', finding, { name: 'finding' }), err, btn);
  btn.addEventListener('click', () => busy(btn, box, err, async () => {
    await api.post(`/api/messages/${enc(m.id)}/review`, { finding: finding.value });
    await reload();
  }));
  return box;
}
