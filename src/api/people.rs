//! Agencies and user accounts over HTTP. Administrators manage agencies and
//! every account; coordinators manage the accounts of their own agency
//! (field officers, panel members and coordinators, never administrators).
//! Every change is audited.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::body::{typed, JsonBody};
use super::problem::Problem;
use super::session::{hash_password, password_policy, AccountView};
use super::AppState;
use crate::domain::observation::FieldError;
use crate::domain::viewer::{Action, Credential, Reach, Viewer};
use crate::domain::vocabulary::{AgencyKind, AuditAction, Role};
use crate::service::ServiceError;
use crate::store::{Agency, AuditEntry, NewUser, SignIn, User, UserChange};

fn forbidden() -> Problem {
    ServiceError::Forbidden.into()
}

fn require(viewer: &Viewer, action: Action) -> Result<Reach, Problem> {
    match viewer.reach(action) {
        Reach::None | Reach::Own => Err(forbidden()),
        reach => Ok(reach),
    }
}

/// Changing agencies and accounts takes a signed-in person (who passed the
/// second factor), never a tool's token: a leaked token must not be able
/// to take accounts over.
fn require_change(viewer: &Viewer, action: Action) -> Result<Reach, Problem> {
    let reach = require(viewer, action)?;
    if viewer.credential != Credential::Session {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "session-required",
            "Only a signed-in person can change agencies and accounts, not a token",
        ));
    }
    Ok(reach)
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

fn audit(
    viewer: &Viewer,
    action: AuditAction,
    kind: &'static str,
    id: &str,
    agency: &str,
    what: &str,
    state: &AppState,
) -> AuditEntry {
    AuditEntry::by(
        viewer,
        action,
        kind,
        id,
        agency,
        Some(what),
        state.clock.now(),
    )
}

/// `GET /api/agencies`: every agency (any signed-in person: the app names them).
pub async fn agencies(
    State(state): State<AppState>,
    _viewer: Viewer,
) -> Result<Json<Vec<Agency>>, Problem> {
    Ok(Json(state.store.agencies().await?))
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
    require_change(&viewer, Action::ManageAgencies)?;
    let agency = agency_from(typed(body)?, None)?;
    let entry = audit(
        &viewer,
        AuditAction::Collection,
        "agency",
        &agency.code,
        &agency.code,
        "registered an agency",
        &state,
    );
    state.store.create_agency(&agency, entry).await?;
    Ok((StatusCode::CREATED, Json(agency)))
}

