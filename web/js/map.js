// The map: the server's basemap style, observations as clustered points or
// a heatmap, and generalised positions drawn as the 100 m squares they are;
// or, instead of the observations, grid counts or Gi* hot spots as vector
// tiles the server cuts per viewer; and police.uk recorded crime beneath, as
// context.

import { t } from './i18n.js';
import { kind } from './vocab.js';
import { gridReference } from './grid.js';

const COLOURS = { risk: '#b3261e', safe: '#1b6e3a', neutral: '#2f5d8c' };
const colourByKind = [
  'match', ['get', 'kind'],
  'safe', COLOURS.safe,
  'neutral', COLOURS.neutral,
  COLOURS.risk,
];

// Hot-spot classes, -3 (cold, 99%) to 3 (hot, 99%): a red–blue diverging
// palette; "not significant" is a pale wash so the basemap shows through.
export const HOTSPOT_COLOURS = {
  3: '#d62f27', 2: '#ed7551', 1: '#fab984', 0: '#f7f7f7', '-1': '#c0ccbe', '-2': '#849eba', '-3': '#4575b5',
};
// Grid counts, graduated (the legend in index.html names the same breaks).
const GRID_STEPS = ['step', ['get', 'count'], '#fdd49e', 10, '#fc8d59', 20, '#d7301f', 50, '#7f0000'];
// Cells and crimes are only asked for from the neighbourhood scale down:
// a whole county's cells in one screen would be unreadable anyway.
const ANALYSIS_MIN_ZOOM = 10;
const ANALYSIS_MAX_ZOOM = 16;
const OBSERVATION_LAYERS = ['clusters', 'cluster-count', 'points', 'squares-fill', 'squares-outline'];
const GRID_LAYERS = ['grid-fill', 'grid-suppressed', 'grid-outline'];
const HOTSPOT_LAYERS = ['hotspots-fill', 'hotspots-outline'];
const POLICE_LAYERS = ['police-crimes'];
const PLACE_LAYERS = ['places'];
const AREA_LAYERS = ['areas-fill', 'areas-suppressed', 'areas-outline', 'areas-label'];
const EXERCISE_LAYERS = ['exercise-area', 'exercise-squares-fill', 'exercise-squares-outline', 'exercise-points',
  'exercise-annotation-fill', 'exercise-annotation-line', 'exercise-annotation-points', 'exercise-annotation-label'];
const EXERCISE_COLOUR = '#6a3d9a';
const PERCEPTION_LAYERS = ['perc-areas-fill', 'perc-areas-outline', 'perc-squares-fill', 'perc-squares-outline', 'perc-routes-used', 'perc-routes-avoided', 'perc-labels'];
export const RATING_COLOURS = { red: '#b3261e', amber: '#e6a100', green: '#1b6e3a' };
// Areas are shaded by their count, in the grid's colours; a count withheld
// ("fewer than 5") is hatched instead, never guessed at.
const AREA_STEPS = ['step', ['coalesce', ['get', 'count'], 0], '#ffffff', 1, '#fdd49e', 10, '#fc8d59', 20, '#d7301f', 50, '#7f0000'];

let map = null;
let mode = 'points';
let pin = null;
let hasGlyphs = false;
let attribution = null;
let context = false;
// While an exercise is open its own observations replace the map's.
let focused = false;
// The query each tile source was last given, so a pan (same query) does
// not make every tile load again.
const tileQueries = {};

const empty = () => ({ type: 'FeatureCollection', features: [] });

/** Splits a layer page into exact points and generalised squares. */
function split(collection) {
  const points = [];
  const squares = [];
  const all = [];
  for (const f of collection.features) {
    const props = { ...f.properties, id: f.id, kind: kind(f.properties.category) };
    all.push({ type: 'Feature', id: f.id, geometry: f.geometry, properties: props });
    if (f.properties.precision === 'exact' || !f.properties.cell) {
      points.push({ type: 'Feature', id: f.id, geometry: f.geometry, properties: props });
    } else {
      squares.push({ type: 'Feature', id: f.id, geometry: { type: 'Polygon', coordinates: [f.properties.cell] }, properties: props });
    }
  }
  return {
    points: { type: 'FeatureCollection', features: points },
    squares: { type: 'FeatureCollection', features: squares },
    all: { type: 'FeatureCollection', features: all },
  };
}

/** Tiles of one server layer for a query (the session cookie goes with them: same origin). */
function tileUrl(layer, query) {
  return `${location.origin}/tiles/${layer}/{z}/{x}/{y}${query ? `?${query}` : ''}`;
}

