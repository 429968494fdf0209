//! The meeting view of an exercise, the snapshot freezing keeps, what
//! changed since the previous exercise on the same area, and follow-up.
//!
//! The view is what the panel sees together on the meeting-room screen, so
//! it is decided for the panel rather than for whoever opened it: every
//! record at the precision a panel member of another agency has (standard
//! exact, sensitive generalised to its 100 m square, restricted left out),
//! and every count below the small-count threshold withheld. Freezing
//! writes that view down once; later edits change nothing in it, and an
//! observation erased later keeps only the fact that it was there.

use std::collections::{BTreeMap, HashMap};

use geo::{Contains, Distance, Euclidean, LineString, MultiPolygon, Point, Polygon};
use serde::{Deserialize, Serialize};

use crate::analysis::grid::grid_position;
use crate::analysis::Suppression;
use crate::areas::Area;
use crate::domain::time::{format_instant, from_unix_millis, parse_instant};
use crate::domain::viewer::{Credential, Viewer};
use crate::domain::vocabulary::{Role, TimeBand};
use crate::index::{LayerFilter, ShownObservation, SpatialIndex};
use crate::store::exercises::{ActionRow, Annotation, Decision, ExerciseRow, SnapshotItem};
use crate::store::{Agency, Store, StoreError};

/// The viewer an exercise's view is decided for: a panel member of no
/// recording agency.
pub fn panel() -> Viewer {
    Viewer {
        principal: "panel".into(),
        name: "Panel".into(),
        agency: String::new(),
        role: Role::PanelMember,
        admin: false,
        credential: Credential::Session,
    }
}

/// One observation as the panel saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Shown longitude.
    pub lon: f64,
    /// Shown latitude.
    pub lat: f64,
    /// `exact` or `bng-100m`.
    pub precision: String,
    /// Category code.
    pub category: String,
    /// Severity code.
    pub severity: String,
    /// Status code.
    pub status: String,
    /// Setting code.
    pub setting: String,
    /// Observed at (RFC 3339).
    pub observed_at: String,
    /// Time band code (UK local time).
    pub band: String,
}

/// An observation in the view: what it was, or that it has been erased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemView {
    /// Observation id.
    pub id: i64,
    /// What the panel saw; `None` once erased.
    pub item: Option<Item>,
    /// Erased after the exercise was frozen.
    pub erased_since: bool,
}

/// What changed since the previous exercise on the same area.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// The previous exercise, if there was one.
    pub previous_id: Option<i64>,
    /// In scope now, not then.
    pub new: Vec<i64>,
    /// In scope both times, seen differently now.
    pub updated: Vec<i64>,
    /// Closed since.
    pub closed: Vec<i64>,
    /// Erased since (no content).
    pub erased: Vec<i64>,
    /// In scope then, not now (withdrawn, moved, or out of the window).
    pub left: Vec<i64>,
}

/// A participating agency, named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgencyRef {
    /// Code.
    pub code: String,
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
}

/// The area in scope, named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaRef {
    /// Id.
    pub id: i64,
    /// Kind code.
    pub kind: String,
    /// Code.
    pub code: String,
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
    /// GeoJSON shape.
    pub geometry: serde_json::Value,
}

/// The exercise as it is described in its view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Id.
    pub id: i64,
    /// Kind code.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Window start.
    pub from: String,
    /// Window end.
    pub to: String,
    /// Facilitator's name.
    pub facilitator: String,
    /// Review date.
    pub review_on: Option<String>,
    /// When frozen.
    pub frozen_at: Option<String>,
}

