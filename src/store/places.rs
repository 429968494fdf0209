//! The places register in the store: add, edit, remove and import places,
//! each change with its audit event in the same transaction.

use chrono::Utc;
use sqlx::any::AnyRow;

use super::audit::{append, AuditEntry};
use super::observations::IdempotencyKey;
use super::{column, Context, Store, StoreError, Tx};
use crate::domain::observation::LonLat;
use crate::domain::place::{ImportedPlace, Place, PlaceDetails};
use crate::domain::time::format_instant;
use crate::domain::vocabulary::{PlaceKind, SettingType, TrainingStatus};

/// A place to add to the register (the demo's short form).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlace {
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
    /// What kind of place.
    pub setting: SettingType,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// Latitude, WGS84 degrees.
    pub lat: f64,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlaceImport {
    /// Places new to the register.
    pub added: usize,
    /// Places already there (same reference), brought up to date.
    pub updated: usize,
    /// Places already there and already the same.
    pub unchanged: usize,
}

const COLUMNS: &str = "id, name_en, name_cy, kind, lon, lat, address, licence_reference, \
    manager_role, training, safe_place, source_ref, version, created_at, updated_at, updated_by";

fn place_from_row(row: &AnyRow) -> Result<Place, StoreError> {
    let id: i64 = column(row, "id")?;
    let corrupt = |what: String| StoreError::Corrupt { id, what };
    let kind: String = column(row, "kind")?;
    let training: String = column(row, "training")?;
    Ok(Place {
        id,
        details: PlaceDetails {
            name_en: column(row, "name_en")?,
            name_cy: column(row, "name_cy")?,
            kind: PlaceKind::from_code(&kind)
                .ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?,
            location: LonLat {
                lon: column(row, "lon")?,
                lat: column(row, "lat")?,
            },
            address: column(row, "address")?,
            licence_reference: column(row, "licence_reference")?,
            manager_role: column(row, "manager_role")?,
            training: TrainingStatus::from_code(&training)
                .ok_or_else(|| corrupt(format!("unknown training `{training}`")))?,
            safe_place: column::<i64>(row, "safe_place")? != 0,
        },
        source_ref: column(row, "source_ref")?,
        version: column(row, "version")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
        updated_by: column(row, "updated_by")?,
    })
}

async fn insert(
    tx: &mut Tx<'_>,
    d: &PlaceDetails,
    source_ref: Option<&str>,
    by: &str,
    at: &str,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO places (name_en, name_cy, setting, lon, lat, created_at, kind, address,
             licence_reference, manager_role, training, safe_place, version, updated_at,
             updated_by, source_ref)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $6, $13, $14) RETURNING id",
    )
    .bind(&d.name_en)
    .bind(&d.name_cy)
    .bind(d.kind.setting().code())
    .bind(d.location.lon)
    .bind(d.location.lat)
    .bind(at)
    .bind(d.kind.code())
    .bind(&d.address)
    .bind(&d.licence_reference)
    .bind(&d.manager_role)
    .bind(d.training.code())
    .bind(i64::from(d.safe_place))
    .bind(by)
    .bind(source_ref)
    .fetch_one(&mut **tx)
    .await
    .ctx("adding a place")
}

async fn update(
    tx: &mut Tx<'_>,
    id: i64,
    d: &PlaceDetails,
    by: &str,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE places SET name_en = $1, name_cy = $2, setting = $3, lon = $4, lat = $5,
             kind = $6, address = $7, licence_reference = $8, manager_role = $9, training = $10,
             safe_place = $11, version = version + 1, updated_at = $12, updated_by = $13
         WHERE id = $14",
    )
    .bind(&d.name_en)
    .bind(&d.name_cy)
    .bind(d.kind.setting().code())
    .bind(d.location.lon)
    .bind(d.location.lat)
    .bind(d.kind.code())
    .bind(&d.address)
    .bind(&d.licence_reference)
    .bind(&d.manager_role)
    .bind(d.training.code())
    .bind(i64::from(d.safe_place))
    .bind(at)
    .bind(by)
    .bind(id)
    .execute(&mut **tx)
    .await
    .ctx("editing a place")?;
    Ok(())
}

async fn place_in(tx: &mut Tx<'_>, id: i64) -> Result<Option<Place>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM places WHERE id = $1 AND removed_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .ctx("reading a place")?;
    row.as_ref().map(place_from_row).transpose()
}

