// The map: the server's basemap style, observations as clustered points or
// a heatmap, and generalised positions drawn as the 100 m squares they are.

import { t } from './i18n.js';
import { kind } from './vocab.js';

const COLOURS = { risk: '#b3261e', safe: '#1b6e3a', neutral: '#2f5d8c' };
const colourByKind = [
  'match', ['get', 'kind'],
  'safe', COLOURS.safe,
  'neutral', COLOURS.neutral,
  COLOURS.risk,
];

let map = null;
let mode = 'points';
let pin = null;
let hasGlyphs = false;
let attribution = null;

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

function addLayers() {
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
  await new Promise((resolve) => map.on('load', resolve));
  addLayers();
  const clickable = ['points', 'squares-fill', 'clusters'];
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
      onFeature(hit.properties, event.lngLat);
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
  // The attribution names our own source in the current language.
  if (attribution) map.removeControl(attribution);
  attribution = new maplibregl.AttributionControl({ compact: false, customAttribution: t('attributionApp') });
  map.addControl(attribution, 'bottom-right');
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
  const parts = split(collection);
  map.getSource('observations').setData(parts.points);
  map.getSource('squares').setData(parts.squares);
  map.getSource('heat').setData(parts.all);
}

/** Switches between `points` and `heatmap`. */
export function setMode(next) {
  mode = next;
  const heat = mode === 'heatmap';
  map.setLayoutProperty('heatmap', 'visibility', heat ? 'visible' : 'none');
  for (const layer of ['clusters', 'cluster-count', 'points', 'squares-fill', 'squares-outline']) {
    if (map.getLayer(layer)) map.setLayoutProperty(layer, 'visibility', heat ? 'none' : 'visible');
  }
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

/** Shows a popup with DOM content at a place. */
export function popup(lngLat, content) {
  const p = new maplibregl.Popup({ closeButton: true, maxWidth: '320px', focusAfterOpen: true })
    .setLngLat(lngLat)
    .setDOMContent(content)
    .addTo(map);
  const close = p.getElement()?.querySelector('.maplibregl-popup-close-button');
  if (close) close.setAttribute('aria-label', t('popupClose'));
  return p;
}
