// Mapping exercises and location assessments: the list, the set-up form
// (coordinators), and the meeting view — the area and the observations in
// scope on the map, the counts by category and time of day, what changed
// since the previous exercise on the area, the panel's notes drawn on the
// map, decisions and actions, freezing, the pack and the follow-up — and
// the actions due across every exercise the viewer may see.
//
// The view is decided by the server for the panel (the same for everyone),
// so nothing here widens what anyone sees.

import { t, say, lang, formatDate, formatDateTime, folded } from './i18n.js';
import { request, newKey, ApiError, fetchFile } from './api.js';
import * as vocab from './vocab.js';
import * as mapView from './map.js';
import * as places from './places.js';
import { el, saveBlob } from './dom.js';
import { clearFieldErrors, showFieldErrors, problemErrors, codeMessage } from './forms.js';

const $ = (selector) => document.querySelector(selector);
const CONTRIBUTORS = new Set(['coordinator', 'panel-member']);
const FORM_FIELDS = ['title', 'kind', 'area_id', 'from', 'to', 'agencies', 'review_on'];
const ACTION_FIELDS = { what: 'what', owner_agency: 'owner_agency', due_on: 'due_on', status: 'status', place_id: 'link', area_id: 'link', annotation_id: 'link' };

let hooks = { errorKey: () => 'errorGeneric', showView: () => {}, role: () => '', agencies: () => [] };
let exercises = [];
let areas = [];
let form = null;
let current = null; // { id, view }
let drawing = null; // { kind, corners, key }
let part = 'browse';
let opening = 0;
let actionsKey = newKey();
let decisionKey = newKey();

// ---------------------------------------------------------------- small helpers

function named(thing) {
  return lang() === 'cy' ? thing.name_cy || thing.name_en : thing.name_en || thing.name_cy;
}

function areaName(summary) {
  return lang() === 'cy' ? summary.area_name_cy || summary.area_name_en : summary.area_name_en || summary.area_name_cy;
}

function agencyName(code) {
  const agency = hooks.agencies().find((a) => a.code === code) || current?.view?.agencies?.find((a) => a.code === code);
  return agency ? named(agency) : code;
}

/** "2025-12-01T00:00:00.000Z" or "2025-12-01" as "1 December 2025". */
function day(value) {
  return value ? formatDate(String(value).slice(0, 10)) : '—';
}

/** A count as words: the number, or the server's own "fewer than 5". */
function countText(c) {
  if (!c) return '0';
  if (c.suppressed || c.count == null) return (lang() === 'cy' ? c.count_label_cy : c.count_label) || t('fewerThan', { threshold: 5 });
  return String(c.count);
}

function canContribute() {
  return CONTRIBUTORS.has(hooks.role());
}

function canCoordinate() {
  return hooks.role() === 'coordinator';
}

function showOnly(which) {
  part = which;
  $('#ex-browse').hidden = which !== 'browse';
  $('#ex-form').hidden = which !== 'form';
  $('#ex-view').hidden = which !== 'view';
  $('#ex-due').hidden = which !== 'due';
  if (which !== 'view') {
    stopDrawing();
    mapView.setExercise(null);
  }
}

// ---------------------------------------------------------------- the list

/** Loads the exercises the viewer may see, and redraws the list. */
export async function load() {
  try {
    exercises = (await request('GET', '/api/exercises'))?.exercises ?? [];
    say('#ex-count', exercises.length ? 'exercisesCount' : 'exercisesNone', 'info', { count: exercises.length });
  } catch (error) {
    say('#ex-count', hooks.errorKey(error), 'error');
  }
  renderList();
}

function renderList() {
  const sorted = [...exercises].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  $('#ex-list').replaceChildren(...sorted.map((x) => el('li', { 'data-id': String(x.id) },
    el('button', { type: 'button', class: 'link', text: x.title, onclick: () => open(x.id) }),
    el('span', { class: 'place-kind', text: ` — ${vocab.label('exercise_kinds', x.kind)}, ${areaName(x)}, ${day(x.from)} – ${day(x.to)}` }),
    x.frozen_at ? ' ' : null,
    x.frozen_at ? el('span', { class: 'badge-frozen' }, el('span', { 'aria-hidden': 'true', text: '❄ ' }), t('exerciseFrozenShort')) : null)));
}

/** Called when the screen is shown: what was open stays open. */
export function shown() {
  if (part === 'view' && current) {
    drawExercise();
    return;
  }
  if (part === 'form' || part === 'due') return;
  showOnly('browse');
  load();
}

/** Called when the screen is left: the map gets its own layers back. */
export function left() {
  stopDrawing();
  mapView.setExercise(null);
}

// ---------------------------------------------------------------- the set-up form

function fillSelect(select, options, chosen) {
  select.replaceChildren(...options.map(([value, text]) => el('option', { value, text })));
  if (chosen != null) select.value = chosen;
  if (select.selectedIndex < 0) select.selectedIndex = 0;
}

