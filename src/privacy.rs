//! Who sees what: decided here, on the server, for every output path.
//!
//! Rules (DESIGN.md §2.4):
//! - administrators see no observation data;
//! - field officers see their own reports;
//! - `standard` records are shown exactly to everyone with a data role;
//! - `sensitive` records are shown exactly to the recording agency and to
//!   coordinators; to everyone else generalised to the centre of their
//!   100 m British National Grid square, without the extent, place link,
//!   case reference, recorder or history that would give the exact place away;
//! - `restricted` records are shown only to the recording agency's
//!   coordinators and the officer who recorded them.

use serde::Serialize;

use crate::domain::observation::{LonLat, Observation};
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::{Role, Sensitivity};

/// Side of the National Grid square generalised positions snap to, metres.
pub const GENERALISED_SQUARE_METRES: f64 = 100.0;

/// How precisely a viewer may see one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Precision {
    /// As recorded.
    #[serde(rename = "exact")]
    Exact,
    /// At the centre of its 100 m British National Grid square.
    #[serde(rename = "bng-100m")]
    Generalised,
    /// Not at all.
    #[serde(rename = "hidden")]
    Hidden,
}

/// Rounds degrees to 6 decimals (about 0.1 m): enough for a square's centre,
/// and it keeps generalised output from carrying spurious digits.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Where a viewer is shown a position `[lon, lat]` at `precision`; `None`
/// when not at all (including, to be safe, a position the grid cannot place).
pub fn shown_position(precision: Precision, [lon, lat]: [f64; 2]) -> Option<[f64; 2]> {
    match precision {
        Precision::Exact => Some([lon, lat]),
        Precision::Generalised => crate::bng::square_centre(lon, lat, GENERALISED_SQUARE_METRES)
            .map(|(x, y)| [round6(x), round6(y)]),
        Precision::Hidden => None,
    }
}

/// A record as a viewer at `precision` may receive it: generalised records
/// lose their exact position and everything that would give it away.
pub fn present(mut observation: Observation, precision: Precision) -> Option<Observation> {
    match precision {
        Precision::Exact => Some(observation),
        Precision::Hidden => None,
        Precision::Generalised => {
            let LonLat { lon, lat } = observation.details.location;
            let [lon, lat] = shown_position(precision, [lon, lat])?;
            observation.details.location = LonLat { lon, lat };
            observation.details.extent = None;
            // The register holds each place's exact position.
            observation.details.place_id = None;
            observation.details.case_reference = None;
            // Free text names where things happened ("behind the bins at
            // the back of …"): it would undo the generalisation. The
            // recording agency holds it; ask them.
            observation.details.description = String::new();
            observation.recorded_by = String::new();
            Some(observation)
        }
    }
}

/// The decision for one record's sensitivity, agency and recorder.
pub fn precision(
    viewer: &Viewer,
    sensitivity: Sensitivity,
    same_agency: bool,
    own: bool,
) -> Precision {
    decide(viewer.role, sensitivity, same_agency, own)
}

/// The decision for a viewer of `role`, for one record's sensitivity,
/// whether it is of the viewer's agency, and whether the viewer recorded it.
pub fn decide(role: Role, sensitivity: Sensitivity, same_agency: bool, own: bool) -> Precision {
    let exact_or = |exact: bool, otherwise| if exact { Precision::Exact } else { otherwise };
    match (role, sensitivity) {
        (Role::Admin, _) => Precision::Hidden,
        (Role::FieldOfficer, _) => exact_or(own, Precision::Hidden),
        (_, Sensitivity::Standard) => Precision::Exact,
        (Role::Coordinator, Sensitivity::Sensitive) => Precision::Exact,
        (_, Sensitivity::Sensitive) => exact_or(same_agency || own, Precision::Generalised),
        (Role::Coordinator, Sensitivity::Restricted) => {
            exact_or(same_agency || own, Precision::Hidden)
        }
        (_, Sensitivity::Restricted) => exact_or(own, Precision::Hidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role) -> Viewer {
        Viewer {
            principal: "user:1".into(),
            name: "t".into(),
            agency: "a".into(),
            role,
            admin: role == Role::Admin,
            credential: crate::domain::viewer::Credential::Session,
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
    fn other_agencies_panel_members_see_sensitive_records_generalised() {
        let panel = viewer(Role::PanelMember);
        assert_eq!(
            precision(&panel, Sensitivity::Sensitive, false, false),
            Precision::Generalised
        );
        assert_eq!(
            precision(&panel, Sensitivity::Sensitive, true, false),
            Precision::Exact
        );
        let shown = shown_position(Precision::Generalised, [-2.99771, 51.58862]).expect("in Wales");
        assert_ne!(shown, [-2.99771, 51.58862]);
        let back = crate::bng::to_grid(shown[0], shown[1]).expect("in grid");
        assert!(
            (back.easting % 100.0 - 50.0).abs() < 0.2 && (back.northing % 100.0 - 50.0).abs() < 0.2
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
