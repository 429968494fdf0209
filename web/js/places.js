// The places register: a searchable list, each place's view (its register
// entry, its observations by month and the linked observations), the add,
// edit and remove forms for the roles that keep the register, and the
// import of a CSV or GeoJSON file. The same places are a map layer and the
// "registered place" choice when logging a report.

import { t, say, lang, formatDateTime } from './i18n.js';
import { request, newKey, ApiError } from './api.js';
import * as vocab from './vocab.js';
import * as mapView from './map.js';
import { el } from './dom.js';
import { clearFieldErrors, showFieldErrors, problemErrors, codeMessage, importErrorList, fileContentType } from './forms.js';

const $ = (selector) => document.querySelector(selector);
const EDITORS = new Set(['field-officer', 'coordinator', 'admin']);
// The place form's fields, by the server's names; a position's faults go next to "Where".
const FORM_FIELDS = ['name_en', 'name_cy', 'kind', 'address', 'licence_reference', 'manager_role', 'training', 'safe_place'];
const FIELD_MAP = { longitude: 'location', latitude: 'location', location: 'location' };

let places = [];
let hooks = { showView: () => {}, openDetails: () => {}, errorKey: () => 'errorGeneric', onChange: () => {} };
let current = null;
let form = null;
let opening = 0;

/** Whether a role may add, edit, remove and import places. */
export function canEdit(role) {
  return EDITORS.has(role);
}

/** A place's name in the current language. */
export function placeName(place) {
  return lang() === 'cy' ? place.name_cy || place.name_en : place.name_en || place.name_cy;
}

/** Every place loaded. */
export function all() {
  return places;
}

/** A place by id, if loaded. */
export function byId(id) {
  return places.find((p) => p.id === Number(id));
}

/** Metres between two positions (near enough at town scale). */
function metres(a, b) {
  const rad = Math.PI / 180;
  const x = (b.lon - a.lon) * rad * Math.cos(((a.lat + b.lat) / 2) * rad);
  const y = (b.lat - a.lat) * rad;
  return Math.sqrt(x * x + y * y) * 6371000;
}

/** "120 m" or "1.4 km". */
export function formatDistance(m) {
  return m < 1000 ? `${Math.round(m / 10) * 10} m` : `${(m / 1000).toFixed(1)} km`;
}

/** Places nearest `lngLat` first ({place, distance}); by name when there is no position. */
export function nearest(lngLat, limit = 100) {
  if (!lngLat) {
    return [...places].sort((a, b) => placeName(a).localeCompare(placeName(b), lang())).slice(0, limit).map((place) => ({ place, distance: null }));
  }
  const here = { lon: lngLat.lng, lat: lngLat.lat };
  return places.map((place) => ({ place, distance: metres(here, place.location) }))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, limit);
}

function collection() {
  return {
    type: 'FeatureCollection',
    features: places.map((p) => ({
      type: 'Feature',
      id: p.id,
      geometry: { type: 'Point', coordinates: [p.location.lon, p.location.lat] },
      properties: { id: p.id, kind: p.kind, safe_place: Boolean(p.safe_place), name: placeName(p) },
    })),
  };
}

/** Loads the register (again), redraws the list and the layer, and tells whoever listens. */
export async function load() {
  try {
    const data = await request('GET', '/api/places');
    places = data?.places ?? [];
  } catch {
    // Offline or not allowed: keep what was there.
  }
  mapView.setPlaces(collection());
  renderList();
  hooks.onChange(places);
  return places;
}

/** Connects the screen's controls; `hooks` are the app's own flows. */
export function init(given) {
  hooks = { ...hooks, ...given };
  $('#p-search').addEventListener('input', renderList);
  $('#p-kind').addEventListener('change', renderList);
  $('#p-add').addEventListener('click', () => openForm(null));
  $('#pv-back').addEventListener('click', showBrowse);
  $('#pv-edit').addEventListener('click', () => current && openForm(current.place));
  $('#pv-remove').addEventListener('click', removeCurrent);
  $('#pf-cancel').addEventListener('click', cancelForm);
  $('#pf-centre').addEventListener('click', () => setLocation(mapView.instance().getCenter()));
  $('#place-form').addEventListener('submit', (event) => { event.preventDefault(); save(); });
  $('#p-import').addEventListener('click', importFile);
  $('#p-licensing-pick').addEventListener('click', () => {
    picking = true;
    say($('#p-licensing-point'), 'licensingPickNow');
  });
  $('#p-licensing-en').addEventListener('click', () => openLicensing('en'));
  $('#p-licensing-cy').addEventListener('click', () => openLicensing('cy'));
}

// ---------------------------------------------------------------- licensing consultation reports

let picking = false;
let proposed = null;