/// The meeting view, and (frozen) the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExerciseView {
    /// The exercise.
    pub exercise: Header,
    /// Its area.
    pub area: AreaRef,
    /// Participating agencies.
    pub agencies: Vec<AgencyRef>,
    /// Whether this is the frozen snapshot.
    pub frozen: bool,
    /// Observations in scope, by id.
    pub items: Vec<ItemView>,
    /// Counts by category and time band: `{category, band, count,
    /// suppressed, count_label, count_label_cy}`, withheld below the
    /// threshold.
    pub counts: Vec<serde_json::Value>,
    /// All observations in scope, withheld below the threshold.
    pub total: serde_json::Value,
    /// Changes since the previous exercise on the area.
    pub changes: Changes,
    /// What the panel drew.
    pub annotations: Vec<Annotation>,
    /// What it decided.
    pub decisions: Vec<Decision>,
    /// What it agreed to do.
    pub actions: Vec<ActionRow>,
    /// Where the data comes from.
    pub attributions: Vec<String>,
}

/// The panel's view of everything in `area` observed in the window.
///
/// Read through the scope of [`panel`] — a panel member of no agency — not
/// the scope of whoever opens the exercise: the meeting view is what the
/// whole panel is shown together, so it is the least any participant of
/// any agency sees (standard records exact, sensitive ones at their
/// square, restricted ones nowhere), and never more than that.
fn scope(index: &SpatialIndex, area: &Area, from: i64, to: i64) -> Vec<(i64, Item)> {
    let filter = LayerFilter {
        bbox: Some(area.bbox),
        from: Some(from),
        to: Some(to),
        ..LayerFilter::default()
    };
    let mut items = Vec::new();
    index.scope(&panel()).for_each(&filter, |o| {
        if area.contains(o.position) {
            items.push((o.id, item(o)));
        }
    });
    items.sort_by_key(|(id, _)| *id);
    items
}

fn item(o: &ShownObservation) -> Item {
    use crate::privacy::Precision;
    Item {
        lon: o.position[0],
        lat: o.position[1],
        precision: match o.precision {
            Precision::Exact => "exact",
            _ => "bng-100m",
        }
        .into(),
        category: o.category.code().into(),
        severity: o.severity.code().into(),
        status: o.status.code().into(),
        setting: o.setting.code().into(),
        observed_at: format_instant(from_unix_millis(o.observed_at)),
        band: TimeBand::of_hour(o.local_hour).code().into(),
    }
}

/// Counts by category × band and in all, as the panel may see them.
fn counts(
    items: &[ItemView],
    suppression: &Suppression,
) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut cells: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut total = 0;
    for item in items.iter().filter_map(|i| i.item.as_ref()) {
        *cells
            .entry((item.category.clone(), item.band.clone()))
            .or_default() += 1;
        total += 1;
    }
    let cells = cells
        .into_iter()
        .map(|((category, band), n)| {
            let mut cell = serde_json::to_value(suppression.view(n)).unwrap_or_default();
            if let Some(o) = cell.as_object_mut() {
                o.insert("category".into(), category.into());
                o.insert("band".into(), band.into());
            }
            cell
        })
        .collect();
    (
        cells,
        serde_json::to_value(suppression.view(total)).unwrap_or_default(),
    )
}

/// What changed between a frozen exercise's items and the current ones.
fn changes(previous_id: Option<i64>, before: &[SnapshotItem], now: &[ItemView]) -> Changes {
    let mut out = Changes {
        previous_id,
        ..Changes::default()
    };
    let then: HashMap<i64, Option<Item>> = before
        .iter()
        .map(|s| {
            let item = s
                .content
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok());
            (s.observation_id, item)
        })
        .collect();
    let current: HashMap<i64, &Item> = now
        .iter()
        .filter_map(|i| Some((i.id, i.item.as_ref()?)))
        .collect();
    for (id, item) in &current {
        match then.get(id) {
            None => out.new.push(*id),
            Some(None) => {}
            Some(Some(old)) if item.status == "closed" && old.status != "closed" => {
                out.closed.push(*id)
            }
            Some(Some(old)) if old != *item => out.updated.push(*id),
            Some(Some(_)) => {}
        }
    }
    for (id, old) in &then {
        match old {
            None => out.erased.push(*id),
            Some(_) if !current.contains_key(id) => out.left.push(*id),
            Some(_) => {}
        }
    }
    for list in [
        &mut out.new,
        &mut out.updated,
        &mut out.closed,
        &mut out.erased,
        &mut out.left,
    ] {
        list.sort_unstable();
    }
    out
}

