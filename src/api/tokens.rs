//! API tokens over HTTP. A signed-in person makes tokens for their own
//! tools: each acts as them, is scoped to read or write, expires (in 1 to
//! 365 days), and is shown once. People list and revoke their own tokens;
//! administrators list and revoke anyone's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::body::{typed, JsonBody};
use super::problem::Problem;
use super::AppState;
use crate::domain::observation::FieldError;
use crate::domain::time::format_instant;
use crate::domain::viewer::{Action, Credential, Reach, Viewer};
use crate::service::ServiceError;
use crate::store::TokenRecord;

/// A token as listed (never the secret).
#[derive(Debug, Serialize)]
pub struct TokenView {
    /// Id, for revoking.
    pub id: i64,
    /// The user it acts as.
    pub user_id: i64,
    /// What the tool is for.
    pub name: String,
    /// `read` or `write`.
    pub scope: &'static str,
    /// Expiry.
    pub expires_at: String,
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
            user_id: record.user_id,
            scope: record.scope(),
            name: record.name,
            expires_at: format_instant(record.expires_at),
            revoked_at: record.revoked_at.map(format_instant),
            token,
        }
    }
}

/// The body of `POST /api/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the tool is for; recorded as the purpose of what it reads.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// Days until it expires (1 to 365; default 90).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

fn user_id(viewer: &Viewer) -> Result<i64, Problem> {
    viewer
        .user_id()
        .ok_or_else(|| ServiceError::Forbidden.into())
}

/// `POST /api/tokens`: a token for one of the signed-in person's tools.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<TokenView>), Problem> {
    if !viewer.may_at_all(Action::ManageTokens) {
        return Err(ServiceError::Forbidden.into());
    }
    // A token cannot mint tokens: a leaked one must not outlive its expiry.
    if viewer.credential != Credential::Session {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "session-required",
            "Only a signed-in person can make tokens, not a token",
        ));
    }
    let input: NewToken = typed(body)?;
    let mut errors = Vec::new();
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new(
            "name",
            "invalid-length",
            "1 to 200 characters: what the tool is for",
        ));
    }
    let write = match input.scope.as_str() {
        "read" => false,
        "write" => true,
        _ => {
            errors.push(FieldError::new(
                "scope",
                "not-in-vocabulary",
                "read or write",
            ));
            false
        }
    };
    let days = input.expires_in_days.unwrap_or(90);
    if !(1..=365).contains(&days) {
        errors.push(FieldError::new(
            "expires_in_days",
            "out-of-range",
            "between 1 and 365 days",
        ));
    }
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    let expires = state.clock.now() + Duration::days(days);
    let (record, token) = state
        .store
        .create_token(user_id(&viewer)?, name, write, expires)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenView::of(record, Some(token))),
    ))
}

/// `GET /api/tokens`: one's own tokens; administrators see everyone's.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<Vec<TokenView>>, Problem> {
    let owner = match viewer.reach(Action::ManageTokens) {
        Reach::None => return Err(ServiceError::Forbidden.into()),
        Reach::Any => None,
        _ => Some(user_id(&viewer)?),
    };
    let tokens = state.store.tokens(owner).await?;
    Ok(Json(
        tokens.into_iter().map(|t| TokenView::of(t, None)).collect(),
    ))
}

/// `DELETE /api/tokens/{id}`: revokes at once.
pub async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    let reach = viewer.reach(Action::ManageTokens);
    let token = state.store.token(id).await?;
    let mine = |t: &TokenRecord| user_id(&viewer).is_ok_and(|me| me == t.user_id);
    let Some(_) = token.filter(|t| reach == Reach::Any || (reach != Reach::None && mine(t))) else {
        return Err(Problem::not_found().detail("no token of yours has that id"));
    };
    let revoked = state.store.revoke_token(id).await?;
    state.tokens.forget(id);
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found().detail("that token was already revoked"))
    }
}
