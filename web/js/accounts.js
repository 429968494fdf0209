// Account management, for coordinators (the field officers and panel
// members of their own agency) and administrators (every account, the
// agencies, changes waiting for a second administrator, and the whole
// sign-in log). The server decides who may manage whom; this screen only
// offers what the person's role can do, and says plainly when it is refused.

import { t, say, formatDateTime } from './i18n.js';
import { request } from './api.js';
import * as vocab from './vocab.js';
import { el } from './dom.js';

const $ = (selector) => document.querySelector(selector);

let me = null;
let users = [];
let agencies = [];
let requests = [];
let signIns = [];
let editing = null;
let loaded = false;
let hooks = { errorKey: () => 'errorGeneric' };

/** Whether `account` manages every account (an administrator). */
const isAdmin = (account) => Boolean(account?.admin || account?.role === 'admin');

/** The roles this manager may give: administrators any, coordinators field officer and panel member. */
function grantable() {
  const all = vocab.terms('roles').map((term) => term.code);
  return isAdmin(me) ? all : all.filter((code) => code === 'field-officer' || code === 'panel-member');
}

function agencyName(code) {
  const agency = agencies.find((a) => a.code === code);
  if (!agency) return code;
  return document.documentElement.lang === 'cy' ? agency.name_cy : agency.name_en;
}

/** Wires the screen up; `errorKey` names an error's message. */
export function init(given) {
  hooks = given;
  $('#account-new').addEventListener('submit', create);
  $('#account-edit').addEventListener('submit', saveEdit);
  $('#ae-cancel').addEventListener('click', closeEdit);
  $('#agency-new').addEventListener('submit', createAgency);
  $('#accounts-error .retry').addEventListener('click', load);
}

/** Remembers who is signed in (their role decides what is offered). */
export function setAccount(account) {
  me = account;
  loaded = false;
}

/** Asks the server for everything the screen shows, then draws it. */
export async function load() {
  if (!me || !(isAdmin(me) || me.role === 'coordinator')) return;
  $('#accounts-error').hidden = true;
  try {
    const admin = isAdmin(me);
    [users, agencies, requests, signIns] = await Promise.all([
      request('GET', '/api/users'),
      request('GET', '/api/agencies'),
      admin ? request('GET', '/api/role-requests') : Promise.resolve([]),
      request('GET', '/api/sign-ins'),
    ]);
    loaded = true;
    render();
  } catch (error) {
    say('#accounts-error-text', hooks.errorKey(error), 'error');
    $('#accounts-error').hidden = false;
  }
}

function fillRoles(select, chosen) {
  select.replaceChildren(...grantable().map((code) => el('option', { value: code, text: vocab.label('roles', code) })));
  if (chosen) select.value = chosen;
}

/** Draws the screen in the current language. */
export function render() {
  if (!loaded) return;
  const admin = isAdmin(me);
  say('#accounts-intro', admin ? 'accountsIntroAdmin' : 'accountsIntro', 'info', { agency: agencyName(me.agency) });
  $('#accounts-body').replaceChildren(...users.map((u) => el('tr', { 'data-id': String(u.id), class: u.disabled ? 'disabled' : null },
    el('td', { text: u.display_name }),
    el('td', { text: u.username }),
    el('td', { text: agencyName(u.agency) }),
    el('td', { text: vocab.label('roles', u.role) + (u.admin && u.role !== 'admin' ? ` + ${vocab.label('roles', 'admin')}` : '') }),
    el('td', { text: t(u.second_factor ? 'accountFactorSet' : (u.second_factor_required ? 'accountFactorMissing' : 'accountFactorNone')) }),
    el('td', { text: t(u.disabled ? 'accountStatusDisabled' : 'accountStatusActive') }),
    el('td', {}, el('button', { type: 'button', text: t('accountChange'), 'aria-label': t('accountChangeWho', { name: u.display_name }), onclick: () => openEdit(u) })))));
  fillRoles($('#an-role'), $('#an-role').value || 'field-officer');
  const agencySelect = $('#an-agency');
  const chosenAgency = agencySelect.value || me.agency;
  const offered = admin ? agencies : agencies.filter((a) => a.code === me.agency);
  agencySelect.replaceChildren(...offered.map((a) => el('option', { value: a.code, text: agencyName(a.code) })));
  agencySelect.value = offered.some((a) => a.code === chosenAgency) ? chosenAgency : me.agency;
  agencySelect.disabled = !admin;
  if (editing) fillEdit(users.find((u) => u.id === editing.id) || editing);
  renderAdmin();
  $('#signins-body').replaceChildren(...signIns.slice(0, 100).map((s) => el('tr', {},
    el('td', { text: formatDateTime(s.at) }),
    el('td', { text: s.username }),
    el('td', { text: t(`signinOutcome-${s.outcome}`) }),
    el('td', { text: s.client }))));
}

function renderAdmin() {
  if (!isAdmin(me)) return;
  const kind = $('#ag-kind');
  const chosen = kind.value;
  kind.replaceChildren(...vocab.terms('agency_kinds').map((term) => el('option', { value: term.code, text: vocab.label('agency_kinds', term.code) })));
  if (chosen) kind.value = chosen;
  $('#agencies-body').replaceChildren(...agencies.map((a) => el('tr', {},
    el('td', { text: a.code }),
    el('td', { text: a.name_en }),
    el('td', { text: a.name_cy, lang: 'cy' }),
    el('td', { text: vocab.label('agency_kinds', a.kind) }))));
  $('#requests-empty').hidden = requests.length > 0;
  $('#requests-list').replaceChildren(...requests.map((r) => {
    const who = users.find((u) => u.id === r.user_id);
    const role = vocab.label('roles', r.role) + (r.admin && r.role !== 'admin' ? ` + ${vocab.label('roles', 'admin')}` : '');
    return el('li', { 'data-id': String(r.id) },
      el('span', { text: t('requestText', { name: who ? who.display_name : `#${r.user_id}`, role, by: r.requested_by, when: formatDateTime(r.requested_at) }) }),
      ' ',
      el('button', { type: 'button', class: 'primary', text: t('requestApprove'), onclick: () => decideRequest(r, 'approve') }),
      ' ',
      el('button', { type: 'button', text: t('requestRefuse'), onclick: () => decideRequest(r, 'refuse') }));
  }));
}