// The area picker narrows its list by the words typed, or to the areas
// holding the point picked on the map (null when not narrowed by the map).
let areaPicking = false;
let pickedAreaIds = null;

function renderAreaChoices() {
  const words = folded($('#exf-area-search').value.trim()).split(/\s+/).filter(Boolean);
  const label = (a) => `${named(a)} (${vocab.label('area_kinds', a.kind)})`;
  const matching = areas.filter((a) => (!pickedAreaIds || pickedAreaIds.includes(a.id))
    && words.every((w) => folded(`${a.name_en} ${a.name_cy ?? ''} ${label(a)}`).includes(w)));
  // Picked on the map: the smallest first (a ward before its county); otherwise by kind and name.
  const sorted = pickedAreaIds
    ? [...matching].sort((a, b) => pickedAreaIds.indexOf(a.id) - pickedAreaIds.indexOf(b.id))
    : [...matching].sort((a, b) => (a.kind === b.kind ? named(a).localeCompare(named(b), lang()) : a.kind.localeCompare(b.kind)));
  const chosen = $('#exf-area_id').value;
  const keep = sorted.some((a) => String(a.id) === chosen) ? chosen : (sorted.length === 1 || pickedAreaIds) && sorted.length ? String(sorted[0].id) : '';
  fillSelect($('#exf-area_id'), [['', t('exerciseAreaChoose')], ...sorted.map((a) => [String(a.id), label(a)])], keep);
  const narrowed = words.length || pickedAreaIds;
  say('#exf-area-found', narrowed ? (sorted.length ? 'exerciseAreasFound' : 'exerciseAreasNone') : 'exerciseAreasAll', 'info', { count: sorted.length, all: areas.length });
  $('#exf-area-pick').setAttribute('aria-pressed', String(areaPicking));
}

/** Whether the next map click picks the exercise's area. */
export function isPickingArea() {
  return areaPicking && part === 'form';
}

/** Narrows the area picker to the areas holding `lngLat` (asked of the areas collection, smallest first). */
export async function pickAreaAt(lngLat) {
  areaPicking = false;
  const point = `POINT(${lngLat.lng.toFixed(6)} ${lngLat.lat.toFixed(6)})`;
  try {
    const page = await request('GET', `/ogc/collections/areas/items?limit=50&filter=${encodeURIComponent(`S_INTERSECTS(geometry,${point})`)}`);
    // The box's size orders the areas well enough: a ward's is smaller than its county's.
    const size = (f) => {
      const xs = [];
      const ys = [];
      const walk = (c) => (typeof c[0] === 'number' ? (xs.push(c[0]), ys.push(c[1])) : c.forEach(walk));
      walk(f.geometry?.coordinates ?? [[0, 0]]);
      return (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
    };
    pickedAreaIds = [...page.features].sort((a, b) => size(a) - size(b)).map((f) => Number(f.id));
    $('#exf-area-search').value = '';
    renderAreaChoices();
  } catch (error) {
    say('#exf-area-found', hooks.errorKey(error), 'error');
  }
  $('#exf-area_id').focus();
}

function renderFormChoices() {
  fillSelect($('#exf-kind'), vocab.terms('exercise_kinds').map((term) => [term.code, vocab.label('exercise_kinds', term.code)]), $('#exf-kind').value || null);
  renderAreaChoices();
  const ticked = new Set([...document.querySelectorAll('#exf-agency-list input:checked')].map((i) => i.value));
  $('#exf-agency-list').replaceChildren(...hooks.agencies().map((a) => el('label', { class: 'check' },
    el('input', { type: 'checkbox', name: 'agencies', value: a.code, checked: ticked.has(a.code) }), ` ${named(a)}`)));
}

async function openForm() {
  hooks.showView('exercises');
  const f = $('#ex-form');
  f.reset();
  clearFieldErrors(f);
  say('#exf-summary', null);
  form = { key: newKey() };
  areaPicking = false;
  pickedAreaIds = null;
  try {
    areas = (await request('GET', '/api/areas'))?.areas ?? [];
  } catch {
    areas = [];
  }
  renderFormChoices();
  showOnly('form');
  $('#exf-title-heading').focus();
}

function formBody() {
  const body = {
    kind: $('#exf-kind').value,
    title: $('#exf-title').value.trim(),
    area_id: Number($('#exf-area_id').value),
    from: $('#exf-from').value,
    to: $('#exf-to').value,
    agencies: [...document.querySelectorAll('#exf-agency-list input:checked')].map((i) => i.value),
  };
  if ($('#exf-review_on').value) body.review_on = $('#exf-review_on').value;
  return body;
}

let saving = false;

async function saveForm() {
  if (!form || saving) return;
  const f = $('#ex-form');
  clearFieldErrors(f);
  say('#exf-summary', null);
  const body = formBody();
  const missing = [];
  if (!body.title) missing.push({ field: 'title', code: 'missing-field' });
  if (!body.area_id) missing.push({ field: 'area_id', code: 'missing-field' });
  if (!body.from) missing.push({ field: 'from', code: 'missing-field' });
  if (!body.to) missing.push({ field: 'to', code: 'missing-field' });
  if (!body.agencies.length) missing.push({ field: 'agencies', code: 'missing-field' });
  const backwards = body.from && body.to && body.from > body.to;
  if (missing.length || backwards) {
    showFieldErrors('exf-', missing);
    if (backwards) {
      say('#exf-to-error', 'exerciseDateOrder', 'error');
      $('#exf-to').setAttribute('aria-invalid', 'true');
      if (!missing.length) $('#exf-to').focus();
    }
    say('#exf-summary', 'placeCheckFields', 'error');
    return;
  }
  saving = true;
  $('#exf-save').disabled = true;
  say('#exf-summary', 'logSaving');
  try {
    const made = await request('POST', '/api/exercises', body, { idempotencyKey: form.key });
    form = null;
    await load();
    await open(made.id, t('exerciseSaved'));
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) {
      say('#exf-summary', 'exerciseNotSaved', 'error');
    } else {
      form.key = newKey();
      if (error.status === 422 || error.status === 400) {
        const left = showFieldErrors('exf-', problemErrors(error.problem), { area: 'area_id' });
        say('#exf-summary', left.length ? 'placeCheckFieldsOther' : 'placeCheckFields', 'error', { detail: left.map((e) => codeMessage(e.code, e.field)).join(' ') });
      } else {
        say('#exf-summary', hooks.errorKey(error), 'error');
      }
    }
  } finally {
    saving = false;
    $('#exf-save').disabled = false;
  }
}

