// Browser tests: the web app in Debian's headless Chromium, driven by
// playwright-core, against a real `safetymap serve` on a fresh embedded
// store. Run by scripts/test after the Rust suite (which builds the binary).
//
//   node tests/browser/run.mjs            # every scenario
//   node tests/browser/run.mjs welsh      # scenarios whose name contains "welsh"
//
// Prints one line per scenario and a cargo-style "test result:" line that
// scripts/test adds to its summary. Screenshots go to docs/screenshots/.

import { spawn, execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { gridReference } from '../../web/js/grid.js';
import { startSink } from './smtp-sink.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const BINARY = process.env.SAFETYMAP_BIN || join(root, 'target', 'debug', 'safetymap');
const CHROMIUM = process.env.SAFETYMAP_CHROMIUM || '/usr/bin/chromium';
const MBTILES = resolve(root, '..', 'shared', 'data', 'osm-newport', 'newport-basemap-z10-15.mbtiles');
const SCREENSHOTS = join(root, 'docs', 'screenshots');
const POLICE_FIXTURE = join(root, 'fixtures', 'police-uk', '2026-01-made-up-street.csv');
const WARDS_FIXTURE = join(root, 'fixtures', 'areas', 'newport-made-up-wards.geojson');
const PASSWORD = 'heron lantern quarry violet';
const PORT = 18000 + Math.floor(Math.random() * 2000);
const BASE = `http://127.0.0.1:${PORT}`;

// ------------------------------------------------------------------ the server

const dataDir = mkdtempSync(join(tmpdir(), 'safetymap-browser-'));
const env = {
  ...process.env,
  SAFETYMAP_DATA_DIR: dataDir,
  SAFETYMAP_BIND: `127.0.0.1:${PORT}`,
  SAFETYMAP_DEMO_ON_EMPTY: 'false',
  SAFETYMAP_OBSERVED_HORIZON_DAYS: '3650',
  RUST_LOG: 'safetymap=warn',
};
delete env.DATABASE_URL;
if (existsSync(MBTILES)) env.SAFETYMAP_BASEMAP_MBTILES = MBTILES;

function cli(...args) {
  return execFileSync(BINARY, args, { env: { ...env, SAFETYMAP_NEW_PASSWORD: PASSWORD }, encoding: 'utf8' });
}

function makeUser(username, role, agency, names) {
  const extra = names ? ['--agency-name-en', names[0], '--agency-name-cy', names[1], '--agency-kind', names[2]] : [];
  cli('user', 'create', '--username', username, '--name', username, '--agency', agency, '--role', role, ...extra);
}

function token(user) {
  return cli('token', 'create', '--user', user, '--name', 'browser test setup', '--scope', 'write').trim().split('\n').pop();
}

async function startServer() {
  cli('migrate');
  makeUser('parks.officer', 'field-officer', 'newport-parks', ['Newport Parks', 'Parciau Casnewydd', 'council-directorate']);
  makeUser('police.officer', 'field-officer', 'gwent-police', ['Gwent Police', 'Heddlu Gwent', 'police']);
  makeUser('council.panel', 'panel-member', 'newport-parks');
  makeUser('health.panel', 'panel-member', 'health-board', ['Health board', 'Bwrdd iechyd', 'health']);
  makeUser('area.coordinator', 'coordinator', 'newport-parks');
  makeUser('meeting.coordinator', 'coordinator', 'newport-parks');
  makeUser('setup.coordinator', 'coordinator', 'newport-parks');
  makeUser('qr.coordinator', 'coordinator', 'newport-parks');
  makeUser('people.coordinator', 'coordinator', 'newport-parks');
  makeUser('people.admin', 'admin', 'council-it', ['Council IT', 'TG y cyngor', 'council-directorate']);
  // Nine made-up crimes in central Newport, for the police.uk context layer
  // (the import reports its progress on stderr; only failures matter here).
  execFileSync(BINARY, ['import', 'police-uk', POLICE_FIXTURE], { env, stdio: 'pipe' });
  return serve();
}

// The running server: scenarios may stop it and start it again (an outage).
let serverProcess = null;

/** Starts `safetymap serve` on the test store and waits until it is ready. */
async function serve() {
  serverProcess = spawn(BINARY, ['serve'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${BASE}/readyz`)).ok) return serverProcess;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  serverProcess.kill();
  throw new Error('the server did not start');
}

/**
 * A second server on a store of its own with the demo loaded (`safetymap
 * demo`: made-up records, some past their review date, and the demo
 * accounts). Answers where it is, the demo password, and how to stop it.
 */
async function demoServer() {
  const dir = mkdtempSync(join(tmpdir(), 'safetymap-demo-'));
  const port = PORT + 2001;
  const demoEnv = { ...env, SAFETYMAP_DATA_DIR: dir, SAFETYMAP_BIND: `127.0.0.1:${port}` };
  execFileSync(BINARY, ['demo'], { env: demoEnv, stdio: 'pipe' });
  const credentials = readFileSync(join(dir, 'demo-credentials.txt'), 'utf8');
  const password = /the same password for each\): (.+)/.exec(credentials)[1].trim();
  const proc = spawn(BINARY, ['serve'], { env: demoEnv, stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    password,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Stops the server and waits until it has gone. */
async function stopServer() {
  const exited = new Promise((r) => serverProcess.once('exit', r));
  serverProcess.kill('SIGTERM');
  await exited;
}

// ------------------------------------------------------------------ helpers

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// SAFETYMAP_WEB_DIR=web: the app's own files come from that folder rather
// than the binary (a release build embeds web/ as it was when built), with
// the server's headers — its Content-Security-Policy included — kept. The
// service worker is blocked then, so that every request can be answered.
const WEB_DIR = process.env.SAFETYMAP_WEB_DIR ? resolve(process.env.SAFETYMAP_WEB_DIR) : null;

async function serveWebFromDisk(context) {
  await context.route((url) => url.origin === BASE && (url.pathname === '/' || /^\/(js\/[\w-]+\.js|app\.css|sw\.js)$/.test(url.pathname)), async (route) => {
    const url = new URL(route.request().url());
    const response = await route.fetch();
    const file = join(WEB_DIR, url.pathname === '/' ? 'index.html' : url.pathname.slice(1));
    const type = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' }[file.split('.').pop()];
    const headers = { ...response.headers(), 'content-type': type };
    delete headers['content-encoding'];
    delete headers['content-length'];
    await route.fulfill({ status: 200, headers, body: readFileSync(file) });
  });
}

// Uncaught errors and Content-Security-Policy violations in any page fail
// the scenario they happen in.
let pageErrors = [];

async function newPage(browser, options = {}) {
  // bypassCSP only so axe-core can be injected; the app itself runs under the CSP.
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    bypassCSP: Boolean(options.axe),
    ...(WEB_DIR ? { serviceWorkers: 'block' } : {}),
    ...options.context,
  });
  if (WEB_DIR) await serveWebFromDisk(context);
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.text().startsWith('CSP violation')) pageErrors.push(message.text());
  });
  page.on('console', (message) => {
    if (message.type() === 'error' && process.env.SAFETYMAP_BROWSER_DEBUG) console.error(`  console: ${message.text()}`);
  });
  return { context, page };
}

async function signIn(page, username) {
  await page.goto(BASE);
  await page.waitForSelector('#signin[open]');
  await page.fill('#signin-username', username);
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  await waitForMap(page);
}

/** RFC 6238 (SHA-1, 30 s, 6 digits): the code an authenticator app would show for a base32 secret. */
function totp(secret, now = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(Array.from({ length: Math.floor(bits.length / 8) }, (_, i) => parseInt(bits.slice(i * 8, i * 8 + 8), 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30000)));
  const hmac = createHmac('sha1', key).update(counter).digest();
  const offset = hmac[hmac.length - 1] & 0xf;
  return String((hmac.readUInt32BE(offset) & 0x7fffffff) % 1e6).padStart(6, '0');
}

/** A coordinator's first sign-in: password, then setting up the authenticator app from the key shown. */
async function signInEnrolling(page, username) {
  await page.goto(BASE);
  await page.waitForSelector('#signin[open]');
  await page.fill('#signin-username', username);
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#enrol[open]');
  const secret = new URL(await page.getAttribute('#enrol-link', 'href')).searchParams.get('secret');
  await page.fill('#enrol-code', totp(secret));
  await page.click('#enrol-form button[type=submit]');
  await page.waitForSelector('#enrol-done', { state: 'visible' });
  await page.click('#enrol-done');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  await waitForMap(page);
}

async function waitForMap(page) {
  await page.waitForFunction(() => window.safetymapMap && window.safetymapMap.loaded() && !window.safetymapMap.isMoving(), null, { timeout: 30000 });
  await page.waitForFunction(() => !document.querySelector('#counts').textContent.includes('…'), null, { timeout: 30000 });
}

/** Ids of observations the map has drawn as points (expanding clusters), and as squares. */
async function drawn(page) {
  return page.evaluate(async () => {
    const map = window.safetymapMap;
    await new Promise((r) => (map.loaded() ? r() : map.once('idle', r)));
    const source = map.getSource('observations');
    const ids = new Set();
    for (const f of map.querySourceFeatures('observations')) {
      if (f.properties.cluster) {
        const leaves = await source.getClusterLeaves(f.properties.cluster_id, 10000, 0);
        for (const leaf of leaves) ids.add(leaf.properties.id);
      } else {
        ids.add(f.properties.id);
      }
    }
    const squares = new Set(map.querySourceFeatures('squares').map((f) => f.properties.id));
    return { points: [...ids].sort(), squares: [...squares].sort() };
  });
}

/** Properties of what the map draws in `layers`, once some of it is drawn and every tile has arrived. */
async function rendered(page, layers, atLeast = 1) {
  // Tiles arrive one by one: wait for as many features as the test needs
  // (or, after the timeout, say how many there were).
  await page.waitForFunction(({ ids, n }) => {
    const map = window.safetymapMap;
    return map.loaded() && map.areTilesLoaded() && !map.isMoving() && map.queryRenderedFeatures({ layers: ids }).length >= n;
  }, { ids: layers, n: atLeast }, { timeout: 30000, polling: 200 }).catch(() => {});
  return page.evaluate((ids) => window.safetymapMap.queryRenderedFeatures({ layers: ids }).map((f) => f.properties), layers);
}

async function tapMapAt(page, xFraction = 0.5, yFraction = 0.5) {
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + box.width * xFraction, box.y + box.height * yFraction);
}

let taps = 0;

async function logReport(page, category, setting) {
  await page.click('[data-nav="log"]');
  // Each report a little apart from the last, the same on every run (so
  // the screenshots only change when the app does).
  taps += 1;
  await tapMapAt(page, 0.42 + (taps % 5) * 0.04, 0.45 + (taps % 3) * 0.05);
  await page.click(`#r-categories [data-code="${category}"]`);
  await page.click(`#r-settings [data-code="${setting}"]`);
  await page.click('#r-save');
}

async function api(path, bearer) {
  const response = await fetch(`${BASE}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
  return response.json();
}

/** Sends JSON with a token; resolves to {status, body}. */
async function apiSend(method, path, bearer, body, headers = {}) {
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** One made-up place in the register (the same one however often asked), with both names. */
async function ensurePlace(ctx) {
  const { status, body } = await apiSend('POST', '/api/places', ctx.tokens.parks, {
    name_en: 'Made-up Station Taxi Rank', name_cy: 'Safle Tacsis Dychmygol yr Orsaf', kind: 'taxi-rank',
    longitude: -2.9995, latitude: 51.5905, address: 'Made-up Station Approach', manager_role: 'Rank marshal',
    training: 'booked', safe_place: false,
  }, { 'idempotency-key': 'browser-test-place-0001' });
  assert(status === 201 || status === 200, `place made: ${status} ${JSON.stringify(body)}`);
  return body.place ?? body;
}

/**
 * A coordinator's token for setting things up through the API: the
 * coordinator sets up an authenticator app over HTTP first (a token made
 * before that is refused).
 */
async function coordinatorToken(ctx) {
  if (ctx.tokens.coordinator) return ctx.tokens.coordinator;
  const signIn = await fetch(`${BASE}/api/session`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'setup.coordinator', password: PASSWORD }),
  });
  const cookie = signIn.headers.get('set-cookie').split(';')[0];
  const session = await signIn.json();
  const headers = { cookie, 'x-csrf-token': session.csrf_token, 'content-type': 'application/json' };
  const offer = await (await fetch(`${BASE}/api/me/second-factor`, { method: 'POST', headers })).json();
  const confirmed = await fetch(`${BASE}/api/me/second-factor/confirm`, { method: 'POST', headers, body: JSON.stringify({ code: totp(offer.secret) }) });
  assert(confirmed.ok, `second factor set up: ${confirmed.status}`);
  ctx.tokens.coordinator = token('setup.coordinator');
  return ctx.tokens.coordinator;
}

const isoDay = (offsetDays = 0) => new Date(Date.now() + offsetDays * 86400e3).toISOString().slice(0, 10);

/**
 * One made-up exercise (the same one however often asked) on an area drawn
 * for it, with a note, a decision and an overdue action, for the screens'
 * Welsh and accessibility checks.
 */
async function ensureExercise(ctx) {
  const bearer = await coordinatorToken(ctx);
  const area = await apiSend('POST', '/api/areas', bearer, {
    name_en: 'Made-up Castle Lanes', name_cy: 'Lonydd Dychmygol y Castell',
    geometry: { type: 'Polygon', coordinates: [[[-2.9960, 51.5860], [-2.9900, 51.5860], [-2.9900, 51.5900], [-2.9960, 51.5900], [-2.9960, 51.5860]]] },
  }, { 'idempotency-key': 'browser-test-area-0001' });
  assert(area.status === 201 || area.status === 200, `area made: ${area.status} ${JSON.stringify(area.body)}`);
  const areaId = (area.body.area ?? area.body).id;
  const made = await apiSend('POST', '/api/exercises', bearer, {
    kind: 'mapping-exercise', title: 'Made-up Castle Lanes walkabout', area_id: areaId,
    from: isoDay(-365), to: isoDay(0), agencies: ['newport-parks', 'gwent-police'], review_on: isoDay(90),
  }, { 'idempotency-key': 'browser-test-exercise-0001' });
  assert(made.status === 201 || made.status === 200, `exercise made: ${made.status} ${JSON.stringify(made.body)}`);
  const id = made.body.id;
  const note = await apiSend('POST', `/api/exercises/${id}/annotations`, bearer, {
    geometry: { type: 'Point', coordinates: [-2.9930, 51.5880] }, note: 'Broken lights by the garages',
  }, { 'idempotency-key': 'browser-test-annotation-0001' });
  assert(note.status === 201 || note.status === 200, `note made: ${note.status} ${JSON.stringify(note.body)}`);
  await apiSend('POST', `/api/exercises/${id}/decisions`, bearer, { text: 'Ask for more patrols after dark' }, { 'idempotency-key': 'browser-test-decision-0001' });
  const action = await apiSend('POST', `/api/exercises/${id}/actions`, bearer, {
    what: 'Check the lamps along the lane', owner_agency: 'gwent-police', due_on: isoDay(-3), annotation_id: note.body.id,
  }, { 'idempotency-key': 'browser-test-action-0001' });
  assert(action.status === 201 || action.status === 200, `action made: ${action.status} ${JSON.stringify(action.body)}`);
  return made.body;
}

function shot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

async function axeCheck(page, screen) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () => {
    // MapLibre's canvas and its labels are checked through the list view instead.
    const found = await window.axe.run(document, { exclude: [['.maplibregl-canvas-container']], resultTypes: ['violations'] });
    return found.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert(bad.length === 0, `${screen}: ${JSON.stringify(bad)}`);
}

/** Visible text, labels and placeholders still in English on a page switched to Welsh. */
async function englishLeft(page) {
  return await page.evaluate(async () => {
    const { STRINGS } = await import('/js/i18n.js');
    const vocabulary = await (await fetch('/api/vocabulary')).json();
    const english = new Set();
    for (const [key, en] of Object.entries(STRINGS.en)) if (STRINGS.cy[key] !== en) english.add(en.replace(/\{\w+\}/g, '').trim());
    for (const list of Object.values(vocabulary)) for (const term of list) if (term.label && term.label.en !== term.label.cy) english.add(term.label.en);
    const englishWords = [...english].filter((s) => s.length > 2);
    const visible = (el) => el && !el.closest('[hidden]') && el.getClientRects().length > 0;
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const text = node.textContent.trim();
      // translate="no" marks words people wrote (an audit purpose), kept as written.
      if (!text || !visible(node.parentElement) || node.parentElement.closest('script, style, code, [translate="no"]')) continue;
      texts.push(text);
    }
    for (const el of document.querySelectorAll('[aria-label], [placeholder], [title]')) {
      if (!visible(el) && !el.matches('canvas')) continue;
      for (const attr of ['aria-label', 'placeholder', 'title']) if (el.getAttribute(attr)) texts.push(el.getAttribute(attr));
    }
    return texts.filter((text) => englishWords.some((en) => text === en || (en.length > 6 && text.includes(en))));
  });
}

// ------------------------------------------------------------------ scenarios

const scenarios = [];
const scenario = (name, run) => scenarios.push({ name, run });

scenario('a field officer signs in, logs an observation by tapping the map, sees it, filters it out and back in', async (browser, ctx) => {
  const { context, page } = await newPage(browser);
  await signIn(page, 'parks.officer');
  await shot(page, 'map');
  await logReport(page, 'unsafe-environment', 'park');
  await page.waitForSelector('#r-message[data-kind="success"]');
  await shot(page, 'log');
  await page.click('[data-nav="map"]');
  await page.waitForFunction(() => document.querySelector('#counts').textContent.startsWith('Showing 1 of 1'));
  const mine = await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks);
  assert(mine.features.length === 1, `one report in the store, found ${mine.features.length}`);
  const id = mine.features[0].id;
  assert((await drawn(page)).points.includes(id), 'the new report is drawn on the map');
  await page.selectOption('#f-category', 'safe-place');
  await page.waitForFunction(() => document.querySelector('#counts').textContent.startsWith('Showing 0 of 0'));
  assert(!(await drawn(page)).points.includes(id), 'filtered out');
  await page.selectOption('#f-category', '');
  await page.waitForFunction(() => document.querySelector('#counts').textContent.startsWith('Showing 1 of 1'));
  assert((await drawn(page)).points.includes(id), 'filtered back in');
  await context.close();
});

scenario('a field officer logs a report with the keyboard alone, in at most 15 Tab stops from opening the form to Save, and focus follows what happens', async (browser, ctx) => {
  const { context, page } = await newPage(browser);
  await signIn(page, 'parks.officer');
  const before = (await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks)).features.length;
  await page.focus('[data-nav="log"]');
  await page.keyboard.press('Enter');
  assert(await page.evaluate(() => document.activeElement.closest('section[data-view="log"]') !== null), 'focus moves into the form when it opens');
  let tabs = 0;
  const tabUntil = async (test, what) => {
    while (!(await page.evaluate(test)) && tabs < 40) {
      await page.keyboard.press('Tab');
      tabs += 1;
      if (process.env.SAFETYMAP_BROWSER_DEBUG) console.error(`  tab ${tabs}: ${await page.evaluate(() => `${document.activeElement.tagName}#${document.activeElement.id}.${document.activeElement.className} ${document.activeElement.textContent.slice(0, 30)}`)}`);
    }
    assert(tabs < 40, `never reached ${what}`);
  };
  // Saving with nothing chosen puts focus where the first fault can be put right.
  await tabUntil(() => document.activeElement.id === 'r-centre', 'the centre button');
  await page.keyboard.press('Enter');
  await tabUntil(() => document.activeElement.closest('#r-categories') !== null, 'the categories');
  await page.keyboard.press('ArrowRight');
  const category = await page.evaluate(() => document.activeElement.dataset.code);
  assert(await page.evaluate(() => document.activeElement.getAttribute('aria-checked') === 'true'), 'an arrow key moves and chooses');
  await tabUntil(() => document.activeElement.closest('#r-settings') !== null, 'the settings');
  await page.keyboard.press('ArrowRight');
  await tabUntil(() => document.activeElement.id === 'r-save', 'Save');
  assert(tabs <= 15, `${tabs} Tab stops from opening the form to Save`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#r-message[data-kind="success"]');
  assert(await page.evaluate(() => document.activeElement.id === 'r-message'), 'focus moves to the confirmation');
  assert(await page.evaluate(() => document.querySelector('section[data-view="log"]').scrollTop === 0), 'the fresh form starts at the top');
  const after = (await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks)).features;
  assert(after.length === before + 1 && after.some((f) => f.properties.category === category), `saved as ${category}`);
  // With no category chosen, Save puts focus on the categories.
  await page.click('#r-centre');
  await page.click('#r-save');
  await page.waitForSelector('#r-message[data-kind="error"]');
  assert(await page.evaluate(() => document.activeElement.closest('#r-categories') !== null), 'focus goes to the first fault');
  await context.close();
});

scenario('on a phone a field officer logs a report by tapping a map that stays visible, in English and Welsh, and the list and review tables fit the screen', async (browser, ctx) => {
  const { context, page } = await newPage(browser, { context: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } });
  await signIn(page, 'parks.officer');
  const before = (await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks)).features.length;
  for (const language of ['en', 'cy']) {
    if (language === 'cy') await page.click('#lang');
    await page.click('[data-nav="log"]');
    const header = await page.locator('header.bar').boundingBox();
    assert(header.height <= 0.25 * 844, `the header leaves the screen to the map: ${header.height} px`);
    const map = await page.locator('#map').boundingBox();
    assert(map && map.height >= 250 && map.width >= 380, `the map stays on screen while logging: ${JSON.stringify(map)}`);
    assert(map.y + map.height <= 844, 'all of it');
    const placed = await page.textContent('#r-place');
    await page.touchscreen.tap(map.x + map.width * 0.45, map.y + map.height * 0.5);
    await page.waitForFunction((was) => document.querySelector('#r-place').textContent !== was, placed);
    assert(await page.isVisible('.maplibregl-marker'), 'the tap puts a pin where it was');
    await page.click('#r-categories [data-code="drug-weapon-litter"]');
    await page.click('#r-settings [data-code="park"]');
    await page.click('#r-save');
    await page.waitForSelector('#r-message[data-kind="success"]');
    if (language === 'cy') {
      assert((await page.textContent('#r-message')).length > 0 && !(await page.textContent('#r-message')).includes('saved'), 'the confirmation is in Welsh');
      await shot(page, 'phone-log-welsh');
    }
  }
  await page.click('#lang');
  const after = (await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks)).features.length;
  assert(after === before + 2, `both reports saved: ${before} then ${after}`);
  await page.click('[data-nav="list"]');
  await page.waitForSelector('#list-body tr');
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
  assert(widths.page <= widths.screen, `the list fits the screen (its table scrolls on its own): ${JSON.stringify(widths)}`);
  await context.close();
});

scenario('reports logged offline are each sent exactly once when the connection returns', async (browser, ctx) => {
  const { context, page } = await newPage(browser);
  await signIn(page, 'police.officer');
  const before = (await api('/ogc/collections/observations/items?mine=true', ctx.tokens.police)).features.length;
  await context.setOffline(true);
  await page.waitForFunction(() => document.body.dataset.online === 'false');
  let queued = 0;
  for (const [category, setting] of [['drug-weapon-litter', 'street'], ['peer-violence-weapons', 'transport-hub']]) {
    await logReport(page, category, setting);
    queued += 1;
    await page.waitForFunction((n) => new RegExp(`^${n} `).test(document.querySelector('#outbox-status').textContent), queued);
  }
  await page.waitForFunction(() => /^2 /.test(document.querySelector('#outbox-status').textContent));
  await page.click('[data-nav="mine"]');
  await page.waitForFunction(() => document.querySelectorAll('#mine-waiting li[data-key]').length === 2);
  await shot(page, 'offline-queue');
  // The first report reaches the server but its reply is lost on the way
  // back: the app must send it again, and the server keep it once.
  let dropped = false;
  await page.route('**/api/observations', async (route) => {
    if (!dropped && route.request().method() === 'POST') {
      dropped = true;
      await route.fetch();
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  await context.setOffline(false);
  await page.waitForFunction(() => document.body.dataset.online === 'true');
  await page.waitForFunction(() => /^2 /.test(document.querySelector('#outbox-status').textContent), null, { timeout: 10000 });
  assert(dropped, 'the first send was made and its reply dropped');
  await page.click('#mine-send');
  // "Send now" may find the first, failed run still finishing; keep asking
  // (as the app's own half-minute retry would) until both are through.
  await page.waitForFunction(async () => {
    const outbox = await import('/js/outbox.js');
    await outbox.flush();
    return document.querySelector('#outbox-status').textContent === 'All reports sent';
  }, null, { timeout: 60000, polling: 500 });
  const after = await api('/ogc/collections/observations/items?mine=true', ctx.tokens.police);
  assert(after.features.length === before + 2, `expected ${before + 2} reports, found ${after.features.length}`);
  const categories = after.features.map((f) => f.properties.category).sort();
  assert(JSON.stringify(categories.filter((c) => c !== 'unsafe-environment')) === JSON.stringify(['drug-weapon-litter', 'peer-violence-weapons']), `each once: ${categories}`);
  for (const f of after.features) {
    const stored = await api(`/api/observations/${f.id}?purpose=browser%20test`, ctx.tokens.police);
    assert(stored.id === f.id, `observation ${f.id} is in the store`);
  }
  // My reports says what became of each: on the server, new.
  await page.click('[data-nav="map"]');
  await page.click('[data-nav="mine"]');
  await page.waitForFunction(() => document.querySelectorAll('#mine-sent li .state-tag').length === 2
    && [...document.querySelectorAll('#mine-sent li .state-tag')].every((s) => s.textContent === 'New'), null, { timeout: 10000 })
    .catch(async () => assert(false, `sent reports' status: ${await page.textContent('#mine-sent')}`));
  assert((await page.textContent('#mine-waiting')) === 'Nothing is waiting to be sent.', 'none waiting');
  await page.click('[data-nav="map"]');
  await page.evaluate(() => window.safetymapMap.fire('moveend'));
  await waitForMap(page);
  const shown = (await drawn(page)).points;
  for (const f of after.features) assert(shown.includes(f.id), `observation ${f.id} is on the map`);
  await context.close();
});

scenario('when the server stops mid-use the app says it cannot reach it, keeps a report logged meanwhile, and recovers on its own when the server returns', async (browser, ctx) => {
  const { context, page } = await newPage(browser);
  await signIn(page, 'parks.officer');
  const before = (await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks)).features.length;
  assert((await page.textContent('#net-status')) === 'Online', 'online at first');
  await stopServer();
  try {
    // The map asks again (the person moves it): the answer is an outage, not an empty map.
    await page.evaluate(() => window.safetymapMap.fire('moveend'));
    await page.waitForFunction(() => document.body.dataset.reachable === 'false', null, { timeout: 10000 });
    assert((await page.textContent('#net-status')) === 'Can’t reach the server', await page.textContent('#net-status'));
    await page.waitForSelector('#counts-problem:not([hidden])');
    assert((await page.textContent('#counts-error')).startsWith('Can’t reach the server'), await page.textContent('#counts-error'));
    await page.click('[data-nav="list"]');
    await page.waitForSelector('#list-error:not([hidden])');
    assert(await page.isHidden('#list-empty'), 'the list does not say that nothing matches');
    await shot(page, 'server-unreachable');
    // A report logged now waits on the device.
    await page.click('[data-nav="map"]');
    await logReport(page, 'drug-weapon-litter', 'park');
    await page.waitForFunction(() => /^1 /.test(document.querySelector('#outbox-status').textContent), null, { timeout: 10000 });
    // In Welsh, the state and the message already on screen switch too.
    await page.click('#lang');
    // The pill is redrawn by the next network check as well as by the switch: wait for the Welsh text.
    await page.waitForFunction(() => document.querySelector('#net-status').textContent === 'Methu cyrraedd y gweinydd', null, { timeout: 5000 })
      .catch(async () => assert(false, `the pill in Welsh: ${await page.textContent('#net-status')}`));
    assert((await page.textContent('#counts-error')).startsWith('Methu cyrraedd'), await page.textContent('#counts-error'));
    await page.click('#lang');
  } finally {
    await serve();
  }
  // No reload, no click: the app notices, asks the map again and sends the report.
  await page.waitForFunction(() => document.body.dataset.reachable === 'true', null, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector('#outbox-status').textContent === 'All reports sent', null, { timeout: 30000 });
  await page.waitForSelector('#counts-problem', { state: 'hidden' });
  assert((await page.textContent('#net-status')) === 'Online', 'online again');
  const after = (await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks)).features;
  assert(after.length === before + 1, `the report was kept and sent once: ${before} then ${after.length}`);
  await context.close();
});

scenario('when the session ends mid-report, signing in again saves the unsaved report once', async (browser, ctx) => {
  const { context, page } = await newPage(browser);
  await signIn(page, 'parks.officer');
  const before = (await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks)).features.length;
  await page.click('[data-nav="log"]');
  await tapMapAt(page, 0.45, 0.55);
  await page.click('#r-categories [data-code="safe-place"]');
  await page.click('#r-settings [data-code="park"]');
  await page.fill('#r-description', 'Cafe staff trained as a safe haven');
  // The session ends (idle, or signed out elsewhere) while the form is open.
  await context.clearCookies();
  await page.click('#r-save');
  await page.waitForSelector('#signin[open]');
  assert((await page.textContent('#signin-message')).includes('unsaved report is kept'), 'says the report is kept');
  await page.fill('#signin-username', 'parks.officer');
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#r-message[data-kind="success"]');
  const after = await api('/ogc/collections/observations/items?mine=true', ctx.tokens.parks);
  assert(after.features.length === before + 1, `saved once: ${before} → ${after.features.length}`);
  await context.close();
});

