// Alerts: the areas a person follows (a ward or LSOA, or a shape drawn on
// the map) and what they have been told — new observations there, actions
// due for their agency, records due for review — with reports the server
// questioned, kept on this device, alongside. The server decides what each
// notification says, through the reader's own view; this screen only
// shows it. The count beside "Alerts" is asked for every minute.

import { t, say, lang, formatDateTime, formatDate } from './i18n.js';
import { request, newKey, ApiError } from './api.js';
import * as vocab from './vocab.js';
import * as mapView from './map.js';
import * as outbox from './outbox.js';
import { el } from './dom.js';
import { clearFieldErrors, showFieldErrors, problemErrors, codeMessage } from './forms.js';

const $ = (selector) => document.querySelector(selector);
const POLL_MS = 60_000;

let hooks = { errorKey: () => 'errorGeneric', showView: () => {}, showObservation: () => {}, where: () => '' };
let inbox = null;
let settings = null;
let areas = [];
let questioned = 0;
let drawing = null;
let key = newKey();
let polling = null;

function areaName(a) {
  return lang() === 'cy' ? a.name_cy || a.name_en : a.name_en || a.name_cy;
}

/** Whether the signed-in role has a map of other people's records to be alerted to. */
function alertable() {
  const role = document.body.dataset.role;
  return role === 'panel-member' || role === 'coordinator';
}

// ---------------------------------------------------------------- the count

function renderBadge() {
  const unread = (inbox?.unread ?? 0) + questioned;
  $('#alerts-badge').textContent = unread ? ` (${unread})` : '';
  $('#alerts-nav').setAttribute('aria-label', unread ? t('alertsNavUnread', { count: unread }) : t('navAlerts'));
}

/** Asks for the notifications again; quietly keeps the last ones when the server cannot be reached. */
export async function poll() {
  if (!document.body.dataset.role || document.body.dataset.role === 'admin') return;
  questioned = (await outbox.waiting().catch(() => [])).filter((w) => w.problem).length;
  try {
    inbox = await request('GET', '/api/notifications', undefined, { retry: false });
    say('#al-message', null);
    $('#al-retry').hidden = true;
  } catch (error) {
    if (!$('#al-items').closest('[hidden]')) {
      say('#al-message', hooks.errorKey(error), 'error');
      $('#al-retry').hidden = false;
    }
  }
  renderBadge();
  if (!$('#al-items').closest('[hidden]')) renderItems();
}

/** Starts asking every minute (and at once). */
export function start() {
  clearInterval(polling);
  polling = setInterval(poll, POLL_MS);
  poll();
}

// ---------------------------------------------------------------- notifications

function itemText(n) {
  if (n.kind === 'observation') {
    const o = n.observation;
    return t('alertsNewObservation', {
      category: vocab.label('categories', o.category),
      area: n.subscription?.name || t('alertsYourArea'),
      where: hooks.where(o),
    });
  }
  if (n.kind === 'action-due') {
    const a = n.action;
    return t(a.overdue ? 'alertsActionOverdue' : 'alertsActionDue', { what: a.what, date: formatDate(a.due_on), exercise: a.exercise_title });
  }
  const r = n.review || {};
  const soon = Number(r.erase_within_30_days || 0);
  return t('alertsReviewDue', { count: Number(r.due || 0) }) + (soon ? ` ${t('alertsReviewSoon', { count: soon })}` : '');
}

function itemAction(n) {
  if (n.kind === 'observation') {
    return el('button', { type: 'button', class: 'small', text: t('alertsShowOnMap'), onclick: () => { markRead([n.id]); hooks.showObservation(n.observation); } });
  }
  if (n.kind === 'action-due') {
    return el('button', { type: 'button', class: 'small', text: t('alertsOpenExercises'), onclick: () => { markRead([n.id]); hooks.showView('exercises'); } });
  }
  return el('button', { type: 'button', class: 'small', text: t('alertsOpenReview'), onclick: () => { markRead([n.id]); hooks.showView('review'); } });
}

