//! Who sees what: decided here, on the server, for every output path.
//!
//! Rules (DESIGN.md §2.4):
//! - administrators see no observation data;
//! - field officers see their own reports;
//! - `standard` records are shown exactly to everyone with a data role;
//! - `sensitive` records are shown exactly to the recording agency and to
//!   coordinators; to other agencies' panel members they are withheld until
//!   generalisation to a 100 m British National Grid square is available;
//! - `restricted` records are shown only to the recording agency's
//!   coordinators and the officer who recorded them.

use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::{Role, Sensitivity};
use crate::index::{IndexedObservation, SpatialIndex};

/// How precisely a viewer may see one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// As recorded.
    Exact,
    /// Not at all.
    Hidden,
}

/// The decision for one record's sensitivity, agency and recorder.
pub fn precision(
    viewer: &Viewer,
    sensitivity: Sensitivity,
    same_agency: bool,
    own: bool,
) -> Precision {
    let exact = match (viewer.role, sensitivity) {
        (Role::Admin, _) => false,
        (Role::FieldOfficer, _) => own,
        (_, Sensitivity::Standard) => true,
        (Role::Coordinator, Sensitivity::Sensitive) => true,
        (_, Sensitivity::Sensitive) => same_agency || own,
        (Role::Coordinator, Sensitivity::Restricted) => same_agency || own,
        (_, Sensitivity::Restricted) => own,
    };
    if exact {
        Precision::Exact
    } else {
        Precision::Hidden
    }
}

/// A viewer's decisions prepared for the index's interned ids, so a layer
/// query decides each entry with two integer comparisons.
#[derive(Debug, Clone)]
pub struct IndexVisibility<'v> {
    viewer: &'v Viewer,
    agency: Option<u16>,
    principal: Option<u32>,
}

impl<'v> IndexVisibility<'v> {
    /// Prepares `viewer` for queries on `index`.
    pub fn new(viewer: &'v Viewer, index: &SpatialIndex) -> Self {
        IndexVisibility {
            viewer,
            agency: index.agency_id(&viewer.agency),
            principal: index.principal_id(&viewer.principal),
        }
    }

    /// The decision for one indexed observation.
    pub fn precision(&self, o: &IndexedObservation) -> Precision {
        precision(
            self.viewer,
            o.sensitivity,
            self.agency == Some(o.agency),
            self.principal == Some(o.recorded_by),
        )
    }

    /// Whether the entry is shown at all.
    pub fn visible(&self, o: &IndexedObservation) -> bool {
        self.precision(o) != Precision::Hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role) -> Viewer {
        Viewer {
            principal: "token:1".into(),
            name: "t".into(),
            agency: "a".into(),
            role,
        }
    }

    #[test]
    fn administrators_see_no_observations() {
        let admin = viewer(Role::Admin);
        assert_eq!(
            precision(&admin, Sensitivity::Standard, true, true),
            Precision::Hidden
        );
    }

    #[test]
    fn restricted_records_reach_only_the_recording_agencys_coordinators() {
        let coordinator = viewer(Role::Coordinator);
        let panel = viewer(Role::PanelMember);
        assert_eq!(
            precision(&coordinator, Sensitivity::Restricted, true, false),
            Precision::Exact
        );
        assert_eq!(
            precision(&coordinator, Sensitivity::Restricted, false, false),
            Precision::Hidden
        );
        assert_eq!(
            precision(&panel, Sensitivity::Restricted, true, false),
            Precision::Hidden
        );
    }

    #[test]
    fn field_officers_see_only_their_own_reports() {
        let officer = viewer(Role::FieldOfficer);
        assert_eq!(
            precision(&officer, Sensitivity::Standard, true, false),
            Precision::Hidden
        );
        assert_eq!(
            precision(&officer, Sensitivity::Restricted, true, true),
            Precision::Exact
        );
    }
}