function fillEdit(user) {
  editing = user;
  say('#account-edit-title', 'accountEditTitle', 'info', { name: user.display_name, username: user.username });
  fillRoles($('#ae-role'), user.role);
  // A role this manager may not give (a coordinator looking at their own
  // kind of account never happens: they do not manage one) stays as it is.
  if (![...$('#ae-role').options].some((o) => o.value === user.role)) {
    $('#ae-role').append(el('option', { value: user.role, text: vocab.label('roles', user.role) }));
    $('#ae-role').value = user.role;
  }
}

function openEdit(user) {
  fillEdit(user);
  $('#ae-name').value = user.display_name;
  $('#ae-admin').checked = Boolean(user.admin);
  $('#ae-disabled').checked = user.disabled;
  $('#ae-password').value = '';
  $('#ae-reset-factor').checked = false;
  $('#ae-reset-factor').closest('label').hidden = !user.second_factor;
  $('#account-edit').hidden = false;
  $('#ae-name').focus();
}

function closeEdit() {
  editing = null;
  $('#account-edit').hidden = true;
}

/** The message for a refused account change: the field at fault where there is one. */
function problemKey(error) {
  if (error.code === 'already-exists') return 'accountTaken';
  if (error.field === 'password' || error.problem?.errors?.some?.((e) => e.field === 'password')) return 'accountBadPassword';
  if (error.field === 'username' || error.problem?.errors?.some?.((e) => e.field === 'username')) return 'accountBadUsername';
  if (error.problem?.errors?.some?.((e) => e.field === 'display_name')) return 'accountBadName';
  if (error.code === 'own-role') return 'accountOwnRole';
  return hooks.errorKey(error);
}

async function saveEdit(event) {
  event.preventDefault();
  if (!editing) return;
  const change = {};
  const name = $('#ae-name').value.trim();
  if (name !== editing.display_name) change.display_name = name;
  if ($('#ae-role').value !== editing.role) change.role = $('#ae-role').value;
  if (isAdmin(me) && $('#ae-admin').checked !== Boolean(editing.admin)) change.admin = $('#ae-admin').checked;
  if ($('#ae-disabled').checked !== editing.disabled) change.disabled = $('#ae-disabled').checked;
  if ($('#ae-password').value) change.password = $('#ae-password').value;
  if ($('#ae-reset-factor').checked) change.reset_second_factor = true;
  if (!Object.keys(change).length) {
    say('#accounts-message', 'accountNothingChanged', 'error');
    $('#accounts-message').focus();
    return;
  }
  say('#accounts-message', 'logSaving');
  try {
    const answer = await request('PATCH', `/api/users/${editing.id}`, change);
    const pending = Boolean(answer?.role_request);
    closeEdit();
    await load();
    say('#accounts-message', pending ? 'accountPending' : 'accountSaved', 'success', { name: name || '' });
  } catch (error) {
    say('#accounts-message', problemKey(error), 'error');
  }
  $('#accounts-message').focus();
}

async function create(event) {
  event.preventDefault();
  const body = {
    username: $('#an-username').value.trim(),
    display_name: $('#an-name').value.trim(),
    agency: $('#an-agency').value,
    role: $('#an-role').value,
    password: $('#an-password').value,
  };
  if (!body.username || !body.display_name || !body.password) {
    say('#accounts-message', 'accountMissing', 'error');
    $('#accounts-message').focus();
    return;
  }
  say('#accounts-message', 'logSaving');
  try {
    const made = await request('POST', '/api/users', body);
    $('#account-new').reset();
    await load();
    say('#accounts-message', 'accountCreated', 'success', { name: made.display_name, username: made.username });
  } catch (error) {
    say('#accounts-message', problemKey(error), 'error');
  }
  $('#accounts-message').focus();
}

async function createAgency(event) {
  event.preventDefault();
  const body = { code: $('#ag-code').value.trim(), name_en: $('#ag-name-en').value.trim(), name_cy: $('#ag-name-cy').value.trim(), kind: $('#ag-kind').value };
  if (!body.code || !body.name_en || !body.name_cy) {
    say('#agency-message', 'agencyMissing', 'error');
    return;
  }
  try {
    const made = await request('POST', '/api/agencies', body);
    $('#agency-new').reset();
    await load();
    say('#agency-message', 'agencyCreated', 'success', { name: made.name_en });
  } catch (error) {
    say('#agency-message', error.field === 'code' ? 'agencyBadCode' : hooks.errorKey(error), 'error');
  }
}

async function decideRequest(r, how) {
  try {
    await request('POST', `/api/role-requests/${r.id}/${how}`);
    await load();
    say('#accounts-message', how === 'approve' ? 'requestApproved' : 'requestRefused', 'success');
  } catch (error) {
    say('#accounts-message', error.code === 'second-administrator-required' ? 'requestNotYours' : hooks.errorKey(error), 'error');
  }
  $('#accounts-message').focus();
}
