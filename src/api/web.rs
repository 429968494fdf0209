//! The web app's files and the basemap, and the security headers every
//! response carries.
//!
//! The app in `web/` is embedded in release builds, so the one binary runs
//! anywhere; debug builds read it from disk, so edits show on reload.

use axum::extract::{Path, Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use super::features::base_url;
use super::problem::Problem;
use super::AppState;
use crate::basemap::Basemap;

#[derive(rust_embed::RustEmbed)]
#[folder = "web/"]
struct Assets;

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" | "" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn asset(path: &str) -> Response {
    let Some(file) = Assets::get(path) else {
        return Problem::not_found().detail("no such file").into_response();
    };
    // The app shell changes with each release; the service worker keeps
    // it for offline use, so browsers should revalidate.
    let cache = if path.starts_with("vendor/") {
        "public, max-age=86400"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(path)),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.data.into_owned(),
    )
        .into_response()
}

/// `GET /`: the app.
pub async fn index() -> Response {
    asset("index.html")
}

/// `GET /sw.js`: the service worker, scoped to the whole app.
pub async fn service_worker() -> Response {
    let mut response = asset("sw.js");
    response.headers_mut().insert(
        HeaderName::from_static("service-worker-allowed"),
        HeaderValue::from_static("/"),
    );
    response
}

/// One of the app's files (`/app.css`, `/js/…`, `/vendor/…`), by the
/// request's path.
pub async fn file_at(uri: axum::http::Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.split('/').any(|part| part == ".." || part.is_empty()) {
        return Problem::not_found().into_response();
    }
    asset(path)
}

/// `GET /basemap/style.json`: the served style, a redirect to the
/// configured remote one, or the plain fallback.
pub async fn style(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(url) = state.basemap.remote_style() {
        return Redirect::temporary(url).into_response();
    }
    let base = base_url(&state.settings, &headers);
    let r = state.observations.rules().service_area;
    let area = [r.min().x, r.min().y, r.max().x, r.max().y];
    Json(state.basemap.style(&base, area)).into_response()
}

/// `GET /basemap/streets.json`: the basemap's named streets, each with the
/// box it covers, for the search box (public map data, cached like tiles).
pub async fn streets(State(state): State<AppState>) -> Result<Response, Problem> {
    let streets = state
        .basemap
        .streets()
        .await
        .ok_or_else(|| Problem::not_found().detail("no MBTiles basemap is configured"))?
        .map_err(|e| {
            tracing::error!(error = %e, "reading the basemap's streets failed");
            Problem::internal()
        })?;
    let mut response = Json(serde_json::json!({ "streets": *streets })).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(response)
}

/// `GET /basemap/tiles/{z}/{x}/{y}.pbf`: one vector tile (204 when empty).
pub async fn tile(
    State(state): State<AppState>,
    Path((z, x, y)): Path<(u8, u32, String)>,
) -> Result<Response, Problem> {
    let tiles = state
        .basemap
        .tiles()
        .ok_or_else(|| Problem::not_found().detail("no MBTiles basemap is configured"))?;
    let y: u32 = y
        .strip_suffix(".pbf")
        .and_then(|y| y.parse().ok())
        .ok_or_else(|| Problem::not_found().detail("tiles are /{z}/{x}/{y}.pbf"))?;
    let data = tiles.tile(z, x, y).await.map_err(|e| {
        tracing::error!(error = %e, "reading a basemap tile failed");
        Problem::internal()
    })?;
    let Some(data) = data else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/vnd.mapbox-vector-tile"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        data.clone(),
    )
        .into_response();
    // MBTiles usually hold gzip-compressed tiles: pass them on as they are.
    if data.starts_with(&[0x1f, 0x8b]) {
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

/// `GET /basemap/fonts/{fontstack}/{range}.pbf`: label glyphs. Every
/// fontstack is answered with the one configured font.
pub async fn glyphs(
    State(state): State<AppState>,
    Path((_fontstack, range)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let glyphs = state
        .basemap
        .glyphs()
        .ok_or_else(|| Problem::not_found().detail("no font is configured"))?;
    let start: u32 = range
        .strip_suffix(".pbf")
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Problem::not_found().detail("glyph ranges are {start}-{end}.pbf"))?;
    // Rendering 256 glyphs takes a moment, once per range: off the async threads.
    let data = tokio::task::spawn_blocking(move || glyphs.range(start))
        .await
        .ok()
        .flatten()
        .ok_or_else(|| Problem::not_found().detail("no such glyph range"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-protobuf"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        data.as_ref().clone(),
    )
        .into_response())
}

/// The Content-Security-Policy: nothing inline, nothing from elsewhere but
/// a configured remote basemap's origin, and no framing.
pub fn content_security_policy(basemap: &Basemap) -> HeaderValue {
    let remote = basemap
        .remote_origin()
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "default-src 'self'; script-src 'self'; worker-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:{remote}; connect-src 'self'{remote}; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"))
}

/// Security headers on every response: the Content-Security-Policy, no
/// framing, no referrer leaks, no type sniffing.
pub async fn security_headers(
    State(csp): State<HeaderValue>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    // Answers about people and records are never stored by browsers or
    // proxies (files that say how to cache themselves keep their say).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("geolocation=(self), camera=(), microphone=()"),
    );
    response
}
