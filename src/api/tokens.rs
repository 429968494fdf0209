//! API tokens over HTTP, for administrators: create, list, revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};

use super::auth::TokenCache;
use super::body::{typed, JsonBody};
use super::problem::Problem;
use crate::domain::observation::FieldError;
use crate::domain::time::format_instant;
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::Role;
use crate::store::{Store, TokenRecord};

/// A token as listed (never the secret).
#[derive(Debug, Serialize)]
pub struct TokenView {
    /// Id, for revoking.
    pub id: i64,
    /// Who or what it is for.
    pub name: String,
    /// Role code.
    pub role: Role,
    /// Agency.
    pub agency: String,
    /// Expiry, if any.
    pub expires_at: Option<String>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
    /// The secret, only in the response that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl TokenView {
    fn of(record: TokenRecord, token: Option<String>) -> Self {
        TokenView {
            id: record.id,
            name: record.name,
            role: record.role,
            agency: record.agency,
            expires_at: record.expires_at.map(format_instant),
            revoked_at: record.revoked_at.map(format_instant),
            token,
        }
    }
}

/// The body of `POST /api/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Who or what it is for.
    pub name: String,
    /// Role code.
    pub role: String,
    /// Agency it acts for.
    pub agency: String,
    /// Days until it expires; none: never.
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

fn require_admin(viewer: &Viewer) -> Result<(), Problem> {
    if viewer.may_at_all(Action::ManageTokens) {
        Ok(())
    } else {
        Err(crate::service::ServiceError::Forbidden.into())
    }
}

fn store_failure(e: crate::store::StoreError) -> Problem {
    crate::service::ServiceError::Store(e).into()
}

/// `POST /api/tokens`.
pub async fn create(
    State(store): State<Store>,
    viewer: Viewer,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<TokenView>), Problem> {
    require_admin(&viewer)?;
    let input: NewToken = typed(body)?;
    let mut errors = Vec::new();
    let role = Role::from_code(&input.role);
    if role.is_none() {
        errors.push(FieldError::new("role", "not-in-vocabulary", "unknown role"));
    }
    for (field, value) in [("name", &input.name), ("agency", &input.agency)] {
        if value.trim().is_empty() || value.chars().count() > 100 {
            errors.push(FieldError::new(
                field,
                "invalid-length",
                "1 to 100 characters",
            ));
        }
    }
    if input
        .expires_in_days
        .is_some_and(|d| !(1..=3650).contains(&d))
    {
        errors.push(FieldError::new(
            "expires_in_days",
            "out-of-range",
            "between 1 and 3650 days",
        ));
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        return Err(Problem::invalid(errors));
    };
    let expires = input
        .expires_in_days
        .map(|d| Utc::now() + Duration::days(d));
    let (record, token) = store
        .create_token(input.name.trim(), role, input.agency.trim(), expires)
        .await
        .map_err(store_failure)?;
    Ok((
        StatusCode::CREATED,
        Json(TokenView::of(record, Some(token))),
    ))
}

/// `GET /api/tokens`.
pub async fn list(
    State(store): State<Store>,
    viewer: Viewer,
) -> Result<Json<Vec<TokenView>>, Problem> {
    require_admin(&viewer)?;
    let tokens = store.tokens().await.map_err(store_failure)?;
    Ok(Json(
        tokens.into_iter().map(|t| TokenView::of(t, None)).collect(),
    ))
}

/// `DELETE /api/tokens/{id}`: revokes at once.
pub async fn revoke(
    State(store): State<Store>,
    State(cache): State<TokenCache>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    require_admin(&viewer)?;
    let revoked = store.revoke_token(id).await.map_err(store_failure)?;
    cache.forget(id);
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found().detail("no live token with that id"))
    }
}
