// The app: sign-in, the map with its filters, logging a report, my reports
// and the list view. Plain ES modules, no build step.

import { t, apply, say, lang, setLang, onLangChange, formatDateTime, formatDate } from './i18n.js';
import { request, setCsrf, onSessionEnded, newKey, ApiError, serverReachable, onReachability, probe, fetchFile } from './api.js';
import * as vocab from './vocab.js';
import * as mapView from './map.js';
import * as outbox from './outbox.js';
import * as analysis from './analysis.js';
import * as places from './places.js';
import * as areas from './areas.js';
import * as exercises from './exercises.js';
import * as perceptions from './perceptions.js';
import * as review from './review.js';
import * as accounts from './accounts.js';
import * as auditLog from './audit.js';
import * as alerts from './alerts.js';
import * as search from './search.js';
import { printOnly, printMap } from './print.js';
import { el, saveBlob } from './dom.js';
import { gridReference } from './grid.js';

const $ = (selector) => document.querySelector(selector);
const state = {
  account: null,
  page: { features: [], numberMatched: 0, numberReturned: 0 },
  report: { key: newKey(), place: null, category: null, setting: null },
  view: 'map',
  agencies: [],
};

// ---------------------------------------------------------------- helpers

// Messages go into live regions that are always there (an element
// un-hidden at the moment its text changes is often not announced).
function message(target, key, kind = 'info', vars = {}) {
  say($(target), key, kind, vars);
}

function errorKey(error) {
  if (error instanceof ApiError && error.status === 0) return navigator.onLine ? 'errorUnreachable' : 'errorOffline';
  if (error instanceof ApiError) {
    if (error.status === 403) return 'errorForbidden';
    if (error.status === 404) return 'errorNotFound';
    if (error.code === 'too-costly') return 'errorTooCostly';
    if (error.status === 503 && error.code === 'busy') return 'errorBusy';
    if (error.status === 429) return 'errorOverBudget';
  }
  return 'errorGeneric';
}

function fillSelect(select, list, { all = true } = {}) {
  const chosen = select.value;
  select.replaceChildren();
  if (all) select.append(el('option', { value: '', text: t('filterAll') }));
  for (const term of vocab.terms(list)) select.append(el('option', { value: term.code, text: vocab.label(list, term.code) }));
  select.value = chosen;
}

// ---------------------------------------------------------------- sign-in

let signedIn = null;
let signInPromise = null;

/** Shows the sign-in dialog; resolves once signed in. Asked again while open, it waits for the same sign-in. */
function showSignIn(reason) {
  const dialog = $('#signin');
  if (dialog.open && signInPromise) return signInPromise;
  message('#signin-message', reason || null, reason === 'sessionEnded' ? 'info' : 'error');
  $('#signin-form').reset();
  dialog.showModal();
  $('#signin-username').focus();
  signInPromise = new Promise((resolve) => { signedIn = resolve; });
  return signInPromise;
}

async function submitSignIn(event) {
  event.preventDefault();
  if (!$('#signin-username').value.trim() || !$('#signin-password').value) {
    message('#signin-message', 'signInMissing', 'error');
    return;
  }
  const body = { username: $('#signin-username').value, password: $('#signin-password').value };
  const code = $('#signin-totp').value.trim();
  const recovery = $('#signin-recovery').value.trim();
  if (code) body.totp = code;
  else if (recovery) body.recovery_code = recovery;
  try {
    const session = await request('POST', '/api/session', body);
    await started(session);
  } catch (error) {
    const key = error.code === 'sign-in-throttled' ? 'signInThrottled'
      : error.code === 'second-factor-required' ? 'secondFactorRequired' : 'signInFailed';
    message('#signin-message', key, 'error');
    if (error.code === 'second-factor-required') $('#signin-totp').focus();
  }
}

async function started(session) {
  setCsrf(session.csrf_token);
  state.account = session.account;
  if (session.stage === 'enrol-mfa') {
    $('#signin').close();
    await enrol();
    return;
  }
  $('#signin').close();
  $('#whoami').textContent = session.account.display_name;
  outbox.setOwner(session.account.username);
  localStorage.setItem('safetymap.account', JSON.stringify({ username: session.account.username, display_name: session.account.display_name, role: session.account.role, admin: session.account.admin }));
  showRole(session.account);
  review.load();
  alerts.start();
  if (signedIn) {
    const resolve = signedIn;
    signedIn = null;
    signInPromise = null;
    resolve();
  }
  outbox.flush();
}

async function enrol() {
  const dialog = $('#enrol');
  const offer = await request('POST', '/api/me/second-factor');
  $('#enrol-key').textContent = offer.secret.replace(/(.{4})/g, '$1 ').trim();
  $('#enrol-link').href = offer.otpauth_uri;
  // The QR code is drawn by the server (SVG), shown as an image.
  $('#enrol-qr').src = `data:image/svg+xml,${encodeURIComponent(offer.qr_svg)}`;
  message('#enrol-message', null);
  $('#enrol-codes-box').hidden = true;
  $('#enrol-form').hidden = false;
  dialog.showModal();
  $('#enrol-code').focus();
}

/** The recovery codes as a text file's lines, with what they are. */
function recoveryText(codes) {
  return `${t('recoveryFileTitle', { name: state.account?.username ?? '' })}\n\n${codes.join('\n')}\n`;
}

/** Copy, download and print for the recovery codes just shown. */
function keepRecoveryCodes(codes) {
  const box = '#enrol-codes-message';
  say(box, null);
  $('#enrol-copy').onclick = async () => {
    try {
      await navigator.clipboard.writeText(recoveryText(codes));
      say(box, 'recoveryCopied', 'success');
    } catch {
      say(box, 'recoveryCopyFailed', 'error');
    }
  };
  $('#enrol-save').onclick = () => {
    saveBlob(new Blob([recoveryText(codes)], { type: 'text/plain;charset=utf-8' }), 'safetymap-recovery-codes.txt');
  };
  // Printing shows only the codes (see the print rules in app.css).
  $('#enrol-print').onclick = () => printOnly('printing-codes');
}

async function submitEnrol(event) {
  event.preventDefault();
  try {
    const session = await request('POST', '/api/me/second-factor/confirm', { code: $('#enrol-code').value.trim() });
    setCsrf(session.csrf_token);
    $('#enrol-form').hidden = true;
    const list = $('#enrol-codes');
    list.replaceChildren(...session.recovery_codes.map((c) => el('li', { text: c })));
    keepRecoveryCodes(session.recovery_codes);
    $('#enrol-codes-box').hidden = false;
    $('#enrol-done').focus();
    $('#enrol-done').onclick = async () => {
      $('#enrol').close();
      await started({ ...session, stage: 'full' });
    };
  } catch {
    message('#enrol-message', 'enrolWrongCode', 'error');
  }
}

