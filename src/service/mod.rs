//! Services: the workflows behind the API. A write commits to the store
//! first and only then changes the derived index, under the store's write
//! gate so the index follows commit order.

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod budget;
pub mod changes;
pub mod exercises;
pub mod perceptions;
pub mod places;
pub mod police;
pub mod pool;
pub mod reports;
pub mod sessions;
pub mod tokens;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::domain::lint::TextWarning;
use crate::domain::observation::{
    text_warnings, FieldError, Observation, ObservationId, ObservationInput, ObservationPatch,
    ValidationRules,
};
use crate::domain::viewer::{Action, Reach, Viewer};
use crate::domain::vocabulary::{AuditAction, Sensitivity};
use crate::index::SpatialIndex;
use crate::privacy::{Precision, Recorded, Seen};
use crate::store::{AuditEntry, Created, IdempotencyKey, Provenance, Revision, Store, StoreError};

/// Why a workflow refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is invalid; nothing was written.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// No such record, or the viewer may not know it exists.
    #[error("not found")]
    NotFound,
    /// The viewer may see the record but not do this to it.
    #[error("not allowed")]
    Forbidden,
    /// The record was withdrawn.
    #[error("withdrawn")]
    Withdrawn,
    /// The record changed concurrently; the client should reload and retry.
    #[error("conflict")]
    Conflict,
    /// An idempotency key was reused for a different request.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The free text looks like it identifies people; nothing was written
    /// until the recorder acknowledges the warnings.
    #[error("free text looks like it identifies people")]
    PersonalIdentifiers(Vec<TextWarning>),
    /// Opening this record needs a stated purpose (sensitive or restricted).
    #[error("a purpose is required")]
    PurposeRequired,
    /// The task running a write panicked or was cancelled.
    #[error("the write did not run to completion")]
    WriteTask,
    /// Refused, and why (403): a stable code, its title, and the field at
    /// fault if one is.
    #[error("refused: {code}")]
    Refused {
        /// Stable code.
        code: &'static str,
        /// Short summary.
        title: &'static str,
        /// The field at fault.
        field: Option<&'static str>,
        /// What to do instead.
        detail: String,
    },
    /// Follow-up compares before and after freezing: not frozen yet.
    #[error("not frozen")]
    NotFrozen,
    /// An edit that would change nothing.
    #[error("nothing to change")]
    NothingToChange,
    /// No valid credentials (401): a stable code, what to do, and the field
    /// at fault if one is.
    #[error("unauthenticated: {code}")]
    Unauthenticated {
        /// Stable code.
        code: &'static str,
        /// What to do.
        title: &'static str,
        /// The field at fault.
        field: Option<&'static str>,
    },
    /// Too many failed sign-ins; try again after `retry_after` seconds.
    #[error("throttled")]
    Throttled {
        /// Seconds to wait.
        retry_after: u32,
    },
    /// The account is not in the state this step needs (409).
    #[error("state conflict: {code}")]
    StateConflict {
        /// Stable code.
        code: &'static str,
        /// What to do.
        title: &'static str,
    },
    /// The analysis pool is full; try again shortly.
    #[error("busy")]
    Busy,
    /// The request would cost more than one request may; `parameter` is
    /// the one to change.
    #[error("too costly")]
    TooCostly {
        /// The parameter to change.
        parameter: &'static str,
        /// What to do instead.
        detail: String,
    },
    /// The principal has used up their budget of reports or aggregate
    /// queries for now.
    #[error("over budget")]
    OverBudget {
        /// Seconds until the budget allows another.
        retry_after: u32,
    },
}

/// Runs a write on its own task and waits for it. axum drops a handler's
/// future when the client disconnects; a commit whose index update was then
/// never run would leave the layers showing the old record. On its own task
/// the commit and the index update always run together.
pub(crate) async fn to_completion<T: Send + 'static>(
    write: impl std::future::Future<Output = Result<T, ServiceError>> + Send + 'static,
) -> Result<T, ServiceError> {
    // In the request's span, so its log lines name the request.
    tokio::spawn(tracing::Instrument::in_current_span(write))
        .await
        .unwrap_or(Err(ServiceError::WriteTask))
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ServiceError::Conflict,
            StoreError::IdempotencyKeyReused => ServiceError::IdempotencyKeyReused,
            StoreError::UnknownPlace(id) => ServiceError::Invalid(vec![FieldError::new(
                "place_id",
                "unknown-place",
                format!("there is no place {id}"),
            )]),
            StoreError::NotFound(_) => ServiceError::NotFound,
            StoreError::UnknownLink(field) => ServiceError::Invalid(vec![FieldError::new(
                field,
                "unknown-link",
                format!("{field} names nothing that exists"),
            )]),
            other => ServiceError::Store(other),
        }
    }
}

