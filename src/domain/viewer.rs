//! Who is asking: the `Viewer` every read and write knows, and the one
//! table of what each role may do.

use super::vocabulary::Role;

/// How a request proved who it is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session cookie.
    Session,
    /// An API token for a tool.
    Token {
        /// The token's id.
        id: i64,
        /// Whether the token may write.
        write: bool,
        /// What the tool is for: the purpose recorded for its disclosures.
        purpose: String,
    },
    /// The command line, run by someone with access to the server.
    Console,
    /// The service itself (the retention job).
    System,
}

/// The authenticated person or tool behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Stable reference to the principal, recorded as `recorded_by`, in
    /// history and in the audit trail: `user:<id>`, or `system`.
    pub principal: String,
    /// Display name of the principal.
    pub name: String,
    /// The agency the principal belongs to.
    pub agency: String,
    /// The principal's role: a data role, or `admin` for an administrator
    /// with no data role.
    pub role: Role,
    /// Whether the principal may also administer (agencies, accounts, audit).
    pub admin: bool,
    /// How the request was authenticated.
    pub credential: Credential,
}

/// Something a viewer may try to do. Checked on the server for every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Log a new observation.
    CreateObservation,
    /// Read map layers (OGC items, later tiles).
    ReadLayers,
    /// Open one observation's full record.
    ReadObservation,
    /// Edit an observation (fields, grading, status).
    EditObservation,
    /// Withdraw an observation with a reason.
    WithdrawObservation,
    /// Work the review queue: keep a record for longer, or erase it.
    ReviewObservation,
    /// Create and edit agencies.
    ManageAgencies,
    /// Create, edit and disable user accounts.
    ManageUsers,
    /// Create, list and revoke API tokens.
    ManageTokens,
    /// Search and export the audit log.
    ReadAudit,
    /// Read the places register and the list of areas.
    ReadPlaces,
    /// Add, edit, remove and import places.
    ManagePlaces,
    /// Draw, import and delete areas.
    ManageAreas,
    /// See exercises (their meeting view, packs and follow-up).
    ReadExercises,
    /// Set up and freeze exercises.
    RunExercises,
    /// Annotate, decide and agree actions in an exercise, and move actions on.
    ContributeToExercises,
    /// Record young people's safety-mapping sessions.
    RecordPerceptions,
    /// Produce a licensing consultation report.
    LicensingReport,
}

impl Action {
    /// Every action, in the order the matrix is documented.
    pub const ALL: &'static [Action] = &[
        Action::CreateObservation,
        Action::ReadLayers,
        Action::ReadObservation,
        Action::EditObservation,
        Action::WithdrawObservation,
        Action::ReviewObservation,
        Action::ManageAgencies,
        Action::ManageUsers,
        Action::ManageTokens,
        Action::ReadAudit,
        Action::ReadPlaces,
        Action::ManagePlaces,
        Action::ManageAreas,
        Action::ReadExercises,
        Action::RunExercises,
        Action::ContributeToExercises,
        Action::RecordPerceptions,
        Action::LicensingReport,
    ];

    /// What the action is, in the documentation's words.
    pub fn describe(self) -> &'static str {
        match self {
            Action::CreateObservation => "log an observation",
            Action::ReadLayers => "read layers (OGC items)",
            Action::ReadObservation => "open an observation's detail",
            Action::EditObservation => "edit an observation",
            Action::WithdrawObservation => "withdraw an observation",
            Action::ReviewObservation => "review queue: keep or erase",
            Action::ManageAgencies => "manage agencies",
            Action::ManageUsers => "manage user accounts",
            Action::ManageTokens => "API tokens",
            Action::ReadAudit => "search and export the audit log",
            Action::ReadPlaces => "read the places register and areas",
            Action::ManagePlaces => "add, edit and import places",
            Action::ManageAreas => "draw and import areas",
            Action::ReadExercises => "see exercises, packs and follow-up",
            Action::RunExercises => "set up and freeze exercises",
            Action::ContributeToExercises => "annotate, decide and agree actions",
            Action::RecordPerceptions => "record safety-mapping sessions",
            Action::LicensingReport => "licensing consultation reports",
        }
    }
}

/// Whose records an allowed action reaches. Ordered: a wider reach compares
/// greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// Not allowed at all.
    None,
    /// Only records (or tokens) of this principal.
    Own,
    /// Records or accounts of this principal's agency.
    Agency,
    /// Any record the privacy rules let the viewer see.
    Any,
}

impl Reach {
    fn describe(self) -> &'static str {
        match self {
            Reach::None => "—",
            Reach::Own => "own",
            Reach::Agency => "own agency",
            Reach::Any => "any",
        }
    }
}

