// What the aggregate layers say in words: the time-profile table, the
// legends of the grid and hot-spot modes, and the popups of a grid cell, a
// hot-spot cell and a police.uk crime. Counts below the server's threshold
// arrive withheld (null, or no `count`), and read "fewer than N" here.

import { t, lang } from './i18n.js';
import { el } from './dom.js';

const $ = (selector) => document.querySelector(selector);
const HOURS = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));
// The server's rows run Monday to Sunday; the day names are kept by
// JavaScript's numbering (Sunday is 0).
const ROW_DAYS = [1, 2, 3, 4, 5, 6, 0];
const LEVELS = 5;

/** The threshold below which counts are withheld, as the server last said (5 until it says). */
let threshold = 5;

export function smallCountThreshold() {
  return threshold;
}

/** A count as shown: the number, or "fewer than N" when withheld. */
function countText(count) {
  return count == null ? t('fewerThan', { threshold }) : String(count);
}

// ---------------------------------------------------------------- the time profile

/** How dark a cell is: 0 for none, then 1–5 by its share of the busiest hour. */
function level(count, max) {
  if (!count || !max) return 0;
  return Math.min(LEVELS, Math.max(1, Math.ceil((count / max) * LEVELS)));
}

function headerRow() {
  return el('tr', {},
    el('th', { scope: 'col' }, el('span', { class: 'visually-hidden', text: t('profileDay') })),
    ...HOURS.map((hour) => el('th', { scope: 'col', text: hour })));
}

function dataCell(count, max) {
  if (count == null) {
    // "<5" is short enough for the grid; a screen reader hears the words.
    return el('td', { class: 'heat-suppressed', title: t('fewerThan', { threshold }) },
      el('span', { 'aria-hidden': 'true', text: `<${threshold}` }),
      el('span', { class: 'visually-hidden', text: t('fewerThan', { threshold }) }));
  }
  return el('td', { class: `heat-${level(count, max)}`, text: String(count) });
}

function dayRow(counts, day, max) {
  return el('tr', {},
    el('th', { scope: 'row' },
      el('span', { 'aria-hidden': 'true', text: t(`dayShort${day}`) }),
      el('span', { class: 'visually-hidden', text: t(`day${day}`) })),
    ...counts.map((count) => dataCell(count, max)));
}

/** Fills the time-profile panel from a `/api/time-profile` answer. */
export function renderProfile(profile) {
  threshold = profile.threshold ?? threshold;
  const table = $('#profile-table');
  table.dataset.within = profile.within;
  const hot = profile.within === 'hot';
  const area = profile.area ? { name: lang() === 'cy' ? profile.area.name_cy || profile.area.name_en : profile.area.name_en || profile.area.name_cy } : null;
  const caption = area ? (hot ? 'profileCaptionAreaHot' : 'profileCaptionArea') : (hot ? 'profileCaptionHot' : 'profileCaptionFilter');
  $('#profile-caption').textContent = t(caption, area ?? {});
  table.tHead.replaceChildren(headerRow());
  const max = Math.max(0, ...profile.counts.flat().filter((c) => c != null));
  table.tBodies[0].replaceChildren(...profile.counts.map((row, i) => dayRow(row, ROW_DAYS[i], max)));
  $('#profile-total').textContent = t('profileTotal', { total: countText(profile.total) });
  $('#profile-hint').textContent = t('profileHint', { threshold });
}

// ---------------------------------------------------------------- legends

/** Shows the legend of the mode in use, with the threshold and cell size in its words. */
// The months the police.uk layer holds, from its collection's description
// (asked once, when the layer is first shown).
let policeMonths = null;
let askedPoliceMonths = false;

async function loadPoliceMonths(then) {
  askedPoliceMonths = true;
  try {
    const response = await fetch('/ogc/collections/police-crimes', { credentials: 'same-origin' });
    policeMonths = response.ok ? (await response.json()).months ?? null : null;
  } catch {
    askedPoliceMonths = false;
  }
  then();
}

export function renderLegends({ mode, cell, context }) {
  $('#legend-observations').hidden = mode === 'grid' || mode === 'hotspots';
  $('#legend-grid').hidden = mode !== 'grid';
  $('#legend-hotspots').hidden = mode !== 'hotspots';
  $('#legend-police').hidden = !context;
  if (context && !askedPoliceMonths) loadPoliceMonths(() => renderLegends({ mode, cell, context }));
  // Crime from other years sits under this year's observations: say which months it is.
  $('#legend-police-months').textContent = policeMonths
    ? t('legendPoliceMonths', { first: monthName(policeMonths.first), last: monthName(policeMonths.last) })
    : '';
  $('#legend-grid .legend-suppressed').textContent = t('legendSuppressed', { threshold });
  $('#legend-hotspots .legend-suppressed').textContent = t('legendHotspotsSuppressed', { threshold });
  $('#legend-hotspots-method').textContent = t('legendHotspotsMethod', { size: cell });
}

// ---------------------------------------------------------------- popups

function cellName(cell, shape) {
  return t(shape === 'hexagon' ? 'cellHexagon' : 'cellSquare', { size: cell });
}

function withheld(props) {
  return props.suppressed === true || props.count == null;
}

/** A grid cell: its size and its count. */
export function gridSummary(props, { cell, shape }) {
  return el('div', { class: 'popup' },
    el('h2', { text: cellName(cell, shape) }),
    el('dl', {},
      el('dt', { text: t('popupObservations') }), el('dd', { text: countText(withheld(props) ? null : props.count) })));
}

function formatP(p) {
  if (p == null) return '—';
  return p < 0.0001 ? '< 0.0001' : String(Number(p.toPrecision(2)));
}

/** A hot-spot cell: its class, z, p and count. */
export function hotspotSummary(props, { cell, shape }) {
  const z = typeof props.z === 'number' ? props.z.toFixed(2) : '—';
  return el('div', { class: 'popup' },
    el('h2', { text: t(`hotspotClass${props.class ?? 0}`) }),
    el('dl', {},
      el('dt', { text: t('popupObservations') }), el('dd', { text: countText(withheld(props) ? null : props.count) }),
      el('dt', { text: t('popupZ') }), el('dd', { text: z }),
      el('dt', { text: t('popupP') }), el('dd', { text: formatP(props.p) })),
    // Gi* scores a cell with its neighbours, so a cell of its own with no
    // observations can still be part of a hot spot: said, not left to puzzle.
    !withheld(props) && props.count === 0 ? el('p', { class: 'hint', text: t(props.class ? 'hotspotEmptyCellInSpot' : 'hotspotEmptyCell') }) : null,
    el('p', { class: 'hint', text: cellName(cell, shape) }));
}

/** "2026-01" as "January 2026". */
function monthName(month) {
  const [year, number] = String(month || '').split('-').map(Number);
  return year && number ? `${t(`month${number - 1}`)} ${year}` : String(month || '');
}

/** A police.uk crime: its type (in Welsh too, for the standard types), month and source. */
export function crimeSummary(props) {
  const key = `crime-${props.crime_type}`;
  const name = t(key);
  return el('div', { class: 'popup' },
    el('h2', { text: name === key ? props.crime_type_name : name }),
    el('dl', {},
      el('dt', { text: t('popupMonth') }), el('dd', { text: monthName(props.month) }),
      el('dt', { text: t('popupSource') }), el('dd', { text: t('crimeSource') })));
}
