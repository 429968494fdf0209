//! Authentication: a session cookie (people, in the browser) or
//! `Authorization: Bearer <token>` (tools) → [`Viewer`].
//!
//! Sessions are read from the store on every request, so ending one (logout,
//! a disabled account, a time limit) takes effect on the next request, on
//! every instance. Cookie-authenticated writes must echo the session's CSRF
//! token in `X-CSRF-Token`.
//!
//! Tokens are looked up by their SHA-256 hash. Live tokens (with their user)
//! are cached for a short, configurable time so the layer read path runs no
//! SQL per request; revoking a token or changing its user through the API
//! clears the cache at once, and a change made by another process (the CLI)
//! takes effect when the entry expires. Fully signed-in sessions are cached
//! the same way (tile requests come by the dozen): signing out, a password
//! change or a change to the account clears them here at once; the idle and
//! absolute limits are still checked on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};

use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::{user_principal, Credential, Viewer};
use crate::security::same_secret;
use crate::store::tokens::token_hash;
use crate::store::{Session, SessionStage, Store, TokenRecord, User};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sm_session";
/// The header cookie-authenticated writes carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A verified token, its user, and when the store vouched for them.
type CacheEntry = (TokenRecord, User, Instant);
/// Signed-in sessions by token hash, with when the store vouched for each.
type SessionMap = HashMap<String, (Arc<Session>, Instant)>;

/// Recently verified tokens with their users, and sessions, by hash.
#[derive(Debug, Clone)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<String, CacheEntry>>>,
    sessions: Arc<Mutex<SessionMap>>,
    ttl: Duration,
}

impl TokenCache {
    /// A cache keeping entries for `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            entries: Arc::new(Mutex::new(HashMap::new())),
            sessions: Arc::new(Mutex::new(HashMap::new())),
            ttl,
        }
    }

    fn get(&self, hash: &str) -> Option<(TokenRecord, User)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, _, at)| at.elapsed() < self.ttl)
            .map(|(record, user, _)| (record.clone(), user.clone()))
    }

    fn put(&self, hash: String, record: TokenRecord, user: User) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Bound the cache: expired entries go first; past a size, start again.
        if entries.len() > 10_000 {
            entries.retain(|_, (_, _, at)| at.elapsed() < self.ttl);
            if entries.len() > 10_000 {
                entries.clear();
            }
        }
        entries.insert(hash, (record, user, Instant::now()));
    }

    /// Forgets a token at once (after revoking it).
    pub fn forget(&self, token_id: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (record, _, _)| record.id != token_id);
    }

    /// Forgets every token and session of a user at once (after changing
    /// or disabling it).
    pub fn forget_user(&self, user_id: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, user, _)| user.id != user_id);
        drop(entries);
        self.lock_sessions()
            .retain(|_, (s, _)| s.user.id != user_id);
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, SessionMap> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A session the store vouched for within the cache time.
    fn session(&self, hash: &str) -> Option<Arc<Session>> {
        self.lock_sessions()
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(s, _)| s.clone())
    }

    /// Keeps a session read from the store (`fresh`) or notes a newer
    /// last use of one already kept (which does not restart its clock).
    fn keep_session(&self, session: &Arc<Session>, fresh: bool) {
        if self.ttl.is_zero() {
            return;
        }
        let mut sessions = self.lock_sessions();
        if sessions.len() > 10_000 {
            sessions.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if sessions.len() > 10_000 {
                sessions.clear();
            }
        }
        let at = match sessions.get(&session.token_hash) {
            Some((_, at)) if !fresh => *at,
            _ => Instant::now(),
        };
        sessions.insert(session.token_hash.clone(), (session.clone(), at));
    }

    /// Forgets a session at once (it ended).
    pub fn forget_session(&self, hash: &str) {
        self.lock_sessions().remove(hash);
    }

    /// The live token, and its enabled user, for a bearer secret.
    pub async fn verify(
        &self,
        store: &Store,
        token: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(TokenRecord, User), Problem> {
        let hash = token_hash(token);
        let cached = self.get(&hash);
        let from_store = cached.is_none();
        let (record, user) = match cached {
            Some(found) => found,
            None => {
                let record = store
                    .token_by_hash(&hash)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| {
                        Problem::unauthorized("invalid-token", "The token is not known")
                    })?;
                let user = store
                    .user(record.user_id)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| {
                        Problem::unauthorized("invalid-token", "The token is not known")
                    })?;
                (record, user)
            }
        };
        if !record.is_live(now) {
            return Err(Problem::unauthorized(
                "invalid-token",
                "The token has been revoked or has expired",
            ));
        }
        if user.disabled_at.is_some() {
            return Err(account_disabled());
        }
        // Only a fresh store answer restarts the clock, so a token in steady
        // use is still re-checked every `ttl` and a revocation by another
        // process reaches it.
        if from_store {
            self.put(hash, record.clone(), user.clone());
        }
        Ok((record, user))
    }
}

