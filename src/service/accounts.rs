//! Agencies and user accounts: who may manage whom, and separation of
//! duties. Administrators manage agencies and every account; coordinators
//! their own agency's field officers and panel members. Nobody changes
//! their own role or administrator flag, and giving one account both
//! administration and a data role waits for a second administrator. Every
//! change is audited with it, in one transaction; changing agencies and
//! accounts takes a signed-in person, never a tool's token.

use chrono::{DateTime, Utc};

use super::{to_completion, ServiceError};
use crate::domain::account::{Agency, NewUser, RoleRequest, SignIn, User, UserChange};
use crate::domain::observation::FieldError;
use crate::domain::viewer::{Action, Credential, Reach, Viewer};
use crate::domain::vocabulary::{AuditAction, Role};
use crate::store::{AuditEntry, Store};

/// What coordinators may give, said when they try more.
const GRANTS: &str =
    "coordinators give the field officer and panel member roles; administrators give any";

/// The account workflows.
#[derive(Debug, Clone)]
pub struct Accounts {
    store: Store,
}

/// What a change to an account did.
#[derive(Debug, Clone)]
pub enum Updated {
    /// Made, as the account now is.
    Done(User),
    /// Its role or administrator flag waits for a second administrator;
    /// the account as it still is, and the request.
    Pending(User, RoleRequest),
}

fn require(viewer: &Viewer, action: Action) -> Result<Reach, ServiceError> {
    match viewer.reach(action) {
        Reach::None | Reach::Own => Err(ServiceError::Forbidden),
        reach => Ok(reach),
    }
}

