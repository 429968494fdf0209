// The controlled vocabulary from the server (/api/vocabulary): codes with
// English and Welsh labels, so the app never spells a category itself.

import { lang } from './i18n.js';

let vocabulary = null;

/** Loads the vocabulary once (the service worker keeps a copy for offline use). */
export async function load() {
  if (!vocabulary) {
    const response = await fetch('/api/vocabulary', { credentials: 'same-origin' });
    vocabulary = await response.json();
  }
  return vocabulary;
}

/** Terms of one list (`categories`, `settings`, …). */
export function terms(list) {
  return vocabulary?.[list] ?? [];
}

/** The label of a code in a list, in the current language. */
export function label(list, code) {
  const term = terms(list).find((t) => t.code === code);
  return term ? term.label[lang()] : code;
}

/** One category's full term (default sensitivity, review period). */
export function category(code) {
  return terms('categories').find((t) => t.code === code);
}

/** How a category is drawn: protective, neutral or a concern. */
export function kind(code) {
  if (code === 'safe-place') return 'safe';
  if (code === 'young-people-congregating') return 'neutral';
  return 'risk';
}
