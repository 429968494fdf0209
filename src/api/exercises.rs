//! Exercises over HTTP: set up, the meeting view, annotations, decisions,
//! actions, freezing, packs and follow-up.
//!
//! Coordinators run exercises; the participating agencies' staff see them,
//! and their panel members contribute. The view is decided for the panel
//! (see `crate::exercise`), so it is the same whoever opens it.

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
use crate::analysis::Suppression;
use crate::domain::exercise::{action_status, note, ActionInput, AnnotationInput, ExerciseInput};
use crate::domain::time::{format_instant, parse_instant, unix_millis};
use crate::domain::viewer::{Action, Reach, Viewer};
use crate::domain::vocabulary::AuditAction;
use crate::exercise::{follow_up, for_reader, frozen_view, live_view, snapshot, ExerciseView};
use crate::pack::{Lang, Styles};
use crate::service::ServiceError;
use crate::store::exercises::ExerciseRow;
use crate::store::AuditEntry;

fn forbidden() -> Problem {
    ServiceError::Forbidden.into()
}

/// Whether `viewer` may do `action` on `exercise`.
fn may(viewer: &Viewer, action: Action, exercise: &ExerciseRow) -> bool {
    match viewer.reach(action) {
        Reach::Any => true,
        Reach::Agency => exercise.agencies.contains(&viewer.agency),
        Reach::Own | Reach::None => false,
    }
}

fn audit(
    state: &AppState,
    viewer: &Viewer,
    action: AuditAction,
    id: i64,
    what: &str,
) -> AuditEntry {
    state.audit_entry(viewer, action, "exercise", id.to_string(), what)
}

fn exercise_id(raw: &str) -> Result<i64, Problem> {
    raw.parse()
        .map_err(|_| Problem::not_found().detail("no such exercise"))
}