/// `PATCH /api/agencies/{code}` (administrators): names and kind.
pub async fn update_agency(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Agency>, Problem> {
    require_change(&viewer, Action::ManageAgencies)?;
    let agency = agency_from(typed(body)?, Some(code))?;
    let entry = audit(
        &viewer,
        AuditAction::Alteration,
        "agency",
        &agency.code,
        &agency.code,
        "renamed an agency",
        &state,
    );
    if !state.store.update_agency(&agency, entry).await? {
        return Err(Problem::not_found().detail("no such agency"));
    }
    Ok(Json(agency))
}

/// Whether `viewer` may manage `user`: administrators any account;
/// coordinators their own agency's field officers and panel members (not
/// fellow coordinators, whom they could otherwise impersonate by resetting
/// password and second factor, and not administrators).
fn manages(viewer: &Viewer, reach: Reach, user: &User) -> bool {
    match reach {
        Reach::Any => true,
        Reach::Agency => {
            user.agency == viewer.agency
                && !user.is_admin()
                && matches!(user.role, Role::FieldOfficer | Role::PanelMember)
        }
        _ => false,
    }
}

/// `GET /api/users`: the accounts the viewer manages.
pub async fn users(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<Vec<AccountView>>, Problem> {
    let reach = require(&viewer, Action::ManageUsers)?;
    let agency = (reach == Reach::Agency).then_some(viewer.agency.as_str());
    let users = state.store.users(agency).await?;
    Ok(Json(
        users
            .iter()
            .filter(|u| manages(&viewer, reach, u))
            .map(AccountView::of)
            .collect(),
    ))
}

/// `GET /api/users/{id}`.
pub async fn user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> Result<Json<AccountView>, Problem> {
    let reach = require(&viewer, Action::ManageUsers)?;
    let user = managed(&state, &viewer, reach, id).await?;
    Ok(Json(AccountView::of(&user)))
}

async fn managed(
    state: &AppState,
    viewer: &Viewer,
    reach: Reach,
    id: i64,
) -> Result<User, Problem> {
    state
        .store
        .user(id)
        .await?
        .filter(|u| manages(viewer, reach, u))
        .ok_or_else(|| Problem::not_found().detail("no account you manage has that id"))
}

const GRANTS: &str =
    "coordinators give the field officer and panel member roles; administrators give any";

/// The roles a manager may give: administrators any; coordinators field
/// officer and panel member.
fn may_grant(reach: Reach, role: Role, admin: bool) -> bool {
    reach == Reach::Any || (matches!(role, Role::FieldOfficer | Role::PanelMember) && !admin)
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
    let reach = require_change(&viewer, Action::ManageUsers)?;
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
    if reach == Reach::Agency && agency != viewer.agency {
        return Err(forbidden()
            .field("agency")
            .detail("coordinators add accounts to their own agency"));
    }
    if !may_grant(reach, role, admin) {
        return Err(forbidden().field("role").detail(GRANTS));
    }
    if combines_duties(role, admin) {
        return Err(Problem::invalid(vec![FieldError::new(
            "admin",
            "dual-role-needs-approval",
            "make the account with one of administration or a data role; giving it the other waits for a second administrator",
        )]));
    }
    password_policy("password", &input.password, &username, &display_name)?;
    let new = NewUser {
        username,
        display_name,
        agency: agency.clone(),
        role,
        admin,
        password_hash: hash_password(input.password).await?,
    };
    let entry = audit(
        &viewer,
        AuditAction::Collection,
        "user",
        "",
        &agency,
        "created an account",
        &state,
    );
    let user = state.store.create_user(&new, entry).await?;
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
/// session at once), reset the password or the second factor.
pub async fn update_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<serde_json::Value>), Problem> {
    let reach = require_change(&viewer, Action::ManageUsers)?;
    let input: UserPatch = typed(body)?;
    let user = managed(&state, &viewer, reach, id).await?;
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
    let next_role = role.unwrap_or(user.role);
    if next_role == Role::Admin && input.admin == Some(false) {
        return Err(Problem::invalid(vec![FieldError::new(
            "admin",
            "admin-role-needs-admin",
            "an administrator without a data role stays an administrator: give them a data role first",
        )]));
    }
    let admin = input.admin.or((role == Some(Role::Admin)).then_some(true));
    if !may_grant(reach, next_role, admin.unwrap_or(user.is_admin())) {
        return Err(forbidden().field("role").detail(GRANTS));
    }
    // Separation of duties: nobody changes their own powers.
    if viewer.user_id() == Some(id) && (role.is_some() || input.admin.is_some()) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "own-role",
            "Nobody changes their own role or administrator flag",
        )
        .field(if role.is_some() { "role" } else { "admin" })
        .detail("ask another administrator"));
    }
    let next_admin = admin.unwrap_or(user.is_admin());
    let role_change = role.is_some_and(|r| r != user.role) || next_admin != user.is_admin();
    if role_change && combines_duties(next_role, next_admin) {
        // Administration and a data role together would let one person
        // give themselves every record: a second administrator decides.
        let entry = audit(
            &viewer,
            AuditAction::Alteration,
            "role-request",
            &id.to_string(),
            &user.agency,
            &format!(
                "asked for {} with administration {}; waits for a second administrator",
                next_role.code(),
                if next_admin { "on" } else { "off" }
            ),
            &state,
        );
        let request = state
            .store
            .request_role_change(id, next_role, next_admin, entry)
            .await?;
        return Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "account": AccountView::of(&user),
                "role_request": request,
                "detail": "the change waits for a second administrator's approval",
            })),
        ));
    }
    let password_hash = match input.password {
        Some(proposed) => {
            password_policy("password", &proposed, &user.username, &user.display_name)?;
            Some(hash_password(proposed).await?)
        }
        None => None,
    };
    let change = UserChange {
        display_name,
        role,
        admin,
        password_hash,
        disabled: input.disabled,
        reset_second_factor: input.reset_second_factor,
    };
    let what = match input.disabled {
        Some(true) => "disabled an account",
        Some(false) => "re-enabled an account",
        None => "changed an account",
    };
    let entry = audit(
        &viewer,
        AuditAction::Alteration,
        "user",
        &id.to_string(),
        &user.agency,
        what,
        &state,
    );
    let updated = state
        .store
        .update_user(id, &change, entry)
        .await?
        .ok_or_else(Problem::not_found)?;
    // Its tokens act with the new role, or not at all, from now on.
    state.tokens.forget_user(id);
    Ok((StatusCode::OK, Json(account_json(&updated))))
}

