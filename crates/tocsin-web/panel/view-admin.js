// view-admin.js: #/admin. Users (add with name and role, then show their one-time
// enrolment link, where they set their own password and second factor; change role;
// disable; reset the second factor, which gives a new link) and platform accounts
// (list with status, whether a secret is stored and circuit-breaker state; add a sandbox
// stand-in or a real account with its settings and secret; replace a secret; disable;
// connect with OAuth: X, LinkedIn, Facebook, Threads, Instagram, Mastodon by instance URL, and
// reconnect; OAuth accounts show their scopes and token expiry).
// The OAuth callback comes back to #/admin?connected=ID or #/admin?oauth_error=CODE,
// which is shown once as a notice.
// Changes need a recent re-authentication, which api.js asks for when the server says
// so. A secret is sent once and never shown again: the server keeps it sealed.
import { h, add, put, enc, badge, field, formError, busy, confirmDialog, dialog, fmtTime, section } from '/panel/dom.js';
import * as api from '/panel/api.js';

const ROLES = ['viewer', 'drafter', 'approver', 'compliance', 'admin'];
const PLATFORMS = ['mastodon', 'bluesky', 'x', 'facebook', 'threads', 'instagram', 'linkedin', 'telegram', 'discord', 'slack', 'teams', 'matrix', 'email', 'sms', 'webhook'];

// OAuth: platforms and what each needs besides the consent.
const OAUTH = [
  { platform: 'x', label: 'X', needs: 'Optional: username = CountyHealth (refused if another account consents).' },
  { platform: 'linkedin', label: 'LinkedIn', needs: 'Required: organization_id = 2414183.' },
  { platform: 'facebook', label: 'Facebook Page', needs: 'Required: page_id = 104560000000001 (the consenting user must manage it).' },
  { platform: 'threads', label: 'Threads', needs: 'Optional: user_id = 17841400000000001.' },
  { platform: 'instagram', label: 'Instagram', needs: 'A professional (business or creator) account. Optional: user_id = 17841400000000001. Instagram fetches each image from [server] public_url, which must be set.' },
  { platform: 'mastodon', label: 'Mastodon', needs: 'The instance URL below; optional: visibility = unlisted, language = en.' },
];

// What each refusal of the OAuth callback means, for the notice.
const OAUTH_ERRORS = {
  missing_state: 'The platform\'s answer carried no state. Start the connection again from this page.',
  unknown_state: 'That answer does not belong to a connection started here (or it is over a day old). Start again.',
  state_replayed: 'That connection was already used once: each is good for one answer. Start again.',
  state_expired: 'The connection took longer than 10 minutes. Start again.',
  not_signed_in: 'The browser that came back from the platform was not signed in. Sign in and start again.',
  wrong_user: 'That connection was started by another user. Start your own.',
  not_allowed: 'Your role no longer allows connecting accounts.',
  denied: 'Consent was denied at the platform. Nothing was connected.',
  platform_error: 'The platform reported an error. Nothing was connected.',
  missing_code: 'The platform sent no authorization code. Start again.',
  code_rejected: 'The platform refused the authorization code: it expired or was already used. Start again.',
  token_refused: 'The platform refused to give a token. Nothing was stored.',
  platform_unreadable: 'The platform answered in a form Tocsin does not understand. Nothing was stored.',
  platform_unreachable: 'The platform could not be reached. Nothing was stored; try again later.',
  wrong_account: 'The platform account that consented is not the one named. Nothing was stored: sign in to the platform as that account and start again.',
  taken: 'That account is connected already: use its Reconnect button.',
  connector_refused: 'The account\'s settings were refused. Nothing was stored.',
  not_configured: 'Tocsin has no OAuth client for this platform: see Platform setup in the README.',
  internal: 'Tocsin failed. Nothing was stored; try again.',
};