async function signOut() {
  const waitingNow = await outbox.waiting().catch(() => []);
  if (waitingNow.length && !window.confirm(t('signOutWaiting', { count: waitingNow.length }))) return;
  try {
    await request('DELETE', '/api/session', undefined, { retry: false });
  } catch (error) {
    // An ended session is signed out already; anything else (no signal)
    // must not look like a sign-out on a shared device.
    if (!(error instanceof ApiError) || error.status !== 401) {
      window.alert(t('signOutFailed'));
      return;
    }
  }
  localStorage.removeItem('safetymap.account');
  await outbox.forgetSent().catch(() => {});
  location.reload();
}

/** What the screens offer follows the role (the server decides what is allowed). */
function showRole(account) {
  document.body.dataset.role = account.role || '';
  document.body.dataset.admin = String(Boolean(account.admin || account.role === 'admin'));
  accounts.setAccount(account);
}

/** Administrators manage people and agencies and see no observations: their first screen is the accounts. */
function firstView() {
  return state.account?.role === 'admin' ? 'accounts' : 'map';
}

// ---------------------------------------------------------------- views

// Screens shown beside the map, which stays in view (and takes clicks) for them.
const BESIDE_MAP = new Set(['log', 'places', 'areas', 'exercises', 'perception', 'alerts']);

function showView(name) {
  const previous = state.view;
  state.view = name;
  if (previous === 'areas' && name !== 'areas') areas.left();
  if (previous === 'exercises' && name !== 'exercises') exercises.left();
  if (previous === 'perception' && name !== 'perception') perceptions.left();
  if (previous === 'alerts' && name !== 'alerts') alerts.left();
  for (const section of document.querySelectorAll('main > section[data-view]')) section.hidden = section.dataset.view !== name && !(BESIDE_MAP.has(name) && section.dataset.view === 'map');
  for (const button of document.querySelectorAll('[data-nav]')) {
    button.setAttribute('aria-current', button.dataset.nav === name ? 'page' : 'false');
  }
  document.body.dataset.view = name;
  mapView.instance()?.resize();
  const heading = document.querySelector(`main > section[data-view="${name}"] h2`);
  if (heading && name !== 'map') {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
  if (name === 'mine') renderMine();
  if (name === 'list') renderList();
  if (name !== 'log') mapView.setPin(null);
  else if (state.report.place) mapView.setPin(state.report.place);
  if (name === 'places') places.shown();
  if (name === 'areas') areas.opened();
  if (name === 'exercises') exercises.shown();
  if (name === 'perception') perceptions.shown();
  if (name === 'review') review.load();
  if (name === 'accounts') accounts.load();
  if (name === 'audit') auditLog.shown();
  if (name === 'alerts') alerts.shown();
  applyPlacesLayer();
}

/** The places layer: on when chosen, and always on the places screen. */
function applyPlacesLayer() {
  const on = $('#f-places').checked;
  $('#legend-places').hidden = !on;
  mapView.showPlaces(on || state.view === 'places');
}

/** The areas layer, asked again for the filters and the view. */
function refreshAreas(force = false) {
  if (!mapView.instance()) return;
  areas.refresh(filterParams(), mapView.bbox(), force);
}

// ---------------------------------------------------------------- filters and the layer

/** The filters alone: what every layer, tile and profile is asked for. */
function filterParams() {
  const params = new URLSearchParams();
  for (const [id, name] of [['#f-category', 'category'], ['#f-timeband', 'timeband'], ['#f-days', 'days'], ['#f-agency', 'agency'], ['#f-status', 'status'], ['#f-severity', 'severity']]) {
    const value = $(id).value;
    if (value) params.set(name, value);
  }
  const from = $('#f-from').value;
  const to = $('#f-to').value;
  // The days as people mean them: local (UK) midnight to midnight.
  const start = from ? new Date(`${from}T00:00:00`).toISOString() : '..';
  const end = to ? new Date(`${to}T23:59:59`).toISOString() : '..';
  if (from || to) params.set('datetime', `${start}/${end}`);
  return params;
}

/** The observations in view, with the filters. */
function filterQuery() {
  const params = filterParams();
  params.set('bbox', mapView.bbox());
  params.set('limit', '10000');
  return params.toString();
}

/** What the grid and hot-spot layers show: the mode, cell size and shape, and the police.uk layer. */
function layerChoice() {
  return {
    mode: document.querySelector('input[name="mode"]:checked')?.value || 'points',
    cell: $('#f-cell').value,
    shape: $('#f-shape').value,
    context: $('#f-police').checked,
  };
}

/**
 * The grid and hot-spot tiles' query: the filters and the cells, but no
 * bbox. Hot spots compare each cell with the whole study area, so the area
 * must not move when the map does (and each tile brings its own box).
 */
function cellQuery() {
  const params = filterParams();
  const { cell, shape } = layerChoice();
  params.set('cell', cell);
  params.set('shape', shape);
  return params;
}

/** police.uk crime is by month: the months the date filter touches. */
function policeQuery() {
  const from = $('#f-from').value.slice(0, 7);
  const to = $('#f-to').value.slice(0, 7);
  return from || to ? `datetime=${from || '..'}/${to || '..'}` : '';
}

/** Shows the chosen mode, its cell options and legend, and the context layer. */
function applyLayerChoice() {
  const choice = layerChoice();
  $('#cell-options').hidden = choice.mode !== 'grid' && choice.mode !== 'hotspots';
  mapView.setMode(choice.mode);
  mapView.setContext(choice.context);
  analysis.renderLegends(choice);
}

// ---------------------------------------------------------------- the view in the address

// The filters, the layers and the map's view are kept in the address's
// fragment, so a view can be bookmarked or sent to a colleague. The
// fragment never reaches the server (nor its logs); whoever opens the link
// is shown what their own role allows of it, decided on the server.
const LINKED_FIELDS = [['#f-category', 'category'], ['#f-timeband', 'timeband'], ['#f-days', 'days'], ['#f-agency', 'agency'],
  ['#f-status', 'status'], ['#f-severity', 'severity'], ['#f-from', 'from'], ['#f-to', 'to'], ['#f-area-kind', 'areakind']];
const LINKED_SWITCHES = [['#f-police', 'police'], ['#f-places', 'places'], ['#f-areas', 'areas'], ['#f-perceptions', 'perceptions']];

/** The current view as the address's fragment. */
function viewLink() {
  const params = new URLSearchParams();
  for (const [id, name] of LINKED_FIELDS) if ($(id).value) params.set(name, $(id).value);
  const { mode, cell, shape } = layerChoice();
  if (mode !== 'points') params.set('mode', mode);
  if (mode === 'grid' || mode === 'hotspots') {
    params.set('cell', cell);
    params.set('shape', shape);
  }
  for (const [id, name] of LINKED_SWITCHES) if ($(id).checked) params.set(name, '1');
  const map = mapView.instance();
  if (map) {
    const c = map.getCenter();
    params.set('at', `${c.lat.toFixed(5)},${c.lng.toFixed(5)},${map.getZoom().toFixed(2)}`);
  }
  return params.toString();
}

/** Puts the current view in the address (replacing, so Back is not filled with map moves). */
let linkRead = false;
function writeLink() {
  // Not before the address's own view has been read.
  if (!linkRead) return;
  history.replaceState(null, '', `#${viewLink()}`);
}

/** Sets the filters and layers from the address's fragment; answers the map view it names, if any. */
function readLink() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  if (![...params.keys()].length) return null;
  for (const [id, name] of LINKED_FIELDS) {
    const value = params.get(name);
    // Only values the list offers (a stale or edited link sets nothing odd).
    if (value !== null && (!$(id).options || [...$(id).options].some((o) => o.value === value))) $(id).value = value;
  }
  const mode = params.get('mode') || 'points';
  const radio = document.querySelector(`input[name="mode"][value="${CSS.escape(mode)}"]`);
  if (radio) radio.checked = true;
  for (const [id, name] of [['#f-cell', 'cell'], ['#f-shape', 'shape']]) {
    const value = params.get(name);
    if (value && [...$(id).options].some((o) => o.value === value)) $(id).value = value;
  }
  for (const [id, name] of LINKED_SWITCHES) $(id).checked = params.get(name) === '1';
  const [lat, lon, zoom] = (params.get('at') || '').split(',').map(Number);
  return [lat, lon, zoom].every(Number.isFinite) ? { center: [lon, lat], zoom } : null;
}

