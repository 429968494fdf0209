//! Areas in memory: shapes parsed once, so counting observations per area
//! for a layer filter is an index walk and point-in-polygon tests, with no
//! SQL per request. Reloaded after every change made through this process
//! and, for imports from the command line, by the housekeeping job.

use std::sync::{Arc, RwLock};

use geo::{Contains, MultiPolygon, Point};

use crate::domain::area::multipolygon;
use crate::domain::vocabulary::AreaKind;
use crate::index::{LayerFilter, Scope};
use crate::store::{Store, StoreError, StoredArea};

/// One area with its parsed shape.
#[derive(Debug, Clone)]
pub struct Area {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: AreaKind,
    /// Code.
    pub code: String,
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: [f64; 4],
    /// The shape.
    pub shape: MultiPolygon<f64>,
    /// The shape as GeoJSON, as stored.
    pub geometry: serde_json::Value,
}

impl Area {
    fn from_stored(stored: StoredArea) -> Option<Area> {
        let value: serde_json::Value = serde_json::from_str(&stored.geometry).ok()?;
        let shape = multipolygon(&geojson::Geometry::from_json_value(value.clone()).ok()?)?;
        Some(Area {
            id: stored.id,
            kind: stored.kind,
            code: stored.code,
            name_en: stored.name_en,
            name_cy: stored.name_cy,
            bbox: stored.bbox,
            shape,
            geometry: value,
        })
    }

    /// Whether a position lies inside the area.
    pub fn contains(&self, [lon, lat]: [f64; 2]) -> bool {
        let [x0, y0, x1, y1] = self.bbox;
        lon >= x0
            && lon <= x1
            && lat >= y0
            && lat <= y1
            && self.shape.contains(&Point::new(lon, lat))
    }

    /// Whether the area's box meets `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn meets(&self, [a0, b0, a1, b1]: [f64; 4]) -> bool {
        let [x0, y0, x1, y1] = self.bbox;
        x0 <= a1 && a0 <= x1 && y0 <= b1 && b0 <= y1
    }
}

/// Every area, shared between requests.
#[derive(Debug, Default)]
pub struct AreaSet {
    areas: RwLock<Arc<Vec<Arc<Area>>>>,
}

impl AreaSet {
    /// Loads every area from the store.
    pub async fn load(store: &Store) -> Result<AreaSet, StoreError> {
        let set = AreaSet::default();
        set.reload(store).await?;
        Ok(set)
    }

    /// Reads the areas again (after a change).
    pub async fn reload(&self, store: &Store) -> Result<(), StoreError> {
        let stored = store.areas().await?;
        let mut areas = Vec::with_capacity(stored.len());
        for area in stored {
            let id = area.id;
            match Area::from_stored(area) {
                Some(a) => areas.push(Arc::new(a)),
                // Only a hand-edited database gets here; leave the area out.
                None => tracing::warn!(area = id, "stored area has an unreadable shape"),
            }
        }
        *self.areas.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(areas);
        Ok(())
    }

    /// The areas as they are now.
    pub fn snapshot(&self) -> Arc<Vec<Arc<Area>>> {
        self.areas.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// One area.
    pub fn get(&self, id: i64) -> Option<Arc<Area>> {
        self.snapshot().iter().find(|a| a.id == id).cloned()
    }
}

/// Counts what `scope` lets its viewer see inside `area` that matches
/// `filter` (its box replaced by the area's), at shown positions: a
/// generalised record counts where it is shown, so area edges reveal
/// nothing finer than the points layer. A point-in-polygon test costs as
/// many steps as the shape has edges (an imported ward can have 100,000),
/// so the count stops when `budget` runs out.
pub fn count_in(
    scope: &Scope<'_>,
    area: &Area,
    filter: &LayerFilter,
    budget: &crate::analysis::Budget,
) -> Result<u32, crate::analysis::OverBudget> {
    let filter = LayerFilter {
        bbox: Some(area.bbox),
        ..filter.clone()
    };
    let (mut n, mut seen, mut spent) = (0u32, 0u32, false);
    scope.for_each(&filter, |o| {
        seen = seen.wrapping_add(1);
        if spent || (seen % 256 == 0 && budget.spent()) {
            spent = true;
            return;
        }
        if area.contains(o.position) {
            n = n.saturating_add(1);
        }
    });
    if spent {
        // Spent means the deadline passed: this is the error.
        budget.check()?;
    }
    Ok(n)
}
