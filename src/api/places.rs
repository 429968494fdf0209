//! The places register over HTTP: list, read (with the place's
//! observations over time), add, edit, remove and import; and the OGC
//! collection `places`.
//!
//! The register holds premises and public spaces, not people, so every
//! signed-in role reads it. A place's observations are the ones linked to
//! it that the viewer sees exactly: a generalised record carries no place
//! link, so it is not counted here either.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::body::{typed, JsonBody};
use super::observations::idempotency_key;
use super::problem::Problem;
use super::{allow, created, AppState};
use crate::domain::observation::FieldError;
use crate::domain::place::{parse_import, Place, PlaceInput};
use crate::domain::time::uk_local;
use crate::domain::viewer::{Action, Viewer};
use crate::service::{request_hash, ServiceError};
use crate::store::{IdempotencyKey, PlaceImport};

/// Service errors as a place's client should read them.
fn problem(e: ServiceError) -> Problem {
    match e {
        ServiceError::NotFound => Problem::not_found().detail("no such place on the register"),
        ServiceError::Conflict => Problem::new(
            StatusCode::CONFLICT,
            "edit-conflict",
            "The place changed while you were editing it; reload and try again",
        )
        .field("version"),
        other => other.into(),
    }
}

fn place_id(raw: &str) -> Result<i64, Problem> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Problem::not_found().detail("no such place on the register"))
}

/// `GET /api/places`: the register.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    let places = state.places.list(&viewer).await.map_err(problem)?;
    Ok(Json(json!({ "places": places })))
}

/// One linked observation in a place's view.
#[derive(Debug, Serialize)]
struct Linked {
    id: i64,
    observed_at: String,
    category: crate::domain::vocabulary::Category,
    status: crate::domain::vocabulary::Status,
    severity: crate::domain::vocabulary::Severity,
}

/// `GET /api/places/{id}`: the place and its observations over time, by
/// UK month.
pub async fn read(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let id = place_id(&id)?;
    let view = state.places.read(&viewer, id).await.map_err(problem)?;
    let (place, found) = (view.place, view.observations);
    let mut by_month: std::collections::BTreeMap<String, u32> = Default::default();
    for o in &found {
        *by_month
            .entry(uk_local(o.observed_at()).format("%Y-%m").to_string())
            .or_default() += 1;
    }
    let items: Vec<Linked> = found
        .iter()
        .map(|o| Linked {
            id: o.id,
            observed_at: crate::domain::time::format_instant(o.observed_at()),
            category: o.category,
            status: o.status,
            severity: o.severity,
        })
        .collect();
    Ok(Json(json!({
        "place": place,
        "observations": {
            "total": found.len(),
            "by_month": by_month.into_iter().map(|(month, count)| json!({"month": month, "count": count})).collect::<Vec<_>>(),
            "items": items,
        }
    })))
}

/// `POST /api/places`: add a place. With `Idempotency-Key`, a retry
/// returns the first place (`200`) rather than adding it again.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    allow(&viewer, Action::ManagePlaces)?;
    let key = idempotency_key(&headers)?;
    let input: PlaceInput = typed(body)?;
    if input.version.is_some() || input.source_ref.is_some() {
        return Err(Problem::invalid(vec![
            crate::domain::observation::FieldError::new(
                if input.version.is_some() {
                    "version"
                } else {
                    "ref"
                },
                "not-allowed-here",
                "version is for edits and ref for imports",
            ),
        ]));
    }
    let details = input
        .validate(state.observations.rules(), "")
        .map_err(Problem::invalid)?;
    let key = key.map(|key| IdempotencyKey {
        key,
        request_hash: request_hash(&details),
    });
    let (place, new) = state
        .places
        .add(&viewer, details, key, state.clock.now())
        .await
        .map_err(problem)?;
    Ok(created(new, format!("/api/places/{}", place.id), &place))
}

/// `PUT /api/places/{id}`: replace a place's entry; `version` must be the
/// one read.
pub async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Place>, Problem> {
    allow(&viewer, Action::ManagePlaces)?;
    let id = place_id(&id)?;
    let input: PlaceInput = typed(body)?;
    let Some(version) = input.version else {
        return Err(Problem::invalid(vec![
            crate::domain::observation::FieldError::new(
                "version",
                "missing-field",
                "send the version you read, so edits made meanwhile are not lost",
            ),
        ]));
    };
    let details = input
        .validate(state.observations.rules(), "")
        .map_err(Problem::invalid)?;
    let place = state
        .places
        .edit(&viewer, id, version, details, state.clock.now())
        .await
        .map_err(problem)?;
    Ok(Json(place))
}

/// `DELETE /api/places/{id}`: take a place off the register.
pub async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let id = place_id(&id)?;
    state
        .places
        .remove(&viewer, id, state.clock.now())
        .await
        .map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reads an uploaded file's text: CSV, GeoJSON or JSON, UTF-8.
pub(super) fn upload_text<'a>(
    headers: &HeaderMap,
    body: &'a Bytes,
    kinds: &[&str],
) -> Result<&'a str, Problem> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !kinds.contains(&essence.as_str()) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Send the file as one of the media types this import takes",
        )
        .field("Content-Type")
        .detail(kinds.join(", ")));
    }
    let text = std::str::from_utf8(body).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "not-utf8",
            "The file must be UTF-8 text",
        )
        .field("file")
    })?;
    // The one rule for text (domain::text), for files too: as written in
    // it, or escaped inside a JSON string.
    let escaped = || {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| crate::domain::text::first_forbidden(&v))
    };
    let at = match crate::domain::text::first_forbidden_line(text) {
        Some(line) => Some(format!("line {line}")),
        None if essence != "text/csv" => escaped(),
        None => None,
    };
    match at {
        Some(at) => Err(Problem::invalid(vec![FieldError::new(
            "file",
            crate::domain::text::CODE,
            format!("{} (at {at})", crate::domain::text::MESSAGE),
        )])),
        None => Ok(text),
    }
}

/// `POST /api/places/import`: add or update places from a CSV or GeoJSON
/// file; all or nothing.
pub async fn import(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PlaceImport>, Problem> {
    allow(&viewer, Action::ManagePlaces)?;
    let text = upload_text(
        &headers,
        &body,
        &["text/csv", "application/geo+json", "application/json"],
    )?;
    let places = parse_import(text, state.observations.rules()).map_err(Problem::invalid)?;
    Ok(Json(
        state
            .places
            .import(&viewer, places, state.clock.now())
            .await
            .map_err(problem)?,
    ))
}
