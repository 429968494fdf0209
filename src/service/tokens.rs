//! API tokens: a signed-in person makes tokens for their own tools. Each
//! acts as them, is scoped to read or write, expires (in 1 to 365 days), and
//! is shown once. People list and revoke their own tokens; administrators
//! list and revoke anyone's. Making and revoking one are audited, in the
//! same transaction as the change.

use chrono::Duration;

use super::sessions::{require_session, TokenCache};
use super::ServiceError;
use crate::clock::Clock;
use crate::domain::observation::FieldError;
use crate::domain::viewer::{Action, Reach, Viewer};
use crate::store::{Store, TokenRecord};

/// A token to make, as asked.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// What the tool is for; recorded as the purpose of what it reads.
    pub name: String,
    /// `read` or `write`.
    pub scope: String,
    /// Days until it expires (1 to 365; default 90).
    pub expires_in_days: Option<i64>,
}

/// The token workflows.
#[derive(Debug, Clone)]
pub struct Tokens {
    store: Store,
    cache: TokenCache,
    clock: Clock,
}

fn own_id(viewer: &Viewer) -> Result<i64, ServiceError> {
    viewer.user_id().ok_or(ServiceError::Forbidden)
}

/// Whether `viewer` may make tokens at all: a signed-in person whose role
/// allows it. A token cannot mint tokens: a leaked one must not outlive its
/// expiry.
pub fn may_make(viewer: &Viewer) -> Result<(), ServiceError> {
    if !viewer.may_at_all(Action::ManageTokens) {
        return Err(ServiceError::Forbidden);
    }
    require_session(viewer)
}

impl Tokens {
    /// Token workflows over a store, forgetting revoked tokens from `cache`.
    pub fn new(store: Store, cache: TokenCache, clock: Clock) -> Self {
        Tokens {
            store,
            cache,
            clock,
        }
    }

    /// Makes a token for one of the signed-in person's tools; answers its
    /// record and the secret (shown this once).
    pub async fn create(
        &self,
        viewer: &Viewer,
        new: NewToken,
    ) -> Result<(TokenRecord, String), ServiceError> {
        may_make(viewer)?;
        let mut errors = Vec::new();
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new(
                "name",
                "invalid-length",
                "1 to 200 characters: what the tool is for",
            ));
        }
        let write = match new.scope.as_str() {
            "read" => false,
            "write" => true,
            _ => {
                errors.push(FieldError::new(
                    "scope",
                    "not-in-vocabulary",
                    "read or write",
                ));
                false
            }
        };
        let days = new.expires_in_days.unwrap_or(90);
        if !(1..=365).contains(&days) {
            errors.push(FieldError::new(
                "expires_in_days",
                "out-of-range",
                "between 1 and 365 days",
            ));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let now = self.clock.now();
        Ok(self
            .store
            .create_token(
                own_id(viewer)?,
                name,
                write,
                now + Duration::days(days),
                viewer,
                now,
            )
            .await?)
    }

    /// One's own tokens; administrators see everyone's.
    pub async fn list(&self, viewer: &Viewer) -> Result<Vec<TokenRecord>, ServiceError> {
        let owner = match viewer.reach(Action::ManageTokens) {
            Reach::None => return Err(ServiceError::Forbidden),
            Reach::Any => None,
            _ => Some(own_id(viewer)?),
        };
        Ok(self.store.tokens(owner).await?)
    }

    /// Revokes a token at once. Someone else's token (for anyone but an
    /// administrator) is not found, and so is one already revoked.
    pub async fn revoke(&self, viewer: &Viewer, id: i64) -> Result<(), ServiceError> {
        let reach = viewer.reach(Action::ManageTokens);
        let mine = |t: &TokenRecord| own_id(viewer).is_ok_and(|me| me == t.user_id);
        self.store
            .token(id)
            .await?
            .filter(|t| reach == Reach::Any || (reach != Reach::None && mine(t)))
            .ok_or(ServiceError::NotFound)?;
        let revoked = self
            .store
            .revoke_token(id, viewer, self.clock.now())
            .await?;
        self.cache.forget(id);
        if revoked {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }
}