/// Everything a view is built from, read from the store.
pub struct Parts {
    /// The exercise row.
    pub exercise: ExerciseRow,
    /// Every agency (to name the participants).
    pub agencies: Vec<Agency>,
}

fn header(e: &ExerciseRow) -> Header {
    Header {
        id: e.id,
        kind: e.kind.code().into(),
        title: e.title.clone(),
        from: e.from.clone(),
        to: e.to.clone(),
        facilitator: e.facilitator_name.clone(),
        review_on: e.review_on.clone(),
        frozen_at: e.frozen_at.clone(),
    }
}

/// Attribution lines for an area's source.
fn attributions(area: &Area) -> Vec<String> {
    let mut out =
        vec!["Observations: recorded by the participating agencies in safetymap".to_owned()];
    if area.kind != crate::domain::vocabulary::AreaKind::Drawn {
        out.push("Boundaries: Office for National Statistics; contains OS data © Crown copyright and database right (Open Government Licence v3.0)".into());
    }
    out
}

/// Builds the live meeting view of an open exercise.
pub async fn live_view(
    store: &Store,
    index: &SpatialIndex,
    area: &Area,
    exercise: &ExerciseRow,
    threshold: u32,
) -> Result<ExerciseView, StoreError> {
    let window = |s: &str| parse_instant(s).map(crate::domain::time::unix_millis);
    let items: Vec<ItemView> = scope(
        index,
        area,
        window(&exercise.from).unwrap_or(i64::MIN),
        window(&exercise.to).unwrap_or(i64::MAX),
    )
    .into_iter()
    .map(|(id, item)| ItemView {
        id,
        item: Some(item),
        erased_since: false,
    })
    .collect();
    let suppression = Suppression {
        threshold,
        exempt: false,
    };
    let (counts, total) = counts(&items, &suppression);
    let before = match exercise.previous_id {
        Some(id) => store.snapshot_items(id).await?,
        None => Vec::new(),
    };
    let agencies = store.agencies().await?;
    Ok(ExerciseView {
        exercise: header(exercise),
        area: AreaRef {
            id: area.id,
            kind: area.kind.code().into(),
            code: area.code.clone(),
            name_en: area.name_en.clone(),
            name_cy: area.name_cy.clone(),
            geometry: area.geometry.clone(),
        },
        agencies: exercise
            .agencies
            .iter()
            .map(|code| {
                let named = agencies.iter().find(|a| &a.code == code);
                AgencyRef {
                    code: code.clone(),
                    name_en: named.map_or_else(|| code.clone(), |a| a.name_en.clone()),
                    name_cy: named.map_or_else(|| code.clone(), |a| a.name_cy.clone()),
                }
            })
            .collect(),
        frozen: false,
        changes: changes(exercise.previous_id, &before, &items),
        items,
        counts,
        total,
        annotations: store.annotations(exercise.id).await?,
        decisions: store.decisions(exercise.id).await?,
        actions: store.actions(Some(exercise.id)).await?,
        attributions: attributions(area),
    })
}

/// The snapshot to store for `view` (frozen at `at`): the view without its
/// items, and each item's content on its own so that erasure can remove it.
pub fn snapshot(mut view: ExerciseView, at: &str) -> (String, Vec<(i64, String)>) {
    view.frozen = true;
    view.exercise.frozen_at = Some(at.to_owned());
    let items = std::mem::take(&mut view.items)
        .into_iter()
        .filter_map(|i| Some((i.id, serde_json::to_string(&i.item?).ok()?)))
        .collect();
    (serde_json::to_string(&view).unwrap_or_default(), items)
}