/**
 * A small diagonal hatch, for cells whose count is withheld: drawn here as
 * pixels because the Content-Security-Policy keeps images to this origin
 * and a data: pattern would be one more thing to keep in step with it.
 */
function hatch() {
  const size = 8;
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const line = (x + y) % size < 2;
      data.set(line ? [110, 110, 120, 230] : [235, 235, 238, 150], i);
    }
  }
  return { width: size, height: size, data };
}

/**
 * A map symbol drawn on a canvas (images must come from this origin, and
 * pixels made here need no URL at all): `draw(context, size)`.
 */
function icon(draw, size = 22) {
  const ratio = 2;
  const canvas = document.createElement('canvas');
  canvas.width = size * ratio;
  canvas.height = size * ratio;
  const context = canvas.getContext('2d');
  context.scale(ratio, ratio);
  draw(context, size);
  return context.getImageData(0, 0, size * ratio, size * ratio);
}

/**
 * Places: a navy diamond; safe-place scheme members a green disc with a
 * white tick — a different shape and mark, not only a different colour.
 */
function addPlaceIcons() {
  map.addImage('place', icon((c, s) => {
    c.beginPath();
    c.moveTo(s / 2, 2);
    c.lineTo(s - 2, s / 2);
    c.lineTo(s / 2, s - 2);
    c.lineTo(2, s / 2);
    c.closePath();
    c.fillStyle = '#1d3557';
    c.fill();
    c.lineWidth = 2;
    c.strokeStyle = '#ffffff';
    c.stroke();
  }), { pixelRatio: 2 });
  map.addImage('place-safe', icon((c, s) => {
    c.beginPath();
    c.arc(s / 2, s / 2, s / 2 - 1.5, 0, Math.PI * 2);
    c.fillStyle = '#1b6e3a';
    c.fill();
    c.lineWidth = 2;
    c.strokeStyle = '#ffffff';
    c.stroke();
    c.beginPath();
    c.moveTo(s * 0.27, s * 0.52);
    c.lineTo(s * 0.44, s * 0.68);
    c.lineTo(s * 0.74, s * 0.34);
    c.lineWidth = 2.6;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.stroke();
  }, 26), { pixelRatio: 2 });
}

/** Areas with their counts (beneath the observations), and the shape being drawn. */
function addAreaLayers() {
  map.addSource('areas', { type: 'geojson', data: empty() });
  const hidden = { visibility: 'none' };
  const suppressed = ['==', ['get', 'suppressed'], true];
  map.addLayer({
    id: 'areas-fill', type: 'fill', source: 'areas', layout: hidden,
    filter: ['!', suppressed],
    paint: { 'fill-color': AREA_STEPS, 'fill-opacity': ['case', ['>', ['coalesce', ['get', 'count'], 0], 0], 0.45, 0.1] },
  });
  map.addLayer({
    id: 'areas-suppressed', type: 'fill', source: 'areas', layout: hidden,
    filter: suppressed,
    paint: { 'fill-pattern': 'suppressed-hatch', 'fill-opacity': 0.7 },
  });
  map.addLayer({
    id: 'areas-outline', type: 'line', source: 'areas', layout: hidden,
    paint: { 'line-color': '#1d3557', 'line-width': 2 },
  });
}

function addAreaLabels() {
  if (!hasGlyphs) return;
  map.addLayer({
    id: 'areas-label', type: 'symbol', source: 'areas',
    layout: {
      visibility: 'none',
      'text-field': ['get', 'label'],
      'text-font': ['safetymap-sans'],
      'text-size': 13,
      'text-max-width': 12,
      'symbol-placement': 'point',
    },
    paint: { 'text-color': '#1b1b1f', 'text-halo-color': '#ffffff', 'text-halo-width': 2 },
  });
}

