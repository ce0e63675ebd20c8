// shortcuts.js: keyboard shortcuts for people who live in the panel during an incident.
// `?` lists them; `n` starts a new draft (the playbook search), `q` goes to the approval
// queue, `a` approves the open draft (the same button, so review, re-authentication and
// every check still apply). Keys typed into a field, or with Ctrl/Alt/Meta, are left
// alone, and nothing happens while a dialog is open.
import { h, dialog } from '/panel/dom.js';

export const SHORTCUTS = [
  ['n', 'New draft: go to the playbook search'],
  ['q', 'Go to the drafts awaiting approval'],
  ['a', 'Approve the open draft (after you have reviewed it; the approval still asks what it asks)'],
  ['?', 'Show these shortcuts'],
];

function typing(target) {
  const t = target && target.closest ? target : null;
  return !!(t && (t.closest('input, textarea, select, [contenteditable="true"]')));
}

// Waits for the element with `testid` to appear (a screen loads asynchronously).
async function appear(testid, within = 3000) {
  const until = Date.now() + within;
  for (;;) {
    const el = document.querySelector(`[data-testid="${testid}"]`);
    if (el || Date.now() > until) return el;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function help() {
  return dialog({
    title: 'Keyboard shortcuts',
    testid: 'shortcuts-dialog',
    body: [h('table', { class: 'grid compact', testid: 'shortcuts-list' },
      h('tbody', {}, SHORTCUTS.map(([key, what]) => h('tr', {}, h('th', { scope: 'row' }, h('kbd', {}, key)), h('td', {}, what)))))],
    submitLabel: 'Close',
    submitTestid: 'shortcuts-close',
  });
}

// Installs the shortcuts; `signedIn()` says whether anyone is signed in.
export function install(signedIn) {
  document.addEventListener('keydown', async (ev) => {
    if (ev.defaultPrevented || ev.ctrlKey || ev.altKey || ev.metaKey || typing(ev.target)) return;
    if (document.querySelector('dialog[open]') || !signedIn()) return;
    switch (ev.key) {
      case '?':
        ev.preventDefault();
        await help();
        break;
      case 'n': {
        ev.preventDefault();
        if (location.hash !== '#/') location.hash = '#/';
        const search = await appear('playbook-search');
        if (search) search.focus();
        break;
      }
      case 'q': {
        ev.preventDefault();
        if (location.hash !== '#/') location.hash = '#/';
        const queue = await appear('drafts-submitted');
        if (queue) {
          // The list loads after the section: focus its first draft once it is there.
          await appear('drafts-submitted-list', 2000);
          queue.scrollIntoView({ block: 'start' });
          const first = queue.querySelector('a, button');
          if (!first) queue.tabIndex = -1;
          (first || queue).focus();
        }
        break;
      }
      case 'a': {
        const approve = document.querySelector('[data-testid="approve-button"]');
        if (approve && !approve.disabled) {
          ev.preventDefault();
          approve.click();
        }
        break;
      }
      default:
    }
  });
}