/// A frozen exercise's view, as frozen; records erased since show as such,
/// and the counts are of what remains (an erased record leaves no trace in
/// them either).
pub async fn frozen_view(
    store: &Store,
    exercise: &ExerciseRow,
    threshold: u32,
) -> Result<Option<ExerciseView>, StoreError> {
    let Some(snapshot) = &exercise.snapshot else {
        return Ok(None);
    };
    let mut view: ExerciseView =
        serde_json::from_str(snapshot).map_err(|e| StoreError::Corrupt {
            id: exercise.id,
            what: format!("snapshot: {e}"),
        })?;
    view.items = store
        .snapshot_items(exercise.id)
        .await?
        .into_iter()
        .map(|s| ItemView {
            id: s.observation_id,
            erased_since: s.erased_at.is_some(),
            item: s
                .content
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
        })
        .collect();
    (view.counts, view.total) = counts(
        &view.items,
        &Suppression {
            threshold,
            exempt: false,
        },
    );
    Ok(Some(view))
}

/// `view` as `viewer` may read it. The meeting view is decided for the
/// panel (see [`scope`]); a reader is shown no more of it than their own
/// scope shows them now, so a field officer of a participating agency sees
/// only their own records in it, and a record hidden or withdrawn since a
/// snapshot was frozen drops out of it (and its counts) for everyone.
/// Records erased since freezing show as such to the panel's roles, not to
/// field officers; what left the view since the previous exercise, and
/// which exercise that was, only to those who run exercises
/// (coordinators): they name records nobody else may see.
pub fn for_reader(
    mut view: ExerciseView,
    index: &SpatialIndex,
    viewer: &Viewer,
    area: &Area,
    threshold: u32,
) -> ExerciseView {
    let filter = LayerFilter {
        bbox: Some(area.bbox),
        ..LayerFilter::default()
    };
    // What the panel is shown of each record now, and what the reader is.
    let panel: HashMap<i64, ShownObservation> = index
        .scope(&panel())
        .collect(&filter)
        .into_iter()
        .map(|o| (o.id, o))
        .collect();
    let reader: std::collections::HashSet<i64> = index
        .scope(viewer)
        .collect(&filter)
        .iter()
        .map(|o| o.id)
        .collect();
    let runs = viewer.reach(crate::domain::viewer::Action::RunExercises)
        == crate::domain::viewer::Reach::Any;
    // A record erased since freezing shows as such (without content) to the
    // panel that was shown it; a field officer was shown only their own.
    let panel_role = viewer.role != crate::domain::vocabulary::Role::FieldOfficer;
    view.items.retain(|i| match i.item {
        Some(_) => panel.contains_key(&i.id) && reader.contains(&i.id),
        None => panel_role,
    });
    // A record frozen exactly that the panel is now shown only at its
    // square (made sensitive since) is shown at its square here too.
    for i in &mut view.items {
        if let (Some(item), Some(now)) = (i.item.as_mut(), panel.get(&i.id)) {
            if now.precision != crate::privacy::Precision::Exact && item.precision == "exact" {
                item.lon = now.position[0];
                item.lat = now.position[1];
                item.precision = "bng-100m".into();
            }
        }
    }
    let shown: std::collections::HashSet<i64> = view.items.iter().map(|i| i.id).collect();
    let c = &mut view.changes;
    for list in [&mut c.new, &mut c.updated, &mut c.closed] {
        list.retain(|id| shown.contains(id));
    }
    if !runs {
        c.erased.clear();
        c.left.clear();
        c.previous_id = None;
    }
    (view.counts, view.total) = counts(
        &view.items,
        &Suppression {
            threshold,
            exempt: false,
        },
    );
    view
}

/// Counts before and after a frozen exercise, in its area and in the ring
/// around it, for one viewer.
#[derive(Debug, Clone, Serialize)]
pub struct FollowUp {
    /// The ring's width, metres.
    pub ring_metres: f64,
    /// Before: `[frozen − span, frozen)`.
    pub before: Window,
    /// After: `[frozen, now]`.
    pub after: Window,
}