function renderItems() {
  const items = [];
  if (questioned) {
    items.push(el('li', { class: 'unread', 'data-kind': 'questioned' },
      el('p', { text: t('alertsQuestioned', { count: questioned }) }),
      el('button', { type: 'button', class: 'small', text: t('alertsOpenMine'), onclick: () => hooks.showView('mine') })));
  }
  for (const n of inbox?.items ?? []) {
    items.push(el('li', { class: n.read ? 'read' : 'unread', 'data-kind': n.kind, 'data-id': String(n.id), 'data-observation': n.observation ? String(n.observation.id) : null },
      el('p', {},
        n.read ? null : el('span', { class: 'state-tag', text: t('alertsUnread') }),
        n.read ? null : ' ',
        itemText(n)),
      el('p', { class: 'hint', text: formatDateTime(n.created_at) }),
      itemAction(n)));
  }
  if (!items.length) items.push(el('li', { text: inbox ? t('alertsNone') : t('alertsNotLoaded') }));
  $('#al-items').replaceChildren(...items);
  $('#al-read-all').hidden = !(inbox?.unread);
}

async function markRead(ids) {
  try {
    inbox = await request('POST', '/api/notifications/read', ids ? { ids } : { all: true });
    renderBadge();
    renderItems();
  } catch (error) {
    say('#al-message', hooks.errorKey(error), 'error');
  }
}

// ---------------------------------------------------------------- subscriptions

function categoriesText(codes) {
  return codes.length ? codes.map((c) => vocab.label('categories', c)).join(', ') : t('alertsAllCategories');
}

function subscriptionText(s) {
  const where = s.area ? `${areaName(s.area)} — ${vocab.label('area_kinds', s.area.kind)}` : s.area_removed ? t('alertsAreaRemoved') : t('alertsDrawnShape');
  return `${s.name} (${where}): ${categoriesText(s.categories)}${s.email ? ` · ${t('alertsByEmail')}` : ''}`;
}

function renderSubscriptions() {
  const subs = settings?.subscriptions ?? [];
  $('#al-subs').replaceChildren(...(subs.length ? subs.map((s) => el('li', { 'data-id': String(s.id) },
    el('span', { class: 'area-name', text: subscriptionText(s) }),
    el('button', { type: 'button', class: 'quiet small', text: t('alertsStop'), 'aria-label': t('alertsStopNamed', { name: s.name }), onclick: () => stop(s) }))) : [el('li', { text: t('alertsFollowingNone') })]));
}

function renderForm() {
  const own = !alertable();
  $('#al-form').hidden = own;
  $('#al-own-only').hidden = !own;
  const emailAvailable = Boolean(settings?.email_available);
  $('#al-email-box').hidden = !emailAvailable;
  $('#al-address-form').hidden = !emailAvailable;
  $('#al-no-email').hidden = emailAvailable || own;
  if (emailAvailable && document.activeElement !== $('#al-address')) $('#al-address').value = settings.email ?? '';
  const chosen = new Set([...document.querySelectorAll('#al-categories input:checked')].map((b) => b.value));
  $('#al-categories').replaceChildren(...vocab.terms('categories').map((c) => el('label', { class: 'check' },
    el('input', { type: 'checkbox', value: c.code, checked: chosen.has(c.code) }), ' ', vocab.label('categories', c.code))));
  renderAreaChoices();
  const drawn = $('#al-kind-drawn').checked;
  $('#al-area-box').hidden = drawn;
  $('#al-draw-box').hidden = !drawn;
  renderCorners();
}

function renderAreaChoices() {
  const wanted = $('#al-area-search').value.trim().toLowerCase();
  const chosen = $('#al-area').value;
  const shown = areas
    .filter((a) => !wanted || areaName(a).toLowerCase().includes(wanted) || a.code.toLowerCase().includes(wanted))
    .sort((a, b) => (a.kind === b.kind ? areaName(a).localeCompare(areaName(b), lang()) : a.kind.localeCompare(b.kind)));
  $('#al-area').replaceChildren(...shown.map((a) => el('option', { value: String(a.id), text: `${areaName(a)} — ${vocab.label('area_kinds', a.kind)}` })));
  if (shown.some((a) => String(a.id) === chosen)) $('#al-area').value = chosen;
}

function renderCorners() {
  if (!drawing) return;
  $('#al-corners').textContent = t('areasCorners', { count: drawing.corners.length });
  mapView.setDrawing(drawing.corners, drawing.corners.length >= 3);
}

/** Whether map taps add corners now. */
export function isDrawing() {
  return Boolean(drawing);
}

/** Adds a corner where the map was tapped (or at its centre). */
export function addCorner(lngLat) {
  if (!drawing) return;
  drawing.corners.push([Number(lngLat.lng.toFixed(6)), Number(lngLat.lat.toFixed(6))]);
  renderCorners();
}

function chooseKind() {
  const drawn = $('#al-kind-drawn').checked;
  if (drawn && !drawing) drawing = { corners: [] };
  if (!drawn) stopDrawing();
  renderForm();
}

