// view-sessions.js: #/sessions (live sessions, and starting one) and #/sessions/<id>
// (the session composer: a quick-post form that creates a draft with session_id and
// submits it at once; posts awaiting approval with an inline Approve for the standing-by
// approver; the session's messages; each account's reply thread in order; the public
// conversation under its hashtag (view-conversation.js); End session).
import { h, add, put, enc, badge, tag, fmtTime, field, formError, busy, section, debounce, nextId, confirmDialog, isHttps, showError } from '/panel/dom.js';
import { conversationPane } from '/panel/view-conversation.js';
import * as api from '/panel/api.js';
import { editor, variableForm } from '/panel/compose.js';
import { messageItem } from '/panel/view-home.js';

export async function sessionsList(c) {
  const [sessions, playbooks] = await Promise.all([api.get('/api/sessions'), api.get('/api/playbooks')]);
  const live = playbooks.filter((p) => p.session);
  const items = sessions.length ? h('ul', { class: 'rows', testid: 'session-list' }, sessions.map((s) =>
    h('li', { class: 'row-item', testid: `session-${s.id}` },
      h('a', { href: `#/sessions/${enc(s.id)}` }, s.hashtag ? `#${String(s.hashtag).replace(/^#/, '')}` : s.id),
      s.exercise ? tag('EXERCISE', 'exercise') : null,
      s.state === 'ended' ? tag('Ended', 'ended') : null,
      h('span', { class: 'muted' }, [s.playbook, s.created_by && `by ${s.created_by}`, fmtTime(s.created_at)].filter(Boolean).join(' · ')))))
    : h('p', { class: 'muted', testid: 'session-list' }, 'No live sessions yet.');
  add(c.root, h('h1', {}, 'Live sessions'), h('div', { class: 'two-col' }, section('Sessions', 'sessions', items),
    c.can('edit_drafts') ? createForm(c, live) : null));
}

function createForm(c, live) {
  const pb = h('select', { testid: 'session-playbook', name: 'playbook' },
    live.map((p) => h('option', { value: p.id, disabled: p.status !== 'approved' }, `${p.title}${p.status !== 'approved' ? ` (${p.status})` : ''}`)));
  const hashtag = h('input', { type: 'text', testid: 'session-hashtag', name: 'hashtag', placeholder: 'MercyKneeLive' });
  const exercise = h('input', { type: 'checkbox', testid: 'session-exercise', id: nextId() });
  const groups = h('input', { type: 'text', testid: 'session-groups', name: 'targets.groups', autocomplete: 'off', spellcheck: 'false', placeholder: 'public' });
  const err = formError('session-create-error');
  const btn = h('button', { type: 'submit', class: 'primary', testid: 'session-create' }, 'Start the session');
  // The values the playbook fixes for the whole session (procedure, team, ...): asked
  // once here, never again in the quick-post form.
  const fixedBox = h('fieldset', { class: 'session-fixed', testid: 'session-fixed', hidden: true },
    h('legend', {}, 'Set once for every post'));
  let fixedForm = null;
  const showFixed = async () => {
    fixedForm = null;
    put(fixedBox, fixedBox.firstChild);
    fixedBox.hidden = true;
    if (!pb.value) return;
    const detail = await api.get(`/api/playbooks/${enc(pb.value)}`);
    const fixed = detail.session_fixed || [];
    if (!fixed.length) return;
    const examples = {};
    for (const v of detail.variables || []) if (fixed.includes(v.name) && c.me.demo && v.example != null) examples[v.name] = v.example;
    fixedForm = variableForm(detail, examples, () => {});
    fixedForm.showOnly(fixed);
    put(fixedBox, fixedBox.firstChild, fixedForm.el);
    fixedBox.hidden = false;
  };
  pb.addEventListener('change', () => { showFixed().catch((e) => showError(form, e, err)); });
  const form = h('form', { class: 'panel', novalidate: true },
    h('h2', {}, 'Start a live session'),
    field('Playbook', pb, { name: 'playbook', required: true }),
    field('Hashtag', h('div', { class: 'with-prefix' }, h('span', { class: 'prefix', 'aria-hidden': 'true' }, '#'), hashtag),
      { name: 'hashtag', required: true, help: 'Short and unique; appended to every post.' }),
    fixedBox,
    field('Who every post goes to (groups)', groups, { name: 'targets.groups',
      help: 'Account groups separated by spaces, e.g. public. Empty: the playbook’s audience. Every post of the session goes there.' }),
    h('div', { class: 'field checkbox' }, exercise, h('label', { for: exercise.id }, 'Exercise (drill): sandbox accounts only')),
    err, btn);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(btn, form, err, async () => {
      const body = { playbook: pb.value, hashtag: hashtag.value.trim().replace(/^#/, ''), exercise: exercise.checked };
      const chosen = groups.value.split(/[\s,]+/).filter((g) => g);
      if (chosen.length) body.targets = { groups: chosen };
      if (fixedForm) body.values = fixedForm.values();
      const s = await api.post('/api/sessions', body);
      c.go(`#/sessions/${enc(s.id)}`);
    });
  });
  showFixed().catch((e) => showError(form, e, err));
  return form;
}

