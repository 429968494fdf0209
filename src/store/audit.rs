//! The audit trail: append-only, hash-chained events, written in the same
//! transaction as the act they record.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{column, Context, Store, StoreError};
use crate::domain::time::format_instant;
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::AuditAction;

/// The hash the first event chains from.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An act to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Who acted (principal reference).
    pub principal: String,
    /// Their display name at the time.
    pub principal_name: String,
    /// Their agency.
    pub agency: String,
    /// Their role code.
    pub role: String,
    /// What they did.
    pub action: AuditAction,
    /// What kind of object (`observation`, `audit-log`, …).
    pub object_type: &'static str,
    /// Which object.
    pub object_id: String,
    /// The agency the object belongs to (empty when none).
    pub object_agency: String,
    /// Why, when a purpose was stated.
    pub purpose: Option<String>,
    /// When (UTC).
    pub at: DateTime<Utc>,
}

impl AuditEntry {
    /// `viewer` did `action` to an object at `at`.
    pub fn by(
        viewer: &Viewer,
        action: AuditAction,
        object_type: &'static str,
        object_id: impl Into<String>,
        object_agency: &str,
        purpose: Option<&str>,
        at: DateTime<Utc>,
    ) -> Self {
        AuditEntry {
            principal: viewer.principal.clone(),
            principal_name: viewer.name.clone(),
            agency: viewer.agency.clone(),
            role: viewer.role.code().to_owned(),
            action,
            object_type,
            object_id: object_id.into(),
            object_agency: object_agency.to_owned(),
            purpose: purpose.map(str::to_owned),
            at,
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who.
    pub principal: String,
    /// Their display name at the time.
    pub principal_name: String,
    /// Their agency.
    pub agency: String,
    /// Their role.
    pub role: String,
    /// What they did.
    pub action: String,
    /// Object kind.
    pub object_type: String,
    /// Object id.
    pub object_id: String,
    /// The object's agency.
    pub object_agency: String,
    /// Stated purpose.
    pub purpose: Option<String>,
    /// The previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl AuditEvent {
    /// The hash this event should have: SHA-256 over a version tag, its
    /// fields and the previous hash. Each field is length-prefixed and an
    /// absent purpose has its own tag, so no text can be moved from one
    /// field to another (or stand for "none") without changing the hash.
    fn expected_hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |value: Option<&str>| match value {
            Some(text) => {
                h.update((text.len() as u64).to_le_bytes());
                h.update(text.as_bytes());
            }
            None => h.update(u64::MAX.to_le_bytes()),
        };
        for part in [
            "safetymap-audit-v1",
            &self.seq.to_string(),
            &self.at,
            &self.principal,
            &self.principal_name,
            &self.agency,
            &self.role,
            &self.action,
            &self.object_type,
            &self.object_id,
            &self.object_agency,
        ] {
            field(Some(part));
        }
        field(self.purpose.as_deref());
        field(Some(&self.prev_hash));
        hex::encode(h.finalize())
    }
}

/// What `verify_audit` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every event chains to the one before and hashes correctly.
    Intact {
        /// How many events.
        events: i64,
        /// The last event's hash: keep it elsewhere to detect a cut tail.
        head: String,
    },
    /// The event at `seq` is not what was written.
    Altered {
        /// Its position.
        seq: i64,
    },
    /// The chain breaks between `seq - 1` and `seq`: one of them was
    /// altered and its hash recomputed, or `seq` was inserted.
    Broken {
        /// The first event that does not follow its predecessor.
        seq: i64,
    },
    /// The chain no longer passes through a head hash recorded earlier:
    /// events were rewritten or the newest ones cut off.
    HeadMissing {
        /// The recorded head.
        head: String,
    },
    /// The event that should be at `seq` is missing.
    Removed {
        /// Where it should be.
        seq: i64,
    },
}