// ---------------------------------------------------------------- the meeting view

/** Opens an exercise's meeting view. */
export async function open(id, note) {
  const mine = ++opening;
  hooks.showView('exercises');
  showOnly('view');
  $('#exv-message').dataset.kind = 'success';
  $('#exv-message').textContent = note || '';
  try {
    const view = await request('GET', `/api/exercises/${id}`);
    if (mine !== opening) return;
    current = { id, view };
    renderView();
    drawExercise(true);
  } catch (error) {
    if (mine !== opening) return;
    current = null;
    $('#exv-title').textContent = '';
    say('#exv-message', hooks.errorKey(error), 'error');
  }
  $('#exv-title').focus();
}

/** Loads the open exercise again (after adding to it) and redraws it. */
async function reload() {
  if (!current) return;
  const view = await request('GET', `/api/exercises/${current.id}`);
  current.view = view;
  renderView();
  drawExercise();
}

function field(label, value) {
  return [el('dt', { text: label }), el('dd', { text: value == null || value === '' ? '—' : String(value) })];
}

function summaryOf(id) {
  return exercises.find((x) => x.id === id);
}

function renderView() {
  const v = current.view;
  const x = v.exercise;
  document.body.dataset.exerciseFrozen = String(Boolean(v.frozen));
  $('#exv-title').textContent = x.title;
  $('#exv-frozen').hidden = !v.frozen;
  $('#exv-frozen').replaceChildren(el('span', { 'aria-hidden': 'true', text: '❄ ' }),
    t('exerciseFrozenAt', { when: x.frozen_at ? formatDateTime(x.frozen_at) : '' }));
  $('#exv-fields').replaceChildren(
    ...field(t('exerciseKind'), vocab.label('exercise_kinds', x.kind)),
    ...field(t('exerciseArea'), v.area ? `${named(v.area)}${v.area.code ? ` (${v.area.code})` : ''}` : ''),
    ...field(t('exercisePeriod'), `${day(x.from)} – ${day(x.to)}`),
    ...field(t('exerciseAgencies'), (v.agencies || []).map(named).join(', ')),
    ...field(t('exerciseFacilitator'), x.facilitator),
    ...field(t('exerciseReviewOnShort'), x.review_on ? day(x.review_on) : ''),
  );
  renderCounts();
  renderChanges();
  renderItems();
  renderAnnotations();
  renderDecisions();
  renderActions();
  renderActionForm();
  // What may be added: nothing once frozen; freezing is the coordinator's.
  const open = !v.frozen && canContribute();
  for (const node of document.querySelectorAll('#ex-view .needs-contribute')) node.hidden = !open;
  $('#exv-freeze-box').hidden = v.frozen || !canCoordinate();
  if (!open) stopDrawing();
  const base = `/api/exercises/${current.id}/pack`;
  $('#exv-pack-en').href = `${base}?format=html&lang=en`;
  $('#exv-pack-cy').href = `${base}?format=html&lang=cy`;
  $('#exv-pack-geojson').href = `${base}?format=geojson&lang=${lang()}`;
  $('#exv-follow').hidden = !v.frozen;
  if (v.frozen) loadFollowUp();
}

