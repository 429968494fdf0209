//! The audit trail's entities: an act to record, a stored (hash-chained)
//! event, a search, and what verification found. The store appends and
//! verifies them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::viewer::Viewer;
use super::vocabulary::AuditAction;

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
    pub(crate) fn expected_hash(&self) -> String {
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
