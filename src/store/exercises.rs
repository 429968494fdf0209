//! Exercises in the store: the exercise, its annotations, decisions and
//! actions, and the snapshot written once when it is frozen. Every change
//! is audited in its transaction; creates carry the client's idempotency
//! key so a retry returns the first row.

use chrono::NaiveDate;
use sqlx::any::AnyRow;

use super::audit::{append, AuditEntry};
use super::{column, replayed, Context, Store, StoreError, Tx};
pub use crate::domain::exercise::{ActionRow, Annotation, Decision, ExerciseRow, SnapshotItem};
use crate::domain::exercise::{NewAction, NewAnnotation, NewExercise};
use crate::domain::time::format_instant;
use crate::domain::vocabulary::{ActionStatus, ExerciseKind};

fn exercise_from_row(row: &AnyRow) -> Result<ExerciseRow, StoreError> {
    let id: i64 = column(row, "id")?;
    let kind: String = column(row, "kind")?;
    let agencies: String = column(row, "agencies")?;
    Ok(ExerciseRow {
        id,
        kind: ExerciseKind::from_code(&kind).ok_or_else(|| StoreError::Corrupt {
            id,
            what: format!("unknown exercise kind `{kind}`"),
        })?,
        title: column(row, "title")?,
        area_id: column(row, "area_id")?,
        from: column(row, "window_from")?,
        to: column(row, "window_to")?,
        agencies: agencies
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        facilitator: column(row, "facilitator")?,
        facilitator_name: column(row, "facilitator_name")?,
        review_on: column(row, "review_on")?,
        created_at: column(row, "created_at")?,
        frozen_at: column(row, "frozen_at")?,
        previous_id: column(row, "previous_id")?,
        snapshot: column(row, "snapshot")?,
    })
}

fn action_from_row(row: &AnyRow) -> Result<ActionRow, StoreError> {
    Ok(ActionRow {
        id: column(row, "id")?,
        exercise_id: column(row, "exercise_id")?,
        what: column(row, "what")?,
        owner_agency: column(row, "owner_agency")?,
        due_on: column(row, "due_on")?,
        status: column(row, "status")?,
        place_id: column(row, "place_id")?,
        area_id: column(row, "area_id")?,
        annotation_id: column(row, "annotation_id")?,
        version: column(row, "version")?,
    })
}

const EXERCISE_COLUMNS: &str =
    "id, kind, title, area_id, window_from, window_to, agencies, facilitator, \
    facilitator_name, review_on, created_at, frozen_at, previous_id, snapshot";
const ACTION_COLUMNS: &str =
    "id, exercise_id, what, owner_agency, due_on, status, place_id, area_id, annotation_id, version";

async fn exercise_in(tx: &mut Tx<'_>, id: i64) -> Result<ExerciseRow, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {EXERCISE_COLUMNS} FROM exercises WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .ctx("reading an exercise")?;
    row.as_ref()
        .map(exercise_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("exercise"))
}

/// An exercise that can still be worked on.
async fn open_exercise(tx: &mut Tx<'_>, id: i64) -> Result<ExerciseRow, StoreError> {
    let exercise = exercise_in(tx, id).await?;
    if exercise.frozen_at.is_some() {
        return Err(StoreError::Frozen);
    }
    Ok(exercise)
}

async fn exists(tx: &mut Tx<'_>, sql: &str, id: i64) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .ctx("checking a link")?;
    Ok(found.is_some())
}