/// Which events to list. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events by, or about the records of, this agency.
    pub agency_scope: Option<String>,
    /// By this principal.
    pub principal: Option<String>,
    /// About this kind of object…
    pub object_type: Option<String>,
    /// …with this id.
    pub object_id: Option<String>,
    /// This action.
    pub action: Option<String>,
    /// At or after (RFC 3339).
    pub from: Option<String>,
    /// At or before (RFC 3339).
    pub to: Option<String>,
    /// After this sequence number (paging).
    pub after: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

const EVENT_COLUMNS: &str = "seq, at, principal, principal_name, agency, role, action, \
    object_type, object_id, object_agency, purpose, prev_hash, hash";

fn event(row: &sqlx::any::AnyRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        seq: column(row, "seq")?,
        at: column(row, "at")?,
        principal: column(row, "principal")?,
        principal_name: column(row, "principal_name")?,
        agency: column(row, "agency")?,
        role: column(row, "role")?,
        action: column(row, "action")?,
        object_type: column(row, "object_type")?,
        object_id: column(row, "object_id")?,
        object_agency: column(row, "object_agency")?,
        purpose: column(row, "purpose")?,
        prev_hash: column(row, "prev_hash")?,
        hash: column(row, "hash")?,
    })
}

/// Appends an event inside the caller's transaction, chained to the last.
/// Within a process the store's write gate orders appends; on PostgreSQL a
/// transaction-scoped advisory lock also orders them across instances.
pub(super) async fn append(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entry: &AuditEntry,
) -> Result<i64, StoreError> {
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_advisory_xact_lock(7243100)")
            .execute(&mut **tx)
            .await
            .ctx("locking the audit chain")?;
    }
    let last = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await
        .ctx("reading the audit chain's head")?;
    let (seq, prev_hash) = match last {
        Some(row) => (
            column::<i64>(&row, "seq")? + 1,
            column::<String>(&row, "hash")?,
        ),
        None => (1, GENESIS.to_owned()),
    };
    let mut event = AuditEvent {
        seq,
        at: format_instant(entry.at),
        principal: entry.principal.clone(),
        principal_name: entry.principal_name.clone(),
        agency: entry.agency.clone(),
        role: entry.role.clone(),
        action: entry.action.code().to_owned(),
        object_type: entry.object_type.to_owned(),
        object_id: entry.object_id.clone(),
        object_agency: entry.object_agency.clone(),
        purpose: entry.purpose.clone(),
        prev_hash,
        hash: String::new(),
    };
    event.hash = event.expected_hash();
    sqlx::query(&format!(
        "INSERT INTO audit_events ({EVENT_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(event.seq)
    .bind(event.at)
    .bind(event.principal)
    .bind(event.principal_name)
    .bind(event.agency)
    .bind(event.role)
    .bind(event.action)
    .bind(event.object_type)
    .bind(event.object_id)
    .bind(event.object_agency)
    .bind(event.purpose)
    .bind(event.prev_hash)
    .bind(event.hash)
    .execute(&mut **tx)
    .await
    .ctx("recording an audit event")?;
    Ok(seq)
}

impl Store {
    /// Records one event in its own transaction (for reads, which have no
    /// transaction of their own). Takes the write gate.
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let seq = append(&mut tx, entry).await?;
        tx.commit().await.ctx("committing an audit event")?;
        Ok(seq)
    }

    /// Records several events in one transaction, in order. Takes the write gate.
    pub async fn record_audit_batch(&self, entries: &[&AuditEntry]) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        for entry in entries {
            append(&mut tx, entry).await?;
        }
        tx.commit().await.ctx("committing audit events")
    }

    /// The sequence number of the newest event (0 when the log is empty).
    pub async fn audit_head_seq(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM audit_events")
            .fetch_one(&self.pool)
            .await
            .ctx("reading the audit chain's head")?;
        column(&row, "seq")
    }

    /// Events matching `query`, oldest first.
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        // Each optional filter is `($n IS NULL OR column = $n)`: one fixed
        // statement, no SQL built from input.
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events
             WHERE ($1 IS NULL OR agency = $1 OR object_agency = $1)
               AND ($2 IS NULL OR principal = $2)
               AND ($3 IS NULL OR object_type = $3)
               AND ($4 IS NULL OR object_id = $4)
               AND ($5 IS NULL OR action = $5)
               AND ($6 IS NULL OR at >= $6)
               AND ($7 IS NULL OR at <= $7)
               AND seq > $8
             ORDER BY seq
             LIMIT $9"
        ))
        .bind(query.agency_scope.clone())
        .bind(query.principal.clone())
        .bind(query.object_type.clone())
        .bind(query.object_id.clone())
        .bind(query.action.clone())
        .bind(query.from.clone())
        .bind(query.to.clone())
        .bind(query.after.unwrap_or(0))
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await
        .ctx("searching the audit log")?;
        rows.iter().map(event).collect()
    }

    /// Walks the whole chain and reports the first event that was altered,
    /// inserted or removed. With `expected_head` (a head hash kept outside
    /// the database), also checks the chain still passes through it, which
    /// catches a rewritten or cut tail. Streams, so any length of log fits.
    pub async fn verify_audit(
        &self,
        expected_head: Option<&str>,
    ) -> Result<AuditVerdict, StoreError> {
        use futures_util::TryStreamExt;
        let sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events ORDER BY seq");
        let mut rows = sqlx::query(&sql).fetch(&self.pool);
        let (mut expected_seq, mut prev) = (1_i64, GENESIS.to_owned());
        let mut head_seen = expected_head.is_none();
        while let Some(row) = rows.try_next().await.ctx("reading the audit log")? {
            let e = event(&row)?;
            if e.seq > expected_seq {
                return Ok(AuditVerdict::Removed { seq: expected_seq });
            }
            if e.hash != e.expected_hash() {
                return Ok(AuditVerdict::Altered { seq: e.seq });
            }
            if e.prev_hash != prev {
                // Hashes correctly but does not follow its predecessor.
                return Ok(AuditVerdict::Broken { seq: e.seq });
            }
            head_seen |= expected_head == Some(e.hash.as_str());
            prev = e.hash;
            expected_seq += 1;
        }
        if !head_seen {
            return Ok(AuditVerdict::HeadMissing {
                head: expected_head.unwrap_or_default().to_owned(),
            });
        }
        Ok(AuditVerdict::Intact {
            events: expected_seq - 1,
            head: prev,
        })
    }
}