function bands() {
  const known = vocab.terms('time_bands').map((term) => term.code);
  const extra = [...new Set((current.view.counts || []).map((c) => c.band))].filter((b) => !known.includes(b));
  return [...known, ...extra];
}

function renderCounts() {
  const v = current.view;
  $('#exv-total').textContent = t('exerciseTotal', { count: countText(v.total) });
  const columns = bands();
  const categories = [...new Set((v.counts || []).map((c) => c.category))];
  const table = $('#exv-counts');
  table.tHead.replaceChildren(el('tr', {},
    el('th', { scope: 'col', text: t('listCategory') }),
    ...columns.map((b) => el('th', { scope: 'col', text: vocab.label('time_bands', b) }))));
  table.tBodies[0].replaceChildren(...(categories.length ? categories.map((category) => el('tr', {},
    el('th', { scope: 'row', text: vocab.label('categories', category) }),
    ...columns.map((b) => {
      const c = v.counts.find((x) => x.category === category && x.band === b);
      return el('td', { class: c && (c.suppressed || c.count == null) ? 'withheld' : 'num', text: c ? countText(c) : '0' });
    }))) : [el('tr', {}, el('td', { colspan: String(columns.length + 1), text: t('exerciseNoObservations') }))]));
}

function renderChanges() {
  const ch = current.view.changes || {};
  const box = $('#exv-changes');
  if (ch.previous_id == null) {
    box.replaceChildren(el('p', { text: t('changesFirst') }));
    return;
  }
  const previous = summaryOf(ch.previous_id);
  const rows = ['new', 'updated', 'closed', 'erased', 'left'].map((k) => {
    const ids = ch[k] || [];
    return el('li', { 'data-change': k },
      el('strong', { text: `${t(`changes_${k}`)}: ${ids.length}` }),
      ids.length ? ` (${ids.map((id) => `#${id}`).join(', ')})` : '');
  });
  box.replaceChildren(
    el('p', {}, t('changesSince', { title: previous ? previous.title : `#${ch.previous_id}` }), ' ',
      el('button', { type: 'button', class: 'link', text: t('changesOpenPrevious'), onclick: () => open(ch.previous_id) })),
    el('ul', { class: 'changes' }, ...rows));
}

function renderItems() {
  const items = current.view.items || [];
  $('#exv-items-summary').textContent = t('exerciseItems', { count: items.length });
  $('#exv-items').replaceChildren(...items.map((it) => {
    if (!it.item) return el('li', { 'data-id': String(it.id), class: 'erased' }, `#${it.id} — ${t('erasedSince')}`);
    const o = it.item;
    const where = o.precision === 'exact' ? t('precisionExact') : t('precisionSquare');
    return el('li', { 'data-id': String(it.id) },
      `#${it.id} — ${vocab.label('categories', o.category)} — ${formatDateTime(o.observed_at)} — ${vocab.label('statuses', o.status)} — ${t('popupPrecision')}: ${where}`);
  }));
}

function annotationLabel(index) {
  return `A${index + 1}`;
}

function geometryKind(geometry) {
  return { Point: t('annotationPoint'), LineString: t('annotationLine'), Polygon: t('annotationPolygon') }[geometry?.type] || '';
}

function renderAnnotations() {
  const list = current.view.annotations || [];
  $('#exv-annotations').replaceChildren(...(list.length ? list.map((a, i) => el('li', { 'data-id': String(a.id) },
    el('strong', { text: `${annotationLabel(i)}: ` }), a.note,
    el('span', { class: 'place-kind', text: ` — ${geometryKind(a.geometry)}` }))) : [el('li', { class: 'none', text: t('annotationsNone') })]));
}

function renderDecisions() {
  const list = current.view.decisions || [];
  $('#exv-decisions').replaceChildren(...(list.length ? list.map((d) => el('li', { 'data-id': String(d.id), text: d.text }))
    : [el('li', { class: 'none', text: t('decisionsNone') })]));
}

function linkText(action) {
  // Notes and the area are known for the exercise open now; another's by number.
  const v = current && current.id === action.exercise_id ? current.view : null;
  if (action.annotation_id != null) {
    const index = (v?.annotations || []).findIndex((a) => a.id === action.annotation_id);
    return index >= 0 ? t('linkAnnotation', { label: annotationLabel(index), note: v.annotations[index].note }) : t('linkAnnotation', { label: `#${action.annotation_id}`, note: '' });
  }
  if (action.place_id != null) {
    const place = places.byId(action.place_id);
    return t('linkPlace', { name: place ? places.placeName(place) : `#${action.place_id}` });
  }
  if (action.area_id != null) {
    const area = v?.area?.id === action.area_id ? v.area : areas.find((a) => a.id === action.area_id);
    return t('linkArea', { name: area ? named(area) : `#${action.area_id}` });
  }
  return '';
}

function statusControl(action, onChanged, id) {
  const select = el('select', { id, 'aria-label': t('actionStatusFor', { what: action.what }) },
    ...vocab.terms('action_statuses').map((term) => el('option', { value: term.code, text: vocab.label('action_statuses', term.code) })));
  select.value = action.status;
  select.addEventListener('change', () => changeStatus(action, select, onChanged));
  return el('span', { class: 'status-control' },
    el('label', { for: id, class: 'inline', text: `${t('actionStatus')}: ` }), select);
}

function actionItem(action, { withExercise = false, onChanged } = {}) {
  const overdue = action.overdue === true;
  const link = linkText(action);
  return el('li', { 'data-id': String(action.id), class: overdue ? 'overdue' : '' },
    el('p', { class: 'action-what' },
      overdue ? el('strong', { class: 'badge-overdue', text: t('actionOverdue') }) : null,
      overdue ? ' ' : null,
      action.what),
    el('p', { class: 'action-meta', text: [
      withExercise ? `${t('actionExercise')}: ${action.exercise_title}` : null,
      `${t('actionOwner')}: ${agencyName(action.owner_agency)}`,
      `${t('actionDue')}: ${day(action.due_on)}`,
      link || null,
    ].filter(Boolean).join(' · ') }),
    statusControl(action, onChanged, `${withExercise ? 'due' : 'ex'}-status-${action.id}`),
    withExercise ? el('button', { type: 'button', class: 'link', text: t('actionOpenExercise'), 'aria-label': t('actionOpenExerciseNamed', { title: action.exercise_title }), onclick: () => open(action.exercise_id) }) : null);
}

function renderActions() {
  const list = current.view.actions || [];
  $('#exv-actions').replaceChildren(...(list.length ? list.map((a) => actionItem(a, { onChanged: () => reload().catch(() => {}) }))
    : [el('li', { class: 'none', text: t('actionsNone') })]));
}

async function changeStatus(action, select, onChanged) {
  const target = select.closest('#ex-due') ? '#exdue-count' : '#exv-actions-message';
  try {
    const saved = await request('PATCH', `/api/actions/${action.id}`, { status: select.value, version: action.version });
    Object.assign(action, saved);
    say(target, 'actionStatusSaved', 'success', { what: action.what, status: vocab.label('action_statuses', action.status) });
  } catch (error) {
    select.value = action.status;
    say(target, error.code === 'edit-conflict' ? 'actionConflict' : hooks.errorKey(error), 'error');
    if (onChanged) onChanged();
  }
}

function renderActionForm() {
  const v = current.view;
  const agencies = hooks.agencies().length ? hooks.agencies() : v.agencies || [];
  // The participating agencies first.
  const taking = new Set((v.agencies || []).map((a) => a.code));
  const sorted = [...agencies].sort((a, b) => Number(taking.has(b.code)) - Number(taking.has(a.code)) || named(a).localeCompare(named(b), lang()));
  fillSelect($('#exc-owner_agency'), [['', t('actionOwnerChoose')], ...sorted.map((a) => [a.code, named(a)])], $('#exc-owner_agency').value || '');
  fillSelect($('#exc-status'), vocab.terms('action_statuses').map((term) => [term.code, vocab.label('action_statuses', term.code)]), $('#exc-status').value || 'open');
  const select = $('#exc-link');
  const chosen = select.value;
  const group = (label, options) => (options.length ? el('optgroup', { label }, ...options.map(([value, text]) => el('option', { value, text }))) : null);
  const near = v.area ? places.all().filter((p) => inBox(p.location, v.area.geometry)) : [];
  select.replaceChildren(
    el('option', { value: '', text: t('actionLinkNone') }),
    group(t('exerciseAnnotations'), (v.annotations || []).map((a, i) => [`annotation:${a.id}`, `${annotationLabel(i)}: ${a.note}`])),
    group(t('exerciseArea'), v.area ? [[`area:${v.area.id}`, named(v.area)]] : []),
    group(t('actionLinkPlaces'), near.map((p) => [`place:${p.id}`, places.placeName(p)])),
  );
  select.value = chosen;
  if (select.selectedIndex < 0) select.selectedIndex = 0;
}

/** Whether a place lies inside the bounding box of a geometry (the register's places near the area). */
function inBox(location, geometry) {
  const b = bounds(geometry);
  if (!b || !location) return false;
  const pad = 0.005;
  return location.lon >= b[0] - pad && location.lon <= b[2] + pad && location.lat >= b[1] - pad && location.lat <= b[3] + pad;
}

function bounds(geometry) {
  let box = null;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      box = box ? [Math.min(box[0], c[0]), Math.min(box[1], c[1]), Math.max(box[2], c[0]), Math.max(box[3], c[1])] : [c[0], c[1], c[0], c[1]];
    } else for (const inner of c) visit(inner);
  };
  if (geometry?.coordinates) visit(geometry.coordinates);
  return box;
}

