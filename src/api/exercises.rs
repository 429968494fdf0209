//! Exercises over HTTP: set up, the meeting view, annotations, decisions,
//! actions, freezing, packs and follow-up. Each handler parses, asks
//! `service::exercises`, and serialises (the pack renders as HTML, PDF or
//! GeoJSON here).
//!
//! Coordinators run exercises; the participating agencies' staff see them,
//! and their panel members contribute. The view is the panel's (see
//! `crate::exercise`), cut to what the reader's own scope shows.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::body::{typed, JsonBody};
use super::observations::client_key;
use super::problem::Problem;
use super::AppState;
use crate::domain::exercise::{action_status, note, ActionInput, AnnotationInput, ExerciseInput};
use crate::domain::exercise::{ActionRow, ExerciseRow};
use crate::domain::viewer::Viewer;
use crate::exercise::ExerciseView;
use crate::pack::{Lang, Styles};
use crate::service::exercises::Due;
use crate::service::ServiceError;

fn exercise_id(raw: &str) -> Result<i64, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found().detail("no such exercise"))
}

/// Service errors as an exercise's client reads them.
fn problem(e: ServiceError) -> Problem {
    match e {
        ServiceError::NotFound => Problem::not_found().detail("no such exercise"),
        other => other.into(),
    }
}

fn summary(e: &ExerciseRow, state: &AppState) -> serde_json::Value {
    let area = state.areas.get(e.area_id);
    json!({
        "id": e.id, "kind": e.kind, "title": e.title, "area_id": e.area_id,
        "area_name_en": area.as_ref().map(|a| a.name_en.clone()),
        "area_name_cy": area.as_ref().map(|a| a.name_cy.clone()),
        "from": e.from, "to": e.to, "agencies": e.agencies, "facilitator": e.facilitator_name,
        "review_on": e.review_on, "created_at": e.created_at, "frozen_at": e.frozen_at, "previous_id": e.previous_id,
    })
}

/// `GET /api/exercises`: the exercises this viewer may see, newest first.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    let exercises: Vec<serde_json::Value> = state
        .exercises
        .list(&viewer)
        .await
        .map_err(problem)?
        .iter()
        .map(|e| summary(e, &state))
        .collect();
    Ok(Json(json!({ "exercises": exercises })))
}

/// `POST /api/exercises`: set one up (coordinators), facilitated by its
/// creator.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    if !viewer.may_at_all(crate::domain::viewer::Action::RunExercises) {
        return Err(ServiceError::Forbidden.into());
    }
    let key = client_key(&viewer, &headers)?;
    let input: ExerciseInput = typed(body)?;
    let new = input.validate().map_err(Problem::invalid)?;
    let (exercise, created) = state
        .exercises
        .create(&viewer, new, key, state.clock.now())
        .await
        .map_err(problem)?;
    Ok(super::created(
        created,
        format!("/api/exercises/{}", exercise.id),
        summary(&exercise, &state),
    ))
}

/// `GET /api/exercises/{id}`: the meeting view.
pub async fn read(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<ExerciseView>, Problem> {
    let id = exercise_id(&id)?;
    Ok(Json(
        state.exercises.read(&viewer, id).await.map_err(problem)?,
    ))
}

fn made(new: bool, exercise: i64, body: serde_json::Value) -> Response {
    super::created(new, format!("/api/exercises/{exercise}"), body)
}

/// `POST /api/exercises/{id}/annotations`: draw a point, line or polygon
/// with a note.
pub async fn annotate(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let id = exercise_id(&id)?;
    let key = client_key(&viewer, &headers)?;
    let input: AnnotationInput = typed(body)?;
    let new = input
        .validate(state.observations.rules())
        .map_err(Problem::invalid)?;
    let answer = json!({"geometry": new.geometry, "note": new.note});
    let (annotation, created) = state
        .exercises
        .annotate(&viewer, id, new, key, state.clock.now())
        .await
        .map_err(problem)?;
    let mut answer = answer;
    answer["id"] = json!(annotation);
    Ok(made(created, id, answer))
}

/// A decision as a client sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// What was decided.
    #[serde(default)]
    pub text: String,
}