export async function sessionView(c) {
  const id = c.params[0];
  let s = await api.get(`/api/sessions/${enc(id)}`);
  const detail = await api.get(`/api/playbooks/${enc(s.playbook)}`);
  c.setExercise(s.exercise);
  const tagText = `#${String(s.hashtag || '').replace(/^#/, '')}`;
  const memoKey = `tocsin.session.${id}`;
  let memo = {};
  try { memo = JSON.parse(sessionStorage.getItem(memoKey) || '{}'); } catch { memo = {}; }
  // The session's hashtag and the values it fixed when it started are the server's:
  // their fields are not shown (the server fills them into every post and preview).
  const setBySession = [detail.session_hashtag, ...Object.keys(s.values || {})].filter(Boolean);
  const steps = (detail.steps || []).map((x) => x.id);
  const firstStep = (s.messages || []).length && steps.includes('update') ? 'update' : steps[0];

  const err = formError('quick-post-error');
  const post = h('button', { type: 'button', class: 'primary big', testid: 'quick-post-button' }, 'Post for approval');
  const posted = h('p', { role: 'status', testid: 'quick-post-status' });
  const ed = c.can('edit_drafts') && s.state !== 'ended' ? editor(c, detail, {
    values: memo, step: firstStep, exercise: s.exercise, lockExercise: true,
    targets: s.targets || null, lockTargets: true, hide: setBySession, sessionId: s.id,
    actions: h('div', {}, h('div', { class: 'actions' }, post), err, posted),
  }) : null;
  if (ed) {
    post.addEventListener('click', () => busy(post, ed.el, err, async () => {
      put(posted);
      ed.form.touchAll();
      const d = await api.post('/api/drafts', { playbook: s.playbook, step: ed.step(), values: ed.form.values(), exercise: s.exercise, session_id: s.id });
      const link = h('a', { href: `#/drafts/${enc(d.id)}`, testid: 'quick-post-draft-link' }, 'open the draft');
      try {
        await api.post(`/api/drafts/${enc(d.id)}/submit`);
      } catch (e) {
        put(posted, 'Saved as a draft but not submitted: ', link);
        throw e;
      }
      // Values the session did not fix but the playbook would (a session started without
      // them) are kept for the next post in this tab; the post's own fields start empty.
      const keep = {};
      const sessionWide = new Set(detail.session_fixed || []);
      for (const [n, v] of Object.entries(ed.form.values())) if (sessionWide.has(n)) keep[n] = v;
      sessionStorage.setItem(memoKey, JSON.stringify(keep));
      ed.form.reset();
      for (const [n, v] of Object.entries(keep)) ed.form.set(n, v);
      put(posted, 'Submitted for approval: ', link);
      // After the introduction, the next post is most likely a live update.
      if (ed.step() === steps[0] && steps.includes('update')) ed.setStep('update');
      else ed.refresh();
    }));
  }

  const waiting = section('Awaiting approval', 'session-waiting');
  const messages = section('Posts in this session', 'session-messages');
  const threads = section('Threads, account by account', 'session-threads');
  const conversation = conversationPane(c, s);
  const stateTag = h('span', { testid: 'session-state' }, s.state === 'ended' ? tag('Ended', 'ended') : null);
  const endErr = formError('session-end-error');
  const endBtn = c.can('edit_drafts') && s.state !== 'ended'
    ? h('button', { type: 'button', class: 'danger quiet', testid: 'session-end' }, 'End session') : null;
  const composer = ed ? section('Quick post', 'session-composer', ed.el) : null;
  const markEnded = () => {
    put(stateTag, tag('Ended', 'ended'));
    if (endBtn) endBtn.remove();
    // An ended session takes no new post: the composer goes.
    if (composer) composer.remove();
    conversation.ended();
  };
  if (endBtn) {
    endBtn.addEventListener('click', () => busy(endBtn, null, endErr, async () => {
      const ok = await confirmDialog(`End ${tagText}?`,
        'Its hashtag is no longer read, posts waiting for approval are withdrawn, scheduled posts are cancelled, and no new post can be made in it. Posts already out stay. This cannot be undone.', 'End session', true);
      if (!ok) return;
      s = { ...s, ...(await api.post(`/api/sessions/${enc(id)}/end`)) };
      markEnded();
    }));
  }
  add(c.root,
    h('p', { class: 'crumbs' }, h('a', { href: '#/sessions' }, 'Live sessions'), ` › ${tagText}`),
    h('h1', {}, `Live session ${tagText}`),
    h('p', { class: 'meta' }, s.exercise ? tag('EXERCISE', 'exercise') : null, ` ${detail.title} `, stateTag, endBtn),
    endErr,
    waiting,
    h('div', { class: 'session-live' }, composer, conversation.el),
    h('div', { class: 'two-col' }, messages, threads));
  c.on('live_session', (f) => {
    if (f.session && String(f.session.id) === String(id) && f.session.state === 'ended') markEnded();
  });

  const draw = async () => {
    const submitted = (await api.get('/api/drafts?state=submitted')).filter((d) => String(d.session_id) === String(id));
    const full = await Promise.all(submitted.map((d) => api.get(`/api/drafts/${enc(d.id)}`)));
    put(waiting, waiting.firstChild, full.length
      ? h('ul', { class: 'rows' }, full.map((d) => pendingPost(c, d, () => reload())))
      : h('p', { class: 'muted' }, 'No post is waiting.'));
    put(messages, messages.firstChild, (s.messages || []).length
      ? h('ul', { class: 'rows' }, s.messages.map(messageItem))
      : h('p', { class: 'muted' }, 'Nothing posted yet.'));
    put(threads, threads.firstChild, h('div', { class: 'cards' }, (s.threads || []).map((t) =>
      h('article', { class: 'card', testid: `thread-${t.account_id}` }, h('h3', {}, t.account || t.account_id,
        t.platform_name ? h('span', { class: 'muted' }, ` · ${t.platform_name}`) : null),
        h('ol', { class: 'thread' }, (t.posts || []).map((p) => h('li', { testid: `thread-${t.account_id}-post-${p.message_id}` },
          p.text != null ? h('p', { class: 'post-text', testid: 'thread-post-text', tabindex: '0' }, p.text) : null,
          badge(p.state), ' ',
          isHttps(p.url) ? h('a', { href: p.url, target: '_blank', rel: 'noopener noreferrer' }, 'View post') : null, ' ',
          h('a', { href: `#/messages/${enc(p.message_id)}` }, 'delivery'))))))));
  };
  const reload = debounce(async () => {
    try {
      s = await api.get(`/api/sessions/${enc(id)}`);
      await draw();
    } catch (e) {
      add(waiting, h('p', { class: 'form-error' }, e.message));
    }
  }, 300);
  await draw();
  const ours = new Set();
  const isOurs = (mid) => (s.messages || []).some((m) => String(m.id) === String(mid)) || ours.has(String(mid));
  c.on('draft', (f) => { if (f.draft && String(f.draft.session_id) === String(id)) reload(); });
  c.on('message', (f) => {
    if (f.message && String(f.message.session_id) === String(id)) { ours.add(String(f.message.id)); reload(); }
  });
  c.on('delivery', (f) => { if (isOurs(f.message_id)) reload(); });
  c.on('resync', reload);
}