async function saveAction() {
  const f = $('#exc-form');
  clearFieldErrors(f);
  say('#exc-message', null);
  const body = {
    what: $('#exc-what').value.trim(),
    owner_agency: $('#exc-owner_agency').value,
    due_on: $('#exc-due_on').value,
    status: $('#exc-status').value || undefined,
  };
  const [kind, id] = $('#exc-link').value.split(':');
  if (kind && id) body[`${kind}_id`] = Number(id);
  const missing = [];
  if (!body.what) missing.push({ field: 'what', code: 'missing-field' });
  if (!body.owner_agency) missing.push({ field: 'owner_agency', code: 'missing-field' });
  if (!body.due_on) missing.push({ field: 'due_on', code: 'missing-field' });
  if (missing.length) {
    showFieldErrors('exc-', missing);
    return;
  }
  await contribute('actions', body, {
    form: f, prefix: 'exc-', fields: ACTION_FIELDS, messageBox: '#exc-message', button: '#exc-save',
    key: () => actionsKey, renew: () => { actionsKey = newKey(); },
    done: () => { f.reset(); say('#exc-message', 'actionSaved', 'success'); },
  });
}

async function saveDecision() {
  const f = $('#exd-form');
  clearFieldErrors(f);
  say('#exd-message', null);
  const text = $('#exd-text').value.trim();
  if (!text) {
    showFieldErrors('exd-', [{ field: 'text', code: 'missing-field' }]);
    return;
  }
  await contribute('decisions', { text }, {
    form: f, prefix: 'exd-', fields: { text: 'text' }, messageBox: '#exd-message', button: '#exd-save',
    key: () => decisionKey, renew: () => { decisionKey = newKey(); },
    done: () => { f.reset(); say('#exd-message', 'decisionSaved', 'success'); },
  });
}

