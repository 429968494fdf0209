//! Review and retention over HTTP: the coordinators' review queue, and
//! keeping or erasing a record that reached its review date.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::body::{typed, JsonBody};
use super::observations::parse_id;
use super::problem::Problem;
use super::AppState;
use crate::domain::observation::{FieldError, Observation};
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::{Category, Sensitivity, Status};

/// One record in the review queue: what a coordinator needs to decide,
/// without the free text (opening the record is a consultation).
#[derive(Debug, Serialize)]
pub struct QueueEntry {
    /// Id.
    pub id: i64,
    /// Category.
    pub category: Category,
    /// Sensitivity.
    pub sensitivity: Sensitivity,
    /// Status.
    pub status: Status,
    /// When it was seen.
    pub observed_at: String,
    /// Review date reached.
    pub review_by: NaiveDate,
    /// When retention erases it unless it is kept.
    pub erase_on: NaiveDate,
    /// Whether it was withdrawn.
    pub withdrawn: bool,
}

impl QueueEntry {
    fn of(o: &Observation, grace_days: i64) -> Self {
        QueueEntry {
            id: o.id.0,
            category: o.details.category,
            sensitivity: o.details.sensitivity,
            status: o.details.status,
            observed_at: crate::domain::time::format_instant(o.details.observed_at),
            review_by: o.review_by,
            // Retention erases what is past its review date by more than
            // the grace (see `Observations::apply_retention`).
            erase_on: o.review_by + chrono::Duration::days(grace_days + 1),
            withdrawn: o.withdrawn.is_some(),
        }
    }
}

/// `GET /api/review-queue[?limit=N]`: the viewer's agency's records whose
/// review date has come, soonest first.
pub async fn queue(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<QueueEntry>>, Problem> {
    let mut limit = 500;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match (name.as_ref(), value.parse::<i64>()) {
            ("limit", Ok(n)) if (1..=10_000).contains(&n) => limit = n,
            ("limit", _) => {
                return Err(Problem::bad_parameter(
                    "invalid-limit",
                    "limit",
                    "a whole number from 1 to 10000",
                ))
            }
            (other, _) => {
                return Err(Problem::bad_parameter(
                    "unknown-parameter",
                    other,
                    "the queue takes only limit",
                ))
            }
        }
    }
    let today = state.clock.now().date_naive();
    let records = state
        .observations
        .review_queue(&viewer, today, limit)
        .await?;
    let grace = state.settings.retention_grace_days;
    Ok(Json(
        records.iter().map(|o| QueueEntry::of(o, grace)).collect(),
    ))
}

/// The body of `POST /api/observations/{id}/keep`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepInput {
    /// Why it is still needed.
    pub reason: String,
    /// When to review it next (`YYYY-MM-DD`).
    pub next_review: String,
}

/// `POST /api/observations/{id}/keep`: answers with the record's queue entry.
pub async fn keep(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<QueueEntry>, Problem> {
    let id = parse_id(&id)?;
    let input: KeepInput = typed(body)?;
    let next = NaiveDate::parse_from_str(input.next_review.trim(), "%Y-%m-%d").map_err(|_| {
        Problem::invalid(vec![FieldError::new(
            "next_review",
            "invalid-date",
            "a date as YYYY-MM-DD",
        )])
    })?;
    let kept = state
        .observations
        .keep(&viewer, id, &input.reason, next, state.clock.now())
        .await?;
    // The decision, not the record: reading the record is a consultation,
    // with its own purpose.
    Ok(Json(QueueEntry::of(
        &kept,
        state.settings.retention_grace_days,
    )))
}

/// The body of `POST /api/observations/{id}/erase`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseInput {
    /// Why it is erased.
    pub reason: String,
}

/// `POST /api/observations/{id}/erase`: removes the record everywhere; one
/// audit event remains.
pub async fn erase(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, Problem> {
    let id = parse_id(&id)?;
    let input: EraseInput = typed(body)?;
    state
        .observations
        .erase(&viewer, id, &input.reason, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
