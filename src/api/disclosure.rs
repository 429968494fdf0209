//! One disclosure path: every answer to a tool (an API token) is recorded
//! in the audit trail before it is sent, by a layer every route passes
//! through — so a new route is covered without doing anything. A route
//! opts out only by being listed in [`NOT_DISCLOSURES`] with the reason
//! its answers carry no observation-derived data.
//!
//! Handlers may say what they disclosed (a layer's name and how many
//! features) with [`disclosed`]; otherwise the event names the route.
//! Browser sessions are people reading in the app: their single-record
//! opens, packs and reports are audited by the services themselves, and
//! their map reads are not disclosures to another system.

use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::{Credential, Viewer};
use crate::domain::vocabulary::AuditAction;
use crate::store::AuditEntry;

/// Routes whose answers carry no observation-derived data, each with why.
/// Everything else a tool reads is recorded as a disclosure.
pub const NOT_DISCLOSURES: &[(&str, &str)] = &[
    ("/healthz", "service health only"),
    ("/readyz", "service health only"),
    (
        "/metrics",
        "operational counts and sizes for operators (metrics token only): no record, id or position",
    ),
    ("/api/vocabulary", "the fixed bilingual vocabulary"),
    ("/api/openapi.json", "the API's description"),
    ("/ogc/api", "the API's description"),
    ("/ogc", "the OGC landing page: links only"),
    ("/ogc/", "the OGC landing page: links only"),
    ("/ogc/conformance", "the conformance classes"),
    (
        "/ogc/collections",
        "collection descriptions: the service area and links (read without signing in)",
    ),
    (
        "/ogc/collections/{collection}",
        "a collection's description: the service area and links (read without signing in)",
    ),
    (
        "/tiles/{layer}/tilejson.json",
        "where a layer's tiles are and what their features hold: no data",
    ),
    (
        "/tiles/{layer}/style.json",
        "how to draw a layer's tiles: no data",
    ),
    (
        "/ogc/collections/{collection}/queryables",
        "what a collection can be filtered on: names, types and the vocabulary's codes",
    ),
    (
        "/api/audit",
        "the audit trail records accesses, not observations; exports record themselves",
    ),
    ("/api/users", "accounts, not observation data"),
    ("/api/users/{id}", "an account, not observation data"),
    ("/api/sign-ins", "the sign-in log, not observation data"),
    ("/api/role-requests", "role changes waiting for approval"),
    (
        "/api/police-imports",
        "what each police.uk import kept: open data",
    ),
    (
        "/api/places",
        "the places register: premises and spaces, no observations",
    ),
    ("/api/areas", "boundaries: no observations"),
    ("/api/me", "the caller's own account"),
    ("/api/session", "the caller's own session"),
    (
        "/api/tokens",
        "the caller's own tokens, never their secrets",
    ),
    ("/api/agencies", "agency names"),
    ("/", "the web app's page"),
    ("/index.html", "the web app's page"),
    ("/sw.js", "the web app's service worker"),
    ("/app.css", "a style sheet"),
    ("/pack.css", "a style sheet"),
    ("/icon.svg", "the app's icon"),
    ("/manifest.webmanifest", "the app's manifest"),
    ("/js/{*path}", "the web app's scripts"),
    ("/vendor/{*path}", "vendored libraries"),
    ("/basemap/style.json", "the basemap's style: open map data"),
    ("/basemap/tiles/{z}/{x}/{y}", "basemap tiles: open map data"),
    ("/basemap/fonts/{fontstack}/{range}", "basemap label glyphs"),
    (
        "/basemap/streets.json",
        "the basemap's street names: open map data",
    ),
];

/// Whether a route's answers are exempt from disclosure events.
pub fn exempt(route: &str) -> bool {
    NOT_DISCLOSURES.iter().any(|(path, _)| *path == route)
}

/// Where the authentication extractor leaves a tool's identity for the
/// disclosure layer to find once the answer is ready.
#[derive(Debug, Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Viewer>>>);

impl Slot {
    /// Keeps the viewer behind this request.
    pub fn set(&self, viewer: &Viewer) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(viewer.clone());
    }

    fn take(&self) -> Option<Viewer> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What a handler says it disclosed, carried on its response.
#[derive(Debug, Clone)]
pub struct Disclosed {
    /// What was read, e.g. `observations-layer`.
    pub what: &'static str,
    /// How many features (or records) it carried.
    pub count: usize,
}

/// Marks a response whose service already wrote its own audit event for
/// this read (a consultation with its purpose, a pack, a report), so the
/// layer does not record it twice.
#[derive(Debug, Clone, Copy)]
pub struct Audited;

/// Marks `response` as audited by its service (see [`Audited`]).
pub fn audited(mut response: Response) -> Response {
    response.extensions_mut().insert(Audited);
    response
}

/// Marks `response` as disclosing `count` features of `what`.
pub fn disclosed(mut response: Response, what: &'static str, count: usize) -> Response {
    response.extensions_mut().insert(Disclosed { what, count });
    response
}

/// The layer: for a tool's successful GET (or HEAD, or a 304) on a route not listed in
/// [`NOT_DISCLOSURES`], records a disclosure (durably) before the answer
/// leaves; if it cannot be recorded, the answer is not sent.
pub async fn record(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // Only tools present a bearer token; a browser's read skips this at the
    // cost of one header look-up.
    // HEAD runs the GET handler (and its Content-Length says how much it
    // found), so it is a read too.
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reads || !request.headers().contains_key(AUTHORIZATION) {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    if exempt(&route) {
        return next.run(request).await;
    }
    // The query as asked, up to 500 characters; a longer one (a long
    // filter) keeps its start and a digest of the whole, so padding cannot
    // push what it selects out of the record.
    let asked = request.uri().query().unwrap_or("");
    let query: String = if asked.chars().count() <= 500 {
        asked.to_owned()
    } else {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(asked.as_bytes()));
        format!(
            "{}… ({} characters, sha256 {digest})",
            asked.chars().take(400).collect::<String>(),
            asked.chars().count()
        )
    };
    let slot = Slot::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    // "Not modified" confirms what the tool holds is still what it would
    // be sent: a read as much as the answer itself. So does "not found" for
    // a feature of a derived collection: that a cell holds nothing the
    // reader may see under a filter is derived from observations too. (A
    // record that is not found is no read of it: missing, hidden or
    // withdrawn alike.)
    let feature_miss = response.status() == StatusCode::NOT_FOUND
        && route.starts_with("/ogc/collections/")
        && route.contains("/items/")
        && !route.starts_with("/ogc/collections/observations/");
    if !response.status().is_success()
        && response.status() != StatusCode::NOT_MODIFIED
        && !feature_miss
    {
        return response;
    }
    let Some(viewer) = slot.take() else {
        return response;
    };
    if response.extensions().get::<Audited>().is_some() {
        return response;
    }
    let Credential::Token { purpose, .. } = &viewer.credential else {
        return response;
    };
    let (what, object) = match response.extensions().get::<Disclosed>() {
        Some(d) => (d.what, format!("{} features; {query}", d.count)),
        None => ("api-read", format!("{route}; {query}")),
    };
    let entry = AuditEntry::by(
        &viewer,
        AuditAction::Disclosure,
        what,
        object,
        "",
        Some(purpose),
        state.clock.now(),
    );
    if Box::pin(state.audit.record(entry)).await {
        response
    } else {
        // Nothing is disclosed that is not on the record first.
        Problem::store_unavailable().into_response()
    }
}