scenario('in Welsh no English string is left on the main screens', async (browser, ctx) => {
  await ensurePlace(ctx);
  const exercise = await ensureExercise(ctx);
  const { context, page } = await newPage(browser);
  await signIn(page, 'council.panel');
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'cy');
  const screens = ['map', 'log', 'mine', 'list', 'places', 'place-view', 'exercises', 'exercise-view', 'actions-due', 'map-analysis'];
  const leftovers = [];
  for (const screen of screens) {
    if (screen === 'map-analysis') {
      // The hot-spot legend, the cell options and the police.uk layer with its attribution.
      await page.click('[data-nav="map"]');
      await page.check('input[name="mode"][value="hotspots"]');
      await page.check('#f-police');
      await page.waitForSelector('#profile-table[data-within="hot"]');
      // The places and areas layers, with their legends and the areas' list.
      await page.check('#f-places');
      await page.check('#f-areas');
      await page.waitForSelector('#area-options:not([hidden])');
      // Young people's safety mapping, with its legend.
      await page.check('#f-perceptions');
      await page.waitForSelector('#legend-perceptions:not([hidden])');
    } else if (screen === 'exercise-view') {
      await page.click(`#ex-list li[data-id="${exercise.id}"] button`);
      await page.waitForSelector('#ex-view:not([hidden]) #exv-fields dd');
      await page.waitForSelector('#exv-actions li[data-id]');
    } else if (screen === 'exercises') {
      await page.click('[data-nav="exercises"]');
      await page.waitForSelector(`#ex-list li[data-id="${exercise.id}"]`);
    } else if (screen === 'actions-due') {
      await page.click('#exv-back');
      await page.click('#ex-due-open');
      await page.waitForSelector('#exdue-list li[data-id]');
    } else if (screen === 'place-view') {
      await page.click('#places-list li button');
      await page.waitForSelector('#place-view:not([hidden]) #pv-fields dd');
      await page.waitForFunction(() => !document.querySelector('#pv-total').textContent.includes('…'));
    } else {
      await page.click(`[data-nav="${screen}"]`);
    }
    await page.waitForTimeout(300);
    if (screen.startsWith('map')) await waitForMap(page);
    const found = await englishLeft(page);
    leftovers.push(...found.map((text) => `${screen}: ${text}`));
    if (!screen.startsWith('map')) await shot(page, `welsh-${screen}`);
  }
  await page.check('input[name="mode"][value="points"]');
  await page.uncheck('#f-police');
  await page.uncheck('#f-places');
  await page.uncheck('#f-areas');
  await page.uncheck('#f-perceptions');
  await shot(page, 'welsh-map');
  // The sign-in screen has its own switch, for someone who has not chosen yet.
  const fresh = await newPage(browser);
  await fresh.page.goto(BASE);
  await fresh.page.waitForSelector('#signin[open]');
  await fresh.page.click('#signin .lang-switch');
  await fresh.page.waitForFunction(() => document.documentElement.lang === 'cy');
  const signInText = await fresh.page.textContent('#signin');
  for (const english of ['Sign in', 'Username', 'Password']) {
    if (signInText.includes(english)) leftovers.push(`sign-in: ${english}`);
  }
  await fresh.context.close();
  assert(leftovers.length === 0, `English left: ${JSON.stringify(leftovers)}`);
  // Remembered: a reload stays in Welsh.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  assert(await page.evaluate(() => document.documentElement.lang) === 'cy', 'the language is remembered');
  await context.close();
});

