// The app: sign-in, the map with its filters, logging a report, my reports
// and the list view. Plain ES modules, no build step.

import { t, apply, lang, setLang, onLangChange, formatDateTime, formatDate } from './i18n.js';
import { request, setCsrf, onSessionEnded, newKey, ApiError } from './api.js';
import * as vocab from './vocab.js';
import * as mapView from './map.js';
import * as outbox from './outbox.js';

const $ = (selector) => document.querySelector(selector);
const state = {
  account: null,
  page: { features: [], numberMatched: 0, numberReturned: 0 },
  report: { key: newKey(), place: null, category: null, setting: null },
  view: 'map',
  agencies: [],
};

// ---------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'text') node.textContent = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (value !== false && value != null) node.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function message(target, key, kind = 'info', vars = {}) {
  const box = $(target);
  box.textContent = key ? t(key, vars) : '';
  box.dataset.kind = kind;
  box.hidden = !key;
}

function errorKey(error) {
  if (error instanceof ApiError) {
    if (error.status === 403) return 'errorForbidden';
    if (error.status === 404) return 'errorNotFound';
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

function showSignIn(reason) {
  const dialog = $('#signin');
  message('#signin-message', reason || null, reason === 'sessionEnded' ? 'info' : 'error');
  $('#signin-form').reset();
  if (!dialog.open) dialog.showModal();
  $('#signin-username').focus();
  return new Promise((resolve) => { signedIn = resolve; });
}

async function submitSignIn(event) {
  event.preventDefault();
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
  document.body.dataset.role = session.account.role;
  if (signedIn) {
    const resolve = signedIn;
    signedIn = null;
    resolve();
  }
}

async function enrol() {
  const dialog = $('#enrol');
  const offer = await request('POST', '/api/me/second-factor');
  $('#enrol-key').textContent = offer.secret.replace(/(.{4})/g, '$1 ').trim();
  $('#enrol-link').href = offer.otpauth_uri;
  message('#enrol-message', null);
  $('#enrol-codes-box').hidden = true;
  $('#enrol-form').hidden = false;
  dialog.showModal();
  $('#enrol-code').focus();
}

async function submitEnrol(event) {
  event.preventDefault();
  try {
    const session = await request('POST', '/api/me/second-factor/confirm', { code: $('#enrol-code').value.trim() });
    setCsrf(session.csrf_token);
    $('#enrol-form').hidden = true;
    const list = $('#enrol-codes');
    list.replaceChildren(...session.recovery_codes.map((c) => el('li', { text: c })));
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
  try {
    await request('DELETE', '/api/session', undefined, { retry: false });
  } catch {
    // Signing out of an ended session is already done.
  }
  location.reload();
}

// ---------------------------------------------------------------- views

function showView(name) {
  state.view = name;
  for (const section of document.querySelectorAll('[data-view]')) section.hidden = section.dataset.view !== name && !(name === 'log' && section.dataset.view === 'map');
  for (const button of document.querySelectorAll('[data-nav]')) {
    button.setAttribute('aria-current', button.dataset.nav === name ? 'page' : 'false');
  }
  document.body.dataset.view = name;
  mapView.instance()?.resize();
  if (name === 'mine') renderMine();
  if (name === 'list') renderList();
  if (name !== 'log') mapView.setPin(null);
  else if (state.report.place) mapView.setPin(state.report.place);
}

// ---------------------------------------------------------------- filters and the layer

function filterQuery() {
  const params = new URLSearchParams();
  params.set('bbox', mapView.bbox());
  params.set('limit', '10000');
  for (const [id, name] of [['#f-category', 'category'], ['#f-timeband', 'timeband'], ['#f-days', 'days'], ['#f-agency', 'agency'], ['#f-status', 'status'], ['#f-severity', 'severity']]) {
    const value = $(id).value;
    if (value) params.set(name, value);
  }
  const from = $('#f-from').value;
  const to = $('#f-to').value;
  if (from || to) params.set('datetime', `${from ? `${from}T00:00:00Z` : '..'}/${to ? `${to}T23:59:59Z` : '..'}`);
  return params.toString();
}

let refreshing = 0;
async function refresh() {
  if (!state.account || !mapView.instance()) return;
  const mine = ++refreshing;
  $('#counts').textContent = t('loading');
  try {
    const page = await request('GET', `/ogc/collections/observations/items?${filterQuery()}`);
    if (mine !== refreshing) return;
    state.page = page;
    mapView.show(page);
    renderCounts();
    if (state.view === 'list') renderList();
  } catch (error) {
    if (mine === refreshing) $('#counts').textContent = t(errorKey(error));
  }
}

function renderCounts() {
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

function agencyName(code) {
  const agency = state.agencies.find((a) => a.code === code);
  return agency ? (lang() === 'cy' ? agency.name_cy : agency.name_en) : code;
}

function askPurpose() {
  const dialog = $('#purpose');
  $('#purpose-form').reset();
  dialog.showModal();
  return new Promise((resolve) => {
    $('#purpose-form').onsubmit = (event) => {
      event.preventDefault();
      const value = $('#purpose-text').value.trim();
      if (!value) return;
      dialog.close();
      resolve(value);
    };
    $('#purpose-cancel').onclick = () => { dialog.close(); resolve(null); };
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
        el('dt', { text: t('detailRecorded') }), el('dd', { text: formatDateTime(record.recorded_at) }),
        el('dt', { text: t('detailReviewBy') }), el('dd', { text: formatDate(record.review_by) })),
      el('h3', { text: t('detailDescription') }),
      el('p', { class: 'description', text: record.description || t('detailNoDescription') }),
      record.history?.length ? el('h3', { text: t('detailHistory') }) : null,
      record.history?.length ? history : null);
  } catch (error) {
    $('#details-title').textContent = t('detailsTitle', { id: props.id });
    body.replaceChildren(el('p', { role: 'alert', text: t(errorKey(error)) }));
  }
  if (!dialog.open) dialog.showModal();
}

// ---------------------------------------------------------------- logging a report

function renderReportChoices() {
  const categories = $('#r-categories');
  categories.replaceChildren(...vocab.terms('categories').map((term) => el('button', {
    type: 'button', class: `choice kind-${vocab.kind(term.code)}`, 'data-code': term.code,
    'aria-pressed': String(state.report.category === term.code),
    text: vocab.label('categories', term.code),
    onclick: () => chooseCategory(term.code),
  })));
  const settings = $('#r-settings');
  settings.replaceChildren(...vocab.terms('settings').map((term) => el('button', {
    type: 'button', class: 'choice', 'data-code': term.code,
    'aria-pressed': String(state.report.setting === term.code),
    text: vocab.label('settings', term.code),
    onclick: () => chooseSetting(term.code),
  })));
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
}

function chooseCategory(code) {
  state.report.category = code;
  const term = vocab.category(code);
  if (term) $('#r-sensitivity').value = term.default_sensitivity;
  for (const b of document.querySelectorAll('#r-categories .choice')) b.setAttribute('aria-pressed', String(b.dataset.code === code));
}

function chooseSetting(code) {
  state.report.setting = code;
  for (const b of document.querySelectorAll('#r-settings .choice')) b.setAttribute('aria-pressed', String(b.dataset.code === code));
}

function renderPlace() {
  const place = state.report.place;
  $('#r-place').textContent = place
    ? t('logPlaced', { lat: place.lat.toFixed(5), lon: place.lng.toFixed(5) })
    : t('logNotPlaced');
}

function placeReport(lngLat) {
  state.report.place = { lng: lngLat.lng, lat: lngLat.lat };
  mapView.setPin(state.report.place);
  renderPlace();
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
    observed_at: (earlier ? new Date($('#r-observed').value) : new Date()).toISOString(),
    category: r.category,
    setting: r.setting,
    severity: $('#r-severity').value || 'medium',
    sensitivity: $('#r-sensitivity').value || undefined,
    indicators: [...document.querySelectorAll('#r-indicators input:checked')].map((i) => i.value),
    description: $('#r-description').value.trim(),
  };
  const caseReference = $('#r-case').value.trim();
  if (caseReference) body.case_reference = caseReference;
  if (acknowledge) body.acknowledge_warnings = true;
  return body;
}

function resetReport() {
  state.report = { key: newKey(), place: null, category: null, setting: null };
  $('#report-form').reset();
  mapView.setPin(null);
  renderReportChoices();
  $('#r-severity').value = 'medium';
  $('#r-observed-box').hidden = true;
  $('#warnings').hidden = true;
}

async function saveReport(acknowledge = false) {
  const r = state.report;
  if (!r.place) return message('#r-message', 'logMissingPlace', 'error');
  if (!r.category) return message('#r-message', 'logMissingCategory', 'error');
  if (!r.setting) return message('#r-message', 'logMissingSetting', 'error');
  const body = reportBody(acknowledge);
  const key = r.key;
  if (!navigator.onLine) {
    await outbox.enqueue(key, body);
    resetReport();
    return message('#r-message', 'logQueued', 'info');
  }
  message('#r-message', 'logSaving');
  try {
    await request('POST', '/api/observations', body, { idempotencyKey: key });
    resetReport();
    message('#r-message', 'logSaved', 'success');
    refresh();
  } catch (error) {
    if (error.status === 0) {
      await outbox.enqueue(key, body);
      resetReport();
      message('#r-message', 'logQueued', 'info');
    } else if (error.code === 'personal-identifiers-suspected') {
      message('#r-message', null);
      showWarnings(error.problem.warnings || []);
    } else {
      message('#r-message', errorKey(error), 'error');
    }
  }
}

function showWarnings(warnings) {
  const fields = { description: $('#r-description').value, case_reference: $('#r-case').value };
  const list = $('#warnings-list');
  list.replaceChildren(...warnings.map((w) => {
    const text = Array.from(fields[w.field] ?? '').slice(w.start, w.end).join('');
    return el('li', {}, el('strong', { text: `“${text}”` }), ` — ${w.message?.[lang()] ?? ''}`);
  }));
  $('#warnings').hidden = false;
  $('#warnings-title').focus();
}

// ---------------------------------------------------------------- my reports, the list

async function renderMine() {
  const waiting = await outbox.waiting();
  const sent = await outbox.sent();
  $('#mine-waiting').replaceChildren(...(waiting.length ? waiting.map((w) => el('li', { 'data-key': w.key },
    `${vocab.label('categories', w.body.category)} — ${formatDateTime(w.body.observed_at)}${w.rejected ? ` (${w.rejected})` : ''}`)) : [el('li', { text: t('mineNoneWaiting') })]));
  $('#mine-sent').replaceChildren(...sent.slice(0, 50).map((s) => el('li', { 'data-id': s.id },
    `${vocab.label('categories', s.category)} — ${formatDateTime(s.observedAt)}`)));
  $('#mine-sent-box').hidden = sent.length === 0;
  try {
    const page = await request('GET', '/ogc/collections/observations/items?mine=true&limit=100');
    const rows = page.features.map((f) => el('li', {}, el('button', {
      type: 'button', class: 'link', text: `${vocab.label('categories', f.properties.category)} — ${formatDateTime(f.properties.observed_at)}`,
      onclick: () => openDetails({ ...f.properties, id: f.id }),
    })));
    $('#mine-server').replaceChildren(...(rows.length ? rows : [el('li', { text: t('mineNone') })]));
  } catch {
    $('#mine-server').replaceChildren(el('li', { text: t('offline') }));
  }
}

async function renderOutboxStatus() {
  const count = (await outbox.waiting()).filter((w) => !w.rejected).length;
  $('#outbox-status').textContent = count ? t('outboxStatus', { count }) : t('outboxEmpty');
  $('#net-status').textContent = navigator.onLine ? t('online') : t('offline');
  document.body.dataset.online = String(navigator.onLine);
  if (state.view === 'mine') renderMine();
}

function renderList() {
  const body = $('#list-body');
  const rows = state.page.features.map((f) => el('tr', {},
    el('td', { text: vocab.label('categories', f.properties.category) }),
    el('td', { text: formatDateTime(f.properties.observed_at) }),
    el('td', { text: vocab.label('severities', f.properties.severity) }),
    el('td', { text: agencyName(f.properties.agency) }),
    el('td', { text: vocab.label('statuses', f.properties.status) }),
    el('td', { text: f.properties.precision === 'exact' ? t('precisionExact') : t('precisionSquare') }),
    el('td', {}, el('button', { type: 'button', text: t('listOpen'), 'aria-label': `${t('listOpen')}: ${vocab.label('categories', f.properties.category)} ${f.id}`, onclick: () => openDetails({ ...f.properties, id: f.id }) }))));
  body.replaceChildren(...rows);
  $('#list-empty').hidden = rows.length > 0;
}

// ---------------------------------------------------------------- language

function renderAll() {
  apply(document);
  mapView.relabel();
  $('#lang').textContent = t('language');
  $('#lang').setAttribute('aria-label', t('languageLabel'));
  $('#lang').setAttribute('lang', lang() === 'cy' ? 'en' : 'cy');
  for (const [id, list] of [['#f-category', 'categories'], ['#f-timeband', 'time_bands'], ['#f-days', 'days'], ['#f-status', 'statuses'], ['#f-severity', 'severities']]) fillSelect($(id), list);
  const agency = $('#f-agency');
  const chosen = agency.value;
  agency.replaceChildren(el('option', { value: '', text: t('filterAll') }), ...state.agencies.map((a) => el('option', { value: a.code, text: lang() === 'cy' ? a.name_cy : a.name_en })));
  agency.value = chosen;
  renderReportChoices();
  renderCounts();
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
  $('#lang').addEventListener('click', () => setLang(lang() === 'cy' ? 'en' : 'cy'));
  for (const button of document.querySelectorAll('[data-nav]')) button.addEventListener('click', () => showView(button.dataset.nav));
  $('#filters').addEventListener('change', () => refresh());
  $('#f-reset').addEventListener('click', () => { $('#filters').reset(); refresh(); });
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener('change', () => mapView.setMode(radio.value));
  $('#r-locate').addEventListener('click', useLocation);
  $('#report-form').addEventListener('submit', (event) => { event.preventDefault(); saveReport(false); });
  $('#warnings-save').addEventListener('click', () => saveReport(true));
  $('#warnings-edit').addEventListener('click', () => { $('#warnings').hidden = true; $('#r-description').focus(); });
  $('#details-close').addEventListener('click', () => $('#details').close());
  $('#mine-send').addEventListener('click', () => outbox.flush());
  for (const radio of document.querySelectorAll('input[name="when"]')) radio.addEventListener('change', () => { $('#r-observed-box').hidden = !$('#r-when-earlier').checked; });
  onLangChange(renderAll);
  outbox.onChange(renderOutboxStatus);
  window.addEventListener('online', renderOutboxStatus);
  window.addEventListener('offline', renderOutboxStatus);
  onSessionEnded(() => showSignIn('sessionEnded'));

  await vocab.load();
  try {
    const session = await request('GET', '/api/session', undefined, { retry: false });
    await started(session);
  } catch {
    await showSignIn();
  }
  try {
    state.agencies = await request('GET', '/api/agencies');
  } catch {
    state.agencies = [];
  }
  await mapView.create($('#map'), {
    onFeature: (props, lngLat) => {
      if (state.view === 'log') placeReport(lngLat);
      else mapView.popup(lngLat, summary(props));
    },
    onTap: (lngLat) => { if (state.view === 'log') placeReport(lngLat); },
    onMove: () => refresh(),
  });
  renderAll();
  showView('map');
  await refresh();
  outbox.flush();
  document.body.dataset.ready = 'true';
}

if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
boot();