function addPlaceAndDrawingLayers() {
  addPlaceIcons();
  map.addSource('places', { type: 'geojson', data: empty() });
  map.addLayer({
    id: 'places', type: 'symbol', source: 'places',
    layout: {
      visibility: 'none',
      'icon-image': ['case', ['==', ['get', 'safe_place'], true], 'place-safe', 'place'],
      'icon-allow-overlap': true,
      'icon-ignore-placement': true,
    },
  });
  map.addSource('drawing', { type: 'geojson', data: empty() });
  map.addLayer({
    id: 'drawing-fill', type: 'fill', source: 'drawing', filter: ['==', ['geometry-type'], 'Polygon'],
    paint: { 'fill-color': '#0b5cad', 'fill-opacity': 0.15 },
  });
  map.addLayer({
    id: 'drawing-line', type: 'line', source: 'drawing', filter: ['!=', ['geometry-type'], 'Point'],
    paint: { 'line-color': '#0b5cad', 'line-width': 3, 'line-dasharray': [2, 1] },
  });
  map.addLayer({
    id: 'drawing-points', type: 'circle', source: 'drawing', filter: ['==', ['geometry-type'], 'Point'],
    paint: { 'circle-radius': 5, 'circle-color': '#ffffff', 'circle-stroke-color': '#0b5cad', 'circle-stroke-width': 3 },
  });
}

/** Grid counts, hot spots and police.uk crime: vector tiles, hidden until chosen. */
function addAnalysisLayers() {
  map.addImage('suppressed-hatch', hatch());
  const vector = (layer) => ({ type: 'vector', tiles: [tileUrl(layer, '')], minzoom: ANALYSIS_MIN_ZOOM, maxzoom: ANALYSIS_MAX_ZOOM });
  map.addSource('grid', vector('grid'));
  map.addSource('hotspots', vector('hotspots'));
  map.addSource('police-crimes', vector('police-crimes'));
  const hidden = { visibility: 'none' };
  const suppressed = ['==', ['get', 'suppressed'], true];
  map.addLayer({
    id: 'grid-fill', type: 'fill', source: 'grid', 'source-layer': 'grid', layout: hidden,
    filter: ['!', suppressed],
    paint: { 'fill-color': GRID_STEPS, 'fill-opacity': 0.7 },
  });
  map.addLayer({
    id: 'grid-suppressed', type: 'fill', source: 'grid', 'source-layer': 'grid', layout: hidden,
    filter: suppressed,
    paint: { 'fill-pattern': 'suppressed-hatch' },
  });
  map.addLayer({
    id: 'grid-outline', type: 'line', source: 'grid', 'source-layer': 'grid', layout: hidden,
    paint: { 'line-color': '#5c4330', 'line-width': 1, 'line-opacity': 0.8 },
  });
  const classColour = ['match', ['to-string', ['get', 'class']], ...Object.entries(HOTSPOT_COLOURS).flat(), HOTSPOT_COLOURS[0]];
  map.addLayer({
    id: 'hotspots-fill', type: 'fill', source: 'hotspots', 'source-layer': 'hotspots', layout: hidden,
    paint: { 'fill-color': classColour, 'fill-opacity': ['case', ['==', ['get', 'class'], 0], 0.35, 0.75] },
  });
  map.addLayer({
    id: 'hotspots-outline', type: 'line', source: 'hotspots', 'source-layer': 'hotspots', layout: hidden,
    paint: { 'line-color': ['case', ['==', ['get', 'class'], 0], '#9a9aa3', '#3d3d47'], 'line-width': ['case', ['==', ['get', 'class'], 0], 0.5, 1] },
  });
  // Rings rather than dots, in purple, and smaller than any observation:
  // context, not something a partner reported.
  map.addLayer({
    id: 'police-crimes', type: 'circle', source: 'police-crimes', 'source-layer': 'police-crimes', layout: hidden,
    paint: {
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 3, 16, 5],
      'circle-color': '#ece6f5',
      'circle-stroke-color': '#5b3f8c',
      'circle-stroke-width': 2,
    },
  });
}

/**
 * An exercise: its area's outline, the observations in scope (exact ones as
 * filled circles, generalised ones as the dashed 100 m squares they are: a
 * different shape, not only a colour), and the panel's annotations as
 * yellow shapes with black edges, labelled A1, A2, ….
 */