/// `POST /api/exercises/{id}/decisions`.
pub async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let id = exercise_id(&id)?;
    let key = client_key(&viewer, &headers)?;
    let input: DecisionBody = typed(body)?;
    let mut errors = Vec::new();
    let text = note(&mut errors, "text", &input.text);
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    let (decision, created) = state
        .exercises
        .decide(&viewer, id, text.clone(), key, state.clock.now())
        .await
        .map_err(problem)?;
    Ok(made(created, id, json!({"id": decision, "text": text})))
}

/// `POST /api/exercises/{id}/actions`.
pub async fn add_action(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let id = exercise_id(&id)?;
    let key = client_key(&viewer, &headers)?;
    let input: ActionInput = typed(body)?;
    let new = input.validate().map_err(Problem::invalid)?;
    let (action, created) = state
        .exercises
        .add_action(&viewer, id, new, key, state.clock.now())
        .await
        .map_err(problem)?;
    Ok(made(
        created,
        id,
        serde_json::to_value(&action).unwrap_or_default(),
    ))
}

/// A status change as a client sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// New status code.
    pub status: String,
    /// The version read.
    pub version: i64,
}

/// `PATCH /api/actions/{id}`: move an action on (its exercise's
/// contributors, or the owning agency's staff who may see the exercise).
pub async fn set_status(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<ActionRow>, Problem> {
    let not_found = || Problem::not_found().detail("no such action");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let input: StatusBody = typed(body)?;
    let mut errors = Vec::new();
    let status = action_status(&mut errors, Some(&input.status));
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    match state
        .exercises
        .set_action_status(&viewer, id, input.version, status, state.clock.now())
        .await
    {
        Ok(action) => Ok(Json(action)),
        Err(ServiceError::NotFound) => Err(not_found()),
        Err(ServiceError::Conflict) => Err(Problem::new(
            StatusCode::CONFLICT,
            "edit-conflict",
            "The action changed meanwhile; reload and try again",
        )
        .field("version")),
        Err(other) => Err(other.into()),
    }
}

/// `POST /api/exercises/{id}/freeze`: keep what the panel saw.
pub async fn freeze(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<ExerciseView>, Problem> {
    let id = exercise_id(&id)?;
    Ok(Json(
        state
            .exercises
            .freeze(&viewer, id, state.clock.now())
            .await
            .map_err(problem)?,
    ))
}

/// A file to save rather than show.
fn download(content_type: &'static str, file_name: &str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/exercises/{id}/pack?format=html|pdf|geojson&lang=en|cy`: the
/// pack, recorded as a disclosure before it is sent.
pub async fn pack(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let mut format = "html".to_owned();
    let mut lang = Lang::En;
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "format" if matches!(value.as_ref(), "html" | "pdf" | "geojson") => {
                format = value.into_owned()
            }
            "format" => {
                return Err(Problem::bad_parameter(
                    "invalid-format",
                    "format",
                    "html, pdf or geojson",
                ))
            }
            "lang" => {
                lang = Lang::from_code(&value)
                    .ok_or_else(|| Problem::bad_parameter("invalid-lang", "lang", "en or cy"))?
            }
            other => return Err(Problem::unknown_parameter(other)),
        }
    }
    let id = exercise_id(&id)?;
    let now = state.clock.now();
    let local = crate::domain::time::uk_local(now);
    let printed = format!(
        "{}, {}",
        lang.date(&local.format("%Y-%m-%d").to_string()),
        local.format("%H:%M")
    );
    let name = format!("exercise-{id}-pack");
    let what = format!(
        "exercise pack ({format}, {})",
        if lang == Lang::Cy { "cy" } else { "en" }
    );
    // A PDF is made before the disclosure is recorded: if Chromium cannot
    // make it, nothing was disclosed.
    let response = match format.as_str() {
        "geojson" => {
            let view = state
                .exercises
                .pack(&viewer, id, &what, now)
                .await
                .map_err(problem)?;
            let body = serde_json::to_vec(&crate::pack::geojson(&view))
                .map_err(|_| Problem::internal())?;
            download("application/geo+json", &format!("{name}.geojson"), body)
        }
        "pdf" => {
            let view = state.exercises.read(&viewer, id).await.map_err(problem)?;
            let (roads, attribution) = pack_streets(&state, &view).await;
            let streets = crate::pack::Streets {
                roads: &roads,
                attribution,
            };
            let html = crate::pack::html(&view, lang, &printed, Styles::Inline, streets);
            // One Chromium at a time: each takes hundreds of megabytes.
            let pdf = state
                .printing
                .run("format", move |_| Ok(crate::pack::pdf(&html)))
                .await?
                .map_err(|e| {
                    tracing::warn!(error = %e, "pack PDF not made");
                    Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "pdf-unavailable",
                        "The PDF could not be made here",
                    )
                    .detail(format!(
                        "{e}. The printable page (format=html) prints to PDF from any browser."
                    ))
                })?;
            state
                .exercises
                .disclosed(&viewer, id, &what, now)
                .await
                .map_err(problem)?;
            download("application/pdf", &format!("{name}.pdf"), pdf)
        }
        _ => {
            let view = state
                .exercises
                .pack(&viewer, id, &what, now)
                .await
                .map_err(problem)?;
            let (roads, attribution) = pack_streets(&state, &view).await;
            let streets = crate::pack::Streets {
                roads: &roads,
                attribution,
            };
            let html = crate::pack::html(&view, lang, &printed, Styles::Linked, streets);
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
        }
    };
    // The pack was recorded as a disclosure by the service.
    Ok(super::disclosure::audited(response))
}