/// Counts in one period.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// Start (RFC 3339).
    pub from: String,
    /// End (RFC 3339).
    pub to: String,
    /// In the area.
    pub area: serde_json::Value,
    /// In the ring around it.
    pub ring: serde_json::Value,
}

/// The area's shape in National Grid metres, for distances.
fn in_metres(shape: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let ring = |ls: &LineString<f64>| {
        LineString::from(
            ls.0.iter()
                .filter_map(|c| grid_position([c.x, c.y]))
                .collect::<Vec<(f64, f64)>>(),
        )
    };
    MultiPolygon(
        shape
            .0
            .iter()
            .map(|p| Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect()))
            .collect(),
    )
}

/// Counts what `viewer` sees before and after `frozen` (equal spans, the
/// after one ending `now`) inside `area` and within `ring` metres of it.
pub fn follow_up(
    index: &SpatialIndex,
    viewer: &Viewer,
    area: &Area,
    frozen: i64,
    now: i64,
    ring: f64,
    suppression: &Suppression,
) -> FollowUp {
    let span = (now - frozen).max(86_400_000);
    let metres = in_metres(&area.shape);
    // Degrees of margin to take in the whole ring (a degree of latitude is
    // ~111 km; longitude at Welsh latitudes ~70 km).
    let pad = ring / 60_000.0;
    let [x0, y0, x1, y1] = area.bbox;
    let scope = index.scope(viewer);
    let count = |from: i64, to: i64| {
        let filter = LayerFilter {
            bbox: Some([x0 - pad, y0 - pad, x1 + pad, y1 + pad]),
            from: Some(from),
            to: Some(to),
            ..LayerFilter::default()
        };
        let (mut inside, mut around) = (0u32, 0u32);
        scope.for_each(&filter, |o| {
            if area.contains(o.position) {
                inside += 1;
            } else if let Some((e, n)) = grid_position(o.position) {
                let p = Point::new(e, n);
                if !metres.contains(&p) && Euclidean::distance(&p, &metres) <= ring {
                    around += 1;
                }
            }
        });
        Window {
            from: format_instant(from_unix_millis(from)),
            to: format_instant(from_unix_millis(to)),
            area: serde_json::to_value(suppression.view(inside)).unwrap_or_default(),
            ring: serde_json::to_value(suppression.view(around)).unwrap_or_default(),
        }
    };
    FollowUp {
        ring_metres: ring,
        before: count(frozen - span, frozen - 1),
        after: count(frozen, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: i64, status: &str) -> SnapshotItem {
        SnapshotItem {
            observation_id: id,
            content: Some(serde_json::to_string(&it(status)).expect("json")),
            erased_at: None,
        }
    }

    fn it(status: &str) -> Item {
        Item {
            lon: -3.0,
            lat: 51.58,
            precision: "exact".into(),
            category: "unsafe-environment".into(),
            severity: "medium".into(),
            status: status.into(),
            setting: "park".into(),
            observed_at: "2026-07-01T12:00:00.000Z".into(),
            band: "school-day".into(),
        }
    }

    fn now(id: i64, status: &str) -> ItemView {
        ItemView {
            id,
            item: Some(it(status)),
            erased_since: false,
        }
    }

    #[test]
    fn changes_sort_records_into_new_updated_closed_erased_and_left() {
        let mut erased = snap(4, "new");
        erased.content = None;
        erased.erased_at = Some("2026-08-01T00:00:00.000Z".into());
        let before = [
            snap(1, "new"),
            snap(2, "new"),
            snap(3, "new"),
            erased,
            snap(5, "new"),
        ];
        let current = [
            now(1, "new"),
            now(2, "reviewed"),
            now(3, "closed"),
            now(6, "new"),
        ];
        let c = changes(Some(9), &before, &current);
        assert_eq!(
            (c.new, c.updated, c.closed, c.erased, c.left),
            (vec![6], vec![2], vec![3], vec![4], vec![5])
        );
    }
}