/// Whether the service can do its work: for `/readyz`.
#[derive(Debug, Clone)]
pub struct Health {
    store: Store,
}

impl Health {
    /// Health over a store.
    pub fn new(store: Store) -> Self {
        Health { store }
    }

    /// How the store's connection pool is used now (for metrics).
    pub fn store_pool(&self) -> crate::store::PoolUse {
        self.store.pool_use()
    }

    /// Whether a write can be made now (within two seconds): a store that
    /// answers reads but cannot take writes — down, its pool poisoned, its
    /// disk full — is not ready.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        Ok(self.store.ready_for_writes().await?)
    }
}

/// The observation workflows.
#[derive(Debug, Clone)]
pub struct Observations {
    store: Store,
    index: Arc<SpatialIndex>,
    rules: Arc<ValidationRules>,
    /// Rung after each create commits, so area alerts are matched at once.
    alerts: Option<Arc<tokio::sync::Notify>>,
}

/// An observation as one viewer may receive it.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The record, generalised where the viewer's precision says so.
    pub observation: Observation,
    /// Its history; empty for a generalised record, as edits of location
    /// would give the exact place away.
    pub history: Vec<Revision>,
    /// How precisely it is shown.
    pub precision: Precision,
}

/// What a write answers with (see [`Observations::answer`]).
#[derive(Debug, Clone)]
pub enum WriteAnswer {
    /// The record, as a read without a purpose shows it.
    Record(Box<Shown>),
    /// Only what says the write took effect.
    Receipt(Receipt),
}

/// What says a write took effect, for a record whose content needs a
/// stated purpose to read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    /// Observation id.
    pub id: i64,
    /// Version after the write.
    pub version: i64,
    /// Status.
    pub status: crate::domain::vocabulary::Status,
    /// Sensitivity (why the answer is only this).
    pub sensitivity: Sensitivity,
    /// Review-by date.
    pub review_by: NaiveDate,
    /// Whether it is withdrawn.
    pub withdrawn: bool,
}

impl Receipt {
    fn of(o: &Observation) -> Receipt {
        Receipt {
            id: o.id.0,
            version: o.version,
            status: o.details.status,
            sensitivity: o.details.sensitivity,
            review_by: o.review_by,
            withdrawn: o.withdrawn.is_some(),
        }
    }
}

impl Observations {
    /// Workflows over a store and its index.
    pub fn new(store: Store, index: Arc<SpatialIndex>, rules: ValidationRules) -> Self {
        Observations {
            store,
            index,
            rules: Arc::new(rules),
            alerts: None,
        }
    }

    /// The same workflows, ringing `alerts` after each create commits.
    pub fn ringing(mut self, alerts: Arc<tokio::sync::Notify>) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// The validation rules in force.
    pub fn rules(&self) -> &ValidationRules {
        &self.rules
    }

