// view-sandbox.js: #/sandbox/<account>/<post>, the read-only page behind a sandbox
// delivery's "View post" link: what the sandbox account received, shaped like a post of
// the platform it stands in for (account, handle, headline, text, the post it replies
// to, deleted or not), with a link back to the message. Text only: nothing in a post is
// rendered as HTML (the email's HTML part is shown in a sandboxed frame).
import { h, add, enc, tag } from '/panel/dom.js';
import * as api from '/panel/api.js';

export default async function sandboxPost(c) {
  const [account, post] = c.params;
  const p = await api.get(`/api/sandbox/${enc(account)}/${enc(post)}`);
  c.setExercise(!!p.exercise);
  const link = (id) => h('a', { href: `#/sandbox/${enc(account)}/${enc(id)}` }, `post ${id}`);
  add(c.root,
    h('p', { class: 'crumbs' }, p.message_id != null
      ? h('a', { href: `#/messages/${enc(p.message_id)}`, testid: 'sandbox-message-link' }, `Message ${p.message_id}`)
      : 'Sandbox', ` › sandbox post ${p.id}`),
    h('h1', {}, `What ${p.stands_for} would have got`),
    h('p', { class: 'meta' }, tag('sandbox', 'sandbox'), p.exercise ? tag('EXERCISE', 'exercise') : null,
      ' Nothing was sent to anyone: this sandbox account stands in for ', h('strong', {}, p.stands_for), '.'),
    h('article', { class: 'card post-card', testid: 'sandbox-post', 'data-state': p.deleted ? 'deleted' : 'standing' },
      h('header', {}, h('strong', { testid: 'sandbox-post-account' }, p.account), ' ',
        h('span', { class: 'muted' }, p.handle)),
      p.reply_to ? h('p', { class: 'help', testid: 'sandbox-post-reply' }, 'In reply to ', link(p.reply_to),
        p.thread_root && p.thread_root !== p.reply_to ? [' in the thread of ', link(p.thread_root)] : null) : null,
      p.title ? h('h2', { testid: 'sandbox-post-title' }, p.title) : null,
      h('p', { class: 'post-text', testid: 'sandbox-post-text' }, p.text),
      p.html ? h('iframe', { sandbox: '', srcdoc: p.html, title: 'HTML part', class: 'email-frame', testid: 'sandbox-post-html' }) : null,
      h('footer', { class: 'muted' },
        p.deleted ? h('span', { class: 'tag ended', testid: 'sandbox-post-deleted' }, 'Deleted (retracted)') : 'Standing',
        p.repeats ? ` · sent again ${p.repeats} time(s) with the same key, answered with this post` : '')));
}