/** The printable licensing report for a place, or for a point: `{place}` or `{lon, lat}`. */
export function licensingUrl(where, language) {
  const params = new URLSearchParams(where.place != null ? { place: String(where.place) } : { lon: where.lon.toFixed(6), lat: where.lat.toFixed(6) });
  params.set('format', 'html');
  params.set('lang', language);
  return `/api/reports/licensing?${params}`;
}

/** Whether a map click picks the proposed site now. */
export function isPicking() {
  return picking && !$('#places-browse').hidden;
}

/** Picks the proposed site where the map was clicked. */
export function setPick(lngLat) {
  picking = false;
  proposed = { lon: lngLat.lng, lat: lngLat.lat };
  mapView.setPin(lngLat);
  say($('#p-licensing-point'), 'licensingPicked', 'info', { where: mapView.whereWords(lngLat) });
}

function openLicensing(language) {
  const centre = mapView.instance().getCenter();
  const where = proposed || { lon: centre.lng, lat: centre.lat };
  if (!proposed) say($('#p-licensing-point'), 'licensingAtCentre', 'info', { where: mapView.whereWords(centre) });
  window.open(licensingUrl(where, language), '_blank', 'noopener');
}

// ---------------------------------------------------------------- the list

function fillSelect(select, list, allLabel) {
  const chosen = select.value;
  select.replaceChildren();
  if (allLabel) select.append(el('option', { value: '', text: allLabel }));
  for (const term of vocab.terms(list)) select.append(el('option', { value: term.code, text: vocab.label(list, term.code) }));
  select.value = chosen;
  if (select.selectedIndex < 0) select.selectedIndex = 0;
}

function safeBadge() {
  return el('span', { class: 'badge-safe' }, el('span', { 'aria-hidden': 'true', text: '✓ ' }), t('placeSafeShort'));
}

/** Redraws the list with the search and kind chosen. */
export function renderList() {
  const search = $('#p-search').value.trim().toLocaleLowerCase();
  const kind = $('#p-kind').value;
  const shown = places
    .filter((p) => !kind || p.kind === kind)
    .filter((p) => !search || [p.name_en, p.name_cy, p.address].some((s) => (s || '').toLocaleLowerCase().includes(search)))
    .sort((a, b) => placeName(a).localeCompare(placeName(b), lang()));
  $('#places-list').replaceChildren(...shown.map((p) => el('li', { 'data-id': String(p.id) },
    el('button', { type: 'button', class: 'link', text: placeName(p), onclick: () => openPlace(p.id) }),
    el('span', { class: 'place-kind', text: ` — ${vocab.label('place_kinds', p.kind)}` }),
    p.safe_place ? ' ' : null,
    p.safe_place ? safeBadge() : null)));
  $('#places-count').textContent = shown.length === places.length
    ? t('placesCount', { count: places.length })
    : t('placesCountFiltered', { shown: shown.length, count: places.length });
}

/** Fills the screen's choices in the current language and redraws what is open. */
export function render() {
  fillSelect($('#p-kind'), 'place_kinds', t('filterAll'));
  fillSelect($('#pf-kind'), 'place_kinds');
  fillSelect($('#pf-training'), 'training');
  renderList();
  mapView.setPlaces(collection());
  if (current && !$('#place-view').hidden) renderPlace();
  if (form) renderFormTexts();
}

function showOnly(part) {
  $('#places-browse').hidden = part !== 'browse';
  $('#place-view').hidden = part !== 'view';
  $('#place-form').hidden = part !== 'form';
}

function showBrowse() {
  form = null;
  proposed = null;
  current = null;
  mapView.setPin(null);
  showOnly('browse');
  $('#places-title').focus();
}

/** Called when the places screen is shown: a form half filled stays; otherwise the list. */
export function shown() {
  if (form && !$('#place-form').hidden) {
    if (form.location) mapView.setPin(form.location);
    return;
  }
  current = null;
  showOnly('browse');
}

// ---------------------------------------------------------------- one place

function monthName(month) {
  const [year, number] = String(month || '').split('-').map(Number);
  return year && number ? `${t(`month${number - 1}`)} ${year}` : String(month || '');
}

/** Opens a place's view (from the list, the map, or after saving). */
export async function openPlace(id, note) {
  const mine = ++opening;
  form = null;
  mapView.setPin(null);
  hooks.showView('places', { keep: true });
  showOnly('view');
  $('#pv-message').dataset.kind = note ? 'success' : 'info';
  $('#pv-message').textContent = note || '';
  const known = byId(id);
  current = { place: known || { id, name_en: '', name_cy: '' }, observations: null };
  if (known) renderPlace();
  try {
    const data = await request('GET', `/api/places/${id}`);
    if (mine !== opening) return;
    current = { place: data.place, observations: data.observations };
    renderPlace();
  } catch (error) {
    if (mine !== opening) return;
    say($('#pv-message'), hooks.errorKey(error), 'error');
  }
  $('#pv-title').focus();
}