let refreshing = 0;
async function refresh() {
  if (!state.account || !mapView.instance()) return;
  writeLink();
  const mine = ++refreshing;
  mapView.setQueries({ filter: cellQuery().toString(), police: policeQuery() });
  refreshProfile();
  refreshAreas();
  perceptions.refresh(mapView.bbox());
  if (state.account?.role === 'admin') {
    // No observation data for administrators: said, rather than refused.
    say('#counts', 'adminNoObservations');
    return;
  }
  $('#counts').textContent = t('loading');
  try {
    const page = await request('GET', `/ogc/collections/observations/items?${filterQuery()}`);
    if (mine !== refreshing) return;
    state.page = page;
    state.pageError = null;
    $('#counts-problem').hidden = true;
    mapView.show(page);
    renderCounts();
    if (state.view === 'list') renderList();
  } catch (error) {
    if (mine !== refreshing) return;
    // Not "nothing found": what went wrong, and a way to try again.
    state.pageError = error;
    $('#counts').textContent = '';
    say('#counts-error', errorKey(error), 'error');
    $('#counts-problem').hidden = false;
    if (state.view === 'list') renderList();
  }
}

// ---------------------------------------------------------------- the time profile

let profiling = 0;
let profiled = { query: null, profile: null };

/**
 * The time profile of what the map shows: the observations in view, or in
 * hot-spot mode those inside the hot spots (the same run as the tiles).
 * Asked again only when the question changes.
 */
function profileQuery() {
  const { mode } = layerChoice();
  const area = $('#profile-area').value;
  const params = mode === 'hotspots' ? cellQuery() : filterParams();
  if (mode === 'hotspots') params.set('within', 'hot');
  // An area replaces the view: its box is the study area for hot spots.
  if (area) params.set('area', area);
  else if (mode !== 'hotspots') params.set('bbox', mapView.bbox());
  return params.toString();
}

let profileAreas = [];

/** The areas the profile can be limited to, from the areas register. */
async function loadProfileAreas(then = refreshProfile) {
  try {
    profileAreas = (await request('GET', '/api/areas'))?.areas ?? [];
  } catch {
    profileAreas = [];
  }
  renderProfileAreas();
  then();
}

function renderProfileAreas() {
  const select = $('#profile-area');
  const chosen = select.value;
  const sorted = [...profileAreas].sort((a, b) => (a.kind === b.kind ? areas.areaName(a).localeCompare(areas.areaName(b), lang()) : a.kind.localeCompare(b.kind)));
  select.replaceChildren(
    el('option', { value: '', text: t('profileAreaView') }),
    ...sorted.map((a) => el('option', { value: String(a.id), text: `${areas.areaName(a)} (${vocab.label('area_kinds', a.kind)})` })));
  select.value = sorted.some((a) => String(a.id) === chosen) ? chosen : '';
  $('#profile-area-box').hidden = sorted.length === 0;
}

async function refreshProfile() {
  if (!$('#profile').open) return;
  const query = profileQuery();
  if (query === profiled.query) return;
  const mine = ++profiling;
  $('#profile').setAttribute('aria-busy', 'true');
  try {
    const profile = await request('GET', `/api/time-profile?${query}`);
    if (mine !== profiling) return;
    profiled = { query, profile };
    message('#profile-message', null);
    analysis.renderProfile(profile);
    analysis.renderLegends(layerChoice());
  } catch (error) {
    if (mine !== profiling) return;
    profiled = { query: null, profile: null };
    $('#profile-table').tBodies[0].replaceChildren();
    $('#profile-total').textContent = '';
    message('#profile-message', errorKey(error), 'error');
  } finally {
    if (mine === profiling) $('#profile').removeAttribute('aria-busy');
  }
}

function renderCounts() {
  if (state.account?.role === 'admin') {
    say('#counts', 'adminNoObservations');
    return;
  }
  const vars = { shown: state.page.numberReturned, matched: state.page.numberMatched };
  $('#counts').textContent = t(vars.shown < vars.matched ? 'countsMore' : 'counts', vars);
}

// ---------------------------------------------------------------- popups and details

function summary(props) {
  const precision = props.precision === 'exact' ? t('precisionExact') : t('precisionSquare');
  return el('div', { class: 'popup' },
    el('h2', { text: vocab.label('categories', props.category) }),
    el('dl', {},
      el('dt', { text: t('popupSeen') }), el('dd', { text: formatDateTime(props.observed_at) }),
      el('dt', { text: t('popupSeverity') }), el('dd', { text: vocab.label('severities', props.severity) }),
      el('dt', { text: t('popupAgency') }), el('dd', { text: agencyName(props.agency) }),
      el('dt', { text: t('popupPrecision') }), el('dd', { text: precision })),
    el('button', { type: 'button', class: 'primary', text: t('popupOpen'), onclick: () => openDetails(props) }));
}

/** The popup for whatever was clicked: an observation, a grid or hot-spot cell, or a crime. */
function featureSummary(props, kind) {
  if (kind === 'grid') return analysis.gridSummary(props, layerChoice());
  if (kind === 'hotspot') return analysis.hotspotSummary(props, layerChoice());
  if (kind === 'crime') return analysis.crimeSummary(props);
  if (kind === 'area') return areas.summary(props);
  if (kind === 'exercise') return exercises.summary(props);
  if (kind === 'perception') return perceptions.summary(props);
  return summary(props);
}

function agencyName(code) {
  const agency = state.agencies.find((a) => a.code === code);
  return agency ? (lang() === 'cy' ? agency.name_cy : agency.name_en) : code;
}

function askPurpose() {
  const dialog = $('#purpose');
  $('#purpose-form').reset();
  dialog.showModal();
  message('#purpose-message', null);
  return new Promise((resolve) => {
    let answer = null;
    $('#purpose-form').onsubmit = (event) => {
      event.preventDefault();
      const value = $('#purpose-text').value.trim();
      if (!value) {
        message('#purpose-message', 'purposeMissing', 'error');
        return;
      }
      answer = value;
      dialog.close();
    };
    $('#purpose-cancel').onclick = () => dialog.close();
    dialog.onclose = () => resolve(answer);
  });
}

