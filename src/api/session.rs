//! Signing in and out, and the signed-in person's own account: password
//! and second factor.
//!
//! Sign-in takes a password and, once enrolled, a TOTP code or a recovery
//! code. Coordinators and administrators must have a second factor: until
//! they enrol one, their session can do nothing else. Every attempt is
//! logged; failures are throttled per username and per client address.

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
use crate::domain::observation::FieldError;
use crate::domain::viewer::{Credential, Viewer};
use crate::domain::vocabulary::{AuditAction, Role};
use crate::security::{password, random_hex, totp};
use crate::store::tokens::token_hash;
use crate::store::{AuditEntry, SessionStage, SignInAttempt, User, UserChange};

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

/// Starts a session for `user` and answers with its cookie, its CSRF token
/// and the account.
async fn start_session(
    state: &AppState,
    user: &User,
    replaces: Option<&str>,
    extra: serde_json::Value,
) -> Result<Response, Problem> {
    if let Some(old) = replaces {
        state.tokens.forget_session(&token_hash(old));
        state.store.end_session(&token_hash(old)).await?;
    }
    let stage = if user.must_enrol() {
        SessionStage::EnrolMfa
    } else {
        SessionStage::Full
    };
    // 256 random bits each: a new session token at every sign-in.
    let (token, csrf) = (random_hex(32), random_hex(32));
    state
        .store
        .create_session(&token, &csrf, user.id, stage, state.clock.now())
        .await?;
    let policy = &state.settings.sessions;
    let mut body = json!({
        "account": AccountView::of(user),
        "csrf_token": csrf,
        "stage": stage,
        "idle_timeout_seconds": policy.idle.num_seconds(),
        "absolute_timeout_seconds": policy.absolute.num_seconds(),
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        cookie_header(state, &token, policy.absolute.num_seconds()),
    );
    Ok(response)
}

fn sign_in_failed() -> Problem {
    Problem::unauthorized("sign-in-failed", "The username, password or code is wrong")
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
    let username = input.username.trim().to_lowercase();
    let now = state.clock.now();
    let limits = &state.settings.throttle;
    let user = state.store.user_by_name(&username).await?;
    let attempt = SignInAttempt {
        username: &username,
        user_id: user.as_ref().map(|u| u.id),
        client: &client,
        at: now,
    };
    let reserved = state
        .store
        .reserve_sign_in(
            &attempt,
            now - limits.window,
            (limits.per_account, limits.per_client),
        )
        .await?;
    let Some(attempt_id) = reserved else {
        tracing::warn!(%client, "sign-in throttled");
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "sign-in-throttled",
            "Too many failed sign-ins; wait a few minutes and try again",
        )
        .retry_after(u32::try_from(limits.window.num_seconds()).unwrap_or(u32::MAX)));
    };
    // From here the attempt stands logged as a failure unless it succeeds.
    let failed = || {
        tracing::info!(%client, user = ?attempt.user_id, "sign-in failed");
        Err::<Response, Problem>(sign_in_failed())
    };
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| password::decoy_hash().to_owned());
    let password_ok = verify_password(input.password.clone(), stored).await;
    let Some(user) = user.filter(|u| password_ok && u.disabled_at.is_none()) else {
        return failed();
    };
    if let Some(secret) = &user.totp_secret {
        let second = match (&input.totp, &input.recovery_code) {
            (Some(code), _) => match totp::verify(secret, code, now.timestamp()) {
                Some(step) => state.store.use_totp_step(user.id, step).await?,
                None => false,
            },
            (None, Some(code)) => {
                state
                    .store
                    .use_recovery_code(user.id, &totp::normalise_recovery_code(code), now)
                    .await?
            }
            (None, None) => {
                state.store.settle_sign_in(attempt_id, "incomplete").await?;
                return Err(Problem::unauthorized(
                    "second-factor-required",
                    "Enter the code from your authenticator app",
                )
                .field("totp"));
            }
        };
        if !second {
            return failed();
        }
    }
    state.store.settle_sign_in(attempt_id, "success").await?;
    tracing::info!(%client, user = user.id, "signed in");
    start_session(&state, &user, session_token(&headers).as_deref(), json!({})).await
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
    let session = state.store.session(&token).await?.ok_or_else(|| {
        Problem::unauthorized("session-expired", "Your session has ended; sign in again")
    })?;
    Ok(Json(json!({
        "account": AccountView::of(&session.user),
        "csrf_token": session.csrf_token,
        "stage": session.stage,
        "idle_timeout_seconds": state.settings.sessions.idle.num_seconds(),
        "absolute_timeout_seconds": state.settings.sessions.absolute.num_seconds(),
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
        state.tokens.forget_session(&token_hash(&token));
        state.store.end_session(&token_hash(&token)).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie_header(&state, "", 0));
    Ok(response)
}

async fn own_account(state: &AppState, viewer: &Viewer) -> Result<User, Problem> {
    let id = viewer
        .user_id()
        .ok_or_else(|| Problem::not_found().detail("no account"))?;
    state
        .store
        .user(id)
        .await?
        .ok_or_else(|| Problem::not_found().detail("no account"))
}

fn require_session(viewer: &Viewer) -> Result<(), Problem> {
    if viewer.credential == Credential::Session {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            "session-required",
            "Only a signed-in person can do this, not a token",
        ))
    }
}