function stopDrawing() {
  drawing = null;
  $('#al-corners').textContent = '';
  mapView.setDrawing([], false);
}

async function follow() {
  const form = $('#al-form');
  clearFieldErrors(form);
  say('#al-message', null);
  const body = { categories: [...document.querySelectorAll('#al-categories input:checked')].map((b) => b.value), email: $('#al-email').checked && !$('#al-email-box').hidden };
  if ($('#al-kind-drawn').checked) {
    if (!drawing || drawing.corners.length < 3) {
      say('#al-message', 'areasNeedThree', 'error');
      return;
    }
    body.name = $('#al-name').value.trim();
    body.geometry = { type: 'Polygon', coordinates: [[...drawing.corners, drawing.corners[0]]] };
  } else {
    const id = Number($('#al-area').value);
    if (!id) {
      say('#al-message', 'alertsChooseArea', 'error');
      return;
    }
    body.area_id = id;
  }
  $('#al-follow').disabled = true;
  try {
    const made = await request('POST', '/api/alerts/subscriptions', body, { idempotencyKey: key });
    key = newKey();
    stopDrawing();
    if ($('#al-kind-drawn').checked) {
      $('#al-kind-area').checked = true;
      $('#al-name').value = '';
    }
    say('#al-message', 'alertsFollowed', 'success', { name: made.name });
    await load();
  } catch (error) {
    if (error instanceof ApiError && (error.status === 422 || error.status === 400)) {
      key = newKey();
      const left = showFieldErrors('al-', problemErrors(error.problem), { area_id: 'area_id', geometry: 'geometry' });
      say('#al-message', 'alertsRefused', 'error', { detail: left.map((e) => codeMessage(e.code, e.field)).join(' ') });
    } else {
      say('#al-message', hooks.errorKey(error), 'error');
    }
  } finally {
    $('#al-follow').disabled = false;
  }
}

async function stop(s) {
  try {
    await request('DELETE', `/api/alerts/subscriptions/${s.id}`);
    say('#al-message', 'alertsStopped', 'success', { name: s.name });
    await load();
  } catch (error) {
    say('#al-message', hooks.errorKey(error), 'error');
  }
}

async function saveAddress() {
  clearFieldErrors($('#al-address-form'));
  try {
    settings = await request('PUT', '/api/alerts/email', { email: $('#al-address').value.trim() || null });
    say('#al-message', settings.email ? 'alertsAddressSaved' : 'alertsAddressRemoved', 'success');
    renderForm();
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) showFieldErrors('al-', problemErrors(error.problem), { email: 'address' });

    else say('#al-message', hooks.errorKey(error), 'error');
  }
}

/** Reads the settings, subscriptions, areas and notifications again and draws them. */
export async function load() {
  try {
    const [got, list] = await Promise.all([request('GET', '/api/alerts'), request('GET', '/api/areas')]);
    settings = got;
    areas = list?.areas ?? [];
    $('#al-retry').hidden = true;
  } catch (error) {
    say('#al-message', hooks.errorKey(error), 'error');
    $('#al-retry').hidden = false;
  }
  renderForm();
  renderSubscriptions();
  await poll();
}

/** Called when the screen is shown. */
export function shown() {
  load();
}

/** Called when the screen is left: a shape half drawn is dropped. */
export function left() {
  stopDrawing();
  if ($('#al-kind-drawn').checked) $('#al-kind-area').checked = true;
}

/** Redraws everything in the current language. */
export function render() {
  renderBadge();
  if (settings) {
    renderForm();
    renderSubscriptions();
  }
  renderItems();
}

/** Wires the screen up. */
export function init(given) {
  hooks = { ...hooks, ...given };
  for (const radio of document.querySelectorAll('input[name="al-kind"]')) radio.addEventListener('change', chooseKind);
  $('#al-area-search').addEventListener('input', renderAreaChoices);
  $('#al-corner').addEventListener('click', () => addCorner(mapView.instance().getCenter()));
  $('#al-undo').addEventListener('click', () => { drawing?.corners.pop(); renderCorners(); });
  $('#al-form').addEventListener('submit', (event) => { event.preventDefault(); follow(); });
  $('#al-address-form').addEventListener('submit', (event) => { event.preventDefault(); saveAddress(); });
  $('#al-read-all').addEventListener('click', () => markRead(null));
  $('#al-retry').addEventListener('click', () => load());
  outbox.onChange(() => poll());
}