scenario('axe-core finds no serious or critical violations on the sign-in, map, logging, list, places and exercises screens', async (browser, ctx) => {
  await ensurePlace(ctx);
  const exercise = await ensureExercise(ctx);
  const { context, page } = await newPage(browser, { axe: true });
  await page.goto(BASE);
  await page.waitForSelector('#signin[open]');
  await axeCheck(page, 'sign-in');
  await shot(page, 'sign-in');
  await page.fill('#signin-username', 'council.panel');
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('body[data-ready="true"]');
  await waitForMap(page);
  await axeCheck(page, 'map');
  // The analysis modes add cell options, a legend, the context layer and the time-profile table.
  await page.check('input[name="mode"][value="hotspots"]');
  await page.check('#f-police');
  await page.waitForSelector('#profile-table[data-within="hot"] tbody tr');
  await axeCheck(page, 'map in hot-spot mode');
  await page.check('input[name="mode"][value="points"]');
  await page.click('[data-nav="log"]');
  await axeCheck(page, 'log');
  await page.click('[data-nav="list"]');
  await page.waitForTimeout(200);
  await axeCheck(page, 'list');
  await shot(page, 'list');
  await page.click('[data-nav="places"]');
  await page.waitForSelector('#places-list li button');
  await axeCheck(page, 'places');
  await page.click('#places-list li button');
  await page.waitForSelector('#place-view:not([hidden]) #pv-fields dd');
  await page.waitForFunction(() => !document.querySelector('#pv-total').textContent.includes('…'));
  await axeCheck(page, 'place view');
  await page.click('[data-nav="exercises"]');
  await page.waitForSelector(`#ex-list li[data-id="${exercise.id}"] button`);
  await axeCheck(page, 'exercises');
  await page.click(`#ex-list li[data-id="${exercise.id}"] button`);
  await page.waitForSelector('#exv-actions li[data-id]');
  await page.click('#exa-start');
  await axeCheck(page, 'exercise meeting view');
  await shot(page, 'exercise');
  await page.click('#exa-cancel');
  await page.click('#exv-back');
  await page.click('#ex-due-open');
  await page.waitForSelector('#exdue-list li[data-id]');
  await axeCheck(page, 'actions due');
  await page.click('[data-nav="map"]');
  await page.check('#f-places');
  await page.check('#f-areas');
  await page.waitForSelector('#area-options:not([hidden])');
  await page.waitForTimeout(300);
  await axeCheck(page, 'map with places and areas');
  await page.uncheck('#f-places');
  await page.uncheck('#f-areas');
  // Keyboard: the navigation is reachable and operable without a mouse.
  await page.goto(BASE);
  await page.waitForSelector('body[data-ready="true"]');
  await page.keyboard.press('Tab');
  const skip = await page.evaluate(() => document.activeElement.className);
  assert(skip.includes('skip'), `the first Tab reaches the skip link, got ${skip}`);
  await context.close();
});

