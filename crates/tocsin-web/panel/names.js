// names.js: playbook and step titles by id, so lists, pages and notifications say
// "Boil-water advisory · Initial advisory" rather than `boil-water · alert`. Learnt from
// `/api/playbooks` (the home page's read, or fetched once when a page needs it).
import * as api from '/panel/api.js';

let titles = new Map();

// Remembers the titles of a `/api/playbooks` answer.
export function learn(playbooks) {
  titles = new Map((playbooks || []).map((p) => [p.id, { title: p.title, steps: new Map((p.steps || []).map((x) => [x.id, x.title])) }]));
}

// Reads the titles once if no page has yet.
export async function ensure() {
  if (titles.size) return;
  try {
    learn(await api.get('/api/playbooks'));
  } catch {
    // Ids it is, then.
  }
}

// "Playbook title · Step title" (ids for what is not known).
export function stepTitle(playbook, step) {
  const p = titles.get(playbook);
  if (!p) return `${playbook} · ${step}`;
  return `${p.title} · ${p.steps.get(step) || step}`;
}