impl Store {
    /// Adds a place for the demo (unaudited: the demo is loaded into an
    /// empty store before anyone can use it) and returns its id.
    pub async fn create_place(&self, details: &PlaceDetails) -> Result<i64, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let id = insert(&mut tx, details, None, "demo", &format_instant(Utc::now())).await?;
        tx.commit().await.ctx("committing a place")?;
        Ok(id)
    }

    /// Adds a place with its audit event. With `key`, a retry of the same
    /// request returns the first place (and `false`: nothing was written);
    /// the same key with a different request is refused.
    pub async fn add_place(
        &self,
        details: &PlaceDetails,
        key: Option<&IdempotencyKey>,
        mut audit: AuditEntry,
    ) -> Result<(Place, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if let Some(key) = key {
            let row = sqlx::query(
                "SELECT request_hash, place_id FROM place_keys WHERE principal = $1 AND key = $2",
            )
            .bind(&audit.principal)
            .bind(&key.key)
            .fetch_optional(&mut *tx)
            .await
            .ctx("reading an idempotency key")?;
            if let Some(row) = row {
                if column::<String>(&row, "request_hash")? != key.request_hash {
                    return Err(StoreError::IdempotencyKeyReused);
                }
                let id: i64 = column(&row, "place_id")?;
                let place = place_in(&mut tx, id)
                    .await?
                    .ok_or(StoreError::UnknownPlace(id))?;
                return Ok((place, false));
            }
        }
        let at = format_instant(audit.at);
        let id = insert(&mut tx, details, None, &audit.principal, &at).await?;
        if let Some(key) = key {
            sqlx::query("INSERT INTO place_keys (principal, key, request_hash, place_id) VALUES ($1, $2, $3, $4)")
                .bind(&audit.principal)
                .bind(&key.key)
                .bind(&key.request_hash)
                .bind(id)
                .execute(&mut *tx)
                .await
                .ctx("keeping an idempotency key")?;
        }
        audit.object_id = id.to_string();
        append(&mut tx, &audit).await?;
        let place = place_in(&mut tx, id)
            .await?
            .ok_or(StoreError::UnknownPlace(id))?;
        tx.commit().await.ctx("committing a place")?;
        Ok((place, true))
    }

    /// Replaces a place's register entry if it is still at `version`.
    pub async fn edit_place(
        &self,
        id: i64,
        version: i64,
        details: &PlaceDetails,
        audit: AuditEntry,
    ) -> Result<Place, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let current = place_in(&mut tx, id)
            .await?
            .ok_or(StoreError::UnknownPlace(id))?;
        if current.version != version {
            return Err(StoreError::Conflict);
        }
        update(
            &mut tx,
            id,
            details,
            &audit.principal,
            &format_instant(audit.at),
        )
        .await?;
        append(&mut tx, &audit).await?;
        let place = place_in(&mut tx, id)
            .await?
            .ok_or(StoreError::UnknownPlace(id))?;
        tx.commit().await.ctx("committing a place")?;
        Ok(place)
    }

    /// Takes a place off the register. Observations keep their link, so
    /// their history stays true; the place is no longer listed.
    pub async fn remove_place(&self, id: i64, audit: AuditEntry) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let done = sqlx::query("UPDATE places SET removed_at = $1, updated_by = $2 WHERE id = $3 AND removed_at IS NULL")
            .bind(format_instant(audit.at))
            .bind(&audit.principal)
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("removing a place")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::UnknownPlace(id));
        }
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a place")
    }

    /// Adds or brings up to date every imported place, matched on its
    /// reference, in one transaction with one audit event.
    pub async fn import_places(
        &self,
        places: &[ImportedPlace],
        audit: AuditEntry,
    ) -> Result<PlaceImport, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let at = format_instant(audit.at);
        let mut report = PlaceImport::default();
        for place in places {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM places WHERE source_ref = $1"
            ))
            .bind(&place.source_ref)
            .fetch_optional(&mut *tx)
            .await
            .ctx("matching an imported place")?;
            match row.as_ref().map(place_from_row).transpose()? {
                None => {
                    insert(
                        &mut tx,
                        &place.details,
                        Some(&place.source_ref),
                        &audit.principal,
                        &at,
                    )
                    .await?;
                    report.added += 1;
                }
                Some(existing) if existing.details == place.details => report.unchanged += 1,
                Some(existing) => {
                    update(&mut tx, existing.id, &place.details, &audit.principal, &at).await?;
                    // A re-import puts a removed place back on the register.
                    sqlx::query("UPDATE places SET removed_at = NULL WHERE id = $1")
                        .bind(existing.id)
                        .execute(&mut *tx)
                        .await
                        .ctx("restoring an imported place")?;
                    report.updated += 1;
                }
            }
        }
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing an import")?;
        Ok(report)
    }

    /// One place on the register.
    pub async fn place(&self, id: i64) -> Result<Option<Place>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM places WHERE id = $1 AND removed_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a place")?;
        row.as_ref().map(place_from_row).transpose()
    }

    /// Every place on the register, by id.
    pub async fn places(&self) -> Result<Vec<Place>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM places WHERE removed_at IS NULL ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("reading the places register")?;
        rows.iter().map(place_from_row).collect()
    }

    /// How many places are registered.
    pub async fn count_places(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM places WHERE removed_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .ctx("counting places")
    }
}