/**
 * Adds a note, decision or action to the open exercise. A refusal puts
 * each error next to its field; "frozen" reloads the view (the forms go).
 */
async function contribute(kind, body, o) {
  const button = $(o.button);
  if (button.disabled) return;
  button.disabled = true;
  say(o.messageBox, 'logSaving');
  try {
    await request('POST', `/api/exercises/${current.id}/${kind}`, body, { idempotencyKey: o.key() });
    o.renew();
    await reload();
    o.done();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) {
      // Maybe kept, maybe not: the same key goes with the next try.
      say(o.messageBox, 'exerciseNotSaved', 'error');
    } else {
      o.renew();
      if (error.code === 'exercise-frozen') {
        await reload().catch(() => {});
        say('#exv-message', 'exerciseFrozenNow', 'error');
      } else if (error.status === 422 || error.status === 400) {
        const left = showFieldErrors(o.prefix, problemErrors(error.problem), o.fields);
        say(o.messageBox, left.length ? 'placeCheckFieldsOther' : 'placeCheckFields', 'error', { detail: left.map((e) => codeMessage(e.code, e.field)).join(' ') });
      } else {
        say(o.messageBox, hooks.errorKey(error), 'error');
      }
    }
  } finally {
    button.disabled = false;
  }
}

async function freeze() {
  if (!current || !window.confirm(t('exerciseFreezeConfirm', { title: current.view.exercise.title }))) return;
  $('#exv-freeze').disabled = true;
  try {
    current.view = await request('POST', `/api/exercises/${current.id}/freeze`);
    renderView();
    drawExercise();
    load();
    say('#exv-message', 'exerciseFrozenDone', 'success');
    $('#exv-title').focus();
  } catch (error) {
    say('#exv-message', hooks.errorKey(error), 'error');
  } finally {
    $('#exv-freeze').disabled = false;
  }
}

async function downloadPdf() {
  if (!current) return;
  say('#exv-pack-message', 'packMaking');
  try {
    const response = await fetchFile(`/api/exercises/${current.id}/pack?format=pdf&lang=${lang()}`, 'application/pdf');
    saveBlob(await response.blob(), `exercise-${current.id}-pack.pdf`);
    say('#exv-pack-message', 'packDownloaded', 'success');
  } catch (error) {
    say('#exv-pack-message', error.code === 'pdf-unavailable' ? 'packPdfUnavailable' : hooks.errorKey(error), 'error');
  }
}

let following = 0;

