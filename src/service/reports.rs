//! Licensing consultation reports: what is known around a premises (a
//! registered place, or a proposed point) before a licence decision.
//!
//! Counts within 250 m and 500 m over the last twelve months, by category
//! and time band and by month, and the places and safe places nearby.
//!
//! A report is computed from the records *as the reader is shown them*
//! (their scope): a generalised record counts at its square's centre, and a
//! record the reader may not see counts nowhere — the report says so, and
//! who to ask. A proposed point is snapped to the centre of its 100 m
//! National Grid square, so walking it millimetre by millimetre across a
//! circle's edge moves nothing: the circles only ever move in 100 m steps,
//! over positions the reader is shown anyway. Counts below the small-count
//! threshold are withheld from every role below coordinator. Producing a
//! report is recorded as a disclosure before it is returned.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike as _, Utc};
use serde_json::json;

use super::ServiceError;
use crate::analysis::grid::grid_position;
use crate::analysis::Suppression;
use crate::domain::observation::{FieldError, ValidationRules};
use crate::domain::time::{format_instant, from_unix_millis, uk_local, unix_millis};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::{AuditAction, Category, TimeBand};
use crate::index::{LayerFilter, SpatialIndex};
use crate::privacy::Precision;
use crate::store::{AuditEntry, Store};

/// The two radii, metres.
const RADII: [f64; 2] = [250.0, 500.0];

/// Which point the circles are drawn round, English and Welsh: a
/// registered place's own position, or a proposed point's square.
const CENTRE_NOTE: [[&str; 2]; 2] = [
    [
        "Distances are measured from the place's position on the register.",
        "Mesurir pellteroedd o safle'r lle ar y gofrestr.",
    ],
    [
        "Distances are measured from the centre of the 100 m National Grid square the proposed premises is in.",
        "Mesurir pellteroedd o ganol y sgwâr Grid Cenedlaethol 100 m y mae'r safle arfaethedig ynddo.",
    ],
];

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Subject {
    /// A place on the register, at its register position.
    Place(i64),
    /// A proposed premises, `[lon, lat]` as given.
    Proposed(f64, f64),
    /// Neither given.
    Missing,
}

/// The report workflows.
#[derive(Debug, Clone)]
pub struct Reports {
    store: Store,
    index: Arc<SpatialIndex>,
    rules: Arc<ValidationRules>,
    threshold: u32,
}

impl Reports {
    /// Reports over a store and its index.
    pub fn new(
        store: Store,
        index: Arc<SpatialIndex>,
        rules: Arc<ValidationRules>,
        threshold: u32,
    ) -> Reports {
        Reports {
            store,
            index,
            rules,
            threshold,
        }
    }