impl Store {
    /// Sets up an exercise. The area and every agency must exist; the
    /// previous exercise is the latest frozen one on the same area.
    pub async fn create_exercise(
        &self,
        new: &NewExercise,
        facilitator: (&str, &str),
        client_key: Option<&str>,
        mut audit: AuditEntry,
    ) -> Result<(i64, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if let Some(id) = replayed(&mut tx, "exercises", client_key).await? {
            return Ok((id, false));
        }
        if !exists(&mut tx, "SELECT id FROM areas WHERE id = $1", new.area_id).await? {
            return Err(StoreError::UnknownLink("area_id"));
        }
        for agency in &new.agencies {
            let found: Option<String> =
                sqlx::query_scalar("SELECT code FROM agencies WHERE code = $1")
                    .bind(agency)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("checking an agency")?;
            if found.is_none() {
                return Err(StoreError::UnknownAgency(agency.clone()));
            }
        }
        let previous: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM exercises WHERE area_id = $1 AND frozen_at IS NOT NULL ORDER BY frozen_at DESC, id DESC LIMIT 1",
        )
        .bind(new.area_id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("finding the previous exercise")?;
        let at = format_instant(audit.at);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO exercises (kind, title, area_id, window_from, window_to, agencies, facilitator,
                 facilitator_name, review_on, created_at, created_by, previous_id, client_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(new.kind.code())
        .bind(&new.title)
        .bind(new.area_id)
        .bind(format_instant(new.from))
        .bind(format_instant(new.to))
        .bind(new.agencies.join(","))
        .bind(facilitator.0)
        .bind(facilitator.1)
        .bind(new.review_on.map(|d| d.format("%Y-%m-%d").to_string()))
        .bind(&at)
        .bind(&audit.principal)
        .bind(previous)
        .bind(client_key)
        .fetch_one(&mut *tx)
        .await
        .ctx("setting up an exercise")?;
        audit.object_id = id.to_string();
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing an exercise")?;
        Ok((id, true))
    }

    /// One exercise.
    pub async fn exercise(&self, id: i64) -> Result<Option<ExerciseRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {EXERCISE_COLUMNS} FROM exercises WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading an exercise")?;
        row.as_ref().map(exercise_from_row).transpose()
    }

