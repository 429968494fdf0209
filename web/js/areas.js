// Areas: wards, LSOAs, neighbourhoods or shapes drawn by hand, as a map
// layer shaded by how many observations (with the filters) fall in each,
// labelled and listed with the count — or, below the threshold for roles
// under coordinator, the server's own "fewer than 5" words, never a number.
// Coordinators and administrators draw, import and delete areas.

import { t, say, lang } from './i18n.js';
import { request, newKey, ApiError } from './api.js';
import * as vocab from './vocab.js';
import * as mapView from './map.js';
import { el } from './dom.js';
import { clearFieldErrors, showFieldErrors, problemErrors, codeMessage, importErrorList } from './forms.js';

const $ = (selector) => document.querySelector(selector);
const MANAGERS = new Set(['coordinator', 'admin']);

let hooks = { errorKey: () => 'errorGeneric', onChanged: () => {} };
let shown = { type: 'FeatureCollection', features: [] };
let fetching = 0;
let lastQuery = null;
let drawing = null;

/** Whether a role may draw, import and delete areas. */
export function canManage(role) {
  return MANAGERS.has(role);
}

/** Whether the areas layer is on. */
export function enabled() {
  return $('#f-areas').checked;
}

/** An area's name in the language in use (the other when it has only one). */
export function areaName(props) {
  return lang() === 'cy' ? props.name_cy || props.name_en : props.name_en || props.name_cy;
}

/** An area's count as words: the number, or the server's label when it is withheld. */
export function countText(props) {
  const withheld = props.suppressed === true || props.count == null;
  if (withheld) {
    const label = lang() === 'cy' ? props.count_label_cy : props.count_label;
    return label || t('areaCountWithheld');
  }
  return t(props.count === 1 ? 'areaCountOne' : 'areaCount', { count: props.count });
}

/** The short count drawn on the map: "12", or the withheld words. */
function mapCount(props) {
  const withheld = props.suppressed === true || props.count == null;
  if (withheld) return (lang() === 'cy' ? props.count_label_cy : props.count_label) || t('areaCountWithheld');
  return String(props.count);
}

function labelled(collection) {
  return {
    type: 'FeatureCollection',
    features: (collection.features || []).map((f) => ({
      ...f,
      properties: { ...f.properties, label: `${areaName(f.properties)}\n${mapCount(f.properties)}` },
    })),
  };
}

function renderList() {
  const list = $('#areas-list');
  const features = [...(shown.features || [])].sort((a, b) => areaName(a.properties).localeCompare(areaName(b.properties), lang()));
  list.replaceChildren(...features.map((f) => el('li', { 'data-id': String(f.properties.id ?? f.id), 'data-code': f.properties.code || '' },
    el('span', { class: 'area-name', text: areaName(f.properties) }),
    el('span', { class: 'area-count', text: countText(f.properties) }))));
  if (!features.length && lastQuery) message('#areas-message', 'areasNone');
}

function message(target, key, kind = 'info', vars = {}) {
  say($(target), key, kind, vars);
}

/**
 * Shows or hides the layer, and when shown asks for the areas in view with
 * their counts under `filters` (the map's own filter parameters).
 */
export async function refresh(filters, bbox, force = false) {
  const on = enabled();
  $('#area-options').hidden = !on;
  $('#legend-areas').hidden = !on;
  mapView.showAreas(on);
  if (!on) {
    lastQuery = null;
    return;
  }
  const params = new URLSearchParams(filters);
  const kind = $('#f-area-kind').value;
  if (kind) params.set('kind', kind);
  params.set('bbox', bbox);
  params.set('limit', '1000');
  const query = params.toString();
  if (query === lastQuery && !force) return;
  const mine = ++fetching;
  $('#legend-areas').setAttribute('aria-busy', 'true');
  try {
    const page = await request('GET', `/ogc/collections/areas/items?${query}`);
    if (mine !== fetching) return;
    lastQuery = query;
    shown = page || { type: 'FeatureCollection', features: [] };
    message('#areas-message', null);
    mapView.setAreas(labelled(shown));
    renderList();
  } catch (error) {
    if (mine !== fetching) return;
    lastQuery = null;
    message('#areas-message', hooks.errorKey(error), 'error');
  } finally {
    if (mine === fetching) $('#legend-areas').removeAttribute('aria-busy');
  }
}

