// view-conversation.js: the "Public conversation #tag" pane of a live session: the
// hashtag monitor's stream states (one line per stream and node), the posts heard under
// the session's hashtag newest first, live from `conversation_post` frames, with Mark for
// answer / Answered / Clear and a Questions only filter. A post's author, text and link
// are strangers' public text: they reach the page as text nodes and attribute values only.
import { h, put, enc, tag, fmtTime, formError, busy } from '/panel/dom.js';
import * as api from '/panel/api.js';

const LIMIT = 200;

// A link to a post, http(s) only (anything else is not a link).
function postLink(url) {
  let u = null;
  try { u = new URL(String(url)); } catch { return null; }
  if (u.protocol !== 'https:') return null;
  return h('a', { href: u.href, target: '_blank', rel: 'noopener noreferrer', testid: 'conversation-post-link' }, 'Open post');
}

function sourceBadge(source) {
  const platform = source && source.platform === 'bluesky' ? 'Bluesky' : 'Mastodon';
  const where = source && source.instance ? ` ${source.instance}` : '';
  return h('span', { class: `tag source-${platform.toLowerCase()}`, testid: 'conversation-post-source' }, `${platform}${where}`);
}

const QUESTION_LABELS = { marked: 'To answer', answered: 'Answered' };

function statusText(s) {
  switch (s.state) {
    case 'connected': return 'connected';
    case 'connecting': return 'connecting…';
    case 'stopped': return 'stopped';
    case 'reconnecting': {
      const secs = Math.max(1, Math.round((Number(s.retry_in) || 0) / 1000));
      return `reconnecting in ${secs} s (attempt ${s.attempt}): ${s.last_error || 'connection lost'}`;
    }
    default: return String(s.state || '');
  }
}

// The pane for session `s` (as GET /api/sessions/{id} returns it). `c` is the view context.
export function conversationPane(c, s) {
  const id = String(s.id);
  const tagText = `#${String(s.hashtag || '').replace(/^#/, '')}`;
  const posts = new Map();
  const statuses = new Map();
  let questionsOnly = false;
  const canMark = c.can('edit_drafts');

  const statusList = h('ul', { class: 'stream-status', testid: 'conversation-streams', 'aria-live': 'polite' });
  const list = h('ol', { class: 'rows conversation', testid: 'conversation-posts' });
  const empty = h('p', { class: 'muted', testid: 'conversation-empty' });
  const err = formError('conversation-error');
  const filter = h('input', { type: 'checkbox', id: `conversation-questions-${id}`, testid: 'conversation-questions-only' });
  filter.addEventListener('change', () => { questionsOnly = filter.checked; draw(); });

  const drawStatuses = () => {
    const all = [...statuses.values()];
    const nodes = new Set(all.map((x) => x.node));
    put(statusList, all.length
      ? all.map((x) => h('li', { class: `stream st-stream-${x.state}`, testid: 'conversation-stream', 'data-state': x.state },
        h('strong', {}, x.stream), nodes.size > 1 ? ` (${x.node})` : '', ': ', statusText(x)))
      : h('li', { class: 'muted', testid: 'conversation-stream-none' }, s.state === 'ended'
        ? 'The session has ended: its hashtag is no longer read.'
        : 'No stream is reading this hashtag (see [monitor] in the configuration).'));
  };

  const postItem = (p) => {
    const acts = [];
    if (canMark && !p.deleted_at) {
      const act = (label, state, testid, cls) => {
        const b = h('button', { type: 'button', class: cls, testid: `${testid}-${p.id}` }, label);
        b.addEventListener('click', () => busy(b, null, err, async () => {
          upsert(await api.post(`/api/sessions/${enc(id)}/conversation/${enc(p.id)}/question`, { state }));
        }));
        return b;
      };
      if (p.question !== 'marked') acts.push(act('Mark for answer', 'marked', 'conversation-mark', p.question ? '' : 'primary'));
      if (p.question === 'marked') acts.push(act('Answered', 'answered', 'conversation-answered', 'primary'));
      if (p.question) acts.push(act('Clear', 'none', 'conversation-clear', ''));
    }
    const text = h(p.deleted_at ? 'del' : 'p', { class: 'post-text small heard', testid: 'conversation-post-text' }, p.text);
    return h('li', { class: `row-item heard-post${p.question ? ` q-${p.question}` : ''}${p.deleted_at ? ' deleted' : ''}`,
      testid: `conversation-post-${p.id}`, 'data-question': p.question || '', 'data-deleted': p.deleted_at ? 'true' : 'false' },
    h('div', { class: 'heard-head' },
      h('strong', { testid: 'conversation-post-author' }, p.author_name || p.author_handle),
      h('span', { class: 'muted' }, p.author_handle && p.author_name !== p.author_handle ? ` ${p.author_handle}` : ''),
      sourceBadge(p.source),
      p.question ? tag(QUESTION_LABELS[p.question] || p.question, `question-${p.question}`) : null,
      p.deleted_at ? tag('Deleted by its author', 'deleted') : null,
      h('span', { class: 'muted' }, fmtTime(p.posted_at))),
    text,
    h('div', { class: 'actions' }, p.url ? postLink(p.url) : null, acts));
  };

  const draw = () => {
    const shown = [...posts.values()]
      .filter((p) => !questionsOnly || p.question)
      .sort((a, b) => (a.posted_at < b.posted_at ? 1 : a.posted_at > b.posted_at ? -1 : b.id - a.id))
      .slice(0, LIMIT);
    put(list, shown.map(postItem));
    empty.textContent = shown.length ? '' : (questionsOnly ? 'No question marked yet.' : `Nothing heard under ${tagText} yet.`);
  };

  const upsert = (p) => {
    if (!p || String(p.session_id) !== id) return;
    posts.set(p.id, p);
    draw();
  };

  const load = async () => {
    try {
      const [heard, monitor] = await Promise.all([
        api.get(`/api/sessions/${enc(id)}/conversation?limit=${LIMIT}`),
        api.get('/api/monitor'),
      ]);
      posts.clear();
      for (const p of heard) posts.set(p.id, p);
      const wanted = String(s.hashtag || '').replace(/^#/, '').toLowerCase();
      statuses.clear();
      for (const x of monitor.streams || []) {
        if (x.stream.endsWith(`#${wanted}`) || x.stream === 'bluesky jetstream') statuses.set(`${x.node} ${x.stream}`, x);
      }
      err.textContent = '';
    } catch (e) {
      err.textContent = e.message;
    }
    drawStatuses();
    draw();
  };

  c.on('conversation_post', (f) => upsert(f.post));
  c.on('monitor_status', (f) => {
    const x = f.status;
    const wanted = String(s.hashtag || '').replace(/^#/, '').toLowerCase();
    if (!x || !(x.stream.endsWith(`#${wanted}`) || x.stream === 'bluesky jetstream')) return;
    if (x.state === 'stopped') statuses.delete(`${x.node} ${x.stream}`);
    else statuses.set(`${x.node} ${x.stream}`, x);
    drawStatuses();
  });
  c.on('resync', load);

  const pane = h('section', { class: 'panel conversation-pane', testid: 'conversation-pane' },
    h('h2', {}, `Public conversation ${tagText}`),
    statusList,
    h('div', { class: 'field checkbox' }, filter, h('label', { for: filter.id }, 'Questions only')),
    err, empty, list);
  load();
  return { el: pane, ended: () => { s = { ...s, state: 'ended' }; drawStatuses(); } };
}
