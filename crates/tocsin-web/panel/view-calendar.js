// view-calendar.js: #/calendar (a week at a glance). Posts approved for a later time and
// each run of a recurring repeat, in the day they fall on (the browser's local time),
// with Cancel for a post still waiting and Stop repeating for a repeat (approvers).
// Previous / This week / Next week move the window; `GET /api/calendar` feeds it.
import { h, add, put, enc, tag, badge, busy, formError, confirmDialog, exerciseTag } from '/panel/dom.js';
import * as api from '/panel/api.js';
import { ensure as ensureTitles, stepTitle } from '/panel/names.js';

const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const rangeFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });

// Monday 00:00, local time, of the week `offset` weeks from this one.
function weekStart(offset) {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  const sinceMonday = (d.getDay() + 6) % 7;
  d.setDate(d.getDate() - sinceMonday + offset * 7);
  return d;
}

// YYYY-MM-DD of a local date (for test ids and grouping).
function dayKey(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

function everyText(minutes) {
  if (minutes % 1440 === 0) return minutes === 1440 ? 'every day' : `every ${minutes / 1440} days`;
  if (minutes % 60 === 0) return minutes === 60 ? 'every hour' : `every ${minutes / 60} hours`;
  return `every ${minutes} minutes`;
}

export default async function calendar(c) {
  await ensureTitles();
  let offset = 0;
  const title = h('h1', {}, 'Calendar');
  const range = h('p', { class: 'meta', testid: 'calendar-range' });
  const err = formError('calendar-error');
  const grid = h('div', { class: 'week', testid: 'calendar-week' });
  const nav = h('div', { class: 'actions' },
    h('button', { type: 'button', testid: 'calendar-prev', onclick: () => { offset -= 1; load(); } }, '‹ Previous week'),
    h('button', { type: 'button', testid: 'calendar-this', onclick: () => { offset = 0; load(); } }, 'This week'),
    h('button', { type: 'button', testid: 'calendar-next', onclick: () => { offset += 1; load(); } }, 'Next week ›'));
  add(c.root, title,
    h('p', { class: 'help' }, 'Posts approved for a later time and the runs of recurring repeats. Approve a draft with “Send later”, or open a sent message and “Repeat this message”.'),
    nav, range, err, grid);

  async function load() {
    const from = weekStart(offset);
    const to = new Date(from);
    to.setDate(to.getDate() + 7);
    const last = new Date(to.getTime() - 1);
    put(range, `${rangeFmt.format(from)} to ${rangeFmt.format(last)}`);
    let view;
    try {
      view = await api.get(`/api/calendar?from=${enc(from.toISOString())}&days=7`);
    } catch (e) {
      put(err, e.message);
      return;
    }
    put(err);
    const days = [];
    for (let i = 0; i < 7; i += 1) {
      const d = new Date(from);
      d.setDate(d.getDate() + i);
      days.push(d);
    }
    const byDay = new Map(days.map((d) => [dayKey(d), []]));
    for (const e of view.entries || []) {
      const list = byDay.get(dayKey(new Date(e.at)));
      if (list) list.push(e);
    }
    // A repeat's Stop button goes on its first run of the week only (it stops them all).
    const stoppable = new Set();
    for (const e of view.entries || []) {
      if (e.kind === 'repeat' && !stoppable.has(e.schedule_id)) {
        stoppable.add(e.schedule_id);
        e.first_run = true;
      }
    }
    const today = dayKey(new Date());
    put(grid, days.map((d) => {
      const key = dayKey(d);
      const list = byDay.get(key);
      return h('section', { class: `day${key === today ? ' today' : ''}`, testid: `calendar-day-${key}`, 'aria-label': dayFmt.format(d) },
        h('h2', {}, dayFmt.format(d), key === today ? h('span', { class: 'muted' }, ' (today)') : null),
        list.length ? h('ul', { class: 'plain' }, list.map((e) => entry(c, e, load)))
          : h('p', { class: 'muted' }, 'Nothing.'));
    }), view.truncated ? h('p', { class: 'warn' }, 'Only the first 2,000 runs are shown.') : null);
  }

  c.on('message', () => load());
  c.on('resync', () => load());
  await load();
}

function entry(c, e, reload) {
  const name = e.title || (e.playbook ? stepTitle(e.playbook, e.step) : `message ${e.message_id}`);
  const err = formError(`calendar-error-${e.kind}-${e.message_id}`);
  let action = null;
  if (c.can('approve') && e.kind === 'send' && e.state === 'waiting') {
    action = h('button', { type: 'button', class: 'danger quiet', testid: `calendar-cancel-send-${e.message_id}` }, 'Cancel');
    action.addEventListener('click', () => busy(action, null, err, async () => {
      const ok = await confirmDialog('Cancel this scheduled post?', `“${name}” will not go out. This is audited and cannot be undone.`, 'Cancel the post', true);
      if (!ok) return;
      await api.post(`/api/messages/${enc(e.message_id)}/cancel`);
      await reload();
    }));
  } else if (c.can('approve') && e.kind === 'repeat' && e.state === 'scheduled' && e.first_run) {
    action = h('button', { type: 'button', class: 'danger quiet', testid: `calendar-stop-repeat-${e.schedule_id}` }, 'Stop repeating');
    action.addEventListener('click', () => busy(action, null, err, async () => {
      const ok = await confirmDialog('Stop this repeat?', `“${name}” will not be repeated again (${everyText(e.every_minutes)}). Posts already out stay.`, 'Stop repeating', true);
      if (!ok) return;
      await api.post(`/api/schedules/${enc(e.schedule_id)}/cancel`);
      await reload();
    }));
  }
  const what = e.kind === 'send'
    ? (e.state === 'cancelled' ? badge('cancelled') : tag(e.state === 'sent' ? 'Sent' : 'Scheduled'))
    : tag(`Repeats ${everyText(e.every_minutes)}`);
  return h('li', { class: `cal-entry ${e.kind}`, testid: `calendar-${e.kind}-${e.message_id}`, 'data-state': e.state },
    h('time', { datetime: e.at }, timeFmt.format(new Date(e.at))), ' ',
    h('a', { href: `#/messages/${enc(e.message_id)}` }, name), ' ', what, exerciseTag(e.exercise), action, err);
}
