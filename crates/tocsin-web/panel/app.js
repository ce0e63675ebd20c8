// app.js: entry point of the Tocsin control panel. Finds out who is signed in, routes
// on the location hash, draws the header (user, role, nav, live-connection indicator,
// sign out, EXERCISE banner), starts the approver's waiting-drafts signals (notify.js),
// ends the session on a 401 or a `session_ended` frame, and owns the re-authenticate
// dialog that break-glass and admin changes need.
import { h, add, put, dialog, field } from '/panel/dom.js';
import * as api from '/panel/api.js';
import * as ws from '/panel/ws.js';
import * as notify from '/panel/notify.js';
import signin from '/panel/view-signin.js';
import home from '/panel/view-home.js';
import { newDraft, draftView, correctionDraft } from '/panel/view-draft.js';
import messageView from '/panel/view-message.js';
import { sessionsList, sessionView } from '/panel/view-sessions.js';
import audit from '/panel/view-audit.js';
import consent from '/panel/view-consent.js';
import admin from '/panel/view-admin.js';
import enrol from '/panel/view-enrol.js';
import account from '/panel/view-account.js';
import sandboxPost from '/panel/view-sandbox.js';
import messageStory from '/panel/view-story.js';
import calendar from '/panel/view-calendar.js';
import * as shortcuts from '/panel/shortcuts.js';

const ROUTES = [
  [/^\/signin$/, signin, true],
  [/^\/enrol\/([A-Za-z0-9_-]+)$/, enrol, true],
  [/^\/$/, home],
  [/^\/new\/([^/]+)$/, newDraft],
  [/^\/drafts\/([^/]+)$/, draftView],
  [/^\/messages\/([^/]+)$/, messageView],
  [/^\/messages\/([^/]+)\/correct$/, correctionDraft],
  [/^\/messages\/([^/]+)\/story$/, messageStory],
  [/^\/sessions$/, sessionsList],
  [/^\/calendar$/, calendar],
  [/^\/sessions\/([^/]+)$/, sessionView],
  [/^\/audit$/, audit],
  [/^\/consent$/, consent],
  [/^\/admin$/, admin],
  [/^\/account$/, account],
  [/^\/sandbox\/([0-9]+)\/([A-Za-z0-9_-]+)$/, sandboxPost],
];

const state = { me: null, flash: '', after: '/', leave: [], conn: 'off' };

const main = document.getElementById('main');
const top = document.getElementById('top');
const banner = document.getElementById('exercise-banner');

// What the signed-in role may do: the server's list (GET /api/me, and the websocket's
// `hello` frame, which also follows a role changed while the panel is open).
function can(permission) {
  const me = state.me;
  return !!me && Array.isArray(me.permissions) && me.permissions.includes(permission);
}

function signedIn(me) {
  state.me = me;
  state.flash = '';
  ws.connect();
  notify.start(state.me, can);
  const to = state.after && state.after !== '/signin' ? state.after : '/';
  state.after = '/';
  if (location.hash === `#${to}`) route();
  else location.hash = `#${to}`;
}

function sessionEnded(message) {
  if (!state.me) return;
  state.me = null;
  state.flash = message;
  ws.disconnect();
  notify.stop();
  if (location.hash === '#/signin') route();
  else location.hash = '#/signin';
}

async function signOut() {
  // Signing out also ends the session over the websocket: close it first, or its
  // `session_ended` frame may win the race and say "Your session ended" instead.
  ws.disconnect();
  try {
    await api.del('/api/session', { quiet401: true });
  } catch {
    // Signed out either way: the cookie is gone or the session had already ended.
  }
  sessionEnded('You signed out.');
}

// Under `tocsin demo`: the signed-in demo user's password and current code, kept fresh
// while `box` is on the page, with a button that fills them in.
function demoHint(box, password, code) {
  const load = async () => {
    if (!box.isConnected && box.dataset.loaded) return false;
    let demo;
    try {
      demo = await api.get('/api/demo', { quiet401: true });
    } catch {
      return false;
    }
    const me = (demo.users || []).find((u) => u.name === (state.me && state.me.user));
    if (!me) return false;
    box.dataset.loaded = '1';
    put(box, h('span', { class: 'tag demo' }, 'DEMO'), ' Your password is ', h('code', {}, me.password),
      ' and your current code ', h('code', { testid: 'reauth-demo-code' }, me.code), ' (a code works once: if it was just used, wait for the next). ',
      h('button', { type: 'button', testid: 'reauth-demo-fill', onclick: () => { password.value = me.password; code.value = me.code; } }, 'Fill them in'));
    box.hidden = false;
    return true;
  };
  load().then((ok) => {
    if (!ok) return;
    const t = setInterval(async () => { if (!box.isConnected || !(await load())) clearInterval(t); }, 10000);
  });
}

