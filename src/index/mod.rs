//! The spatial index: an rstar R-tree of live observations, derived from the
//! store and rebuilt from it at start.
//!
//! Layer reads run here, never in SQL. An entry holds only what styling,
//! filtering and privacy need — no free text, no case reference — packed
//! into 56 bytes; agencies and recording principals are interned.
//!
//! Recorded positions never leave this module: the only way to read
//! entries is a viewer's [`Scope`] (see `scope.rs`), which yields each
//! record where that viewer is shown it and leaves out what they may not
//! see.

pub mod police;
mod scope;

pub use scope::{Scope, ShownObservation};

use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use rstar::{RTree, RTreeObject, AABB};

use crate::domain::time::{uk_hour_and_weekday, unix_millis};
use crate::domain::vocabulary::{Category, Sensitivity, SettingType, Severity, Status};
use crate::privacy::Recorded;
use crate::store::IndexRow;

/// What lets the index open a [`Recorded`] observation: only this module
/// can make one.
#[derive(Debug)]
pub struct Key(());

const KEY: Key = Key(());

/// One live observation in the index, at its recorded position. Its fields
/// are private to this module: everything outside reads observations
/// through a viewer's [`Scope`], as that viewer is shown them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexedObservation {
    /// Position `[lon, lat]`, WGS84 degrees.
    position: [f64; 2],
    /// Observation id.
    id: i64,
    /// Observed-at, milliseconds since the Unix epoch.
    observed_at: i64,
    /// Interned recording principal.
    recorded_by: u32,
    /// Interned recording agency.
    agency: u16,
    /// Category.
    category: Category,
    /// Severity.
    severity: Severity,
    /// Status.
    status: Status,
    /// Sensitivity.
    sensitivity: Sensitivity,
    /// Setting.
    setting: SettingType,
    /// UK local hour of day, 0–23.
    local_hour: u8,
    /// UK local weekday, 0 = Monday … 6 = Sunday.
    local_weekday: u8,
    /// Linked place id; 0: none (ids start at 1; a register of more than
    /// four billion places is not a council's).
    place: u32,
}

impl RTreeObject for IndexedObservation {
    type Envelope = AABB<[f64; 2]>;

    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.position)
    }
}

/// Interned strings: each distinct agency or principal is stored once.
#[derive(Debug, Default)]
struct Names {
    agencies: Vec<String>,
    agency_ids: HashMap<String, u16>,
    principals: Vec<String>,
    principal_ids: HashMap<String, u32>,
}

impl Names {
    fn agency(&mut self, name: &str) -> u16 {
        if let Some(&id) = self.agency_ids.get(name) {
            return id;
        }
        // More than 65,535 agencies would be a data error; share the last slot
        // rather than panic.
        let id = u16::try_from(self.agencies.len()).unwrap_or(u16::MAX);
        self.agencies.push(name.to_owned());
        self.agency_ids.insert(name.to_owned(), id);
        id
    }

    fn principal(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.principal_ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.principals.len()).unwrap_or(u32::MAX);
        self.principals.push(name.to_owned());
        self.principal_ids.insert(name.to_owned(), id);
        id
    }
}

/// What a layer query asks for, besides the box.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerFilter {
    /// Only inside this box `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: Option<[f64; 4]>,
    /// Observed at or after (milliseconds since the epoch).
    pub from: Option<i64>,
    /// Observed at or before (milliseconds since the epoch).
    pub to: Option<i64>,
    /// Any of these categories (empty: all).
    pub categories: Vec<Category>,
    /// Any of these severities.
    pub severities: Vec<Severity>,
    /// Any of these statuses.
    pub statuses: Vec<Status>,
    /// Any of these sensitivities.
    pub sensitivities: Vec<Sensitivity>,
    /// Any of these settings.
    pub settings: Vec<SettingType>,
    /// Any of these agencies, by name.
    pub agencies: Vec<String>,
    /// Local hours of day to keep (bit n = hour n); `None`: all.
    pub hours: Option<u32>,
    /// Local weekdays to keep (bit n = weekday n); `None`: all.
    pub weekdays: Option<u8>,
    /// Only observations linked to this place, and only those the viewer
    /// sees exactly (a generalised record carries no place link).
    pub place: Option<i64>,
    /// Only what the viewer recorded themselves ("my reports").
    pub mine: bool,
}

fn any_of<T: PartialEq>(wanted: &[T], value: &T) -> bool {
    wanted.is_empty() || wanted.contains(value)
}

/// One page of a layer query, as a viewer may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// How many observations match, over all pages.
    pub matched: usize,
    /// This page's observations, by ascending id, each as shown.
    pub items: Vec<ShownObservation>,
    /// Whether there are more after this page.
    pub more: bool,
}

