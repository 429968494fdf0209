// Young people's safety mapping: a facilitator starts an anonymous session
// and records each participant's red/amber/green places, areas and routes
// used or avoided, with reasons from the fixed list, by number (1, 2, 3 …)
// and never by name. The same marks are a map layer: pins counted per
// 100 m square, areas by rating, routes used (solid) or avoided (dashed).

import { t, say, lang, formatDate } from './i18n.js';
import { request, newKey, ApiError } from './api.js';
import * as vocab from './vocab.js';
import * as mapView from './map.js';
import { el } from './dom.js';
import { clearFieldErrors, showFieldErrors, problemErrors, codeMessage } from './forms.js';

const $ = (selector) => document.querySelector(selector);
const LETTERS = { red: 'R', amber: 'A', green: 'G' };

let hooks = { errorKey: () => 'errorGeneric', showView: () => {} };
let sessions = [];
let areas = [];
let current = null; // { session, marks }
let mark = null; // { corners, rating, route_use, key }
let sessionKey = newKey();

function named(a) {
  return lang() === 'cy' ? a.name_cy || a.name_en : a.name_en || a.name_cy;
}

function fill(select, options, chosen) {
  select.replaceChildren(...options.map(([value, text]) => el('option', { value, text })));
  if (chosen != null) select.value = chosen;
  if (select.selectedIndex < 0) select.selectedIndex = 0;
}

function today() {
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 10);
}

// ---------------------------------------------------------------- sessions

/** Called when the screen is shown. */
export async function shown() {
  if (current && !$('#ps-view').hidden) {
    renderDrawing();
    return;
  }
  showBrowse();
  if (!$('#ps-held_on').value) $('#ps-held_on').value = today();
  try {
    areas = (await request('GET', '/api/areas'))?.areas ?? [];
  } catch {
    areas = [];
  }
  renderChoices();
  await loadSessions();
}

/** Called when the screen is left: a mark half drawn is dropped. */
export function left() {
  if (mark) mark.corners = [];
  mapView.setDrawing([], false);
}

function showBrowse() {
  current = null;
  $('#ps-browse').hidden = false;
  $('#ps-view').hidden = true;
  mapView.setDrawing([], false);
}

async function loadSessions() {
  try {
    sessions = (await request('GET', '/api/perception-sessions'))?.sessions ?? [];
  } catch (error) {
    $('#ps-list').replaceChildren(el('li', { text: t(hooks.errorKey(error)) }));
    return;
  }
  renderSessions();
}

function sessionTitle(s) {
  return t('sessionTitle', { date: formatDate(s.held_on), id: s.id });
}

function renderSessions() {
  const sorted = [...sessions].sort((a, b) => String(b.held_on).localeCompare(String(a.held_on)) || b.id - a.id);
  $('#ps-list').replaceChildren(...(sorted.length ? sorted.map((s) => el('li', { 'data-id': String(s.id) },
    el('button', { type: 'button', class: 'link', text: sessionTitle(s), onclick: () => openSession(s.id) }),
    el('span', { class: 'place-kind', text: ` — ${t('sessionCounts', { participants: s.participants ?? 0, marks: s.marks ?? 0 })}` })))
    : [el('li', { text: t('sessionsNone') })]));
}

function renderChoices() {
  fill($('#ps-area_id'), [['', t('sessionNoArea')], ...areas.map((a) => [String(a.id), named(a)])], $('#ps-area_id').value || '');
  fill($('#ps-age_band'), [['', t('sessionNoAge')], ...vocab.terms('age_bands').map((term) => [term.code, vocab.label('age_bands', term.code)])], $('#ps-age_band').value || '');
  fill($('#pm-time_of_day'), vocab.terms('times_of_day').map((term) => [term.code, vocab.label('times_of_day', term.code)]), $('#pm-time_of_day').value || null);
  const ticked = new Set([...document.querySelectorAll('#pm-reasons input:checked')].map((i) => i.value));
  $('#pm-reasons').replaceChildren(...vocab.terms('perception_reasons').map((term) => el('label', { class: 'check' },
    el('input', { type: 'checkbox', value: term.code, checked: ticked.has(term.code) }), ` ${vocab.label('perception_reasons', term.code)}`)));
  renderChoiceButtons();
}