scenario('another agency’s panel member sees a sensitive observation as its 100 m square and never its exact position', async (browser, ctx) => {
  const exact = { longitude: -2.99771, latitude: 51.58862 };
  const response = await fetch(`${BASE}/api/observations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ctx.tokens.police}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...exact, observed_at: new Date(Date.now() - 3600e3).toISOString(), category: 'child-criminal-exploitation', setting: 'street', severity: 'high', sensitivity: 'sensitive', description: 'Cars stop by the garages after dark' }),
  });
  const created = await response.json();
  assert(response.status === 201, `created: ${JSON.stringify(created)}`);
  const { context, page } = await newPage(browser);
  const bodies = [];
  page.on('response', async (r) => {
    if (r.url().startsWith(BASE)) {
      try {
        bodies.push({ url: r.url(), text: await r.text() });
      } catch {
        // redirects and aborted requests have no body
      }
    }
  });
  await signIn(page, 'health.panel');
  await page.evaluate(({ lon, lat }) => window.safetymapMap.jumpTo({ center: [lon, lat], zoom: 17 }), { lon: exact.longitude, lat: exact.latitude });
  await waitForMap(page);
  const { points, squares } = await drawn(page);
  assert(squares.includes(created.id) && !points.includes(created.id), `drawn as a square, not a pin: ${JSON.stringify({ points, squares })}`);
  await shot(page, 'generalised-square');
  // Open its details with a purpose.
  await page.evaluate(() => window.safetymapMap.fire('moveend'));
  await waitForMap(page);
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector('.maplibregl-popup button.primary', { timeout: 5000 });
  await page.click('.maplibregl-popup button.primary');
  await page.waitForSelector('#purpose[open]');
  await page.fill('#purpose-text', 'Panel meeting, agenda item 3');
  const details = page.waitForResponse((r) => r.url().includes(`/api/observations/${created.id}?purpose=`));
  await page.click('#purpose-form button[type=submit]');
  const detailsBody = await (await details).text();
  await page.waitForSelector('#details[open]');
  assert(detailsBody.includes('"precision":"bng-100m"'), `the details are generalised: ${detailsBody.slice(0, 200)}`);
  assert((await page.textContent('#details-body')).includes('Not shown at this precision'), 'the withheld description is explained');
  await shot(page, 'details-generalised');
  bodies.push({ url: 'details', text: detailsBody });
  const leaks = bodies.filter((b) => b.text.includes('-2.99771') || b.text.includes('51.58862') || b.text.includes('Cars stop by the garages'));
  assert(leaks.length === 0, `exact position or text reached the page: ${leaks.map((l) => l.url)}`);
  assert(bodies.some((b) => b.url.includes('/ogc/collections/observations/items')), 'the layer was fetched');
  // From the list, a spreadsheet of what the map shows: only after saying
  // why, and with the record where the map showed it.
  await page.keyboard.press('Escape');
  await page.waitForSelector('#details:not([open])', { state: 'attached' });
  await page.click('[data-nav="list"]');
  // The list says where as a 100 m grid reference: for this record, its
  // square's (the one the exact position lies in), and no finer.
  const where = await page.textContent(`#list-body tr[data-id="${created.id}"] td.where`);
  assert(where === `${gridReference(exact.longitude, exact.latitude)} (its 100 m square)`, `where: ${where}`);
  assert(/^\d+ observations? in view/.test(await page.textContent('#list-count')), await page.textContent('#list-count'));
  await page.click('#list-table th[data-sort="severity"] button');
  assert((await page.getAttribute('#list-table th[data-sort="severity"]', 'aria-sort')) === 'descending', 'sorted by severity');
  const count = await page.textContent('#list-count');
  assert(count === '1 observation in view.' || count.includes('sorted by severity'), `the count says how the list is sorted: ${count}`);
  await page.click('#download-form button[type=submit]');
  await page.waitForSelector('#download-message[data-kind="error"]');
  await page.fill('#download-purpose', 'Panel meeting, agenda item 3');
  const downloaded = page.waitForEvent('download');
  await page.click('#download-form button[type=submit]');
  const file = await downloaded;
  assert(/^safetymap-observations-.*\.csv$/.test(file.suggestedFilename()), `file name: ${file.suggestedFilename()}`);
  const csv = readFileSync(await file.path(), 'utf8');
  assert(csv.split('\n')[0].startsWith('id,longitude,latitude'), `a CSV: ${csv.slice(0, 80)}`);
  assert(csv.includes(String(created.id)), 'the record is in it');
  assert(!csv.includes('-2.99771') && !csv.includes('51.58862') && !csv.includes('Cars stop by the garages'), 'no exact position or free text in the file');
  await page.waitForSelector('#download-message[data-kind="success"]');
  // From the map's panel, a layer it shows: the grid counts in view, as a
  // GeoPackage, again only with a reason.
  await page.click('[data-nav="map"]');
  await page.check('input[name="mode"][value="grid"]');
  await waitForMap(page);
  await page.click('#layer-download summary');
  const layers = await page.$$eval('#ld-layer option', (options) => options.map((o) => o.value));
  assert(JSON.stringify(layers) === JSON.stringify(['observations', 'grid']), `the layers shown are offered: ${layers}`);
  await page.selectOption('#ld-layer', 'grid');
  await page.selectOption('#ld-format', 'gpkg');
  await page.click('#ld-go');
  await page.waitForSelector('#ld-message[data-kind="error"]');
  await page.fill('#ld-purpose', 'Panel meeting, agenda item 4');
  const layerFile = page.waitForEvent('download');
  await page.click('#ld-go');
  const gpkg = await layerFile;
  assert(/^safetymap-grid-.*\.gpkg$/.test(gpkg.suggestedFilename()), `file name: ${gpkg.suggestedFilename()}`);
  const bytes = readFileSync(await gpkg.path());
  assert(bytes.subarray(0, 15).toString('latin1') === 'SQLite format 3', 'a GeoPackage (SQLite) file');
  await page.waitForSelector('#ld-message[data-kind="success"]');
  const said = await page.textContent('#ld-message');
  assert(/Grid counts: (1 feature|[1-9]\d* features)\./.test(said), `says what was downloaded: ${said}`);
  await shot(page, 'layer-download');
  await context.close();
});

scenario('a coordinator sets up the authenticator app from a QR code a phone can read, in Welsh, and copies, downloads and prints the recovery codes', async (browser) => {
  const { context, page } = await newPage(browser);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await page.goto(BASE);
  await page.waitForSelector('#signin[open]');
  await page.fill('#signin-username', 'qr.coordinator');
  await page.fill('#signin-password', PASSWORD);
  await page.click('#signin-form button[type=submit]');
  await page.waitForSelector('#enrol[open]');
  await page.waitForFunction(() => document.querySelector('#enrol-qr').complete && document.querySelector('#enrol-qr').naturalWidth > 0);
  // What a phone's camera would read: the picture of the code, decoded.
  const png = PNG.sync.read(await page.locator('#enrol-qr').screenshot());
  const read = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert(read, 'the QR code can be read');
  const uri = await page.getAttribute('#enrol-link', 'href');
  assert(read.data === uri, `the QR code holds the otpauth URI: ${read.data} vs ${uri}`);
  assert(read.data.startsWith('otpauth://totp/'), read.data);
  const secret = new URL(read.data).searchParams.get('secret');
  // The dialog has its own language switch, and everything in it follows.
  await page.click('#enrol .lang-switch');
  assert((await page.textContent('#enrol-title')) === 'Gosod eich ap dilysu', await page.textContent('#enrol-title'));
  assert((await page.getAttribute('#enrol-qr', 'alt')).startsWith('Cod QR'), 'the picture is described in Welsh');
  await page.fill('#enrol-code', '000000');
  await page.click('#enrol-form button[type=submit]');
  await page.waitForSelector('#enrol-message[data-kind="error"]');
  await page.click('#enrol .lang-switch');
  assert((await page.textContent('#enrol-message')).startsWith('That code does not match'), 'the message already shown switches language too');
  await page.click('#enrol .lang-switch');
  await page.fill('#enrol-code', totp(secret));
  await page.click('#enrol-form button[type=submit]');
  await page.waitForSelector('#enrol-codes-box:not([hidden])');
  const codes = await page.$$eval('#enrol-codes li', (items) => items.map((i) => i.textContent));
  assert(codes.length === 10, `ten recovery codes: ${codes}`);
  await page.click('#enrol-copy');
  await page.waitForSelector('#enrol-codes-message[data-kind="success"]');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert(codes.every((c) => copied.includes(c)), `every code copied: ${copied}`);
  const saved = page.waitForEvent('download');
  await page.click('#enrol-save');
  const file = readFileSync(await (await saved).path(), 'utf8');
  assert(codes.every((c) => file.includes(c)) && file.includes('qr.coordinator'), `every code in the file: ${file}`);
  await page.evaluate(() => { window.print = () => { window.printedCodesAlone = document.body.classList.contains('printing-codes'); }; });
  await page.click('#enrol-print');
  assert(await page.evaluate(() => window.printedCodesAlone === true), 'printing prints the codes alone');
  await shot(page, 'recovery-codes');
  await page.click('#enrol-done');
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  await context.close();
});

scenario('a coordinator reviews the demo records due for review: sees when each would be erased, keeps one with a reason and erases another', async (browser) => {
  const demo = await demoServer();
  const { context, page } = await newPage(browser, { axe: true });
  try {
    await page.goto(demo.base);
    await page.waitForSelector('#signin[open]');
    await page.fill('#signin-username', 'demo.coordinator');
    await page.fill('#signin-password', demo.password);
    await page.click('#signin-form button[type=submit]');
    await page.waitForSelector('#enrol[open]');
    const secret = new URL(await page.getAttribute('#enrol-link', 'href')).searchParams.get('secret');
    await page.fill('#enrol-code', totp(secret));
    await page.click('#enrol-form button[type=submit]');
    await page.click('#enrol-done');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
    // The demo's records are dated so the queue has work at first start.
    await page.waitForFunction(() => document.querySelector('#review-badge').textContent !== '');
    await page.click('[data-nav="review"]');
    await page.waitForSelector('#review-body tr');
    const before = await page.$$eval('#review-body tr', (rows) => rows.length);
    assert(before >= 2, `records due: ${before}`);
    const firstRow = await page.textContent('#review-body tr');
    assert(/\(in \d+ days?\)/.test(firstRow), `each says when it would be erased: ${firstRow}`);
    await axeCheck(page, 'review queue');
    await shot(page, 'review-queue');
    // Keeping needs a reason.
    const kept = await page.getAttribute('#review-body tr', 'data-id');
    await page.check(`#review-body tr[data-id="${kept}"] input`);
    await page.click('#review-keep');
    await page.waitForSelector('#review-message[data-kind="error"]');
    await page.fill('#review-reason', 'Linked to an open case');
    await page.click('#review-keep');
    await page.waitForSelector('#review-message[data-kind="success"]');
    assert((await page.textContent('#review-message')) === 'Kept 1 record.', await page.textContent('#review-message'));
    assert(!(await page.$(`#review-body tr[data-id="${kept}"]`)), 'a kept record leaves the queue');
    // Erasing asks to be sure.
    const erased = await page.getAttribute('#review-body tr', 'data-id');
    await page.check(`#review-body tr[data-id="${erased}"] input`);
    await page.fill('#review-reason', 'No longer needed');
    page.once('dialog', (dialog) => dialog.accept());
    await page.click('#review-erase');
    await page.waitForFunction(() => document.querySelector('#review-message').textContent === 'Erased 1 record.');
    assert(!(await page.$(`#review-body tr[data-id="${erased}"]`)), 'an erased record leaves the queue');
    assert((await page.$$eval('#review-body tr', (rows) => rows.length)) === before - 2, 'two fewer to decide on');
    // The record is gone from the server, not just the list.
    const gone = await page.evaluate(async (id) => (await fetch(`/api/observations/${id}`)).status, erased);
    assert(gone === 404, `the erased record is gone: ${gone}`);
  } finally {
    await context.close();
    await demo.stop();
  }
});

scenario('a coordinator adds a field officer to their agency, who signs in; disabling the account ends that session; the audit log finds both changes and exports them with a reason', async (browser) => {
  const { context, page } = await newPage(browser, { axe: true });
  const officer = await newPage(browser);
  try {
    await signInEnrolling(page, 'people.coordinator');
    await page.click('[data-nav="accounts"]');
    await page.waitForSelector('#accounts-body tr');
    const listed = await page.$$eval('#accounts-body tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent));
    assert(listed.includes('parks.officer') && listed.includes('council.panel'), `their agency's officers and panel members: ${listed}`);
    assert(!listed.includes('police.officer') && !listed.includes('area.coordinator'), `no other agency's accounts and no coordinators: ${listed}`);
    const roles = await page.$$eval('#an-role option', (options) => options.map((o) => o.value));
    assert(JSON.stringify(roles) === JSON.stringify(['field-officer', 'panel-member']), `a coordinator gives only these roles: ${roles}`);
    assert(await page.isDisabled('#an-agency'), 'their own agency only');
    await axeCheck(page, 'accounts (coordinator)');
    // A short password is refused, and says why.
    await page.fill('#an-username', 'new.officer');
    await page.fill('#an-name', 'New Officer');
    await page.fill('#an-password', 'short');
    await page.click('#account-new button[type=submit]');
    await page.waitForSelector('#accounts-message[data-kind="error"]');
    assert((await page.textContent('#accounts-message')).includes('12 characters'), await page.textContent('#accounts-message'));
    await page.fill('#an-password', PASSWORD);
    await page.click('#account-new button[type=submit]');
    await page.waitForSelector('#accounts-message[data-kind="success"]');
    assert((await page.textContent('#accounts-message')).startsWith('Added New Officer (new.officer)'), await page.textContent('#accounts-message'));
    const row = '#accounts-body tr:has(td:text-is("new.officer"))';
    assert((await page.textContent(`${row} td:nth-child(6)`)) === 'Active', 'the new account is active');
    await shot(page, 'accounts-coordinator');
    // The new officer signs in with the first password.
    await signIn(officer.page, 'new.officer');
    assert(await officer.page.evaluate(async () => (await fetch('/api/me')).status) === 200, 'signed in');
    // Disabled: the officer's session ends at once.
    await page.click(`${row} button`);
    await page.waitForSelector('#account-edit:not([hidden])');
    assert(await page.evaluate(() => document.activeElement.id) === 'ae-name', 'focus moves into the form');
    await page.check('#ae-disabled');
    await page.click('#account-edit button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#accounts-message').textContent === 'Saved.');
    assert((await page.textContent(`${row} td:nth-child(6)`)) === 'Disabled', 'shown as disabled');
    const after = await officer.page.evaluate(async () => (await fetch('/api/me')).status);
    assert(after === 401, `the disabled officer's session has ended: ${after}`);

    // The audit log: the account's creation and change, found by kind of record.
    await page.click('[data-nav="audit"]');
    await page.waitForSelector('#audit-body tr');
    await page.selectOption('#au-object-type', 'user');
    await page.fill('#au-principal', 'people.coordinator');
    await page.click('#audit-search button[type=submit]');
    await page.waitForFunction(() => [...document.querySelectorAll('#audit-body tr')].every((r) => r.textContent.includes('people.coordinator')));
    const rows = await page.$$eval('#audit-body tr', (trs) => trs.map((tr) => tr.textContent));
    assert(rows.length === 2 && rows[0].includes('Collected') && rows[1].includes('Altered'), `the creation then the change: ${JSON.stringify(rows)}`);
    assert((await page.textContent('#audit-count')) === '2 events, oldest first.', await page.textContent('#audit-count'));
    await axeCheck(page, 'audit log');
    await shot(page, 'audit-log');
    // Exporting needs a reason; the file holds what the search found.
    await page.click('#audit-export button[type=submit]');
    await page.waitForSelector('#audit-export-message[data-kind="error"]');
    await page.fill('#au-purpose', 'Quarterly access review');
    const downloaded = page.waitForEvent('download');
    await page.click('#audit-export button[type=submit]');
    const file = JSON.parse(readFileSync(await (await downloaded).path(), 'utf8'));
    assert(file.purpose === 'Quarterly access review' && file.complete && file.events.length === 2, `the export: ${JSON.stringify(file).slice(0, 200)}`);
    assert(file.events.every((e) => e.object_type === 'user' && e.principal_name === 'people.coordinator'), `only what the search found: ${JSON.stringify(file.events[0])}`);
    await page.waitForFunction(() => document.querySelector('#audit-export-message').textContent === 'Downloaded 2 events.');
    // …and the export is itself in the log, with its reason.
    await page.selectOption('#au-object-type', 'audit-log');
    await page.selectOption('#au-action', 'disclosure');
    await page.click('#audit-search button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#audit-body').textContent.includes('Quarterly access review'));
  } finally {
    await officer.context.close();
    await context.close();
  }
});

scenario('an administrator lands on account management, adds an agency and its coordinator, cannot approve their own request to make a coordinator an administrator, and reads the sign-in log, in English and Welsh, and the accounts and audit screens fit a phone', async (browser) => {
  const { context, page } = await newPage(browser, { axe: true });
  try {
    await signInEnrolling(page, 'people.admin');
    await page.waitForSelector('#accounts-body tr');
    assert(await page.evaluate(() => document.body.dataset.view) === 'accounts', 'the first screen is the accounts');
    const refused = await page.evaluate(() => document.body.innerText.includes('Your role does not allow this'));
    assert(!refused, 'nothing on screen says the role is refused');
    for (const nav of ['log', 'mine', 'list', 'exercises']) assert(!(await page.isVisible(`[data-nav="${nav}"]`)), `no ${nav} screen for an administrator`);
    const listed = await page.$$eval('#accounts-body tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent));
    assert(listed.includes('police.officer') && listed.includes('area.coordinator'), `every account: ${listed}`);
    await axeCheck(page, 'accounts (administrator)');
    // A new agency, and a coordinator for it.
    await page.fill('#ag-code', 'youth-service');
    await page.fill('#ag-name-en', 'Made-up Youth Service');
    await page.fill('#ag-name-cy', 'Gwasanaeth Ieuenctid Dychmygol');
    await page.selectOption('#ag-kind', 'third-sector');
    await page.click('#agency-new button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#agency-message').textContent === 'Added Made-up Youth Service.');
    assert((await page.textContent('#agencies-body')).includes('Gwasanaeth Ieuenctid Dychmygol'), 'listed');
    await page.fill('#an-username', 'youth.coordinator');
    await page.fill('#an-name', 'Youth Coordinator');
    await page.selectOption('#an-agency', 'youth-service');
    await page.selectOption('#an-role', 'coordinator');
    await page.fill('#an-password', PASSWORD);
    await page.click('#account-new button[type=submit]');
    await page.waitForSelector('#accounts-message[data-kind="success"]');
    const row = '#accounts-body tr:has(td:text-is("youth.coordinator"))';
    assert((await page.textContent(`${row} td:nth-child(3)`)) === 'Made-up Youth Service', 'in the new agency');
    assert((await page.textContent(`${row} td:nth-child(5)`)) === 'Needed, not set up yet', 'a coordinator needs an authenticator');
    // Making that coordinator an administrator too waits for a second administrator…
    await page.click(`${row} button`);
    await page.check('#ae-admin');
    await page.click('#account-edit button[type=submit]');
    await page.waitForSelector('#accounts-message[data-kind="success"]');
    assert((await page.textContent('#accounts-message')).includes('second administrator'), await page.textContent('#accounts-message'));
    await page.waitForSelector('#requests-list li');
    // …who is not the one who asked.
    await page.click('#requests-list li button.primary');
    await page.waitForSelector('#accounts-message[data-kind="error"]');
    assert((await page.textContent('#accounts-message')).startsWith('Another administrator must decide'), await page.textContent('#accounts-message'));
    assert((await page.textContent(`${row} td:nth-child(4)`)) === 'Safeguarding coordinator', 'the role has not changed');
    // The sign-in log has this administrator's own sign-in.
    const signIns = await page.$$eval('#signins-body tr', (trs) => trs.map((tr) => tr.textContent));
    assert(signIns.some((s) => s.includes('people.admin') && s.includes('Signed in')), `sign-ins: ${signIns.slice(0, 3)}`);
    await shot(page, 'accounts-admin');
    // Everything on the screen switches to Welsh, the messages too.
    await page.click('#lang');
    await page.waitForFunction(() => document.documentElement.lang === 'cy');
    const left = await englishLeft(page);
    assert(left.length === 0, `English left on the accounts screen: ${JSON.stringify(left)}`);
    assert((await page.textContent('#accounts-message')).startsWith('Rhaid i weinyddwr arall'), await page.textContent('#accounts-message'));
    await page.click('[data-nav="audit"]');
    await page.waitForSelector('#audit-body tr');
    const leftAudit = await englishLeft(page);
    assert(leftAudit.length === 0, `English left on the audit log: ${JSON.stringify(leftAudit)}`);
    await shot(page, 'welsh-audit');
    await page.click('#lang');
    // On a phone both screens fit its width (their tables scroll on their own) and the forms can be used.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const view of ['accounts', 'audit']) {
      await page.click(`[data-nav="${view}"]`);
      await page.waitForSelector(`section[data-view="${view}"]:not([hidden])`);
      const fit = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
      assert(fit.page <= fit.screen, `the ${view} screen fits a phone: ${JSON.stringify(fit)}`);
      const small = await page.evaluate((v) => [...document.querySelectorAll(`section[data-view="${v}"] button, section[data-view="${v}"] input, section[data-view="${v}"] select`)]
        .filter((c) => c.getClientRects().length && !c.closest('[hidden]') && c.type !== 'checkbox')
        .map((c) => ({ id: c.id || c.textContent.trim().slice(0, 20), h: c.getBoundingClientRect().height }))
        .filter((c) => c.h < 24), view);
      assert(small.length === 0, `controls a finger can hit on the ${view} screen: ${JSON.stringify(small)}`);
    }
    await page.setViewportSize({ width: 1366, height: 768 });
  } finally {
    await context.close();
  }
});

scenario('the basemap draws labelled Newport streets from the MBTiles with only the app’s own origin reachable', async (browser) => {
  if (!existsSync(MBTILES)) return 'skipped: ../shared/data/osm-newport is not there';
  const { context, page } = await newPage(browser);
  const outside = [];
  await context.route('**/*', (route) => {
    if (route.request().url().startsWith(BASE)) return route.continue();
    outside.push(route.request().url());
    return route.abort();
  });
  await signIn(page, 'council.panel');
  await page.evaluate(() => window.safetymapMap.jumpTo({ center: [-2.9977, 51.5886], zoom: 16 }));
  await waitForMap(page);
  await page.waitForFunction(() => window.safetymapMap.queryRenderedFeatures({ layers: ['road-labels'] }).length > 0, null, { timeout: 30000 });
  const names = await page.evaluate(() => [...new Set(window.safetymapMap.queryRenderedFeatures({ layers: ['road-labels'] }).map((f) => f.properties.name))]);
  assert(names.length >= 3, `labelled streets: ${names}`);
  const roads = await page.evaluate(() => window.safetymapMap.queryRenderedFeatures({ layers: ['roads-minor', 'roads-major'] }).length);
  assert(roads > 10, `streets drawn: ${roads}`);
  await shot(page, 'basemap');
  assert(outside.length === 0, `requests left the origin: ${outside}`);
  await context.close();
});