function addExerciseLayers() {
  map.addSource('exercise', { type: 'geojson', data: empty() });
  const hidden = { visibility: 'none' };
  const role = (name) => ['==', ['get', 'role'], name];
  map.addLayer({
    id: 'exercise-area', type: 'line', source: 'exercise', layout: hidden, filter: role('area'),
    paint: { 'line-color': EXERCISE_COLOUR, 'line-width': 3 },
  });
  map.addLayer({
    id: 'exercise-squares-fill', type: 'fill', source: 'exercise', layout: hidden, filter: role('square'),
    paint: { 'fill-color': colourByKind, 'fill-opacity': 0.2 },
  });
  map.addLayer({
    id: 'exercise-squares-outline', type: 'line', source: 'exercise', layout: hidden, filter: role('square'),
    paint: { 'line-color': colourByKind, 'line-width': 2, 'line-dasharray': [2, 1] },
  });
  map.addLayer({
    id: 'exercise-points', type: 'circle', source: 'exercise', layout: hidden, filter: role('point'),
    paint: { 'circle-color': colourByKind, 'circle-radius': 7, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 },
  });
  const annotation = (type) => ['all', role('annotation'), ['==', ['geometry-type'], type]];
  map.addLayer({
    id: 'exercise-annotation-fill', type: 'fill', source: 'exercise', layout: hidden, filter: annotation('Polygon'),
    paint: { 'fill-color': '#ffd400', 'fill-opacity': 0.3 },
  });
  map.addLayer({
    id: 'exercise-annotation-line', type: 'line', source: 'exercise', layout: hidden,
    filter: ['all', role('annotation'), ['!=', ['geometry-type'], 'Point']],
    paint: { 'line-color': '#1b1b1f', 'line-width': 3 },
  });
  map.addLayer({
    id: 'exercise-annotation-points', type: 'circle', source: 'exercise', layout: hidden, filter: annotation('Point'),
    paint: { 'circle-color': '#ffd400', 'circle-radius': 8, 'circle-stroke-color': '#1b1b1f', 'circle-stroke-width': 3 },
  });
  if (hasGlyphs) {
    map.addLayer({
      id: 'exercise-annotation-label', type: 'symbol', source: 'exercise', layout: {
        visibility: 'none',
        'text-field': ['get', 'label'], 'text-font': ['safetymap-sans'], 'text-size': 13,
        'text-offset': [0, -1.4], 'text-allow-overlap': true,
      },
      filter: role('annotation'),
      paint: { 'text-color': '#1b1b1f', 'text-halo-color': '#ffd400', 'text-halo-width': 2 },
    });
  }
}

/**
 * Young people's safety mapping: pins counted per 100 m square (filled by
 * the commonest rating, labelled "R2 A0 G1"), areas in their rating's
 * colour and labelled with its letter, routes used as solid lines and
 * routes avoided as dashed ones.
 */
function addPerceptionLayers() {
  map.addSource('perceptions', { type: 'geojson', data: empty() });
  const hidden = { visibility: 'none' };
  const kindIs = (k) => ['==', ['get', 'kind'], k];
  const rating = ['match', ['get', 'rating'], 'red', RATING_COLOURS.red, 'amber', RATING_COLOURS.amber, RATING_COLOURS.green];
  const majority = ['case',
    ['all', ['>=', ['get', 'red'], ['get', 'amber']], ['>=', ['get', 'red'], ['get', 'green']]], RATING_COLOURS.red,
    ['>=', ['get', 'amber'], ['get', 'green']], RATING_COLOURS.amber,
    RATING_COLOURS.green];
  map.addLayer({ id: 'perc-areas-fill', type: 'fill', source: 'perceptions', layout: hidden, filter: kindIs('area'), paint: { 'fill-color': rating, 'fill-opacity': 0.2 } });
  map.addLayer({ id: 'perc-areas-outline', type: 'line', source: 'perceptions', layout: hidden, filter: kindIs('area'), paint: { 'line-color': rating, 'line-width': 2 } });
  map.addLayer({ id: 'perc-squares-fill', type: 'fill', source: 'perceptions', layout: hidden, filter: kindIs('pin-square'), paint: { 'fill-color': majority, 'fill-opacity': 0.45 } });
  map.addLayer({ id: 'perc-squares-outline', type: 'line', source: 'perceptions', layout: hidden, filter: kindIs('pin-square'), paint: { 'line-color': '#1b1b1f', 'line-width': 1.5 } });
  map.addLayer({ id: 'perc-routes-used', type: 'line', source: 'perceptions', layout: { ...hidden, 'line-cap': 'round' }, filter: ['all', kindIs('route'), ['==', ['get', 'route_use'], 'used']], paint: { 'line-color': '#1d3557', 'line-width': 4 } });
  map.addLayer({ id: 'perc-routes-avoided', type: 'line', source: 'perceptions', layout: hidden, filter: ['all', kindIs('route'), ['==', ['get', 'route_use'], 'avoided']], paint: { 'line-color': '#b3261e', 'line-width': 4, 'line-dasharray': [2, 1.5] } });
  if (hasGlyphs) {
    map.addLayer({
      id: 'perc-labels', type: 'symbol', source: 'perceptions', filter: ['has', 'label'],
      layout: { visibility: 'none', 'text-field': ['get', 'label'], 'text-font': ['safetymap-sans'], 'text-size': 12, 'text-allow-overlap': true },
      paint: { 'text-color': '#1b1b1f', 'text-halo-color': '#ffffff', 'text-halo-width': 2 },
    });
  }
}