fn account_json(user: &User) -> serde_json::Value {
    serde_json::to_value(AccountView::of(user)).unwrap_or_default()
}

/// Whether one account would hold administration and a data role at once.
fn combines_duties(role: Role, admin: bool) -> bool {
    admin && role != Role::Admin
}

/// `GET /api/role-requests`: changes waiting for a second administrator
/// (`?all=true`: decided ones too).
pub async fn role_requests(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Json<Vec<crate::store::people::RoleRequest>>, Problem> {
    if require(&viewer, Action::ManageUsers)? != Reach::Any {
        return Err(forbidden().detail("administrators decide role requests"));
    }
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
    Ok(Json(state.store.role_requests(pending_only).await?))
}

/// `POST /api/role-requests/{id}/approve`.
pub async fn approve_role_request(
    state: State<AppState>,
    viewer: Viewer,
    id: Path<i64>,
) -> Result<Json<crate::store::people::RoleRequest>, Problem> {
    decide_role_request(state, viewer, id, true).await
}

/// `POST /api/role-requests/{id}/refuse`.
pub async fn refuse_role_request(
    state: State<AppState>,
    viewer: Viewer,
    id: Path<i64>,
) -> Result<Json<crate::store::people::RoleRequest>, Problem> {
    decide_role_request(state, viewer, id, false).await
}

/// A second administrator decides: never the one who asked, nor the
/// account the change is for.
async fn decide_role_request(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    approve: bool,
) -> Result<Json<crate::store::people::RoleRequest>, Problem> {
    if require_change(&viewer, Action::ManageUsers)? != Reach::Any {
        return Err(forbidden().detail("administrators decide role requests"));
    }
    let request = state
        .store
        .role_request(id)
        .await?
        .filter(|r| r.outcome.is_none())
        .ok_or_else(|| Problem::not_found().detail("no pending role request has that id"))?;
    if request.requested_by == viewer.principal || viewer.user_id() == Some(request.user_id) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "second-administrator-required",
            "A second administrator must decide this",
        )
        .detail("neither whoever asked nor the account's holder may decide a role request"));
    }
    let subject = state
        .store
        .user(request.user_id)
        .await?
        .ok_or_else(Problem::not_found)?;
    let entry = audit(
        &viewer,
        AuditAction::Alteration,
        "role-request",
        &format!("{}; request {id}", request.user_id),
        &subject.agency,
        &format!(
            "{} a role request by {} ({} with administration {})",
            if approve { "approved" } else { "refused" },
            request.requested_by,
            request.role.code(),
            if request.admin { "on" } else { "off" }
        ),
        &state,
    );
    let decided = state
        .store
        .decide_role_request(id, approve, entry)
        .await?
        .ok_or_else(|| Problem::not_found().detail("no pending role request has that id"))?;
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
    let reach = require(&viewer, Action::ManageUsers)?;
    let agency = (reach == Reach::Agency).then_some(viewer.agency.as_str());
    Ok(Json(state.store.sign_ins(agency, 500).await?))
}
