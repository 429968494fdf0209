//! Area alerts and notifications over HTTP: a person's subscriptions and
//! alert email address, and their notifications (see `service::alerts` for
//! what each may say).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

use super::body::{typed, JsonBody};
use super::observations::client_key;
use super::problem::Problem;
use super::{created, AppState};
use crate::domain::observation::FieldError;
use crate::domain::viewer::Viewer;
use crate::service::alerts::{AlertSettings, Inbox, SubscriptionInput};
use crate::service::ServiceError;

/// `GET /api/alerts`: the person's alert email address, whether email can
/// be sent, and the areas they follow.
pub async fn settings(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<AlertSettings>, Problem> {
    Ok(Json(state.alerts.settings(&viewer).await?))
}

/// `POST /api/alerts/subscriptions`: follow an area (`area_id`, or a drawn
/// `geometry`) for some `categories`; 201 with the subscription (200 for a
/// retry with the same Idempotency-Key).
pub async fn subscribe(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let key = client_key(&viewer, &headers)?;
    let input: SubscriptionInput = typed(body)?;
    let (made, new) = state
        .alerts
        .subscribe(&viewer, input, key, state.clock.now())
        .await?;
    Ok(created(
        new,
        format!("/api/alerts/subscriptions/{}", made.id),
        &made,
    ))
}

/// `DELETE /api/alerts/subscriptions/{id}`: stop following an area.
pub async fn unsubscribe(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let not_found = || Problem::not_found().detail("you follow no such area");
    let id = id.parse::<i64>().map_err(|_| not_found())?;
    match state
        .alerts
        .unsubscribe(&viewer, id, state.clock.now())
        .await
    {
        Err(ServiceError::NotFound) => Err(not_found()),
        other => other.map(|()| StatusCode::NO_CONTENT).map_err(Into::into),
    }
}

/// The body of `PUT /api/alerts/email`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    /// The address; `null` or empty removes it.
    pub email: Option<String>,
}

/// `PUT /api/alerts/email`: set or remove the person's alert email address.
pub async fn set_email(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody,
) -> Result<Json<AlertSettings>, Problem> {
    let input: EmailInput = typed(body)?;
    state
        .alerts
        .set_email(&viewer, input.email.as_deref(), state.clock.now())
        .await?;
    Ok(Json(state.alerts.settings(&viewer).await?))
}

/// `GET /api/notifications`: the person's latest notifications, each as
/// their own view shows it now, and how many are unread.
pub async fn inbox(State(state): State<AppState>, viewer: Viewer) -> Result<Json<Inbox>, Problem> {
    Ok(Json(state.alerts.inbox(&viewer, state.clock.now()).await?))
}

/// The body of `POST /api/notifications/read`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadInput {
    /// These notifications, or
    #[serde(default)]
    pub ids: Option<Vec<i64>>,
    /// all of them.
    #[serde(default)]
    pub all: bool,
}

/// `POST /api/notifications/read`: mark notifications read (`ids`, or
/// `all: true`); answers with the inbox as it now is.
pub async fn mark_read(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody,
) -> Result<Json<Inbox>, Problem> {
    let input: ReadInput = typed(body)?;
    let ids = match (input.ids, input.all) {
        (Some(ids), false) if !ids.is_empty() && ids.len() <= 500 => Some(ids),
        (None, true) => None,
        _ => {
            return Err(Problem::invalid(vec![FieldError::new(
                "ids",
                "ids-or-all",
                "give ids (1 to 500 notification ids) or all: true",
            )]))
        }
    };
    let now = state.clock.now();
    state.alerts.mark_read(&viewer, ids, now).await?;
    Ok(Json(state.alerts.inbox(&viewer, now).await?))
}
