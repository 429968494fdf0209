//! Observations, their edit history and idempotency keys.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;

use super::audit::{self, AuditEntry};
use super::changes::{self, ChangeKind};
use super::{column, Context, Store, StoreError, Tx, KEY};
use crate::domain::observation::{
    changes, review_by, Grading, LonLat, Observation, ObservationDetails, ObservationId, Withdrawal,
};
use crate::domain::time::{format_instant, parse_instant};
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::AuditAction;
use crate::domain::vocabulary::{
    Category, Handling, Indicator, InformationAssessment, Sensitivity, SettingType, Severity,
    SourceReliability, Status,
};
use crate::privacy::{HistoryLeave, Recorded};

/// Every column of `observations` the domain reads, in one list.
const COLUMNS: &str = "id, lon, lat, extent_geojson, observed_at, recorded_at, updated_at, \
    category, indicators, setting, place_id, description, severity, source_reliability, \
    information_assessment, handling, sensitivity, status, agency, recorded_by, case_reference, \
    review_by, version, withdrawn_at, withdrawn_by, withdrawn_reason";

/// The columns an insert writes, in bind order; `insert_values` binds them.
const INSERT_COLUMNS: &str = "lon, lat, extent_geojson, observed_at, recorded_at, updated_at, \
    category, indicators, setting, place_id, description, severity, source_reliability, \
    information_assessment, handling, sensitivity, status, agency, recorded_by, case_reference, \
    review_by, version, shown_lon, shown_lat";
const INSERT_ARITY: usize = 24;

/// Where a viewer who sees a record generalised is shown it (its 100 m
/// square's centre): kept beside the record for the analysts' views, which
/// must show exactly the square the service shows.
fn shown_at(location: LonLat) -> (Option<f64>, Option<f64>) {
    match crate::privacy::shown_position(
        crate::privacy::Precision::Generalised,
        [location.lon, location.lat],
    ) {
        Some([lon, lat]) => (Some(lon), Some(lat)),
        None => (None, None),
    }
}

/// One entry of an observation's edit history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    /// The version this revision produced.
    pub version: i64,
    /// `created`, `edited` or `withdrawn`.
    pub kind: String,
    /// When.
    pub changed_at: String,
    /// Who (a principal reference).
    pub changed_by: String,
    /// What changed: `{field: {from, to}}` for `edited`, the reason for
    /// `withdrawn`, and `{}` for `created` (the record itself is the first
    /// version; undoing the edits' from→to pairs recovers it).
    pub changes: serde_json::Value,
}

/// What the spatial index needs of one live observation (no free text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexRow<'a> {
    /// Id.
    pub id: i64,
    /// Position, WGS84 degrees.
    pub location: LonLat,
    /// When it was seen.
    pub observed_at: DateTime<Utc>,
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
    /// Recording agency.
    pub agency: &'a str,
    /// Recording principal.
    pub recorded_by: &'a str,
    /// Linked place, if any.
    pub place_id: Option<i64>,
}

impl Observation {
    /// The index's view of this observation.
    pub fn index_row(&self) -> IndexRow<'_> {
        IndexRow {
            id: self.id.0,
            location: self.details.location,
            observed_at: self.details.observed_at,
            category: self.details.category,
            severity: self.details.severity,
            status: self.details.status,
            sensitivity: self.details.sensitivity,
            setting: self.details.setting,
            agency: &self.agency,
            recorded_by: &self.recorded_by,
            place_id: self.details.place_id,
        }
    }
}

/// An idempotency key presented with a create, scoped to its principal.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    /// The client's key.
    pub key: String,
    /// Hash of the validated request, to tell a retry from a reuse.
    pub request_hash: String,
}

/// What a create did.
#[derive(Debug, Clone)]
pub struct Created {
    /// The observation, opaque (see [`Recorded`]).
    pub observation: Recorded,
    /// True when an idempotency key matched an earlier create: nothing was written.
    pub replayed: bool,
}

/// A new observation's fields not chosen by the recorder.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// Recording agency.
    pub agency: String,
    /// Recording principal.
    pub recorded_by: String,
    /// When it reached the store.
    pub recorded_at: DateTime<Utc>,
}

