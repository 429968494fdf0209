//! Young people's safety mapping over HTTP: sessions, marks, and the
//! `perceptions` collection — pins counted per 100 m square by how many
//! participants marked it red, amber or green, areas and routes as drawn.
//! The workflows and their privacy rules are in `service::perceptions`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::json;

use super::body::{typed, JsonBody};
use super::observations::client_key;
use super::problem::Problem;
use super::{allow, created, AppState};
use crate::domain::perception::{MarkInput, SessionInput};
use crate::domain::viewer::{Action, Viewer};

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
