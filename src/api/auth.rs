//! Authentication: `Authorization: Bearer <token>` → [`Viewer`].
//!
//! Tokens are looked up by their SHA-256 hash. Live tokens are cached for a
//! short, configurable time so the layer read path runs no SQL per request;
//! revoking through the API clears the cache at once, and a revocation made
//! by another process (the CLI) takes effect when the entry expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::Utc;

use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::Viewer;
use crate::store::tokens::token_hash;
use crate::store::{Store, TokenRecord};

/// Recently verified tokens, by hash.
#[derive(Debug, Clone)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<String, (TokenRecord, Instant)>>>,
    ttl: Duration,
}

impl TokenCache {
    /// A cache keeping entries for `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            entries: Arc::new(Mutex::new(HashMap::new())),
            ttl,
        }
    }

    fn get(&self, hash: &str) -> Option<TokenRecord> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(record, _)| record.clone())
    }

    fn put(&self, hash: String, record: TokenRecord) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Bound the cache: expired entries go first; past a size, start again.
        if entries.len() > 10_000 {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if entries.len() > 10_000 {
                entries.clear();
            }
        }
        entries.insert(hash, (record, Instant::now()));
    }

    /// Forgets a token at once (after revoking it).
    pub fn forget(&self, token_id: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (record, _)| record.id != token_id);
    }

    /// The live token for a bearer secret, from the cache or the store.
    pub async fn verify(&self, store: &Store, token: &str) -> Result<TokenRecord, Problem> {
        let hash = token_hash(token);
        let now = Utc::now();
        let cached = self.get(&hash);
        let from_store = cached.is_none();
        let record = match cached {
            Some(record) => record,
            None => store
                .token_by_hash(&hash)
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "token lookup failed");
                    Problem::internal()
                })?
                .ok_or_else(|| Problem::unauthorized("invalid-token", "The token is not known"))?,
        };
        if !record.is_live(now) {
            return Err(Problem::unauthorized(
                "invalid-token",
                "The token has been revoked or has expired",
            ));
        }
        // Only a fresh store answer restarts the clock, so a token in steady
        // use is still re-checked every `ttl` and a revocation by another
        // process reaches it.
        if from_store {
            self.put(hash, record.clone());
        }
        Ok(record)
    }
}

/// The viewer a token acts as.
pub fn viewer_of(record: &TokenRecord) -> Viewer {
    Viewer {
        principal: format!("token:{}", record.id),
        name: record.name.clone(),
        agency: record.agency.clone(),
        role: record.role,
    }
}

impl<S> FromRequestParts<S> for Viewer
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| {
                Problem::unauthorized(
                    "missing-token",
                    "Send Authorization: Bearer <token> (see `safetymap token create`)",
                )
            })?
            .to_str()
            .map_err(|_| {
                Problem::unauthorized("invalid-token", "Unreadable Authorization header")
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized("invalid-token", "The Authorization scheme must be Bearer")
            })?;
        let record = state.tokens.verify(&state.store, token).await?;
        Ok(viewer_of(&record))
    }
}
