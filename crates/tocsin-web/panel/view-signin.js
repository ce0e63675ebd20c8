// view-signin.js: the #/signin screen. Name, password and 6-digit code; API errors
// (wrong credentials, throttling with a countdown) shown at the form; under `tocsin demo`
// a labelled Demo box lists the demo users with their current codes, refreshed every
// 10 s, each with a button that fills the form.
import { h, add, put, field, formError, showError, clearErrors } from '/panel/dom.js';
import * as api from '/panel/api.js';

export default async function signin(c) {
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'username', required: true, testid: 'signin-name' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, testid: 'signin-password' });
  const code = h('input', {
    type: 'text', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}',
    maxlength: 6, required: true, testid: 'signin-code',
  });
  const submit = h('button', { type: 'submit', class: 'primary big', testid: 'signin-submit' }, 'Sign in');
  const err = formError('signin-error');
  let countdown = null;
  c.onLeave(() => clearInterval(countdown));

  const throttle = (seconds) => {
    let left = Number(seconds) || 30;
    submit.disabled = true;
    const tick = () => {
      if (left <= 0) {
        clearInterval(countdown);
        submit.disabled = false;
        submit.textContent = 'Sign in';
        return;
      }
      submit.textContent = `Try again in ${left} s`;
      left -= 1;
    };
    clearInterval(countdown);
    tick();
    countdown = setInterval(tick, 1000);
  };

  const form = h('form', {
    class: 'signin-form panel', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      if (!name.value.trim() || !password.value || !/^\d{6}$/.test(code.value.trim())) {
        err.textContent = 'Enter your name, your password and the 6-digit code from your authenticator app.';
        return;
      }
      submit.disabled = true;
      try {
        const me = await api.post('/api/session', { name: name.value.trim(), password: password.value, code: code.value.trim() }, { quiet401: true });
        c.signedIn(me);
      } catch (e) {
        if (e.code === 'throttled') {
          err.textContent = `${e.message} Wait ${e.retryAfter || 'a few'} seconds, then try again.`;
          throttle(e.retryAfter);
          return;
        }
        showError(form, e, err);
        code.value = '';
        submit.disabled = false;
      }
    },
  },
  h('h1', {}, 'Sign in to Tocsin'),
  c.flash ? h('p', { class: 'notice', role: 'status', testid: 'signin-message' }, c.flash) : null,
  field('Name', name, { name: 'name' }),
  field('Password', password, { name: 'password' }),
  field('6-digit code', code, { name: 'code', help: 'From your authenticator app. Each code works once.' }),
  err,
  submit);

  const demoBox = h('aside', { class: 'panel demo-box', testid: 'demo-box', hidden: true, 'aria-label': 'Demo accounts' });
  add(c.root, h('div', { class: 'signin-layout' }, form, demoBox));
  name.focus();

  const fill = (u) => {
    name.value = u.name;
    password.value = u.password;
    code.value = u.code;
    submit.focus();
  };
  const demoUsers = new Map();
  const loadDemo = async () => {
    let demo;
    try {
      demo = await api.get('/api/demo', { quiet401: true });
    } catch {
      demoBox.hidden = true;
      return false;
    }
    demoBox.hidden = false;
    const users = demo.users || [];
    for (const u of users) demoUsers.set(u.name, u);
    // Same users as shown: update the codes in place, so focus and reading position stay.
    const shown = users.map((u) => demoBox.querySelector(`[data-testid="demo-code-${CSS.escape(u.name)}"]`));
    if (users.length && shown.every(Boolean) && demoBox.querySelectorAll('tbody tr').length === users.length) {
      users.forEach((u, i) => { shown[i].textContent = u.code; });
      return true;
    }
    put(demoBox,
      h('h2', {}, h('span', { class: 'tag demo' }, 'DEMO'), ' Demo users'),
      h('p', { class: 'help' }, 'This server runs `tocsin demo`: sandbox destinations only. Codes refresh every 10 seconds.'),
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, 'User'), h('th', {}, 'Role'), h('th', {}, 'Password'), h('th', {}, 'Code'), h('th', {}, h('span', { class: 'sr-only' }, 'Fill')))),
        h('tbody', {}, users.map((u) => h('tr', { testid: `demo-user-${u.name}` },
          h('td', {}, u.name), h('td', {}, u.role), h('td', {}, h('code', {}, u.password)),
          h('td', {}, h('code', { testid: `demo-code-${u.name}` }, u.code)),
          h('td', {}, h('button', { type: 'button', testid: `demo-fill-${u.name}`, onclick: () => fill(demoUsers.get(u.name)) }, `Use ${u.name}`)))))));
    return true;
  };
  if (await loadDemo()) {
    const t = setInterval(loadDemo, 10000);
    c.onLeave(() => clearInterval(t));
  }
}