    /// Logs a new observation for `viewer`. With an idempotency key, a retry
    /// returns the first result and writes nothing.
    pub async fn create(
        &self,
        viewer: &Viewer,
        input: ObservationInput,
        idempotency_key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Created, ServiceError> {
        if !viewer.may_at_all(Action::CreateObservation) {
            return Err(ServiceError::Forbidden);
        }
        let acknowledged = input.acknowledge_warnings;
        let details = self
            .rules
            .validate_new(input, now)
            .map_err(ServiceError::Invalid)?;
        let warnings = text_warnings(None, &details);
        if !warnings.is_empty() && !acknowledged {
            return Err(ServiceError::PersonalIdentifiers(warnings));
        }
        let key = idempotency_key.map(|key| IdempotencyKey {
            key,
            request_hash: request_hash(&details),
        });
        let provenance = Provenance {
            agency: viewer.agency.clone(),
            recorded_by: viewer.principal.clone(),
            recorded_at: now,
        };
        let (this, viewer) = (self.clone(), viewer.clone());
        to_completion(async move {
            let _gate = this.store.write_gate().await;
            let created = this
                .store
                .create_observation(&details, &provenance, key.as_ref(), &viewer)
                .await?;
            if created.replayed {
                // The first attempt may have committed without hearing so
                // (its COMMIT reply lost): its index update never ran. Put
                // the record where the store says it is, once.
                this.index
                    .replace(&created.observation, Some(&created.observation));
            } else {
                this.index.insert(&created.observation);
            }
            if let Some(alerts) = &this.alerts {
                alerts.notify_one();
            }
            Ok(created)
        })
        .await
    }

    /// Opens one observation's full record, as the viewer may see it: a
    /// consultation, recorded in the audit trail with its purpose before
    /// anything is returned. Sensitive and restricted records need a purpose.
    /// With `live_only`, a withdrawn record is not found (layers' single
    /// reads), and nothing is audited for it.
    pub async fn open(
        &self,
        viewer: &Viewer,
        id: ObservationId,
        purpose: Option<&str>,
        live_only: bool,
        now: DateTime<Utc>,
    ) -> Result<Shown, ServiceError> {
        let seen = self.readable(viewer, id).await?;
        if live_only && seen.shown().withdrawn.is_some() {
            return Err(ServiceError::NotFound);
        }
        // Each opening states its own purpose, tools included: a token's
        // purpose covers the layers it reads, not every record behind them.
        // Purposes stay in the audit trail for good: no personal identifiers.
        let purpose = purpose.map(str::trim).filter(|p| !p.is_empty());
        if let Some(text) = purpose {
            let warnings = crate::domain::lint::lint("purpose", text);
            if !warnings.is_empty() {
                return Err(ServiceError::PersonalIdentifiers(warnings));
            }
        }
        if seen.shown().details.sensitivity != Sensitivity::Standard && purpose.is_none() {
            return Err(ServiceError::PurposeRequired);
        }
        self.store
            .record_audit(&AuditEntry::by(
                viewer,
                AuditAction::Consultation,
                "observation",
                id.to_string(),
                &seen.shown().agency,
                purpose,
                now,
            ))
            .await?;
        self.shown(seen).await
    }

    /// The answer to a write: the record as a read without a purpose would
    /// show it to the writer (standard records), and otherwise only its
    /// id, version and status. The write's own audit event covers it; a
    /// write never reads more than a read without a purpose could.
    pub async fn answer(
        &self,
        viewer: &Viewer,
        id: ObservationId,
    ) -> Result<WriteAnswer, ServiceError> {
        let seen = self.readable(viewer, id).await?;
        if seen.shown().details.sensitivity == Sensitivity::Standard {
            return Ok(WriteAnswer::Record(Box::new(self.shown(seen).await?)));
        }
        Ok(WriteAnswer::Receipt(Receipt::of(seen.shown())))
    }

    async fn readable(&self, viewer: &Viewer, id: ObservationId) -> Result<Seen, ServiceError> {
        self.visible(viewer, id, Action::ReadObservation).await
    }

    /// The record with its history, where the viewer may read that.
    async fn shown(&self, seen: Seen) -> Result<Shown, ServiceError> {
        let history = match seen.history_leave() {
            Some(leave) => self.store.history(leave).await?,
            None => Vec::new(),
        };
        Ok(Shown {
            precision: seen.precision(),
            observation: seen.into_shown(),
            history,
        })
    }

    /// Edits an observation (JSON merge patch), keeping history.
    pub async fn edit(
        &self,
        viewer: &Viewer,
        id: ObservationId,
        patch: ObservationPatch,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let (this, viewer) = (self.clone(), viewer.clone());
        to_completion(async move {
            let _gate = this.store.write_gate().await;
            let current = this.live(&viewer, id, Action::EditObservation).await?;
            // Whoever may edit a record sees it exactly (their own, or their
            // agency's as its coordinator); a patch is never applied to a
            // generalised copy.
            if current.precision() != Precision::Exact {
                return Err(ServiceError::Forbidden);
            }
            let details = &current.shown().details;
            let acknowledged = patch.acknowledge_warnings;
            let next = this
                .rules
                .apply_patch(details, patch, now)
                .map_err(ServiceError::Invalid)?;
            let warnings = text_warnings(Some(details), &next);
            if !warnings.is_empty() && !acknowledged {
                return Err(ServiceError::PersonalIdentifiers(warnings));
            }
            if &next == details {
                return Err(ServiceError::NothingToChange);
            }
            let updated = match this
                .store
                .update_observation(current.recorded(), &next, &viewer, now)
                .await
            {
                Ok(updated) => updated,
                Err(e) => return Err(this.heal(current.recorded(), e).await),
            };
            this.index.replace(current.recorded(), Some(&updated));
            Ok(())
        })
        .await
    }

    /// Withdraws an observation with a reason: it leaves every layer but
    /// stays in the store with its history.
    pub async fn withdraw(
        &self,
        viewer: &Viewer,
        id: ObservationId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let reason = reason_text(reason)?;
        let (this, viewer) = (self.clone(), viewer.clone());
        to_completion(async move {
            let _gate = this.store.write_gate().await;
            let current = this.live(&viewer, id, Action::WithdrawObservation).await?;
            if let Err(e) = this
                .store
                .withdraw_observation(current.recorded(), &viewer, &reason, now)
                .await
            {
                return Err(this.heal(current.recorded(), e).await);
            }
            this.index.replace(current.recorded(), None);
            Ok(())
        })
        .await
    }

    /// The records the viewer's review queue holds on `today`: their
    /// agency's records (withdrawn or not) whose review date has come.
    pub async fn review_queue(
        &self,
        viewer: &Viewer,
        today: NaiveDate,
        limit: i64,
    ) -> Result<Vec<Observation>, ServiceError> {
        let agency = match viewer.reach(Action::ReviewObservation) {
            Reach::None | Reach::Own => return Err(ServiceError::Forbidden),
            Reach::Agency => Some(viewer.agency.as_str()),
            Reach::Any => None,
        };
        let due = self.store.review_queue(agency, today, limit).await?;
        Ok(due
            .into_iter()
            .filter_map(|r| r.seen_by(viewer))
            .map(Seen::into_shown)
            .collect())
    }

    /// Keeps a record past its review date, with a reason and the next
    /// review date (after today, within three years).
    pub async fn keep(
        &self,
        viewer: &Viewer,
        id: ObservationId,
        reason: &str,
        next_review: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Observation, ServiceError> {
        let reason = reason_text(reason)?;
        let today = now.date_naive();
        if next_review <= today || next_review > today + Duration::days(3 * 366) {
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "next_review",
                "out-of-range",
                "the next review date must be after today and within three years",
            )]));
        }
        let (this, viewer) = (self.clone(), viewer.clone());
        to_completion(async move {
            let _gate = this.store.write_gate().await;
            let current = this.visible(&viewer, id, Action::ReviewObservation).await?;
            let kept = this
                .store
                .keep_observation(current.recorded(), &viewer, &reason, next_review, now)
                .await?;
            kept.seen_by(&viewer)
                .map(Seen::into_shown)
                .ok_or(ServiceError::NotFound)
        })
        .await
    }

    /// Erases a record everywhere (store and index), leaving one audit
    /// event with the reason.
    pub async fn erase(
        &self,
        viewer: &Viewer,
        id: ObservationId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let reason = reason_text(reason)?;
        let (this, viewer) = (self.clone(), viewer.clone());
        to_completion(async move {
            let _gate = this.store.write_gate().await;
            let current = this.visible(&viewer, id, Action::ReviewObservation).await?;
            this.erase_now(current.recorded(), &viewer, &reason, now)
                .await
        })
        .await
    }

    /// Erases `current` (the caller holds the write gate).
    async fn erase_now(
        &self,
        current: &Recorded,
        by: &Viewer,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        match self
            .store
            .erase_observation(current.id(), by, reason, now)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => return Err(ServiceError::NotFound),
            Err(e) => return Err(self.heal(current, e).await),
        }
        self.index.replace(current, None);
        Ok(())
    }

    /// After a write to `before` failed, puts the index right from the
    /// store: a failure can come after the COMMIT took effect (its reply
    /// lost), and the index must then follow what was committed. Best
    /// effort: with the store out of reach too, the record's entry stays as
    /// it was until it is next written or the index is next loaded.
    /// Returns the failure, for the caller to answer with.
    async fn heal(&self, before: &Recorded, failure: StoreError) -> ServiceError {
        match self.store.observation(before.id()).await {
            Ok(now) => self.index.replace(before, now.as_ref()),
            Err(e) => {
                tracing::warn!(error = %e, id = before.id().0, "could not check a failed write")
            }
        }
        failure.into()
    }

    /// The retention job: counts what is due for review and erases, as the
    /// system, every record whose review date is more than `grace_days`
    /// past with no decision to keep it.
    pub async fn apply_retention(
        &self,
        now: DateTime<Utc>,
        grace_days: i64,
    ) -> Result<RetentionReport, ServiceError> {
        let today = now.date_naive();
        let cutoff = today - Duration::days(grace_days);
        let mut report = RetentionReport::default();
        loop {
            let overdue = self
                .store
                .review_queue(None, cutoff - Duration::days(1), 500)
                .await?;
            if overdue.is_empty() {
                break;
            }
            let mut erased_now = 0;
            for record in &overdue {
                let this = self.clone();
                let id = record.id();
                let erased = to_completion(async move {
                    let _gate = this.store.write_gate().await;
                    // Decided again under the gate: a coordinator may have
                    // kept it, or erased it, since the queue was read.
                    let Some(current) = this.store.observation(id).await? else {
                        return Ok(false);
                    };
                    let review_by = current.review_by();
                    if review_by >= cutoff {
                        return Ok(false);
                    }
                    let reason = format!(
                        "retention: review date {review_by} passed {} days ago with no decision to keep",
                        (today - review_by).num_days()
                    );
                    this.erase_now(&current, &Viewer::system(), &reason, now)
                        .await
                        .map(|()| true)
                })
                .await?;
                erased_now += usize::from(erased);
            }
            report.erased += erased_now;
            if erased_now == 0 {
                break;
            }
        }
        report.due_for_review = self.store.count_due(today).await?;
        Ok(report)
    }

    /// The record if the viewer may see it and do `action` to it.
    ///
    /// What the viewer may not read is not found, whatever the verb and
    /// whether or not it is withdrawn: a viewer learns nothing of records
    /// they may not see, not even that they exist. Only then may the answer
    /// be "not allowed" (for a record they can read anyway).
    async fn visible(
        &self,
        viewer: &Viewer,
        id: ObservationId,
        action: Action,
    ) -> Result<Seen, ServiceError> {
        let seen = self
            .store
            .observation(id)
            .await?
            .and_then(|recorded| recorded.seen_by(viewer))
            .ok_or(ServiceError::NotFound)?;
        // A withdrawn record stays readable only to those who could have
        // withdrawn it: it was often withdrawn because of what it says.
        if seen.shown().withdrawn.is_some() && !seen.may(viewer, Action::WithdrawObservation) {
            return Err(ServiceError::NotFound);
        }
        if !seen.may(viewer, action) {
            return Err(ServiceError::Forbidden);
        }
        Ok(seen)
    }

    async fn live(
        &self,
        viewer: &Viewer,
        id: ObservationId,
        action: Action,
    ) -> Result<Seen, ServiceError> {
        let seen = self.visible(viewer, id, action).await?;
        if seen.shown().withdrawn.is_some() {
            return Err(ServiceError::Withdrawn);
        }
        Ok(seen)
    }
}