async function openDetails(props) {
  let query = '';
  if (props.sensitivity !== 'standard') {
    const purpose = await askPurpose();
    if (!purpose) return;
    query = `?purpose=${encodeURIComponent(purpose)}`;
  }
  const dialog = $('#details');
  const body = $('#details-body');
  try {
    const record = await request('GET', `/api/observations/${props.id}${query}`);
    $('#details-title').textContent = t('detailsTitle', { id: record.id });
    const indicators = (record.indicators || []).map((c) => vocab.label('indicators', c)).join(', ') || '—';
    const history = el('ol', {}, ...(record.history || []).map((h) => el('li', { text: `${formatDateTime(h.changed_at)}: ${t(`history${h.kind[0].toUpperCase()}${h.kind.slice(1)}`)}` })));
    body.replaceChildren(
      el('h3', { text: vocab.label('categories', record.category) }),
      el('dl', {},
        el('dt', { text: t('popupSeen') }), el('dd', { text: formatDateTime(record.observed_at) }),
        el('dt', { text: t('detailSetting') }), el('dd', { text: vocab.label('settings', record.setting) }),
        el('dt', { text: t('popupSeverity') }), el('dd', { text: vocab.label('severities', record.severity) }),
        el('dt', { text: t('detailIndicators') }), el('dd', { text: indicators }),
        el('dt', { text: t('detailStatus') }), el('dd', { text: vocab.label('statuses', record.status) }),
        el('dt', { text: t('detailSensitivity') }), el('dd', { text: vocab.label('sensitivities', record.sensitivity) }),
        el('dt', { text: t('popupAgency') }), el('dd', { text: agencyName(record.agency) }),
        el('dt', { text: t('popupPrecision') }), el('dd', { text: record.precision === 'exact' ? t('precisionExact') : t('precisionSquare') }),
        el('dt', { text: t('detailWhere') }), el('dd', { text: whereShown(record.location?.lon, record.location?.lat, record.precision) }),
        el('dt', { text: t('detailRecorded') }), el('dd', { text: formatDateTime(record.recorded_at) }),
        el('dt', { text: t('detailReviewBy') }), el('dd', { text: formatDate(record.review_by) })),
      el('h3', { text: t('detailDescription') }),
      el('p', { class: 'description', text: record.description || t('detailNoDescription') }),
      record.history?.length ? el('h3', { text: t('detailHistory') }) : null,
      record.history?.length ? history : null);
  } catch (error) {
    $('#details-title').textContent = t('detailsTitle', { id: props.id });
    const key = error.code === 'personal-identifiers-suspected' ? 'purposeIdentifiers' : errorKey(error);
    body.replaceChildren(el('p', { role: 'alert', text: t(key) }));
  }
  if (!dialog.open) dialog.showModal();
}

// ---------------------------------------------------------------- logging a report

function renderReportChoices() {
  $('#r-categories').replaceChildren(...vocab.terms('categories').map((term) => el('button', {
    type: 'button', class: `choice kind-${vocab.kind(term.code)}`, 'data-code': term.code, role: 'radio',
    text: vocab.label('categories', term.code),
    onclick: () => chooseCategory(term.code),
  })));
  $('#r-settings').replaceChildren(...vocab.terms('settings').map((term) => el('button', {
    type: 'button', class: 'choice', 'data-code': term.code, role: 'radio',
    text: vocab.label('settings', term.code),
    onclick: () => chooseSetting(term.code),
  })));
  markChoice('#r-categories', state.report.category);
  markChoice('#r-settings', state.report.setting);
  const indicators = $('#r-indicators');
  const checked = new Set([...indicators.querySelectorAll('input:checked')].map((i) => i.value));
  indicators.replaceChildren(...vocab.terms('indicators').map((term) => el('label', { class: 'check' },
    el('input', { type: 'checkbox', name: 'indicator', value: term.code, checked: checked.has(term.code) }),
    ` ${vocab.label('indicators', term.code)}`)));
  fillSelect($('#r-severity'), 'severities', { all: false });
  if (!$('#r-severity').value) $('#r-severity').value = 'medium';
  const sensitivity = $('#r-sensitivity');
  const chosen = sensitivity.value;
  fillSelect(sensitivity, 'sensitivities', { all: false });
  if (chosen) sensitivity.value = chosen;
  renderPlace();
  renderPlaceLinks();
}

/** The registered places to link the report to, nearest the chosen position first. */
function renderPlaceLinks() {
  const select = $('#r-place-link');
  const chosen = select.value;
  select.replaceChildren(el('option', { value: '', text: t('logNoPlaceLink') }),
    ...places.nearest(state.report.place).map(({ place, distance }) => el('option', {
      value: String(place.id),
      text: distance == null ? places.placeName(place) : t('logPlaceLinkOption', { name: places.placeName(place), distance: places.formatDistance(distance) }),
    })));
  select.value = chosen;
  if (select.selectedIndex < 0) select.value = '';
}

// A place's kind, as the setting of a report about it (the same codes, bar schools).
const SETTING_OF_KIND = {
  'licensed-premises': 'licensed-premises', takeaway: 'takeaway', hotel: 'hotel', 'taxi-rank': 'taxi-rank',
  park: 'park', school: 'school-perimeter', 'transport-hub': 'transport-hub', 'shopping-centre': 'shopping-centre',
};

/** Linking a registered place: its position and setting fill in what is not chosen yet. */
function choosePlaceLink() {
  const place = places.byId($('#r-place-link').value);
  if (!place) return;
  if (!state.report.place) {
    placeReport({ lng: place.location.lon, lat: place.location.lat });
    $('#r-place-link').value = String(place.id);
  }
  const setting = SETTING_OF_KIND[place.kind];
  if (!state.report.setting && setting && vocab.terms('settings').some((term) => term.code === setting)) chooseSetting(setting);
}

/**
 * Marks `code` chosen in a group of choice buttons, which behaves as a
 * radio group: one Tab stop (the chosen button, or the first), arrow keys
 * to move and choose, so *Save* is a handful of Tab stops from the top.
 */
function markChoice(group, code) {
  const buttons = [...document.querySelectorAll(`${group} .choice`)];
  const chosen = buttons.some((b) => b.dataset.code === code);
  buttons.forEach((b, i) => {
    const on = b.dataset.code === code;
    b.setAttribute('aria-checked', String(on));
    b.tabIndex = on || (!chosen && i === 0) ? 0 : -1;
  });
}

/** Arrow keys, Home and End move through a radio group of choices, choosing as they go. */
function choiceKeys(event) {
  const keys = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  if (!(event.key in keys) && event.key !== 'Home' && event.key !== 'End') return;
  const buttons = [...event.currentTarget.querySelectorAll('.choice')];
  const at = buttons.indexOf(document.activeElement);
  if (at < 0) return;
  event.preventDefault();
  const next = event.key === 'Home' ? 0 : event.key === 'End' ? buttons.length - 1 : (at + keys[event.key] + buttons.length) % buttons.length;
  buttons[next].focus();
  buttons[next].click();
}

