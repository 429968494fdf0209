//! Areas over HTTP: list, draw, import and delete; and the OGC collection
//! `areas`, each area with the number of observations in it for the
//! layer filter — counted at the positions the viewer is shown, and below
//! the small-count threshold shown as "fewer than 5" to every role below
//! coordinator.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::json;

use super::body::{typed, JsonBody};
use super::observations::idempotency_key;
use super::places::upload_text;
use super::problem::Problem;
use super::{allow, created, AppState};
use crate::areas::Area;
use crate::domain::area::{parse_boundaries, DrawnArea};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::AreaKind;
use crate::service::{request_hash, ServiceError};
use crate::store::{AreaImport, StoredArea};

/// An area's summary: id, code, names, kind, bounding box.
pub(super) fn summary(a: &Area) -> serde_json::Value {
    json!({
        "id": a.id, "kind": a.kind, "code": a.code, "name_en": a.name_en, "name_cy": a.name_cy,
        "bbox": a.bbox,
    })
}

/// `GET /api/areas`: every area, without shapes.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    allow(&viewer, Action::ReadPlaces)?;
    let areas: Vec<serde_json::Value> = state.areas.snapshot().iter().map(|a| summary(a)).collect();
    Ok(Json(json!({ "areas": areas })))
}

fn stored_json(a: &StoredArea) -> serde_json::Value {
    json!({
        "id": a.id, "kind": a.kind, "code": a.code, "name_en": a.name_en, "name_cy": a.name_cy,
        "bbox": a.bbox, "source": a.source,
    })
}

/// `POST /api/areas`: save a drawn area. With `Idempotency-Key` a retry
/// returns the first area (`200`) instead of saving it twice.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    allow(&viewer, Action::ManageAreas)?;
    let key = idempotency_key(&headers)?;
    let drawn: DrawnArea = typed(body)?;
    // The key names the area, so a retry finds it; without one each save
    // is a new area.
    let code = match &key {
        Some(key) => format!("drawn-{}", &request_hash(&(&viewer.principal, key))[..16]),
        None => format!("drawn-{:016x}", rand::random::<u64>()),
    };
    let shape = drawn
        .validate(state.observations.rules(), code)
        .map_err(Problem::invalid)?;
    let (area, new) = state
        .boundaries
        .draw(&viewer, shape, state.clock.now())
        .await?;
    Ok(created(
        new,
        format!("/api/areas/{}", area.id),
        stored_json(&area),
    ))
}

/// `POST /api/areas/import?kind=`: add or replace areas from a GeoJSON
/// boundary file; all or nothing.
pub async fn import(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Json<AreaImport>, Problem> {
    allow(&viewer, Action::ManageAreas)?;
    let mut kind = None;
    let mut source = String::from("upload");
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "kind" => {
                kind = Some(AreaKind::from_code(&value).ok_or_else(|| {
                    Problem::bad_parameter(
                        "not-in-vocabulary",
                        "kind",
                        format!("unknown area kind `{value}`"),
                    )
                })?)
            }
            "source" => source = value.chars().take(200).collect(),
            other => return Err(Problem::unknown_parameter(other)),
        }
    }
    let text = upload_text(
        &headers,
        &body,
        &["application/geo+json", "application/json"],
    )?;
    let shapes =
        parse_boundaries(text, kind, state.observations.rules()).map_err(Problem::invalid)?;
    let report = state
        .boundaries
        .import(&viewer, shapes, source, state.clock.now())
        .await?;
    Ok(Json(report))
}

/// `DELETE /api/areas/{id}`.
pub async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let not_found = || Problem::not_found().detail("no such area");
    let id = id.parse::<i64>().map_err(|_| not_found())?;
    match state
        .boundaries
        .remove(&viewer, id, state.clock.now())
        .await
    {
        Err(ServiceError::NotFound) => Err(not_found()),
        other => other.map(|()| StatusCode::NO_CONTENT).map_err(Into::into),
    }
}
