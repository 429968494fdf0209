// Reports made with no connection wait here, in IndexedDB, each with the
// Idempotency-Key it was given when it was made: however many times one is
// sent (a flaky connection, two tabs), the server records it once.

import { request, ApiError } from './api.js';

const DB = 'safetymap';
const WAITING = 'outbox';
const SENT = 'sent';
const listeners = [];

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(WAITING, { keyPath: 'key' });
      req.result.createObjectStore(SENT, { keyPath: 'key' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(store, mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const result = action(tx.objectStore(store));
    tx.oncomplete = () => resolve(result?.result ?? result);
    tx.onerror = () => reject(tx.error);
  });
}

/** Calls `listener` whenever what is waiting or sent changes. */
export function onChange(listener) {
  listeners.push(listener);
}

function changed() {
  for (const listener of listeners) listener();
}

/** Keeps a report to send later. */
export async function enqueue(key, body) {
  await run(WAITING, 'readwrite', (s) => s.put({ key, body, queuedAt: new Date().toISOString() }));
  changed();
}

/** Reports waiting to be sent, oldest first. */
export async function waiting() {
  const all = await run(WAITING, 'readonly', (s) => s.getAll());
  return all.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
}

/** Reports this device has sent, newest first. */
export async function sent() {
  const all = await run(SENT, 'readonly', (s) => s.getAll());
  return all.sort((a, b) => b.sentAt.localeCompare(a.sentAt));
}

let flushing = null;

/**
 * Sends every waiting report, one at a time, each with its own key. A
 * report the server refuses as invalid is kept and marked, not retried
 * forever; a network failure stops the run until the next one.
 */
export function flush() {
  if (!flushing) {
    flushing = (async () => {
      try {
        for (const item of await waiting()) {
          if (item.rejected) continue;
          try {
            const created = await request('POST', '/api/observations', item.body, { idempotencyKey: item.key });
            await run(WAITING, 'readwrite', (s) => s.delete(item.key));
            await run(SENT, 'readwrite', (s) => s.put({ key: item.key, id: created.id, category: item.body.category, observedAt: item.body.observed_at, sentAt: new Date().toISOString() }));
            changed();
          } catch (error) {
            if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) break;
            await run(WAITING, 'readwrite', (s) => s.put({ ...item, rejected: error.code }));
            changed();
          }
        }
      } finally {
        flushing = null;
      }
    })();
  }
  return flushing;
}

window.addEventListener('online', () => flush());