/** A clicked area's popup: its name, kind and count. */
export function summary(props) {
  return el('div', { class: 'popup' },
    el('h2', { text: areaName(props) }),
    el('dl', {},
      el('dt', { text: t('areaKind') }), el('dd', { text: vocab.label('area_kinds', props.kind) }),
      el('dt', { text: t('popupObservations') }), el('dd', { text: countText(props) })));
}

// ---------------------------------------------------------------- choices and language

function fillKinds(select, first) {
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '', text: first }),
    ...vocab.terms('area_kinds').map((term) => el('option', { value: term.code, text: vocab.label('area_kinds', term.code) })));
  select.value = chosen;
  if (select.selectedIndex < 0) select.selectedIndex = 0;
}

/** Redraws everything in the current language. */
export function render(threshold = 5) {
  fillKinds($('#f-area-kind'), t('areaKindAll'));
  fillKinds($('#a-import-kind'), t('areaKindDetect'));
  $('#legend-areas .legend-suppressed').textContent = t('legendSuppressed', { threshold });
  mapView.setAreas(labelled(shown));
  renderList();
  renderCorners();
  if (!$('#a-all').closest('[hidden]')) renderAll();
}

// ---------------------------------------------------------------- managing areas

let everything = [];

async function renderAll(reload = false) {
  if (reload) {
    try {
      everything = (await request('GET', '/api/areas'))?.areas ?? [];
    } catch (error) {
      $('#a-all').replaceChildren(el('li', { text: t(hooks.errorKey(error)) }));
      return;
    }
  }
  const sorted = [...everything].sort((a, b) => (a.kind === b.kind ? areaName(a).localeCompare(areaName(b), lang()) : a.kind.localeCompare(b.kind)));
  $('#a-all').replaceChildren(...(sorted.length ? sorted.map((a) => el('li', { 'data-id': String(a.id), 'data-code': a.code },
    el('span', { class: 'area-name', text: areaName(a) }),
    el('span', { class: 'place-kind', text: ` — ${vocab.label('area_kinds', a.kind)}` }),
    el('button', {
      type: 'button', class: 'quiet small', text: t('areaDelete'),
      'aria-label': t('areaDeleteNamed', { name: areaName(a) }),
      onclick: () => remove(a),
    }))) : [el('li', { text: t('areasNoneAtAll') })]));
}

/** Called when the areas screen is shown. */
export function opened() {
  renderAll(true);
}

/** Called when the areas screen is left: a shape half drawn is dropped. */
export function left() {
  stopDrawing();
}

async function remove(area) {
  if (!window.confirm(t('areaDeleteConfirm', { name: areaName(area) }))) return;
  try {
    await request('DELETE', `/api/areas/${area.id}`);
    message('#a-message', 'areaDeleted', 'success', { name: areaName(area) });
    await renderAll(true);
    hooks.onChanged();
  } catch (error) {
    message('#a-message', hooks.errorKey(error), 'error');
  }
}

/** Whether map clicks add corners now. */
export function isDrawing() {
  return Boolean(drawing) && !drawing.closed;
}

function renderCorners() {
  if (!drawing) return;
  $('#a-corners').textContent = drawing.closed
    ? t('areasClosed', { count: drawing.corners.length })
    : t('areasCorners', { count: drawing.corners.length });
  $('#a-close').disabled = drawing.closed;
  mapView.setDrawing(drawing.corners, drawing.closed);
}

function startDrawing() {
  drawing = { corners: [], closed: false, key: newKey() };
  $('#a-form').reset();
  clearFieldErrors($('#a-form'));
  $('#a-drawing').hidden = false;
  $('#a-draw').hidden = true;
  message('#a-message', null);
  renderCorners();
  $('#a-corner').focus();
}

function stopDrawing() {
  drawing = null;
  $('#a-drawing').hidden = true;
  $('#a-draw').hidden = false;
  $('#a-corners').textContent = '';
  mapView.setDrawing([], false);
}