// A submitted session post with every platform's text and count, and Approve for an
// approver who did not write it: what they approve is all of it.
function pendingPost(c, d, reload) {
  const variants = d.variants || [];
  const err = formError(`session-approve-error-${d.id}`);
  const canApprove = c.can('approve') && d.created_by !== c.me.user && !(d.blockers || []).length;
  const btn = canApprove ? h('button', { type: 'button', class: 'primary', testid: `session-approve-${d.id}` }, 'Approve') : null;
  if (btn) {
    btn.addEventListener('click', () => busy(btn, null, err, async () => {
      await api.post(`/api/drafts/${enc(d.id)}/approve`, { reviewed_hash: d.hash });
      await reload();
    }));
  }
  return h('li', { class: 'row-item pending-post', testid: `session-draft-${d.id}` },
    h('a', { href: `#/drafts/${enc(d.id)}` }, d.headline || d.step), ` by ${d.created_by}`,
    (d.blockers || []).length ? tag('BLOCKED: open to review', 'breakglass') : null,
    btn,
    variants.length ? h('ul', { class: 'pending-variants', testid: `session-draft-${d.id}-variants` }, variants.map((v) => h('li', { 'data-target': v.target },
      h('strong', {}, v.name || v.target),
      h('span', { class: `muted counter${v.over ? ' over' : ''}` }, v.count == null ? '' : ` ${v.count}${v.limit != null ? ` / ${v.limit}` : ''} ${String(v.unit || '').replace(/_/g, ' ')}`),
      h('pre', { class: 'post-text small', tabindex: '0' }, v.text)))) : null,
    d.created_by === c.me.user && c.can('approve') ? h('span', { class: 'help' }, 'Your post: another approver must approve it.') : null,
    err);
}
