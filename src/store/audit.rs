//! The audit trail: append-only, hash-chained events, written in the same
//! transaction as the act they record.

use super::{column, Context, Store, StoreError};
pub use crate::domain::audit::{AuditEntry, AuditEvent, AuditQuery, AuditVerdict};
use crate::domain::time::format_instant;

/// The hash the first event chains from.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

    /// Events matching `query`, oldest first.
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        // Only the filters given make it into the statement (each a fixed
        // clause; values are always bound, never written into SQL), so the
        // planner sees plain equalities and uses the indexes on them: a
        // `($n IS NULL OR column = $n)` form reads the whole log in order
        // once PostgreSQL settles on a generic plan for it.
        let filters: [(&str, &Option<String>); 7] = [
            ("(agency = {} OR object_agency = {})", &query.agency_scope),
            ("principal = {}", &query.principal),
            ("object_type = {}", &query.object_type),
            ("object_id = {}", &query.object_id),
            ("action = {}", &query.action),
            ("at >= {}", &query.from),
            ("at <= {}", &query.to),
        ];
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1");
        let mut values = Vec::new();
        for (clause, value) in filters {
            if let Some(value) = value {
                values.push(value.clone());
                let placeholder = format!("${}", values.len() + 1);
                sql.push_str(" AND ");
                sql.push_str(&clause.replace("{}", &placeholder));
            }
        }
        sql.push_str(&format!(" ORDER BY seq LIMIT ${}", values.len() + 2));
        let mut statement = sqlx::query(&sql).bind(query.after.unwrap_or(0));
        for value in values {
            statement = statement.bind(value);
        }
        let rows = statement
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
        let mut rows = sqlx::query(&sql).fetch(&self.long);
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
                let started = std::time::Instant::now();
                let committed = match store.record_audit_batch(&entries).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, events = entries.len(), "audit batch failed");
                        false
                    }
                };
                metrics::histogram!("safetymap_disclosure_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::counter!(
                    "safetymap_disclosure_events_total",
                    "result" => if committed { "committed" } else { "failed" },
                )
                .increment(entries.len() as u64);
                for (_, reply) in batch {
                    let _ = reply.send(committed);
                }
            }
        });
        AuditWriter { sender }
    }

    /// Events waiting for the next commit.
    pub fn queued(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
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