scenario('a field officer who taps the map to log a report is told the nearest street and the 100 m grid reference, from the basemap, in English and Welsh', async (browser) => {
  if (!existsSync(MBTILES)) return 'skipped: ../shared/data/osm-newport is not there';
  const { context, page } = await newPage(browser);
  await context.route('**/*', (route) => (route.request().url().startsWith(BASE) ? route.continue() : route.abort()));
  await signIn(page, 'parks.officer');
  await page.click('[data-nav="log"]');
  await page.evaluate(() => window.safetymapMap.jumpTo({ center: [-2.9977, 51.5886], zoom: 17 }));
  await waitForMap(page);
  await page.waitForFunction(() => window.safetymapMap.queryRenderedFeatures({ layers: ['road-labels'] }).length > 0, null, { timeout: 30000 });
  await tapMapAt(page, 0.5, 0.5);
  const text = await page.textContent('#r-place');
  const said = /^Place chosen: near (.+), grid reference (S[OT] \d{3} \d{3})$/.exec(text);
  assert(said, `the place in words: ${text}`);
  const streets = await page.evaluate(() => window.safetymapMap.querySourceFeatures('basemap', { sourceLayer: 'roads' }).map((f) => f.properties.name));
  assert(streets.includes(said[1]), `${said[1]} is a street of the basemap`);
  const ref = await page.evaluate(async () => {
    const { gridReference } = await import('/js/grid.js');
    const c = window.safetymapMap.getCenter();
    return gridReference(c.lng, c.lat);
  });
  assert(said[2] === ref, `the grid reference of where it was tapped: ${said[2]} vs ${ref}`);
  await page.click('#lang');
  await page.waitForFunction(() => document.documentElement.lang === 'cy');
  const welsh = await page.textContent('#r-place');
  assert(welsh === `Lle wedi’i ddewis: ger ${said[1]}, cyfeirnod grid ${said[2]}`, `in Welsh: ${welsh}`);
  await page.click('#lang');
  await context.close();
});

scenario('offline, a panel member finds a street and a place from the register with the map’s search box, by keyboard, and the map goes there', async (browser, ctx) => {
  if (!existsSync(MBTILES)) return 'skipped: ../shared/data/osm-newport is not there';
  await ensurePlace(ctx);
  const { context, page } = await newPage(browser, { axe: true });
  await signIn(page, 'council.panel');
  await page.waitForFunction(async () => (await import('/js/places.js')).all().length > 0);
  const place = await page.evaluate(async () => {
    const places = await import('/js/places.js');
    const p = places.all().find((x) => x.location && x.name_en);
    return p && { name: p.name_en, lon: p.location.lon, lat: p.location.lat };
  });
  assert(place, 'the register has a place with a position');
  // The streets were fetched when the app started; from here on nothing reaches the server.
  await context.setOffline(true);
  await page.fill('#ms-q', 'commercial st');
  await page.waitForSelector('#ms-results:not([hidden]) button');
  const first = await page.textContent('#ms-results li:first-child button');
  assert(/^Commercial Street street, grid reference ST \d{3} \d{3}$/.test(first.replace(/\s+/g, ' ').trim()), `the street first, with where it is: ${first}`);
  assert((await page.textContent('#ms-status')).includes('arrow down'), await page.textContent('#ms-status'));
  await axeCheck(page, 'map search');
  await shot(page, 'map-search');
  await page.keyboard.press('ArrowDown');
  assert(await page.evaluate(() => document.activeElement.closest('#ms-results') !== null), 'arrow down reaches the results');
  await page.keyboard.press('Enter');
  const centre = await page.evaluate(() => window.safetymapMap.getCenter().toArray());
  assert(centre[0] > -2.9975 && centre[0] < -2.9915 && centre[1] > 51.5820 && centre[1] < 51.5885, `the map is on Commercial Street: ${centre}`);
  assert(await page.isHidden('#ms-results'), 'the results close');
  // A place from the register, found by the start of a word of its name, in any case.
  const word = place.name.split(/\s+/).find((w) => w.length > 3) ?? place.name;
  await page.fill('#ms-q', word.slice(0, 4).toUpperCase());
  await page.waitForSelector('#ms-results:not([hidden]) button');
  const button = page.locator('#ms-results button', { hasText: 'place in the register' }).filter({ hasText: place.name }).first();
  await button.click();
  const at = await page.evaluate(() => window.safetymapMap.getCenter().toArray());
  assert(Math.abs(at[0] - place.lon) < 1e-4 && Math.abs(at[1] - place.lat) < 1e-4, `the map is on ${place.name}: ${at}`);
  await page.click('#lang');
  await page.fill('#ms-q', 'zzzz');
  await page.waitForFunction(() => document.querySelector('#ms-status').textContent === 'Nid oes stryd na lle yn cyfateb.');
  await page.click('#lang');
  await context.setOffline(false);
  await context.close();
});

scenario('a panel member prints the filtered map: the sheet has the map as drawn, its legend, the filters in words, a scale bar, north, and who printed it when', async (browser, ctx) => {
  const { context, page } = await newPage(browser);
  await apiSend('POST', '/api/observations', ctx.tokens.parks, {
    longitude: -2.9985, latitude: 51.5890, observed_at: new Date(Date.now() - 3 * 86400e3).toISOString(),
    category: 'licensed-premises-concern', setting: 'park', severity: 'high',
  });
  await signIn(page, 'council.panel');
  await page.selectOption('#f-category', 'licensed-premises-concern');
  await page.evaluate(() => window.safetymapMap.jumpTo({ center: [-2.9985, 51.5890], zoom: 15 }));
  await waitForMap(page);
  await page.waitForFunction(() => /^Showing [1-9]/.test(document.querySelector('#counts').textContent));
  const counts = await page.textContent('#counts');
  await page.evaluate(() => { window.print = () => { window.printedMapAlone = document.body.classList.contains('printing-map'); }; });
  await page.click('#map-print');
  await page.waitForFunction(() => window.printedMapAlone === true, null, { timeout: 10000 });
  const image = await page.evaluate(() => {
    const img = document.querySelector('#print-map-image');
    return { size: img.src.length, width: img.naturalWidth };
  });
  assert(image.width > 300 && image.size > 20000, `the map as drawn, not a blank canvas: ${JSON.stringify(image)}`);
  // The scale bar's length is what it says, on the map's own scale.
  const scale = await page.evaluate(() => {
    const map = window.safetymapMap;
    const bar = document.querySelector('.print-scale-bar');
    const metres = parseFloat(bar.nextElementSibling.textContent) * (bar.nextElementSibling.textContent.endsWith('km') ? 1000 : 1);
    const share = parseFloat(bar.style.width) / 100;
    const width = map.getCanvas().clientWidth;
    const middle = map.getCanvas().clientHeight / 2;
    const west = map.unproject([0, middle]);
    const east = map.unproject([width, middle]);
    const across = west.distanceTo(east);
    return { metres, shown: share * across };
  });
  assert(Math.abs(scale.shown - scale.metres) / scale.metres < 0.05, `the scale bar: ${JSON.stringify(scale)}`);
  // The sheet as the printer gets it, read back as text.
  await page.evaluate(() => document.body.classList.add('printing-map'));
  await page.emulateMedia({ media: 'print' });
  const dir = mkdtempSync(join(tmpdir(), 'safetymap-print-'));
  try {
    const file = join(dir, 'map.pdf');
    await shot(page, 'map-print');
    await page.pdf({ path: file, format: 'A4' });
    const text = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    assert(text.includes('safetymap: the map as shown'), `the title: ${text.slice(0, 300)}`);
    assert(text.includes('Category: Licensed premises concern'), `the filters in words: ${text.slice(0, 600)}`);
    assert(/Printed \w+ \d{1,2} \w+ \d{4}, \d\d:\d\d by /.test(text), `when and by whom: ${text.slice(0, 300)}`);
    assert(/\b\d+ (m|km)\b/.test(text) && text.includes('N'), 'a scale bar and north');
    assert(text.includes('Legend') && text.includes('Concern'), 'the legend');
    assert(text.includes(counts.replace(/\s+/g, ' ').trim()), `the count of what it shows: ${counts}`);
    assert(!text.includes('Sign out') && !text.includes('Download a layer'), 'nothing of the screen around the map');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await page.emulateMedia({ media: 'screen' });
  }
  await context.close();
});

scenario('on a phone a panel member finds a street with the search box by tapping, and prints the map', async (browser) => {
  if (!existsSync(MBTILES)) return 'skipped: ../shared/data/osm-newport is not there';
  const { context, page } = await newPage(browser, { context: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } });
  await signIn(page, 'council.panel');
  const search = await page.locator('#ms-q').boundingBox();
  assert(search && search.x >= 0 && search.x + search.width <= 390 && search.height >= 40, `the search box fits the phone and takes a finger: ${JSON.stringify(search)}`);
  await page.locator('#ms-q').tap();
  await page.fill('#ms-q', 'commercial st');
  await page.waitForSelector('#ms-results:not([hidden]) button');
  const result = await page.locator('#ms-results li:first-child button').boundingBox();
  assert(result.height >= 40 && result.x + result.width <= 390, `results are finger-sized and on screen: ${JSON.stringify(result)}`);
  await page.locator('#ms-results li:first-child button').tap();
  const centre = await page.evaluate(() => window.safetymapMap.getCenter().toArray());
  assert(centre[0] > -2.9975 && centre[0] < -2.9915 && centre[1] > 51.5820 && centre[1] < 51.5885, `the map is on Commercial Street: ${centre}`);
  const print = await page.locator('#map-print').boundingBox();
  assert(print && print.x + print.width <= 390 && print.height >= 40, `Print this map is on screen and takes a finger: ${JSON.stringify(print)}`);
  await page.evaluate(() => { window.print = () => { window.printedMapAlone = document.body.classList.contains('printing-map'); }; });
  await page.locator('#map-print').tap();
  await page.waitForFunction(() => window.printedMapAlone === true, null, { timeout: 10000 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `no sideways scrolling: ${wide}`);
  await context.close();
});

scenario('a filtered hot-spot view bookmarked by a panel member opens for a field officer with the same filters, layers and place', async (browser) => {
  const { context, page } = await newPage(browser);
  await signIn(page, 'council.panel');
  await page.selectOption('#f-category', 'child-criminal-exploitation');
  await page.check('input[name="mode"][value="hotspots"]');
  await page.selectOption('#f-cell', '500');
  await page.check('#f-police');
  await page.evaluate(() => window.safetymapMap.jumpTo({ center: [-2.9912, 51.5903], zoom: 15 }));
  await waitForMap(page);
  const link = page.url();
  for (const part of ['category=child-criminal-exploitation', 'mode=hotspots', 'cell=500', 'police=1', 'at=51.59030%2C-2.99120%2C15.00']) {
    assert(link.includes(part), `the address holds ${part}: ${link}`);
  }
  await context.close();
  // Another person, another role, opens the link: signs in, and is shown that view.
  const other = await newPage(browser);
  await other.page.goto(link);
  await other.page.waitForSelector('#signin[open]');
  await other.page.fill('#signin-username', 'parks.officer');
  await other.page.fill('#signin-password', PASSWORD);
  await other.page.click('#signin-form button[type=submit]');
  await other.page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  await waitForMap(other.page);
  assert((await other.page.inputValue('#f-category')) === 'child-criminal-exploitation', 'the category filter');
  assert(await other.page.isChecked('input[name="mode"][value="hotspots"]'), 'hot spots');
  assert((await other.page.inputValue('#f-cell')) === '500', '500 m cells');
  assert(await other.page.isChecked('#f-police'), 'recorded crime on');
  const view = await other.page.evaluate(() => ({ center: window.safetymapMap.getCenter(), zoom: window.safetymapMap.getZoom() }));
  assert(Math.abs(view.center.lng + 2.9912) < 1e-4 && Math.abs(view.center.lat - 51.5903) < 1e-4 && Math.abs(view.zoom - 15) < 0.01, `the same place: ${JSON.stringify(view)}`);
  assert(await other.page.isVisible('#legend-hotspots'), 'the hot-spot legend');
  await other.context.close();
});

