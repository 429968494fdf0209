// Talking to the server: JSON in and out, the session's CSRF token on every
// write, problems as errors with their stable code. When the session has
// ended, the caller is asked to sign in again and the request is retried,
// so nothing the person was doing is lost.

let csrf = null;
let reauthenticate = null;

/** A problem+json answer (or a network failure, with status 0). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || (status === 0 ? 'network' : 'unknown');
    this.field = problem?.field;
    this.problem = problem || {};
  }
}

/** Remembers the CSRF token of the current session. */
export function setCsrf(token) {
  csrf = token;
}

/** `handler()` is called when the session has ended; it resolves once the person has signed in again. */
export function onSessionEnded(handler) {
  reauthenticate = handler;
}

// Whether the server answered the last request. A failed connection, or a
// proxy's 502/503/504 with no problem of ours in it, means it cannot be
// reached: the app says so rather than show "nothing found".
let reachableNow = true;
const reachabilityListeners = [];

/** Whether the server answered the last time it was asked. */
export function serverReachable() {
  return reachableNow;
}

/** `listener(reachable)` is called whenever that changes. */
export function onReachability(listener) {
  reachabilityListeners.push(listener);
}

function setReachable(reachable) {
  if (reachable === reachableNow) return;
  reachableNow = reachable;
  for (const listener of reachabilityListeners) listener(reachable);
}

/** Asks the server whether it is there (no session needed); answers whether it was. */
export async function probe() {
  try {
    const response = await fetch('/healthz', { cache: 'no-store' });
    setReachable(response.ok);
  } catch {
    setReachable(false);
  }
  return reachableNow;
}

const ENDED = new Set(['session-expired', 'not-signed-in']);
let reauthenticating = null;

/** One sign-in, however many requests found the session ended meanwhile. */
function signInAgain() {
  reauthenticating ??= reauthenticate().finally(() => {
    reauthenticating = null;
  });
  return reauthenticating;
}

/**
 * Sends a request. `body` is sent as JSON, or as it is when `contentType`
 * is given (an imported file's text). Writes carry the CSRF token and,
 * when given, an Idempotency-Key. Resolves to the parsed JSON (or null).
 */
export async function request(method, path, body, { idempotencyKey, retry = true, contentType } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = contentType || 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : (contentType ? body : JSON.stringify(body)),
    });
  } catch {
    setReachable(false);
    throw new ApiError(0, null);
  }
  if (response.status === 204) {
    setReachable(true);
    return null;
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  // A gateway's error page, not one of ours: the server is not there.
  const gateway = [502, 503, 504].includes(response.status) && !data?.code;
  setReachable(!gateway);
  if (gateway) throw new ApiError(0, null);
  if (response.ok) return data;
  const error = new ApiError(response.status, data);
  if (retry && path !== '/api/session') {
    if (response.status === 401 && ENDED.has(error.code) && reauthenticate) {
      await signInAgain();
      return request(method, path, body, { idempotencyKey, retry: false, contentType });
    }
    if (error.code === 'csrf-token-mismatch') {
      // Signed in again in another tab: that session's token is the one now.
      const session = await request('GET', '/api/session', undefined, { retry: false }).catch(() => null);
      if (session?.csrf_token) {
        csrf = session.csrf_token;
        return request(method, path, body, { idempotencyKey, retry: false, contentType });
      }
    }
  }
  throw error;
}

/** A fresh Idempotency-Key for one report. */
export function newKey() {
  return crypto.randomUUID();
}

/**
 * Asks for a file (a download, a PDF): resolves to the answer when it is
 * one; a problem or a failed connection is thrown as an ApiError, as
 * `request` does.
 */
export async function fetchFile(path, accept = '*/*') {
  let response;
  try {
    response = await fetch(path, { credentials: 'same-origin', headers: { accept } });
  } catch {
    setReachable(false);
    throw new ApiError(0, null);
  }
  setReachable(true);
  if (!response.ok) {
    const problem = await response.json().catch(() => null);
    throw new ApiError(response.status, problem);
  }
  return response;
}