function chooseCategory(code) {
  state.report.category = code;
  const term = vocab.category(code);
  if (term) $('#r-sensitivity').value = term.default_sensitivity;
  markChoice('#r-categories', code);
}

function chooseSetting(code) {
  state.report.setting = code;
  markChoice('#r-settings', code);
}

function renderPlace() {
  const place = state.report.place;
  $('#r-place').textContent = place
    ? t('logPlaced', { where: mapView.whereWords(place) })
    : t('logNotPlaced');
}

function placeReport(lngLat) {
  state.report.place = { lng: lngLat.lng, lat: lngLat.lat };
  // "Just now" is when the place was chosen, fixed from then on so that
  // every retry of this report sends the same report.
  if (!state.report.attempted) state.report.seenAt = new Date();
  mapView.setPin(state.report.place);
  renderPlace();
  renderPlaceLinks();
}

function useLocation() {
  message('#r-message', 'logLocating');
  navigator.geolocation.getCurrentPosition(
    (position) => {
      message('#r-message', null);
      const lngLat = { lng: position.coords.longitude, lat: position.coords.latitude };
      placeReport(lngLat);
      mapView.instance().easeTo({ center: [lngLat.lng, lngLat.lat], zoom: 16 });
    },
    () => message('#r-message', 'logNoLocation', 'error'),
    { enableHighAccuracy: true, timeout: 15000 });
}

function reportBody(acknowledge) {
  const r = state.report;
  const earlier = $('#r-when-earlier').checked && $('#r-observed').value;
  const body = {
    longitude: Number(r.place.lng.toFixed(6)),
    latitude: Number(r.place.lat.toFixed(6)),
    observed_at: (earlier ? new Date($('#r-observed').value) : state.report.seenAt || new Date()).toISOString(),
    category: r.category,
    setting: r.setting,
    severity: $('#r-severity').value || 'medium',
    sensitivity: $('#r-sensitivity').value || undefined,
    indicators: [...document.querySelectorAll('#r-indicators input:checked')].map((i) => i.value),
    description: $('#r-description').value.trim(),
  };
  const caseReference = $('#r-case').value.trim();
  if (caseReference) body.case_reference = caseReference;
  const placeId = $('#r-place-link').value;
  if (placeId) body.place_id = Number(placeId);
  if (acknowledge) body.acknowledge_warnings = true;
  return body;
}

function resetReport() {
  state.report = { key: newKey(), place: null, category: null, setting: null, seenAt: null, attempted: false };
  $('#report-form').reset();
  mapView.setPin(null);
  renderReportChoices();
  $('#r-severity').value = 'medium';
  $('#r-observed-box').hidden = true;
  $('#warnings').hidden = true;
}

const FIELD_KEYS = {
  longitude: 'logWhere', latitude: 'logWhere', observed_at: 'logWhen', category: 'logWhat', setting: 'logSetting',
  severity: 'logSeverity', sensitivity: 'logSensitivity', description: 'logDescription', case_reference: 'logCaseReference',
  indicators: 'logIndicators', place_id: 'logPlaceLink',
};

let saving = false;

/** What a field at fault is, to put focus on: the first control of its part of the form. */
const FIELD_FOCUS = {
  longitude: '#r-locate', latitude: '#r-locate', observed_at: '#r-observed', category: '#r-categories [tabindex="0"]',
  setting: '#r-settings [tabindex="0"]', severity: '#r-severity', sensitivity: '#r-sensitivity', description: '#r-description',
  case_reference: '#r-case', place_id: '#r-place-link',
};

/** Says what is wrong with the report and puts focus where it can be put right. */
function reportProblem(key, field, vars = {}) {
  message('#r-message', key, 'error', vars);
  const target = field && $(FIELD_FOCUS[field]);
  if (target && !target.closest('[hidden]')) target.focus();
  else $('#r-message').focus();
}

/** After a report is saved or queued: a fresh form, from the top, and focus on what happened. */
function reportDone(key, kind) {
  resetReport();
  message('#r-message', key, kind);
  document.querySelector('main > section[data-view="log"]').scrollTop = 0;
  $('#r-message').focus();
}

async function saveReport(acknowledge = false) {
  if (saving) return;
  const r = state.report;
  if (!r.place) return reportProblem('logMissingPlace', 'longitude');
  if (!r.category) return reportProblem('logMissingCategory', 'category');
  if (!r.setting) return reportProblem('logMissingSetting', 'setting');
  if ($('#r-when-earlier').checked) {
    const when = new Date($('#r-observed').value);
    if (Number.isNaN(when.getTime())) return reportProblem('logMissingTime', 'observed_at');
    if (when > new Date()) return reportProblem('logFutureTime', 'observed_at');
  }
  const body = reportBody(acknowledge);
  const key = r.key;
  saving = true;
  r.attempted = true;
  $('#r-save').disabled = true;
  try {
    if (!navigator.onLine) {
      await outbox.enqueue(key, body);
      return reportDone('logQueued', 'info');
    }
    message('#r-message', 'logSaving');
    try {
      await request('POST', '/api/observations', body, { idempotencyKey: key });
      reportDone('logSaved', 'success');
      refresh();
    } catch (error) {
      if (error.status === 0 || error.status >= 500) {
        // Maybe recorded, maybe not: the outbox sends it again with the
        // same key, and the server keeps it once either way.
        await outbox.enqueue(key, body);
        reportDone('logQueued', 'info');
      } else if (error.code === 'personal-identifiers-suspected') {
        message('#r-message', null);
        showWarnings(error.problem.warnings || [], body);
      } else if (error.status === 422 && FIELD_KEYS[error.field]) {
        reportProblem('errorField', error.field, { field: t(FIELD_KEYS[error.field]) });
      } else {
        message('#r-message', errorKey(error), 'error');
      }
    }
  } catch {
    message('#r-message', 'logNotStored', 'error');
  } finally {
    saving = false;
    $('#r-save').disabled = false;
  }
}

function showWarnings(warnings, body) {
  // The server's offsets count characters of what was sent (trimmed).
  const fields = { description: body.description ?? '', case_reference: body.case_reference ?? '' };
  const list = $('#warnings-list');
  list.replaceChildren(...warnings.map((w) => {
    const text = Array.from(fields[w.field] ?? '').slice(w.start, w.end).join('');
    return el('li', {}, el('strong', { text: `“${text}”` }), ` — ${w.message?.[lang()] ?? ''}`);
  }));
  $('#warnings').hidden = false;
  $('#warnings-title').focus();
}

// ---------------------------------------------------------------- my reports, the list