    /// The licensing consultation report on `subject` for `viewer`,
    /// recorded as a disclosure (`printable`: the printable page was asked
    /// for) before it is returned.
    pub async fn licensing(
        &self,
        viewer: &Viewer,
        subject: Subject,
        printable: bool,
        now: DateTime<Utc>,
    ) -> Result<serde_json::Value, ServiceError> {
        if !viewer.may_at_all(Action::LicensingReport) {
            return Err(ServiceError::Forbidden);
        }
        let (place, lon, lat) = match subject {
            Subject::Place(id) => (Some(id), None, None),
            Subject::Proposed(lon, lat) => (None, Some(lon), Some(lat)),
            Subject::Missing => (None, None, None),
        };
        let html = printable;
        let registered = match place {
            Some(id) => Some(self.store.place(id).await?.ok_or(ServiceError::NotFound)?),
            None => None,
        };
        let (centre, used) = match (&registered, lon, lat) {
            (Some(p), _, _) => (
                [p.details.location.lon, p.details.location.lat],
                "place-register",
            ),
            (None, Some(lon), Some(lat)) => {
                let mut errors = Vec::new();
                let at = self.rules.location(lon, lat, &mut errors);
                let Some(at) = at else {
                    return Err(ServiceError::Invalid(errors));
                };
                let snapped =
                    crate::privacy::shown_position(Precision::Generalised, [at.lon, at.lat])
                        .ok_or_else(|| {
                            ServiceError::Invalid(vec![FieldError::new(
                                "lon",
                                "outside-service-area",
                                "outside the National Grid",
                            )])
                        })?;
                (snapped, "bng-100m-square-centre")
            }
            _ => {
                return Err(ServiceError::Invalid(vec![FieldError::new(
                    "place",
                    "missing-field",
                    "give a registered place, or lon and lat for a proposed premises",
                )]))
            }
        };
        let Some(origin) = grid_position(centre) else {
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "lon",
                "outside-service-area",
                "outside the National Grid",
            )]));
        };
        let from = now - chrono::Duration::days(365);
        let suppression = Suppression::for_role(viewer.role, self.threshold);

        // Every live record within 500 m, by distance, category, band and month.
        let pad = [RADII[1] / 60_000.0, RADII[1] / 100_000.0];
        let filter = LayerFilter {
            bbox: Some([
                centre[0] - pad[0],
                centre[1] - pad[1],
                centre[0] + pad[0],
                centre[1] + pad[1],
            ]),
            from: Some(unix_millis(from)),
            to: Some(unix_millis(now)),
            ..LayerFilter::default()
        };
        let mut found: Vec<(f64, Category, TimeBand, String)> = Vec::new();
        self.index.scope(viewer).for_each(&filter, |o| {
            if let Some((e, n)) = grid_position(o.position) {
                let d = ((e - origin.0).powi(2) + (n - origin.1).powi(2)).sqrt();
                if d <= RADII[1] {
                    let month = uk_local(from_unix_millis(o.observed_at))
                        .format("%Y-%m")
                        .to_string();
                    found.push((d, o.category, TimeBand::of_hour(o.local_hour), month));
                }
            }
        });
        let months = months_between(uk_local(from).date(), uk_local(now).date());
        let view = |n: u32| serde_json::to_value(suppression.view(n)).unwrap_or_default();
        let radii: Vec<serde_json::Value> = RADII
            .iter()
            .map(|&r| {
                let within: Vec<_> = found.iter().filter(|(d, ..)| *d <= r).collect();
                let mut cells: BTreeMap<(&str, &str), u32> = BTreeMap::new();
                let mut by_month: BTreeMap<&str, u32> = months.iter().map(|m| (m.as_str(), 0)).collect();
                for (_, c, b, m) in &within {
                    *cells.entry((c.code(), b.code())).or_default() += 1;
                    if let Some(n) = by_month.get_mut(m.as_str()) {
                        *n += 1;
                    }
                }
                json!({
                    "metres": r,
                    "total": view(u32::try_from(within.len()).unwrap_or(u32::MAX)),
                    "by_category_band": cells.into_iter().map(|((c, b), n)| {
                        let mut v = view(n);
                        if let Some(o) = v.as_object_mut() { o.insert("category".into(), c.into()); o.insert("band".into(), b.into()); }
                        v
                    }).collect::<Vec<_>>(),
                    "by_month": by_month.into_iter().map(|(m, n)| {
                        let mut v = view(n);
                        if let Some(o) = v.as_object_mut() { o.insert("month".into(), m.into()); }
                        v
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();

        let mut nearby: Vec<(f64, crate::domain::place::Place)> = self
            .store
            .places()
            .await?
            .into_iter()
            .filter(|p| Some(p.id) != place)
            .filter_map(|p| {
                let (e, n) = grid_position([p.details.location.lon, p.details.location.lat])?;
                let d = ((e - origin.0).powi(2) + (n - origin.1).powi(2)).sqrt();
                (d <= RADII[1]).then_some((d, p))
            })
            .collect();
        nearby.sort_by(|a, b| a.0.total_cmp(&b.0));
        let listed = |safe_only: bool| -> Vec<serde_json::Value> {
            nearby
                .iter()
                .filter(|(_, p)| !safe_only || p.details.safe_place)
                .map(|(d, p)| json!({"id": p.id, "name_en": p.details.name_en, "name_cy": p.details.name_cy, "kind": p.details.kind,
                    "distance_m": d.round(), "safe_place": p.details.safe_place}))
                .collect()
        };
        let report = json!({
            "centre": centre,
            "centre_from": used,
            "place": registered.as_ref().map(|p| json!({"id": p.id, "name_en": p.details.name_en, "name_cy": p.details.name_cy,
                "kind": p.details.kind, "licence_reference": p.details.licence_reference, "address": p.details.address})),
            "generated_at": format_instant(now),
            "period": {"from": format_instant(from), "to": format_instant(now)},
            "threshold": self.threshold,
            "radii": radii,
            "nearby_places": listed(false),
            "safe_places": listed(true),
            "centre_note": CENTRE_NOTE[usize::from(used != "place-register")][0],
            "centre_note_cy": CENTRE_NOTE[usize::from(used != "place-register")][1],
            "restricted_note": "These counts include only the records you may see, each where you are shown it. Other agencies may hold records you cannot see here: ask your safeguarding coordinator, who can ask theirs.",
            "restricted_note_cy": "Mae'r cyfrifon hyn yn cynnwys dim ond y cofnodion y cewch eu gweld, pob un lle dangosir ef i chi. Gall asiantaethau eraill ddal cofnodion na allwch eu gweld yma: gofynnwch i'ch cydgysylltydd diogelu, a all ofyn i'w rhai hwy.",
        });
        let object = place.map_or_else(
            || format!("point {:.5},{:.5}", centre[0], centre[1]),
            |p| format!("place {p}"),
        );
        self.store
            .record_audit(&AuditEntry::by(
                viewer,
                AuditAction::Disclosure,
                "licensing-report",
                object,
                "",
                Some(if html {
                    "licensing consultation report (printable)"
                } else {
                    "licensing consultation report"
                }),
                now,
            ))
            .await?;
        // Recorded as a disclosure above.
        Ok(report)
    }
}

/// Every calendar month from `first`'s to `last`'s, as `YYYY-MM`. The last
/// twelve months run from a day in one month to today in the same month a
/// year on, so they touch thirteen calendar months; listing only twelve
/// dropped the oldest part-month's records from the by-month counts while
/// they stayed in the totals.
fn months_between(first: chrono::NaiveDate, last: chrono::NaiveDate) -> Vec<String> {
    let index = |d: chrono::NaiveDate| d.year() * 12 + d.month0() as i32;
    (index(first)..=index(last))
        .map(|i| format!("{:04}-{:02}", i.div_euclid(12), i.rem_euclid(12) + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::months_between;
    use chrono::NaiveDate;

    #[test]
    fn a_year_back_from_a_day_in_december_lists_thirteen_months_from_last_december() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let months = months_between(day(2025, 12, 6), day(2026, 12, 6));
        assert_eq!(months.len(), 13);
        assert_eq!(
            (months[0].as_str(), months[12].as_str()),
            ("2025-12", "2026-12")
        );
        assert_eq!(months[1], "2026-01");
    }
}
