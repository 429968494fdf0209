// The map's search box: places from the register (as this viewer has them)
// and streets from the basemap (/basemap/streets.json, open map data the
// service worker keeps), matched in the browser, so it works offline.
// Choosing a result moves the map there; nothing is sent as it is typed.

import { t, say, lang, folded } from './i18n.js';
import * as mapView from './map.js';
import * as places from './places.js';
import { el } from './dom.js';
import { gridReference } from './grid.js';

const $ = (selector) => document.querySelector(selector);

/** Results shown at most. */
const SHOWN = 8;

let streets = null;
let results = [];

async function loadStreets() {
  if (streets) return streets;
  try {
    const response = await fetch('/basemap/streets.json', { credentials: 'same-origin' });
    // No basemap file served: the search finds places only.
    streets = response.ok ? (await response.json()).streets ?? [] : [];
  } catch {
    return [];
  }
  return streets;
}

/** A name matches when every word typed starts one of its words, in order of how well. */
function score(name, words) {
  const parts = folded(name).split(/[\s\-’']+/);
  let total = 0;
  for (const w of words) {
    const i = parts.findIndex((p) => p.startsWith(w));
    if (i < 0) return -1;
    total += i === 0 ? 2 : 1;
  }
  return total;
}

async function search(text) {
  const words = folded(text.trim()).split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const found = [];
  for (const place of places.all()) {
    if (!place.location) continue;
    const s = Math.max(score(place.name_en ?? '', words), score(place.name_cy ?? '', words));
    if (s >= 0) found.push({ kind: 'place', name: places.placeName(place), s: s + 1, at: place.location, place });
  }
  for (const street of await loadStreets()) {
    const s = score(street.name, words);
    if (s >= 0) found.push({ kind: 'street', name: street.name, s, bbox: street.bbox });
  }
  found.sort((a, b) => b.s - a.s || a.name.localeCompare(b.name, lang()));
  return found.slice(0, SHOWN);
}

function go(result) {
  const map = mapView.instance();
  if (result.bbox) mapView.fitBounds(result.bbox);
  else map.jumpTo({ center: [result.at.lon, result.at.lat], zoom: Math.max(map.getZoom(), 17) });
  $('#ms-results').hidden = true;
  $('#ms-q').value = result.name;
  say('#ms-status', 'searchMoved', 'info', { name: result.name });
}

function where(result) {
  if (result.kind === 'place') return t('searchPlace');
  // Namesakes in different parts of the area are told apart by their grid reference.
  const [w, s, e, n] = result.bbox;
  return t('searchStreet', { ref: t('whereRef', { ref: gridReference((w + e) / 2, (s + n) / 2) }) });
}

/** Draws the results in the current language. */
export function render() {
  const list = $('#ms-results');
  if (!$('#ms-q').value.trim()) {
    list.hidden = true;
    return;
  }
  list.replaceChildren(...results.map((r) => el('li', {},
    el('button', { type: 'button', class: 'link', onclick: () => go(r) }, r.name, ' ', el('span', { class: 'hint', text: where(r) })))));
  list.hidden = results.length === 0;
  say('#ms-status', results.length ? 'searchFound' : 'searchNone', 'info', { count: results.length });
}

/** Wires the search box up. */
export function init() {
  // Asked for at the start, so the list is at hand (and kept by the service worker) when the signal goes.
  loadStreets();
  let asked = 0;
  $('#ms-q').addEventListener('input', async () => {
    const mine = ++asked;
    const found = await search($('#ms-q').value);
    if (mine !== asked) return; // a later keystroke has its own answer
    results = found;
    render();
  });
  $('#map-search').addEventListener('submit', (event) => {
    event.preventDefault();
    if (results.length) go(results[0]);
  });
  $('#ms-q').addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' && !$('#ms-results').hidden) {
      event.preventDefault();
      $('#ms-results button')?.focus();
    } else if (event.key === 'Escape') {
      $('#ms-results').hidden = true;
    }
  });
  $('#ms-results').addEventListener('keydown', (event) => {
    const buttons = [...document.querySelectorAll('#ms-results button')];
    const i = buttons.indexOf(document.activeElement);
    if (event.key === 'ArrowDown' && i < buttons.length - 1) { event.preventDefault(); buttons[i + 1].focus(); }
    if (event.key === 'ArrowUp') { event.preventDefault(); (i > 0 ? buttons[i - 1] : $('#ms-q')).focus(); }
    if (event.key === 'Escape') { $('#ms-results').hidden = true; $('#ms-q').focus(); }
  });
}
