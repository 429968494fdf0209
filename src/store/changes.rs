//! The change stream: what running instances hold in memory and another
//! instance (or the command line) changed. Each change is written in the
//! transaction that makes it; on PostgreSQL the same transaction sends a
//! NOTIFY on [`CHANNEL`], delivered when it commits. Followers read the
//! rows after the last one they applied, so a lost notification delays a
//! change by one heartbeat at most and loses nothing.

use chrono::Utc;

use super::{column, Context, Store, StoreError, Tx};
use crate::domain::time::format_instant;

/// The PostgreSQL notification channel.
pub const CHANNEL: &str = "safetymap_changes";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// An observation was created, edited, withdrawn, kept or erased.
    Observation,
    /// Areas were drawn, imported or deleted.
    Area,
    /// A police.uk import.
    Police,
    /// Something a verified credential depends on: a token revoked, an
    /// account disabled or its role changed, a session ended.
    Credentials,
}

impl ChangeKind {
    /// How the store spells it (and metrics label it).
    pub fn code(self) -> &'static str {
        match self {
            ChangeKind::Observation => "observation",
            ChangeKind::Area => "area",
            ChangeKind::Police => "police",
            ChangeKind::Credentials => "credentials",
        }
    }

    fn from_code(code: &str) -> Option<ChangeKind> {
        [
            ChangeKind::Observation,
            ChangeKind::Area,
            ChangeKind::Police,
            ChangeKind::Credentials,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// One change, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its place in the stream.
    pub seq: i64,
    /// What changed.
    pub kind: ChangeKind,
    /// The observation's id, for an observation; 0 otherwise.
    pub id: i64,
    /// When it committed (as the committing instance's clock read it).
    pub at: Option<chrono::DateTime<Utc>>,
}

/// Records a change in `tx` (and, on PostgreSQL, notifies followers when
/// it commits). Numbered under the audit chain's transaction lock, so that
/// numbers follow commit order and a follower never skips one that commits
/// late.
pub(crate) async fn note(tx: &mut Tx<'_>, kind: ChangeKind, id: i64) -> Result<(), StoreError> {
    let postgres = tx.backend_name() == "PostgreSQL";
    if postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7243100)")
            .execute(&mut **tx)
            .await
            .ctx("ordering a change")?;
    }
    sqlx::query("INSERT INTO changes (kind, object_id, at) VALUES ($1, $2, $3)")
        .bind(kind.code())
        .bind(if id == 0 {
            String::new()
        } else {
            id.to_string()
        })
        .bind(format_instant(Utc::now()))
        .execute(&mut **tx)
        .await
        .ctx("recording a change")?;
    if postgres {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut **tx)
            .await
            .ctx("notifying a change")?;
    }
    Ok(())
}

impl Store {
    /// The last change so far (0: none).
    pub async fn change_head(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM changes")
            .fetch_one(&self.pool)
            .await
            .ctx("reading the change stream's head")?;
        column(&row, "n")
    }

    /// Up to `limit` changes after `seq`, in order.
    pub async fn changes_since(&self, seq: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, kind, object_id, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("reading the change stream")?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let kind: String = column(row, "kind")?;
            let Some(kind) = ChangeKind::from_code(&kind) else {
                continue;
            };
            out.push(Change {
                seq: column(row, "seq")?,
                kind,
                id: column::<String>(row, "object_id")?.parse().unwrap_or(0),
                at: crate::domain::time::parse_instant(&column::<String>(row, "at")?),
            });
        }
        Ok(out)
    }

    /// The PostgreSQL URL, for a follower's notification connection.
    pub fn postgres_url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}
