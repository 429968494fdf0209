//! The places register and areas: the workflows behind their routes.
//!
//! Each write commits with its audit event, then brings derived state up to
//! date (the parsed areas every count uses), on its own task so that a
//! client going away cannot leave the two apart.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{to_completion, ServiceError};
use crate::areas::AreaSet;
use crate::domain::area::AreaShape;
use crate::domain::place::{ImportedPlace, Place, PlaceDetails};
use crate::domain::viewer::{Action, Viewer};
use crate::domain::vocabulary::AuditAction;
use crate::index::{LayerFilter, ShownObservation, SpatialIndex};
use crate::store::{
    AreaImport, AuditEntry, IdempotencyKey, PlaceImport, Store, StoreError, StoredArea,
};

/// A place as one viewer reads it: its entry, and the observations linked
/// to it that the viewer sees exactly (a generalised record carries no
/// place link), newest first.
#[derive(Debug, Clone)]
pub struct PlaceView {
    /// The register entry.
    pub place: Place,
    /// Linked observations, as shown.
    pub observations: Vec<ShownObservation>,
}

/// The register's workflows.
#[derive(Debug, Clone)]
pub struct Places {
    store: Store,
    index: Arc<SpatialIndex>,
}

fn allow(viewer: &Viewer, action: Action) -> Result<(), ServiceError> {
    if viewer.may_at_all(action) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// A register entry's audit event.
fn entry(
    viewer: &Viewer,
    action: AuditAction,
    object: &'static str,
    id: String,
    what: &str,
    now: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry::by(viewer, action, object, id, &viewer.agency, Some(what), now)
}

/// For places, an unknown place is simply not found.
fn place_error(e: StoreError) -> ServiceError {
    match e {
        StoreError::UnknownPlace(_) | StoreError::NotFound(_) => ServiceError::NotFound,
        other => other.into(),
    }
}

impl Places {
    /// The register over a store, with the index its place pages read.
    pub fn new(store: Store, index: Arc<SpatialIndex>) -> Places {
        Places { store, index }
    }

    /// Every place on the register.
    pub async fn list(&self, viewer: &Viewer) -> Result<Vec<Place>, ServiceError> {
        allow(viewer, Action::ReadPlaces)?;
        Ok(self.store.places().await?)
    }

    /// One place and what `viewer` sees linked to it.
    pub async fn read(&self, viewer: &Viewer, id: i64) -> Result<PlaceView, ServiceError> {
        allow(viewer, Action::ReadPlaces)?;
        let place = self.store.place(id).await?.ok_or(ServiceError::NotFound)?;
        let mut observations = Vec::new();
        if viewer.may_at_all(Action::ReadLayers) {
            let filter = LayerFilter {
                place: Some(id),
                ..LayerFilter::default()
            };
            observations = self.index.scope(viewer).collect(&filter);
        }
        observations.sort_unstable_by_key(|o| std::cmp::Reverse((o.observed_at, o.id)));
        Ok(PlaceView {
            place,
            observations,
        })
    }

    /// Adds a place; with a key, a retry returns the first (`false`).
    pub async fn add(
        &self,
        viewer: &Viewer,
        details: PlaceDetails,
        key: Option<IdempotencyKey>,
        now: DateTime<Utc>,
    ) -> Result<(Place, bool), ServiceError> {
        allow(viewer, Action::ManagePlaces)?;
        let audit = entry(
            viewer,
            AuditAction::Collection,
            "place",
            String::new(),
            "added to the places register",
            now,
        );
        let store = self.store.clone();
        to_completion(async move {
            store
                .add_place(&details, key.as_ref(), audit)
                .await
                .map_err(place_error)
        })
        .await
    }

    /// Replaces a place's entry; `version` must be the one read.
    pub async fn edit(
        &self,
        viewer: &Viewer,
        id: i64,
        version: i64,
        details: PlaceDetails,
        now: DateTime<Utc>,
    ) -> Result<Place, ServiceError> {
        allow(viewer, Action::ManagePlaces)?;
        let audit = entry(
            viewer,
            AuditAction::Alteration,
            "place",
            id.to_string(),
            "edited in the places register",
            now,
        );
        let store = self.store.clone();
        to_completion(async move {
            store
                .edit_place(id, version, &details, audit)
                .await
                .map_err(place_error)
        })
        .await
    }

    /// Takes a place off the register.
    pub async fn remove(
        &self,
        viewer: &Viewer,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        allow(viewer, Action::ManagePlaces)?;
        let audit = entry(
            viewer,
            AuditAction::Withdrawal,
            "place",
            id.to_string(),
            "removed from the places register",
            now,
        );
        let store = self.store.clone();
        to_completion(async move { store.remove_place(id, audit).await.map_err(place_error) }).await
    }

    /// Adds or brings up to date every place of an import; all or nothing.
    pub async fn import(
        &self,
        viewer: &Viewer,
        places: Vec<ImportedPlace>,
        now: DateTime<Utc>,
    ) -> Result<PlaceImport, ServiceError> {
        allow(viewer, Action::ManagePlaces)?;
        let audit = entry(
            viewer,
            AuditAction::Collection,
            "place",
            "import".into(),
            &format!("imported {} places into the register", places.len()),
            now,
        );
        let store = self.store.clone();
        to_completion(async move { Ok(store.import_places(&places, audit).await?) }).await
    }
}

/// The areas' workflows: each write commits, then reloads the parsed areas.
#[derive(Debug, Clone)]
pub struct Areas {
    store: Store,
    areas: Arc<AreaSet>,
}

impl Areas {
    /// Areas over a store and the parsed set derived from it.
    pub fn new(store: Store, areas: Arc<AreaSet>) -> Areas {
        Areas { store, areas }
    }

    /// Saves a drawn area (a retry of the same key returns the first:
    /// `false`).
    pub async fn draw(
        &self,
        viewer: &Viewer,
        shape: AreaShape,
        now: DateTime<Utc>,
    ) -> Result<(StoredArea, bool), ServiceError> {
        allow(viewer, Action::ManageAreas)?;
        let audit = entry(
            viewer,
            AuditAction::Collection,
            "area",
            String::new(),
            "drew an area",
            now,
        );
        let (store, areas) = (self.store.clone(), self.areas.clone());
        to_completion(async move {
            let (area, new) = store.add_area(&shape, audit).await?;
            if new {
                areas.reload(&store).await?;
            }
            Ok((area, new))
        })
        .await
    }

    /// Adds or replaces every area of a boundary file; all or nothing.
    pub async fn import(
        &self,
        viewer: &Viewer,
        shapes: Vec<AreaShape>,
        source: String,
        now: DateTime<Utc>,
    ) -> Result<AreaImport, ServiceError> {
        allow(viewer, Action::ManageAreas)?;
        let audit = entry(
            viewer,
            AuditAction::Collection,
            "area",
            "import".into(),
            &format!("imported {} areas", shapes.len()),
            now,
        );
        let (store, areas) = (self.store.clone(), self.areas.clone());
        to_completion(async move {
            let report = store.import_areas(&shapes, &source, audit).await?;
            areas.reload(&store).await?;
            Ok(report)
        })
        .await
    }

    /// Deletes an area no exercise uses.
    pub async fn remove(
        &self,
        viewer: &Viewer,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        allow(viewer, Action::ManageAreas)?;
        let audit = entry(
            viewer,
            AuditAction::Erasure,
            "area",
            id.to_string(),
            "deleted an area",
            now,
        );
        let (store, areas) = (self.store.clone(), self.areas.clone());
        to_completion(async move {
            if !store.remove_area(id, audit).await? {
                return Err(ServiceError::NotFound);
            }
            areas.reload(&store).await?;
            Ok(())
        })
        .await
    }
}