/// How far a shown position may lie from the recorded one, in degrees: half
/// the diagonal of a 100 m square (71 m) is under 0.0015° of longitude in
/// Wales; rounded up generously. The scope widens its search by this much
/// when the viewer may see generalised positions.
const SHOWN_MARGIN_DEGREES: f64 = 0.002;

struct Inner {
    tree: RTree<IndexedObservation>,
    names: Names,
    /// Where each id's entry is, so a change known only by id (from another
    /// instance, or after a write whose outcome was unknown) finds it
    /// without walking the tree.
    positions: HashMap<i64, [f64; 2]>,
}

/// The index. Reads take a shared lock; the service applies writes only after
/// they commit, one at a time.
pub struct SpatialIndex {
    inner: RwLock<Inner>,
    /// Moves on with every write, so caches of derived output (tiles) can
    /// tell they are stale.
    generation: AtomicU64,
}

impl std::fmt::Debug for SpatialIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpatialIndex")
            .field("len", &self.len())
            .finish()
    }
}

impl Inner {
    fn add(&mut self, entry: IndexedObservation) {
        self.positions.insert(entry.id, entry.position);
        self.tree.insert(entry);
    }

    /// Removes the entry of `id`, if there is one.
    fn take(&mut self, id: i64) -> bool {
        let Some(at) = self.positions.remove(&id) else {
            return false;
        };
        let found = self
            .tree
            .locate_in_envelope(&AABB::from_point(at))
            .find(|o| o.id == id)
            .copied();
        match found {
            Some(entry) => self.tree.remove(&entry).is_some(),
            None => false,
        }
    }

    fn entry(&mut self, row: &IndexRow<'_>) -> IndexedObservation {
        let (local_hour, local_weekday) = uk_hour_and_weekday(row.observed_at);
        IndexedObservation {
            position: [row.location.lon, row.location.lat],
            id: row.id,
            observed_at: unix_millis(row.observed_at),
            recorded_by: self.names.principal(row.recorded_by),
            agency: self.names.agency(row.agency),
            category: row.category,
            severity: row.severity,
            status: row.status,
            sensitivity: row.sensitivity,
            setting: row.setting,
            local_hour,
            local_weekday,
            place: row
                .place_id
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0),
        }
    }
}

