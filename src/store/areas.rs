//! Areas in the store: imported boundaries (replaced by kind and code on
//! re-import) and areas drawn by hand, each change audited.

use sqlx::any::AnyRow;

use super::audit::{append, AuditEntry};
use super::changes::{self, ChangeKind};
use super::{column, Context, Store, StoreError, Tx};
use crate::domain::area::AreaShape;
use crate::domain::time::format_instant;
use crate::domain::vocabulary::AreaKind;

/// An area as stored: its shape stays GeoJSON text until it is needed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredArea {
    /// Id.
    pub id: i64,
    /// What kind of area.
    pub kind: AreaKind,
    /// Code in its source, or made for a drawn area.
    pub code: String,
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
    /// GeoJSON MultiPolygon text.
    pub geometry: String,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: [f64; 4],
    /// Where it came from (a file name, or "drawn").
    pub source: String,
}

/// What a boundary import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AreaImport {
    /// Areas new to the store.
    pub added: usize,
    /// Areas already there (same kind and code), their shape and names replaced.
    pub replaced: usize,
}

fn area_from_row(row: &AnyRow) -> Result<StoredArea, StoreError> {
    let id: i64 = column(row, "id")?;
    let kind: String = column(row, "kind")?;
    Ok(StoredArea {
        id,
        kind: AreaKind::from_code(&kind).ok_or_else(|| StoreError::Corrupt {
            id,
            what: format!("unknown area kind `{kind}`"),
        })?,
        code: column(row, "code")?,
        name_en: column(row, "name_en")?,
        name_cy: column(row, "name_cy")?,
        geometry: column(row, "geometry")?,
        bbox: [
            column(row, "min_lon")?,
            column(row, "min_lat")?,
            column(row, "max_lon")?,
            column(row, "max_lat")?,
        ],
        source: column(row, "source")?,
    })
}

const COLUMNS: &str =
    "id, kind, code, name_en, name_cy, geometry, min_lon, min_lat, max_lon, max_lat, source";

/// Adds or replaces one area by kind and code; true when it was new.
async fn upsert(
    tx: &mut Tx<'_>,
    shape: &AreaShape,
    source: &str,
    audit: &AuditEntry,
) -> Result<(i64, bool), StoreError> {
    let [x0, y0, x1, y1] = shape.bbox();
    let existing: Option<i64> =
        sqlx::query_scalar("SELECT id FROM areas WHERE kind = $1 AND code = $2")
            .bind(shape.kind.code())
            .bind(&shape.code)
            .fetch_optional(&mut **tx)
            .await
            .ctx("matching an area")?;
    let geometry = shape.geometry_json();
    match existing {
        Some(id) => {
            sqlx::query(
                "UPDATE areas SET name_en = $1, name_cy = $2, geometry = $3, min_lon = $4, min_lat = $5,
                     max_lon = $6, max_lat = $7, source = $8 WHERE id = $9",
            )
            .bind(&shape.name_en)
            .bind(&shape.name_cy)
            .bind(&geometry)
            .bind(x0)
            .bind(y0)
            .bind(x1)
            .bind(y1)
            .bind(source)
            .bind(id)
            .execute(&mut **tx)
            .await
            .ctx("replacing an area")?;
            Ok((id, false))
        }
        None => {
            let id = sqlx::query_scalar(
                "INSERT INTO areas (kind, code, name_en, name_cy, geometry, min_lon, min_lat, max_lon,
                     max_lat, source, created_at, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(shape.kind.code())
            .bind(&shape.code)
            .bind(&shape.name_en)
            .bind(&shape.name_cy)
            .bind(&geometry)
            .bind(x0)
            .bind(y0)
            .bind(x1)
            .bind(y1)
            .bind(source)
            .bind(format_instant(audit.at))
            .bind(&audit.principal)
            .fetch_one(&mut **tx)
            .await
            .ctx("adding an area")?;
            Ok((id, true))
        }
    }
}

impl Store {
    /// Adds or replaces every area of a boundary file in one transaction,
    /// with one audit event.
    pub async fn import_areas(
        &self,
        shapes: &[AreaShape],
        source: &str,
        audit: AuditEntry,
    ) -> Result<AreaImport, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let mut report = AreaImport::default();
        for shape in shapes {
            if upsert(&mut tx, shape, source, &audit).await?.1 {
                report.added += 1;
            } else {
                report.replaced += 1;
            }
        }
        append(&mut tx, &audit).await?;
        changes::note(&mut tx, ChangeKind::Area, 0).await?;
        tx.commit().await.ctx("committing areas")?;
        Ok(report)
    }

    /// Adds a drawn area. Its code comes from the client's idempotency key
    /// when there is one, so a retried save returns the first area (and
    /// `false`) instead of drawing it twice.
    pub async fn add_area(
        &self,
        shape: &AreaShape,
        mut audit: AuditEntry,
    ) -> Result<(StoredArea, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let existing = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM areas WHERE kind = $1 AND code = $2"
        ))
        .bind(shape.kind.code())
        .bind(&shape.code)
        .fetch_optional(&mut *tx)
        .await
        .ctx("matching an area")?;
        if let Some(row) = existing {
            return Ok((area_from_row(&row)?, false));
        }
        let (id, _) = upsert(&mut tx, shape, "drawn", &audit).await?;
        audit.object_id = id.to_string();
        append(&mut tx, &audit).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM areas WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .ctx("reading an area")?;
        changes::note(&mut tx, ChangeKind::Area, 0).await?;
        tx.commit().await.ctx("committing an area")?;
        Ok((area_from_row(&row)?, true))
    }

    /// Deletes an area; false when there was none.
    pub async fn remove_area(&self, id: i64, audit: AuditEntry) -> Result<bool, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let used: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM exercises WHERE area_id = $1)
                  + (SELECT COUNT(*) FROM exercise_actions WHERE area_id = $1)",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .ctx("checking an area is unused")?;
        if used > 0 {
            return Err(StoreError::InUse("exercise"));
        }
        let done = sqlx::query("DELETE FROM areas WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("deleting an area")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        append(&mut tx, &audit).await?;
        changes::note(&mut tx, ChangeKind::Area, 0).await?;
        tx.commit().await.ctx("committing an area")?;
        Ok(true)
    }

    /// Every area, by id. Read whole into memory at start-up and after any
    /// change to areas; detailed boundaries of a whole country run to many
    /// megabytes, so this is not held to a request's statement timeout.
    pub async fn areas(&self) -> Result<Vec<StoredArea>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM areas ORDER BY id"))
            .fetch_all(&self.long)
            .await
            .ctx("reading areas")?;
        rows.iter().map(area_from_row).collect()
    }
}
