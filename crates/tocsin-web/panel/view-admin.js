// view-admin.js: #/admin. Users (add with role and password, then show the TOTP
// enrolment once; change role; disable; reset the second factor) and platform accounts
// (list with circuit-breaker state; add a sandbox account). Changes need a recent
// re-authentication, which api.js asks for when the server says so.
import { h, add, put, enc, badge, field, formError, busy, confirmDialog, fmtTime, section } from '/panel/dom.js';
import * as api from '/panel/api.js';

const ROLES = ['viewer', 'drafter', 'approver', 'compliance', 'admin'];
const PLATFORMS = ['mastodon', 'bluesky', 'x', 'facebook', 'threads', 'linkedin', 'telegram', 'discord', 'slack', 'teams', 'matrix', 'email', 'sms', 'webhook'];

const roleSelect = (value, testid) => h('select', { testid, name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === value }, r)));

// The enrolment secret, shown once.
function secretBox(who, r) {
  const box = h('div', { class: 'notice secret', role: 'alert', testid: 'new-secret' },
    h('strong', {}, `Second factor for ${who}: shown only this once.`),
    h('p', {}, 'Give it to them in person to add to their authenticator app, then close this box.'),
    h('p', {}, 'Secret: ', h('code', { testid: 'otp-secret' }, r.secret)),
    h('p', {}, 'Enrolment link: ', h('code', { class: 'wrap', testid: 'otpauth-uri' }, r.otpauth_uri)),
    h('button', { type: 'button', testid: 'new-secret-done', onclick: () => box.remove() }, 'Done, close'));
  return box;
}

export default async function admin(c) {
  const usersBody = h('tbody');
  const accountsBody = h('tbody');
  const secrets = h('div');
  const usersErr = formError('users-error');
  const accountsErr = formError('accounts-error');

  const loadUsers = async () => {
    const users = await api.get('/api/users');
    put(usersBody, ...users.map((u) => {
      const sel = roleSelect(u.role, `user-role-${u.name}`);
      const setRole = h('button', { type: 'button', testid: `user-role-save-${u.name}` }, 'Change role');
      const disable = h('button', { type: 'button', class: 'danger quiet', testid: `user-disable-${u.name}`, disabled: !!u.disabled_at }, 'Disable');
      const reset = h('button', { type: 'button', testid: `user-reset-totp-${u.name}` }, 'Reset second factor');
      const path = `/api/users/${enc(u.name)}`;
      setRole.addEventListener('click', () => busy(setRole, null, usersErr, async () => {
        await api.post(`${path}/role`, { role: sel.value });
        await loadUsers();
      }));
      disable.addEventListener('click', async () => {
        if (!(await confirmDialog(`Disable ${u.name}?`, 'They are signed out everywhere and cannot sign in again.', 'Disable', true))) return;
        busy(disable, null, usersErr, async () => { await api.post(`${path}/disable`); await loadUsers(); });
      });
      reset.addEventListener('click', async () => {
        if (!(await confirmDialog(`Reset ${u.name}'s second factor?`, 'Their current authenticator stops working; they enrol the new secret.', 'Reset'))) return;
        busy(reset, null, usersErr, async () => {
          put(secrets, secretBox(u.name, await api.post(`${path}/reset-totp`)));
          await loadUsers();
        });
      });
      return h('tr', { testid: `user-${u.name}` },
        h('th', { scope: 'row' }, u.name), h('td', {}, h('label', { class: 'sr-only', for: (sel.id = `role-${u.name}`) }, `Role of ${u.name}`), sel, ' ', setRole),
        h('td', {}, u.second_factor || ''), h('td', {}, u.disabled_at ? `disabled ${fmtTime(u.disabled_at)}` : 'active'),
        h('td', {}, fmtTime(u.created_at)), h('td', { class: 'actions' }, reset, disable));
    }));
  };

  const loadAccounts = async () => {
    const accounts = await api.get('/api/accounts');
    put(accountsBody, ...accounts.map((a) => h('tr', { testid: `account-${a.id}` },
      h('th', { scope: 'row' }, a.display_name), h('td', {}, a.platform), h('td', {}, a.handle),
      h('td', {}, a.sandbox ? 'sandbox' : 'live'),
      h('td', {}, badge(typeof a.breaker === 'string' ? a.breaker : (a.breaker && a.breaker.state) || 'closed', 'account-breaker')))));
  };

  // Add a user.
  const name = h('input', { type: 'text', testid: 'new-user-name', autocomplete: 'off' });
  const role = roleSelect('drafter', 'new-user-role');
  const password = h('input', { type: 'password', testid: 'new-user-password', autocomplete: 'new-password' });
  const addErr = formError('new-user-error');
  const addBtn = h('button', { type: 'submit', class: 'primary', testid: 'new-user-add' }, 'Add user');
  const userForm = h('form', { class: 'inline-form', novalidate: true }, h('h3', {}, 'Add a user'),
    field('Name', name, { name: 'name', required: true }), field('Role', role, { name: 'role', required: true }),
    field('Initial password', password, { name: 'password', required: true }), addErr, addBtn);
  userForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(addBtn, userForm, addErr, async () => {
      const r = await api.post('/api/users', { name: name.value.trim(), role: role.value, password: password.value });
      put(secrets, secretBox(r.name, r));
      userForm.reset();
      await loadUsers();
    });
  });

  // Add a sandbox account.
  const handle = h('input', { type: 'text', testid: 'account-handle' });
  const display = h('input', { type: 'text', testid: 'account-display-name' });
  const standsFor = h('select', { testid: 'account-stands-for' }, PLATFORMS.map((p) => h('option', { value: p }, p)));
  const accErr = formError('account-add-error');
  const addAcc = h('button', { type: 'submit', class: 'primary', testid: 'account-add' }, 'Add sandbox account');
  const accForm = h('form', { class: 'inline-form', novalidate: true }, h('h3', {}, 'Add a sandbox account'),
    field('Handle', handle, { name: 'handle', required: true }), field('Display name', display, { name: 'display_name', required: true }),
    field('Stands in for', standsFor, { name: 'stands_for', required: true }), accErr, addAcc);
  accForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(addAcc, accForm, accErr, async () => {
      await api.post('/api/accounts', { platform: 'sandbox', handle: handle.value.trim(), display_name: display.value.trim(), stands_for: standsFor.value });
      accForm.reset();
      await loadAccounts();
    });
  });

  const table = (heads, body, testid) => h('div', { class: 'table-wrap' }, h('table', { class: 'grid', testid },
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))), body));
  add(c.root, h('h1', {}, 'Administration'),
    h('p', { class: 'help' }, 'Changes here ask you to confirm your password and code if you have not in the last 5 minutes.'),
    section('Users', 'users', secrets, usersErr, table(['Name', 'Role', 'Second factor', 'Status', 'Created', ''], usersBody, 'users-table'), userForm),
    section('Platform accounts', 'accounts', accountsErr, table(['Account', 'Platform', 'Handle', 'Kind', 'Circuit breaker'], accountsBody, 'accounts-table'), accForm));
  await Promise.all([
    loadUsers().catch((e) => { usersErr.textContent = e.message; }),
    loadAccounts().catch((e) => { accountsErr.textContent = e.message; }),
  ]);
}