/// Changing agencies and accounts takes a signed-in person (who passed the
/// second factor), never a tool's token: a leaked token must not be able
/// to take accounts over.
fn require_change(viewer: &Viewer, action: Action) -> Result<Reach, ServiceError> {
    let reach = require(viewer, action)?;
    if viewer.credential != Credential::Session {
        return Err(ServiceError::Refused {
            code: "session-required",
            title: "Only a signed-in person can change agencies and accounts, not a token",
            field: None,
            detail: String::new(),
        });
    }
    Ok(reach)
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

/// The roles a manager may give: administrators any; coordinators field
/// officer and panel member.
fn may_grant(reach: Reach, role: Role, admin: bool) -> bool {
    reach == Reach::Any || (matches!(role, Role::FieldOfficer | Role::PanelMember) && !admin)
}

/// Whether `user` would be an administrator after `change` (the
/// administrator role carries administration with it).
fn next_admin(user: &User, change: &UserChange) -> bool {
    change
        .admin
        .or((change.role == Some(Role::Admin)).then_some(true))
        .unwrap_or(user.is_admin())
}

/// Whether one account would hold administration and a data role at once.
fn combines_duties(role: Role, admin: bool) -> bool {
    admin && role != Role::Admin
}

fn refused_grant() -> ServiceError {
    ServiceError::Refused {
        code: "forbidden",
        title: "Your role does not allow this",
        field: Some("role"),
        detail: GRANTS.to_owned(),
    }
}

fn entry(
    viewer: &Viewer,
    action: AuditAction,
    kind: &'static str,
    id: &str,
    agency: &str,
    what: &str,
    now: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry::by(viewer, action, kind, id, agency, Some(what), now)
}

impl Accounts {
    /// Accounts over a store.
    pub fn new(store: Store) -> Accounts {
        Accounts { store }
    }

    /// Every agency (any signed-in person: the app names them).
    pub async fn agencies(&self) -> Result<Vec<Agency>, ServiceError> {
        Ok(self.store.agencies().await?)
    }

    /// Registers an agency (administrators).
    pub async fn create_agency(
        &self,
        viewer: &Viewer,
        agency: Agency,
        now: DateTime<Utc>,
    ) -> Result<Agency, ServiceError> {
        require_change(viewer, Action::ManageAgencies)?;
        let audit = entry(
            viewer,
            AuditAction::Collection,
            "agency",
            &agency.code,
            &agency.code,
            "registered an agency",
            now,
        );
        let store = self.store.clone();
        to_completion(async move {
            store.create_agency(&agency, audit).await?;
            Ok(agency)
        })
        .await
    }

    /// Renames an agency or changes its kind (administrators).
    pub async fn update_agency(
        &self,
        viewer: &Viewer,
        agency: Agency,
        now: DateTime<Utc>,
    ) -> Result<Agency, ServiceError> {
        require_change(viewer, Action::ManageAgencies)?;
        let audit = entry(
            viewer,
            AuditAction::Alteration,
            "agency",
            &agency.code,
            &agency.code,
            "renamed an agency",
            now,
        );
        let store = self.store.clone();
        to_completion(async move {
            if !store.update_agency(&agency, audit).await? {
                return Err(ServiceError::NotFound);
            }
            Ok(agency)
        })
        .await
    }

    /// The accounts `viewer` manages.
    pub async fn users(&self, viewer: &Viewer) -> Result<Vec<User>, ServiceError> {
        let reach = require(viewer, Action::ManageUsers)?;
        let agency = (reach == Reach::Agency).then_some(viewer.agency.as_str());
        Ok(self
            .store
            .users(agency)
            .await?
            .into_iter()
            .filter(|u| manages(viewer, reach, u))
            .collect())
    }

    /// One account `viewer` manages; any other is not found.
    pub async fn user(&self, viewer: &Viewer, id: i64) -> Result<User, ServiceError> {
        let reach = require(viewer, Action::ManageUsers)?;
        self.managed(viewer, reach, id).await
    }

    async fn managed(&self, viewer: &Viewer, reach: Reach, id: i64) -> Result<User, ServiceError> {
        self.store
            .user(id)
            .await?
            .filter(|u| manages(viewer, reach, u))
            .ok_or(ServiceError::NotFound)
    }

    /// Whether `viewer` may make an account of `role` (and `admin`) in
    /// `agency`: asked before the password is hashed, and again when the
    /// account is made.
    pub fn may_create(
        &self,
        viewer: &Viewer,
        agency: &str,
        role: Role,
        admin: bool,
    ) -> Result<(), ServiceError> {
        let reach = require_change(viewer, Action::ManageUsers)?;
        if reach == Reach::Agency && agency != viewer.agency {
            return Err(ServiceError::Refused {
                code: "forbidden",
                title: "Your role does not allow this",
                field: Some("agency"),
                detail: "coordinators add accounts to their own agency".into(),
            });
        }
        if !may_grant(reach, role, admin) {
            return Err(refused_grant());
        }
        if combines_duties(role, admin) {
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "admin",
                "dual-role-needs-approval",
                "make the account with one of administration or a data role; giving it the other waits for a second administrator",
            )]));
        }
        Ok(())
    }

    /// Makes an account (its password already checked and hashed).
    pub async fn create_user(
        &self,
        viewer: &Viewer,
        new: NewUser,
        now: DateTime<Utc>,
    ) -> Result<User, ServiceError> {
        self.may_create(viewer, &new.agency, new.role, new.admin)?;
        if Viewer::BUILT_IN_PRINCIPALS.contains(&new.username.as_str()) {
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "username",
                "reserved",
                "this name is the service's own in the audit trail: choose another",
            )]));
        }
        let audit = entry(
            viewer,
            AuditAction::Collection,
            "user",
            "",
            &new.agency,
            "created an account",
            now,
        );
        let store = self.store.clone();
        to_completion(async move { Ok(store.create_user(&new, audit).await?) }).await
    }

    /// Whether `viewer` may make `change` to account `id`, answering the
    /// account as it is: asked before a new password is hashed (the hash
    /// is slow on purpose), and again when the change is made.
    pub async fn may_update(
        &self,
        viewer: &Viewer,
        id: i64,
        change: &UserChange,
    ) -> Result<User, ServiceError> {
        let reach = require_change(viewer, Action::ManageUsers)?;
        let user = self.managed(viewer, reach, id).await?;
        let next_role = change.role.unwrap_or(user.role);
        if next_role == Role::Admin && change.admin == Some(false) {
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "admin",
                "admin-role-needs-admin",
                "an administrator without a data role stays an administrator: give them a data role first",
            )]));
        }
        let next_admin = next_admin(&user, change);
        if !may_grant(reach, next_role, next_admin) {
            return Err(refused_grant());
        }
        // Separation of duties: nobody changes their own powers.
        if viewer.user_id() == Some(id) && (change.role.is_some() || change.admin.is_some()) {
            return Err(ServiceError::Refused {
                code: "own-role",
                title: "Nobody changes their own role or administrator flag",
                field: Some(if change.role.is_some() {
                    "role"
                } else {
                    "admin"
                }),
                detail: "ask another administrator".into(),
            });
        }
        Ok(user)
    }

    /// Changes account `id`: its name, role, administrator flag, password,
    /// whether it is disabled, its second factor. A change that would give
    /// one account administration and a data role together is recorded as
    /// a request for a second administrator instead (and nothing else in
    /// the change is made).
    pub async fn update_user(
        &self,
        viewer: &Viewer,
        id: i64,
        change: UserChange,
        now: DateTime<Utc>,
    ) -> Result<Updated, ServiceError> {
        let user = self.may_update(viewer, id, &change).await?;
        let next_role = change.role.unwrap_or(user.role);
        let next_admin = next_admin(&user, &change);
        let role_change =
            change.role.is_some_and(|r| r != user.role) || next_admin != user.is_admin();
        let store = self.store.clone();
        if role_change && combines_duties(next_role, next_admin) {
            // Administration and a data role together would let one person
            // give themselves every record: a second administrator decides.
            let audit = entry(
                viewer,
                AuditAction::Alteration,
                "role-request",
                &id.to_string(),
                &user.agency,
                &format!(
                    "asked for {} with administration {}; waits for a second administrator",
                    next_role.code(),
                    if next_admin { "on" } else { "off" }
                ),
                now,
            );
            let request = to_completion(async move {
                Ok(store
                    .request_role_change(id, next_role, next_admin, audit)
                    .await?)
            })
            .await?;
            return Ok(Updated::Pending(user, request));
        }
        // The administrator role carries administration with it.
        let admin = change
            .admin
            .or((change.role == Some(Role::Admin)).then_some(true));
        let change = UserChange { admin, ..change };
        let what = match change.disabled {
            Some(true) => "disabled an account",
            Some(false) => "re-enabled an account",
            None => "changed an account",
        };
        let audit = entry(
            viewer,
            AuditAction::Alteration,
            "user",
            &id.to_string(),
            &user.agency,
            what,
            now,
        );
        to_completion(async move {
            store
                .update_user(id, &change, audit)
                .await?
                .map(Updated::Done)
                .ok_or(ServiceError::NotFound)
        })
        .await
    }

    /// Role requests (administrators): pending ones, or all.
    pub async fn role_requests(
        &self,
        viewer: &Viewer,
        pending_only: bool,
    ) -> Result<Vec<RoleRequest>, ServiceError> {
        if require(viewer, Action::ManageUsers)? != Reach::Any {
            return Err(ServiceError::Forbidden);
        }
        Ok(self.store.role_requests(pending_only).await?)
    }

    /// A second administrator approves (applying it) or refuses a pending
    /// role request: never the one who asked, nor the account's holder.
    pub async fn decide_role_request(
        &self,
        viewer: &Viewer,
        id: i64,
        approve: bool,
        now: DateTime<Utc>,
    ) -> Result<RoleRequest, ServiceError> {
        if require_change(viewer, Action::ManageUsers)? != Reach::Any {
            return Err(ServiceError::Forbidden);
        }
        let request = self
            .store
            .role_request(id)
            .await?
            .filter(|r| r.outcome.is_none())
            .ok_or(ServiceError::NotFound)?;
        if request.requested_by == viewer.principal || viewer.user_id() == Some(request.user_id) {
            return Err(ServiceError::Refused {
                code: "second-administrator-required",
                title: "A second administrator must decide this",
                field: None,
                detail: "neither whoever asked nor the account's holder may decide a role request"
                    .into(),
            });
        }
        let subject = self
            .store
            .user(request.user_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let audit = entry(
            viewer,
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
            now,
        );
        let store = self.store.clone();
        to_completion(async move {
            store
                .decide_role_request(id, approve, audit)
                .await?
                .ok_or(ServiceError::NotFound)
        })
        .await
    }

    /// The sign-in log for the accounts `viewer` manages (administrators:
    /// every attempt, including unknown names), newest first.
    pub async fn sign_ins(&self, viewer: &Viewer) -> Result<Vec<SignIn>, ServiceError> {
        let reach = require(viewer, Action::ManageUsers)?;
        let agency = (reach == Reach::Agency).then_some(viewer.agency.as_str());
        Ok(self.store.sign_ins(agency, 500).await?)
    }
}