function addLayers() {
  addAnalysisLayers();
  addAreaLayers();
  map.addSource('observations', { type: 'geojson', data: empty(), cluster: true, clusterRadius: 40, clusterMaxZoom: 16 });
  map.addSource('squares', { type: 'geojson', data: empty() });
  map.addSource('heat', { type: 'geojson', data: empty() });
  map.addLayer({
    id: 'heatmap', type: 'heatmap', source: 'heat',
    layout: { visibility: 'none' },
    paint: {
      'heatmap-radius': ['interpolate', ['linear'], ['zoom'], 10, 8, 16, 40],
      'heatmap-intensity': ['interpolate', ['linear'], ['zoom'], 10, 0.6, 16, 2],
      'heatmap-opacity': 0.8,
      'heatmap-color': ['interpolate', ['linear'], ['heatmap-density'],
        0, 'rgba(255,255,255,0)', 0.2, '#fde0c5', 0.4, '#f9a66c', 0.7, '#e4572e', 1, '#8c1c13'],
    },
  });
  map.addLayer({
    id: 'squares-fill', type: 'fill', source: 'squares',
    paint: { 'fill-color': colourByKind, 'fill-opacity': 0.25 },
  });
  map.addLayer({
    id: 'squares-outline', type: 'line', source: 'squares',
    paint: { 'line-color': colourByKind, 'line-width': 2, 'line-dasharray': [2, 1] },
  });
  map.addLayer({
    id: 'clusters', type: 'circle', source: 'observations', filter: ['has', 'point_count'],
    paint: {
      'circle-color': '#3b3b52',
      'circle-radius': ['step', ['get', 'point_count'], 14, 10, 18, 50, 24],
      'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2,
    },
  });
  if (hasGlyphs) {
    map.addLayer({
      id: 'cluster-count', type: 'symbol', source: 'observations', filter: ['has', 'point_count'],
      layout: { 'text-field': ['get', 'point_count_abbreviated'], 'text-font': ['safetymap-sans'], 'text-size': 13 },
      paint: { 'text-color': '#ffffff' },
    });
  }
  map.addLayer({
    id: 'points', type: 'circle', source: 'observations', filter: ['!', ['has', 'point_count']],
    paint: {
      'circle-color': colourByKind,
      'circle-radius': ['match', ['get', 'severity'], 'high', 9, 'medium', 7, 6],
      'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2,
    },
  });
  addAreaLabels();
  addPerceptionLayers();
  addExerciseLayers();
  addPlaceAndDrawingLayers();
}

/**
 * Creates the map in `container`. `onFeature(properties)` is called when an
 * observation or square is clicked; `onTap(lngLat)` for any other click.
 */