/// `GET /api/me`: the signed-in account.
pub async fn me(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    let user = own_account(&state, &viewer).await?;
    let left = state.store.recovery_codes_left(user.id).await?;
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

/// Checks a proposed password for an account, as a field error.
pub fn password_policy(
    field: &str,
    proposed: &str,
    username: &str,
    name: &str,
) -> Result<(), Problem> {
    password::check(proposed, &[username, name]).map_err(|refusal| {
        Problem::invalid(vec![FieldError::new(field, refusal.code, refusal.message)])
    })
}

/// At most this many argon2id computations at once: each takes 19 MiB and
/// tens of milliseconds, so a burst of sign-ins queues here rather than
/// taking hundreds of blocking threads and gigabytes.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Checks a password against a stored hash, off the async threads.
pub async fn verify_password(typed: String, stored: String) -> bool {
    let Ok(_slot) = ARGON2_SLOTS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || password::verify(&typed, &stored))
        .await
        .unwrap_or(false)
}

/// Hashes a password, off the async threads.
pub async fn hash_password(proposed: String) -> Result<String, Problem> {
    let _slot = ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|_| Problem::internal())?;
    tokio::task::spawn_blocking(move || password::hash(&proposed))
        .await
        .map_err(|_| Problem::internal())?
        .map_err(|_| Problem::internal())
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
    let user = own_account(&state, &viewer).await?;
    let stored = user.password_hash.clone();
    if !verify_password(input.current_password.clone(), stored).await {
        return Err(Problem::invalid(vec![FieldError::new(
            "current_password",
            "wrong-password",
            "that is not your current password",
        )]));
    }
    password_policy(
        "new_password",
        &input.new_password,
        &user.username,
        &user.display_name,
    )?;
    let change = UserChange {
        password_hash: Some(hash_password(input.new_password).await?),
        ..UserChange::default()
    };
    let audit = AuditEntry::by(
        &viewer,
        AuditAction::Alteration,
        "user",
        user.id.to_string(),
        &user.agency,
        Some("changed own password"),
        state.clock.now(),
    );
    let user = state
        .store
        .update_user(user.id, &change, audit)
        .await?
        .ok_or_else(Problem::not_found)?;
    state.tokens.forget_user(user.id);
    start_session(&state, &user, session_token(&headers).as_deref(), json!({})).await
}

/// `POST /api/me/second-factor`: offers a new TOTP secret to add to an
/// authenticator app; it takes effect once confirmed with a code.
pub async fn offer_second_factor(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<serde_json::Value>, Problem> {
    require_session(&viewer)?;
    let user = own_account(&state, &viewer).await?;
    if user.totp_secret.is_some() {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "second-factor-already-set",
            "A second factor is already set up; an administrator can reset it",
        ));
    }
    let secret = totp::new_secret();
    state.store.offer_totp(user.id, &secret).await?;
    Ok(Json(json!({
        "secret": secret,
        "otpauth_uri": totp::uri(&secret, &user.username),
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
    let user = own_account(&state, &viewer).await?;
    let secret = user.totp_pending.clone().ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            "no-second-factor-offered",
            "Ask for a new secret first (POST /api/me/second-factor)",
        )
    })?;
    let now = state.clock.now();
    let step = totp::verify(&secret, &input.code, now.timestamp()).ok_or_else(|| {
        Problem::invalid(vec![FieldError::new(
            "code",
            "wrong-code",
            "that code does not match; check the app's clock and try the next code",
        )])
    })?;
    let codes = totp::recovery_codes();
    state
        .store
        .confirm_totp(user.id, &secret, step, &codes)
        .await?;
    let user = own_account(&state, &viewer).await?;
    start_session(
        &state,
        &user,
        session_token(&headers).as_deref(),
        json!({ "recovery_codes": codes }),
    )
    .await
}
