// api.js: every HTTP call to /api goes through here. JSON in and out; an error body
// {"error":{code,message,field}} becomes an ApiError; a 401 ends the session (back to
// sign-in); a 403 reauthentication_needed asks for password and code once, then retries.

export class ApiError extends Error {
  constructor(status, code, message, field, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

const hooks = { sessionEnded: () => {}, reauthenticate: null };

// sessionEnded(message) and reauthenticate() => Promise<boolean> come from app.js.
export function configure(h) {
  Object.assign(hooks, h);
}

// opts.quiet401: a 401 is an answer for the caller (sign-in, boot), not a session end.
// opts.noReauth: do not offer the re-authenticate dialog (the dialog's own call).
export async function api(method, path, body, opts = {}) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the Tocsin server. Check the connection and try again.');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (res.ok) return data;
  const e = (data && data.error) || {};
  const err = new ApiError(res.status, e.code || `http_${res.status}`,
    e.message || `${res.status} ${res.statusText}`, e.field, res.headers.get('Retry-After'));
  if (res.status === 401 && !opts.quiet401 && err.code !== 'wrong_credentials') {
    hooks.sessionEnded(err.code === 'session_ended' ? `Your session ended: ${err.message}` : 'Please sign in again.');
  }
  if (res.status === 403 && err.code === 'reauthentication_needed' && !opts.noReauth && hooks.reauthenticate) {
    if (await hooks.reauthenticate()) return api(method, path, body, { ...opts, noReauth: true });
    err.message = 'Cancelled: this action needs you to confirm your password and code.';
  }
  throw err;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);
export const put = (path, body, opts) => api('PUT', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);

// "?a=1&b=2" from an object, skipping empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}
