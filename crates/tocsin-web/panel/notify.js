// notify.js: tells an approver that drafts wait. The tab title carries the count of
// submitted drafts ("(2) Tocsin control panel"), kept live from `draft` frames and
// refetched on `resync`. A browser notification and a short beep (WebAudio, no file)
// for each newly submitted draft are opt-in per person, remembered in localStorage;
// the browser's permission is asked only when the person opts in.
import * as api from '/panel/api.js';
import { stepTitle } from '/panel/names.js';
import * as ws from '/panel/ws.js';

const BASE_TITLE = document.title;
let waiting = new Set();
let me = null;
let offs = [];
let audio = null;

const key = (user) => `tocsin.notify.${user}`;

export function optedIn(user) {
  try {
    return localStorage.getItem(key(user)) === 'on';
  } catch {
    return false;
  }
}

// Turns the opt-in on or off; on asks the browser's permission for notifications
// (the sound needs none). Resolves with the permission, or 'unsupported'.
export async function setOptIn(user, on) {
  try {
    if (on) localStorage.setItem(key(user), 'on');
    else localStorage.removeItem(key(user));
  } catch {
    // Private mode without storage: the choice lasts until the page is reloaded.
  }
  if (on) unlockAudio();
  return on ? askPermission() : permission();
}

export function permission() {
  return typeof window.Notification === 'function' ? window.Notification.permission : 'unsupported';
}

async function askPermission() {
  const N = window.Notification;
  if (typeof N !== 'function') return 'unsupported';
  if (N.permission !== 'default') return N.permission;
  try {
    return (await N.requestPermission()) || N.permission;
  } catch {
    return N.permission;
  }
}

function drawTitle() {
  document.title = waiting.size ? `(${waiting.size}) ${BASE_TITLE}` : BASE_TITLE;
}

// The AudioContext must be created or resumed during a user gesture (the opt-in click).
function unlockAudio() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return null;
  if (!audio) {
    try {
      audio = new Ctx();
    } catch {
      return null;
    }
  }
  if (audio.state === 'suspended') audio.resume().catch(() => {});
  return audio;
}

function beep() {
  const ctx = unlockAudio();
  if (!ctx) return;
  const t = ctx.currentTime;
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = 'sine';
  osc.frequency.setValueAtTime(880, t);
  osc.frequency.setValueAtTime(660, t + 0.15);
  gain.gain.setValueAtTime(0.0001, t);
  gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
  gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
  osc.connect(gain).connect(ctx.destination);
  osc.start(t);
  osc.stop(t + 0.4);
}

function announce(d) {
  if (!me || !optedIn(me.user)) return;
  try {
    beep();
  } catch (e) {
    console.warn('no sound', e);
  }
  const N = window.Notification;
  if (typeof N !== 'function' || N.permission !== 'granted') return;
  try {
    const n = new N('A draft waits for approval', {
      body: `${stepTitle(d.playbook, d.step)}, drafted by ${d.created_by}`,
      tag: `tocsin-draft-${d.id}`,
    });
    n.onclick = () => {
      window.focus();
      location.hash = `#/drafts/${encodeURIComponent(d.id)}`;
      n.close();
    };
  } catch (e) {
    console.warn('no notification', e);
  }
}

async function refetch() {
  try {
    const submitted = await api.get('/api/drafts?state=submitted');
    waiting = new Set(submitted.map((d) => d.id));
    drawTitle();
  } catch {
    // Keep the last count: the next frame or resync corrects it.
  }
}

function onDraft(f) {
  const d = f.draft;
  if (!d) return;
  if (d.state === 'submitted') {
    if (waiting.has(d.id)) return;
    waiting.add(d.id);
    drawTitle();
    if (d.created_by !== me.user) announce(d);
  } else if (waiting.delete(d.id)) {
    drawTitle();
  }
}

// Starts watching for a signed-in person; only those who may approve are told.
export function start(who, may) {
  stop();
  if (!who || !may('approve')) return;
  me = who;
  offs = [ws.on('draft', onDraft), ws.on('resync', refetch)];
  refetch();
}

export function stop() {
  for (const off of offs) off();
  offs = [];
  me = null;
  waiting = new Set();
  drawTitle();
}
