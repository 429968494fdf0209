//! Operations: Prometheus metrics at `/metrics`, and a request id on every
//! request — in its log lines, its `X-Request-Id` header and the
//! `instance` of any problem it is answered with.
//!
//! Counters and histograms go through the `metrics` facade into one
//! process-wide Prometheus recorder. Sizes (the index, caches, pools, the
//! disclosure queue) are read from this instance's state when `/metrics`
//! is scraped, so they are never stale and cost nothing between scrapes.
//!
//! `/metrics` is for operators, not for the people whose work it counts:
//! it answers only with the metrics token (`--metrics-token`), or on its
//! own address (`--metrics-bind`); with neither it does not exist. No
//! label carries an id, a name or a position — routes are their templates
//! (`/api/observations/{id}`), problems their codes.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::problem::Problem;
use super::AppState;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static CURRENT: RequestId;
}

/// One request's id: 16 hex digits made here, or the one a trusted
/// reverse proxy sent (letters, digits, `-` and `_`, at most 64), so that
/// its logs and ours can be matched up. A client's own `X-Request-Id` is
/// not taken: an insider could otherwise reuse another request's id, or
/// one id for a whole script, to blur an investigation.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    fn of(request: &Request, trusted: &[std::net::IpAddr]) -> RequestId {
        let from_proxy = request
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .is_some_and(|peer| trusted.contains(&peer.0.ip()));
        if !from_proxy {
            return RequestId::fresh();
        }
        request
            .headers()
            .get(&REQUEST_ID)
            .filter(|v| {
                let b = v.as_bytes();
                !b.is_empty()
                    && b.len() <= 64
                    && b.iter()
                        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
            })
            .cloned()
            .map_or_else(RequestId::fresh, RequestId)
    }

    fn fresh() -> RequestId {
        // Hex digits are always a valid header value.
        RequestId(
            HeaderValue::try_from(format!("{:016x}", rand::random::<u64>()))
                .unwrap_or(HeaderValue::from_static("0")),
        )
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }

    /// The id of the request being answered on this task, if any.
    pub fn current() -> Option<RequestId> {
        CURRENT.try_with(Clone::clone).ok()
    }
}

/// Every request: gives it an id and a span carrying it (so every log line
/// written while answering it names it), counts it by route template and
/// status, times it, and logs a server error. `trusted` are the reverse
/// proxies whose `X-Request-Id` is kept.
pub async fn observe(
    State(trusted): State<Arc<[std::net::IpAddr]>>,
    request: Request,
    next: Next,
) -> Response {
    let id = RequestId::of(&request, &trusted);
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    // Spans name the route's template, not the path: a tile's path is a
    // place on the map (the app centres on records), and neither query
    // strings (purposes are free text) nor unknown paths belong in logs.
    let span = tracing::info_span!(
        "request",
        request_id = id.as_str(),
        method,
        route = route.as_str(),
    );
    let started = Instant::now();
    let header = id.0.clone();
    let mut response = CURRENT
        .scope(id, next.run(request))
        .instrument(span.clone())
        .await;
    let status = response.status();
    if status.is_server_error() {
        // The cause, where there is one, was logged where it arose.
        span.in_scope(|| tracing::error!(status = status.as_u16(), "answered with a server error"));
    }
    metrics::histogram!(
        "safetymap_http_request_duration_seconds",
        "method" => method,
        "route" => route.clone(),
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "safetymap_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => status.as_str().to_owned(),
    )
    .increment(1);
    response.headers_mut().insert(REQUEST_ID, header);
    response
}

/// Methods as labels: the ones routes answer, and `other` for the rest, so
/// a client cannot make up new series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `/metrics` on the service's own address: only with the metrics token.
pub async fn endpoint(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state
        .settings
        .metrics_token
        .as_deref()
        .filter(|t| !t.is_empty())
    else {
        return Problem::not_found()
            .detail("no such endpoint")
            .into_response();
    };
    let offered = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !crate::security::same_secret(offered, token) {
        return Problem::unauthorized(
            "metrics-token-required",
            "/metrics answers with the metrics token (Authorization: Bearer …)",
        )
        .into_response();
    }
    exposition(&state)
}

/// `/metrics` on the metrics address (`--metrics-bind`), which only
/// operators can reach.
pub async fn unguarded(State(state): State<AppState>) -> Response {
    exposition(&state)
}

/// The router of the metrics address.
pub fn router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(unguarded))
        .with_state(state)
}

fn exposition(state: &AppState) -> Response {
    let handle = crate::telemetry::recorder();
    handle.run_upkeep();
    let mut text = handle.render();
    sizes(state, &mut text);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// One gauge family: its help, its type, and each labelled value.
fn gauge<L: AsRef<str>>(out: &mut String, name: &str, help: &str, values: &[(L, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in values {
        let labels = labels.as_ref();
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// This instance's sizes, read now.
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn sizes(state: &AppState, out: &mut String) {
    let n = |v: usize| v as f64;
    gauge(
        out,
        "safetymap_index_observations",
        "Observations in this instance's spatial index.",
        &[("", n(state.index.len()))],
    );
    gauge(
        out,
        "safetymap_police_points",
        "police.uk crime points in this instance's context layer.",
        &[("", n(state.police.snapshot().tree.size()))],
    );
    let (tiles, bytes) = state.tiles.size();
    gauge(
        out,
        "safetymap_tile_cache_entries",
        "Encoded vector tiles kept.",
        &[("", n(tiles))],
    );
    gauge(
        out,
        "safetymap_tile_cache_bytes",
        "Approximate memory held by kept tiles.",
        &[("", n(bytes))],
    );
    let (tokens, sessions) = state.tokens.size();
    gauge(
        out,
        "safetymap_credential_cache_entries",
        "Verified API tokens and sessions kept, by kind.",
        &[
            ("kind=\"token\"", n(tokens)),
            ("kind=\"session\"", n(sessions)),
        ],
    );
    gauge(
        out,
        "safetymap_disclosure_queue_depth",
        "Disclosure events waiting for the audit writer's next commit.",
        &[("", n(state.audit.queued()))],
    );
    let pools = [
        ("analysis", &state.analysis),
        ("downloads", &state.downloads),
        ("printing", &state.printing),
    ];
    let in_use: Vec<(String, f64)> = pools
        .iter()
        .map(|(name, pool)| (format!("pool=\"{name}\""), n(pool.in_use())))
        .collect();
    let size: Vec<(String, f64)> = pools
        .iter()
        .map(|(name, pool)| (format!("pool=\"{name}\""), n(pool.size())))
        .collect();
    gauge(
        out,
        "safetymap_pool_in_use",
        "Places taken in each pool of costly work.",
        &in_use,
    );
    gauge(
        out,
        "safetymap_pool_size",
        "Places in each pool of costly work.",
        &size,
    );
    let store = state.health.store_pool();
    gauge(
        out,
        "safetymap_store_connections",
        "Store connections, by state (idle, in_use) and the pool's maximum (max).",
        &[
            ("state=\"idle\"", n(store.idle)),
            ("state=\"in_use\"", n(store.open.saturating_sub(store.idle))),
            ("state=\"max\"", n(store.max)),
        ],
    );
    #[allow(clippy::cast_precision_loss)]
    gauge(
        out,
        "safetymap_change_stream_applied",
        "The last change of the change stream this instance applied.",
        &[("", state.changes_applied() as f64)],
    );
}
