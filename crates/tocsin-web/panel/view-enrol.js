// view-enrol.js: #/enrol/TOKEN, the one-time enrolment link an admin hands a new person
// (or one whose second factor was reset). Public: the person scans a QR code of their
// own new second factor (drawn by the server), chooses their own password and proves
// the factor with a code. Nobody else ever sees either. The token stays in the fragment,
// so it never reaches a server log.
import { h, add, put, field, formError, showError, clearErrors, svgFrom, fmtTime } from '/panel/dom.js';
import * as api from '/panel/api.js';

// The scan-or-type block shared with the account page.
export function factorBlock(f) {
  return h('div', { class: 'factor', testid: 'enrol-factor' },
    h('div', { class: 'qr', testid: 'enrol-qr', 'aria-label': 'QR code for your authenticator app', role: 'img' }, svgFrom(f.qr_svg)),
    h('p', {}, 'Scan it with an authenticator app (any TOTP app), or type this key in: ',
      h('code', { class: 'wrap', testid: 'enrol-secret' }, f.secret)));
}

export default async function enrol(c) {
  const token = c.params[0] || '';
  const err = formError('enrol-error');
  put(c.root, h('h1', {}, 'Set up your Tocsin sign-in'));
  let f;
  try {
    f = await api.post('/api/enrolment/start', { token }, { quiet401: true, noReauth: true });
  } catch (e) {
    add(c.root, h('div', { class: 'form-error big', role: 'alert', testid: 'enrol-invalid' }, e.message));
    return;
  }
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', testid: 'enrol-password', required: true });
  const again = h('input', { type: 'password', name: 'password_again', autocomplete: 'new-password', testid: 'enrol-password-again', required: true });
  const code = h('input', { type: 'text', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, testid: 'enrol-code', required: true });
  const submit = h('button', { type: 'submit', class: 'primary big', testid: 'enrol-submit' }, 'Finish');
  const form = h('form', { class: 'panel enrol-form', novalidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      if (password.value !== again.value) {
        err.textContent = 'The two passwords differ: type the same one twice.';
        return;
      }
      submit.disabled = true;
      try {
        await api.post('/api/enrolment/complete', { token, password: password.value, code: code.value.trim() }, { quiet401: true, noReauth: true });
        put(c.root, h('h1', {}, 'You are set up'),
          h('p', { class: 'notice', role: 'status', testid: 'enrol-done' }, `Your password and second factor work now, ${f.name}. Sign in with them.`),
          h('p', {}, h('a', { href: '#/signin', testid: 'enrol-signin' }, 'Sign in')));
      } catch (e) {
        showError(form, e, err);
        submit.disabled = false;
      }
    } },
  h('p', {}, `Welcome, ${f.name}. This link works once, until ${fmtTime(f.expires_at)}.`),
  h('h2', {}, '1. Your second factor'),
  factorBlock(f),
  h('h2', {}, '2. Your password'),
  field('New password', password, { name: 'password', required: true, help: '12 to 128 characters; not a common password nor your name. A few unrelated words work well.' }),
  field('The same password again', again, { name: 'password_again', required: true }),
  h('h2', {}, '3. Prove the second factor'),
  field('6-digit code from the app', code, { name: 'code', required: true }),
  err, submit);
  add(c.root, form);
}
