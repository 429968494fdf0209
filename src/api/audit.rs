//! The audit log over HTTP (who reads what: [`crate::service::audit`]).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::problem::Problem;
use super::AppState;
use crate::domain::time::parse_instant;
use crate::domain::viewer::{Action, Reach, Viewer};
use crate::domain::vocabulary::AuditAction;
use crate::service::ServiceError;
use crate::store::AuditQuery;

/// Largest page of a search.
const MAX_PAGE: i64 = 1000;

/// A parsed search: the query, and the purpose (exports need one).
fn parse(viewer: &Viewer, raw: Option<&str>) -> Result<(AuditQuery, Option<String>), Problem> {
    let mut query = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    // Refused before the query is read, as before; the service decides
    // the reach itself.
    if viewer.reach(Action::ReadAudit) == Reach::None {
        return Err(ServiceError::Forbidden.into());
    }
    let mut purpose = None;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let value = value.into_owned();
        match name.as_ref() {
            "principal" => query.principal = Some(value),
            "object_type" => query.object_type = Some(value),
            "object_id" => query.object_id = Some(value),
            "action" => {
                if AuditAction::from_code(&value).is_none() {
                    return Err(Problem::bad_parameter(
                        "not-in-vocabulary",
                        "action",
                        "see audit_actions in GET /api/vocabulary",
                    ));
                }
                query.action = Some(value);
            }
            "from" | "to" => {
                let t = parse_instant(&value).ok_or_else(|| {
                    Problem::bad_parameter("invalid-datetime", &name, "an RFC 3339 date-time")
                })?;
                let t = crate::domain::time::format_instant(t);
                if name == "from" {
                    query.from = Some(t);
                } else {
                    query.to = Some(t);
                }
            }
            "after" => {
                query.after = Some(value.parse().map_err(|_| {
                    Problem::bad_parameter("invalid-cursor", "after", "a sequence number")
                })?)
            }
            "limit" => {
                let n: i64 = value.parse().map_err(|_| {
                    Problem::bad_parameter("invalid-limit", "limit", "a whole number from 1")
                })?;
                if n < 1 {
                    return Err(Problem::bad_parameter(
                        "invalid-limit",
                        "limit",
                        "a whole number from 1",
                    ));
                }
                query.limit = n.min(MAX_PAGE);
            }
            "purpose" if value.chars().count() > 500 => {
                return Err(Problem::bad_parameter(
                    "too-long",
                    "purpose",
                    "a purpose is at most 500 characters",
                ))
            }
            "purpose" => purpose = Some(value.trim().to_owned()).filter(|p| !p.is_empty()),
            other => return Err(Problem::unknown_parameter(other)),
        }
    }
    Ok((query, purpose))
}

/// `GET /api/audit`: search, oldest first, paged with `after`.
pub async fn search(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, Problem> {
    let (query, _) = parse(&viewer, raw.as_deref())?;
    let limit = query.limit;
    let events = state.audit_log.search(&viewer, query).await?;
    let next = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(Json(json!({ "events": events, "next_after": next })))
}

/// `GET /api/audit/export?purpose=…`: every matching event as a JSON
/// download. A disclosure, so it needs a purpose and is itself audited.
pub async fn export(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let (query, purpose) = parse(&viewer, raw.as_deref())?;
    // The event names the filters; the purpose is kept in its own field.
    let filters = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .filter(|(name, _)| name != "purpose"),
        )
        .finish();
    let now = state.clock.now();
    let export = state
        .audit_log
        .export(&viewer, query, filters, purpose.as_deref(), now)
        .await?;
    let body = serde_json::to_vec_pretty(&json!({
        "exported_at": crate::domain::time::format_instant(now),
        "exported_by": viewer.principal,
        "purpose": purpose,
        "complete": export.complete,
        "next_after": (!export.complete).then(|| export.events.last().map(|e| e.seq)).flatten(),
        "events": export.events,
    }))
    .map_err(|_| Problem::internal())?;
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"safetymap-audit.json\""),
    );
    // Recorded as a disclosure, with its purpose, by the service.
    Ok(super::disclosure::audited(response))
}
