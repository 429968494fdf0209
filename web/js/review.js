// The review queue, for coordinators: their agency's records whose review
// date has come, each with the day retention will erase it unless it is
// kept. Several can be kept (with a reason and the next review date) or
// erased (with a reason) at once. The queue holds no free text: opening a
// record is a consultation, with its own purpose, from the map or list.

import { t, say, formatDate, formatDateTime } from './i18n.js';
import { request } from './api.js';
import * as vocab from './vocab.js';
import { el } from './dom.js';

const $ = (selector) => document.querySelector(selector);

/** How far ahead coordinators are warned of erasures. */
const WARN_DAYS = 30;

let entries = [];
let loaded = false;
let hooks = { errorKey: () => 'errorGeneric', showView: () => {} };

/** Wires the screen up; `errorKey` names an error's message, `showView` opens a screen. */
export function init(given) {
  hooks = given;
  $('#review-all').addEventListener('change', (event) => {
    for (const box of document.querySelectorAll('#review-body input[type="checkbox"]')) box.checked = event.target.checked;
  });
  $('#review-keep').addEventListener('click', () => decide('keep'));
  $('#review-erase').addEventListener('click', () => decide('erase'));
  $('#review-open').addEventListener('click', () => hooks.showView('review'));
}

/** The date a year from today, as the default next review. */
function nextYear() {
  const d = new Date();
  d.setFullYear(d.getFullYear() + 1);
  return d.toISOString().slice(0, 10);
}

function daysUntil(date) {
  const today = new Date(new Date().toISOString().slice(0, 10));
  return Math.round((new Date(date) - today) / 86400000);
}

/** Asks for the queue again (coordinators only) and shows it, and the warning on the map. */
export async function load() {
  if (document.body.dataset.role !== 'coordinator') return;
  try {
    entries = await request('GET', '/api/review-queue');
    loaded = true;
    render();
  } catch (error) {
    say('#review-message', hooks.errorKey(error), 'error');
  }
}

/** Draws the queue and the warning in the current language. */
export function render() {
  if (!loaded) return;
  const soon = entries.filter((e) => daysUntil(e.erase_on) <= WARN_DAYS);
  $('#review-warning').hidden = soon.length === 0;
  if (soon.length) say('#review-warning-text', 'reviewWarning', 'error', { count: soon.length, days: WARN_DAYS });
  $('#review-badge').textContent = entries.length ? ` (${entries.length})` : '';
  const chosen = new Set([...document.querySelectorAll('#review-body input:checked')].map((b) => b.value));
  $('#review-body').replaceChildren(...entries.map((e) => {
    const days = daysUntil(e.erase_on);
    const label = `${vocab.label('categories', e.category)} ${e.id}`;
    return el('tr', { 'data-id': String(e.id), class: days <= WARN_DAYS ? 'soon' : null },
      el('td', {}, el('input', { type: 'checkbox', value: String(e.id), checked: chosen.has(String(e.id)), 'aria-label': t('reviewChoose', { record: label }) })),
      el('td', { text: String(e.id) }),
      el('td', { text: vocab.label('categories', e.category) + (e.withdrawn ? ` (${t('reviewWithdrawn')})` : '') }),
      el('td', { text: formatDateTime(e.observed_at) }),
      el('td', { text: formatDate(e.review_by) }),
      el('td', { text: `${formatDate(e.erase_on)} (${t('reviewInDays', { count: Math.max(days, 0) })})` }));
  }));
  $('#review-empty').hidden = entries.length > 0;
  $('#review-table').closest('.table-scroll').hidden = entries.length === 0;
  $('#review-decide').hidden = entries.length === 0;
  if (!$('#review-next').value) $('#review-next').value = nextYear();
}

/** Keeps or erases every chosen record, one request each, and says how it went. */
async function decide(how) {
  const ids = [...document.querySelectorAll('#review-body input:checked')].map((b) => b.value);
  const reason = $('#review-reason').value.trim();
  if (!ids.length) {
    // Said at the top of the screen; focus goes there so it is seen.
    say('#review-message', 'reviewChooseFirst', 'error');
    $('#review-message').focus();
    return;
  }
  if (!reason) {
    say('#review-message', 'reviewNeedsReason', 'error');
    $('#review-reason').focus();
    return;
  }
  if (how === 'erase' && !window.confirm(t('reviewEraseConfirm', { count: ids.length }))) return;
  say('#review-message', 'logSaving');
  let done = 0;
  let failed = null;
  for (const id of ids) {
    try {
      const body = how === 'keep' ? { reason, next_review: $('#review-next').value } : { reason };
      await request('POST', `/api/observations/${id}/${how}`, body);
      done += 1;
    } catch (error) {
      failed = error;
      break;
    }
  }
  await load();
  if (failed) {
    const field = failed.field === 'next_review' ? 'reviewBadDate' : hooks.errorKey(failed);
    say('#review-message', field, 'error');
    return;
  }
  $('#review-reason').value = '';
  say('#review-message', how === 'keep' ? 'reviewKept' : 'reviewErased', 'success', { count: done });
  $('#review-message').focus();
}