/// The exercise, if `viewer` may at least see it (otherwise 404: whether
/// an exercise exists is itself not for everyone).
async fn visible(state: &AppState, viewer: &Viewer, id: &str) -> Result<ExerciseRow, Problem> {
    let id = exercise_id(id)?;
    match state.store.exercise(id).await? {
        Some(e) if may(viewer, Action::ReadExercises, &e) => Ok(e),
        _ => Err(Problem::not_found().detail("no such exercise")),
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
    if !viewer.may_at_all(Action::ReadExercises) {
        return Err(forbidden());
    }
    let exercises: Vec<serde_json::Value> = state
        .store
        .exercises()
        .await?
        .iter()
        .filter(|e| may(&viewer, Action::ReadExercises, e))
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
    if viewer.reach(Action::RunExercises) != Reach::Any {
        return Err(forbidden());
    }
    let key = client_key(&viewer, &headers)?;
    let input: ExerciseInput = typed(body)?;
    let new = input.validate().map_err(Problem::invalid)?;
    let entry = audit(
        &state,
        &viewer,
        AuditAction::Collection,
        0,
        "set up an exercise",
    );
    let (id, created) = state
        .store
        .create_exercise(
            &new,
            (&viewer.principal, &viewer.name),
            key.as_deref(),
            entry,
        )
        .await?;
    let exercise = state
        .store
        .exercise(id)
        .await?
        .ok_or_else(Problem::internal)?;
    Ok(super::created(
        created,
        format!("/api/exercises/{id}"),
        summary(&exercise, &state),
    ))
}

/// The view of an exercise — the frozen snapshot, or the live meeting
/// view — as `viewer` may read it (see [`for_reader`]).
async fn view_of(
    state: &AppState,
    viewer: &Viewer,
    exercise: &ExerciseRow,
) -> Result<ExerciseView, Problem> {
    let threshold = state.settings.small_count_threshold;
    let area = state
        .areas
        .get(exercise.area_id)
        .ok_or_else(|| Problem::not_found().detail("the exercise's area is gone"))?;
    let view = match frozen_view(&state.store, exercise, threshold).await? {
        Some(view) => view,
        None => live_view(&state.store, &state.index, &area, exercise, threshold).await?,
    };
    Ok(for_reader(view, &state.index, viewer, &area, threshold))
}

/// `GET /api/exercises/{id}`: the meeting view.
pub async fn read(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<ExerciseView>, Problem> {
    let exercise = visible(&state, &viewer, &id).await?;
    Ok(Json(view_of(&state, &viewer, &exercise).await?))
}

/// An exercise `viewer` may contribute to.
async fn contributing(state: &AppState, viewer: &Viewer, id: &str) -> Result<ExerciseRow, Problem> {
    let exercise = visible(state, viewer, id).await?;
    if !may(viewer, Action::ContributeToExercises, &exercise) {
        return Err(forbidden());
    }
    Ok(exercise)
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
    let exercise = contributing(&state, &viewer, &id).await?;
    let key = client_key(&viewer, &headers)?;
    let input: AnnotationInput = typed(body)?;
    let new = input
        .validate(state.observations.rules())
        .map_err(Problem::invalid)?;
    let entry = audit(
        &state,
        &viewer,
        AuditAction::Alteration,
        exercise.id,
        "annotated an exercise",
    );
    let (annotation, created) = state
        .store
        .add_annotation(exercise.id, &new, key.as_deref(), entry)
        .await?;
    Ok(made(
        created,
        exercise.id,
        json!({"id": annotation, "geometry": new.geometry, "note": new.note}),
    ))
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
    let exercise = contributing(&state, &viewer, &id).await?;
    let key = client_key(&viewer, &headers)?;
    let input: DecisionBody = typed(body)?;
    let mut errors = Vec::new();
    let text = note(&mut errors, "text", &input.text);
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    let entry = audit(
        &state,
        &viewer,
        AuditAction::Alteration,
        exercise.id,
        "recorded a decision",
    );
    let (decision, created) = state
        .store
        .add_decision(exercise.id, &text, key.as_deref(), entry)
        .await?;
    Ok(made(
        created,
        exercise.id,
        json!({"id": decision, "text": text}),
    ))
}

/// `POST /api/exercises/{id}/actions`.
pub async fn add_action(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let exercise = contributing(&state, &viewer, &id).await?;
    let key = client_key(&viewer, &headers)?;
    let input: ActionInput = typed(body)?;
    let new = input.validate().map_err(Problem::invalid)?;
    let entry = audit(
        &state,
        &viewer,
        AuditAction::Alteration,
        exercise.id,
        "agreed an action",
    );
    let (action, created) = state
        .store
        .add_action(exercise.id, &new, key.as_deref(), entry)
        .await?;
    Ok(made(
        created,
        exercise.id,
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
) -> Result<Json<crate::store::exercises::ActionRow>, Problem> {
    let not_found = || Problem::not_found().detail("no such action");
    let id: i64 = id.parse().map_err(|_| not_found())?;
    let action = state.store.action(id).await?.ok_or_else(not_found)?;
    // An action of an exercise the viewer may not see is no more found
    // than one that does not exist.
    let exercise = visible(&state, &viewer, &action.exercise_id.to_string())
        .await
        .map_err(|_| not_found())?;
    if !may(&viewer, Action::ContributeToExercises, &exercise)
        && viewer.agency != action.owner_agency
    {
        return Err(forbidden());
    }
    let input: StatusBody = typed(body)?;
    let mut errors = Vec::new();
    let status = action_status(&mut errors, Some(&input.status));
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    let entry = audit(
        &state,
        &viewer,
        AuditAction::Alteration,
        exercise.id,
        "moved an action on",
    );
    match state
        .store
        .set_action_status(id, input.version, status, entry)
        .await
    {
        Err(crate::store::StoreError::Conflict) => Err(Problem::new(
            StatusCode::CONFLICT,
            "edit-conflict",
            "The action changed meanwhile; reload and try again",
        )
        .field("version")),
        other => Ok(Json(other?)),
    }
}

/// `POST /api/exercises/{id}/freeze`: keep what the panel saw.
pub async fn freeze(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<ExerciseView>, Problem> {
    let exercise = visible(&state, &viewer, &id).await?;
    if viewer.reach(Action::RunExercises) != Reach::Any {
        return Err(forbidden());
    }
    if exercise.frozen_at.is_some() {
        return Err(crate::store::StoreError::Frozen.into());
    }
    let view = view_of(&state, &viewer, &exercise).await?;
    let at = state.clock.now();
    let (snapshot, items) = snapshot(view, &format_instant(at));
    let entry = audit(
        &state,
        &viewer,
        AuditAction::Alteration,
        exercise.id,
        "froze an exercise",
    );
    state
        .store
        .freeze_exercise(exercise.id, &snapshot, &items, entry)
        .await?;
    let frozen = state
        .store
        .exercise(exercise.id)
        .await?
        .ok_or_else(Problem::internal)?;
    Ok(Json(view_of(&state, &viewer, &frozen).await?))
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
    let exercise = visible(&state, &viewer, &id).await?;
    let view = view_of(&state, &viewer, &exercise).await?;
    let printed = state.clock.now().format("%Y-%m-%d %H:%M UTC").to_string();
    let entry = audit(
        &state,
        &viewer,
        AuditAction::Disclosure,
        exercise.id,
        &format!(
            "exercise pack ({format}, {})",
            if lang == Lang::Cy { "cy" } else { "en" }
        ),
    );
    let name = format!("exercise-{}-pack", exercise.id);
    let response = match format.as_str() {
        "geojson" => {
            let body = serde_json::to_vec(&crate::pack::geojson(&view))
                .map_err(|_| Problem::internal())?;
            state.store.record_audit(&entry).await?;
            download("application/geo+json", &format!("{name}.geojson"), body)
        }
        "pdf" => {
            let html = crate::pack::html(&view, lang, &printed, Styles::Inline);
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
            state.store.record_audit(&entry).await?;
            download("application/pdf", &format!("{name}.pdf"), pdf)
        }
        _ => {
            let html = crate::pack::html(&view, lang, &printed, Styles::Linked);
            state.store.record_audit(&entry).await?;
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
        }
    };
    // The pack was recorded as a disclosure above.
    Ok(super::disclosure::audited(response))
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
    let exercise = visible(&state, &viewer, &id).await?;
    state
        .charge(&viewer, crate::service::budget::Kind::Aggregate)
        .await?;
    let Some(frozen) = exercise.frozen_at.as_deref().and_then(parse_instant) else {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "not-frozen",
            "Follow-up compares before and after freezing: freeze the exercise first",
        ));
    };
    let area = state
        .areas
        .get(exercise.area_id)
        .ok_or_else(|| Problem::not_found().detail("the exercise's area is gone"))?;
    let suppression = Suppression::for_role(viewer.role, state.settings.small_count_threshold);
    let result = follow_up(
        &state.index,
        &viewer,
        &area,
        unix_millis(frozen),
        unix_millis(state.clock.now()),
        ring,
        &suppression,
    );
    Ok(Json(
        json!({ "exercise": exercise.id, "follow_up": result }),
    ))
}

/// `GET /api/actions?due=overdue|week|all`: actions across the exercises
/// this viewer may see, soonest due first, each marked overdue or not.
pub async fn actions(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, Problem> {
    let mut due = "all".to_owned();
    for (name, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "due" if matches!(value.as_ref(), "overdue" | "week" | "all") => {
                due = value.into_owned()
            }
            "due" => {
                return Err(Problem::bad_parameter(
                    "invalid-due",
                    "due",
                    "overdue, week or all",
                ))
            }
            other => return Err(Problem::unknown_parameter(other)),
        }
    }
    if !viewer.may_at_all(Action::ReadExercises) {
        return Err(forbidden());
    }
    let today = crate::domain::time::uk_local(state.clock.now()).date();
    let rows = match due.as_str() {
        "overdue" => {
            state
                .store
                .actions_due(today - chrono::Duration::days(1))
                .await?
        }
        "week" => {
            state
                .store
                .actions_due(today + chrono::Duration::days(7))
                .await?
        }
        _ => state.store.actions(None).await?,
    };
    let exercises = state.store.exercises().await?;
    let today_text = today.format("%Y-%m-%d").to_string();
    let list: Vec<serde_json::Value> = rows
        .into_iter()
        .filter_map(|a| {
            let e = exercises.iter().find(|e| e.id == a.exercise_id)?;
            if !may(&viewer, Action::ReadExercises, e) {
                return None;
            }
            let open = matches!(a.status.as_str(), "open" | "in-progress");
            let mut v = serde_json::to_value(&a).ok()?;
            if let Some(o) = v.as_object_mut() {
                o.insert("exercise_title".into(), e.title.clone().into());
                o.insert("overdue".into(), (open && a.due_on < today_text).into());
            }
            Some(v)
        })
        .collect();
    Ok(Json(json!({ "today": today_text, "actions": list })))
}
