//! API tokens over HTTP (the workflows are in [`crate::service::tokens`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::body::{typed, JsonBody};
use super::problem::Problem;
use super::AppState;
use crate::domain::time::format_instant;
use crate::domain::viewer::Viewer;
use crate::service::tokens::NewToken;
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
pub struct NewTokenBody {
    /// What the tool is for; recorded as the purpose of what it reads.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// Days until it expires (1 to 365; default 90).
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

/// `POST /api/tokens`: a token for one of the signed-in person's tools.
pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<TokenView>), Problem> {
    // Refused before the body is read, as every credential change is.
    crate::service::tokens::may_make(&viewer)?;
    let input: NewTokenBody = typed(body)?;
    let new = NewToken {
        name: input.name,
        scope: input.scope,
        expires_in_days: input.expires_in_days,
    };
    let (record, token) = state.api_tokens.create(&viewer, new).await?;
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
    let tokens = state.api_tokens.list(&viewer).await?;
    Ok(Json(
        tokens.into_iter().map(|t| TokenView::of(t, None)).collect(),
    ))
}

/// `DELETE /api/tokens/{id}`: revokes at once.
pub async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    super::Id(id): super::Id,
) -> Result<StatusCode, Problem> {
    state
        .api_tokens
        .revoke(&viewer, id)
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => {
                Problem::not_found().detail("no live token of yours has that id")
            }
            other => other.into(),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