function waitingItem(w) {
  const label = `${vocab.label('categories', w.body.category)} — ${formatDateTime(w.body.observed_at)}`;
  if (!w.problem) return el('li', { 'data-key': w.key }, label);
  const warned = w.problem.code === 'personal-identifiers-suspected';
  return el('li', { 'data-key': w.key, class: 'problem' },
    label,
    el('p', { text: warned ? t('mineWarned') : t('mineRefused', { field: t(FIELD_KEYS[w.problem.field] || 'logTitle') }) }),
    warned ? el('button', { type: 'button', text: t('warningsSaveAnyway'), onclick: () => outbox.acknowledge(w.key) }) : null,
    el('button', { type: 'button', class: 'quiet', text: t('mineDiscard'), onclick: () => outbox.discard(w.key) }));
}

async function renderMine() {
  const waiting = await outbox.waiting();
  const sent = await outbox.sent();
  $('#mine-waiting').replaceChildren(...(waiting.length ? waiting.map(waitingItem) : [el('li', { text: t('mineNoneWaiting') })]));
  const sentItem = (s, status) => el('li', { 'data-id': s.id },
    `${vocab.label('categories', s.category)} — ${formatDateTime(s.observedAt)} `,
    el('span', { class: 'state-tag', text: status }));
  $('#mine-sent').replaceChildren(...sent.slice(0, 50).map((s) => sentItem(s, t('mineStateSent'))));
  $('#mine-sent-box').hidden = sent.length === 0;
  try {
    const page = await request('GET', '/ogc/collections/observations/items?mine=true&limit=100');
    const statusOf = new Map(page.features.map((f) => [String(f.id), vocab.label('statuses', f.properties.status)]));
    // Sent from here, and what became of it: its status, or gone (withdrawn
    // or erased) — said only when the server's page holds every report.
    const complete = !(page.links ?? []).some((l) => l.rel === 'next');
    const unknown = complete ? t('mineStateGone') : t('mineStateSent');
    $('#mine-sent').replaceChildren(...sent.slice(0, 50).map((s) => sentItem(s, statusOf.get(String(s.id)) ?? unknown)));
    const rows = page.features.map((f) => el('li', {}, el('button', {
      type: 'button', class: 'link', text: `${vocab.label('categories', f.properties.category)} — ${formatDateTime(f.properties.observed_at)}`,
      onclick: () => openDetails({ ...f.properties, id: f.id }),
    }), ' ', el('span', { class: 'state-tag', text: statusOf.get(String(f.id)) })));
    $('#mine-server').replaceChildren(...(rows.length ? rows : [el('li', { text: t('mineNone') })]));
  } catch (error) {
    $('#mine-server').replaceChildren(el('li', { text: error.status === 0 ? t('offline') : t(errorKey(error)) }));
  }
}

async function renderOutboxStatus() {
  const all = await outbox.waiting().catch(() => []);
  const problems = all.filter((w) => w.problem).length;
  const count = all.length - problems;
  const parts = [];
  if (count) parts.push(t('outboxStatus', { count }));
  if (problems) parts.push(t('outboxProblems', { count: problems }));
  $('#outbox-status').textContent = parts.length ? parts.join(' · ') : t('outboxEmpty');
  const net = !navigator.onLine ? 'offline' : serverReachable() ? 'online' : 'serverUnreachable';
  $('#net-status').textContent = t(net);
  $('#net-status').dataset.state = net;
  document.body.dataset.online = String(navigator.onLine);
  document.body.dataset.reachable = String(serverReachable());
  if (state.view === 'mine') renderMine();
}

// How the list is sorted: by a column, in the order that column reads best.
let listSort = 'seen';
const SEVERITY_RANK = { high: 0, medium: 1, low: 2 };

/** The list's rows in the chosen order (distance from the map's centre, on positions as shown). */
function sortedFeatures(features) {
  const centre = mapView.instance()?.getCenter();
  const distance = (f) => {
    const [lon, lat] = f.geometry?.coordinates ?? [0, 0];
    return centre ? ((lon - centre.lng) * Math.cos((lat * Math.PI) / 180)) ** 2 + (lat - centre.lat) ** 2 : 0;
  };
  const by = {
    seen: (a, b) => String(b.properties.observed_at).localeCompare(String(a.properties.observed_at)),
    category: (a, b) => vocab.label('categories', a.properties.category).localeCompare(vocab.label('categories', b.properties.category), lang()),
    severity: (a, b) => (SEVERITY_RANK[a.properties.severity] ?? 3) - (SEVERITY_RANK[b.properties.severity] ?? 3),
    distance: (a, b) => distance(a) - distance(b),
  }[listSort];
  return [...features].sort((a, b) => by(a, b) || String(b.properties.observed_at).localeCompare(String(a.properties.observed_at)));
}

/** Where a record is, as the viewer is shown it: its 100 m grid reference (of its square, when generalised). */
function whereShown(lon, lat, precision) {
  const ref = Number.isFinite(lon) && Number.isFinite(lat) ? gridReference(lon, lat) : '';
  if (!ref) return '—';
  return precision === 'exact' ? ref : t('listSquare', { ref });
}

function whereText(f) {
  const [lon, lat] = f.geometry?.type === 'Point' ? f.geometry.coordinates : [NaN, NaN];
  return whereShown(lon, lat, f.properties.precision);
}

