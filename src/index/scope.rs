//! A viewer's scope: the one way to read observations out of the index.
//!
//! A [`Scope`] is made from a [`Viewer`] and yields records *as that viewer
//! is shown them* (DESIGN.md §8): standard ones where they were recorded,
//! generalised ones at their 100 m square's centre without their place link,
//! hidden ones not at all. Boxes and place filters are tested against the
//! shown record, so a query a viewer chooses freely can never locate a
//! record more precisely than it is shown, and a hidden record counts
//! nowhere. Every layer, tile, aggregate, report and view reads through one.

use super::{IndexedObservation, LayerFilter, Page, SpatialIndex, SHOWN_MARGIN_DEGREES};
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::{Category, Role, Sensitivity, SettingType, Severity, Status};
use crate::privacy::{decide, shown_position, Precision};

/// One observation as a viewer is shown it. Nothing here is finer than the
/// viewer may see: `position` is the shown one, and a generalised record has
/// no place link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShownObservation {
    /// Position `[lon, lat]` as shown, WGS84 degrees.
    pub position: [f64; 2],
    /// How precisely it is shown (never [`Precision::Hidden`]).
    pub precision: Precision,
    /// Observation id.
    pub id: i64,
    /// Observed-at, milliseconds since the Unix epoch.
    pub observed_at: i64,
    /// Interned recording agency (see [`Scope::agency_names`]).
    pub agency: u16,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: Status,
    /// Sensitivity.
    pub sensitivity: Sensitivity,
    /// Setting.
    pub setting: SettingType,
    /// UK local hour of day, 0–23.
    pub local_hour: u8,
    /// UK local weekday, 0 = Monday … 6 = Sunday.
    pub local_weekday: u8,
    /// Linked place id; 0: none, or not shown (a generalised record).
    pub place: u32,
}

impl ShownObservation {
    /// Observed-at as an instant.
    pub fn observed_at(&self) -> chrono::DateTime<chrono::Utc> {
        crate::domain::time::from_unix_millis(self.observed_at)
    }
}

/// What one viewer may read of the index.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    index: &'a SpatialIndex,
    role: Role,
    agency: Option<u16>,
    principal: Option<u32>,
}

impl SpatialIndex {
    /// The index as `viewer` may read it.
    pub fn scope(&self, viewer: &Viewer) -> Scope<'_> {
        Scope {
            index: self,
            role: viewer.role,
            agency: self.agency_id(&viewer.agency),
            principal: self.principal_id(&viewer.principal),
        }
    }
}

impl<'a> Scope<'a> {
    /// Whether this viewer may be shown any position generalised (panel
    /// members see other agencies' sensitive records at their square).
    pub fn generalises(&self) -> bool {
        self.role == Role::PanelMember
    }

    fn margin(&self) -> f64 {
        if self.generalises() {
            SHOWN_MARGIN_DEGREES
        } else {
            0.0
        }
    }

    /// The entry as this viewer is shown it, or `None`.
    fn shown(&self, o: &IndexedObservation, mine: bool) -> Option<ShownObservation> {
        let own = self.principal == Some(o.recorded_by);
        if mine && !own {
            return None;
        }
        let precision = decide(self.role, o.sensitivity, self.agency == Some(o.agency), own);
        let position = shown_position(precision, o.position)?;
        Some(ShownObservation {
            position,
            precision,
            id: o.id,
            observed_at: o.observed_at,
            agency: o.agency,
            category: o.category,
            severity: o.severity,
            status: o.status,
            sensitivity: o.sensitivity,
            setting: o.setting,
            local_hour: o.local_hour,
            local_weekday: o.local_weekday,
            place: if precision == Precision::Exact {
                o.place
            } else {
                0
            },
        })
    }

    /// Calls `found` for every record matching `filter` that this viewer
    /// may see, as shown, in no particular order.
    pub fn for_each(&self, filter: &LayerFilter, found: impl FnMut(&ShownObservation)) {
        let mine = filter.mine;
        self.index
            .for_each_shown(filter, |o| self.shown(o, mine), self.margin(), found)
    }

    /// Every record matching `filter` that this viewer may see, as shown.
    pub fn collect(&self, filter: &LayerFilter) -> Vec<ShownObservation> {
        let mut out = Vec::new();
        self.for_each(filter, |o| out.push(*o));
        out
    }

    /// A page of what matches `filter`: every match counted, up to `limit`
    /// of those whose ids follow `after`, in id order.
    pub fn page(&self, filter: &LayerFilter, after: Option<i64>, limit: usize) -> Page {
        let mine = filter.mine;
        self.index
            .page(filter, |o| self.shown(o, mine), self.margin(), after, limit)
    }

    /// Every agency name, by interned id.
    pub fn agency_names(&self) -> Vec<String> {
        self.index.agency_names()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::observation::LonLat;
    use crate::domain::time::parse_instant;
    use crate::domain::viewer::Credential;
    use crate::store::IndexRow;

    fn row(id: i64, sensitivity: Sensitivity, agency: &'static str) -> IndexRow<'static> {
        IndexRow {
            id,
            location: LonLat {
                lon: -2.99771,
                lat: 51.58862,
            },
            observed_at: parse_instant("2026-01-01T12:00:00Z").expect("instant"),
            category: Category::SafePlace,
            severity: Severity::Low,
            status: Status::New,
            sensitivity,
            setting: SettingType::Park,
            agency,
            recorded_by: "user:99",
            place_id: Some(7),
        }
    }

    fn viewer(role: Role, agency: &str) -> Viewer {
        Viewer {
            principal: "user:1".into(),
            name: "t".into(),
            agency: agency.into(),
            role,
            admin: false,
            credential: Credential::Session,
        }
    }

    #[test]
    fn a_scope_shows_generalised_records_at_their_square_without_a_place_and_hidden_ones_nowhere() {
        let index = SpatialIndex::build([
            row(1, Sensitivity::Standard, "police"),
            row(2, Sensitivity::Sensitive, "police"),
            row(3, Sensitivity::Restricted, "police"),
        ]);
        let panel = viewer(Role::PanelMember, "health");
        let shown = index.scope(&panel).collect(&LayerFilter::default());
        let by_id = |id| shown.iter().find(|o| o.id == id);
        let exact = by_id(1).expect("standard shown");
        assert_eq!(exact.position, [-2.99771, 51.58862]);
        assert_eq!(exact.place, 7);
        let general = by_id(2).expect("sensitive shown generalised");
        assert_ne!(general.position, [-2.99771, 51.58862]);
        assert_eq!(general.precision, Precision::Generalised);
        assert_eq!(general.place, 0);
        assert!(by_id(3).is_none(), "restricted record hidden");
        let linked = LayerFilter {
            place: Some(7),
            ..LayerFilter::default()
        };
        let ids: Vec<i64> = index
            .scope(&panel)
            .collect(&linked)
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(ids, [1], "a place filter finds only records shown exactly");
    }
}