fn vocab<T>(id: i64, what: &str, code: &str, from: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    from(code).ok_or_else(|| StoreError::Corrupt {
        id,
        what: format!("unknown {what} `{code}`"),
    })
}

fn instant(id: i64, s: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_instant(s).ok_or_else(|| StoreError::Corrupt {
        id,
        what: format!("bad timestamp `{s}`"),
    })
}

fn observation_from_row(row: &AnyRow) -> Result<Observation, StoreError> {
    let id: i64 = column(row, "id")?;
    let text = |name| column::<String>(row, name);
    let indicators = text("indicators")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|code| vocab(id, "indicator", code, Indicator::from_code))
        .collect::<Result<Vec<_>, _>>()?;
    let extent = column::<Option<String>>(row, "extent_geojson")?
        .map(|s| {
            s.parse::<geojson::Geometry>()
                .map_err(|e| StoreError::Corrupt {
                    id,
                    what: format!("bad extent: {e}"),
                })
        })
        .transpose()?;
    let review = text("review_by")?;
    let withdrawn = match column::<Option<String>>(row, "withdrawn_at")? {
        None => None,
        Some(at) => Some(Withdrawal {
            at: instant(id, &at)?,
            by: column::<Option<String>>(row, "withdrawn_by")?.unwrap_or_default(),
            reason: column::<Option<String>>(row, "withdrawn_reason")?.unwrap_or_default(),
        }),
    };
    Ok(Observation {
        id: ObservationId(id),
        details: ObservationDetails {
            location: LonLat {
                lon: column(row, "lon")?,
                lat: column(row, "lat")?,
            },
            extent,
            observed_at: instant(id, &text("observed_at")?)?,
            category: vocab(id, "category", &text("category")?, Category::from_code)?,
            indicators,
            setting: vocab(id, "setting", &text("setting")?, SettingType::from_code)?,
            place_id: column(row, "place_id")?,
            description: text("description")?,
            severity: vocab(id, "severity", &text("severity")?, Severity::from_code)?,
            grading: Grading {
                source: vocab(
                    id,
                    "source reliability",
                    &text("source_reliability")?,
                    SourceReliability::from_code,
                )?,
                information: vocab(
                    id,
                    "information assessment",
                    &text("information_assessment")?,
                    InformationAssessment::from_code,
                )?,
                handling: vocab(id, "handling", &text("handling")?, Handling::from_code)?,
            },
            sensitivity: vocab(
                id,
                "sensitivity",
                &text("sensitivity")?,
                Sensitivity::from_code,
            )?,
            case_reference: column(row, "case_reference")?,
            status: vocab(id, "status", &text("status")?, Status::from_code)?,
        },
        recorded_at: instant(id, &text("recorded_at")?)?,
        updated_at: instant(id, &text("updated_at")?)?,
        agency: text("agency")?,
        recorded_by: text("recorded_by")?,
        review_by: NaiveDate::parse_from_str(&review, "%Y-%m-%d").map_err(|e| {
            StoreError::Corrupt {
                id,
                what: format!("bad review date: {e}"),
            }
        })?,
        version: column(row, "version")?,
        withdrawn,
    })
}

fn indicator_codes(details: &ObservationDetails) -> String {
    details
        .indicators
        .iter()
        .map(|i| i.code())
        .collect::<Vec<_>>()
        .join(",")
}

/// Binds one observation's insert values, in `INSERT_COLUMNS` order.
fn insert_values<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    d: &ObservationDetails,
    p: &Provenance,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let recorded_at = format_instant(p.recorded_at);
    query
        .bind(d.location.lon)
        .bind(d.location.lat)
        .bind(d.extent.as_ref().map(|g| g.to_string()))
        .bind(format_instant(d.observed_at))
        .bind(recorded_at.clone())
        .bind(recorded_at)
        .bind(d.category.code())
        .bind(indicator_codes(d))
        .bind(d.setting.code())
        .bind(d.place_id)
        .bind(d.description.clone())
        .bind(d.severity.code())
        .bind(d.grading.source.code())
        .bind(d.grading.information.code())
        .bind(d.grading.handling.code())
        .bind(d.sensitivity.code())
        .bind(d.status.code())
        .bind(p.agency.clone())
        .bind(p.recorded_by.clone())
        .bind(d.case_reference.clone())
        .bind(
            review_by(d.category, p.recorded_at)
                .format("%Y-%m-%d")
                .to_string(),
        )
        .bind(1_i64)
        .bind(shown_at(d.location).0)
        .bind(shown_at(d.location).1)
}