scenario('a panel member switches to hot spots, reads the legend and the time profile, and turns on recorded crime', async (browser, ctx) => {
  // A busy corner (thirty reports within about 30 m, eight of them in one
  // evening hour) in a thin scatter of single reports across the town.
  const hot = [-2.9925, 51.5835];
  const hour = Math.floor(Date.now() / 3600e3) * 3600e3 - 2 * 86400e3;
  const reports = [];
  for (let i = 0; i < 30; i++) {
    const at = i < 8 ? hour + i * 5 * 60e3 : Date.now() - (i * 29 + 3) * 3600e3;
    reports.push([hot[0] + ((i % 6) - 2.5) * 0.00012, hot[1] + (Math.floor(i / 6) - 2) * 0.0001, at]);
  }
  for (let i = 0; i < 24; i++) {
    reports.push([hot[0] + ((i % 6) - 2.5) * 0.008, hot[1] + (Math.floor(i / 6) - 1.5) * 0.006, Date.now() - (i * 31 + 5) * 3600e3]);
  }
  for (const [longitude, latitude, at] of reports) {
    const response = await fetch(`${BASE}/api/observations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.tokens.police}`, 'content-type': 'application/json' },
      body: JSON.stringify({ longitude, latitude, observed_at: new Date(at).toISOString(), category: 'young-people-congregating', setting: 'street', severity: 'low', sensitivity: 'standard' }),
    });
    assert(response.status === 201, `report made: ${response.status} ${await response.text()}`);
  }
  const { context, page } = await newPage(browser);
  await signIn(page, 'council.panel');
  await page.evaluate((center) => window.safetymapMap.jumpTo({ center, zoom: 14 }), hot);
  await waitForMap(page);

  // Grid counts: cells are drawn, and no count below the threshold reaches a panel member.
  await page.check('input[name="mode"][value="grid"]');
  assert(await page.isVisible('#f-cell') && await page.isVisible('#f-shape'), 'cell size and shape are offered');
  const cells = await rendered(page, ['grid-fill', 'grid-suppressed']);
  assert(cells.some((c) => c.count >= 5), `a cell with a count: ${JSON.stringify(cells.slice(0, 5))}`);
  assert(cells.some((c) => c.suppressed === true && c.count === undefined), 'single reports are drawn as withheld cells');
  const small = cells.filter((c) => typeof c.count === 'number' && c.count > 0 && c.count < 5);
  assert(small.length === 0, `counts below 5 reached the page: ${JSON.stringify(small)}`);
  assert(!(await page.isVisible('#legend-observations')) && await page.isVisible('#legend-grid'), 'the grid legend replaces the points legend');

  // Hot spots: the legend, significant cells, and the profile of the hot spots alone.
  const profiled = page.waitForResponse((r) => r.url().includes('/api/time-profile?') && r.url().includes('within=hot'));
  await page.check('input[name="mode"][value="hotspots"]');
  const profileUrl = (await profiled).url();
  assert(profileUrl.includes('cell=250') && profileUrl.includes('shape=square'), `profiled on the same grid: ${profileUrl}`);
  assert(await page.isVisible('#legend-hotspots'), 'the hot-spot legend is shown');
  const legend = await page.textContent('#legend-hotspots');
  for (const words of ['Hot spot, 99% confidence', 'Not significant', 'Cold spot, 99% confidence', 'false discovery rate (FDR) correction on', 'fewer than 5']) {
    assert(legend.includes(words), `the legend says "${words}": ${legend}`);
  }
  const hotspots = await rendered(page, ['hotspots-fill']);
  assert(hotspots.some((c) => c.class > 0), `a hot spot is drawn: ${JSON.stringify(hotspots.map((c) => c.class))}`);
  const small2 = hotspots.filter((c) => typeof c.count === 'number' && c.count > 0 && c.count < 5);
  assert(small2.length === 0, `hot-spot counts below 5 reached the page: ${JSON.stringify(small2)}`);
  const shown = await page.evaluate(() => ['points', 'clusters', 'squares-fill', 'heatmap', 'grid-fill'].filter((id) => window.safetymapMap.getLayoutProperty(id, 'visibility') !== 'none'));
  assert(shown.length === 0, `only the hot spots are drawn: ${shown}`);

  await page.waitForSelector('#profile-table[data-within="hot"]');
  const table = await page.evaluate(() => {
    const rows = [...document.querySelectorAll('#profile-table tbody tr')];
    const numbers = rows.flatMap((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)).filter((text) => /^\d+$/.test(text));
    return {
      cells: rows.map((tr) => tr.querySelectorAll('td').length),
      headers: rows.map((tr) => tr.querySelector('th[scope="row"]')?.textContent),
      sum: numbers.reduce((a, text) => a + Number(text), 0),
      total: document.querySelector('#profile-total').textContent,
      withheld: [...document.querySelectorAll('#profile-table td.heat-suppressed')].map((td) => td.textContent),
    };
  });
  assert(JSON.stringify(table.cells) === JSON.stringify([24, 24, 24, 24, 24, 24, 24]), `7 × 24: ${JSON.stringify(table.cells)}`);
  assert(table.headers[0].includes('Monday') && table.headers[6].includes('Sunday'), `Monday to Sunday: ${table.headers}`);
  const profile = await (await page.request.get(profileUrl)).json();
  assert(profile.within === 'hot' && typeof profile.total === 'number', `the API profiles the hot spots: ${JSON.stringify(profile).slice(0, 200)}`);
  assert(table.total === `Total: ${profile.total}`, `total ${table.total} against the API's ${profile.total}`);
  const apiSum = profile.counts.flat().reduce((a, n) => a + (n ?? 0), 0);
  assert(table.sum === apiSum && apiSum >= 8, `the shown counts add up to the API's: ${table.sum} against ${apiSum}`);
  assert(table.withheld.length > 0 && table.withheld.every((text) => text === '<5fewer than 5'), `withheld hours read "<5" and say so: ${table.withheld.slice(0, 3)}`);

  // Recorded crime: drawn, attributed, and clickable.
  const attribution = 'Contains public sector information licensed under the Open Government Licence v3.0 (data.police.uk)';
  assert(!(await page.textContent('.maplibregl-ctrl-attrib')).includes(attribution), 'no police.uk attribution while the layer is off');
  await page.check('#f-police');
  // The fixture's nine crimes lie north-west of the busy corner: go to them
  // (at the corner's view, how many show depends on the map's height).
  await page.evaluate(() => window.safetymapMap.jumpTo({ center: [-2.9965, 51.5884], zoom: 15 }));
  const crimes = await rendered(page, ['police-crimes'], 5);
  assert(crimes.length >= 5, `crimes drawn: ${crimes.length}`);
  assert((await page.textContent('.maplibregl-ctrl-attrib')).includes(attribution), 'the Open Government Licence attribution is shown');
  assert(await page.isVisible('#legend-police'), 'the legend names the crime layer');
  await page.waitForFunction(() => document.querySelector('#legend-police-months').textContent !== '');
  const months = await page.textContent('#legend-police-months');
  assert(months.includes('January 2026 to January 2026'), `the legend says which months the crime covers: ${months}`);
  const crime = await page.evaluate(() => {
    const map = window.safetymapMap;
    const f = map.queryRenderedFeatures({ layers: ['police-crimes'] }).find((c) => c.properties.crime_type === 'drugs');
    const { x, y } = map.project(f.geometry.coordinates);
    return { x, y };
  });
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + crime.x, box.y + crime.y);
  await page.waitForSelector('.maplibregl-popup', { timeout: 5000 });
  const popup = await page.textContent('.maplibregl-popup-content');
  for (const words of ['Drugs', 'January 2026', 'police.uk']) assert(popup.includes(words), `the crime popup says "${words}": ${popup}`);
  await shot(page, 'hotspots');
  await page.click('.maplibregl-popup-close-button');
  await page.uncheck('#f-police');
  assert(!(await page.textContent('.maplibregl-ctrl-attrib')).includes(attribution), 'the attribution goes with the layer');
  await context.close();
});

scenario('a coordinator imports a ward boundary file, draws and deletes an area, and sees the wards counted; a panel member reads "fewer than 5"', async (browser, ctx) => {
  // Two reports inside the made-up Riverside ward, of a category no other scenario uses.
  for (const [longitude, latitude] of [[-3.0021, 51.5881], [-3.0032, 51.5893]]) {
    const { status, body } = await apiSend('POST', '/api/observations', ctx.tokens.police, {
      longitude, latitude, observed_at: new Date(Date.now() - 7200e3).toISOString(),
      category: 'bullying-harassment', setting: 'street', severity: 'low',
    });
    assert(status === 201, `report made: ${status} ${JSON.stringify(body)}`);
  }
  const { context, page } = await newPage(browser);
  page.on('dialog', (dialog) => dialog.accept());
  await signInEnrolling(page, 'area.coordinator');
  await page.evaluate(() => window.safetymapMap.jumpTo({ center: [-2.9972, 51.5882], zoom: 14 }));
  await waitForMap(page);

  // Import the boundary file through the app.
  assert(await page.isVisible('#areas-manage'), 'a coordinator is offered area management');
  await page.click('#areas-manage');
  await page.waitForSelector('[data-view="areas"]:not([hidden])');
  await page.setInputFiles('#a-import-file', WARDS_FIXTURE);
  await page.selectOption('#a-import-kind', 'ward');
  await page.click('#a-import');
  await page.waitForSelector('#a-import-result[data-kind="success"], #a-import-result[data-kind="error"]:not(:empty)');
  const imported = await page.textContent('#a-import-result');
  assert(imported.includes('Imported: 2 added'), `the import says what it did: ${imported}`);
  await page.waitForFunction(() => document.querySelectorAll('#a-all li[data-code^="W050999"]').length === 2);

  // Draw a triangle by clicking the map, name it, save it, then delete it.
  await page.click('#a-draw');
  for (const [x, y] of [[0.3, 0.3], [0.6, 0.35], [0.45, 0.65]]) await tapMapAt(page, x, y);
  assert((await page.textContent('#a-corners')).includes('3'), `three corners: ${await page.textContent('#a-corners')}`);
  await page.click('#a-close');
  await page.fill('#a-name_en', 'Made-up Bus Station Approach');
  await page.fill('#a-name_cy', 'Dynesfa Ddychmygol yr Orsaf Fysiau');
  await page.click('#a-save');
  await page.waitForSelector('#a-message[data-kind="success"], #a-message[data-kind="error"]:not(:empty)');
  assert((await page.textContent('#a-message')).includes('Area saved'), `saved: ${await page.textContent('#a-message')}`);
  const drawnItem = page.locator('#a-all li', { hasText: 'Made-up Bus Station Approach' });
  await drawnItem.waitFor();
  await drawnItem.locator('button').click();
  await page.waitForSelector('#a-message[data-kind="success"]');
  await page.waitForFunction(() => ![...document.querySelectorAll('#a-all li')].some((li) => li.textContent.includes('Bus Station Approach')));

  // The areas layer: wards outlined, shaded and listed with their counts; it follows the filters.
  await page.click('#a-back');
  await page.check('#f-areas');
  await page.selectOption('#f-area-kind', 'ward');
  await page.waitForFunction(() => document.querySelectorAll('#areas-list li').length === 2, null, { timeout: 15000 });
  const riverside = () => page.textContent('#areas-list li[data-code="W05099901"]');
  let text = await riverside();
  // A coordinator sees every count (other scenarios' reports may be in the ward too).
  const all = Number(/^Made-up Riverside\s*(\d+) observations?$/.exec(text)?.[1]);
  assert(all >= 2, `the ward is listed with its count: ${text}`);
  const drawnAreas = await rendered(page, ['areas-fill', 'areas-suppressed', 'areas-outline']);
  assert(drawnAreas.some((a) => a.code === 'W05099901') && drawnAreas.some((a) => a.code === 'W05099902'), `both wards drawn: ${JSON.stringify(drawnAreas.map((a) => a.code))}`);
  if (await page.evaluate(() => Boolean(window.safetymapMap.getLayer('areas-label')))) {
    const labels = await rendered(page, ['areas-label']);
    assert(labels.some((l) => l.label.startsWith('Made-up Riverside\n')), `labelled: ${JSON.stringify(labels.map((l) => l.label))}`);
  }
  await shot(page, 'areas');
  // The counts follow the filters.
  await page.selectOption('#f-category', 'bullying-harassment');
  await page.waitForFunction(() => /Riverside\s*2 observations$/.test(document.querySelector('#areas-list li[data-code="W05099901"]')?.textContent || ''), null, { timeout: 15000 });
  text = await page.textContent('#areas-list li[data-code="W05099902"]');
  assert(/Made-up Castle\s*0 observations$/.test(text), `none in the other ward: ${text}`);

  // The time profile of one ward: the imported wards are offered, and the
  // table then counts only what lies inside the chosen one.
  await page.waitForFunction(() => [...document.querySelectorAll('#profile-area option')].some((o) => o.textContent.startsWith('Made-up Riverside')));
  const ward = await page.evaluate(() => [...document.querySelectorAll('#profile-area option')].find((o) => o.textContent.startsWith('Made-up Riverside')).value);
  const wardProfiled = page.waitForResponse((r) => r.url().includes('/api/time-profile?') && r.url().includes(`area=${ward}`));
  await page.selectOption('#profile-area', ward);
  const wardUrl = (await wardProfiled).url();
  assert(!wardUrl.includes('bbox=') && wardUrl.includes('category=bullying-harassment'), `the ward replaces the view, the filters stay: ${wardUrl}`);
  await page.waitForFunction(() => document.querySelector('#profile-caption').textContent.includes('Made-up Riverside'));
  text = await page.textContent('#profile-total');
  assert(text === 'Total: 2', `the ward's two reports of this category: ${text}`);
  await context.close();

  // A panel member sees the small count as words, in English and in Welsh.
  const panel = await newPage(browser);
  await signIn(panel.page, 'council.panel');
  assert(!(await panel.page.isVisible('#areas-manage')), 'a panel member is not offered area management');
  await panel.page.evaluate(() => window.safetymapMap.jumpTo({ center: [-2.9972, 51.5882], zoom: 14 }));
  await waitForMap(panel.page);
  await panel.page.selectOption('#f-category', 'bullying-harassment');
  await panel.page.check('#f-areas');
  await panel.page.selectOption('#f-area-kind', 'ward');
  await panel.page.waitForSelector('#areas-list li[data-code="W05099901"]', { timeout: 15000 });
  text = await panel.page.textContent('#areas-list li[data-code="W05099901"]');
  assert(text.includes('fewer than 5') && !/\d+ observations?/.test(text), `withheld for a panel member: ${text}`);
  await panel.page.click('#lang');
  await panel.page.waitForFunction(() => document.documentElement.lang === 'cy');
  text = await panel.page.textContent('#areas-list li[data-code="W05099901"]');
  assert(text.includes('Glan yr Afon Dychmygol') && text.includes('llai na 5'), `in Welsh: ${text}`);
  await panel.page.click('#lang');
  await panel.context.close();
});