impl SpatialIndex {
    /// Bulk-loads an index from rows. Runs in O(n log n).
    pub fn build<'a>(rows: impl IntoIterator<Item = IndexRow<'a>>) -> Self {
        let mut inner = Inner {
            tree: RTree::new(),
            names: Names::default(),
            positions: HashMap::new(),
        };
        let entries: Vec<_> = rows.into_iter().map(|r| inner.entry(&r)).collect();
        inner.positions = entries.iter().map(|e| (e.id, e.position)).collect();
        inner.tree = RTree::bulk_load(entries);
        SpatialIndex {
            inner: RwLock::new(inner),
            generation: AtomicU64::new(0),
        }
    }

    /// Loads every live observation from the store, streaming, then
    /// bulk-loads the tree.
    pub async fn load(store: &crate::store::Store) -> Result<Self, crate::store::StoreError> {
        let mut inner = Inner {
            tree: RTree::new(),
            names: Names::default(),
            positions: HashMap::new(),
        };
        let mut entries = Vec::new();
        store
            .for_each_live_observation(&KEY, |row| entries.push(inner.entry(&row)))
            .await?;
        inner.positions = entries.iter().map(|e| (e.id, e.position)).collect();
        inner.tree = RTree::bulk_load(entries);
        Ok(SpatialIndex {
            inner: RwLock::new(inner),
            generation: AtomicU64::new(0),
        })
    }

    fn write(&self) -> WriteGuard<'_> {
        // A panic while holding the lock cannot leave the tree half-changed
        // in a way reads care about, so a poisoned lock is still usable.
        WriteGuard {
            inner: self.inner.write().unwrap_or_else(|e| e.into_inner()),
            generation: &self.generation,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a committed observation (nothing, if it is withdrawn).
    pub fn insert(&self, recorded: &Recorded) {
        if let Some(row) = recorded.index_row(&KEY) {
            let mut inner = self.write();
            let entry = inner.entry(&row);
            inner.add(entry);
        }
    }

    /// Replaces a committed observation's old entry with its new one; with
    /// `after = None` (or withdrawn), removes it (withdrawn or erased).
    pub fn replace(&self, before: &Recorded, after: Option<&Recorded>) {
        let after = after.and_then(|a| a.index_row(&KEY));
        match before.index_row(&KEY) {
            Some(before) => self.replace_row(&before, after.as_ref()),
            None => {
                // It was withdrawn, so it is not in the tree.
                if let Some(after) = after {
                    let mut inner = self.write();
                    let entry = inner.entry(&after);
                    inner.take(entry.id);
                    inner.add(entry);
                }
            }
        }
    }

    fn replace_row(&self, before: &IndexRow<'_>, after: Option<&IndexRow<'_>>) {
        let mut inner = self.write();
        // Wherever its entry is (not necessarily where its stored state
        // says, after a change this process did not see): an id is never
        // indexed twice.
        inner.take(before.id);
        if let Some(after) = after {
            let new = inner.entry(after);
            inner.add(new);
        }
    }

    /// Puts one record's entry right from what the store holds now
    /// (`None`: it is gone): for changes known only by id.
    pub fn reconcile(&self, id: i64, now: Option<&Recorded>) {
        let row = now.and_then(|r| r.index_row(&KEY));
        let mut inner = self.write();
        inner.take(id);
        if let Some(row) = row {
            let entry = inner.entry(&row);
            inner.add(entry);
        }
    }

    /// Removes the entries of these ids, wherever they are: for erasures
    /// made by another process, seen through the audit trail. One scan of
    /// the tree per call, so callers batch ids.
    pub fn remove_ids(&self, ids: &[i64]) -> usize {
        if ids.is_empty() {
            return 0;
        }
        let mut inner = self.write();
        ids.iter().filter(|id| inner.take(**id)).count()
    }

    /// A number that changes whenever the index does.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// How many observations are indexed.
    pub fn len(&self) -> usize {
        self.read().tree.size()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of an interned agency.
    pub fn agency_name(&self, agency: u16) -> String {
        self.read()
            .names
            .agencies
            .get(usize::from(agency))
            .cloned()
            .unwrap_or_default()
    }

    /// Every agency name, by interned id (for serialising many entries).
    pub fn agency_names(&self) -> Vec<String> {
        self.read().names.agencies.clone()
    }

    /// The interned id of a principal, if it has any indexed observation.
    fn principal_id(&self, principal: &str) -> Option<u32> {
        self.read().names.principal_ids.get(principal).copied()
    }

    /// The interned id of an agency, if it has any indexed observation.
    fn agency_id(&self, agency: &str) -> Option<u16> {
        self.read().names.agency_ids.get(agency).copied()
    }

    /// Runs a layer query: everything matching `filter` that `shown` lets
    /// the viewer see, counted in full, with the page of up to `limit`
    /// entries whose ids follow `after`, in id order (so paging is stable
    /// while observations are added). `shown` and `margin` are as for
    /// [`SpatialIndex::for_each_shown`].
    ///
    /// Cost: the R-tree search plus O(m log limit) for m matches.
    fn page(
        &self,
        filter: &LayerFilter,
        shown: impl Fn(&IndexedObservation) -> Option<ShownObservation>,
        margin: f64,
        after: Option<i64>,
        limit: usize,
    ) -> Page {
        // Max-heap on id keeps the `limit + 1` smallest ids after the cursor;
        // the extra one tells whether another page follows.
        let mut heap: BinaryHeap<HeapEntry> = BinaryHeap::with_capacity(limit + 2);
        let mut matched = 0;
        self.for_each_shown(filter, shown, margin, |o| {
            matched += 1;
            if after.is_some_and(|a| o.id <= a) {
                return;
            }
            if heap.len() <= limit {
                heap.push(HeapEntry(*o));
            } else if heap.peek().is_some_and(|top| o.id < top.0.id) {
                heap.pop();
                heap.push(HeapEntry(*o));
            }
        });
        let mut items: Vec<_> = heap.into_iter().map(|e| e.0).collect();
        items.sort_unstable_by_key(|o| o.id);
        let more = items.len() > limit;
        items.truncate(limit);
        Page {
            matched,
            items,
            more,
        }
    }

    /// Calls `found` for everything matching `filter` that `shown` lets the
    /// viewer see, in no particular order, as `shown` presents it (so
    /// aggregates built on it carry nothing finer than the points layer).
    ///
    /// The bbox is tested against the shown position, so moving a box's
    /// edge reveals nothing finer than what is shown. `margin` (degrees) is
    /// how far a shown position may lie from the recorded one: 0 when every
    /// position is shown as recorded, [`SHOWN_MARGIN_DEGREES`] when some are
    /// generalised.
    fn for_each_shown(
        &self,
        filter: &LayerFilter,
        shown: impl Fn(&IndexedObservation) -> Option<ShownObservation>,
        margin: f64,
        mut found: impl FnMut(&ShownObservation),
    ) {
        let inner = self.read();
        let agency_ids: Vec<u16> = filter
            .agencies
            .iter()
            .filter_map(|a| inner.names.agency_ids.get(a).copied())
            .collect();
        if !filter.agencies.is_empty() && agency_ids.is_empty() {
            return;
        }
        let keep = |o: &IndexedObservation| {
            filter.from.is_none_or(|t| o.observed_at >= t)
                && filter.to.is_none_or(|t| o.observed_at <= t)
                && any_of(&filter.categories, &o.category)
                && any_of(&filter.severities, &o.severity)
                && any_of(&filter.statuses, &o.status)
                && any_of(&filter.sensitivities, &o.sensitivity)
                && any_of(&filter.settings, &o.setting)
                && any_of(&agency_ids, &o.agency)
                && filter.hours.is_none_or(|h| h & (1 << o.local_hour) != 0)
                && filter
                    .weekdays
                    .is_none_or(|d| d & (1 << o.local_weekday) != 0)
                && filter.place.is_none_or(|p| i64::from(o.place) == p)
        };
        let inside = |[x, y]: [f64; 2]| {
            filter
                .bbox
                .is_none_or(|[x0, y0, x1, y1]| x >= x0 && x <= x1 && y >= y0 && y <= y1)
        };
        let mut visit = |o: &IndexedObservation| {
            if !keep(o) {
                return;
            }
            let Some(shown) = shown(o) else {
                return;
            };
            // A generalised record carries no place link (the register
            // holds each place's exact position; see `privacy::present`),
            // so filtering by place must not find it either.
            if filter.place.is_some() && shown.place == 0 {
                return;
            }
            // A moved (generalised) position is always tested against the
            // box itself, whatever margin the caller chose.
            if (margin > 0.0 || shown.position != o.position) && !inside(shown.position) {
                return;
            }
            found(&shown);
        };
        match filter.bbox {
            Some([x0, y0, x1, y1]) => {
                let m = margin;
                inner
                    .tree
                    .locate_in_envelope(&AABB::from_corners([x0 - m, y0 - m], [x1 + m, y1 + m]))
                    .for_each(&mut visit)
            }
            None => inner.tree.iter().for_each(&mut visit),
        }
    }
}

/// The write lock; the generation moves on when it is released, after the
/// change and while still locked, so a reader that sees the new generation
/// also sees the change (a cache may hold fresh content under an old
/// generation, never stale content under the new one).
struct WriteGuard<'a> {
    inner: std::sync::RwLockWriteGuard<'a, Inner>,
    generation: &'a AtomicU64,
}