/// Records audit events for reads that happen many times a second (tools
/// reading layers through tokens) without a transaction per read: requests
/// hand their event to one writer task, which commits whatever has queued
/// up in a single transaction (group commit) and then answers each request.
/// A request still waits for its event to be durable before it is answered,
/// so nothing is disclosed without a record of it.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    sender: tokio::sync::mpsc::Sender<(AuditEntry, tokio::sync::oneshot::Sender<bool>)>,
}

impl AuditWriter {
    /// Starts the writer task over `store` (needs a Tokio runtime).
    pub fn start(store: Store) -> AuditWriter {
        let (sender, mut receiver) =
            tokio::sync::mpsc::channel::<(AuditEntry, tokio::sync::oneshot::Sender<bool>)>(4096);
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut batch = vec![first];
                while batch.len() < 512 {
                    match receiver.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let entries: Vec<&AuditEntry> = batch.iter().map(|(e, _)| e).collect();
                let committed = match store.record_audit_batch(&entries).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, events = entries.len(), "audit batch failed");
                        false
                    }
                };
                for (_, reply) in batch {
                    let _ = reply.send(committed);
                }
            }
        });
        AuditWriter { sender }
    }

    /// Records `entry`, returning once it is committed; `false` if it could
    /// not be (the caller must then not disclose anything).
    pub async fn record(&self, entry: AuditEntry) -> bool {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self.sender.send((entry, reply)).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}