/** Adds a corner where the map was clicked (or at its centre). */
export function addCorner(lngLat) {
  if (!drawing || drawing.closed) return;
  drawing.corners.push([Number(lngLat.lng.toFixed(6)), Number(lngLat.lat.toFixed(6))]);
  renderCorners();
}

function undo() {
  if (!drawing) return;
  if (drawing.closed) drawing.closed = false;
  else drawing.corners.pop();
  renderCorners();
}

function closeShape() {
  if (!drawing) return;
  if (drawing.corners.length < 3) {
    message('#a-message', 'areasNeedThree', 'error');
    return;
  }
  drawing.closed = true;
  message('#a-message', null);
  renderCorners();
  $('#a-name_en').focus();
}

let saving = false;

async function save() {
  if (!drawing || saving) return;
  const f = $('#a-form');
  clearFieldErrors(f);
  message('#a-message', null);
  if (!drawing.closed) {
    message('#a-message', drawing.corners.length < 3 ? 'areasNeedThree' : 'areasCloseFirst', 'error');
    return;
  }
  const name_en = $('#a-name_en').value.trim();
  const name_cy = $('#a-name_cy').value.trim();
  if (!name_en) {
    showFieldErrors('a-', [{ field: 'name_en', code: 'missing-field' }]);
    return;
  }
  const ring = [...drawing.corners, drawing.corners[0]];
  const body = { name_en, geometry: { type: 'Polygon', coordinates: [ring] } };
  if (name_cy) body.name_cy = name_cy;
  saving = true;
  $('#a-save').disabled = true;
  message('#a-message', 'logSaving');
  try {
    const area = await request('POST', '/api/areas', body, { idempotencyKey: drawing.key });
    stopDrawing();
    message('#a-message', 'areaSaved', 'success', { name: areaName(area?.area ?? area ?? body) });
    await renderAll(true);
    hooks.onChanged();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) {
      message('#a-message', 'areaNotSaved', 'error');
    } else {
      drawing.key = newKey();
      const left = showFieldErrors('a-', problemErrors(error.problem), { geometry: 'geometry' });
      if (left.length) message('#a-message', 'areaRefused', 'error', { detail: left.map((e) => codeMessage(e.code, e.field)).join(' ') });
      else if (error.status !== 422 && error.status !== 400) message('#a-message', hooks.errorKey(error), 'error');
    }
  } finally {
    saving = false;
    $('#a-save').disabled = false;
  }
}

async function importFile() {
  const result = $('#a-import-result');
  const file = $('#a-import-file').files[0];
  if (!file) {
    say(result, 'importChooseFile', 'error');
    return;
  }
  say(result, 'importSending');
  const kind = $('#a-import-kind').value;
  try {
    const text = await file.text();
    const counts = await request('POST', `/api/areas/import${kind ? `?kind=${encodeURIComponent(kind)}` : ''}`, text, { contentType: 'application/geo+json' });
    say(result, 'areasImported', 'success', { added: counts.added ?? 0, replaced: counts.replaced ?? 0 });
    await renderAll(true);
    hooks.onChanged();
  } catch (error) {
    const errors = error instanceof ApiError ? problemErrors(error.problem) : [];
    if (error.status === 413) say(result, 'importTooLarge', 'error');
    else if (errors.length) say(result, null, 'error'), result.replaceChildren(el('p', { text: t('importRefused', { count: errors.length }) }), importErrorList(errors));
    else say(result, hooks.errorKey(error), 'error');
  }
}

/** Connects the controls; `hooks.onChanged()` is called after any area is added or removed. */
export function init(given) {
  hooks = { ...hooks, ...given };
  $('#a-draw').addEventListener('click', startDrawing);
  $('#a-corner').addEventListener('click', () => addCorner(mapView.instance().getCenter()));
  $('#a-undo').addEventListener('click', undo);
  $('#a-close').addEventListener('click', closeShape);
  $('#a-cancel').addEventListener('click', () => { stopDrawing(); $('#a-draw').focus(); });
  $('#a-form').addEventListener('submit', (event) => { event.preventDefault(); save(); });
  $('#a-import').addEventListener('click', importFile);
}