impl std::ops::Deref for WriteGuard<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl std::ops::DerefMut for WriteGuard<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

/// A heap entry ordered by id alone.
struct HeapEntry(ShownObservation);

impl PartialEq for HeapEntry {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}
impl Eq for HeapEntry {}
impl PartialOrd for HeapEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapEntry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.id.cmp(&other.0.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::observation::LonLat;
    use crate::domain::time::parse_instant;

    fn row(id: i64, lon: f64, lat: f64) -> IndexRow<'static> {
        IndexRow {
            id,
            location: LonLat { lon, lat },
            observed_at: parse_instant("2026-01-01T12:00:00Z").expect("instant"),
            category: Category::SafePlace,
            severity: Severity::Low,
            status: Status::New,
            sensitivity: Sensitivity::Standard,
            setting: SettingType::Park,
            agency: "a",
            recorded_by: "p",
            place_id: None,
        }
    }

    fn coordinator() -> crate::domain::viewer::Viewer {
        crate::domain::viewer::Viewer {
            principal: "user:1".into(),
            name: "t".into(),
            agency: "a".into(),
            role: crate::domain::vocabulary::Role::Coordinator,
            admin: false,
            credential: crate::domain::viewer::Credential::Session,
        }
    }

    #[test]
    fn an_entry_fits_in_fifty_six_bytes() {
        assert_eq!(std::mem::size_of::<IndexedObservation>(), 56);
    }

    #[test]
    fn pages_follow_id_order_and_count_every_match() {
        let index = SpatialIndex::build((1..=10).rev().map(|i| row(i, -3.0, 51.5)));
        let coordinator = coordinator();
        let scope = index.scope(&coordinator);
        let ids = |p: Page| p.items.iter().map(|o| o.id).collect::<Vec<_>>();
        let first = scope.page(&LayerFilter::default(), None, 4);
        assert_eq!(first.matched, 10);
        assert!(first.more);
        assert_eq!(ids(first), [1, 2, 3, 4]);
        let last = scope.page(&LayerFilter::default(), Some(8), 4);
        assert!(!last.more);
        assert_eq!(ids(last), [9, 10]);
    }

    #[test]
    fn replacing_moves_an_entry_out_of_the_old_box() {
        let index = SpatialIndex::build([row(1, -3.0, 51.5)]);
        index.replace_row(&row(1, -3.0, 51.5), Some(&row(1, -4.0, 52.0)));
        let near_old = LayerFilter {
            bbox: Some([-3.1, 51.4, -2.9, 51.6]),
            ..LayerFilter::default()
        };
        let coordinator = coordinator();
        assert_eq!(
            index.scope(&coordinator).page(&near_old, None, 10).matched,
            0
        );
        assert_eq!(index.len(), 1);
    }
}
