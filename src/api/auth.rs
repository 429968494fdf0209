//! Authentication: a session cookie (people, in the browser) or
//! `Authorization: Bearer <token>` (tools) → [`Viewer`].
//!
//! Only the HTTP side is here: which credential a request presents and
//! what it asks; [`crate::service::sessions`] decides who that is. Cookie-
//! authenticated writes must echo the session's CSRF token in
//! `X-CSRF-Token`.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::Method;

use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::Viewer;
use crate::service::sessions::{Asking, Presented};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sm_session";
/// The header cookie-authenticated writes carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

pub use crate::service::sessions::{viewer_of, TokenCache};

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

// On `AppState` itself rather than anything it can be made from, so that
// authenticating borrows the state instead of copying it (every request).
impl FromRequestParts<AppState> for Viewer {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let asking = Asking {
            write: is_write(&parts.method),
            path: parts.uri.path(),
        };
        if let Some(header) = parts.headers.get(AUTHORIZATION) {
            let token = header
                .to_str()
                .ok()
                .and_then(|h| {
                    h.strip_prefix("Bearer ")
                        .or_else(|| h.strip_prefix("bearer "))
                })
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    Problem::unauthorized("invalid-token", "Send Authorization: Bearer <token>")
                })?;
            // Boxed: the extractor's future is as large as everything it
            // might await, and it is moved and allocated on every request,
            // while the store reads behind a token are rare (cached).
            let viewer = Box::pin(state.sessions.viewer(Presented::Bearer(token), asking)).await?;
            // The disclosure layer records what this tool is answered.
            if let Some(slot) = parts.extensions.get::<super::disclosure::Slot>() {
                slot.set(&viewer);
            }
            return Ok(viewer);
        }
        match cookie(parts, SESSION_COOKIE) {
            Some(token) => {
                let csrf = parts
                    .headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let presented = Presented::Cookie { token, csrf };
                Ok(Box::pin(state.sessions.viewer(presented, asking)).await?)
            }
            None => Err(Problem::unauthorized(
                "not-signed-in",
                "Sign in, or send Authorization: Bearer <token> (see `safetymap token create`)",
            )),
        }
    }
}
