//! The audit log as read by people: coordinators search their agency's
//! events (done by its people, or about its records) and export them, for a
//! subject access request or the ICO; administrators see every event.
//! Who may read what is decided here, not by the caller's query.

use chrono::{DateTime, Utc};

use super::ServiceError;
use crate::domain::viewer::{user_principal, Action, Reach, Viewer};
use crate::domain::vocabulary::AuditAction;
use crate::store::{AuditEntry, AuditEvent, AuditQuery, Store};

/// Largest export; a larger one says it is incomplete and where to go on
/// (`after`).
pub const MAX_EXPORT: i64 = 100_000;

/// One export: the events, and whether they are all of them.
#[derive(Debug)]
pub struct Export {
    /// The events, oldest first (at most [`MAX_EXPORT`]).
    pub events: Vec<AuditEvent>,
    /// Whether nothing matching was left out.
    pub complete: bool,
}

/// The audit-log reads.
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Store,
}

/// The agencies a viewer may read the trail of: `None` for every agency.
fn scope(viewer: &Viewer) -> Result<Option<String>, ServiceError> {
    match viewer.reach(Action::ReadAudit) {
        Reach::Any => Ok(None),
        Reach::Agency | Reach::Own => Ok(Some(viewer.agency.clone())),
        Reach::None => Err(ServiceError::Forbidden),
    }
}

impl AuditLog {
    /// Reads over a store.
    pub fn new(store: Store) -> Self {
        AuditLog { store }
    }

    /// Who `query` asks about, as the trail names them: people search by
    /// username, the trail keeps `user:{id}` (a username can be renamed
    /// or reused; the id cannot). A name that is no account stays as it is
    /// and matches what the trail holds under it, if anything.
    async fn principal_named(&self, query: &mut AuditQuery) -> Result<(), ServiceError> {
        let Some(named) = query.principal.as_deref().map(str::trim) else {
            return Ok(());
        };
        if !named.contains(':') && !Viewer::BUILT_IN_PRINCIPALS.contains(&named) {
            if let Some(user) = self.store.user_by_name(&named.to_lowercase()).await? {
                query.principal = Some(user_principal(user.id));
            }
        }
        Ok(())
    }

    /// A page of the events matching `query`, within the viewer's reach.
    pub async fn search(
        &self,
        viewer: &Viewer,
        mut query: AuditQuery,
    ) -> Result<Vec<AuditEvent>, ServiceError> {
        query.agency_scope = scope(viewer)?;
        self.principal_named(&mut query).await?;
        Ok(self.store.audit_events(&query).await?)
    }

    /// Every event matching `query` (up to [`MAX_EXPORT`]), as a disclosure
    /// with its purpose, recorded (naming the `filters`) before anything is
    /// read.
    pub async fn export(
        &self,
        viewer: &Viewer,
        mut query: AuditQuery,
        filters: String,
        purpose: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Export, ServiceError> {
        query.agency_scope = scope(viewer)?;
        let purpose = purpose.ok_or(ServiceError::PurposeRequired)?;
        self.principal_named(&mut query).await?;
        // One more than the cap, to say whether the export is complete.
        query.limit = MAX_EXPORT + 1;
        self.store
            .record_audit(&AuditEntry::by(
                viewer,
                AuditAction::Disclosure,
                "audit-log",
                filters,
                query.agency_scope.as_deref().unwrap_or(""),
                Some(purpose),
                now,
            ))
            .await?;
        let mut events = self.store.audit_events(&query).await?;
        let complete = events.len() as i64 <= MAX_EXPORT;
        events.truncate(MAX_EXPORT as usize);
        Ok(Export { events, complete })
    }
}
