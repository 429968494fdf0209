//! Who is asking: the `Viewer` every read and write knows, and the one
//! table of what each role may do.

use super::vocabulary::Role;

/// The authenticated person or tool behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Stable reference to the principal, recorded as `recorded_by` and in
    /// history (for now a token, `token:<id>`; later a user account).
    pub principal: String,
    /// Display name of the principal.
    pub name: String,
    /// The agency the principal belongs to.
    pub agency: String,
    /// What the principal may do.
    pub role: Role,
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
    /// Create, list and revoke API tokens.
    ManageTokens,
    /// Search and export the audit log.
    ReadAudit,
}

/// Whose records an allowed action reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Not allowed at all.
    None,
    /// Only records this principal recorded.
    Own,
    /// Records of this principal's agency.
    Agency,
    /// Any record the privacy rules let the viewer see.
    Any,
}

impl Role {
    /// The role × action matrix, in one place (documented in README.md).
    ///
    /// Field officers log and see their own reports; panel members read
    /// layers and details; coordinators also triage their agency's records;
    /// administrators manage accounts and see no observation data.
    pub fn reach(self, action: Action) -> Reach {
        use Action::*;
        match (self, action) {
            (Role::FieldOfficer, CreateObservation) => Reach::Own,
            (Role::FieldOfficer, ReadLayers | ReadObservation) => Reach::Own,
            (Role::FieldOfficer, EditObservation | WithdrawObservation) => Reach::Own,
            (Role::PanelMember, ReadLayers | ReadObservation) => Reach::Any,
            (Role::PanelMember, CreateObservation) => Reach::Own,
            (Role::PanelMember, EditObservation | WithdrawObservation) => Reach::Own,
            (Role::Coordinator, CreateObservation) => Reach::Own,
            (Role::Coordinator, ReadLayers | ReadObservation) => Reach::Any,
            (Role::Coordinator, EditObservation | WithdrawObservation) => Reach::Agency,
            (Role::Admin, ManageTokens | ReadAudit) => Reach::Any,
            (Role::Coordinator, ReadAudit) => Reach::Agency,
            (Role::Admin, _) => Reach::None,
            (_, ManageTokens | ReadAudit) => Reach::None,
        }
    }
}

impl Viewer {
    /// Whether this viewer may do `action` to a record recorded by
    /// `recorded_by` in `agency` (visibility is decided separately, by privacy).
    pub fn may(&self, action: Action, agency: &str, recorded_by: &str) -> bool {
        match self.role.reach(action) {
            Reach::None => false,
            Reach::Own => recorded_by == self.principal,
            Reach::Agency => agency == self.agency || recorded_by == self.principal,
            Reach::Any => true,
        }
    }

    /// Whether this viewer may do `action` at all, to some record.
    pub fn may_at_all(&self, action: Action) -> bool {
        self.role.reach(action) != Reach::None
    }
}