scenario('a field officer adds a place through the form, is told to give a role not a name, finds it in the list and on the map, and links a report to it', async (browser, ctx) => {
  const { context, page } = await newPage(browser);
  page.on('dialog', (dialog) => dialog.accept());
  await signIn(page, 'parks.officer');
  await page.evaluate(() => window.safetymapMap.jumpTo({ center: [-2.9962, 51.5872], zoom: 16 }));
  await waitForMap(page);
  await page.click('[data-nav="places"]');
  await page.waitForSelector('[data-view="places"]:not([hidden]) #places-browse:not([hidden])');
  await page.click('#p-add');
  await page.waitForSelector('#place-form:not([hidden])');
  const name = 'Made-up Bridge Street Takeaway';
  await page.fill('#pf-name_en', name);
  await page.fill('#pf-name_cy', 'Siop Têc-awê Ddychmygol Stryd y Bont');
  await page.selectOption('#pf-kind', 'takeaway');
  await tapMapAt(page, 0.5, 0.5);
  assert((await page.textContent('#pf-location')).startsWith('Place chosen'), 'the map click chose the position');
  await page.fill('#pf-address', '1 Made-up Bridge Street');
  await page.fill('#pf-licence_reference', 'MADEUP/PL/0001');
  await page.fill('#pf-manager_role', 'Mr John Smith, 07700 900123');
  await page.selectOption('#pf-training', 'trained');
  await page.check('#pf-safe_place');
  await page.click('#pf-save');
  await page.waitForSelector('#pf-manager_role-error:not(:empty)', { timeout: 10000 });
  const fieldError = await page.textContent('#pf-manager_role-error');
  assert(fieldError.includes('Give a role instead'), `the field error is next to the field: ${fieldError}`);
  assert(await page.getAttribute('#pf-manager_role', 'aria-invalid') === 'true', 'the field is marked invalid');
  assert((await page.getAttribute('#pf-manager_role', 'aria-describedby')).includes('pf-manager_role-error'), 'the error describes the field');
  assert(await page.evaluate(() => document.activeElement.id) === 'pf-manager_role', 'focus moves to the field');
  assert(!(await api('/api/places', ctx.tokens.parks)).places.some((p) => p.name_en === name), 'nothing was saved');

  await page.fill('#pf-manager_role', 'Designated premises supervisor');
  await page.click('#pf-save');
  await page.waitForSelector('#place-view:not([hidden]) #pv-message[data-kind="success"]', { timeout: 10000 });
  assert((await page.textContent('#pv-title')) === name, `the place view opens: ${await page.textContent('#pv-title')}`);
  const fields = await page.textContent('#pv-fields');
  for (const words of ['Takeaway', 'Designated premises supervisor', 'Trained', 'MADEUP/PL/0001', '1 Made-up Bridge Street']) assert(fields.includes(words), `the view shows "${words}": ${fields}`);
  assert(await page.isVisible('#pv-safe'), 'the safe-place membership is shown');
  const stored = (await api('/api/places', ctx.tokens.parks)).places.filter((p) => p.name_en === name);
  assert(stored.length === 1 && stored[0].safe_place === true && stored[0].manager_role === 'Designated premises supervisor', `stored once: ${JSON.stringify(stored)}`);
  const id = stored[0].id;

  // In the list, found by a search, and opened from there.
  await page.click('#pv-back');
  await page.waitForSelector(`#places-list li[data-id="${id}"]`);
  await page.fill('#p-search', 'bridge street');
  await page.waitForFunction(() => document.querySelectorAll('#places-list li').length === 1);
  await page.selectOption('#p-kind', 'takeaway');
  await page.click(`#places-list li[data-id="${id}"] button`);
  await page.waitForSelector('#place-view:not([hidden])');
  assert((await page.textContent('#pv-title')) === name, 'opened from the list');
  // On the map, drawn as a safe-place member.
  const drawnPlaces = await rendered(page, ['places']);
  assert(drawnPlaces.some((p) => p.id === id && p.safe_place === true), `on the map: ${JSON.stringify(drawnPlaces)}`);

  // A report logged next to it offers it first, and is linked to it.
  await page.click('[data-nav="log"]');
  await tapMapAt(page, 0.51, 0.51);
  const first = await page.textContent('#r-place-link option:nth-child(2)');
  assert(first.startsWith(name), `the nearest place comes first: ${first}`);
  await page.selectOption('#r-place-link', String(id));
  await page.click('#r-categories [data-code="takeaway-shop-concern"]');
  if (!(await page.getAttribute('#r-settings [data-code="takeaway"]', 'aria-checked') === 'true')) await page.click('#r-settings [data-code="takeaway"]');
  await page.click('#r-save');
  await page.waitForSelector('#r-message[data-kind="success"]');
  await page.click('[data-nav="places"]');
  await page.fill('#p-search', '');
  await page.selectOption('#p-kind', '');
  await page.click(`#places-list li[data-id="${id}"] button`);
  await page.waitForSelector('#pv-observations li button', { timeout: 10000 });
  assert((await page.textContent('#pv-total')).endsWith('1'), `one linked observation: ${await page.textContent('#pv-total')}`);
  assert(await page.locator('#pv-months tbody tr th').count() === 1, 'one month in the table');
  await shot(page, 'place');
  await page.click('#pv-observations li button');
  await page.waitForSelector('#purpose[open]');
  await page.fill('#purpose-text', 'Licensing review of the premises');
  await page.click('#purpose-form button[type=submit]');
  await page.waitForSelector('#details[open]');
  assert((await page.textContent('#details-body')).includes('Takeaway'), 'the linked observation opens');
  await page.click('#details-close');
  await context.close();
});

scenario('a coordinator sets up an exercise on an imported ward, draws a note, adds an action, freezes it and produces the pack, whose PDF and printable page show the action and the note', async (browser, ctx) => {
  // The ward boundaries (areas with the same code are replaced, so this is
  // the same whichever scenario imported them first), and a report inside
  // the made-up Riverside ward.
  const bearer = await coordinatorToken(ctx);
  const imported = await fetch(`${BASE}/api/areas/import?kind=ward`, {
    method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/geo+json' }, body: readFileSync(WARDS_FIXTURE),
  });
  assert(imported.ok, `wards imported: ${imported.status} ${await imported.text()}`);
  const report = await apiSend('POST', '/api/observations', ctx.tokens.police, {
    longitude: -3.0040, latitude: 51.5870, observed_at: new Date(Date.now() - 86400e3).toISOString(),
    category: 'unsafe-environment', setting: 'shopping-centre', severity: 'medium',
  });
  assert(report.status === 201, `report made: ${report.status} ${JSON.stringify(report.body)}`);
  const other = await ensureExercise(ctx);

  const { context, page } = await newPage(browser);
  const confirms = [];
  page.on('dialog', (dialog) => { confirms.push(dialog.message()); dialog.accept(); });
  await signInEnrolling(page, 'meeting.coordinator');
  await page.click('[data-nav="exercises"]');
  await page.waitForSelector(`#ex-list li[data-id="${other.id}"]`);

  // Set it up through the form; a missing title is said next to the field.
  await page.click('#ex-add');
  await page.waitForSelector('#ex-form:not([hidden]) #exf-agency-list input');
  await page.click('#exf-save');
  await page.waitForSelector('#exf-title-error:not(:empty)');
  assert(await page.getAttribute('#exf-title', 'aria-invalid') === 'true', 'the missing title is marked');
  const title = 'Made-up Riverside evening walkabout';
  await page.fill('#exf-title', title);
  await page.selectOption('#exf-kind', 'mapping-exercise');
  const ward = await page.evaluate(() => [...document.querySelectorAll('#exf-area_id option')].find((o) => o.textContent.startsWith('Made-up Riverside'))?.value);
  assert(ward, 'the imported ward is offered');
  // Found by typing part of its name (in any case)…
  await page.fill('#exf-area-search', 'made-up RIVER');
  const offered = await page.$$eval('#exf-area_id option', (options) => options.map((o) => o.textContent).filter((t) => !t.startsWith('Choose')));
  assert(offered.length >= 1 && offered.every((t) => t.startsWith('Made-up River')), `only matching areas: ${offered}`);
  assert((await page.inputValue('#exf-area_id')) === ward || offered.length > 1, 'a single match is chosen');
  assert(/^\d+ of \d+ areas? match/.test(await page.textContent('#exf-area-found')), await page.textContent('#exf-area-found'));
  // …or picked on the map: the smallest area holding the point comes first and is chosen.
  await page.fill('#exf-area-search', '');
  await page.selectOption('#exf-area_id', '');
  await page.evaluate(() => window.safetymapMap.jumpTo({ center: [-3.0040, 51.5870], zoom: 15 }));
  await page.click('#exf-area-pick');
  assert((await page.getAttribute('#exf-area-pick', 'aria-pressed')) === 'true', 'the button says it is picking');
  await tapMapAt(page, 0.5, 0.5);
  await page.waitForFunction((id) => document.querySelector('#exf-area_id').value === id, ward, { timeout: 10000 })
    .catch(async () => assert(false, `picked on the map: ${await page.inputValue('#exf-area_id')} (${await page.textContent('#exf-area-found')})`));
  await page.fill('#exf-from', isoDay(-60));
  await page.fill('#exf-to', isoDay(0));
  await page.check('#exf-agency-list input[value="newport-parks"]');
  await page.check('#exf-agency-list input[value="gwent-police"]');
  await page.fill('#exf-review_on', isoDay(90));
  await page.click('#exf-save');
  await page.waitForSelector('#ex-view:not([hidden]) #exv-fields dd', { timeout: 15000 });
  assert((await page.textContent('#exv-title')) === title, `the meeting view opens: ${await page.textContent('#exv-title')}`);
  const exercise = (await api('/api/exercises', bearer)).exercises.find((x) => x.title === title);
  assert(exercise && String(exercise.area_id) === ward, `stored once, on the ward: ${JSON.stringify(exercise)}`);
  const fields = await page.textContent('#exv-fields');
  for (const words of ['Made-up Riverside', 'Gwent Police', 'Newport Parks', 'Mapping exercise']) assert(fields.includes(words), `the view shows "${words}": ${fields}`);

  // The area and the observation in scope on the map; the counts and the changes.
  const outline = await rendered(page, ['exercise-area']);
  assert(outline.length > 0, 'the area is outlined');
  const points = await rendered(page, ['exercise-points', 'exercise-squares-fill']);
  assert(points.some((p) => p.id === report.body.id), `the report is drawn: ${JSON.stringify(points.map((p) => p.id))}`);
  assert(await page.locator(`#exv-items li[data-id="${report.body.id}"]`).count() === 1, 'the report is listed');
  const counts = await page.textContent('#exv-counts');
  assert(counts.includes('Unsafe environment') || counts.includes('unsafe'), `the counts table has the category: ${counts}`);
  assert(/fewer than 5/.test(await page.textContent('#exv-counts tbody')), 'a small count reads "fewer than 5"');
  const changes = await page.textContent('#exv-changes');
  assert(changes.includes('first exercise on this area') || changes.includes('Compared with'), `the changes are stated: ${changes}`);

  // Draw a shape with a note, by clicking the map.
  await page.check('input[name="annotation-kind"][value="Polygon"]');
  await page.click('#exa-start');
  for (const [x, y] of [[0.45, 0.45], [0.55, 0.45], [0.5, 0.55]]) await tapMapAt(page, x, y);
  assert((await page.textContent('#exa-corners')).includes('3'), `three corners: ${await page.textContent('#exa-corners')}`);
  const noteText = 'Gap in the fence behind the shops, no lighting';
  await page.fill('#exa-note', noteText);
  await page.click('#exa-save');
  await page.waitForSelector('#exv-annotations li[data-id]', { timeout: 10000 });
  assert((await page.textContent('#exv-annotations')).includes(noteText), 'the note is listed');
  const shapes = await rendered(page, ['exercise-annotation-fill']);
  assert(shapes.some((s) => s.note === noteText), 'the note is drawn on the map');

  // A decision naming a person is refused next to the field; then a proper one.
  await page.fill('#exd-text', 'Mr John Smith, 07700 900123, to be spoken to');
  await page.click('#exd-save');
  await page.waitForSelector('#exd-text-error:not(:empty)', { timeout: 10000 });
  assert((await page.textContent('#exd-text-error')).includes('place'), `the refusal says why: ${await page.textContent('#exd-text-error')}`);
  await page.fill('#exd-text', 'Ask the council to light the lane behind the shops');
  await page.click('#exd-save');
  await page.waitForSelector('#exv-decisions li[data-id]');

  // An action, owned by an agency, due on a date, linked to the note.
  const what = 'Repair the fence behind the shops';
  await page.fill('#exc-what', what);
  await page.selectOption('#exc-owner_agency', 'newport-parks');
  await page.fill('#exc-due_on', isoDay(14));
  const link = await page.evaluate(() => [...document.querySelectorAll('#exc-link option')].find((o) => o.value.startsWith('annotation:'))?.value);
  await page.selectOption('#exc-link', link);
  await page.click('#exc-save');
  await page.waitForSelector('#exv-actions li[data-id]', { timeout: 10000 });
  const actions = await page.textContent('#exv-actions');
  assert(actions.includes(what) && actions.includes('Newport Parks') && actions.includes('Note A1'), `the action is listed with its owner and link: ${actions}`);
  await shot(page, 'exercise-meeting');

  // Freeze: asked first; then it says so and the forms go.
  await page.click('#exv-freeze');
  await page.waitForSelector('#exv-frozen:not([hidden])', { timeout: 15000 });
  assert(confirms.some((c) => c.includes(title)), `asked first: ${confirms}`);
  assert((await page.textContent('#exv-frozen')).includes('Frozen'), 'the view says it is frozen');
  for (const selector of ['#exv-annotate', '#exd-form', '#exc-form', '#exv-freeze-box']) assert(!(await page.isVisible(selector)), `${selector} is gone once frozen`);
  await page.waitForSelector('#exv-follow-table tbody tr');
  assert(await page.locator('#exv-follow-table tbody tr').count() === 2, 'the follow-up shows before and after');
  // The action's status can still change.
  await page.selectOption(`#ex-status-${(await api(`/api/exercises/${exercise.id}`, bearer)).actions[0].id}`, 'in-progress');
  await page.waitForSelector('#exv-actions-message[data-kind="success"]');

  // The pack: the PDF, read back as text.
  assert((await page.textContent('#exv-pack-note')).includes('recorded as a disclosure'), 'the pack is said to be audited');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.click('#exv-pack-pdf')]);
  const dir = mkdtempSync(join(tmpdir(), 'safetymap-pack-'));
  try {
    const file = join(dir, 'pack.pdf');
    await download.saveAs(file);
    const text = execFileSync('pdftotext', [file, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    assert(text.includes(what), `the PDF has the action: ${text.slice(0, 400)}`);
    assert(text.includes('Gap in the fence'), 'the PDF has the note');
    // The map is drawn on the basemap's streets, named, with their data's licence.
    if (existsSync(MBTILES)) {
      const streets = (await (await fetch(`${BASE}/basemap/streets.json`)).json()).streets;
      const near = streets.filter((st) => st.bbox[0] < -2.995 && st.bbox[2] > -3.013 && st.bbox[1] < 51.593 && st.bbox[3] > 51.581).map((st) => st.name);
      const named = near.filter((name) => text.includes(name));
      assert(named.length >= 3, `street names on the pack's map: ${named} (of ${near.length} nearby)`);
      assert(text.includes('Streets: © OpenStreetMap'), 'the streets\' licence');
    }
    assert(/\b\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}\b/.test(text), 'dates as people write them');
    assert(!/\b20\d\d-\d\d-\d\d\b/.test(text), `no ISO dates: ${text.match(/\b20\d\d-\d\d-\d\d\b/)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The printable page, opened from the app in a new tab.
  const [printable] = await Promise.all([context.waitForEvent('page'), page.click('#exv-pack-en')]);
  printable.on('pageerror', (error) => pageErrors.push(`pack page error: ${error.message}`));
  printable.on('console', (message) => { if (message.text().startsWith('CSP violation')) pageErrors.push(message.text()); });
  await printable.waitForLoadState('load');
  const printed = await printable.textContent('body');
  assert(printed.includes(what), 'the printable page shows the action');
  assert(printed.includes(noteText), 'the printable page shows the note');
  await printable.setViewportSize({ width: 900, height: 1100 });
  await shot(printable, 'pack');
  await printable.close();

  // Actions due, across exercises: overdue said in words.
  await page.click('#exv-back');
  await page.click('#ex-due-open');
  await page.selectOption('#exdue-filter', 'all');
  await page.waitForFunction((w) => document.querySelector('#exdue-list').textContent.includes(w), what);
  const overdue = await page.locator('#exdue-list li.overdue').first().textContent();
  assert(overdue.includes('Overdue') && overdue.includes('Check the lamps along the lane'), `the overdue action says so: ${overdue}`);
  await shot(page, 'actions-due');
  await context.close();
});

scenario('a field officer records a safety-mapping session with two young people’s pins and a route, the perception layer shows the square with its counts, and the licensing report opens from a place with its 250 m and 500 m sections', async (browser, ctx) => {
  const place = await ensurePlace(ctx);
  const { context, page } = await newPage(browser);
  await signIn(page, 'parks.officer');
  const centre = [-2.9850, 51.5780];
  await page.evaluate((c) => window.safetymapMap.jumpTo({ center: c, zoom: 17 }), centre);
  await waitForMap(page);
  assert(await page.isVisible('[data-nav="perception"]'), 'a field officer is offered safety mapping');
  await page.click('[data-nav="perception"]');
  await page.waitForSelector('[data-view="perception"]:not([hidden]) #ps-form');
  await page.selectOption('#ps-age_band', '14-15');
  await page.click('#ps-save');
  await page.waitForSelector('#ps-view:not([hidden])', { timeout: 10000 });
  const sessionId = Number(await page.evaluate(() => document.querySelector('#psv-title').textContent.match(/\d+/)[0]));

  // Participant 1 and participant 2 each put a red pin in the same place.
  assert(await page.inputValue('#pm-participant') === '1', 'the first participant is number 1');
  for (const [n, reason] of [[1, 'badly-lit'], [2, 'isolated']]) {
    if (n > 1) await page.click('#pm-next');
    assert(await page.inputValue('#pm-participant') === String(n), `participant ${n}`);
    await page.click('#pm-ratings [data-code="red"]');
    await page.check(`#pm-reasons input[value="${reason}"]`);
    await page.selectOption('#pm-time_of_day', 'evening');
    await tapMapAt(page, 0.5, 0.5);
    await page.click('#pm-save');
    await page.waitForFunction((k) => document.querySelector('#pm-message').dataset.kind === 'success' && document.querySelector('#pm-message').textContent.includes(String(k)), n, { timeout: 10000 });
  }
  // Participant 2's route, avoided, drawn by clicking along it.
  await page.check('input[name="mark-kind"][value="route"]');
  await page.click('#pm-uses [data-code="avoided"]');
  await page.check('#pm-reasons input[value="being-followed"]');
  await page.selectOption('#pm-time_of_day', 'night');
  for (const [x, y] of [[0.3, 0.6], [0.45, 0.55], [0.7, 0.5]]) await tapMapAt(page, x, y);
  await page.click('#pm-save');
  await page.waitForSelector('#psv-marks li:nth-child(3)', { timeout: 10000 });
  assert((await page.textContent('#psv-summary')).startsWith('2 participants, 3 marks'), `counted: ${await page.textContent('#psv-summary')}`);
  const stored = await api(`/api/perception-sessions/${sessionId}`, ctx.tokens.parks);
  assert(stored.marks.length === 3 && stored.marks.filter((m) => m.kind === 'pin').every((m) => m.rating === 'red'), `stored: ${JSON.stringify(stored.marks)}`);
  assert(stored.session.age_band === '14-15', 'the age band is kept');
  await shot(page, 'safety-mapping');

  // The perception layer: the square with its counts, in words and on the map; the route dashed.
  await page.click('[data-nav="map"]');
  await page.check('#f-perceptions');
  await page.waitForSelector('#legend-perceptions:not([hidden]) #perceptions-list li', { timeout: 15000 });
  const listed = await page.textContent('#perceptions-list');
  assert(listed.includes('R2 A0 G0') && listed.includes('2 red, 0 amber, 0 green, from 2 young people'), `the square's counts: ${listed}`);
  const squares = await rendered(page, ['perc-squares-fill']);
  assert(squares.some((f) => f.red === 2 && f.participants === 2), `the square is drawn: ${JSON.stringify(squares)}`);
  const routes = await rendered(page, ['perc-routes-avoided']);
  assert(routes.length > 0, 'the avoided route is drawn (dashed)');
  assert((await page.textContent('#legend-perceptions')).includes('Route avoided (dashed line)'), 'the legend explains the lines');
  await shot(page, 'perception-layer');
  await page.uncheck('#f-perceptions');

  // The licensing consultation report, from a place, in a new tab.
  await page.click('[data-nav="places"]');
  await page.waitForSelector(`#places-list li[data-id="${place.id}"] button`);
  await page.click(`#places-list li[data-id="${place.id}"] button`);
  await page.waitForSelector('#place-view:not([hidden]) #pv-fields dd');
  const watch = (report) => {
    report.on('pageerror', (error) => pageErrors.push(`report page error: ${error.message}`));
    report.on('console', (message) => { if (message.text().startsWith('CSP violation')) pageErrors.push(message.text()); });
  };
  const [report] = await Promise.all([context.waitForEvent('page'), page.click('#pv-licensing-en')]);
  watch(report);
  await report.waitForLoadState('load');
  const text = await report.textContent('body');
  for (const words of ['Licensing consultation report', 'Within 250 m', 'Within 500 m', 'Made-up Station Taxi Rank']) assert(text.includes(words), `the report says "${words}": ${text.slice(0, 300)}`);
  // Its map: the site, both rings, and (with the basemap) named streets with their licence.
  const map = await report.$$eval('svg.map text', (texts) => texts.map((t) => t.textContent));
  assert(map.includes('Site') && map.includes('250 m') && map.includes('500 m'), `the site and its rings: ${map}`);
  if (existsSync(MBTILES)) {
    assert(map.filter((t) => /(Street|Road|Way|Place|Lane|Avenue)$/.test(t)).length >= 3, `named streets: ${map}`);
    assert(text.includes('Streets: © OpenStreetMap'), 'the streets\' licence');
  }
  assert(/Period\s*\d{1,2} \w+ \d{4} – \d{1,2} \w+ \d{4}/.test(text), `the period as people write dates: ${text.slice(0, 400)}`);
  // Its Print button prints (the page's own script: the CSP allows no inline one).
  await report.evaluate(() => { window.print = () => { window.printed = true; }; });
  await report.click('button[data-print]');
  assert(await report.evaluate(() => window.printed === true), 'the Print button prints');
  await report.setViewportSize({ width: 900, height: 1100 });
  await shot(report, 'licensing-report');
  await report.close();
  // And at a proposed site picked on the map, in Welsh.
  await page.click('#pv-back');
  await page.click('#p-licensing summary');
  await page.click('#p-licensing-pick');
  await tapMapAt(page, 0.4, 0.4);
  assert((await page.textContent('#p-licensing-point')).startsWith('Proposed site'), `picked: ${await page.textContent('#p-licensing-point')}`);
  const [welsh] = await Promise.all([context.waitForEvent('page'), page.click('#p-licensing-cy')]);
  watch(welsh);
  await welsh.waitForLoadState('load');
  const cy = await welsh.textContent('body');
  assert(cy.includes('O fewn 250 m') && cy.includes('O fewn 500 m'), `the Welsh report has both sections: ${cy.slice(0, 300)}`);
  assert(/Safle arfaethedig yn cyfeirnod grid S[OT] \d{3} \d{3}/.test(cy), `the proposed site by its grid reference: ${cy.slice(0, 300)}`);
  await welsh.close();
  await context.close();
});