// The notice for #/admin?connected=ID or ?oauth_error=CODE, once (the query is dropped
// from the address without redrawing the page).
function oauthNotice() {
  const query = new URLSearchParams(location.hash.split('?')[1] || '');
  const connected = query.get('connected');
  const error = query.get('oauth_error');
  if (!connected && !error) return null;
  history.replaceState(null, '', '#/admin');
  if (connected) {
    return h('div', { class: 'notice', role: 'status', testid: 'oauth-connected' },
      `Account ${connected} is connected: the next approved message reaches it.`);
  }
  return h('div', { class: 'form-error big', role: 'alert', testid: 'oauth-error', 'data-code': error },
    OAUTH_ERRORS[error] || `The connection was refused (${error}).`, ' ',
    h('a', { href: '#/audit' }, 'The audit log says why.'));
}

const roleSelect = (value, testid) => h('select', { testid, name: 'role' }, ROLES.map((r) => h('option', { value: r, selected: r === value }, r)));

// The enrolment link to hand over: the admin never sees a password or a second factor.
function inviteBox(r) {
  const link = r.enrolment_url || new URL(r.enrolment_path, location.origin).href;
  const box = h('div', { class: 'notice secret', role: 'status', testid: 'new-invite' },
    h('strong', {}, `Enrolment link for ${r.name} (${r.role}), valid until ${fmtTime(r.expires_at)}`),
    h('p', {}, 'Give it to them over a channel only they read. It works once: there they choose their own password and set up their own authenticator app.'),
    h('p', {}, h('code', { class: 'wrap', testid: 'invite-link' }, link)),
    h('button', { type: 'button', testid: 'new-invite-done', onclick: () => box.remove() }, 'Done, close'));
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
        if (!(await confirmDialog(`Reset ${u.name}'s second factor?`, 'Their current authenticator stops working and they are signed out; they get a new enrolment link to set a password and second factor again.', 'Reset'))) return;
        busy(reset, null, usersErr, async () => {
          put(secrets, inviteBox(await api.post(`${path}/reset-totp`)));
          await loadUsers();
        });
      });
      return h('tr', { testid: `user-${u.name}` },
        h('th', { scope: 'row' }, u.name), h('td', {}, h('label', { class: 'sr-only', for: (sel.id = `role-${u.name}`) }, `Role of ${u.name}`), sel, ' ', setRole),
        h('td', {}, u.second_factor || ''), h('td', {}, u.disabled_at ? `disabled ${fmtTime(u.disabled_at)}` : 'active'),
        h('td', {}, fmtTime(u.created_at)), h('td', { class: 'actions' }, reset, disable));
    }));
  };

  // An account's status: disabled and auth_failed as stored; a connected one this server
  // could not connect (e.g. its secret does not open with the key) shows as not connected.
  const accountStatus = (a) => {
    const state = a.status === 'connected' && !a.connected ? 'not_connected' : a.status;
    const why = a.status === 'connected' ? a.not_connected : a.status_detail;
    return [badge(state, 'account-status'), why ? h('div', { class: 'help', testid: 'account-status-detail' }, why) : null,
      a.unchecked ? h('div', { class: 'help', testid: 'account-unchecked' }, 'Unchecked: added with the credential check skipped; its credentials were never tried.') : null];
  };

  const splitGroups = (text) => text.split(/[\s,]+/).map((g) => g.trim()).filter((g) => g);
  const loadAccounts = async () => {
    const accounts = await api.get('/api/accounts');
    put(accountsBody, ...accounts.map((a) => {
      const disable = a.status === 'disabled' ? null
        : h('button', { type: 'button', class: 'danger quiet', testid: `account-disable-${a.id}` }, 'Disable');
      if (disable) {
        disable.addEventListener('click', async () => {
          if (!(await confirmDialog(`Disable ${a.display_name}?`, 'No new message goes to it. Its deliveries and audit history stay.', 'Disable', true))) return;
          busy(disable, null, accountsErr, async () => { await api.post(`/api/accounts/${a.id}/disable`); await loadAccounts(); });
        });
      }
      const replace = a.sandbox || a.status === 'disabled' ? null
        : h('button', { type: 'button', class: a.oauth ? 'quiet' : null, testid: `account-replace-secret-${a.id}` },
          a.oauth ? 'Use a pasted token' : 'Replace secret');
      if (replace) {
        replace.addEventListener('click', async () => {
          const input = h('input', { type: 'password', testid: 'secret-dialog-input', autocomplete: 'off', spellcheck: 'false' });
          const done = await dialog({
            title: `New secret for ${a.display_name}`, testid: 'secret-dialog', submitLabel: 'Replace', submitTestid: 'secret-dialog-replace',
            body: [a.oauth ? h('p', { class: 'form-error', testid: 'secret-dialog-oauth-warning' },
              'This account is connected with OAuth. A pasted token replaces that connection: Tocsin will no longer refresh the token, and the scopes and expiry shown here are dropped. To renew the OAuth connection, use Reconnect instead.') : null,
            h('p', {}, 'Checked by the platform\'s connector, then stored sealed; it is never shown again.'),
              field('Secret', input, { name: 'secret', required: true })],
            onSubmit: async () => { await api.post(`/api/accounts/${a.id}/secret`, { secret: input.value }); return true; },
          });
          if (done) await loadAccounts().catch((e) => { accountsErr.textContent = e.message; });
        });
      }
      const reconnect = a.sandbox || a.status === 'disabled' || !OAUTH.some((o) => o.platform === a.platform) ? null
        : h('button', { type: 'button', testid: `account-reconnect-${a.id}` }, 'Reconnect');
      if (reconnect) {
        reconnect.addEventListener('click', () => busy(reconnect, null, accountsErr, async () => {
          const r = await api.post('/api/accounts/oauth/start', { platform: a.platform, account_id: a.id });
          location.assign(r.authorize_url);
        }));
      }
      const regroup = h('button', { type: 'button', class: 'quiet', testid: `account-groups-edit-${a.id}` }, 'Groups');
      regroup.addEventListener('click', async () => {
        const input = h('input', { type: 'text', testid: 'groups-dialog-input', autocomplete: 'off', spellcheck: 'false', value: (a.groups || []).join(' ') });
        const done = await dialog({
          title: `Groups of ${a.display_name}`, testid: 'groups-dialog', submitLabel: 'Save groups', submitTestid: 'groups-dialog-save',
          body: [h('p', {}, 'Names separated by spaces or commas (lowercase letters, digits, dashes), e.g. public residents-sms. Messages already approved keep the accounts they were approved for.'),
            field('Groups', input, { name: 'groups' })],
          onSubmit: async () => { await api.post(`/api/accounts/${a.id}/groups`, { groups: splitGroups(input.value) }); return true; },
        });
        if (done) await loadAccounts().catch((e) => { accountsErr.textContent = e.message; });
      });
      // The languages it posts: each its own post (the next ones replying to the first),
      // or together in one post where they fit the platform's limit.
      const relang = h('button', { type: 'button', class: 'quiet', testid: `account-languages-edit-${a.id}` }, 'Languages');
      relang.addEventListener('click', async () => {
        const input = h('input', { type: 'text', testid: 'languages-dialog-input', autocomplete: 'off', spellcheck: 'false', value: (a.languages || []).join(' ') });
        const together = h('input', { type: 'checkbox', id: `languages-together-${a.id}`, testid: 'languages-dialog-together' });
        together.checked = a.language_posts === 'together';
        const done = await dialog({
          title: `Languages of ${a.display_name}`, testid: 'languages-dialog', submitLabel: 'Save languages', submitTestid: 'languages-dialog-save',
          body: [h('p', {}, 'Language tags, first to last, separated by spaces or commas (en, es, zh-Hans). Each is the message’s text in that language; a playbook without it sends its first language once instead. Empty: the playbook’s first language only.'),
            field('Languages', input, { name: 'languages', errorTestid: 'languages-dialog-input-error' }),
            h('div', { class: 'field checkbox' }, together, h('label', { for: together.id }, 'Post them together in one post where they fit the platform’s limit (otherwise one post each, the next ones replying to the first)'))],
          onSubmit: async () => {
            await api.post(`/api/accounts/${a.id}/languages`, { languages: splitGroups(input.value), posts: together.checked ? 'together' : 'separate' });
            return true;
          },
        });
        if (done) await loadAccounts().catch((e) => { accountsErr.textContent = e.message; });
      });
      const o = a.oauth;
      const secretState = a.sandbox ? 'none needed'
        : o ? [h('span', {}, `OAuth token of ${o.remote_name}`),
          h('div', { class: 'help', testid: 'account-oauth-scopes' }, `Scopes: ${o.scopes.join(' ') || 'none said'}`),
          h('div', { class: 'help', testid: 'account-oauth-expiry' },
            o.expires_at ? `Expires ${fmtTime(o.expires_at)}${o.refreshable ? ', refreshed automatically' : ', connect again before then'}` : 'Does not expire'),
          o.refreshed_at ? h('div', { class: 'help' }, `Last refreshed ${fmtTime(o.refreshed_at)}`) : null,
          o.refresh_error ? h('div', { class: 'form-error', testid: 'account-oauth-refresh-error' }, `Refresh failed: ${o.refresh_error}. Reconnect it.`) : null]
          : (a.secret_stored ? 'secret stored' : 'no secret');
      return h('tr', { testid: `account-${a.id}`, 'data-status': a.status },
        h('th', { scope: 'row' }, a.display_name),
        h('td', {}, a.sandbox && a.stands_for ? `sandbox (${a.stands_for})` : a.platform), h('td', {}, a.handle),
        h('td', {}, a.sandbox ? 'sandbox' : 'live'),
        h('td', { testid: 'account-groups' }, (a.groups || []).length ? a.groups.join(', ') : 'none'),
        h('td', { testid: 'account-languages' }, (a.languages || []).length
          ? `${a.languages.join(', ')}${a.languages.length > 1 ? (a.language_posts === 'together' ? ' (together)' : ' (one post each)') : ''}`
          : 'first language'),
        h('td', {}, accountStatus(a)),
        h('td', { testid: 'account-secret-state' }, secretState),
        h('td', {}, badge(typeof a.breaker === 'string' ? a.breaker : (a.breaker && a.breaker.state) || 'closed', 'account-breaker')),
        h('td', { class: 'actions' }, regroup, relang, reconnect, replace, disable));
    }));
  };

  // Add a user.
  const name = h('input', { type: 'text', testid: 'new-user-name', autocomplete: 'off' });
  const role = roleSelect('drafter', 'new-user-role');
  const addErr = formError('new-user-error');
  const addBtn = h('button', { type: 'submit', class: 'primary', testid: 'new-user-add' }, 'Add user');
  const userForm = h('form', { class: 'inline-form', novalidate: true }, h('h3', {}, 'Add a user'),
    field('Name', name, { name: 'name', required: true }), field('Role', role, { name: 'role', required: true }),
    addErr, addBtn);
  userForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(addBtn, userForm, addErr, async () => {
      const r = await api.post('/api/users', { name: name.value.trim(), role: role.value });
      put(secrets, inviteBox(r));
      userForm.reset();
      await loadUsers();
    });
  });

  // Add an account: a sandbox stand-in, or a real one with its settings and secret.
  let setups = [];
  const platform = h('select', { testid: 'account-platform', name: 'platform' },
    h('option', { value: 'sandbox' }, 'Sandbox (records locally, stands in for a platform)'));
  const handle = h('input', { type: 'text', testid: 'account-handle', autocomplete: 'off' });
  const display = h('input', { type: 'text', testid: 'account-display-name', autocomplete: 'off' });
  const standsFor = h('select', { testid: 'account-stands-for' }, PLATFORMS.map((p) => h('option', { value: p }, p)));
  const settings = h('textarea', { testid: 'account-settings', rows: 5, spellcheck: 'false', autocomplete: 'off', placeholder: 'chat_id = -1001234567890' });
  const settingsHint = h('div', { class: 'help', testid: 'account-settings-hint' });
  const unavailable = h('div', { class: 'form-error', role: 'status', testid: 'account-platform-unavailable', hidden: true });
  const secret = h('input', { type: 'password', testid: 'account-secret', autocomplete: 'off', spellcheck: 'false' });
  const secretHint = h('div', { class: 'help', testid: 'account-secret-hint' });
  const groups = h('input', { type: 'text', testid: 'account-groups-input', autocomplete: 'off', spellcheck: 'false', placeholder: 'public' });
  const standsField = field('Stands in for', standsFor, { name: 'stands_for', required: true });
  const settingsField = field('Settings, one "key = value" a line', settings, { name: 'settings', extra: settingsHint });
  const secretField = field('Secret', secret, { name: 'secret', extra: secretHint,
    help: 'Sent once over this connection and stored sealed; it is never shown again.' });
  const skipCheck = h('input', { type: 'checkbox', testid: 'account-skip-check' });
  const skipField = field('Skip the credential check', skipCheck, { name: 'skip_check',
    help: 'Only if the platform is down: the account is stored without trying its credentials, and shown as unchecked.' });
  const accErr = formError('account-add-error');
  const addAcc = h('button', { type: 'submit', class: 'primary', testid: 'account-add' }, 'Add account');
  const accForm = h('form', { class: 'inline-form', novalidate: true }, h('h3', {}, 'Add an account'),
    field('Platform', platform, { name: 'platform', required: true }), unavailable,
    field('Handle', handle, { name: 'handle', required: true, help: 'The account on its platform: @name, a channel, a page.' }),
    field('Display name', display, { name: 'display_name', required: true }),
    field('Groups', groups, { name: 'groups', help: 'Who this account speaks to, e.g. public, residents-sms, staff (separated by spaces or commas).' }),
    standsField, settingsField, secretField, skipField, accErr, addAcc);

  const setupOf = (p) => setups.find((s) => s.platform === p);
  const showPlatform = () => {
    const s = setupOf(platform.value);
    standsField.hidden = !!s;
    settingsField.hidden = !s;
    secretField.hidden = !s;
    skipField.hidden = !s;
    unavailable.hidden = !s || !s.unavailable;
    put(unavailable, s && s.unavailable ? `${s.display_name} cannot be used here: ${s.unavailable}.` : '');
    if (!s) return;
    put(settingsHint, 'Keys: ', s.settings.map((k, i) => [i ? ', ' : '',
      h('code', {}, k.name), k.required ? ' (required)' : '', ` e.g. ${k.example}`]));
    put(secretHint, `${s.display_name}: ${s.secret}${s.secret_required ? '' : ' (leave empty if none)'}.`);
    settings.placeholder = s.settings.filter((k) => k.required).map((k) => `${k.name} = ${k.example}`).join('\n');
  };
  platform.addEventListener('change', showPlatform);

  // `key = value` lines into an object of texts (the server reads each into its kind).
  const parseSettings = (text) => {
    const out = {};
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const at = line.indexOf('=');
      if (at < 1) {
        const e = new Error(`"${line.slice(0, 40)}" is not key = value`);
        e.field = 'settings';
        throw e;
      }
      let value = line.slice(at + 1).trim();
      if (value.length > 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      out[line.slice(0, at).trim()] = value;
    }
    return out;
  };

  accForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(addAcc, accForm, accErr, async () => {
      const body = { platform: platform.value, handle: handle.value.trim(), display_name: display.value.trim(), groups: splitGroups(groups.value) };
      if (setupOf(platform.value)) {
        body.settings = parseSettings(settings.value);
        if (secret.value.trim()) body.secret = secret.value;
        if (skipCheck.checked) body.skip_check = true;
      } else {
        body.stands_for = standsFor.value;
      }
      await api.post('/api/accounts', body);
      accForm.reset();
      showPlatform();
      await loadAccounts();
    });
  });
  // Connect with OAuth: the platform's consent page, then back to this page.
  const oauthPlatform = h('select', { testid: 'oauth-platform', name: 'platform' }, OAUTH.map((o) => h('option', { value: o.platform }, o.label)));
  const oauthDisplay = h('input', { type: 'text', testid: 'oauth-display-name', autocomplete: 'off' });
  const oauthHandle = h('input', { type: 'text', testid: 'oauth-handle', autocomplete: 'off' });
  const oauthInstance = h('input', { type: 'url', testid: 'oauth-instance-url', autocomplete: 'off', placeholder: 'https://mastodon.example' });
  const oauthSettings = h('textarea', { testid: 'oauth-settings', rows: 3, spellcheck: 'false', autocomplete: 'off' });
  const oauthHint = h('div', { class: 'help', testid: 'oauth-settings-hint' });
  const oauthGroups = h('input', { type: 'text', testid: 'oauth-groups', autocomplete: 'off', spellcheck: 'false', placeholder: 'public' });
  const instanceField = field('Instance URL', oauthInstance, { name: 'instance_url', required: true });
  const oauthErr = formError('oauth-start-error');
  const oauthGo = h('button', { type: 'submit', class: 'primary', testid: 'oauth-start' }, 'Connect with X');
  const oauthForm = h('form', { class: 'inline-form', novalidate: true, testid: 'oauth-form' }, h('h3', {}, 'Connect an account with OAuth'),
    h('p', { class: 'help' }, 'You are sent to the platform to sign in as the account and consent; the platform sends you back here. Tokens are stored sealed, shown never, and refreshed before they expire.'),
    field('Platform', oauthPlatform, { name: 'platform', required: true }),
    instanceField,
    field('Display name', oauthDisplay, { name: 'display_name', required: true }),
    field('Account (optional)', oauthHandle, { name: 'handle', help: 'The account you mean (@name): a token for another account is refused.' }),
    field('Settings, one "key = value" a line', oauthSettings, { name: 'settings', extra: oauthHint }),
    field('Groups', oauthGroups, { name: 'groups', help: 'Who this account speaks to, e.g. public (separated by spaces or commas).' }),
    oauthErr, oauthGo);
  const showOauth = () => {
    const o = OAUTH.find((p) => p.platform === oauthPlatform.value) || OAUTH[0];
    instanceField.hidden = o.platform !== 'mastodon';
    put(oauthHint, o.needs);
    oauthGo.textContent = `Connect with ${o.label}`;
  };
  oauthPlatform.addEventListener('change', showOauth);
  oauthForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(oauthGo, oauthForm, oauthErr, async () => {
      const body = { platform: oauthPlatform.value, display_name: oauthDisplay.value.trim(), settings: parseSettings(oauthSettings.value), groups: splitGroups(oauthGroups.value) };
      if (oauthHandle.value.trim()) body.handle = oauthHandle.value.trim();
      if (oauthPlatform.value === 'mastodon') body.instance_url = oauthInstance.value.trim();
      const r = await api.post('/api/accounts/oauth/start', body);
      location.assign(r.authorize_url);
    });
  });

  const loadSetups = async () => {
    setups = await api.get('/api/accounts/platforms');
    add(platform, setups.map((s) => h('option', { value: s.platform }, s.display_name)));
    showPlatform();
  };

  const table = (heads, body, testid) => h('div', { class: 'table-wrap' }, h('table', { class: 'grid', testid },
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))), body));
  add(c.root, h('h1', {}, 'Administration'),
    h('p', { class: 'help' }, 'Changes here ask you to confirm your password and code if you have not in the last 5 minutes.'),
    section('Users', 'users', secrets, usersErr, table(['Name', 'Role', 'Second factor', 'Status', 'Created', ''], usersBody, 'users-table'), userForm),
    section('Platform accounts', 'accounts', oauthNotice(), accountsErr, table(['Account', 'Platform', 'Handle', 'Kind', 'Groups', 'Languages', 'Status', 'Secret or token', 'Circuit breaker', ''], accountsBody, 'accounts-table'), oauthForm, accForm));
  showPlatform();
  showOauth();
  await Promise.all([
    loadUsers().catch((e) => { usersErr.textContent = e.message; }),
    loadAccounts().catch((e) => { accountsErr.textContent = e.message; }),
    loadSetups().catch((e) => { accErr.textContent = e.message; }),
  ]);
}