function renderChoiceButtons() {
  const button = (list, code, field) => el('button', {
    type: 'button', class: `choice${list === 'ratings' ? ` rating-${code}` : ''}`, 'data-code': code,
    'aria-pressed': String(mark?.[field] === code),
    text: list === 'ratings' ? `${LETTERS[code]} — ${vocab.label(list, code)}` : vocab.label(list, code),
    onclick: () => {
      if (!mark) return;
      mark[field] = code;
      $(`#pm-${field}-error`).textContent = '';
      renderChoiceButtons();
    },
  });
  $('#pm-ratings').replaceChildren(...vocab.terms('ratings').map((term) => button('ratings', term.code, 'rating')));
  $('#pm-uses').replaceChildren(...vocab.terms('route_uses').map((term) => button('route_uses', term.code, 'route_use')));
}

async function startSession() {
  const f = $('#ps-form');
  clearFieldErrors(f);
  const body = { held_on: $('#ps-held_on').value };
  if (!body.held_on) {
    showFieldErrors('ps-', [{ field: 'held_on', code: 'missing-field' }]);
    return;
  }
  if ($('#ps-area_id').value) body.area_id = Number($('#ps-area_id').value);
  if ($('#ps-age_band').value) body.age_band = $('#ps-age_band').value;
  $('#ps-save').disabled = true;
  say('#ps-message', 'logSaving');
  try {
    const made = await request('POST', '/api/perception-sessions', body, { idempotencyKey: sessionKey });
    sessionKey = newKey();
    say('#ps-message', null);
    await loadSessions();
    await openSession(made.id);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) {
      say('#ps-message', 'exerciseNotSaved', 'error');
    } else {
      sessionKey = newKey();
      const left = showFieldErrors('ps-', problemErrors(error.problem));
      say('#ps-message', left.length ? 'placeCheckFieldsOther' : (error.status === 422 ? 'placeCheckFields' : hooks.errorKey(error)), 'error', { detail: left.map((e) => codeMessage(e.code, e.field)).join(' ') });
    }
  } finally {
    $('#ps-save').disabled = false;
  }
}

async function openSession(id) {
  hooks.showView('perception');
  try {
    current = await request('GET', `/api/perception-sessions/${id}`);
  } catch (error) {
    say('#ps-message', hooks.errorKey(error), 'error');
    return;
  }
  $('#ps-browse').hidden = true;
  $('#ps-view').hidden = false;
  // Participant numbers never leave the server: a session opened again
  // starts on a new participant, after those it has, so no new young
  // person's marks are added to someone else's.
  $('#pm-participant').value = String(Math.min(200, (current.session.participants || 0) + 1));
  newMark();
  renderSession();
  $('#psv-title').focus();
}

function renderSession() {
  if (!current) return;
  const s = current.session;
  const parts = [formatDate(s.held_on)];
  if (s.age_band) parts.push(vocab.label('age_bands', s.age_band));
  const area = areas.find((a) => a.id === s.area_id);
  if (area) parts.push(named(area));
  $('#psv-title').textContent = `${t('sessionTitle', { date: '', id: s.id }).trim()} — ${parts.join(', ')}`;
  const participants = s.participants ?? 0;
  $('#psv-summary').textContent = t('sessionCounts', { participants, marks: (current.marks || []).length });
  $('#psv-marks').replaceChildren(...(current.marks || []).map((m) => el('li', { 'data-id': String(m.id) }, markText(m))));
}

function markText(m) {
  const what = m.kind === 'route' ? vocab.label('route_uses', m.route_use) : `${LETTERS[m.rating] || ''} — ${vocab.label('ratings', m.rating)}`;
  const reasons = (m.reasons || []).map((r) => vocab.label('perception_reasons', r)).join(', ');
  return `${t(`markKind_${m.kind}`)} — ${what}${reasons ? ` — ${reasons}` : ''} — ${vocab.label('times_of_day', m.time_of_day)}`;
}

// ---------------------------------------------------------------- one mark

function kind() {
  return document.querySelector('input[name="mark-kind"]:checked')?.value || 'pin';
}

