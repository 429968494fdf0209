//! Agencies and user accounts over HTTP: parse and validate, ask
//! `service::accounts` (who may manage whom, separation of duties, audit),
//! serialise. Administrators manage agencies and every account;
//! coordinators the field officers and panel members of their own agency.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::body::{typed, JsonBody};
use super::problem::Problem;
use super::session::AccountView;
use super::AppState;
use crate::domain::account::RoleRequest;
use crate::domain::observation::FieldError;
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::{AgencyKind, Role};
use crate::service::accounts::Updated;
use crate::service::sessions::{hash_password, password_policy};
use crate::service::ServiceError;
use crate::store::{Agency, NewUser, SignIn, UserChange};

/// Service errors as an account manager's client reads them.
fn problem(e: ServiceError) -> Problem {
    match e {
        ServiceError::NotFound => {
            Problem::not_found().detail("no account or agency you manage has that id")
        }
        other => other.into(),
    }
}

fn text(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "invalid-length",
            format!("1 to {max} characters"),
        ));
    }
    value.to_owned()
}

fn code_like(errors: &mut Vec<FieldError>, field: &str, value: &str) -> String {
    let value = value.trim().to_lowercase();
    let ok = (2..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_'));
    if !ok {
        errors.push(FieldError::new(
            field,
            "invalid-format",
            "2 to 64 letters, digits, '.', '-' or '_'",
        ));
    }
    value
}

/// `GET /api/agencies`: every agency (any signed-in person: the app names them).
pub async fn agencies(
    State(state): State<AppState>,
    _viewer: Viewer,
) -> Result<Json<Vec<Agency>>, Problem> {
    Ok(Json(state.accounts.agencies().await?))
}

/// The body of `POST /api/agencies` and `PATCH /api/agencies/{code}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyBody {
    /// Stable code (create only).
    #[serde(default)]
    pub code: Option<String>,
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
    /// Kind code.
    pub kind: String,
}

fn agency_from(body: AgencyBody, code: Option<String>) -> Result<Agency, Problem> {
    let mut errors = Vec::new();
    let code = match code.or(body.code) {
        Some(code) => code_like(&mut errors, "code", &code),
        None => {
            errors.push(FieldError::new(
                "code",
                "missing-field",
                "an agency code is required",
            ));
            String::new()
        }
    };
    let name_en = text(&mut errors, "name_en", &body.name_en, 200);
    let name_cy = text(&mut errors, "name_cy", &body.name_cy, 200);
    let kind = AgencyKind::from_code(&body.kind);
    if kind.is_none() {
        errors.push(FieldError::new(
            "kind",
            "not-in-vocabulary",
            "unknown agency kind",
        ));
    }
    match kind {
        Some(kind) if errors.is_empty() => Ok(Agency {
            code,
            name_en,
            name_cy,
            kind,
        }),
        _ => Err(Problem::invalid(errors)),
    }
}

/// `POST /api/agencies` (administrators).
pub async fn create_agency(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<Agency>), Problem> {
    let agency = agency_from(typed(body)?, None)?;
    let agency = state
        .accounts
        .create_agency(&viewer, agency, state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(agency)))
}

/// `PATCH /api/agencies/{code}` (administrators): names and kind.
pub async fn update_agency(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Agency>, Problem> {
    let agency = agency_from(typed(body)?, Some(code))?;
    match state
        .accounts
        .update_agency(&viewer, agency, state.clock.now())
        .await
    {
        Ok(agency) => Ok(Json(agency)),
        Err(ServiceError::NotFound) => Err(Problem::not_found().detail("no such agency")),
        Err(other) => Err(other.into()),
    }
}

/// `GET /api/users`: the accounts the viewer manages.
pub async fn users(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<Vec<AccountView>>, Problem> {
    let users = state.accounts.users(&viewer).await?;
    Ok(Json(users.iter().map(AccountView::of).collect()))
}

/// `GET /api/users/{id}`.
pub async fn user(
    State(state): State<AppState>,
    viewer: Viewer,
    super::Id(id): super::Id,
) -> Result<Json<AccountView>, Problem> {
    let user = state.accounts.user(&viewer, id).await.map_err(problem)?;
    Ok(Json(AccountView::of(&user)))
}

/// The body of `POST /api/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Agency code (coordinators: their own).
    pub agency: String,
    /// Role code.
    pub role: String,
    /// Also an administrator (administrators only).
    #[serde(default)]
    pub admin: bool,
    /// First password, given to the person out of band.
    pub password: String,
}

/// `POST /api/users`.
pub async fn create_user(
    State(state): State<AppState>,
    viewer: Viewer,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<AccountView>), Problem> {
    let input: NewUserBody = typed(body)?;
    let mut errors = Vec::new();
    let username = code_like(&mut errors, "username", &input.username);
    let display_name = text(&mut errors, "display_name", &input.display_name, 100);
    let agency = code_like(&mut errors, "agency", &input.agency);
    let role = Role::from_code(&input.role);
    if role.is_none() {
        errors.push(FieldError::new("role", "not-in-vocabulary", "unknown role"));
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        return Err(Problem::invalid(errors));
    };
    let admin = input.admin || role == Role::Admin;
    // Refused before the (deliberately slow) password hash is made.
    state.accounts.may_create(&viewer, &agency, role, admin)?;
    password_policy("password", &input.password, &username, &display_name)?;
    let new = NewUser {
        username,
        display_name,
        agency,
        role,
        admin,
        password_hash: hash_password(input.password).await?,
    };
    let user = state
        .accounts
        .create_user(&viewer, new, state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(AccountView::of(&user))))
}