impl Role {
    /// The role × action matrix, in one place (documented in README.md,
    /// which a test keeps equal to [`matrix_markdown`]).
    ///
    /// Field officers log and see their own reports; panel members read
    /// layers and details; coordinators also triage and review their
    /// agency's records and manage its users; administrators manage
    /// agencies, accounts and tokens and see no observation data.
    pub fn reach(self, action: Action) -> Reach {
        use Action::*;
        match (self, action) {
            (Role::FieldOfficer, CreateObservation | ManageTokens) => Reach::Own,
            (Role::FieldOfficer, ReadLayers | ReadObservation) => Reach::Own,
            (Role::FieldOfficer, EditObservation | WithdrawObservation) => Reach::Own,
            (Role::PanelMember, ReadLayers | ReadObservation) => Reach::Any,
            (Role::PanelMember, CreateObservation | ManageTokens) => Reach::Own,
            (Role::PanelMember, EditObservation | WithdrawObservation) => Reach::Own,
            (Role::Coordinator, CreateObservation | ManageTokens) => Reach::Own,
            (Role::Coordinator, ReadLayers | ReadObservation) => Reach::Any,
            (Role::Coordinator, EditObservation | WithdrawObservation) => Reach::Agency,
            (Role::Coordinator, ReviewObservation | ManageUsers | ReadAudit) => Reach::Agency,
            (Role::Admin, ManageAgencies | ManageUsers | ManageTokens | ReadAudit) => Reach::Any,
            // The register and the boundaries hold no observation data:
            // everyone reads them; licensing and other field staff keep the
            // register; coordinators (and administrators, at set-up) the areas.
            (_, ReadPlaces) => Reach::Any,
            (Role::FieldOfficer | Role::Coordinator | Role::Admin, ManagePlaces) => Reach::Any,
            (Role::Coordinator | Role::Admin, ManageAreas) => Reach::Any,
            (_, ManagePlaces | ManageAreas) => Reach::None,
            // Exercises: coordinators run them; the participating agencies'
            // staff see them and (panel members) contribute.
            (Role::Coordinator, ReadExercises | RunExercises | ContributeToExercises) => Reach::Any,
            (Role::PanelMember, ReadExercises | ContributeToExercises) => Reach::Agency,
            (Role::FieldOfficer, ReadExercises) => Reach::Agency,
            (_, ReadExercises | RunExercises | ContributeToExercises) => Reach::None,
            // Youth workers (field officers) and coordinators facilitate
            // safety mapping; a session is read by the facilitator's agency
            // and by coordinators. Licensing reports are counts of what the
            // reader is shown, for every data role.
            (Role::FieldOfficer, RecordPerceptions) => Reach::Agency,
            (Role::Coordinator, RecordPerceptions) => Reach::Any,
            (Role::FieldOfficer | Role::PanelMember | Role::Coordinator, LicensingReport) => {
                Reach::Any
            }
            (_, RecordPerceptions | LicensingReport) => Reach::None,
            (Role::Admin, _) => Reach::None,
            (_, ReviewObservation | ManageAgencies | ManageUsers | ReadAudit) => Reach::None,
        }
    }
}

/// The matrix as a Markdown table, as README.md shows it.
pub fn matrix_markdown() -> String {
    let mut out = String::from("| action |");
    for role in Role::ALL {
        out.push_str(&format!(" {} |", role.label().en.to_lowercase()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Role::ALL.len()));
    out.push('\n');
    for action in Action::ALL {
        out.push_str(&format!("| {} |", action.describe()));
        for role in Role::ALL {
            out.push_str(&format!(" {} |", role.reach(*action).describe()));
        }
        out.push('\n');
    }
    out
}

impl Viewer {
    /// How far this viewer's `action` reaches: the wider of their data
    /// role's reach and, for administrators, the administrator's.
    pub fn reach(&self, action: Action) -> Reach {
        let reach = self.role.reach(action);
        if self.admin {
            reach.max(Role::Admin.reach(action))
        } else {
            reach
        }
    }

    /// Whether this viewer may do `action` to a record recorded by
    /// `recorded_by` in `agency` (visibility is decided separately, by privacy).
    pub fn may(&self, action: Action, agency: &str, recorded_by: &str) -> bool {
        match self.reach(action) {
            Reach::None => false,
            Reach::Own => recorded_by == self.principal,
            Reach::Agency => agency == self.agency || recorded_by == self.principal,
            Reach::Any => true,
        }
    }

    /// Whether this viewer may do `action` at all, to some record.
    pub fn may_at_all(&self, action: Action) -> bool {
        self.reach(action) != Reach::None
    }

    /// Whether this request came through an API token (a tool), so what it
    /// reads is a disclosure.
    pub fn is_tool(&self) -> bool {
        matches!(self.credential, Credential::Token { .. })
    }

    /// The user account behind this viewer, if it is one.
    pub fn user_id(&self) -> Option<i64> {
        self.principal.strip_prefix("user:")?.parse().ok()
    }

    /// The principals the service itself acts as ([`Viewer::console`],
    /// [`Viewer::system`]): never a username, so the audit trail's "system"
    /// is always the service's retention and never somebody's account.
    pub const BUILT_IN_PRINCIPALS: [&'static str; 2] = ["console", "system"];

    /// Someone at the server's command line (which needs the database's
    /// credentials anyway), for acts such as making the first administrator.
    pub fn console() -> Viewer {
        Viewer {
            principal: Self::BUILT_IN_PRINCIPALS[0].into(),
            name: "command line".into(),
            agency: String::new(),
            role: Role::Admin,
            admin: true,
            credential: Credential::Console,
        }
    }

    /// The service itself, for acts no person started (retention).
    pub fn system() -> Viewer {
        Viewer {
            principal: Self::BUILT_IN_PRINCIPALS[1].into(),
            name: "safetymap".into(),
            agency: String::new(),
            role: Role::Admin,
            admin: false,
            credential: Credential::System,
        }
    }
}

/// The principal reference of a user account.
pub fn user_principal(user_id: i64) -> String {
    format!("user:{user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_shows_the_matrix_the_code_applies() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&matrix_markdown()),
            "README.md's role table differs from Role::reach; it should read:\n{}",
            matrix_markdown()
        );
    }

    #[test]
    fn an_administrator_with_a_data_role_has_the_wider_reach_of_both() {
        let mut viewer = Viewer::console();
        viewer.role = Role::PanelMember;
        assert_eq!(viewer.reach(Action::ReadLayers), Reach::Any);
        assert_eq!(viewer.reach(Action::ManageUsers), Reach::Any);
        viewer.admin = false;
        assert_eq!(viewer.reach(Action::ManageUsers), Reach::None);
    }
}
