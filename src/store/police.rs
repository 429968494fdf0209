//! police.uk street-level crime rows: replaced a force-month at a time.

use chrono::{DateTime, Utc};

use super::changes::{self, ChangeKind};
use super::{column, Backend, Context, Store, StoreError};
use crate::domain::time::format_instant;
use crate::import::police::MonthImport;

/// Rows per INSERT: 12 parameters each keeps a statement well under both
/// databases' parameter limits, and few statements keeps the import fast.
const ROWS_PER_INSERT: usize = 400;

/// One row of the import log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PoliceImportRecord {
    /// Log id.
    pub id: i64,
    /// The force ("Reported by").
    pub force: String,
    /// YYYY-MM.
    pub month: String,
    /// The file it came from.
    pub source: String,
    /// Data rows read.
    pub rows_read: i64,
    /// Rows kept.
    pub imported: i64,
    /// Rows without usable coordinates.
    pub no_location: i64,
    /// Rows outside the service area.
    pub outside_area: i64,
    /// When.
    pub imported_at: String,
    /// Who.
    pub imported_by: String,
}

impl Store {
    /// Replaces each force-month's rows with the imported ones and logs
    /// what was read, in one transaction: a re-import changes nothing, and
    /// an interrupted one leaves the previous rows.
    pub async fn replace_police_months(
        &self,
        months: &[MonthImport],
        source: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self
            .begin_write()
            .await
            .ctx("starting a police.uk import")?;
        let at = format_instant(at);
        for m in months {
            sqlx::query("DELETE FROM police_crimes WHERE force = $1 AND month = $2")
                .bind(&m.force)
                .bind(&m.month)
                .execute(&mut *tx)
                .await
                .ctx("replacing a police.uk month")?;
            for chunk in m.rows.chunks(ROWS_PER_INSERT) {
                let mut sql = String::with_capacity(200 + chunk.len() * 60);
                sql.push_str(
                    "INSERT INTO police_crimes (force, month, crime_id, falls_within, lon, lat, \
                     location, lsoa_code, lsoa_name, crime_type, last_outcome, context) VALUES ",
                );
                for i in 0..chunk.len() {
                    if i > 0 {
                        sql.push(',');
                    }
                    let b = i * 12;
                    sql.push('(');
                    for k in 1..=12 {
                        if k > 1 {
                            sql.push(',');
                        }
                        // SQLite looks a numbered parameter's name up by
                        // scanning all of them, which is quadratic over a
                        // statement this long; anonymous ones it does not.
                        if self.backend == Backend::Sqlite {
                            sql.push('?');
                        } else {
                            sql.push('$');
                            sql.push_str(&(b + k).to_string());
                        }
                    }
                    sql.push(')');
                }
                let mut q = sqlx::query(&sql);
                for r in chunk {
                    q = q
                        .bind(&m.force)
                        .bind(&m.month)
                        .bind(r.crime_id.as_deref())
                        .bind(&r.falls_within)
                        .bind(r.lon)
                        .bind(r.lat)
                        .bind(&r.location)
                        .bind(&r.lsoa_code)
                        .bind(&r.lsoa_name)
                        .bind(&r.crime_type)
                        .bind(&r.last_outcome)
                        .bind(&r.context);
                }
                q.execute(&mut *tx).await.ctx("storing police.uk rows")?;
            }
            sqlx::query(
                "INSERT INTO police_imports (force, month, source, rows_read, imported, \
                 no_location, outside_area, imported_at, imported_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&m.force)
            .bind(&m.month)
            .bind(source)
            .bind(m.rows_read as i64)
            .bind(m.rows.len() as i64)
            .bind(m.no_location as i64)
            .bind(m.outside_area as i64)
            .bind(&at)
            .bind(by)
            .execute(&mut *tx)
            .await
            .ctx("logging a police.uk import")?;
        }
        changes::note(&mut tx, ChangeKind::Police, 0).await?;
        tx.commit().await.ctx("committing a police.uk import")?;
        Ok(())
    }

    /// Streams every stored police.uk row's position, month and crime type.
    pub async fn for_each_police_crime(
        &self,
        mut f: impl FnMut(f64, f64, &str, &str),
    ) -> Result<(), StoreError> {
        use futures_util::TryStreamExt;
        let mut rows =
            sqlx::query("SELECT lon, lat, month, crime_type FROM police_crimes").fetch(&self.long);
        while let Some(row) = rows.try_next().await.ctx("loading police.uk rows")? {
            f(
                column(&row, "lon")?,
                column(&row, "lat")?,
                column(&row, "month")?,
                column(&row, "crime_type")?,
            );
        }
        Ok(())
    }

    /// How many police.uk rows are stored.
    pub async fn police_crime_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM police_crimes")
            .fetch_one(&self.pool)
            .await
            .ctx("counting police.uk rows")?;
        column(&row, "n")
    }

    /// The import log, newest first.
    pub async fn police_imports(&self) -> Result<Vec<PoliceImportRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, force, month, source, rows_read, imported, no_location, outside_area, \
             imported_at, imported_by FROM police_imports ORDER BY id DESC",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("reading the police.uk import log")?;
        rows.iter()
            .map(|r| {
                Ok(PoliceImportRecord {
                    id: column(r, "id")?,
                    force: column(r, "force")?,
                    month: column(r, "month")?,
                    source: column(r, "source")?,
                    rows_read: column(r, "rows_read")?,
                    imported: column(r, "imported")?,
                    no_location: column(r, "no_location")?,
                    outside_area: column(r, "outside_area")?,
                    imported_at: column(r, "imported_at")?,
                    imported_by: column(r, "imported_by")?,
                })
            })
            .collect()
    }

    /// The newest import log id (0 when none), so a running server can tell
    /// that another process imported.
    pub async fn police_import_head(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) AS n FROM police_imports")
            .fetch_one(&self.pool)
            .await
            .ctx("reading the police.uk import log")?;
        column(&row, "n")
    }
}
