//! The police.uk context layer in memory: an R-tree of crimes rebuilt from
//! the store after each import (here or in another process).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rstar::{RTree, RTreeObject, AABB};

use crate::import::police::{month_number, type_code};
use crate::store::{Store, StoreError};

/// One crime in the layer's index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicePoint {
    /// `[lon, lat]`.
    pub position: [f64; 2],
    /// Month number (see [`month_number`]).
    pub month: u32,
    /// Index into the layer's crime types.
    pub crime_type: u16,
}

impl RTreeObject for PolicePoint {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_point(self.position)
    }
}

/// The layer's contents at one moment.
#[derive(Debug, Default)]
pub struct PoliceSnapshot {
    /// The points.
    pub tree: RTree<PolicePoint>,
    /// Crime types by index, as police.uk spells them.
    pub types: Vec<String>,
}

impl PoliceSnapshot {
    /// The index of a crime type code, if any row has it.
    pub fn type_index(&self, code: &str) -> Option<u16> {
        self.types
            .iter()
            .position(|t| type_code(t) == code)
            .map(|i| i as u16)
    }
}

/// The layer: an in-memory index rebuilt from the store after each import.
#[derive(Debug, Default)]
pub struct PoliceLayer {
    snapshot: RwLock<Arc<PoliceSnapshot>>,
    generation: AtomicU64,
    head: AtomicU64,
}

impl PoliceLayer {
    /// Loads the layer from the store.
    pub async fn load(store: &Store) -> Result<PoliceLayer, StoreError> {
        let layer = PoliceLayer::default();
        layer.reload(store).await?;
        Ok(layer)
    }

    /// Rebuilds from the store (after an import here or in another process).
    pub async fn reload(&self, store: &Store) -> Result<(), StoreError> {
        let head = store.police_import_head().await?;
        let mut types: Vec<String> = Vec::new();
        let mut points = Vec::new();
        store
            .for_each_police_crime(|lon, lat, month, crime_type| {
                let t = match types.iter().position(|t| t == crime_type) {
                    Some(i) => i,
                    None => {
                        types.push(crime_type.to_owned());
                        types.len() - 1
                    }
                };
                points.push(PolicePoint {
                    position: [lon, lat],
                    month: month_number(month).unwrap_or(0),
                    crime_type: u16::try_from(t).unwrap_or(u16::MAX),
                });
            })
            .await?;
        let snapshot = Arc::new(PoliceSnapshot {
            tree: RTree::bulk_load(points),
            types,
        });
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
        self.head.store(head as u64, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Reloads when the store's import log has moved on since the last load.
    pub async fn refresh(&self, store: &Store) -> Result<bool, StoreError> {
        let head = store.police_import_head().await? as u64;
        if head == self.head.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.reload(store).await?;
        Ok(true)
    }

    /// The current contents.
    pub fn snapshot(&self) -> Arc<PoliceSnapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes whenever the contents do (for tile caches and ETags).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