function newMark() {
  const keep = mark ? { rating: null, route_use: null } : {};
  mark = { corners: [], rating: null, route_use: null, ...keep, key: newKey() };
  for (const box of document.querySelectorAll('#pm-reasons input')) box.checked = false;
  clearFieldErrors($('#pm-form'));
  renderKind();
}

function renderKind() {
  const k = kind();
  $('#pm-rating-box').hidden = k === 'route';
  $('#pm-use-box').hidden = k !== 'route';
  renderChoiceButtons();
  renderDrawing();
}

function renderDrawing() {
  if (!mark || !current) return;
  const n = mark.corners.length;
  const k = kind();
  $('#pm-corners').textContent = k === 'pin' ? t(n ? 'annotationPointPlaced' : 'annotationPointNone') : t('areasCorners', { count: n });
  mapView.setDrawing(mark.corners, k === 'area');
}

/** Whether map clicks draw the mark now. */
export function isDrawing() {
  return Boolean(current) && Boolean(mark) && !$('#ps-view').hidden;
}

/** Adds a point where the map was clicked (a pin moves; areas and routes grow). */
export function addVertex(lngLat) {
  if (!mark) return;
  const c = [Number(lngLat.lng.toFixed(6)), Number(lngLat.lat.toFixed(6))];
  if (kind() === 'pin') mark.corners = [c];
  else mark.corners.push(c);
  $('#pm-geometry-error').textContent = '';
  renderDrawing();
}

function geometry() {
  const c = mark.corners;
  const k = kind();
  if (k === 'pin') return c.length === 1 ? { type: 'Point', coordinates: c[0] } : null;
  if (k === 'route') return c.length >= 2 ? { type: 'LineString', coordinates: c } : null;
  return c.length >= 3 ? { type: 'Polygon', coordinates: [[...c, c[0]]] } : null;
}

let saving = false;

async function saveMark() {
  if (!current || !mark || saving) return;
  const f = $('#pm-form');
  clearFieldErrors(f);
  say('#pm-message', null);
  const k = kind();
  const participant = Number($('#pm-participant').value);
  const shape = geometry();
  const missing = [];
  if (!Number.isInteger(participant) || participant < 1 || participant > 200) missing.push({ field: 'participant', code: 'out-of-range' });
  if (k !== 'route' && !mark.rating) missing.push({ field: 'rating', code: 'missing-field' });
  if (k === 'route' && !mark.route_use) missing.push({ field: 'route_use', code: 'missing-field' });
  if (missing.length) showFieldErrors('pm-', missing);
  if (!shape) say('#pm-geometry-error', { pin: 'annotationNeedPoint', route: 'annotationNeedTwo', area: 'areasNeedThree' }[k]);
  if (missing.length || !shape) {
    say('#pm-message', 'placeCheckFields', 'error');
    return;
  }
  const body = {
    participant, kind: k, geometry: shape,
    reasons: [...document.querySelectorAll('#pm-reasons input:checked')].map((i) => i.value),
    time_of_day: $('#pm-time_of_day').value,
  };
  if (k === 'route') body.route_use = mark.route_use;
  else body.rating = mark.rating;
  saving = true;
  $('#pm-save').disabled = true;
  say('#pm-message', 'logSaving');
  try {
    await request('POST', `/api/perception-sessions/${current.session.id}/marks`, body, { idempotencyKey: mark.key });
    current = await request('GET', `/api/perception-sessions/${current.session.id}`);
    newMark();
    renderSession();
    say('#pm-message', 'markSaved', 'success', { n: participant });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) {
      say('#pm-message', 'exerciseNotSaved', 'error');
    } else {
      mark.key = newKey();
      const left = showFieldErrors('pm-', problemErrors(error.problem).map((e) => ({ ...e, field: e.field.replace(/\[\d+\]$/, '') })));
      say('#pm-message', left.length ? 'placeCheckFieldsOther' : (error.status === 422 ? 'placeCheckFields' : hooks.errorKey(error)), 'error', { detail: left.map((e) => codeMessage(e.code, e.field)).join(' ') });
    }
  } finally {
    saving = false;
    $('#pm-save').disabled = false;
  }
}

// ---------------------------------------------------------------- the layer

let fetching = 0;
let shownLayer = null;

function reasonsOf(props) {
  const r = typeof props.reasons === 'string' ? JSON.parse(props.reasons || '{}') : props.reasons || {};
  return r;
}

