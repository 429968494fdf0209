//! Following the change stream: what other instances, and the command line,
//! changed that this process holds in memory — the index, the parsed areas,
//! the police.uk layer and verified credentials.
//!
//! On PostgreSQL a listener on the change channel wakes the follower as soon
//! as a change commits; on SQLite (one instance, and the command line) and
//! as a heartbeat on PostgreSQL, it looks every second anyway. Either way it
//! applies the rows after the last one it applied, in order, so a lost
//! notification, a dropped or half-open listener connection, or a restart
//! of the database delays a change by a heartbeat and loses none. sqlx
//! 0.8's `PgListener::try_recv` answers `Ok(None)` after it reconnected by
//! itself (notifications may have been missed: the follower catches up), and
//! an error it does not retry (a reset connection): the listener is then
//! made again.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::areas::AreaSet;
use crate::domain::observation::ObservationId;
use crate::index::police::PoliceLayer;
use crate::index::SpatialIndex;
use crate::store::changes::{ChangeKind, CHANNEL};
use crate::store::{Store, StoreError};

use super::sessions::TokenCache;

/// How often the follower looks without being told, and checks its
/// listener connection still answers.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// What the follower keeps up to date.
#[derive(Debug, Clone)]
pub struct Follower {
    store: Store,
    index: Arc<SpatialIndex>,
    areas: Arc<AreaSet>,
    police: Arc<PoliceLayer>,
    tokens: TokenCache,
    /// The last change applied, for metrics.
    applied: Arc<AtomicI64>,
}

impl Follower {
    /// A follower of `store`'s change stream, for this process's state.
    pub fn new(
        store: Store,
        index: Arc<SpatialIndex>,
        areas: Arc<AreaSet>,
        police: Arc<PoliceLayer>,
        tokens: TokenCache,
    ) -> Follower {
        Follower {
            store,
            index,
            areas,
            police,
            tokens,
            applied: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Where this follower has got to in the stream (it moves on as
    /// changes are applied).
    pub fn position(&self) -> Arc<AtomicI64> {
        self.applied.clone()
    }

    /// Applies every change after `applied`; returns the last one applied.
    pub async fn catch_up(&self, mut applied: i64) -> Result<i64, StoreError> {
        loop {
            let batch = self.store.changes_since(applied, 1000).await?;
            let Some(last) = batch.last().map(|c| c.seq) else {
                return Ok(applied);
            };
            let (mut areas, mut police, mut credentials) = (false, false, false);
            let now = chrono::Utc::now();
            for change in &batch {
                metrics::counter!("safetymap_changes_applied_total", "kind" => change.kind.code())
                    .increment(1);
                if let Some(at) = change.at {
                    let lag = (now - at).to_std().unwrap_or_default();
                    metrics::histogram!("safetymap_change_stream_lag_seconds")
                        .record(lag.as_secs_f64());
                }
                match change.kind {
                    ChangeKind::Observation => {
                        // Under the write gate, so a write of this process
                        // (which holds it from commit to index update) never
                        // interleaves with reading the record back here.
                        let _gate = self.store.write_gate().await;
                        let now = self.store.observation(ObservationId(change.id)).await?;
                        self.index.reconcile(change.id, now.as_ref());
                    }
                    ChangeKind::Area => areas = true,
                    ChangeKind::Police => police = true,
                    ChangeKind::Credentials => credentials = true,
                }
            }
            if areas {
                self.areas.reload(&self.store).await?;
            }
            if police {
                self.police.refresh(&self.store).await?;
            }
            if credentials {
                self.tokens.forget_all();
            }
            applied = last;
            self.applied.store(applied, Ordering::Release);
        }
    }

    async fn catch_up_logged(&self, applied: i64) -> i64 {
        match self.catch_up(applied).await {
            Ok(seq) => seq,
            Err(e) => {
                tracing::warn!(error = %e, "following the change stream failed; trying again");
                applied
            }
        }
    }

    /// Runs the follower on its own task from change `from` (the head when
    /// this process loaded its state).
    pub fn start(self, from: i64) {
        self.applied.store(from, Ordering::Release);
        tokio::spawn(async move {
            let mut applied = from;
            let Some(url) = self.store.postgres_url().map(str::to_owned) else {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    applied = self.catch_up_logged(applied).await;
                }
            };
            loop {
                let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(listener) => listener,
                    Err(e) => {
                        tracing::warn!(error = %e, "the change listener cannot connect; polling");
                        tokio::time::sleep(HEARTBEAT).await;
                        applied = self.catch_up_logged(applied).await;
                        continue;
                    }
                };
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "the change listener cannot listen; polling");
                    tokio::time::sleep(HEARTBEAT).await;
                    applied = self.catch_up_logged(applied).await;
                    continue;
                }
                // Whatever changed while nobody was listening.
                applied = self.catch_up_logged(applied).await;
                loop {
                    match tokio::time::timeout(HEARTBEAT, listener.try_recv()).await {
                        // A change, or the listener reconnected by itself and
                        // may have missed some: catch up either way.
                        Ok(Ok(_)) => applied = self.catch_up_logged(applied).await,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "the change listener failed; making it again");
                            break;
                        }
                        Err(_) => {
                            applied = self.catch_up_logged(applied).await;
                            // A half-open connection says nothing: ask it.
                            let alive = tokio::time::timeout(
                                HEARTBEAT,
                                sqlx::query("SELECT 1").execute(&mut listener),
                            )
                            .await;
                            if !matches!(alive, Ok(Ok(_))) {
                                tracing::warn!(
                                    "the change listener stopped answering; making it again"
                                );
                                break;
                            }
                        }
                    }
                }
            }
        });
    }
}
