//! Safety-mapping sessions and their marks in the store.

use sqlx::any::AnyRow;

use super::audit::{append, AuditEntry};
use super::{column, replayed, Context, Store, StoreError};
pub use crate::domain::perception::{MarkRow, SessionRow};
use crate::domain::perception::{NewMark, NewSession};
use crate::domain::time::format_instant;

const SESSION_SELECT: &str = "SELECT s.id, s.held_on, s.area_id, s.age_band, s.facilitator, s.agency, s.recorded_by,
        (SELECT COUNT(*) FROM perception_marks m WHERE m.session_id = s.id) AS marks,
        (SELECT COUNT(DISTINCT m.participant) FROM perception_marks m WHERE m.session_id = s.id) AS participants
    FROM perception_sessions s";

fn session_from_row(row: &AnyRow) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: column(row, "id")?,
        held_on: column(row, "held_on")?,
        area_id: column(row, "area_id")?,
        age_band: column(row, "age_band")?,
        facilitator: column(row, "facilitator")?,
        agency: column(row, "agency")?,
        recorded_by: column(row, "recorded_by")?,
        marks: column(row, "marks")?,
        participants: column(row, "participants")?,
    })
}

fn mark_from_row(row: &AnyRow) -> Result<MarkRow, StoreError> {
    let id: i64 = column(row, "id")?;
    let geometry: String = column(row, "geometry")?;
    let reasons: String = column(row, "reasons")?;
    Ok(MarkRow {
        id,
        session_id: column(row, "session_id")?,
        participant: column(row, "participant")?,
        kind: column(row, "kind")?,
        rating: column(row, "rating")?,
        route_use: column(row, "route_use")?,
        geometry: serde_json::from_str(&geometry).map_err(|e| StoreError::Corrupt {
            id,
            what: format!("mark geometry: {e}"),
        })?,
        at: [column(row, "lon")?, column(row, "lat")?],
        reasons: reasons
            .split(',')
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        time_of_day: column(row, "time_of_day")?,
    })
}

impl Store {
    /// Records a session; a retry with the same key returns the first.
    pub async fn create_perception_session(
        &self,
        new: &NewSession,
        facilitator: &crate::domain::viewer::Viewer,
        client_key: Option<&str>,
        mut audit: AuditEntry,
    ) -> Result<(i64, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if let Some(id) = replayed(&mut tx, "perception_sessions", client_key).await? {
            return Ok((id, false));
        }
        if let Some(area) = new.area_id {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM areas WHERE id = $1")
                .bind(area)
                .fetch_optional(&mut *tx)
                .await
                .ctx("checking an area")?;
            if found.is_none() {
                return Err(StoreError::UnknownLink("area_id"));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO perception_sessions (held_on, area_id, age_band, facilitator, created_at, client_key,
                 agency, recorded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.held_on.format("%Y-%m-%d").to_string())
        .bind(new.area_id)
        .bind(new.age_band.map(|b| b.code()))
        .bind(&facilitator.name)
        .bind(format_instant(audit.at))
        .bind(client_key)
        .bind(&facilitator.agency)
        .bind(&facilitator.principal)
        .fetch_one(&mut *tx)
        .await
        .ctx("recording a safety-mapping session")?;
        audit.object_id = id.to_string();
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a session")?;
        Ok((id, true))
    }

    /// Adds a mark to a session; a retry with the same key returns the first.
    pub async fn add_perception_mark(
        &self,
        session_id: i64,
        mark: &NewMark,
        client_key: Option<&str>,
        audit: AuditEntry,
    ) -> Result<(i64, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if let Some(id) = replayed(&mut tx, "perception_marks", client_key).await? {
            return Ok((id, false));
        }
        let session: Option<i64> =
            sqlx::query_scalar("SELECT id FROM perception_sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(&mut *tx)
                .await
                .ctx("checking a session")?;
        if session.is_none() {
            return Err(StoreError::NotFound("session"));
        }
        let reasons: Vec<&str> = mark.reasons.iter().map(|r| r.code()).collect();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO perception_marks (session_id, participant, kind, rating, route_use, geometry, lon, lat,
                 reasons, time_of_day, created_at, client_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(session_id)
        .bind(mark.participant)
        .bind(mark.kind.code())
        .bind(mark.rating.map(|r| r.code()))
        .bind(mark.route_use.map(|r| r.code()))
        .bind(mark.geometry.to_string())
        .bind(mark.at[0])
        .bind(mark.at[1])
        .bind(reasons.join(","))
        .bind(mark.time_of_day.code())
        .bind(format_instant(audit.at))
        .bind(client_key)
        .fetch_one(&mut *tx)
        .await
        .ctx("recording a mark")?;
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a mark")?;
        Ok((id, true))
    }

    /// Every session, newest first.
    pub async fn perception_sessions(&self) -> Result<Vec<SessionRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "{SESSION_SELECT} ORDER BY s.held_on DESC, s.id DESC"
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("reading sessions")?;
        rows.iter().map(session_from_row).collect()
    }

    /// One session.
    pub async fn perception_session(&self, id: i64) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(&format!("{SESSION_SELECT} WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading a session")?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// The marks of one session, or of all.
    pub async fn perception_marks(
        &self,
        session_id: Option<i64>,
    ) -> Result<Vec<MarkRow>, StoreError> {
        let sql = "SELECT id, session_id, participant, kind, rating, route_use, geometry, lon, lat, reasons, time_of_day
                   FROM perception_marks";
        let rows = match session_id {
            Some(id) => {
                sqlx::query(&format!("{sql} WHERE session_id = $1 ORDER BY id"))
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query(&format!("{sql} ORDER BY id"))
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .ctx("reading marks")?;
        rows.iter().map(mark_from_row).collect()
    }
}