function renderList() {
  const body = $('#list-body');
  // After a failed refresh the old rows would pass for the current view.
  const features = state.pageError ? [] : sortedFeatures(state.page.features);
  for (const th of document.querySelectorAll('#list-table th[data-sort]')) {
    if (th.dataset.sort === listSort) th.setAttribute('aria-sort', listSort === 'category' || listSort === 'distance' ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
  const matched = state.page.numberMatched ?? features.length;
  if (state.pageError) say('#list-count', null);
  else if (features.length < matched) say('#list-count', 'listShownSome', 'info', { shown: features.length, count: matched, by: t(`sortBy_${listSort}`) });
  else say('#list-count', 'listShown', 'info', { count: features.length, by: t(`sortBy_${listSort}`) });
  const rows = features.map((f) => el('tr', { 'data-id': String(f.id) },
    el('td', { text: vocab.label('categories', f.properties.category) }),
    el('td', { text: formatDateTime(f.properties.observed_at) }),
    el('td', { text: vocab.label('severities', f.properties.severity) }),
    el('td', { text: agencyName(f.properties.agency) }),
    el('td', { text: vocab.label('statuses', f.properties.status) }),
    el('td', { class: 'where', text: whereText(f) }),
    el('td', {}, el('button', { type: 'button', text: t('listOpen'), 'aria-label': `${t('listOpen')}: ${vocab.label('categories', f.properties.category)} ${f.id}`, onclick: () => openDetails({ ...f.properties, id: f.id }) }))));
  body.replaceChildren(...rows);
  $('#list-empty').hidden = rows.length > 0 || Boolean(state.pageError);
  $('#list-error').hidden = !state.pageError;
  if (state.pageError) say('#list-error-text', errorKey(state.pageError), 'error');
}

/**
 * Downloads `collection` for `params` in `format` with the reason typed in
 * `purpose` (an input), saying how it went in `message`. The server records
 * the download with its reason and says how many features the file holds;
 * an empty file is not saved. Answers that count, or null.
 */
async function saveDownload({ collection, params, purpose, format, message }) {
  const reason = purpose.value.trim();
  if (!reason) {
    say(message, 'downloadNeedsPurpose', 'error');
    purpose.focus();
    return null;
  }
  params.set('f', format);
  params.set('purpose', reason);
  say(message, 'downloadMaking');
  try {
    const response = await fetchFile(`/ogc/collections/${collection}/items?${params}`);
    // How many features the file holds, when the server says (-1: not said).
    const said = response.headers.get('x-number-matched');
    const count = said === null ? -1 : Number(said);
    const blob = await response.blob();
    if (count === 0) return 0;
    const named = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') || '');
    saveBlob(blob, named ? named[1] : `safetymap-${collection}.${format}`);
    return count;
  } catch (error) {
    say(message, errorKey(error), 'error');
    return null;
  }
}

/** The list view's download: the observations in view with the filters. */
async function download(event) {
  event.preventDefault();
  const message = $('#download-message');
  // Nothing in view with these filters: say so rather than save an empty file.
  if (!state.page.numberMatched && $('#download-purpose').value.trim()) {
    say(message, 'downloadNothing', 'error');
    return;
  }
  const params = filterParams();
  params.set('bbox', mapView.bbox());
  const count = await saveDownload({ collection: 'observations', params, purpose: $('#download-purpose'), format: $('#download-format').value, message });
  if (count === 0) {
    say(message, 'downloadNothing', 'error');
  } else if (count !== null) {
    say(message, count < 0 ? 'downloadSaved' : 'downloadDone', 'success', { count });
  }
}

/**
 * The layers the map shows now, each as the collection to download and the
 * query that selects what is in view: observations always, the grid or hot
 * spots in those modes, and each context layer that is switched on.
 */
function shownLayers() {
  const { mode, context } = layerChoice();
  const inView = (params) => { params.set('bbox', mapView.bbox()); return params; };
  const layers = [{ id: 'observations', label: t('layerObservations'), params: () => inView(filterParams()) }];
  if (mode === 'grid') layers.push({ id: 'grid', label: t('showGrid'), params: () => inView(cellQuery()) });
  if (mode === 'hotspots') layers.push({ id: 'hotspots', label: t('showHotspots'), params: () => inView(cellQuery()) });
  if (context) layers.push({ id: 'police-crimes', label: t('showPolice'), params: () => inView(new URLSearchParams(policeQuery())) });
  if ($('#f-places').checked) layers.push({ id: 'places', label: t('showPlaces'), params: () => inView(new URLSearchParams()) });
  if ($('#f-areas').checked) {
    layers.push({ id: 'areas', label: t('showAreas'), params: () => {
      const params = filterParams();
      if ($('#f-area-kind').value) params.set('kind', $('#f-area-kind').value);
      return inView(params);
    } });
  }
  if ($('#f-perceptions').checked) layers.push({ id: 'perceptions', label: t('showPerceptions'), params: () => inView(new URLSearchParams()) });
  return layers;
}

/** Lists the layers shown in the layer download's choice, keeping the choice where it can. */
function renderLayerDownload() {
  const select = $('#ld-layer');
  const chosen = select.value;
  const layers = shownLayers();
  select.replaceChildren(...layers.map((l) => el('option', { value: l.id, text: l.label })));
  if (layers.some((l) => l.id === chosen)) select.value = chosen;
}

/** The map panel's download: one of the layers shown, in view. */
async function downloadShownLayer() {
  const layer = shownLayers().find((l) => l.id === $('#ld-layer').value) ?? shownLayers()[0];
  const message = $('#ld-message');
  const count = await saveDownload({ collection: layer.id, params: layer.params(), purpose: $('#ld-purpose'), format: $('#ld-format').value, message });
  if (count === 0) {
    say(message, 'layerNothing', 'error');
  } else if (count !== null) {
    say(message, count < 0 ? 'downloadSaved' : 'layerDone', 'success', { layer: layer.label, count });
  }
}

// ---------------------------------------------------------------- language

function renderAll() {
  apply(document);
  mapView.relabel();
  for (const button of document.querySelectorAll('.lang-switch')) {
    button.textContent = t('language');
    button.setAttribute('lang', lang() === 'cy' ? 'en' : 'cy');
  }
  for (const [id, list] of [['#f-category', 'categories'], ['#f-timeband', 'time_bands'], ['#f-days', 'days'], ['#f-status', 'statuses'], ['#f-severity', 'severities']]) fillSelect($(id), list);
  const agency = $('#f-agency');
  const chosen = agency.value;
  agency.replaceChildren(el('option', { value: '', text: t('filterAll') }), ...state.agencies.map((a) => el('option', { value: a.code, text: lang() === 'cy' ? a.name_cy : a.name_en })));
  agency.value = chosen;
  renderReportChoices();
  renderLayerDownload();
  renderCounts();
  analysis.renderLegends(layerChoice());
  places.render();
  areas.render(analysis.smallCountThreshold());
  exercises.render();
  review.render();
  alerts.render();
  accounts.render();
  auditLog.render();
  search.render();
  perceptions.render();
  renderProfileAreas();
  if (profiled.profile) analysis.renderProfile(profiled.profile);
  renderOutboxStatus();
  if (state.view === 'list') renderList();
  if (state.view === 'mine') renderMine();
}

// ---------------------------------------------------------------- start

async function boot() {
  apply(document);
  $('#signin-form').addEventListener('submit', submitSignIn);
  $('#signin').addEventListener('cancel', (event) => event.preventDefault());
  $('#enrol').addEventListener('cancel', (event) => event.preventDefault());
  $('#enrol-form').addEventListener('submit', submitEnrol);
  $('#signout').addEventListener('click', signOut);
  for (const button of document.querySelectorAll('.lang-switch')) button.addEventListener('click', () => setLang(lang() === 'cy' ? 'en' : 'cy'));
  for (const button of document.querySelectorAll('[data-nav]')) button.addEventListener('click', () => showView(button.dataset.nav));
  // The layer switches change nothing the filters ask for.
  const LAYER_SWITCHES = new Set(['f-police', 'f-places', 'f-areas', 'f-area-kind', 'f-perceptions']);
  $('#filters').addEventListener('change', (event) => {
    renderLayerDownload();
    writeLink();
    // The download's own fields and the layer switches change nothing the filters ask for.
    if (!LAYER_SWITCHES.has(event.target.id) && !event.target.id.startsWith('ld-')) refresh();
  });
  $('#layer-download').addEventListener('toggle', renderLayerDownload);
  $('#ld-go').addEventListener('click', downloadShownLayer);
  $('#filters').addEventListener('submit', (event) => event.preventDefault());
  $('#download-form').addEventListener('submit', download);
  for (const th of document.querySelectorAll('#list-table th[data-sort]')) {
    th.querySelector('button').addEventListener('click', () => { listSort = th.dataset.sort; renderList(); });
  }
  $('#f-reset').addEventListener('click', () => { $('#filters').reset(); applyLayerChoice(); applyPlacesLayer(); renderLayerDownload(); refresh(); });
  $('#f-police').addEventListener('change', applyLayerChoice);
  $('#f-places').addEventListener('change', applyPlacesLayer);
  $('#f-areas').addEventListener('change', () => refreshAreas());
  $('#f-perceptions').addEventListener('change', () => perceptions.refresh(mapView.bbox()));
  $('#f-area-kind').addEventListener('change', () => refreshAreas());
  $('#areas-manage').addEventListener('click', () => showView('areas'));
  $('#a-back').addEventListener('click', () => showView('map'));
  $('#r-place-link').addEventListener('change', choosePlaceLink);
  places.init({
    showView: (name) => { if (state.view !== name) showView(name); },
    openDetails: (props) => openDetails(props),
    errorKey,
    onChange: () => renderPlaceLinks(),
  });
  areas.init({ errorKey, onChanged: () => { refreshAreas(true); loadProfileAreas(); } });
  exercises.init({
    errorKey,
    showView: (name) => { if (state.view !== name) showView(name); },
    role: () => state.account?.role || '',
    agencies: () => state.agencies,
  });
  perceptions.init({ errorKey, showView: (name) => { if (state.view !== name) showView(name); } });
  review.init({ errorKey, showView: (name) => { if (state.view !== name) showView(name); } });
  accounts.init({ errorKey });
  alerts.init({
    errorKey,
    showView: (name) => { if (state.view !== name) showView(name); },
    where: (o) => (o.precision === 'exact' ? mapView.whereWords({ lng: o.position[0], lat: o.position[1] }) : whereShown(o.position[0], o.position[1], o.precision)),
    showObservation: (o) => {
      showView('map');
      const lngLat = { lng: o.position[0], lat: o.position[1] };
      mapView.instance().jumpTo({ center: lngLat, zoom: Math.max(mapView.instance().getZoom(), 16) });
      mapView.popup(lngLat, summary(o), { kind: 'observation', id: o.id });
    },
  });
  auditLog.init({ errorKey });
  search.init();
  $('#map-print').addEventListener('click', () => printMap(state.account?.display_name ?? ''));
  // On a phone the profile starts folded away under the map; it loads when opened.
  if (window.matchMedia('(max-width: 760px)').matches) $('#profile').open = false;
  $('#profile').addEventListener('toggle', () => refreshProfile());
  $('#profile-area').addEventListener('change', () => refreshProfile());
  $('#r-centre').addEventListener('click', () => placeReport(mapView.instance().getCenter()));
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener('change', applyLayerChoice);
  $('#r-locate').addEventListener('click', useLocation);
  for (const group of ['#r-categories', '#r-settings']) $(group).addEventListener('keydown', choiceKeys);
  $('#report-form').addEventListener('submit', (event) => { event.preventDefault(); saveReport(false); });
  $('#warnings-save').addEventListener('click', () => saveReport(true));
  $('#warnings-edit').addEventListener('click', () => { $('#warnings').hidden = true; $('#r-description').focus(); });
  $('#details-close').addEventListener('click', () => $('#details').close());
  $('#mine-send').addEventListener('click', () => outbox.flush());
  for (const radio of document.querySelectorAll('input[name="when"]')) {
    radio.addEventListener('change', () => {
      $('#r-observed-box').hidden = !$('#r-when-earlier').checked;
      const now = new Date();
      now.setMinutes(now.getMinutes() - now.getTimezoneOffset());
      $('#r-observed').max = now.toISOString().slice(0, 16);
    });
  }
  onLangChange(renderAll);
  outbox.onChange(() => { renderOutboxStatus(); refresh(); });
  window.addEventListener('online', renderOutboxStatus);
  window.addEventListener('offline', renderOutboxStatus);
  onSessionEnded(() => showSignIn('sessionEnded'));
  // The server gone: said so at once, asked again every few seconds, and
  // when it answers the map is asked again and waiting reports are sent.
  let probing = null;
  onReachability((reachable) => {
    renderOutboxStatus();
    if (reachable) {
      clearInterval(probing);
      probing = null;
      refresh();
      outbox.flush();
    } else if (!probing) {
      probing = setInterval(() => { if (navigator.onLine) probe(); }, 3000);
    }
  });
  for (const button of document.querySelectorAll('.retry')) button.addEventListener('click', () => { probe(); refresh(); });

  await vocab.load();
  try {
    const session = await request('GET', '/api/session', undefined, { retry: false });
    await started(session);
  } catch (error) {
    // Opened with no signal: carry on as the last person signed in here, so
    // reports can be logged to the outbox; sending them later asks for a
    // sign-in if the session has ended by then.
    const last = JSON.parse(localStorage.getItem('safetymap.account') || 'null');
    if (error.status === 0 && last) {
      state.account = last;
      $('#whoami').textContent = last.display_name;
      showRole(last);
      outbox.setOwner(last.username);
    } else {
      await showSignIn();
    }
  }
  try {
    state.agencies = await request('GET', '/api/agencies');
  } catch {
    state.agencies = [];
  }
  await mapView.create($('#map'), {
    onFeature: (props, lngLat, kind) => {
      if (state.view === 'log') placeReport(lngLat);
      else if (kind === 'place') places.openPlace(props.id);
      else mapView.popup(lngLat, featureSummary(props, kind), { kind, id: props.id });
    },
    onTap: (lngLat) => {
      if (state.view === 'log') placeReport(lngLat);
      else if (state.view === 'places' && places.isPlacing()) places.setLocation(lngLat);
      else if (state.view === 'places' && places.isPicking()) places.setPick(lngLat);
      else if (state.view === 'perception' && perceptions.isDrawing()) perceptions.addVertex(lngLat);
      else if (state.view === 'areas' && areas.isDrawing()) areas.addCorner(lngLat);
      else if (state.view === 'alerts' && alerts.isDrawing()) alerts.addCorner(lngLat);
      else if (state.view === 'exercises' && exercises.isDrawing()) exercises.addVertex(lngLat);
      else if (state.view === 'exercises' && exercises.isPickingArea()) exercises.pickAreaAt(lngLat);
    },
    isPlacing: () => state.view === 'log' || (state.view === 'places' && places.isPlacing()) || (state.view === 'areas' && areas.isDrawing())
      || (state.view === 'exercises' && (exercises.isDrawing() || exercises.isPickingArea())) || (state.view === 'places' && places.isPicking())
      || (state.view === 'perception' && perceptions.isDrawing()) || (state.view === 'alerts' && alerts.isDrawing()),
    onMove: () => refresh(),
  });
  await places.load();
  await loadProfileAreas(() => {});
  renderAll();
  // A link opens the view it names; a reload may bring back the form's
  // last choices. Either way, draw what the form says.
  const linked = readLink();
  if (linked) mapView.instance().jumpTo(linked);
  linkRead = true;
  applyLayerChoice();
  applyPlacesLayer();
  showView(firstView());
  await refresh();
  outbox.flush();
  document.body.dataset.ready = 'true';
}

if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
boot();