export async function create(container, { onFeature, onTap, onMove, isPlacing = () => false }) {
  const style = await (await fetch('/basemap/style.json', { credentials: 'same-origin' })).json();
  hasGlyphs = Boolean(style.glyphs);
  maplibregl.setWorkerUrl('/vendor/maplibre-gl/maplibre-gl-csp-worker.js');
  map = new maplibregl.Map({
    container,
    style,
    center: style.center || [-2.9977, 51.5886],
    zoom: style.zoom || 13,
    attributionControl: false,
    locale: controlLabels(),
  });
  // For the browser tests, which look at what the map has drawn.
  window.safetymapMap = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  attribution = new maplibregl.AttributionControl({ compact: false, customAttribution: t('attributionApp') });
  map.addControl(attribution, 'bottom-right');
  map.getCanvas().setAttribute('aria-label', t('mapLabel'));
  // Changing a tile source's query while MapLibre is still setting it up
  // cancels that set-up, which it reports as an error; it is not one.
  map.on('error', (event) => {
    if (event.error?.name === 'AbortError' || event.error?.message === 'AbortError') return;
    // An aggregate the server refused (too costly, busy, over budget) is
    // said in its legend, not left as an empty map.
    if (event.sourceId === 'hotspots' || event.sourceId === 'grid') {
      showTileError(event.sourceId, event.error?.status ?? 0);
      return;
    }
    console.error(event.error);
  });
  await new Promise((resolve) => map.on('load', resolve));
  addLayers();
  const clickable = ['places', 'points', 'squares-fill', 'clusters', 'police-crimes', 'hotspots-fill', 'grid-fill', 'grid-suppressed', 'areas-fill', 'areas-suppressed',
    'perc-squares-fill', 'perc-areas-fill', 'perc-routes-used', 'perc-routes-avoided',
    'exercise-points', 'exercise-squares-fill', 'exercise-annotation-points', 'exercise-annotation-line', 'exercise-annotation-fill'];
  map.on('click', async (event) => {
    if (isPlacing()) {
      onTap(event.lngLat);
      return;
    }
    const hits = map.queryRenderedFeatures(event.point, { layers: clickable.filter((l) => map.getLayer(l)) });
    const hit = hits[0];
    if (hit && hit.layer.id === 'clusters') {
      const zoom = await map.getSource('observations').getClusterExpansionZoom(hit.properties.cluster_id);
      map.easeTo({ center: hit.geometry.coordinates, zoom });
    } else if (hit) {
      onFeature(hit.properties, event.lngLat, featureKind(hit.layer.id));
    } else {
      onTap(event.lngLat);
    }
  });
  for (const layer of clickable) {
    map.on('mouseenter', layer, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', layer, () => { map.getCanvas().style.cursor = ''; });
  }
  map.on('moveend', () => onMove());
  return map;
}

/** What a clicked layer shows: `observation`, `grid`, `hotspot`, `crime`, `place`, `area` or `exercise`. */
function featureKind(layerId) {
  if (PLACE_LAYERS.includes(layerId)) return 'place';
  if (EXERCISE_LAYERS.includes(layerId)) return 'exercise';
  if (PERCEPTION_LAYERS.includes(layerId)) return 'perception';
  if (AREA_LAYERS.includes(layerId)) return 'area';
  if (GRID_LAYERS.includes(layerId)) return 'grid';
  if (HOTSPOT_LAYERS.includes(layerId)) return 'hotspot';
  if (POLICE_LAYERS.includes(layerId)) return 'crime';
  return 'observation';
}

/** MapLibre's own control labels, in the current language. */
function controlLabels() {
  return {
    'NavigationControl.ZoomIn': t('zoomIn'),
    'NavigationControl.ZoomOut': t('zoomOut'),
    'AttributionControl.ToggleAttribution': t('toggleAttribution'),
    'Popup.Close': t('popupClose'),
    'Map.Title': t('mapLabel'),
    'Marker.Title': t('markerTitle'),
  };
}

/** Relabels the map's controls after a language switch. */
export function relabel() {
  for (const out of document.querySelectorAll('[id^="legend-"][id$="-error"][data-key]')) out.textContent = t(out.dataset.key);
  if (!map) return;
  const labels = controlLabels();
  const set = (selector, text) => {
    for (const el of map.getContainer().querySelectorAll(selector)) {
      el.setAttribute('title', text);
      el.setAttribute('aria-label', text);
    }
  };
  set('.maplibregl-ctrl-zoom-in', labels['NavigationControl.ZoomIn']);
  set('.maplibregl-ctrl-zoom-out', labels['NavigationControl.ZoomOut']);
  set('.maplibregl-ctrl-attrib-button', labels['AttributionControl.ToggleAttribution']);
  set('.maplibregl-popup-close-button', labels['Popup.Close']);
  map.getCanvas().setAttribute('aria-label', labels['Map.Title']);
  map.getContainer().setAttribute('aria-label', labels['Map.Title']);
  for (const pinElement of map.getContainer().querySelectorAll('.report-pin')) pinElement.setAttribute('aria-label', labels['Marker.Title']);
  rebuildAttribution();
}

/**
 * The attribution names our own source in the current language, and the
 * Open Government Licence whenever police.uk data is on the map (its terms
 * ask for that statement wherever the data is shown).
 */
function rebuildAttribution() {
  if (attribution) map.removeControl(attribution);
  const texts = [t('attributionApp')];
  if (context) texts.push(t('attributionPolice'));
  attribution = new maplibregl.AttributionControl({ compact: false, customAttribution: texts });
  map.addControl(attribution, 'bottom-right');
  for (const button of map.getContainer().querySelectorAll('.maplibregl-ctrl-attrib-button')) {
    button.setAttribute('title', t('toggleAttribution'));
    button.setAttribute('aria-label', t('toggleAttribution'));
  }
}

/** The map, once made. */
export function instance() {
  return map;
}

/** The visible area as an OGC bbox string. */
export function bbox() {
  const b = map.getBounds();
  const r = (x) => x.toFixed(5);
  return `${r(b.getWest())},${r(b.getSouth())},${r(b.getEast())},${r(b.getNorth())}`;
}

/** Shows a page of observations. */
export function show(collection) {
  const ids = new Set(collection.features.map((f) => f.id ?? f.properties?.id));
  closePopupOf('observation', (id) => ids.has(id));
  const parts = split(collection);
  map.getSource('observations').setData(parts.points);
  map.getSource('squares').setData(parts.squares);
  map.getSource('heat').setData(parts.all);
}

function setVisible(layers, visible) {
  for (const layer of layers) {
    if (map.getLayer(layer)) map.setLayoutProperty(layer, 'visibility', visible ? 'visible' : 'none');
  }
}

/** Switches between `points`, `heatmap`, `grid` and `hotspots`; only one is drawn at a time. */
export function setMode(next) {
  mode = next;
  setVisible(['heatmap'], !focused && mode === 'heatmap');
  setVisible(OBSERVATION_LAYERS, !focused && mode === 'points');
  setVisible(GRID_LAYERS, !focused && mode === 'grid');
  setVisible(HOTSPOT_LAYERS, !focused && mode === 'hotspots');
}

/** The words for a tile the server refused, by HTTP status. */
function tileErrorKey(status) {
  if (status === 422) return 'errorTooCostly';
  if (status === 503) return 'errorBusy';
  if (status === 429) return 'errorOverBudget';
  return 'errorGeneric';
}

const retrying = {};

function showTileError(source, status) {
  const out = document.getElementById(`legend-${source}-error`);
  if (!out) return;
  out.dataset.key = tileErrorKey(status);
  out.textContent = t(out.dataset.key);
  out.hidden = false;
  // Busy is passing: ask again once, a few seconds on, and say nothing more
  // unless that fails too.
  if (status === 503 && !retrying[source]) {
    retrying[source] = setTimeout(() => {
      retrying[source] = null;
      out.hidden = true;
      map.refreshTiles(source);
    }, 5000);
  }
}

function setTiles(source, query) {
  if (tileQueries[source] === query) return;
  tileQueries[source] = query;
  // What an open popup describes may have been filtered out.
  closePopupOf(TILE_KINDS[source]);
  const out = document.getElementById(`legend-${source}-error`);
  if (out) {
    out.hidden = true;
    out.textContent = '';
    delete out.dataset.key;
  }
  map.getSource(source).setTiles([tileUrl(source, query)]);
}

/**
 * Points the tile layers at the current filters: `filter` for the grid and
 * hot spots (with their `cell` and `shape`), `police` for recorded crime.
 * Sources whose layers are hidden fetch nothing until shown.
 */
export function setQueries({ filter, police }) {
  setTiles('grid', filter);
  setTiles('hotspots', filter);
  setTiles('police-crimes', police);
}

/** Shows or hides police.uk recorded crime, with its attribution. */
export function setContext(on) {
  if (context === on) return;
  context = on;
  if (!on) closePopupOf('crime');
  setVisible(POLICE_LAYERS, on);
  rebuildAttribution();
}

/** Puts the report pin at a place (or removes it with null). */
export function setPin(lngLat) {
  if (pin) pin.remove();
  pin = null;
  if (lngLat) {
    const el = document.createElement('div');
    el.className = 'report-pin';
    pin = new maplibregl.Marker({ element: el, anchor: 'bottom' }).setLngLat(lngLat).addTo(map);
  }
}

/** The kind of feature each tile source draws, for the popup that describes one. */
const TILE_KINDS = { grid: 'grid', hotspots: 'hotspot', 'police-crimes': 'crime' };

/** The popup open now, and what it describes: `{ popup, kind, id }`. */
let opened = null;

/** Closes the open popup when it describes a feature of `kind` (and, given `keep`, one whose id `keep` refuses). */
function closePopupOf(kind, keep = () => false) {
  if (opened && opened.kind === kind && !keep(opened.id)) {
    opened.popup.remove();
    opened = null;
  }
}

/**
 * Shows a popup with DOM content at a place. `about` says what it
 * describes (`{ kind, id }`), so that it closes when that feature leaves
 * the map (filtered out, or its layer switched off).
 */
export function popup(lngLat, content, about = {}) {
  if (opened) opened.popup.remove();
  const p = new maplibregl.Popup({ closeButton: true, maxWidth: '320px', focusAfterOpen: true })
    .setLngLat(lngLat)
    .setDOMContent(content)
    .addTo(map);
  opened = { popup: p, kind: about.kind, id: about.id };
  p.on('close', () => { if (opened?.popup === p) opened = null; });
  const close = p.getElement()?.querySelector('.maplibregl-popup-close-button');
  if (close) close.setAttribute('aria-label', t('popupClose'));
  return p;
}

/** Whether the map can draw text labels (the basemap style has glyphs). */
export function hasLabels() {
  return hasGlyphs;
}

/** Shows the registered places (a FeatureCollection of points). */
export function setPlaces(collection) {
  map?.getSource('places')?.setData(collection);
}

/** Shows or hides the places layer. */
export function showPlaces(visible) {
  if (map) setVisible(PLACE_LAYERS, visible);
}

/** Shows areas with their counts; each feature carries its `label` in the current language. */
export function setAreas(collection) {
  map?.getSource('areas')?.setData(collection);
}

/** Shows or hides the areas layer. */
export function showAreas(visible) {
  if (map) setVisible(AREA_LAYERS, visible);
}

/**
 * Draws the shape being drawn: its corners, and the line through them
 * (closed into a polygon once `closed`).
 */
export function setDrawing(corners, closed) {
  if (!map) return;
  const features = corners.map((c) => ({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: c } }));
  if (closed && corners.length >= 3) {
    features.push({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[...corners, corners[0]]] } });
  } else if (corners.length >= 2) {
    features.push({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: corners } });
  }
  map.getSource('drawing')?.setData({ type: 'FeatureCollection', features });
}