function reauthenticate() {
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', testid: 'reauth-password' });
  const code = h('input', { type: 'text', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, testid: 'reauth-code' });
  const demo = h('p', { class: 'help demo-hint', testid: 'reauth-demo', hidden: true });
  if (state.me && state.me.demo) demoHint(demo, password, code);
  return dialog({
    title: 'Confirm it is you',
    testid: 'reauth-dialog',
    body: [
      h('p', {}, 'This action needs a recent sign-in. Enter your password and a new 6-digit code from your authenticator. It stays confirmed for 5 minutes.'),
      demo,
      field('Password', password, { name: 'password', required: true }),
      field('6-digit code', code, { name: 'code', required: true }),
    ],
    submitLabel: 'Confirm',
    submitTestid: 'reauth-submit',
    onSubmit: async () => {
      state.me = { ...state.me, ...(await api.post('/api/session/reauthenticate', { password: password.value, code: code.value.trim() }, { noReauth: true })) };
      return true;
    },
  });
}

function setExercise(on) {
  banner.hidden = !on;
  document.body.classList.toggle('exercise', !!on);
}

const CONN_TEXT = { open: 'Live', connecting: 'Connecting…', down: 'Reconnecting…', off: 'Offline' };
function connIndicator() {
  return h('span', { class: `conn conn-${state.conn}`, testid: 'connection-indicator', 'data-state': state.conn, role: 'status', title: 'Live updates connection' },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), CONN_TEXT[state.conn] || state.conn);
}

function drawHeader(path) {
  if (!state.me) {
    top.hidden = true;
    put(top);
    return;
  }
  const me = state.me;
  const items = [['/', 'Alerts', 'nav-alerts'], ['/sessions', 'Live sessions', 'nav-sessions'], ['/calendar', 'Calendar', 'nav-calendar']];
  if (can('read_audit')) items.push(['/audit', 'Audit', 'nav-audit']);
  if (can('manage_consent')) items.push(['/consent', 'Consent', 'nav-consent']);
  if (can('manage_users') || can('manage_accounts')) items.push(['/admin', 'Admin', 'nav-admin']);
  const section = (p) => (p === '/' ? '/' : `/${p.split('/')[1]}`);
  const current = { '/new': '/', '/drafts': '/', '/messages': '/' }[section(path)] || section(path);
  top.hidden = false;
  put(top,
    h('a', { class: 'brand', href: '#/' }, 'Tocsin', me.demo ? h('span', { class: 'tag demo' }, 'DEMO') : null),
    h('nav', { 'aria-label': 'Main' }, items.map(([p, label, tid]) =>
      h('a', { href: `#${p}`, testid: tid, 'aria-current': current === p ? 'page' : null }, label))),
    h('div', { class: 'who' },
      connIndicator(),
      h('a', { class: 'user', href: '#/account', testid: 'current-user', title: 'Your account: password and second factor' }, me.user),
      h('span', { class: 'role', testid: 'current-role' }, me.role),
      h('button', { type: 'button', class: 'quiet', testid: 'sign-out', onclick: signOut }, 'Sign out')));
}

async function route() {
  for (const f of state.leave.splice(0)) {
    try { f(); } catch (e) { console.error(e); }
  }
  const path = (location.hash.replace(/^#/, '') || '/').split('?')[0] || '/';
  let match = null;
  let entry = null;
  for (const r of ROUTES) {
    match = r[0].exec(path);
    if (match) { entry = r; break; }
  }
  if (!entry) { location.hash = '#/'; return; }
  const [, view, isPublic] = entry;
  if (!isPublic && !state.me) { state.after = path; location.hash = '#/signin'; return; }
  if (path === '/signin' && state.me) { location.hash = '#/'; return; }
  drawHeader(path);
  setExercise(false);
  const root = h('div', { class: 'view' });
  put(main, root);
  const ctx = {
    me: state.me,
    can,
    root,
    params: match.slice(1).map(decodeURIComponent),
    flash: state.flash,
    signedIn,
    setExercise,
    go: (hash) => { location.hash = hash; },
    // Subscribe to a websocket event for as long as this screen is shown.
    on: (type, fn) => state.leave.push(ws.on(type, fn)),
    onLeave: (fn) => state.leave.push(fn),
  };
  try {
    await view(ctx);
  } catch (e) {
    add(root, h('div', { class: 'form-error big', role: 'alert', testid: 'view-error' },
      e.status === 403 ? `You do not have access to this: ${e.message}` : e.message || String(e)));
  }
  if (!isPublic && root.isConnected) {
    const h1 = root.querySelector('h1');
    if (h1 && !root.contains(document.activeElement)) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
  }
}

api.configure({ sessionEnded, reauthenticate });
ws.on('hello', (f) => {
  if (!state.me || f.user !== state.me.user || !Array.isArray(f.permissions)) return;
  const changed = f.role !== state.me.role || f.permissions.join() !== state.me.permissions.join();
  state.me = { ...state.me, role: f.role, permissions: f.permissions };
  if (changed) {
    notify.start(state.me, can);
    route();
  }
});
ws.on('session_ended', (f) => sessionEnded(`Your session ended${f.reason ? `: ${f.reason}` : ''}. Please sign in again.`));
ws.on('status', (s) => {
  state.conn = s.state;
  const old = top.querySelector('[data-testid="connection-indicator"]');
  if (old) old.replaceWith(connIndicator());
});
window.addEventListener('hashchange', route);
shortcuts.install(() => !!state.me);

(async function boot() {
  try {
    state.me = await api.get('/api/me', { quiet401: true });
    ws.connect();
    notify.start(state.me, can);
  } catch (e) {
    state.me = null;
    if (e.status !== 401) state.flash = e.message;
  }
  route();
}());
