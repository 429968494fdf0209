// Printing: a print shows one thing on its own (see the print rules in
// app.css), and the map prints as a sheet — the map as drawn, its legend,
// the filters behind it, a scale bar, north, and when and by whom it was
// printed — so a panel's paper copy says what it shows.

import { t, formatDateTime } from './i18n.js';
import * as mapView from './map.js';
import { el } from './dom.js';

const $ = (selector) => document.querySelector(selector);

/** Prints with `className` on the body, which the print rules use to show one thing only. */
export function printOnly(className) {
  document.body.classList.add(className);
  window.print();
  document.body.classList.remove(className);
}

/** The map's canvas as an image, taken in a frame the map has just drawn. */
function snapshot(map) {
  return new Promise((resolve) => {
    map.once('render', () => resolve(map.getCanvas().toDataURL('image/png')));
    map.triggerRepaint();
  });
}

/** The filters the map is drawn with, in words ("Category: Exploitation concern"). */
function filterWords() {
  const form = $('#filters');
  const words = [];
  for (const field of form.querySelectorAll('select[id^="f-"], input[type="date"][id^="f-"]')) {
    if (!field.value || field.closest('[hidden]')) continue;
    const label = form.querySelector(`label[for="${field.id}"]`)?.textContent.trim() ?? field.id;
    const value = field.tagName === 'SELECT' ? field.selectedOptions[0]?.textContent.trim() : field.value;
    words.push(`${label}: ${value}`);
  }
  return words;
}

/** What the map shows: the way observations are drawn and the layers switched on. */
function layerWords() {
  const mode = document.querySelector('input[name="mode"]:checked')?.closest('label')?.textContent.trim();
  const layers = [...$('#filters').querySelectorAll('label.check input[type="checkbox"][id^="f-"]:checked')]
    .map((box) => box.closest('label').textContent.trim());
  return [mode, ...layers].filter(Boolean);
}

/** A scale bar: a round number of metres, as a share of the map's width. */
function scaleBar(map) {
  const lat = map.getCenter().lat;
  const metresPerPixel = (40075016.686 * Math.cos((lat * Math.PI) / 180)) / (512 * 2 ** map.getZoom());
  const width = map.getCanvas().clientWidth || 1;
  const target = metresPerPixel * width * 0.25;
  const steps = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000].map((p) => m * p)).sort((a, b) => a - b);
  const step = steps.filter((v) => v <= target).pop() ?? 1;
  return { metres: step, share: (step / (metresPerPixel * width)) * 100 };
}

/** Fills the print sheet from the map as it is now and prints it. */
export async function printMap(who) {
  const map = mapView.instance();
  if (!map) return;
  const image = await snapshot(map);
  const filters = filterWords();
  const bar = scaleBar(map);
  // Sized through the CSSOM: the CSP refuses style attributes.
  const barLine = el('span', { class: 'print-scale-bar' });
  barLine.style.width = `${bar.share.toFixed(2)}%`;
  const legend = [...document.querySelectorAll('#filters .legend, #filters [id^="legend-"]')]
    .filter((node) => !node.closest('[hidden]') && node.parentElement.closest('[id^="legend-"]') === null)
    .map((node) => node.cloneNode(true));
  for (const copy of legend) for (const withId of [copy, ...copy.querySelectorAll('[id]')]) withId.removeAttribute('id');
  $('#print-sheet').replaceChildren(
    el('h1', { text: t('printMapTitle') }),
    el('p', { text: t('printMapWhen', { when: formatDateTime(new Date()), who }) }),
    el('div', { class: 'print-map' },
      el('img', { id: 'print-map-image', src: image, alt: t('printMapAlt') }),
      el('span', { class: 'print-north', 'aria-label': t('printNorth'), text: '↑ N' })),
    el('div', { class: 'print-scale' },
      barLine,
      el('span', { text: bar.metres >= 1000 ? `${bar.metres / 1000} km` : `${bar.metres} m` })),
    el('p', { text: `${t('printMapShows')} ${layerWords().join(', ')}` }),
    el('p', { text: filters.length ? `${t('printMapFilters')} ${filters.join('; ')}` : t('printMapNoFilters') }),
    el('p', { text: $('#counts').textContent }),
    el('h2', { text: t('legendTitle') }),
    ...legend,
    el('p', { class: 'hint', text: t('printMapPrivacy') }));
  printOnly('printing-map');
}
