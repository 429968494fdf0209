//! People and their credentials as the service knows them: agencies, user
//! accounts, role requests, sessions, the sign-in log and API tokens. The
//! store reads and writes them; nothing here touches a database.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::vocabulary::{AgencyKind, Role};

/// An agency: a council directorate, police force, health board, school…
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agency {
    /// Stable short code, e.g. `newport-parks`.
    pub code: String,
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
    /// What kind of organisation it is.
    pub kind: AgencyKind,
}

/// A user account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id; the principal is `user:<id>`.
    pub id: i64,
    /// Sign-in name, lower case.
    pub username: String,
    /// Name shown to colleagues and in the audit log.
    pub display_name: String,
    /// The agency the user belongs to.
    pub agency: String,
    /// Data role, or `admin` for an administrator with none.
    pub role: Role,
    /// Whether the user may administer.
    pub admin: bool,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Confirmed TOTP secret (base32), when enrolled.
    pub totp_secret: Option<String>,
    /// Offered TOTP secret awaiting its first code.
    pub totp_pending: Option<String>,
    /// The last TOTP time step accepted, so each code works once.
    pub totp_last_step: Option<i64>,
    /// When the account was disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// Whether this user may administer: the flag, or the administrator
    /// role (which implies it).
    pub fn is_admin(&self) -> bool {
        self.admin || self.role == Role::Admin
    }

    /// Whether this user must use a second factor (coordinators and admins).
    pub fn needs_second_factor(&self) -> bool {
        self.is_admin() || self.role == Role::Coordinator
    }

    /// Whether this user must enrol a second factor before doing anything.
    pub fn must_enrol(&self) -> bool {
        self.needs_second_factor() && self.totp_secret.is_none()
    }
}

/// A new account, validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in name, lower case.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Agency code (must exist).
    pub agency: String,
    /// Role.
    pub role: Role,
    /// Administrator?
    pub admin: bool,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// Changes to an account, validated; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New administrator flag.
    pub admin: Option<bool>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// Disable (`true`) or enable (`false`).
    pub disabled: Option<bool>,
    /// Remove the second factor (an administrator resetting a lost device).
    pub reset_second_factor: bool,
}

/// A change of role or administrator flag waiting for, or decided by, a
/// second administrator (separation of duties).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRequest {
    /// Id.
    pub id: i64,
    /// The account it would change.
    pub user_id: i64,
    /// The role asked for.
    pub role: Role,
    /// Whether administration is asked for.
    pub admin: bool,
    /// Who asked (a principal).
    pub requested_by: String,
    /// When.
    pub requested_at: String,
    /// approved | refused | superseded; `None` while pending.
    pub outcome: Option<String>,
}

/// What a session is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionStage {
    /// Everything the user's role allows.
    Full,
    /// Only enrolling a second factor (a coordinator or admin without one).
    EnrolMfa,
}

impl SessionStage {
    /// The stage's code, as stored.
    pub fn code(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::EnrolMfa => "enrol-mfa",
        }
    }
}

/// A live session with its user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session token's hash.
    pub token_hash: String,
    /// The CSRF token writes must echo.
    pub csrf_token: String,
    /// What it is good for.
    pub stage: SessionStage,
    /// When it began (for the absolute limit).
    pub created_at: DateTime<Utc>,
    /// When it was last used (for the idle limit).
    pub last_seen_at: DateTime<Utc>,
    /// Its user.
    pub user: User,
}

/// A sign-in attempt to log.
#[derive(Debug, Clone)]
pub struct SignInAttempt<'a> {
    /// The name tried (lower case).
    pub username: &'a str,
    /// The account, when the name is one.
    pub user_id: Option<i64>,
    /// Client address.
    pub client: &'a str,
    /// When.
    pub at: DateTime<Utc>,
}

/// One line of the sign-in log.
#[derive(Debug, Clone, Serialize)]
pub struct SignIn {
    /// When.
    pub at: String,
    /// The name tried.
    pub username: String,
    /// The account, when the name is one.
    pub user_id: Option<i64>,
    /// Client address.
    pub client: String,
    /// `success`, `failure`, `incomplete` (no second-factor code yet) or `throttled`.
    pub outcome: String,
}

/// A token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Row id.
    pub id: i64,
    /// The user it acts as.
    pub user_id: i64,
    /// What the tool is for (the purpose recorded for its disclosures).
    pub name: String,
    /// Whether it may write (`write`) or only read (`read`).
    pub write: bool,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// The scope's code.
    pub fn scope(&self) -> &'static str {
        if self.write {
            "write"
        } else {
            "read"
        }
    }
}
