// Reports made with no connection wait here, in IndexedDB, each with the
// Idempotency-Key it was given when it was made and the account that made
// it: however many times one is sent (a flaky connection, two tabs), the
// server records it once, and only under the person who made it.

import { request, ApiError } from './api.js';

const DB = 'safetymap';
const WAITING = 'outbox';
const SENT = 'sent';
const RETRY_MS = 30000;
const listeners = [];
let owner = null;

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

/** Runs `action(store)` in one transaction; resolves with its request's result once committed. */
async function run(store, mode, action) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const result = action(tx.objectStore(store));
      tx.oncomplete = () => resolve(result?.result ?? result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted'));
    });
  } finally {
    db.close();
  }
}

/** Calls `listener` whenever what is waiting or sent changes. */
export function onChange(listener) {
  listeners.push(listener);
}

function changed() {
  for (const listener of listeners) listener();
}

/** Whose reports this device sends: only the signed-in person's. */
export function setOwner(username) {
  owner = username;
}

/** Keeps a report to send later (throws if the device cannot store it). */
export async function enqueue(key, body) {
  await run(WAITING, 'readwrite', (s) => s.put({ key, body, owner, queuedAt: new Date().toISOString() }));
  changed();
}

/** The signed-in person's reports waiting to be sent, oldest first. */
export async function waiting() {
  const all = await run(WAITING, 'readonly', (s) => s.getAll());
  return all.filter((item) => item.owner === owner).sort((a, b) => a.queuedAt.localeCompare(b.queuedAt));
}

/** Reports the signed-in person sent from this device, newest first. */
export async function sent() {
  const all = await run(SENT, 'readonly', (s) => s.getAll());
  return all.filter((item) => item.owner === owner).sort((a, b) => b.sentAt.localeCompare(a.sentAt));
}

/** Forgets what this device sent (at sign-out: it is nobody else's business). */
export async function forgetSent() {
  await run(SENT, 'readwrite', (s) => s.clear());
  changed();
}

/** Updates a waiting report, only if it is still waiting (another tab may have sent it). */
async function update(key, change) {
  await run(WAITING, 'readwrite', (s) => {
    const req = s.get(key);
    req.onsuccess = () => {
      if (req.result) s.put({ ...req.result, ...change });
    };
    return req;
  });
  changed();
}

/** Sends a report the server questioned again, as it is (warnings acknowledged). */
export async function acknowledge(key) {
  const items = await waiting();
  const item = items.find((i) => i.key === key);
  if (!item) return;
  await update(key, { body: { ...item.body, acknowledge_warnings: true }, problem: null });
  await flush();
}

/** Drops a waiting report for good. */
export async function discard(key) {
  await run(WAITING, 'readwrite', (s) => s.delete(key));
  changed();
}

// Worth trying again later; anything else needs the person to decide.
const RETRY_LATER = new Set(['csrf-token-mismatch', 'session-expired', 'not-signed-in', 'sign-in-throttled']);

let flushing = null;
let again = false;

/**
 * Sends the signed-in person's waiting reports, one at a time, each with its
 * own key. A report the server questions (free-text warnings, invalid
 * fields) is kept with the problem for the person to decide on; network
 * trouble, a server error or an ended session stops the run until the next.
 */
export function flush() {
  if (!owner) return Promise.resolve();
  if (flushing) {
    // Asked while a run is under way (which may be failing right now):
    // run once more when it ends.
    again = true;
    return flushing;
  }
  flushing = (async () => {
    do {
      again = false;
      await sendWaiting();
    } while (again);
  })().finally(() => {
    flushing = null;
  });
  return flushing;
}

/** One pass over the waiting reports (see `flush`). */
async function sendWaiting() {
  for (const item of await waiting()) {
    if (item.problem) continue;
    try {
      const created = await request('POST', '/api/observations', item.body, { idempotencyKey: item.key });
      await run(WAITING, 'readwrite', (s) => s.delete(item.key));
      await run(SENT, 'readwrite', (s) => s.put({ key: item.key, owner: item.owner, id: created.id, category: item.body.category, observedAt: item.body.observed_at, sentAt: new Date().toISOString() }));
      changed();
    } catch (error) {
      const retry = !(error instanceof ApiError) || error.status === 0 || error.status >= 500
        || error.status === 401 || error.status === 409 || error.status === 429 || RETRY_LATER.has(error.code);
      if (retry) return;
      await update(item.key, { problem: { code: error.code, field: error.field || null, warnings: error.problem?.warnings || null } });
    }
  }
}

// Try whenever there may be a connection: the browser says so, the app
// comes back into view, and every half minute (a weak signal or a captive
// portal never fires "online").
window.addEventListener('online', () => flush());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') flush();
});
setInterval(() => {
  if (navigator.onLine && owner) flush();
}, RETRY_MS);