function field(label, value) {
  return [el('dt', { text: label }), el('dd', { text: value == null || value === '' ? '—' : String(value) })];
}

function renderPlace() {
  const p = current.place;
  $('#pv-title').textContent = placeName(p);
  $('#pv-safe').hidden = !p.safe_place;
  $('#pv-safe').replaceChildren(el('span', { 'aria-hidden': 'true', text: '✓ ' }), t('placeSafeBadge'));
  const fields = $('#pv-fields');
  fields.replaceChildren(
    ...field(t('placeNameEn'), p.name_en),
    ...field(t('placeNameCyShort'), p.name_cy),
    ...field(t('placesKind'), p.kind ? vocab.label('place_kinds', p.kind) : ''),
    ...field(t('placeAddress'), p.address),
    ...field(t('placeLicence'), p.licence_reference),
    ...field(t('placeManagerRole'), p.manager_role),
    ...field(t('placeTraining'), p.training ? vocab.label('training', p.training) : ''),
    ...field(t('placeSafe'), p.kind ? t(p.safe_place ? 'yes' : 'no') : ''),
    ...field(t('placePosition'), p.location ? mapView.whereWords({ lng: p.location.lon, lat: p.location.lat }) : ''),
    ...field(t('placeUpdated'), p.updated_at ? formatDateTime(p.updated_at) : ''),
  );
  if (p.id != null) {
    $('#pv-licensing-en').href = licensingUrl({ place: p.id }, 'en');
    $('#pv-licensing-cy').href = licensingUrl({ place: p.id }, 'cy');
  }
  const obs = current.observations;
  const body = $('#pv-months').tBodies[0];
  if (!obs) {
    $('#pv-total').textContent = t('loading');
    body.replaceChildren();
    $('#pv-observations').replaceChildren();
    return;
  }
  $('#pv-total').textContent = t('placeTotal', { total: obs.total ?? 0 });
  const months = obs.by_month || [];
  const max = Math.max(1, ...months.map((m) => m.count));
  body.replaceChildren(...(months.length ? months.map((m) => {
    const bar = el('span', { class: 'bar', 'aria-hidden': 'true' });
    // Set through the CSSOM: the Content-Security-Policy allows no style attributes.
    bar.style.width = `${Math.max(2, Math.round((m.count / max) * 100))}%`;
    return el('tr', {},
      el('th', { scope: 'row', text: monthName(m.month) }),
      el('td', { class: 'num', text: String(m.count) }),
      el('td', { class: 'bar-cell' }, bar));
  }) : [el('tr', {}, el('td', { colspan: '3', text: t('placeNoObservations') }))]));
  const items = obs.items || [];
  $('#pv-observations').replaceChildren(...(items.length ? items.map((o) => el('li', {}, el('button', {
    type: 'button',
    class: 'link',
    text: `${vocab.label('categories', o.category)} — ${formatDateTime(o.observed_at)} — ${vocab.label('statuses', o.status)}`,
    onclick: () => hooks.openDetails({ ...o, id: o.id }),
  }))) : [el('li', { text: t('placeNoObservations') })]));
}

async function removeCurrent() {
  if (!current) return;
  const p = current.place;
  if (!window.confirm(t('placeRemoveConfirm', { name: placeName(p) }))) return;
  try {
    await request('DELETE', `/api/places/${p.id}`);
    await load();
    showBrowse();
    $('#places-count').textContent = t('placeRemoved', { name: placeName(p) });
  } catch (error) {
    say($('#pv-message'), hooks.errorKey(error), 'error');
  }
}

// ---------------------------------------------------------------- add and edit

/** Whether a map click sets the place's position now. */
export function isPlacing() {
  return Boolean(form) && !$('#place-form').hidden;
}

/** Sets the position of the place in the form. */
export function setLocation(lngLat) {
  if (!form) return;
  form.location = { lng: lngLat.lng, lat: lngLat.lat };
  mapView.setPin(form.location);
  $('#pf-location-error').textContent = '';
  renderFormTexts();
}

function renderFormTexts() {
  $('#pf-title').textContent = form.place ? t('placeEditTitle', { name: placeName(form.place) }) : t('placeAddTitle');
  $('#pf-location').textContent = form.location
    ? t('logPlaced', { where: mapView.whereWords(form.location) })
    : t('logNotPlaced');
}