// ------------------------------------------------------------------ run

scenario('a panel member follows a ward and is told of a new observation there in the app and by email, never of a restricted one, in English and Welsh, on a laptop and a phone', async (browser, ctx) => {
  const bearer = await coordinatorToken(ctx);
  const imported = await fetch(`${BASE}/api/areas/import?kind=ward`, {
    method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/geo+json' }, body: readFileSync(WARDS_FIXTURE),
  });
  assert(imported.ok, `wards imported: ${imported.status}`);
  const { context, page } = await newPage(browser, { axe: true });
  await signIn(page, 'health.panel');
  await page.click('[data-nav="alerts"]');
  await page.waitForSelector('#al-form:not([hidden])');
  await page.fill('#al-address', 'health.panel@health.example.test');
  await page.click('#al-address-save');
  await page.waitForSelector('#al-message[data-kind="success"]');
  await page.fill('#al-area-search', 'riverside');
  const options = await page.$$eval('#al-area option', (os) => os.map((o) => o.textContent));
  assert(options.length === 1 && options[0].startsWith('Made-up Riverside'), `the search narrows the list: ${options}`);
  await page.check('#al-email');
  await page.click('#al-follow');
  await page.waitForSelector('#al-subs li[data-id]');
  const following = await page.textContent('#al-subs');
  assert(following.includes('Made-up Riverside') && following.includes('every category') && following.includes('by email too'), `following: ${following}`);
  await axeCheck(page, 'alerts');

  // A restricted report first (the panel member may not know it exists),
  // then a standard one, both inside the ward.
  const observedAt = new Date(Date.now() - 3600e3).toISOString();
  const restricted = await apiSend('POST', '/api/observations', ctx.tokens.parks, {
    longitude: -3.0030, latitude: 51.5880, observed_at: observedAt, category: 'child-criminal-exploitation', setting: 'street', severity: 'high', sensitivity: 'restricted', description: 'Older men waiting by the underpass',
  });
  const standard = await apiSend('POST', '/api/observations', ctx.tokens.parks, {
    longitude: -3.0020, latitude: 51.5870, observed_at: observedAt, category: 'unsafe-environment', setting: 'park', severity: 'medium', description: 'Broken lights along the river path',
  });
  assert(restricted.status === 201 && standard.status === 201, `reports made: ${restricted.status} ${standard.status}`);
  // The screen asks again when it is opened (and every minute on its own).
  let items = [];
  for (let i = 0; i < 30 && !items.length; i++) {
    await page.click('[data-nav="map"]');
    await page.click('[data-nav="alerts"]');
    await page.waitForTimeout(500);
    items = await page.$$eval('#al-items li[data-kind="observation"]', (lis) => lis.map((li) => ({ id: li.dataset.observation, text: li.textContent })));
  }
  assert(items.length === 1 && items[0].id === String(standard.body.id), `told of the standard report only: ${JSON.stringify(items)} (restricted ${restricted.body.id})`);
  assert(items[0].text.includes('Unsafe') && items[0].text.includes('Made-up Riverside') && items[0].text.includes('grid reference'), items[0].text);
  const badge = await page.textContent('#alerts-badge');
  assert(badge.trim() === '(1)', `one unread: ${badge}`);
  await shot(page, 'alerts');

  // The email: how many, where, and where to sign in; nothing of either record.
  let mail = [];
  for (let i = 0; i < 40 && !mail.length; i++) {
    mail = ctx.sink.messages.filter((m) => m.includes('health.panel@health.example.test'));
    if (!mail.length) await page.waitForTimeout(250);
  }
  assert(mail.length === 1, `one email: ${mail.length}`);
  assert(mail[0].includes('There is a new observation in Made-up Riverside.') && mail[0].includes(`${BASE}/#alerts`), mail[0]);
  for (const secret of ['underpass', 'river path', 'Unsafe', 'unsafe-environment', '51.58', '-3.00']) assert(!mail[0].includes(secret), `the email carries ${secret}: ${mail[0]}`);

  // In Welsh, everything on the screen, the notification included.
  await page.click('#lang');
  const welsh = await page.textContent('#al-items li[data-kind="observation"]');
  assert(welsh.includes('Heb ei ddarllen') && welsh.includes(' yn Made-up Riverside') && welsh.includes('cyfeirnod grid'), welsh);
  const left = await englishLeft(page);
  assert(left.length === 0, `English left on the alerts screen: ${JSON.stringify(left)}`);
  await page.click('#lang');

  // Shown on the map, the notification is read.
  await page.click('#al-items li[data-kind="observation"] button');
  await page.waitForSelector('.maplibregl-popup');
  assert((await page.textContent('.maplibregl-popup')).includes('Unsafe'), 'the pop-up names it');
  assert((await page.textContent('#alerts-badge')).trim() === '', 'nothing unread');

  // On a phone the screen fits and its controls are finger-sized.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('[data-nav="alerts"]');
  const panel = await page.locator('section[data-view="alerts"]').boundingBox();
  assert(panel.width <= 390, `fits the phone: ${panel.width}`);
  const phoneMap = await page.locator('#map').boundingBox();
  assert(phoneMap && phoneMap.height >= 250, `the map stays in view above the alerts (to draw an area on): ${JSON.stringify(phoneMap)}`);
  const small = await page.$$eval('section[data-view="alerts"] button:not([hidden]), section[data-view="alerts"] select', (els) => els.filter((e) => e.getClientRects().length && e.getBoundingClientRect().height < 40).map((e) => e.textContent || e.id));
  assert(small.length === 0, `finger-sized controls: ${small}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(wide <= 390, `no sideways scrolling: ${wide}`);
  // A shape of their own, drawn by tapping the map above the form.
  await page.check('#al-kind-drawn');
  for (const [x, y] of [[0.3, 0.3], [0.7, 0.3], [0.5, 0.7]]) await page.mouse.click(phoneMap.x + phoneMap.width * x, phoneMap.y + phoneMap.height * y);
  assert((await page.textContent('#al-corners')).includes('3'), await page.textContent('#al-corners'));
  await page.fill('#al-name', 'Around the footbridge');
  await page.click('#al-follow');
  await page.waitForSelector('#al-message[data-kind="success"]');
  const drawnFollow = await page.textContent('#al-subs');
  assert(drawnFollow.includes('Around the footbridge') && drawnFollow.includes('a shape you drew'), drawnFollow);
  await shot(page, 'alerts-phone');
  await context.close();
});

async function main() {
  const filter = process.argv[2];
  const chosen = scenarios.filter((s) => !filter || s.name.includes(filter));
  // Alert emails go to a sink of the test's own.
  const sink = await startSink();
  env.SAFETYMAP_SMTP_URL = `smtp://127.0.0.1:${sink.port}`;
  env.SAFETYMAP_MAIL_FROM = 'safetymap <alerts@example.test>';
  env.SAFETYMAP_PUBLIC_URL = BASE;
  await startServer();
  const ctx = { tokens: { parks: token('parks.officer'), police: token('police.officer') }, sink };
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  try {
    for (const s of chosen) {
      const started = Date.now();
      try {
        pageErrors = [];
        const outcome = await s.run(browser, ctx);
        assert(pageErrors.length === 0, `errors in the page: ${JSON.stringify(pageErrors)}`);
        if (typeof outcome === 'string' && outcome.startsWith('skipped')) {
          skipped++;
          console.log(`test browser::${s.name} ... ${outcome}`);
        } else {
          passed++;
          console.log(`test browser::${s.name} ... ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        }
      } catch (error) {
        failed++;
        console.log(`test browser::${s.name} ... FAILED\n  ${error.stack || error}`);
      }
    }
  } finally {
    await browser.close();
    serverProcess.kill();
    sink.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`test result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failed} failed; ${skipped} ignored; 0 measured; 0 filtered out`);
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
