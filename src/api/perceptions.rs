//! Young people's safety mapping over HTTP: sessions, marks, and the
//! `perceptions` collection — pins counted per 100 m square by how many
//! participants marked it red, amber or green, areas and routes as drawn.
//! Nothing in any answer identifies a participant: not even their number.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::json;

use super::body::{typed, JsonBody};
use super::observations::client_key;
use super::ogc::{base_url, feature_collection, link};
use super::problem::Problem;
use super::{allow, created, AppState};
use crate::analysis::grid::{Grid, Shape};
use crate::domain::perception::{MarkInput, SessionInput};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::{AuditAction, TimeOfDay};
use crate::store::AuditEntry;

fn audit(state: &AppState, viewer: &Viewer, id: i64, what: &str) -> AuditEntry {
    state.audit_entry(
        viewer,
        AuditAction::Collection,
        "perception-session",
        id.to_string(),
        what,
    )
}

/// `GET /api/perception-sessions`.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    allow(&viewer, Action::RecordPerceptions)?;
    Ok(Json(
        json!({ "sessions": state.store.perception_sessions().await? }),
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
    let entry = audit(&state, &viewer, 0, "recorded a safety-mapping session");
    let (id, new) = state
        .store
        .create_perception_session(&new, &viewer.name, key.as_deref(), entry)
        .await?;
    let session = state
        .store
        .perception_session(id)
        .await?
        .ok_or_else(Problem::internal)?;
    Ok(created(
        new,
        format!("/api/perception-sessions/{id}"),
        session,
    ))
}

fn session_id(raw: &str) -> Result<i64, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found().detail("no such session"))
}

/// `GET /api/perception-sessions/{id}`: the session and its marks.
pub async fn read(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    allow(&viewer, Action::RecordPerceptions)?;
    let id = session_id(&id)?;
    let session = state
        .store
        .perception_session(id)
        .await?
        .ok_or_else(|| Problem::not_found().detail("no such session"))?;
    let marks = state.store.perception_marks(Some(id)).await?;
    Ok(Json(json!({ "session": session, "marks": marks })))
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
    let entry = audit(&state, &viewer, id, "recorded a safety-mapping mark");
    let (mark_id, new) = state
        .store
        .add_perception_mark(id, &mark, key.as_deref(), entry)
        .await?;
    Ok(created(
        new,
        format!("/api/perception-sessions/{id}"),
        json!({"id": mark_id, "session_id": id, "kind": mark.kind, "rating": mark.rating, "route_use": mark.route_use}),
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
    let mut kinds: BTreeSet<String> = BTreeSet::new();
    let mut bbox = None;
    let mut times: Vec<TimeOfDay> = Vec::new();
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
                    kinds.insert(k.to_owned());
                }
            }
            "bbox" => bbox = Some(super::ogc::bbox(&value)?),
            "time_of_day" => {
                for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    times.push(TimeOfDay::from_code(t).ok_or_else(|| {
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
    let marks = state.store.perception_marks(None).await?;
    let wanted = |kind: &str| kinds.is_empty() || kinds.contains(kind);
    let grid = Grid {
        shape: Shape::Square,
        size: 100,
    };
    // Pins per square: the distinct participants (session, number) who
    // marked it each colour, and the reasons given.
    #[derive(Default)]
    struct Square {
        red: BTreeSet<(i64, i64)>,
        amber: BTreeSet<(i64, i64)>,
        green: BTreeSet<(i64, i64)>,
        reasons: BTreeMap<String, u32>,
    }
    let mut squares: BTreeMap<(i64, i64), Square> = BTreeMap::new();
    let mut features = Vec::new();
    for m in &marks {
        let [lon, lat] = m.at;
        if bbox
            .is_some_and(|[x0, y0, x1, y1]: [f64; 4]| lon < x0 || lon > x1 || lat < y0 || lat > y1)
        {
            continue;
        }
        if !times.is_empty()
            && !TimeOfDay::from_code(&m.time_of_day)
                .is_some_and(|t| t == TimeOfDay::Any || times.contains(&t))
        {
            continue;
        }
        match m.kind.as_str() {
            "pin" if wanted("pin") => {
                let Some((e, n)) = crate::analysis::grid::grid_position(m.at) else { continue };
                let cell = grid.cell_of(e, n);
                let square = squares.entry(cell).or_default();
                let who = (m.session_id, m.participant);
                match m.rating.as_deref() {
                    Some("red") => square.red.insert(who),
                    Some("amber") => square.amber.insert(who),
                    _ => square.green.insert(who),
                };
                for r in &m.reasons {
                    *square.reasons.entry(r.clone()).or_default() += 1;
                }
            }
            "area" if wanted("area") => features.push(json!({
                "type": "Feature", "geometry": m.geometry,
                "properties": {"kind": "area", "rating": m.rating, "time_of_day": m.time_of_day, "reasons": m.reasons},
            })),
            "route" if wanted("route") => features.push(json!({
                "type": "Feature", "geometry": m.geometry,
                "properties": {"kind": "route", "route_use": m.route_use, "time_of_day": m.time_of_day, "reasons": m.reasons},
            })),
            _ => {}
        }
    }
    for (cell, s) in squares {
        let Some(outline) = grid.outline(cell) else {
            continue;
        };
        let participants: BTreeSet<&(i64, i64)> =
            s.red.iter().chain(&s.amber).chain(&s.green).collect();
        features.push(json!({
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [outline]},
            "properties": {"kind": "pin-square", "red": s.red.len(), "amber": s.amber.len(), "green": s.green.len(),
                "participants": participants.len(), "reasons": s.reasons},
        }));
    }
    let base = base_url(&state.settings, &headers);
    feature_collection(&base, "perceptions", features.len(), features, json!({}))
}
