// The audit log, for coordinators (their agency's people and records) and
// administrators (everything): search by person, kind of record, record,
// action and dates, page through the answer, and export it with a stated
// purpose (the export is itself a disclosure the server records).

import { t, say, formatDateTime } from './i18n.js';
import { request, ApiError, fetchFile } from './api.js';
import * as vocab from './vocab.js';
import { el, saveBlob } from './dom.js';

const $ = (selector) => document.querySelector(selector);

/** Kinds of record the log names, as the server writes them. */
const OBJECT_TYPES = ['observation', 'place', 'area', 'exercise', 'perception-session', 'user', 'agency', 'token', 'download', 'audit-log', 'licensing-report', 'import', 'subscription'];

/** Events asked for per page. */
const PAGE = 100;

let events = [];
let next = null;
let searched = null;
let hooks = { errorKey: () => 'errorGeneric' };

/** Wires the screen up; `errorKey` names an error's message. */
export function init(given) {
  hooks = given;
  $('#audit-search').addEventListener('submit', (event) => {
    event.preventDefault();
    search();
  });
  $('#audit-more').addEventListener('click', () => search({ more: true }));
  $('#audit-error .retry').addEventListener('click', () => search());
  $('#audit-export').addEventListener('submit', exportEvents);
}

/** The search's query parameters, from the form. */
function query() {
  const params = new URLSearchParams();
  const principal = $('#au-principal').value.trim();
  if (principal) params.set('principal', principal);
  if ($('#au-action').value) params.set('action', $('#au-action').value);
  if ($('#au-object-type').value) params.set('object_type', $('#au-object-type').value);
  const id = $('#au-object-id').value.trim();
  if (id) params.set('object_id', id);
  // Dates are the person's days: from the start of the first to the end of the last.
  if ($('#au-from').value) params.set('from', new Date(`${$('#au-from').value}T00:00:00`).toISOString());
  if ($('#au-to').value) params.set('to', new Date(`${$('#au-to').value}T23:59:59.999`).toISOString());
  return params;
}

/** Opens the screen: the first search runs with no filters. */
export function shown() {
  if (!searched) search();
}

/** Asks for the first page of the search (or the next page, with `more`). */
async function search({ more = false } = {}) {
  const params = more ? new URLSearchParams(searched) : query();
  if (more && next != null) params.set('after', String(next));
  params.set('limit', String(PAGE));
  $('#audit-error').hidden = true;
  say('#audit-count', 'loading');
  try {
    const answer = await request('GET', `/api/audit?${params}`);
    if (!more) {
      searched = query().toString();
      events = [];
    }
    events.push(...answer.events);
    next = answer.next_after;
    render();
    if (!more) $('#audit-count').focus();
  } catch (error) {
    say('#audit-count', null);
    say('#audit-error-text', error instanceof ApiError && error.field ? 'auditBadSearch' : hooks.errorKey(error), 'error');
    $('#audit-error').hidden = false;
  }
}

function objectLabel(type) {
  return OBJECT_TYPES.includes(type) ? t(`auditType-${type}`) : type;
}

/** Draws the form's choices and the events in the current language. */
export function render() {
  const action = $('#au-action');
  const chosen = action.value;
  action.replaceChildren(el('option', { value: '', text: t('filterAll') }), ...vocab.terms('audit_actions').map((term) => el('option', { value: term.code, text: vocab.label('audit_actions', term.code) })));
  action.value = chosen;
  const kind = $('#au-object-type');
  const kindChosen = kind.value;
  kind.replaceChildren(el('option', { value: '', text: t('filterAll') }), ...OBJECT_TYPES.map((type) => el('option', { value: type, text: objectLabel(type) })));
  kind.value = kindChosen;
  if (searched == null) return;
  $('#audit-body').replaceChildren(...events.map((e) => el('tr', { 'data-seq': String(e.seq) },
    el('td', { text: formatDateTime(e.at) }),
    el('td', { text: e.principal_name }),
    el('td', { text: vocab.label('audit_actions', e.action) }),
    // A kind the app names is translated; the record's id (or the query a
    // layer read answered) and any other kind are codes, shown as recorded.
    el('td', {},
      OBJECT_TYPES.includes(e.object_type) ? objectLabel(e.object_type) : el('span', { translate: 'no', text: e.object_type }),
      e.object_id ? ' ' : null,
      e.object_id ? el('span', { translate: 'no', text: e.object_id }) : null),
    // The purpose as it was recorded, in the words (and language) it was given.
    el('td', { text: e.purpose || '', translate: 'no' }))));
  say('#audit-count', next != null ? 'auditCountMore' : 'auditCount', 'info', { count: events.length });
  $('#audit-more').hidden = next == null;
}

/** Downloads every event matching the search as it was last run, with the purpose. */
async function exportEvents(event) {
  event.preventDefault();
  const purpose = $('#au-purpose').value.trim();
  if (!purpose) {
    say('#audit-export-message', 'downloadNeedsPurpose', 'error');
    $('#au-purpose').focus();
    return;
  }
  const params = new URLSearchParams(searched ?? query().toString());
  params.set('purpose', purpose);
  say('#audit-export-message', 'downloadMaking');
  try {
    const response = await fetchFile(`/api/audit/export?${params}`, 'application/json');
    const blob = await response.blob();
    const exported = JSON.parse(await blob.text());
    saveBlob(blob, 'safetymap-audit.json');
    say('#audit-export-message', exported.complete ? 'auditExported' : 'auditExportedPart', 'success', { count: exported.events.length });
  } catch (error) {
    say('#audit-export-message', hooks.errorKey(error), 'error');
  }
}