fn internal(e: crate::store::StoreError) -> Problem {
    tracing::error!(error = %e, "authentication lookup failed");
    Problem::internal()
}

fn account_disabled() -> Problem {
    Problem::unauthorized("account-disabled", "This account has been disabled")
}

/// The viewer a user acts as, through `credential`.
pub fn viewer_of(user: &User, credential: Credential) -> Viewer {
    Viewer {
        principal: user_principal(user.id),
        name: user.display_name.clone(),
        agency: user.agency.clone(),
        role: user.role,
        admin: user.is_admin(),
        credential,
    }
}

/// The value of one cookie in a request.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Paths a session that still has to enrol a second factor may use.
fn enrolment_path(path: &str) -> bool {
    path == "/api/session" || path.starts_with("/api/me")
}

async fn from_bearer(state: &AppState, parts: &Parts, header: &str) -> Result<Viewer, Problem> {
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Problem::unauthorized("invalid-token", "The Authorization scheme must be Bearer")
        })?;
    let (record, user) = state
        .tokens
        .verify(&state.store, token, state.clock.now())
        .await?;
    // The second-factor rule follows the person, not the token: a token of
    // someone who now needs one and has none does nothing until they enrol.
    if user.must_enrol() {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "second-factor-enrolment-required",
            "The token's user must set up an authenticator app first",
        ));
    }
    if is_write(&parts.method) && !record.write {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "token-read-only",
            "This token may only read; make a token with the write scope",
        ));
    }
    Ok(viewer_of(
        &user,
        Credential::Token {
            id: record.id,
            write: record.write,
            purpose: record.name,
        },
    ))
}

async fn from_session(state: &AppState, parts: &Parts, token: &str) -> Result<Viewer, Problem> {
    let expired =
        || Problem::unauthorized("session-expired", "Your session has ended; sign in again");
    let cached = state
        .tokens
        .session(crate::store::tokens::token_hash_in(token, &mut [0; 64]));
    let fresh = cached.is_none();
    // Shared, not copied: a cached session is read on every request.
    let mut session = match cached {
        Some(session) => session,
        None => Arc::new(
            Box::pin(state.store.session(token))
                .await
                .map_err(internal)?
                .ok_or_else(expired)?,
        ),
    };
    let now = state.clock.now();
    let policy = &state.settings.sessions;
    let idle = now - session.last_seen_at > policy.idle;
    let too_old = now - session.created_at > policy.absolute;
    let disabled = session.user.disabled_at.is_some();
    if idle || too_old || disabled {
        state.tokens.forget_session(&session.token_hash);
        Box::pin(state.store.end_session(&session.token_hash))
            .await
            .map_err(internal)?;
        return Err(if disabled {
            account_disabled()
        } else {
            expired()
        });
    }
    // Decided from the account as it is now, not as it was at sign-in.
    let enrolling = session.stage == SessionStage::EnrolMfa || session.user.must_enrol();
    if enrolling && !enrolment_path(parts.uri.path()) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "second-factor-enrolment-required",
            "Set up your authenticator app before going on",
        ));
    }
    if is_write(&parts.method) {
        let echoed = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !same_secret(echoed, &session.csrf_token) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "csrf-token-mismatch",
                "Reload the page and try again",
            )
            .field(CSRF_HEADER));
        }
    }
    // Noting every use would be a write per request; a minute's resolution
    // is plenty for a 30-minute idle limit.
    let touched = now - session.last_seen_at > chrono::Duration::seconds(60);
    if touched {
        Box::pin(state.store.touch_session(&session.token_hash, now))
            .await
            .map_err(internal)?;
        Arc::make_mut(&mut session).last_seen_at = now;
    }
    // Only sessions past every sign-in step are kept: the others change
    // stage in the store as the person goes on.
    if !enrolling && (fresh || touched) {
        state.tokens.keep_session(&session, fresh);
    }
    Ok(viewer_of(&session.user, Credential::Session))
}

// On `AppState` itself rather than anything it can be made from, so that
// authenticating borrows the state instead of copying it (every request).
impl FromRequestParts<AppState> for Viewer {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let header = header.to_str().map_err(|_| {
                Problem::unauthorized("invalid-token", "Unreadable Authorization header")
            })?;
            // Boxed, as are the store reads below: the extractor's future is
            // as large as everything it might await, and it is moved and
            // allocated on every request, while these paths are rare (a
            // tool's request, a session not yet cached).
            let viewer = Box::pin(from_bearer(state, parts, header)).await?;
            // The disclosure layer records what this tool is answered.
            if let Some(slot) = parts.extensions.get::<super::disclosure::Slot>() {
                slot.set(&viewer);
            }
            return Ok(viewer);
        }
        match cookie(parts, SESSION_COOKIE) {
            Some(token) => from_session(state, parts, token).await,
            None => Err(Problem::unauthorized(
                "not-signed-in",
                "Sign in, or send Authorization: Bearer <token> (see `safetymap token create`)",
            )),
        }
    }
}
