//! Young people's safety mapping over HTTP: sessions, marks, and the
//! `perceptions` collection — pins counted per 100 m square by how many
//! participants marked it red, amber or green, areas and routes as drawn.
//! The workflows and their privacy rules are in `service::perceptions`.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::json;

use super::body::{typed, JsonBody};
use super::features::{base_url, feature_collection, link};
use super::observations::client_key;
use super::problem::Problem;
use super::{allow, created, AppState};
use crate::domain::perception::{MarkInput, SessionInput};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::TimeOfDay;
use crate::service::perceptions::LayerQuery;

/// `GET /api/perception-sessions`: the sessions the viewer may read.
pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, Problem> {
    let sessions = state
        .perceptions
        .sessions(&viewer, state.clock.now())
        .await?;
    // Listed as a consultation, recorded by the service.
    Ok(super::disclosure::audited(
        axum::response::IntoResponse::into_response(Json(json!({ "sessions": sessions }))),
    ))
}

/// `POST /api/perception-sessions`.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    allow(&viewer, Action::RecordPerceptions)?;
    let key = client_key(&viewer, &headers)?;
    let input: SessionInput = typed(body)?;
    let new = input.validate().map_err(Problem::invalid)?;
    let (session, new) = state
        .perceptions
        .create(&viewer, new, key, state.clock.now())
        .await?;
    Ok(created(
        new,
        format!("/api/perception-sessions/{}", session.id),
        session,
    ))
}

fn session_id(raw: &str) -> Result<i64, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found().detail("no such session"))
}

/// `GET /api/perception-sessions/{id}`: the session and its marks, exact
/// only for whoever recorded it; audited.
pub async fn read(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = session_id(&id)?;
    let view = state
        .perceptions
        .session(&viewer, id, state.clock.now())
        .await?;
    // Read as a consultation, recorded by the service.
    Ok(super::disclosure::audited(
        axum::response::IntoResponse::into_response(Json(view)),
    ))
}

/// `POST /api/perception-sessions/{id}/marks`.
pub async fn mark(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    allow(&viewer, Action::RecordPerceptions)?;
    let id = session_id(&id)?;
    let key = client_key(&viewer, &headers)?;
    let input: MarkInput = typed(body)?;
    let mark = input
        .validate(state.observations.rules())
        .map_err(Problem::invalid)?;
    let answer = json!({"session_id": id, "kind": mark.kind, "rating": mark.rating, "route_use": mark.route_use});
    let (mark_id, new) = state
        .perceptions
        .mark(&viewer, id, mark, key, state.clock.now())
        .await?;
    let mut answer = answer;
    answer["id"] = json!(mark_id);
    Ok(created(
        new,
        format!("/api/perception-sessions/{id}"),
        answer,
    ))
}

/// The OGC collection's description.
pub fn collection(base: &str) -> serde_json::Value {
    json!({
        "id": "perceptions",
        "title": "Young people's safety mapping",
        "description": "How many participants marked each 100 m square red, amber or green (kind=pin), the areas they marked (kind=area) and the routes they use or avoid (kind=route); time_of_day filters. Anonymous. Mapio diogelwch pobl ifanc.",
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "links": [
            link(format!("{base}/ogc/collections/perceptions"), "self", "application/json", "This collection"),
            link(format!("{base}/ogc/collections/perceptions/items"), "items", "application/geo+json", "Perceptions as GeoJSON"),
        ]
    })
}

/// `GET /ogc/collections/perceptions/items?kind=&bbox=&time_of_day=`.
pub async fn items(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let mut query = LayerQuery::default();
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "kind" => {
                for k in value.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                    if !matches!(k, "pin" | "area" | "route") {
                        return Err(Problem::bad_parameter(
                            "not-in-vocabulary",
                            "kind",
                            "pin, area or route",
                        ));
                    }
                    query.kinds.insert(k.to_owned());
                }
            }
            "bbox" => query.bbox = Some(super::features::bbox(&value)?),
            "time_of_day" => {
                for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    query.times.push(TimeOfDay::from_code(t).ok_or_else(|| {
                        Problem::bad_parameter(
                            "not-in-vocabulary",
                            "time_of_day",
                            "a time of day from /api/vocabulary",
                        )
                    })?);
                }
            }
            "f" | "limit" => {}
            other => return Err(Problem::unknown_parameter(other)),
        }
    }
    allow(&viewer, Action::ReadLayers)?;
    state
        .charge(&viewer, crate::service::budget::Kind::Aggregate)
        .await?;
    let features = state.perceptions.layer(&viewer, &query).await?;
    let base = base_url(&state.settings, &headers);
    feature_collection(&base, "perceptions", features.len(), features, json!({}))
}