/**
 * Shows an exercise (a FeatureCollection whose features carry `role`:
 * area, point, square or annotation), in place of the map's own
 * observation layers; null puts those back.
 */
export function setExercise(collection) {
  if (!map) return;
  map.getSource('exercise')?.setData(collection || empty());
  focused = Boolean(collection);
  setVisible(EXERCISE_LAYERS, focused);
  setMode(mode);
}

/** Moves the map to show [west, south, east, north]. */
export function fitBounds(bounds) {
  if (map && bounds) map.fitBounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]], { padding: 30, duration: 0, maxZoom: 17 });
}

/** Shows young people's marks (a FeatureCollection from the perceptions collection, with `label`s), or hides them with null. */
export function setPerceptions(collection) {
  if (!map) return;
  if (collection) map.getSource('perceptions')?.setData(collection);
  setVisible(PERCEPTION_LAYERS, Boolean(collection));
}

/** Metres from `p` to the segment `a`–`b`. */
function metresToSegment(p, a, b) {
  const k = Math.cos((p[1] * Math.PI) / 180);
  const xy = (q) => [(q[0] - p[0]) * k * 111320, (q[1] - p[1]) * 110540];
  const [ax, ay] = xy(a);
  const [bx, by] = xy(b);
  const len2 = (bx - ax) ** 2 + (by - ay) ** 2;
  const f = len2 ? Math.max(0, Math.min(1, -(ax * (bx - ax) + ay * (by - ay)) / len2)) : 0;
  return Math.hypot(ax + f * (bx - ax), ay + f * (by - ay));
}