    /// Every exercise, newest first.
    pub async fn exercises(&self) -> Result<Vec<ExerciseRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EXERCISE_COLUMNS} FROM exercises ORDER BY id DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("reading exercises")?;
        rows.iter().map(exercise_from_row).collect()
    }

    /// Adds an annotation to an open exercise.
    pub async fn add_annotation(
        &self,
        exercise_id: i64,
        new: &NewAnnotation,
        client_key: Option<&str>,
        mut audit: AuditEntry,
    ) -> Result<(i64, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if let Some(id) = replayed(&mut tx, "exercise_annotations", client_key).await? {
            return Ok((id, false));
        }
        open_exercise(&mut tx, exercise_id).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO exercise_annotations (exercise_id, geometry, note, created_at, created_by, client_key)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(exercise_id)
        .bind(new.geometry.to_string())
        .bind(&new.note)
        .bind(format_instant(audit.at))
        .bind(&audit.principal)
        .bind(client_key)
        .fetch_one(&mut *tx)
        .await
        .ctx("adding an annotation")?;
        audit.object_id = exercise_id.to_string();
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing an annotation")?;
        Ok((id, true))
    }

    /// Records a decision in an open exercise.
    pub async fn add_decision(
        &self,
        exercise_id: i64,
        text: &str,
        client_key: Option<&str>,
        mut audit: AuditEntry,
    ) -> Result<(i64, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if let Some(id) = replayed(&mut tx, "exercise_decisions", client_key).await? {
            return Ok((id, false));
        }
        open_exercise(&mut tx, exercise_id).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO exercise_decisions (exercise_id, text, created_at, created_by, client_key)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(exercise_id)
        .bind(text)
        .bind(format_instant(audit.at))
        .bind(&audit.principal)
        .bind(client_key)
        .fetch_one(&mut *tx)
        .await
        .ctx("recording a decision")?;
        audit.object_id = exercise_id.to_string();
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a decision")?;
        Ok((id, true))
    }

    /// Adds an action to an open exercise; its links must exist (an
    /// annotation only in the same exercise) and its owner be an agency.
    pub async fn add_action(
        &self,
        exercise_id: i64,
        new: &NewAction,
        client_key: Option<&str>,
        mut audit: AuditEntry,
    ) -> Result<(ActionRow, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let id = match replayed(&mut tx, "exercise_actions", client_key).await? {
            Some(id) => Some(id),
            None => {
                open_exercise(&mut tx, exercise_id).await?;
                None
            }
        };
        if let Some(id) = id {
            return Ok((action_in(&mut tx, id).await?, false));
        }
        let owner: Option<String> = sqlx::query_scalar("SELECT code FROM agencies WHERE code = $1")
            .bind(&new.owner_agency)
            .fetch_optional(&mut *tx)
            .await
            .ctx("checking an agency")?;
        if owner.is_none() {
            return Err(StoreError::UnknownLink("owner_agency"));
        }
        for (field, sql, id) in [
            (
                "place_id",
                "SELECT id FROM places WHERE id = $1 AND removed_at IS NULL",
                new.place_id,
            ),
            ("area_id", "SELECT id FROM areas WHERE id = $1", new.area_id),
        ] {
            if let Some(id) = id {
                if !exists(&mut tx, sql, id).await? {
                    return Err(StoreError::UnknownLink(field));
                }
            }
        }
        if let Some(annotation) = new.annotation_id {
            let of: Option<i64> =
                sqlx::query_scalar("SELECT exercise_id FROM exercise_annotations WHERE id = $1")
                    .bind(annotation)
                    .fetch_optional(&mut *tx)
                    .await
                    .ctx("checking an annotation")?;
            if of != Some(exercise_id) {
                return Err(StoreError::UnknownLink("annotation_id"));
            }
        }
        let at = format_instant(audit.at);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO exercise_actions (exercise_id, what, owner_agency, due_on, status, place_id, area_id,
                 annotation_id, created_at, created_by, updated_at, version, client_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9, 1, $11) RETURNING id",
        )
        .bind(exercise_id)
        .bind(&new.what)
        .bind(&new.owner_agency)
        .bind(new.due_on.format("%Y-%m-%d").to_string())
        .bind(new.status.code())
        .bind(new.place_id)
        .bind(new.area_id)
        .bind(new.annotation_id)
        .bind(&at)
        .bind(&audit.principal)
        .bind(client_key)
        .fetch_one(&mut *tx)
        .await
        .ctx("adding an action")?;
        audit.object_id = exercise_id.to_string();
        append(&mut tx, &audit).await?;
        let action = action_in(&mut tx, id).await?;
        tx.commit().await.ctx("committing an action")?;
        Ok((action, true))
    }

    /// Moves an action on (frozen exercises included: follow-up happens
    /// after the meeting), if it is still at `version`.
    pub async fn set_action_status(
        &self,
        id: i64,
        version: i64,
        status: ActionStatus,
        audit: AuditEntry,
    ) -> Result<ActionRow, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let current = action_in(&mut tx, id).await?;
        if current.version != version {
            return Err(StoreError::Conflict);
        }
        sqlx::query("UPDATE exercise_actions SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3")
            .bind(status.code())
            .bind(format_instant(audit.at))
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx("updating an action")?;
        append(&mut tx, &audit).await?;
        let action = action_in(&mut tx, id).await?;
        tx.commit().await.ctx("committing an action")?;
        Ok(action)
    }

    /// One action.
    pub async fn action(&self, id: i64) -> Result<Option<ActionRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM exercise_actions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading an action")?;
        row.as_ref().map(action_from_row).transpose()
    }

    /// Actions of one exercise, or of all exercises, soonest due first.
    pub async fn actions(&self, exercise_id: Option<i64>) -> Result<Vec<ActionRow>, StoreError> {
        let rows = match exercise_id {
            Some(id) => sqlx::query(&format!(
                "SELECT {ACTION_COLUMNS} FROM exercise_actions WHERE exercise_id = $1 ORDER BY due_on, id"
            ))
            .bind(id)
            .fetch_all(&self.pool)
            .await,
            None => sqlx::query(&format!("SELECT {ACTION_COLUMNS} FROM exercise_actions ORDER BY due_on, id"))
                .fetch_all(&self.pool)
                .await,
        }
        .ctx("reading actions")?;
        rows.iter().map(action_from_row).collect()
    }

    /// An exercise's annotations, in the order drawn.
    pub async fn annotations(&self, exercise_id: i64) -> Result<Vec<Annotation>, StoreError> {
        let rows = sqlx::query("SELECT id, geometry, note, created_at FROM exercise_annotations WHERE exercise_id = $1 ORDER BY id")
            .bind(exercise_id)
            .fetch_all(&self.pool)
            .await
            .ctx("reading annotations")?;
        rows.iter()
            .map(|row| {
                let id: i64 = column(row, "id")?;
                let geometry: String = column(row, "geometry")?;
                Ok(Annotation {
                    id,
                    geometry: serde_json::from_str(&geometry).map_err(|e| StoreError::Corrupt {
                        id,
                        what: format!("annotation geometry: {e}"),
                    })?,
                    note: column(row, "note")?,
                    created_at: column(row, "created_at")?,
                })
            })
            .collect()
    }

    /// An exercise's decisions, in the order recorded.
    pub async fn decisions(&self, exercise_id: i64) -> Result<Vec<Decision>, StoreError> {
        let rows = sqlx::query("SELECT id, text, created_at FROM exercise_decisions WHERE exercise_id = $1 ORDER BY id")
            .bind(exercise_id)
            .fetch_all(&self.pool)
            .await
            .ctx("reading decisions")?;
        rows.iter()
            .map(|row| {
                Ok(Decision {
                    id: column(row, "id")?,
                    text: column(row, "text")?,
                    created_at: column(row, "created_at")?,
                })
            })
            .collect()
    }

    /// Freezes an exercise: writes its snapshot and the observations it
    /// showed, once. Freezing a frozen exercise is refused.
    pub async fn freeze_exercise(
        &self,
        id: i64,
        snapshot: &str,
        items: &[(i64, String)],
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        open_exercise(&mut tx, id).await?;
        sqlx::query(
            "UPDATE exercises SET frozen_at = $1, frozen_by = $2, snapshot = $3 WHERE id = $4",
        )
        .bind(format_instant(audit.at))
        .bind(&audit.principal)
        .bind(snapshot)
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("freezing an exercise")?;
        for (observation, content) in items {
            sqlx::query("INSERT INTO exercise_items (exercise_id, observation_id, content) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(observation)
                .bind(content)
                .execute(&mut *tx)
                .await
                .ctx("keeping what the exercise showed")?;
        }
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a freeze")
    }

    /// What a frozen exercise showed, by observation id.
    pub async fn snapshot_items(&self, exercise_id: i64) -> Result<Vec<SnapshotItem>, StoreError> {
        let rows = sqlx::query(
            "SELECT observation_id, content, erased_at FROM exercise_items WHERE exercise_id = $1 ORDER BY observation_id",
        )
        .bind(exercise_id)
        .fetch_all(&self.pool)
        .await
        .ctx("reading a snapshot")?;
        rows.iter()
            .map(|row| {
                Ok(SnapshotItem {
                    observation_id: column(row, "observation_id")?,
                    content: column(row, "content")?,
                    erased_at: column(row, "erased_at")?,
                })
            })
            .collect()
    }

    /// Actions due on or before `by` that are neither done nor dropped.
    pub async fn actions_due(&self, by: NaiveDate) -> Result<Vec<ActionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACTION_COLUMNS} FROM exercise_actions
             WHERE due_on <= $1 AND status IN ('open', 'in-progress') ORDER BY due_on, id"
        ))
        .bind(by.format("%Y-%m-%d").to_string())
        .fetch_all(&self.pool)
        .await
        .ctx("reading due actions")?;
        rows.iter().map(action_from_row).collect()
    }
}

async fn action_in(tx: &mut Tx<'_>, id: i64) -> Result<ActionRow, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {ACTION_COLUMNS} FROM exercise_actions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .ctx("reading an action")?;
    row.as_ref()
        .map(action_from_row)
        .transpose()?
        .ok_or(StoreError::NotFound("action"))
}