/// A stated reason (for withdrawing, keeping or erasing), trimmed: 1 to 500
/// characters, and — because reasons stay in the append-only audit trail
/// after the record is erased — with nothing that looks like it identifies
/// a person (no acknowledging it away, unlike a description).
fn reason_text(reason: &str) -> Result<String, ServiceError> {
    let reason = reason.trim();
    let warnings = crate::domain::lint::lint("reason", reason);
    if !warnings.is_empty() {
        return Err(ServiceError::PersonalIdentifiers(warnings));
    }
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ServiceError::Invalid(vec![FieldError::new(
            "reason",
            if reason.is_empty() {
                "missing-field"
            } else {
                "too-long"
            },
            "a reason of 1 to 500 characters is required",
        )]));
    }
    Ok(reason.to_owned())
}

/// What one run of the retention job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetentionReport {
    /// Records now in a review queue (due, not yet past the grace period).
    pub due_for_review: i64,
    /// Records erased because their review date passed the grace period
    /// with no decision.
    pub erased: usize,
}

/// Identifies a create request by its validated content, so a retry of the
/// same report (or place, or area) matches however its JSON was laid out.
pub fn request_hash<T: serde::Serialize>(details: &T) -> String {
    let json = serde_json::to_vec(details).unwrap_or_default();
    hex::encode(Sha256::digest(json))
}