/// The basemap's roads under a pack's map (none when there is no basemap
/// file, or it cannot be read: the pack is still printed, without them).
async fn pack_streets<'a>(
    state: &'a AppState,
    view: &crate::exercise::ExerciseView,
) -> (Vec<crate::gazetteer::Road>, &'a str) {
    let Some(bbox) = crate::pack::map_bbox(view) else {
        return (Vec::new(), "");
    };
    match state.basemap.roads_within(bbox).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "the pack's streets could not be read");
            (Vec::new(), "")
        }
    }
}

/// The rings follow-up compares, metres.
const FOLLOW_UP_RINGS: [f64; 4] = [250.0, 500.0, 1000.0, 2000.0];

/// `GET /api/exercises/{id}/follow-up?ring=500`: counts before and after
/// freezing, in the area and in a ring around it (metres, 100–2000).
pub async fn follow_up_endpoint(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, Problem> {
    let mut ring = 500.0;
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            // A few fixed rings: any width would let two answers a metre
            // apart count what lies in a one-metre band.
            "ring" => {
                ring = value
                    .parse::<f64>()
                    .ok()
                    .filter(|r| FOLLOW_UP_RINGS.contains(r))
                    .ok_or_else(|| {
                        Problem::bad_parameter(
                            "invalid-ring",
                            "ring",
                            "250, 500, 1000 or 2000 (metres)",
                        )
                    })?
            }
            other => return Err(Problem::unknown_parameter(other)),
        }
    }
    let id = exercise_id(&id)?;
    state
        .charge(&viewer, crate::service::budget::Kind::Aggregate)
        .await?;
    let (exercise, result) = state
        .exercises
        .follow_up(&viewer, id, ring, state.clock.now())
        .await
        .map_err(problem)?;
    Ok(Json(json!({ "exercise": exercise, "follow_up": result })))
}

/// `GET /api/actions?due=overdue|week|all`: actions across the exercises
/// this viewer may see, soonest due first, each marked overdue or not.
pub async fn actions(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, Problem> {
    let mut due = Due::All;
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match (name.as_ref(), value.as_ref()) {
            ("due", "overdue") => due = Due::Overdue,
            ("due", "week") => due = Due::Week,
            ("due", "all") => due = Due::All,
            ("due", _) => {
                return Err(Problem::bad_parameter(
                    "invalid-due",
                    "due",
                    "overdue, week or all",
                ))
            }
            (other, _) => return Err(Problem::unknown_parameter(other)),
        }
    }
    let today = crate::domain::time::uk_local(state.clock.now()).date();
    let list = state.exercises.actions(&viewer, due, today).await?;
    Ok(Json(
        json!({ "today": today.format("%Y-%m-%d").to_string(), "actions": list }),
    ))
}
