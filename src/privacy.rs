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

use chrono::NaiveDate;
use serde::Serialize;

use crate::domain::observation::{LonLat, Observation, ObservationId};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::{Role, Sensitivity};
use crate::store::IndexRow;

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
fn present(mut observation: Observation, precision: Precision) -> Option<Observation> {
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

/// One observation as the store holds it: at its recorded position, with
/// everything it says. Nothing outside the store, the index and this module
/// can read it: the store wraps what it reads in one and opens it with its
/// key, the index takes its row with its own key, and everyone else
/// receives it only [`seen_by`](Recorded::seen_by) a viewer, at that
/// viewer's precision. A service can hand one from the store to the index
/// without being able to look inside.
///
/// What a caller can do with one:
///
/// ```
/// use safetymap::domain::viewer::Viewer;
/// use safetymap::privacy::{Precision, Recorded};
///
/// fn shown_to(recorded: Recorded, viewer: &Viewer) -> Option<(Precision, [f64; 2])> {
///     let seen = recorded.seen_by(viewer)?;
///     let at = seen.shown().details.location;
///     Some((seen.precision(), [at.lon, at.lat]))
/// }
/// ```
///
/// What it cannot (each of these fails to compile): read the record,
///
/// ```compile_fail
/// use safetymap::privacy::Recorded;
///
/// fn recorded_at(recorded: &Recorded) -> f64 {
///     recorded.0.details.location.lon
/// }
/// ```
///
/// make the store's key to open it,
///
/// ```compile_fail
/// use safetymap::privacy::Recorded;
///
/// fn recorded_at(recorded: &Recorded) -> f64 {
///     recorded.stored(&safetymap::store::Key(())).details.location.lon
/// }
/// ```
///
/// make the index's key to take its row,
///
/// ```compile_fail
/// use safetymap::privacy::Recorded;
///
/// fn recorded_at(recorded: &Recorded) -> f64 {
///     recorded.index_row(&safetymap::index::Key(())).unwrap().location.lon
/// }
/// ```
///
/// or give itself leave to read a record's history.
///
/// ```compile_fail
/// use safetymap::domain::observation::ObservationId;
///
/// let leave = safetymap::privacy::HistoryLeave(ObservationId(1));
/// ```
///
/// Nor does it print what it holds: its `Debug` says only its id, so a
/// log line or a failed assertion cannot carry a recorded position.
#[derive(Clone)]
pub struct Recorded(Observation);

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Recorded").field(&self.0.id.0).finish()
    }
}

impl Recorded {
    /// Wraps a record the store has read.
    pub fn new(observation: Observation, _: &crate::store::Key) -> Recorded {
        Recorded(observation)
    }

    /// The record itself, for the store (which wrote it).
    pub fn stored(&self, _: &crate::store::Key) -> &Observation {
        &self.0
    }

    /// What the index keeps of it, for the index: nothing once it is
    /// withdrawn (layers show live records only).
    pub fn index_row(&self, _: &crate::index::Key) -> Option<IndexRow<'_>> {
        self.0.withdrawn.is_none().then(|| self.0.index_row())
    }

    /// Its id (the caller asked for it by id, or just created it).
    pub fn id(&self) -> ObservationId {
        self.0.id
    }

    /// When it is due for review: the retention job's one question about a
    /// record, which says nothing of where it is or what it says.
    pub fn review_by(&self) -> NaiveDate {
        self.0.review_by
    }

    /// The record as `viewer` is shown it; `None` when they may not see it.
    pub fn seen_by(self, viewer: &Viewer) -> Option<Seen> {
        let precision = precision(
            viewer,
            self.0.details.sensitivity,
            self.0.agency == viewer.agency,
            self.0.recorded_by == viewer.principal,
        );
        let shown = present(self.0.clone(), precision)?;
        Some(Seen {
            recorded: self,
            shown,
            precision,
        })
    }
}

/// A record as one viewer is shown it, with the stored record kept opaque
/// beside it so a write can name the version it changes.
#[derive(Clone)]
pub struct Seen {
    recorded: Recorded,
    shown: Observation,
    precision: Precision,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen")
            .field("id", &self.shown.id.0)
            .field("precision", &self.precision)
            .finish()
    }
}

impl Seen {
    /// The record as shown: generalised when the precision says so.
    pub fn shown(&self) -> &Observation {
        &self.shown
    }

    /// The record as shown, by value.
    pub fn into_shown(self) -> Observation {
        self.shown
    }

    /// How precisely it is shown.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The stored record, opaque, for handing back to the store or index.
    pub fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    /// Whether the viewer may do `action` to it, decided on its recorded
    /// provenance (a generalised copy has no recorder). Only the answer
    /// leaves this module.
    pub fn may(&self, viewer: &Viewer, action: Action) -> bool {
        let stored = &self.recorded.0;
        viewer.may(action, &stored.agency, &stored.recorded_by)
    }

    /// Leave to read its history, for a viewer who sees it exactly: edits
    /// of its location would give the exact place away to anyone else.
    pub fn history_leave(&self) -> Option<HistoryLeave> {
        (self.precision == Precision::Exact).then_some(HistoryLeave(self.shown.id))
    }
}

/// Leave to read one record's history, given only to a viewer who sees the
/// record exactly (see [`Seen::history_leave`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLeave(ObservationId);

impl HistoryLeave {
    /// The record whose history may be read.
    pub fn id(&self) -> ObservationId {
        self.0
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