/**
 * The name of the nearest named street within `within` metres of `lngLat`,
 * from the basemap tiles the map has loaded (served by the app itself, so
 * this works offline), or null.
 */
export function nearestStreet(lngLat, within = 150) {
  if (!map?.getSource('basemap')) return null;
  const p = [lngLat.lng, lngLat.lat];
  let best = null;
  for (const f of map.querySourceFeatures('basemap', { sourceLayer: 'roads', filter: ['has', 'name'] })) {
    const lines = f.geometry.type === 'LineString' ? [f.geometry.coordinates] : f.geometry.type === 'MultiLineString' ? f.geometry.coordinates : [];
    for (const line of lines) {
      for (let i = 1; i < line.length; i++) {
        const d = metresToSegment(p, line[i - 1], line[i]);
        if (d <= within && (!best || d < best.d)) best = { d, name: f.properties.name };
      }
    }
  }
  return best?.name ?? null;
}

/**
 * A chosen position in words, the one way the app writes a position for
 * people: its 100 m grid reference, after the nearest named street when the
 * basemap knows one ("near Commercial Street, grid reference ST 309 877").
 */
export function whereWords(lngLat) {
  const ref = gridReference(lngLat.lng, lngLat.lat);
  const street = nearestStreet(lngLat);
  return street ? t('whereNear', { street, ref }) : t('whereRef', { ref });
}