function openForm(place) {
  hooks.showView('places', { keep: true });
  const f = $('#place-form');
  f.reset();
  clearFieldErrors(f);
  $('#pf-summary').textContent = '';
  form = {
    place,
    key: newKey(),
    location: place ? { lng: place.location.lon, lat: place.location.lat } : null,
  };
  fillSelect($('#pf-kind'), 'place_kinds');
  fillSelect($('#pf-training'), 'training');
  if (place) {
    for (const name of ['name_en', 'name_cy', 'address', 'licence_reference', 'manager_role']) $(`#pf-${name}`).value = place[name] ?? '';
    $('#pf-kind').value = place.kind;
    $('#pf-training').value = place.training;
    $('#pf-safe_place').checked = Boolean(place.safe_place);
  } else {
    $('#pf-kind').selectedIndex = 0;
    $('#pf-training').value = 'not-known';
  }
  mapView.setPin(form.location);
  renderFormTexts();
  showOnly('form');
  $('#pf-title').focus();
}

function cancelForm() {
  const place = form?.place;
  form = null;
  mapView.setPin(null);
  if (place) openPlace(place.id);
  else showBrowse();
}

function formBody() {
  const value = (name) => $(`#pf-${name}`).value.trim();
  const body = {
    name_en: value('name_en'),
    name_cy: value('name_cy') || null,
    kind: $('#pf-kind').value,
    longitude: Number(form.location.lng.toFixed(6)),
    latitude: Number(form.location.lat.toFixed(6)),
    address: value('address'),
    licence_reference: value('licence_reference') || null,
    manager_role: value('manager_role'),
    training: $('#pf-training').value,
    safe_place: $('#pf-safe_place').checked,
  };
  if (form.place) body.version = form.place.version;
  return body;
}

function summary(key, kind = 'error', vars = {}) {
  $('#pf-summary').dataset.kind = kind;
  $('#pf-summary').textContent = key ? t(key, vars) : '';
}

let saving = false;

async function save() {
  if (!form || saving) return;
  const f = $('#place-form');
  clearFieldErrors(f);
  summary(null);
  const missing = [];
  if (!$('#pf-name_en').value.trim()) missing.push({ field: 'name_en', code: 'missing-field' });
  if (!form.location) missing.push({ field: 'location', code: 'missing-field' });
  if (missing.length) {
    showFieldErrors('pf-', missing, FIELD_MAP);
    summary('placeCheckFields');
    return;
  }
  const editing = form.place;
  saving = true;
  $('#pf-save').disabled = true;
  summary('logSaving', 'info');
  try {
    const saved = editing
      ? await request('PUT', `/api/places/${editing.id}`, formBody())
      : await request('POST', '/api/places', formBody(), { idempotencyKey: form.key });
    const place = saved?.place ?? saved;
    form = null;
    await load();
    await openPlace(place.id, t('placeSaved'));
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) {
      // Maybe saved, maybe not: the same key goes with the next try.
      summary('placeNotSaved');
    } else {
      // Refused: nothing was kept, so the next try is a new request.
      form.key = newKey();
      if (error.status === 409 || error.code === 'conflict') {
        try {
          const latest = await request('GET', `/api/places/${editing.id}`);
          form.place = latest.place;
        } catch {
          // keep the old version; the next save says so again
        }
        summary('placeConflict');
      } else if (error.status === 422 || error.status === 400) {
        const left = showFieldErrors('pf-', problemErrors(error.problem), FIELD_MAP);
        summary(left.length ? 'placeCheckFieldsOther' : 'placeCheckFields', 'error', { detail: left.map((e) => codeMessage(e.code, e.field)).join(' ') });
      } else {
        summary(hooks.errorKey(error));
      }
    }
  } finally {
    saving = false;
    $('#pf-save').disabled = false;
  }
}

// ---------------------------------------------------------------- import

async function importFile() {
  const result = $('#p-import-result');
  const file = $('#p-import-file').files[0];
  if (!file) {
    say(result, 'importChooseFile', 'error');
    return;
  }
  say(result, 'importSending');
  try {
    const text = await file.text();
    const counts = await request('POST', '/api/places/import', text, { contentType: fileContentType(file) });
    say(result, 'placesImported', 'success', { added: counts.added ?? 0, updated: counts.updated ?? 0, unchanged: counts.unchanged ?? 0 });
    await load();
  } catch (error) {
    const errors = error instanceof ApiError ? problemErrors(error.problem) : [];
    if (error.status === 413) say(result, 'importTooLarge', 'error');
    else if (errors.length) say(result, null, 'error'), result.replaceChildren(el('p', { text: t('importRefused', { count: errors.length }) }), importErrorList(errors));
    else say(result, hooks.errorKey(error), 'error');
  }
}

export { FORM_FIELDS };