/// `($1, …, $22), ($23, …)` for `rows` rows of an insert.
fn placeholders(rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let cols: Vec<String> = (1..=INSERT_ARITY)
                .map(|c| format!("${}", r * INSERT_ARITY + c))
                .collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn place_exists(tx: &mut Tx<'_>, place_id: Option<i64>) -> Result<(), StoreError> {
    let Some(id) = place_id else { return Ok(()) };
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM places WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .ctx("checking a place link")?;
    found.map(|_| ()).ok_or(StoreError::UnknownPlace(id))
}

async fn observation_in(tx: &mut Tx<'_>, id: i64) -> Result<Option<Observation>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM observations WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .ctx("reading an observation")?;
    row.as_ref().map(observation_from_row).transpose()
}

async fn add_revision(
    tx: &mut Tx<'_>,
    id: i64,
    version: i64,
    kind: &str,
    at: DateTime<Utc>,
    by: &str,
    changes: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO observation_revisions
             (observation_id, version, kind, changed_at, changed_by, changes)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(version)
    .bind(kind)
    .bind(format_instant(at))
    .bind(by)
    .bind(changes.to_string())
    .execute(&mut **tx)
    .await
    .ctx("recording history")?;
    Ok(())
}

/// Ends an edit or a withdrawal of `current`: its history row, its audit
/// event, then the record as it now stands, and commits.
async fn finish_change(
    mut tx: Tx<'_>,
    current: &Observation,
    version: i64,
    action: AuditAction,
    changes: &serde_json::Value,
    by: &Viewer,
    at: DateTime<Utc>,
) -> Result<Recorded, StoreError> {
    // A withdrawal's reason is its purpose in the audit trail.
    let (kind, purpose) = match action {
        AuditAction::Withdrawal => ("withdrawn", changes["reason"].as_str()),
        AuditAction::Review => ("kept", changes["reason"].as_str()),
        _ => ("edited", None),
    };
    add_revision(
        &mut tx,
        current.id.0,
        version,
        kind,
        at,
        &by.principal,
        changes,
    )
    .await?;
    audit::append(
        &mut tx,
        &AuditEntry::by(
            by,
            action,
            "observation",
            current.id.to_string(),
            &current.agency,
            purpose,
            at,
        ),
    )
    .await?;
    let updated = observation_in(&mut tx, current.id.0)
        .await?
        .ok_or(StoreError::Conflict)?;
    changes::note(&mut tx, ChangeKind::Observation, current.id.0).await?;
    tx.commit().await.ctx("committing a change")?;
    Ok(Recorded::new(updated, &KEY))
}

impl Store {
    /// One observation, withdrawn or not.
    pub async fn observation(&self, id: ObservationId) -> Result<Option<Recorded>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM observations WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading an observation")?;
        Ok(row
            .as_ref()
            .map(observation_from_row)
            .transpose()?
            .map(|o| Recorded::new(o, &KEY)))
    }

    /// An observation's history, oldest first, for a viewer given leave to
    /// read it (one who sees the record exactly).
    pub async fn history(&self, leave: HistoryLeave) -> Result<Vec<Revision>, StoreError> {
        let id = leave.id();
        let rows = sqlx::query(
            "SELECT version, kind, changed_at, changed_by, changes
             FROM observation_revisions WHERE observation_id = $1 ORDER BY version",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .ctx("reading history")?;
        rows.iter()
            .map(|row| {
                let changes: String = column(row, "changes")?;
                Ok(Revision {
                    version: column(row, "version")?,
                    kind: column(row, "kind")?,
                    changed_at: column(row, "changed_at")?,
                    changed_by: column(row, "changed_by")?,
                    changes: serde_json::from_str(&changes).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }

    /// Records a new observation with its first history entry and its
    /// `collection` audit event, in one transaction. With an idempotency key already used by the same
    /// principal for the same request, writes nothing and returns the first
    /// result; for a different request, fails with `IdempotencyKeyReused`.
    pub async fn create_observation(
        &self,
        details: &ObservationDetails,
        provenance: &Provenance,
        key: Option<&IdempotencyKey>,
        by: &Viewer,
    ) -> Result<Created, StoreError> {
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if let Some(key) = key {
            if let Some(first) = self.replay(&mut tx, &provenance.recorded_by, key).await? {
                return Ok(first);
            }
        }
        place_exists(&mut tx, details.place_id).await?;
        let query = format!(
            "INSERT INTO observations ({INSERT_COLUMNS}) VALUES {} RETURNING id",
            placeholders(1)
        );
        let row = insert_values(sqlx::query(&query), details, provenance)
            .fetch_one(&mut *tx)
            .await
            .ctx("recording an observation")?;
        let id: i64 = column(&row, "id")?;
        // The first version is the record itself; later edits keep from→to
        // pairs, so every earlier state is recoverable without a copy here.
        let snapshot = serde_json::json!({});
        add_revision(
            &mut tx,
            id,
            1,
            "created",
            provenance.recorded_at,
            &provenance.recorded_by,
            &snapshot,
        )
        .await?;
        audit::append(
            &mut tx,
            &AuditEntry::by(
                by,
                AuditAction::Collection,
                "observation",
                id.to_string(),
                &provenance.agency,
                None,
                provenance.recorded_at,
            ),
        )
        .await?;
        if let Some(key) = key {
            let stored = sqlx::query(
                "INSERT INTO idempotency_keys (principal, key, request_hash, observation_id, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (principal, key) DO NOTHING",
            )
            .bind(&provenance.recorded_by)
            .bind(&key.key)
            .bind(&key.request_hash)
            .bind(id)
            .bind(format_instant(provenance.recorded_at))
            .execute(&mut *tx)
            .await
            .ctx("recording an idempotency key")?;
            if stored.rows_affected() == 0 {
                // A concurrent request with the same key committed first:
                // undo this one and answer with that one's result.
                tx.rollback().await.ctx("rolling back a duplicate")?;
                let mut tx = self.begin_write().await.ctx("starting a transaction")?;
                return self
                    .replay(&mut tx, &provenance.recorded_by, key)
                    .await?
                    .ok_or(StoreError::Conflict);
            }
        }
        // Queued for area alerts in the same transaction, so an alert is
        // never lost between the commit and the matching.
        sqlx::query("INSERT INTO alert_outbox (observation_id, queued_at) VALUES ($1, $2)")
            .bind(id)
            .bind(format_instant(provenance.recorded_at))
            .execute(&mut *tx)
            .await
            .ctx("queueing an observation for alerts")?;
        let observation = observation_in(&mut tx, id)
            .await?
            .ok_or(StoreError::Conflict)?;
        changes::note(&mut tx, ChangeKind::Observation, id).await?;
        tx.commit().await.ctx("committing an observation")?;
        Ok(Created {
            observation: Recorded::new(observation, &KEY),
            replayed: false,
        })
    }

    async fn replay(
        &self,
        tx: &mut Tx<'_>,
        principal: &str,
        key: &IdempotencyKey,
    ) -> Result<Option<Created>, StoreError> {
        let row = sqlx::query(
            "SELECT request_hash, observation_id FROM idempotency_keys
             WHERE principal = $1 AND key = $2",
        )
        .bind(principal)
        .bind(&key.key)
        .fetch_optional(&mut **tx)
        .await
        .ctx("checking an idempotency key")?;
        let Some(row) = row else { return Ok(None) };
        let hash: String = column(&row, "request_hash")?;
        if hash != key.request_hash {
            return Err(StoreError::IdempotencyKeyReused);
        }
        let id: i64 = column(&row, "observation_id")?;
        let observation = observation_in(tx, id).await?.ok_or(StoreError::Conflict)?;
        Ok(Some(Created {
            observation: Recorded::new(observation, &KEY),
            replayed: true,
        }))
    }

    /// Replaces an observation's details, if it is still at `current`'s
    /// version, and records what changed. Fails with `Conflict` otherwise.
    pub async fn update_observation(
        &self,
        current: &Recorded,
        next: &ObservationDetails,
        by: &Viewer,
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let current = current.stored(&KEY);
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if next.place_id != current.details.place_id {
            place_exists(&mut tx, next.place_id).await?;
        }
        let version = current.version + 1;
        let done = sqlx::query(
            "UPDATE observations SET
                lon = $1, lat = $2, extent_geojson = $3, observed_at = $4, category = $5,
                indicators = $6, setting = $7, place_id = $8, description = $9, severity = $10,
                source_reliability = $11, information_assessment = $12, handling = $13,
                sensitivity = $14, case_reference = $15, status = $16, updated_at = $17,
                version = $18, review_by = $21, shown_lon = $22, shown_lat = $23
             WHERE id = $19 AND version = $20 AND withdrawn_at IS NULL",
        )
        .bind(next.location.lon)
        .bind(next.location.lat)
        .bind(next.extent.as_ref().map(|g| g.to_string()))
        .bind(format_instant(next.observed_at))
        .bind(next.category.code())
        .bind(indicator_codes(next))
        .bind(next.setting.code())
        .bind(next.place_id)
        .bind(next.description.clone())
        .bind(next.severity.code())
        .bind(next.grading.source.code())
        .bind(next.grading.information.code())
        .bind(next.grading.handling.code())
        .bind(next.sensitivity.code())
        .bind(next.case_reference.clone())
        .bind(next.status.code())
        .bind(format_instant(at))
        .bind(version)
        .bind(current.id.0)
        .bind(current.version)
        // The review period belongs to the category: a recategorised
        // record is reviewed on the new category's schedule.
        .bind(
            review_by(next.category, current.recorded_at)
                .format("%Y-%m-%d")
                .to_string(),
        )
        .bind(shown_at(next.location).0)
        .bind(shown_at(next.location).1)
        .execute(&mut *tx)
        .await
        .ctx("editing an observation")?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        finish_change(
            tx,
            current,
            version,
            AuditAction::Alteration,
            &changes(&current.details, next),
            by,
            at,
        )
        .await
    }

    /// Withdraws (soft-deletes) an observation with a reason, if it is still
    /// at `current`'s version. The record stays, for the audit trail.
    pub async fn withdraw_observation(
        &self,
        current: &Recorded,
        by: &Viewer,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let current = current.stored(&KEY);
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let version = current.version + 1;
        let done = sqlx::query(
            "UPDATE observations SET withdrawn_at = $1, withdrawn_by = $2, withdrawn_reason = $3,
                 updated_at = $1, version = $4
             WHERE id = $5 AND version = $6 AND withdrawn_at IS NULL",
        )
        .bind(format_instant(at))
        .bind(&by.principal)
        .bind(reason)
        .bind(version)
        .bind(current.id.0)
        .bind(current.version)
        .execute(&mut *tx)
        .await
        .ctx("withdrawing an observation")?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        finish_change(
            tx,
            current,
            version,
            AuditAction::Withdrawal,
            &serde_json::json!({ "reason": reason }),
            by,
            at,
        )
        .await
    }

    /// Keeps a record past its review date: a new date and the reason, in
    /// its history and (as the purpose) in the audit trail.
    pub async fn keep_observation(
        &self,
        current: &Recorded,
        by: &Viewer,
        reason: &str,
        next_review: NaiveDate,
        at: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let current = current.stored(&KEY);
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let version = current.version + 1;
        let next = next_review.format("%Y-%m-%d").to_string();
        let done = sqlx::query(
            "UPDATE observations SET review_by = $1, updated_at = $2, version = $3
             WHERE id = $4 AND version = $5",
        )
        .bind(&next)
        .bind(format_instant(at))
        .bind(version)
        .bind(current.id.0)
        .bind(current.version)
        .execute(&mut *tx)
        .await
        .ctx("keeping an observation")?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        let changes = serde_json::json!({
            "review_by": { "from": current.review_by.format("%Y-%m-%d").to_string(), "to": next },
            "reason": reason,
        });
        finish_change(tx, current, version, AuditAction::Review, &changes, by, at).await
    }

    /// Erases a record: its content, location, history and idempotency keys
    /// go; one audit event (with the reason as its purpose) stays. Returns
    /// the erased record's agency, or `None` if there was no such record.
    pub async fn erase_observation(
        &self,
        id: ObservationId,
        by: &Viewer,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let Some(current) = observation_in(&mut tx, id.0).await? else {
            return Ok(None);
        };
        for sql in [
            "DELETE FROM idempotency_keys WHERE observation_id = $1",
            "DELETE FROM observation_revisions WHERE observation_id = $1",
            "DELETE FROM alert_outbox WHERE observation_id = $1",
            "DELETE FROM observations WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .ctx("erasing an observation")?;
        }
        // Notifications hold only the id; they go with the record.
        sqlx::query("DELETE FROM notifications WHERE kind = 'observation' AND subject = $1")
            .bind(id.0.to_string())
            .execute(&mut *tx)
            .await
            .ctx("erasing an observation's notifications")?;
        // Frozen exercises keep that the record was there, not what it was.
        sqlx::query(
            "UPDATE exercise_items SET content = NULL, erased_at = $1 WHERE observation_id = $2",
        )
        .bind(format_instant(at))
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .ctx("erasing an observation from exercise snapshots")?;
        audit::append(
            &mut tx,
            &AuditEntry::by(
                by,
                AuditAction::Erasure,
                "observation",
                id.to_string(),
                &current.agency,
                Some(reason),
                at,
            ),
        )
        .await?;
        changes::note(&mut tx, ChangeKind::Observation, id.0).await?;
        tx.commit().await.ctx("committing an erasure")?;
        if self.backend == super::Backend::Sqlite {
            // Fold the WAL back into the (secure-deleting) database file so
            // the erased rows' old pages do not linger in the log. Best
            // effort: a busy reader only postpones it to the next checkpoint.
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await;
        }
        Ok(Some(current.agency))
    }

    /// Records of `agency` (or of every agency) due for review on or before
    /// `due`, withdrawn or not, soonest first.
    pub async fn review_queue(
        &self,
        agency: Option<&str>,
        due: NaiveDate,
        limit: i64,
    ) -> Result<Vec<Recorded>, StoreError> {
        // Two statements rather than `($1 IS NULL OR agency = $1)`, so that
        // one agency's queue is read through its index (agency, review_by)
        // whatever plan the database settles on.
        let sql = match agency {
            Some(_) => format!(
                "SELECT {COLUMNS} FROM observations WHERE agency = $3 AND review_by <= $1
                 ORDER BY review_by, id LIMIT $2"
            ),
            None => format!(
                "SELECT {COLUMNS} FROM observations WHERE review_by <= $1
                 ORDER BY review_by, id LIMIT $2"
            ),
        };
        let mut query = sqlx::query(&sql)
            .bind(due.format("%Y-%m-%d").to_string())
            .bind(limit);
        if let Some(agency) = agency {
            query = query.bind(agency);
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .ctx("reading the review queue")?;
        rows.iter()
            .map(|row| Ok(Recorded::new(observation_from_row(row)?, &KEY)))
            .collect()
    }

    /// How many records are due for review on or before `due`.
    pub async fn count_due(&self, due: NaiveDate) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM observations WHERE review_by <= $1")
            .bind(due.format("%Y-%m-%d").to_string())
            .fetch_one(&self.pool)
            .await
            .ctx("counting records due for review")?;
        column(&row, "n")
    }

    /// Records many observations in one transaction (demo and benchmark
    /// data), in multi-row inserts, each with its `created` history entry.
    /// Not audited: this is the project's made-up data, not anyone's act.
    pub async fn create_observations_bulk(
        &self,
        rows: &[(ObservationDetails, Provenance)],
    ) -> Result<(), StoreError> {
        // 400 rows × 22 parameters stays under both SQLite's (32,766) and
        // PostgreSQL's (65,535) limits on bind parameters.
        const BATCH: usize = 400;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        for chunk in rows.chunks(BATCH) {
            let sql = format!(
                "INSERT INTO observations ({INSERT_COLUMNS}) VALUES {} RETURNING id",
                placeholders(chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for (details, provenance) in chunk {
                query = insert_values(query, details, provenance);
            }
            let ids = query
                .fetch_all(&mut *tx)
                .await
                .ctx("recording observations")?;
            let ids = ids
                .iter()
                .map(|row| column::<i64>(row, "id"))
                .collect::<Result<Vec<_>, _>>()?;
            let values = (0..chunk.len())
                .map(|r| {
                    let b = r * 3;
                    format!("(${}, 1, 'created', ${}, ${}, '{{}}')", b + 1, b + 2, b + 3)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO observation_revisions
                     (observation_id, version, kind, changed_at, changed_by, changes)
                 VALUES {values}"
            );
            let mut query = sqlx::query(&sql);
            for (id, (_, provenance)) in ids.iter().zip(chunk) {
                query = query
                    .bind(*id)
                    .bind(format_instant(provenance.recorded_at))
                    .bind(provenance.recorded_by.clone());
            }
            query.execute(&mut *tx).await.ctx("recording history")?;
        }
        tx.commit().await.ctx("committing observations")?;
        Ok(())
    }

    /// Calls `f` for every live (not withdrawn) observation, streaming, with
    /// only what the spatial index needs; only the index (holding its key)
    /// can ask, as the rows carry recorded positions.
    pub async fn for_each_live_observation(
        &self,
        _: &crate::index::Key,
        mut f: impl FnMut(IndexRow<'_>),
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(
            "SELECT id, lon, lat, observed_at, category, severity, status, sensitivity, setting,
                    agency, recorded_by, place_id
             FROM observations WHERE withdrawn_at IS NULL",
        )
        .fetch(&self.long);
        let mut n = 0;
        while let Some(row) = rows.try_next().await.ctx("loading observations")? {
            let id: i64 = column(&row, "id")?;
            let text = |name| column::<&str>(&row, name);
            f(IndexRow {
                id,
                location: LonLat {
                    lon: column(&row, "lon")?,
                    lat: column(&row, "lat")?,
                },
                observed_at: instant(id, text("observed_at")?)?,
                category: vocab(id, "category", text("category")?, Category::from_code)?,
                severity: vocab(id, "severity", text("severity")?, Severity::from_code)?,
                status: vocab(id, "status", text("status")?, Status::from_code)?,
                sensitivity: vocab(
                    id,
                    "sensitivity",
                    text("sensitivity")?,
                    Sensitivity::from_code,
                )?,
                setting: vocab(id, "setting", text("setting")?, SettingType::from_code)?,
                agency: text("agency")?,
                recorded_by: text("recorded_by")?,
                place_id: column(&row, "place_id")?,
            });
            n += 1;
        }
        Ok(n)
    }

    /// Fills in where generalised records are shown for rows written
    /// before that was kept (see `shown_at`); returns how many.
    pub async fn fill_shown_positions(&self) -> Result<u64, StoreError> {
        let mut filled = 0;
        loop {
            let rows = sqlx::query(
                "SELECT id, lon, lat FROM observations WHERE shown_lon IS NULL LIMIT 1000",
            )
            .fetch_all(&self.long)
            .await
            .ctx("finding rows without a shown position")?;
            if rows.is_empty() {
                return Ok(filled);
            }
            let _gate = self.write_gate().await;
            let mut tx = self.begin_write().await.ctx("starting a transaction")?;
            let mut outside = 0;
            for row in &rows {
                let id: i64 = column(row, "id")?;
                let at = LonLat {
                    lon: column(row, "lon")?,
                    lat: column(row, "lat")?,
                };
                let (lon, lat) = shown_at(at);
                // Outside the grid (none should be): nothing is written, so
                // the analysts' views leave it out; the loop below stops once
                // only such rows are left.
                if lon.is_none() || lat.is_none() {
                    outside += 1;
                    continue;
                }
                sqlx::query("UPDATE observations SET shown_lon = $1, shown_lat = $2 WHERE id = $3")
                    .bind(lon)
                    .bind(lat)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .ctx("keeping a shown position")?;
            }
            tx.commit().await.ctx("committing shown positions")?;
            filled += rows.len() as u64 - outside;
            if outside == rows.len() as u64 {
                return Ok(filled);
            }
        }
    }

    /// How many observations there are, withdrawn ones included.
    pub async fn count_observations(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM observations")
            .fetch_one(&self.pool)
            .await
            .ctx("counting observations")
    }
}