async function loadFollowUp() {
  const mine = ++following;
  const ring = $('#exv-ring').value;
  say('#exv-follow-message', 'loading');
  try {
    const answer = await request('GET', `/api/exercises/${current.id}/follow-up?ring=${ring}`);
    if (mine !== following) return;
    const f = answer.follow_up;
    say('#exv-follow-message', null);
    const table = $('#exv-follow-table');
    table.tHead.replaceChildren(el('tr', {},
      el('th', { scope: 'col', text: t('followPeriod') }),
      el('th', { scope: 'col', text: t('followInArea') }),
      el('th', { scope: 'col', text: t('followInRing', { metres: Math.round(f.ring_metres) }) })));
    const row = (key, p) => el('tr', {},
      el('th', { scope: 'row' }, el('strong', { text: t(key) }), el('br'), `${formatDateTime(p.from)} – ${formatDateTime(p.to)}`),
      el('td', { class: 'num', text: countText(p.area) }),
      el('td', { class: 'num', text: countText(p.ring) }));
    table.tBodies[0].replaceChildren(row('followBefore', f.before), row('followAfter', f.after));
  } catch (error) {
    if (mine !== following) return;
    $('#exv-follow-table').tBodies[0].replaceChildren();
    say('#exv-follow-message', error.code === 'not-frozen' ? 'followNotFrozen' : hooks.errorKey(error), 'error');
  }
}

// ---------------------------------------------------------------- the map

/** A square of about 100 m around a generalised position (the square's centre). */
function square(lon, lat) {
  const dLat = 50 / 111320;
  const dLon = 50 / (111320 * Math.cos((lat * Math.PI) / 180));
  return [[[lon - dLon, lat - dLat], [lon + dLon, lat - dLat], [lon + dLon, lat + dLat], [lon - dLon, lat + dLat], [lon - dLon, lat - dLat]]];
}

function drawExercise(fit = false) {
  if (!current) return;
  const v = current.view;
  const features = [];
  if (v.area?.geometry) features.push({ type: 'Feature', geometry: v.area.geometry, properties: { role: 'area' } });
  for (const it of v.items || []) {
    if (!it.item) continue;
    const o = it.item;
    const props = { role: o.precision === 'exact' ? 'point' : 'square', id: it.id, kind: vocab.kind(o.category), ...o };
    const geometry = o.precision === 'exact' ? { type: 'Point', coordinates: [o.lon, o.lat] } : { type: 'Polygon', coordinates: square(o.lon, o.lat) };
    features.push({ type: 'Feature', id: it.id, geometry, properties: props });
  }
  (v.annotations || []).forEach((a, i) => features.push({ type: 'Feature', geometry: a.geometry, properties: { role: 'annotation', id: a.id, label: annotationLabel(i), note: a.note } }));
  mapView.setExercise({ type: 'FeatureCollection', features });
  if (fit) mapView.fitBounds(bounds(v.area?.geometry));
}

/** A clicked feature's popup: an observation in scope, or a note. */
export function summary(props) {
  if (props.role === 'annotation') {
    return el('div', { class: 'popup' }, el('h2', { text: props.label }), el('p', { text: props.note }));
  }
  return el('div', { class: 'popup' },
    el('h2', { text: vocab.label('categories', props.category) }),
    el('dl', {},
      el('dt', { text: t('popupSeen') }), el('dd', { text: formatDateTime(props.observed_at) }),
      el('dt', { text: t('filterTimeBand') }), el('dd', { text: vocab.label('time_bands', props.band) }),
      el('dt', { text: t('popupSeverity') }), el('dd', { text: vocab.label('severities', props.severity) }),
      el('dt', { text: t('popupPrecision') }), el('dd', { text: props.precision === 'exact' ? t('precisionExact') : t('precisionSquare') })));
}

// ---------------------------------------------------------------- drawing a note

/** Whether map clicks add to a note being drawn. */
export function isDrawing() {
  return Boolean(drawing) && part === 'view';
}

function drawingKind() {
  return document.querySelector('input[name="annotation-kind"]:checked')?.value || 'Point';
}

function startDrawing() {
  drawing = { kind: drawingKind(), corners: [], key: newKey() };
  $('#exa-form').reset();
  clearFieldErrors($('#exa-form'));
  $('#exa-drawing').hidden = false;
  $('#exa-start').hidden = true;
  for (const radio of document.querySelectorAll('input[name="annotation-kind"]')) radio.disabled = true;
  say('#exa-message', null);
  renderDrawing();
  $('#exa-centre').focus();
}

function stopDrawing() {
  if (!drawing) return;
  drawing = null;
  $('#exa-drawing').hidden = true;
  $('#exa-start').hidden = false;
  $('#exa-corners').textContent = '';
  for (const radio of document.querySelectorAll('input[name="annotation-kind"]')) radio.disabled = false;
  mapView.setDrawing([], false);
}

function renderDrawing() {
  if (!drawing) return;
  const n = drawing.corners.length;
  $('#exa-corners').textContent = drawing.kind === 'Point'
    ? t(n ? 'annotationPointPlaced' : 'annotationPointNone')
    : t('areasCorners', { count: n });
  mapView.setDrawing(drawing.corners, drawing.kind === 'Polygon');
}

/** Adds a corner (or, for a point, places it) where the map was clicked. */
export function addVertex(lngLat) {
  if (!drawing) return;
  const c = [Number(lngLat.lng.toFixed(6)), Number(lngLat.lat.toFixed(6))];
  if (drawing.kind === 'Point') drawing.corners = [c];
  else drawing.corners.push(c);
  $('#exa-geometry-error').textContent = '';
  renderDrawing();
}