function squareText(p) {
  return `R${p.red ?? 0} A${p.amber ?? 0} G${p.green ?? 0}`;
}

function labelled(collection) {
  return {
    type: 'FeatureCollection',
    features: (collection.features || []).map((f, i) => {
      const p = f.properties || {};
      const label = p.kind === 'pin-square' ? squareText(p) : p.kind === 'area' ? LETTERS[p.rating] : undefined;
      return { ...f, id: i, properties: { ...p, ...(label ? { label } : {}) } };
    }),
  };
}

/** Words for a square's counts, for the list and its popup. */
function squareWords(p) {
  return t('perceptionSquareWords', { red: p.red ?? 0, amber: p.amber ?? 0, green: p.green ?? 0, participants: p.participants ?? 0 });
}

function renderLayerList() {
  const squares = (shownLayer?.features || []).filter((f) => f.properties?.kind === 'pin-square');
  $('#perceptions-list').replaceChildren(...squares.map((f) => el('li', {},
    el('span', { class: 'area-name', text: squareText(f.properties) }),
    el('span', { class: 'area-count', text: squareWords(f.properties) }))));
  if (shownLayer && !squares.length) say('#perceptions-message', 'perceptionsNone');
}

/** Shows or hides the layer; when on, asks for the marks in view. */
export async function refresh(bbox) {
  const on = $('#f-perceptions').checked;
  $('#legend-perceptions').hidden = !on;
  if (!on) {
    shownLayer = null;
    mapView.setPerceptions(null);
    return;
  }
  const mine = ++fetching;
  try {
    const page = await request('GET', `/ogc/collections/perceptions/items?bbox=${bbox}&limit=1000`);
    if (mine !== fetching) return;
    shownLayer = page || { type: 'FeatureCollection', features: [] };
    say('#perceptions-message', null);
    mapView.setPerceptions(labelled(shownLayer));
    renderLayerList();
  } catch (error) {
    if (mine !== fetching) return;
    say('#perceptions-message', hooks.errorKey(error), 'error');
  }
}

/** A clicked square, area or route. */
export function summary(p) {
  const reasons = Object.entries(reasonsOf(p)).map(([code, n]) => `${vocab.label('perception_reasons', code)} (${n})`);
  const list = Array.isArray(p.reasons) ? p.reasons.map((c) => vocab.label('perception_reasons', c)) : reasons;
  let heading;
  if (p.kind === 'pin-square') heading = squareWords(p);
  else if (p.kind === 'area') heading = `${t('markKind_area')}: ${vocab.label('ratings', p.rating)}`;
  else heading = vocab.label('route_uses', p.route_use);
  return el('div', { class: 'popup' },
    el('h2', { text: heading }),
    list.length ? el('p', { text: `${t('markReasons')} ${list.join(', ')}` }) : null);
}

// ---------------------------------------------------------------- language and start

/** Redraws in the current language. */
export function render() {
  renderChoices();
  renderSessions();
  renderSession();
  renderDrawing();
  if (shownLayer) {
    mapView.setPerceptions(labelled(shownLayer));
    renderLayerList();
  }
}

export function init(given) {
  hooks = { ...hooks, ...given };
  $('#ps-form').addEventListener('submit', (event) => { event.preventDefault(); startSession(); });
  $('#psv-back').addEventListener('click', async () => { showBrowse(); await loadSessions(); $('#perception-title').focus(); });
  $('#pm-form').addEventListener('submit', (event) => { event.preventDefault(); saveMark(); });
  $('#pm-next').addEventListener('click', () => {
    const n = Number($('#pm-participant').value) || 0;
    $('#pm-participant').value = String(Math.min(200, n + 1));
    newMark();
    say('#pm-message', 'markNextSaid', 'info', { n: Math.min(200, n + 1) });
  });
  for (const radio of document.querySelectorAll('input[name="mark-kind"]')) radio.addEventListener('change', () => { if (mark) mark.corners = []; renderKind(); });
  $('#pm-centre').addEventListener('click', () => addVertex(mapView.instance().getCenter()));
  $('#pm-undo').addEventListener('click', () => { if (mark) { mark.corners.pop(); renderDrawing(); } });
}
