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

use super::analysis::{param, Answer};
use super::body::{typed, JsonBody};
use super::features::ItemsQuery;
use super::observations::idempotency_key;
use super::places::upload_text;
use super::problem::Problem;
use super::{allow, created, AppState};
use crate::analysis::Suppression;
use crate::areas::{count_in, Area};
use crate::domain::area::{parse_boundaries, DrawnArea};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::AreaKind;
use crate::service::{request_hash, ServiceError};
use crate::store::{AreaImport, StoredArea};

fn summary(a: &Area) -> serde_json::Value {
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

/// The OGC collection's description.
pub fn collection(base: &str) -> serde_json::Value {
    json!({
        "id": "areas",
        "title": "Areas, with observation counts",
        "description": "Wards, LSOAs, neighbourhoods and drawn areas, each with the number of observations in it for any observation filter (kind=ward|lsoa|…); counts below the small-count threshold read \"fewer than\" for roles below coordinator. Ardaloedd, gyda chyfrifon.",
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            super::features::link(format!("{base}/ogc/collections/areas"), "self", "application/json", "This collection"),
            super::features::link(format!("{base}/ogc/collections/areas/items"), "items", "application/geo+json", "Areas as GeoJSON"),
        ]
    })
}

/// `GET /ogc/collections/areas/items`: areas meeting `bbox` (all when
/// absent), of `kind` (all when absent), each with its count for the rest
/// of the observation filter.
pub async fn items(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let query = ItemsQuery::parse_with(raw.as_deref(), &["kind"])?;
    let kinds: Vec<AreaKind> = match param(&query, "kind") {
        None => Vec::new(),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| {
                AreaKind::from_code(c).ok_or_else(|| {
                    Problem::bad_parameter(
                        "not-in-vocabulary",
                        "kind",
                        format!("unknown area kind `{c}`"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    allow(&viewer, Action::ReadLayers)?;
    state
        .charge(&viewer, crate::service::budget::Kind::Aggregate)
        .await?;
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);
    let scope = state.index.scope(&viewer);
    let areas = state.areas.snapshot();
    let features: Vec<serde_json::Value> = areas
        .iter()
        .filter(|a| kinds.is_empty() || kinds.contains(&a.kind))
        .filter(|a| query.filter.bbox.is_none_or(|b| a.meets(b)))
        .take(query.limit)
        .map(|a| {
            let n = count_in(&scope, a, &query.filter);
            let mut properties = summary(a);
            if let (Some(p), Ok(serde_json::Value::Object(c))) =
                (properties.as_object_mut(), serde_json::to_value(suppression.view(n)))
            {
                p.remove("bbox");
                p.extend(c);
            }
            json!({"type": "Feature", "id": a.id, "geometry": a.geometry, "bbox": a.bbox, "properties": properties})
        })
        .collect();
    Answer {
        state: &state,
        headers: &headers,
        collection: "areas",
        audited_as: "areas",
    }
    .send(
        features,
        json!({ "threshold": state.settings.small_count_threshold }),
    )
    .await
}