function geometry() {
  const c = drawing.corners;
  if (drawing.kind === 'Point') return c.length === 1 ? { type: 'Point', coordinates: c[0] } : null;
  if (drawing.kind === 'LineString') return c.length >= 2 ? { type: 'LineString', coordinates: c } : null;
  return c.length >= 3 ? { type: 'Polygon', coordinates: [[...c, c[0]]] } : null;
}

async function saveAnnotation() {
  if (!drawing) return;
  const f = $('#exa-form');
  clearFieldErrors(f);
  const shape = geometry();
  const note = $('#exa-note').value.trim();
  const missing = [];
  if (!note) missing.push({ field: 'note', code: 'missing-field' });
  if (missing.length) showFieldErrors('exa-', missing);
  if (!shape) {
    say('#exa-geometry-error', { Point: 'annotationNeedPoint', LineString: 'annotationNeedTwo', Polygon: 'areasNeedThree' }[drawing.kind]);
  }
  if (!shape || missing.length) return;
  await contribute('annotations', { geometry: shape, note }, {
    form: f, prefix: 'exa-', fields: { note: 'note', geometry: 'geometry' }, messageBox: '#exa-message', button: '#exa-save',
    key: () => drawing.key, renew: () => { if (drawing) drawing.key = newKey(); },
    done: () => { stopDrawing(); say('#exa-message', 'annotationSaved', 'success'); $('#exa-start').focus(); },
  });
}

// ---------------------------------------------------------------- actions due

let dueing = 0;

async function openDue() {
  hooks.showView('exercises');
  showOnly('due');
  $('#exdue-title').focus();
  await loadDue();
}

async function loadDue() {
  const mine = ++dueing;
  say('#exdue-count', 'loading');
  try {
    const answer = await request('GET', `/api/actions?due=${$('#exdue-filter').value}`);
    if (mine !== dueing) return;
    const list = answer?.actions ?? [];
    const overdue = list.filter((a) => a.overdue).length;
    say('#exdue-count', 'actionsDueCount', 'info', { count: list.length, overdue, today: day(answer.today) });
    $('#exdue-list').replaceChildren(...(list.length ? list.map((a) => actionItem(a, { withExercise: true, onChanged: loadDue }))
      : [el('li', { class: 'none', text: t('actionsNone') })]));
  } catch (error) {
    if (mine !== dueing) return;
    say('#exdue-count', hooks.errorKey(error), 'error');
  }
}

// ---------------------------------------------------------------- language and start

/** Redraws whatever is open in the current language. */
export function render() {
  renderList();
  if (part === 'form') renderFormChoices();
  if (part === 'view' && current) {
    renderView();
    drawExercise();
  }
  if (part === 'due') loadDue();
  renderDrawing();
}

/** Connects the screen's controls. */
export function init(given) {
  hooks = { ...hooks, ...given };
  $('#ex-add').addEventListener('click', openForm);
  $('#ex-due-open').addEventListener('click', openDue);
  for (const id of ['#exf-back', '#exv-back', '#exdue-back']) $(id).addEventListener('click', () => { showOnly('browse'); load(); $('#exercises-title').focus(); });
  $('#exf-cancel').addEventListener('click', () => { form = null; showOnly('browse'); $('#exercises-title').focus(); });
  $('#ex-form').addEventListener('submit', (event) => { event.preventDefault(); saveForm(); });
  $('#exf-area-search').addEventListener('input', () => { pickedAreaIds = null; renderAreaChoices(); });
  $('#exf-area-pick').addEventListener('click', () => {
    areaPicking = !areaPicking;
    renderAreaChoices();
    if (areaPicking) say('#exf-area-found', 'exerciseAreaPickHint', 'info');
  });
  $('#exa-start').addEventListener('click', startDrawing);
  $('#exa-centre').addEventListener('click', () => addVertex(mapView.instance().getCenter()));
  $('#exa-undo').addEventListener('click', () => { if (drawing) { drawing.corners.pop(); renderDrawing(); } });
  $('#exa-cancel').addEventListener('click', () => { stopDrawing(); $('#exa-start').focus(); });
  $('#exa-form').addEventListener('submit', (event) => { event.preventDefault(); saveAnnotation(); });
  $('#exd-form').addEventListener('submit', (event) => { event.preventDefault(); saveDecision(); });
  $('#exc-form').addEventListener('submit', (event) => { event.preventDefault(); saveAction(); });
  $('#exv-freeze').addEventListener('click', freeze);
  $('#exv-pack-pdf').addEventListener('click', downloadPdf);
  $('#exv-ring').addEventListener('change', loadFollowUp);
  $('#exdue-filter').addEventListener('change', loadDue);
}

export { FORM_FIELDS };
