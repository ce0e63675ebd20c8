// view-account.js: #/account, the signed-in person's own credentials: change the
// password (with the current one; other sessions end) and set up a new second factor
// (after confirming password and code; the old one works until the new one is proved).
// Approvers also opt in here to a notification and a sound when a draft is submitted.
import { h, add, put, field, formError, busy, section, nextId } from '/panel/dom.js';
import * as api from '/panel/api.js';
import * as notify from '/panel/notify.js';
import { factorBlock } from '/panel/view-enrol.js';

export default async function account(c) {
  put(c.root, h('h1', {}, `Your account: ${c.me.user}`));

  const current = h('input', { type: 'password', autocomplete: 'current-password', testid: 'account-current-password' });
  const next = h('input', { type: 'password', autocomplete: 'new-password', testid: 'account-new-password' });
  const again = h('input', { type: 'password', autocomplete: 'new-password', testid: 'account-new-password-again' });
  const pwErr = formError('account-password-error');
  const pwDone = h('p', { class: 'notice', role: 'status', testid: 'account-password-done', hidden: true }, 'Your password is changed; your other sessions ended.');
  const pwBtn = h('button', { type: 'submit', class: 'primary', testid: 'account-password-save' }, 'Change password');
  const pwForm = h('form', { novalidate: true }, field('Current password', current, { name: 'current_password', required: true }),
    field('New password', next, { name: 'new_password', required: true, help: '12 to 128 characters; not a common password nor your name.' }),
    field('The new password again', again, { name: 'new_password_again', required: true }), pwErr, pwBtn, pwDone);
  pwForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    pwDone.hidden = true;
    if (next.value !== again.value) { pwErr.textContent = 'The two new passwords differ.'; return; }
    busy(pwBtn, pwForm, pwErr, async () => {
      await api.post('/api/me/password', { current_password: current.value, new_password: next.value });
      pwForm.reset();
      pwDone.hidden = false;
    });
  });

  const factor = h('div');
  const start = h('button', { type: 'button', testid: 'account-new-factor' }, 'Set up a new second factor');
  const factorErr = formError('account-factor-error');
  start.addEventListener('click', () => busy(start, null, factorErr, async () => {
    const f = await api.post('/api/me/second-factor');
    const code = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, testid: 'account-factor-code' });
    const confirm = h('button', { type: 'submit', class: 'primary', testid: 'account-factor-confirm' }, 'Use the new second factor');
    const err = formError('account-factor-confirm-error');
    const form = h('form', { novalidate: true }, factorBlock(f), field('6-digit code from the new factor', code, { name: 'code', required: true }), err, confirm);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      busy(confirm, form, err, async () => {
        await api.post('/api/me/second-factor/confirm', { code: code.value.trim() });
        put(factor, h('p', { class: 'notice', role: 'status', testid: 'account-factor-done' }, 'The new second factor is in use; the old one no longer works.'));
      });
    });
    put(factor, form);
  }));

  add(c.root,
    c.can('approve') ? alertsSection(c.me.user) : null,
    section('Password', 'account-password', pwForm),
    section('Second factor', 'account-factor',
      h('p', { class: 'help' }, 'A new phone? Set up a new factor here. Your current one keeps working until you prove the new one with a code.'),
      start, factorErr, factor));
}

const PERMISSION_NOTE = {
  granted: 'On: a notification and a sound for each draft submitted while the panel is open.',
  denied: 'On, sound only: this browser blocks notifications for Tocsin (change it in the site settings).',
  default: 'On, sound only until you allow notifications in the browser.',
  unsupported: 'On, sound only: this browser has no notifications.',
};

function alertsSection(user) {
  const box = h('input', { type: 'checkbox', id: nextId(), testid: 'notify-optin', checked: notify.optedIn(user) });
  const status = h('p', { class: 'help', role: 'status', testid: 'notify-status' });
  const show = (perm) => {
    status.textContent = box.checked ? PERMISSION_NOTE[perm] || PERMISSION_NOTE.default : 'Off: only the tab title shows how many drafts wait.';
    status.dataset.state = box.checked ? perm : 'off';
  };
  show(notify.permission());
  box.addEventListener('change', async () => show(await notify.setOptIn(user, box.checked)));
  return section('Drafts waiting for you', 'account-notify',
    h('p', { class: 'help' }, 'The tab title always shows how many drafts wait for approval, e.g. "(2) Tocsin control panel". This setting is kept in this browser only.'),
    h('div', { class: 'field checkbox' }, box, h('label', { for: box.id }, 'Notify me and play a short sound when a draft is submitted')),
    status);
}
