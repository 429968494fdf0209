//! Signing in and out, and the signed-in person's own account: password
//! and second factor, over HTTP (the workflows are in
//! [`crate::service::sessions`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, State};
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{cookie, SESSION_COOKIE};
use super::body::{typed, JsonBody};
use super::problem::Problem;
use super::AppState;
use crate::domain::viewer::{Credential, Viewer};
use crate::domain::vocabulary::Role;
use crate::service::sessions::{SignIn, Started};
use crate::store::User;

/// The address a request came from: the peer, or — when the peer is a
/// configured trusted proxy — the last address it put in `X-Forwarded-For`
/// (`unknown` when neither is known).
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

impl<S> FromRequestParts<S> for ClientAddress
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        // The proxy appends the address it saw last; anything before that
        // came from the client and could be forged.
        let forwarded = || {
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|a| a.trim().parse::<std::net::IpAddr>().ok())
        };
        let client = match peer {
            Some(ip) if state.settings.trusted_proxies.contains(&ip) => forwarded().unwrap_or(ip),
            Some(ip) => ip,
            None => return Ok(ClientAddress("unknown".into())),
        };
        Ok(ClientAddress(client.to_string()))
    }
}

/// An account as its owner and its managers see it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    /// Id.
    pub id: i64,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Agency code.
    pub agency: String,
    /// Role.
    pub role: Role,
    /// Administrator?
    pub admin: bool,
    /// Whether a second factor is enrolled.
    pub second_factor: bool,
    /// Whether the role requires one.
    pub second_factor_required: bool,
    /// Whether the account is disabled.
    pub disabled: bool,
}

impl AccountView {
    /// The view of a stored account.
    pub fn of(user: &User) -> Self {
        AccountView {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            agency: user.agency.clone(),
            role: user.role,
            admin: user.is_admin(),
            second_factor: user.totp_secret.is_some(),
            second_factor_required: user.needs_second_factor(),
            disabled: user.disabled_at.is_some(),
        }
    }
}

/// The body of `POST /api/session`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    /// Sign-in name (any case).
    pub username: String,
    /// Password.
    pub password: String,
    /// A six-digit code from the authenticator app.
    #[serde(default)]
    pub totp: Option<String>,
    /// Or one of the recovery codes.
    #[serde(default)]
    pub recovery_code: Option<String>,
}

fn cookie_header(state: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let secure = if state.settings.sessions.secure_cookie {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Answers a session just started with its cookie, its CSRF token and the
/// account (and anything `extra` adds).
fn started(state: &AppState, started: Started, extra: serde_json::Value) -> Response {
    let policy = state.sessions.policy();
    let mut body = json!({
        "account": AccountView::of(&started.user),
        "csrf_token": started.csrf_token,
        "stage": started.stage,
        "idle_timeout_seconds": policy.idle.num_seconds(),
        "absolute_timeout_seconds": policy.absolute.num_seconds(),
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        cookie_header(state, &started.token, policy.absolute.num_seconds()),
    );
    response
}

/// The cookie token a request carries, if any.
fn session_token(headers: &HeaderMap) -> Option<String> {
    let (mut parts, _) = axum::http::Request::new(()).into_parts();
    parts.headers = headers.clone();
    cookie(&parts, SESSION_COOKIE).map(str::to_owned)
}

/// `POST /api/session`: signs in.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let input: SignInBody = typed(body)?;
    let form = SignIn {
        username: input.username,
        password: input.password,
        totp: input.totp,
        recovery_code: input.recovery_code,
    };
    let session = state
        .sessions
        .sign_in(form, &client, session_token(&headers).as_deref())
        .await?;
    Ok(started(&state, session, json!({})))
}

/// `GET /api/session`: the current session's account, stage and CSRF token.
pub async fn current(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, Problem> {
    let token = session_token(&headers)
        .filter(|_| viewer.credential == Credential::Session)
        .ok_or_else(|| Problem::unauthorized("not-signed-in", "No browser session"))?;
    let session = state.sessions.current(&token).await?;
    let policy = state.sessions.policy();
    Ok(Json(json!({
        "account": AccountView::of(&session.user),
        "csrf_token": session.csrf_token,
        "stage": session.stage,
        "idle_timeout_seconds": policy.idle.num_seconds(),
        "absolute_timeout_seconds": policy.absolute.num_seconds(),
    })))
}

/// `DELETE /api/session`: signs out (the CSRF token is required, as for
/// every cookie-authenticated write).
pub async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(token) =
        session_token(&headers).filter(|_| viewer.credential == Credential::Session)
    {
        state.sessions.sign_out(&token).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie_header(&state, "", 0));
    Ok(response)
}

/// Refuses a token before its body is read: changing credentials is for
/// the person, in a browser.
fn require_session(viewer: &Viewer) -> Result<(), Problem> {
    Ok(crate::service::sessions::require_session(viewer)?)
}

/// `GET /api/me`: the signed-in account.
pub async fn me(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    let user = state.sessions.account(&viewer).await?;
    let left = state.sessions.recovery_codes_left(&user).await?;
    Ok(Json(json!({
        "account": AccountView::of(&user),
        "recovery_codes_left": left,
    })))
}

/// The body of `POST /api/me/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// `POST /api/me/password`: changes one's own password; every session of
/// the account ends and a new one starts for this browser.
pub async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    require_session(&viewer)?;
    let input: PasswordChange = typed(body)?;
    let session = state
        .sessions
        .change_password(
            &viewer,
            input.current_password,
            input.new_password,
            session_token(&headers).as_deref(),
        )
        .await?;
    Ok(started(&state, session, json!({})))
}

/// `POST /api/me/second-factor`: offers a new TOTP secret to add to an
/// authenticator app — as text, as its `otpauth:` URI and as that URI's QR
/// code (SVG) for the app to scan; it takes effect once confirmed with a
/// code.
pub async fn offer_second_factor(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    let (secret, uri) = state.sessions.offer_second_factor(&viewer).await?;
    Ok(Json(json!({
        "secret": secret,
        "qr_svg": crate::render::qr_svg(&uri),
        "otpauth_uri": uri,
    })))
}

/// The body of `POST /api/me/second-factor/confirm`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmSecondFactor {
    /// A current code from the app.
    pub code: String,
}

/// `POST /api/me/second-factor/confirm`: confirms the offered secret with a
/// code, answers with ten recovery codes (shown once) and a new session.
pub async fn confirm_second_factor(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    require_session(&viewer)?;
    let input: ConfirmSecondFactor = typed(body)?;
    let (session, codes) = state
        .sessions
        .confirm_second_factor(&viewer, &input.code, session_token(&headers).as_deref())
        .await?;
    Ok(started(&state, session, json!({ "recovery_codes": codes })))
}
