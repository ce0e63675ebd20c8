// ws.js: the panel's one websocket (/ws). Connects after sign-in, reconnects with
// jittered exponential backoff, keeps itself alive with pings, matches `result`/`error`
// answers to request frames by `ref`, and hands server events (delivery, draft, message,
// resync, session_ended) to subscribers. A reconnect is announced as a `resync`, since
// events may have been missed while the socket was down.
import { ApiError, get } from '/panel/api.js';

const listeners = new Map();
const pending = new Map();
let sock = null;
let wanted = false;
let attempt = 0;
let everOpened = false;
let retryTimer = null;
let pingTimer = null;
let refSeq = 0;

export function on(type, fn) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(fn);
  return () => listeners.get(type).delete(fn);
}

function emit(type, frame) {
  for (const fn of [...(listeners.get(type) || [])]) {
    try {
      fn(frame);
    } catch (e) {
      console.error(e);
    }
  }
}

export const isOpen = () => !!sock && sock.readyState === WebSocket.OPEN;

export function connect() {
  if (wanted) return;
  wanted = true;
  attempt = 0;
  everOpened = false;
  open();
}

export function disconnect() {
  wanted = false;
  clearTimeout(retryTimer);
  clearInterval(pingTimer);
  const s = sock;
  sock = null;
  if (s) s.close(1000);
  failPending('The live connection closed.');
  emit('status', { state: 'off' });
}

function failPending(message) {
  for (const p of pending.values()) {
    clearTimeout(p.timer);
    p.reject(new ApiError(0, 'socket_closed', message));
  }
  pending.clear();
}

function open() {
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
  emit('status', { state: 'connecting' });
  let s;
  try {
    s = new WebSocket(url);
  } catch {
    scheduleRetry();
    return;
  }
  sock = s;
  s.onopen = () => {
    attempt = 0;
    emit('status', { state: 'open' });
    clearInterval(pingTimer);
    pingTimer = setInterval(() => send({ type: 'ping' }), 25000);
    if (everOpened) emit('resync', { type: 'resync', reason: 'reconnected' });
    everOpened = true;
  };
  s.onmessage = (ev) => {
    let f;
    try {
      f = JSON.parse(ev.data);
    } catch {
      return;
    }
    if ((f.type === 'result' || f.type === 'error') && f.ref && pending.has(f.ref)) {
      const p = pending.get(f.ref);
      pending.delete(f.ref);
      clearTimeout(p.timer);
      if (f.type === 'result') p.resolve(f.body);
      else p.reject(new ApiError(0, f.code, f.message, f.field));
      return;
    }
    emit(f.type, f);
  };
  s.onclose = () => {
    if (sock !== s) return;
    sock = null;
    clearInterval(pingTimer);
    failPending('The live connection dropped.');
    if (!wanted) return;
    emit('status', { state: 'down' });
    // A refused upgrade looks like any other close: ask over HTTP whether the session
    // is still there (a 401 sends the panel back to sign-in through api.js).
    if (attempt > 0) get('/api/me').catch(() => {});
    scheduleRetry();
  };
}

function scheduleRetry() {
  if (!wanted) return;
  const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
  attempt += 1;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(open, delay);
}

function send(frame) {
  if (!isOpen()) return false;
  sock.send(JSON.stringify(frame));
  return true;
}

// Sends a request frame and resolves with the `result` body (rejects with an ApiError).
export function request(type, fields, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    refSeq += 1;
    const ref = `r${refSeq}`;
    if (!send({ type, ref, ...fields })) {
      reject(new ApiError(0, 'socket_closed', 'The live connection is down.'));
      return;
    }
    const timer = setTimeout(() => {
      pending.delete(ref);
      reject(new ApiError(0, 'timeout', 'No answer over the live connection.'));
    }, timeoutMs);
    pending.set(ref, { resolve, reject, timer });
  });
}