/// The body of `PATCH /api/users/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New role.
    #[serde(default)]
    pub role: Option<String>,
    /// Administrator flag (administrators only).
    #[serde(default)]
    pub admin: Option<bool>,
    /// Disable or re-enable.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// A new password (a reset; every session ends).
    #[serde(default)]
    pub password: Option<String>,
    /// Remove the second factor so the person enrols again.
    #[serde(default)]
    pub reset_second_factor: bool,
}

/// `PATCH /api/users/{id}`: rename, change role, disable (ends every
/// session at once), reset the password or the second factor. A change
/// that would give one account administration and a data role together
/// answers 202 with the request that waits for a second administrator.
pub async fn update_user(
    State(state): State<AppState>,
    viewer: Viewer,
    super::Id(id): super::Id,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<serde_json::Value>), Problem> {
    let input: UserPatch = typed(body)?;
    let mut errors = Vec::new();
    let display_name = input
        .display_name
        .as_deref()
        .map(|n| text(&mut errors, "display_name", n, 100));
    let role = match input.role.as_deref() {
        Some(code) => match Role::from_code(code) {
            Some(role) => Some(role),
            None => {
                errors.push(FieldError::new("role", "not-in-vocabulary", "unknown role"));
                None
            }
        },
        None => None,
    };
    if !errors.is_empty() {
        return Err(Problem::invalid(errors));
    }
    let mut change = UserChange {
        display_name,
        role,
        admin: input.admin,
        password_hash: None,
        disabled: input.disabled,
        reset_second_factor: input.reset_second_factor,
    };
    // Every permission is checked before the (deliberately slow) hash.
    let user = state
        .accounts
        .may_update(&viewer, id, &change)
        .await
        .map_err(problem)?;
    if let Some(proposed) = input.password {
        password_policy("password", &proposed, &user.username, &user.display_name)?;
        change.password_hash = Some(hash_password(proposed).await?);
    }
    match state
        .accounts
        .update_user(&viewer, id, change, state.clock.now())
        .await
        .map_err(problem)?
    {
        Updated::Done(updated) => {
            // Its tokens act with the new role, or not at all, from now on.
            state.tokens.forget_user(id);
            Ok((
                StatusCode::OK,
                Json(serde_json::to_value(AccountView::of(&updated)).unwrap_or_default()),
            ))
        }
        Updated::Pending(user, request) => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "account": AccountView::of(&user),
                "role_request": request,
                "detail": "the change waits for a second administrator's approval",
            })),
        )),
    }
}

/// `GET /api/role-requests`: changes waiting for a second administrator
/// (`?all=true`: decided ones too).
pub async fn role_requests(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<RoleRequest>>, Problem> {
    let mut pending_only = true;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match (name.as_ref(), value.as_ref()) {
            ("all", "true") => pending_only = false,
            ("all", "false") => pending_only = true,
            ("all", _) => {
                return Err(Problem::bad_parameter(
                    "invalid-all",
                    "all",
                    "true or false",
                ))
            }
            (other, _) => return Err(Problem::unknown_parameter(other)),
        }
    }
    Ok(Json(
        state.accounts.role_requests(&viewer, pending_only).await?,
    ))
}

/// `POST /api/role-requests/{id}/approve`.
pub async fn approve_role_request(
    state: State<AppState>,
    viewer: Viewer,
    id: super::Id,
) -> Result<Json<RoleRequest>, Problem> {
    decide_role_request(state, viewer, id, true).await
}

/// `POST /api/role-requests/{id}/refuse`.
pub async fn refuse_role_request(
    state: State<AppState>,
    viewer: Viewer,
    id: super::Id,
) -> Result<Json<RoleRequest>, Problem> {
    decide_role_request(state, viewer, id, false).await
}

async fn decide_role_request(
    State(state): State<AppState>,
    viewer: Viewer,
    super::Id(id): super::Id,
    approve: bool,
) -> Result<Json<RoleRequest>, Problem> {
    let decided = match state
        .accounts
        .decide_role_request(&viewer, id, approve, state.clock.now())
        .await
    {
        Ok(decided) => decided,
        Err(ServiceError::NotFound) => {
            return Err(Problem::not_found().detail("no pending role request has that id"))
        }
        Err(other) => return Err(other.into()),
    };
    if approve {
        state.tokens.forget_user(decided.user_id);
    }
    Ok(Json(decided))
}

/// `GET /api/sign-ins`: the sign-in log, newest first, for the accounts the
/// viewer manages (administrators: every attempt, including unknown names).
pub async fn sign_ins(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<Vec<SignIn>>, Problem> {
    Ok(Json(state.accounts.sign_ins(&viewer).await?))
}
