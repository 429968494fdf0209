// The service worker: the app shell works offline, and basemap tiles,
// glyphs and the style already seen are kept for when the signal goes.
// Observation data is never cached here: it is decided per viewer and
// must not outlive the session on a shared device. That covers the vector
// tiles, grids, hot spots, time profiles and police.uk layer too.

const VERSION = 'safetymap-v11';
const SHELL = [
  '/',
  '/app.css',
  '/icon.svg',
  '/manifest.webmanifest',
  '/js/main.js',
  '/js/i18n.js',
  '/js/api.js',
  '/js/vocab.js',
  '/js/map.js',
  '/js/outbox.js',
  '/js/analysis.js',
  '/js/dom.js',
  '/js/forms.js',
  '/js/places.js',
  '/js/areas.js',
  '/js/exercises.js',
  '/js/perceptions.js',
  '/js/review.js',
  '/js/grid.js',
  '/js/accounts.js',
  '/js/audit.js',
  '/js/alerts.js',
  '/js/search.js',
  '/js/print.js',
  '/js/print-page.js',
  '/vendor/maplibre-gl/maplibre-gl-csp.js',
  '/vendor/maplibre-gl/maplibre-gl-csp-worker.js',
  '/vendor/maplibre-gl/maplibre-gl.css',
  '/api/vocabulary',
];
const SHELL_CACHE = `${VERSION}-shell`;
const BASEMAP_CACHE = `${VERSION}-basemap`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (!name.startsWith(VERSION)) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function networkFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: false });
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin) return;
  // Per-viewer answers go straight to the network, whatever else this
  // handler learns to cache later. (The vocabulary is the same for
  // everyone, and logging a report offline needs it.)
  const perViewer = url.pathname.startsWith('/tiles/') || url.pathname.startsWith('/ogc/')
    || (url.pathname.startsWith('/api/') && url.pathname !== '/api/vocabulary');
  if (perViewer) return;
  if (url.pathname.startsWith('/basemap/tiles/') || url.pathname.startsWith('/basemap/fonts/')) {
    event.respondWith(cacheFirst(event.request, BASEMAP_CACHE));
  } else if (url.pathname === '/basemap/style.json' || url.pathname === '/basemap/streets.json') {
    event.respondWith(networkFirst(event.request, BASEMAP_CACHE));
  } else if (SHELL.includes(url.pathname) || url.pathname === '/index.html') {
    const request = url.pathname === '/index.html' ? new Request('/') : event.request;
    event.respondWith(networkFirst(request, SHELL_CACHE));
  }
});
