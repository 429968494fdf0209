//! Credentials: signing in and out, browser sessions, second factors, and
//! recognising a session cookie or a bearer token as a [`Viewer`].
//!
//! Sign-in takes a password and, once enrolled, a TOTP code or a recovery
//! code. Coordinators and administrators must have a second factor: until
//! they enrol one, their session can do nothing else. Every attempt is
//! logged; failures are throttled per username and per client address.
//!
//! Sessions are read from the store, so ending one (sign-out, a disabled
//! account, a time limit) takes effect on the next request, on every
//! instance. Live tokens (with their user) and fully signed-in sessions are
//! cached for a short, configurable time so the layer read path runs no SQL
//! per request; revoking a token or changing its user here clears the
//! cache at once, and a change made by another process (the CLI) takes
//! effect when the entry expires. The idle and absolute limits are checked
//! on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ServiceError;
use crate::clock::Clock;
use crate::domain::observation::FieldError;
use crate::domain::viewer::{user_principal, Credential, Viewer};
use crate::domain::vocabulary::AuditAction;
use crate::security::{password, random_hex, same_secret, totp};
use crate::store::tokens::{token_hash, token_hash_in};
use crate::store::UserChange;
use crate::store::{AuditEntry, Session, SessionStage, SignInAttempt, Store, TokenRecord, User};

/// Session limits (OWASP ASVS 3.3): 30 minutes idle, 12 hours in all.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// Ends a session unused for this long.
    pub idle: chrono::Duration,
    /// Ends a session this long after sign-in, however active.
    pub absolute: chrono::Duration,
    /// Marks the cookie `Secure` (always, or when the public URL is https).
    pub secure_cookie: bool,
}

/// Sign-in throttling (OWASP ASVS 2.2.1).
#[derive(Debug, Clone)]
pub struct ThrottlePolicy {
    /// Failed sign-ins counted over this window.
    pub window: chrono::Duration,
    /// Failures for one username (since its last success) before refusing.
    pub per_account: i64,
    /// Failures from one client address before refusing.
    pub per_client: i64,
}

/// A verified token, its user, and when the store vouched for them.
type CacheEntry = (TokenRecord, User, Instant);
/// Signed-in sessions by token hash, with when the store vouched for each.
type SessionMap = HashMap<String, (Arc<Session>, Instant)>;

/// Recently verified tokens with their users, and sessions, by hash.
#[derive(Debug, Clone)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<String, CacheEntry>>>,
    sessions: Arc<Mutex<SessionMap>>,
    ttl: Duration,
}

impl TokenCache {
    /// A cache keeping entries for `ttl` (zero: no caching).
    pub fn new(ttl: Duration) -> Self {
        TokenCache {
            entries: Arc::new(Mutex::new(HashMap::new())),
            sessions: Arc::new(Mutex::new(HashMap::new())),
            ttl,
        }
    }

    fn get(&self, hash: &str) -> Option<(TokenRecord, User)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let found = entries
            .get(hash)
            .filter(|(_, _, at)| at.elapsed() < self.ttl)
            .map(|(record, user, _)| (record.clone(), user.clone()));
        drop(entries);
        crate::telemetry::cache_lookup("tokens", found.is_some());
        found
    }

    /// How many verified tokens and sessions are kept.
    pub fn size(&self) -> (usize, usize) {
        let tokens = self.entries.lock().unwrap_or_else(|e| e.into_inner()).len();
        (tokens, self.lock_sessions().len())
    }

    fn put(&self, hash: String, record: TokenRecord, user: User) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Bound the cache: expired entries go first; past a size, start again.
        if entries.len() > 10_000 {
            entries.retain(|_, (_, _, at)| at.elapsed() < self.ttl);
            if entries.len() > 10_000 {
                entries.clear();
            }
        }
        entries.insert(hash, (record, user, Instant::now()));
    }

    /// Forgets a token at once (after revoking it).
    pub fn forget(&self, token_id: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (record, _, _)| record.id != token_id);
    }

    /// Forgets every token and session of a user at once (after changing
    /// or disabling it).
    pub fn forget_user(&self, user_id: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, user, _)| user.id != user_id);
        drop(entries);
        self.lock_sessions()
            .retain(|_, (s, _)| s.user.id != user_id);
    }

    /// Forgets everything verified (another instance changed a token, an
    /// account or a session; the store is asked again on next use).
    pub fn forget_all(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.lock_sessions().clear();
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, SessionMap> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A session the store vouched for within the cache time.
    fn session(&self, hash: &str) -> Option<Arc<Session>> {
        let found = self
            .lock_sessions()
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(s, _)| s.clone());
        crate::telemetry::cache_lookup("sessions", found.is_some());
        found
    }

    /// Keeps a session read from the store (`fresh`) or notes a newer
    /// last use of one already kept (which does not restart its clock).
    fn keep_session(&self, session: &Arc<Session>, fresh: bool) {
        if self.ttl.is_zero() {
            return;
        }
        let mut sessions = self.lock_sessions();
        if sessions.len() > 10_000 {
            sessions.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if sessions.len() > 10_000 {
                sessions.clear();
            }
        }
        let at = match sessions.get(&session.token_hash) {
            Some((_, at)) if !fresh => *at,
            _ => Instant::now(),
        };
        sessions.insert(session.token_hash.clone(), (session.clone(), at));
    }

    /// Forgets a session at once (it ended).
    pub fn forget_session(&self, hash: &str) {
        self.lock_sessions().remove(hash);
    }
}

/// What a request presented to prove who it comes from.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// The session cookie, with the CSRF token the request echoed (empty
    /// when none).
    Cookie {
        /// The cookie's value.
        token: &'a str,
        /// The `X-CSRF-Token` header's value.
        csrf: &'a str,
    },
}

/// What the request asks to do, as far as credentials care.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    /// Whether it changes anything (not GET, HEAD or OPTIONS).
    pub write: bool,
    /// The path, for the few a session still enrolling may use.
    pub path: &'a str,
}

impl Asking<'_> {
    /// Paths a session that still has to enrol a second factor may use.
    fn while_enrolling(&self) -> bool {
        self.path == "/api/session" || self.path.starts_with("/api/me")
    }
}

/// The sign-in form.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// Sign-in name (any case).
    pub username: String,
    /// Password.
    pub password: String,
    /// A six-digit code from the authenticator app.
    pub totp: Option<String>,
    /// Or one of the recovery codes.
    pub recovery_code: Option<String>,
}

/// A session just started: its secrets go to the browser once.
#[derive(Debug, Clone)]
pub struct Started {
    /// The cookie's value.
    pub token: String,
    /// The CSRF token the browser echoes on writes.
    pub csrf_token: String,
    /// How far through signing in it is.
    pub stage: SessionStage,
    /// The account.
    pub user: User,
}

/// At most this many argon2id computations at once: each takes 19 MiB and
/// tens of milliseconds, so a burst of sign-ins queues here rather than
/// taking hundreds of blocking threads and gigabytes.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Checks a password against a stored hash, off the async threads.
pub async fn verify_password(typed: String, stored: String) -> bool {
    let Ok(_slot) = ARGON2_SLOTS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || password::verify(&typed, &stored))
        .await
        .unwrap_or(false)
}

/// Hashes a password, off the async threads.
pub async fn hash_password(proposed: String) -> Result<String, ServiceError> {
    let _slot = ARGON2_SLOTS
        .acquire()
        .await
        .map_err(|_| ServiceError::WriteTask)?;
    tokio::task::spawn_blocking(move || password::hash(&proposed))
        .await
        .map_err(|_| ServiceError::WriteTask)?
        .map_err(|_| ServiceError::WriteTask)
}

/// Checks a proposed password for an account, as a field error.
pub fn password_policy(
    field: &str,
    proposed: &str,
    username: &str,
    name: &str,
) -> Result<(), ServiceError> {
    password::check(proposed, &[username, name]).map_err(|refusal| {
        ServiceError::Invalid(vec![FieldError::new(field, refusal.code, refusal.message)])
    })
}

/// The viewer a user acts as, through `credential`.
pub fn viewer_of(user: &User, credential: Credential) -> Viewer {
    Viewer {
        principal: user_principal(user.id),
        name: user.display_name.clone(),
        agency: user.agency.clone(),
        role: user.role,
        admin: user.is_admin(),
        credential,
    }
}

fn unauthenticated(code: &'static str, title: &'static str) -> ServiceError {
    ServiceError::Unauthenticated {
        code,
        title,
        field: None,
    }
}

fn sign_in_failed() -> ServiceError {
    unauthenticated("sign-in-failed", "The username, password or code is wrong")
}

fn expired() -> ServiceError {
    unauthenticated("session-expired", "Your session has ended; sign in again")
}

fn account_disabled() -> ServiceError {
    unauthenticated("account-disabled", "This account has been disabled")
}

fn unknown_token() -> ServiceError {
    unauthenticated("invalid-token", "The token is not known")
}

fn enrolment_required(detail: &str) -> ServiceError {
    ServiceError::Refused {
        code: "second-factor-enrolment-required",
        title: "Set up an authenticator app first",
        field: None,
        detail: detail.to_owned(),
    }
}

/// The credential workflows.
#[derive(Debug, Clone)]
pub struct Sessions {
    store: Store,
    cache: TokenCache,
    policy: SessionPolicy,
    throttle: ThrottlePolicy,
    clock: Clock,
}

impl Sessions {
    /// Credentials over a store, with a cache shared with [`Tokens`](super::tokens::Tokens).
    pub fn new(
        store: Store,
        cache: TokenCache,
        policy: SessionPolicy,
        throttle: ThrottlePolicy,
        clock: Clock,
    ) -> Self {
        Sessions {
            store,
            cache,
            policy,
            throttle,
            clock,
        }
    }

    /// The session limits in force.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Who presented these credentials, if anyone, and whether they may
    /// ask this.
    pub async fn viewer(
        &self,
        presented: Presented<'_>,
        asking: Asking<'_>,
    ) -> Result<Viewer, ServiceError> {
        match presented {
            Presented::Bearer(token) => self.bearer(token, asking).await,
            Presented::Cookie { token, csrf } => self.cookie(token, csrf, asking).await,
        }
    }

    /// The live token, and its enabled user, for a bearer secret.
    async fn bearer(&self, token: &str, asking: Asking<'_>) -> Result<Viewer, ServiceError> {
        let now = self.clock.now();
        let hash = token_hash(token);
        let cached = self.cache.get(&hash);
        let from_store = cached.is_none();
        let (record, user) = match cached {
            Some(found) => found,
            None => {
                let record = Box::pin(self.store.token_by_hash(&hash))
                    .await?
                    .ok_or_else(unknown_token)?;
                let user = Box::pin(self.store.user(record.user_id))
                    .await?
                    .ok_or_else(unknown_token)?;
                (record, user)
            }
        };
        if !record.is_live(now) {
            return Err(unauthenticated(
                "invalid-token",
                "The token has been revoked or has expired",
            ));
        }
        if user.disabled_at.is_some() {
            return Err(account_disabled());
        }
        // Only a fresh store answer restarts the clock, so a token in steady
        // use is still re-checked every `ttl` and a revocation by another
        // process reaches it.
        if from_store {
            self.cache.put(hash, record.clone(), user.clone());
        }
        // The second-factor rule follows the person, not the token: a token of
        // someone who now needs one and has none does nothing until they enrol.
        if user.must_enrol() {
            return Err(enrolment_required(
                "The token's user must set up an authenticator app first",
            ));
        }
        if asking.write && !record.write {
            return Err(ServiceError::Refused {
                code: "token-read-only",
                title: "This token may only read",
                field: None,
                detail: "make a token with the write scope".into(),
            });
        }
        Ok(viewer_of(
            &user,
            Credential::Token {
                id: record.id,
                write: record.write,
                purpose: record.name,
            },
        ))
    }

    async fn cookie(
        &self,
        token: &str,
        csrf: &str,
        asking: Asking<'_>,
    ) -> Result<Viewer, ServiceError> {
        let cached = self.cache.session(token_hash_in(token, &mut [0; 64]));
        let fresh = cached.is_none();
        // Shared, not copied: a cached session is read on every request.
        let mut session = match cached {
            Some(session) => session,
            None => Arc::new(
                Box::pin(self.store.session(token))
                    .await?
                    .ok_or_else(expired)?,
            ),
        };
        let now = self.clock.now();
        let idle = now - session.last_seen_at > self.policy.idle;
        let too_old = now - session.created_at > self.policy.absolute;
        let disabled = session.user.disabled_at.is_some();
        if idle || too_old || disabled {
            self.cache.forget_session(&session.token_hash);
            Box::pin(self.store.end_session(&session.token_hash)).await?;
            return Err(if disabled {
                account_disabled()
            } else {
                expired()
            });
        }
        // Decided from the account as it is now, not as it was at sign-in.
        let enrolling = session.stage == SessionStage::EnrolMfa || session.user.must_enrol();
        if enrolling && !asking.while_enrolling() {
            return Err(enrolment_required(
                "Set up your authenticator app before going on",
            ));
        }
        if asking.write && !same_secret(csrf, &session.csrf_token) {
            return Err(ServiceError::Refused {
                code: "csrf-token-mismatch",
                title: "Reload the page and try again",
                field: Some("x-csrf-token"),
                detail: String::new(),
            });
        }
        // Noting every use would be a write per request; a minute's resolution
        // is plenty for a 30-minute idle limit.
        let touched = now - session.last_seen_at > chrono::Duration::seconds(60);
        if touched {
            Box::pin(self.store.touch_session(&session.token_hash, now)).await?;
            Arc::make_mut(&mut session).last_seen_at = now;
        }
        // Only sessions past every sign-in step are kept: the others change
        // stage in the store as the person goes on.
        if !enrolling && (fresh || touched) {
            self.cache.keep_session(&session, fresh);
        }
        Ok(viewer_of(&session.user, Credential::Session))
    }

    /// Signs in from `client`, ending the session the browser had
    /// (`replaces`), if any.
    pub async fn sign_in(
        &self,
        form: SignIn,
        client: &str,
        replaces: Option<&str>,
    ) -> Result<Started, ServiceError> {
        let username = form.username.trim().to_lowercase();
        let now = self.clock.now();
        let limits = &self.throttle;
        let user = self.store.user_by_name(&username).await?;
        let attempt = SignInAttempt {
            username: &username,
            user_id: user.as_ref().map(|u| u.id),
            client,
            at: now,
        };
        let reserved = self
            .store
            .reserve_sign_in(
                &attempt,
                now - limits.window,
                (limits.per_account, limits.per_client),
            )
            .await?;
        let Some(attempt_id) = reserved else {
            tracing::warn!(%client, "sign-in throttled");
            return Err(ServiceError::Throttled {
                retry_after: u32::try_from(limits.window.num_seconds()).unwrap_or(u32::MAX),
            });
        };
        // From here the attempt stands logged as a failure unless it succeeds.
        let failed = || {
            tracing::info!(%client, user = ?attempt.user_id, "sign-in failed");
            Err::<Started, ServiceError>(sign_in_failed())
        };
        let stored = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| password::decoy_hash().to_owned());
        let password_ok = verify_password(form.password, stored).await;
        let Some(user) = user.filter(|u| password_ok && u.disabled_at.is_none()) else {
            return failed();
        };
        if let Some(secret) = &user.totp_secret {
            let second = match (&form.totp, &form.recovery_code) {
                (Some(code), _) => match totp::verify(secret, code, now.timestamp()) {
                    Some(step) => self.store.use_totp_step(user.id, step).await?,
                    None => false,
                },
                (None, Some(code)) => {
                    self.store
                        .use_recovery_code(user.id, &totp::normalise_recovery_code(code), now)
                        .await?
                }
                (None, None) => {
                    self.store.settle_sign_in(attempt_id, "incomplete").await?;
                    return Err(ServiceError::Unauthenticated {
                        code: "second-factor-required",
                        title: "Enter the code from your authenticator app",
                        field: Some("totp"),
                    });
                }
            };
            if !second {
                return failed();
            }
        }
        self.store.settle_sign_in(attempt_id, "success").await?;
        tracing::info!(%client, user = user.id, "signed in");
        self.start(user, replaces).await
    }

    /// Starts a session for `user`, ending the one it replaces.
    async fn start(&self, user: User, replaces: Option<&str>) -> Result<Started, ServiceError> {
        if let Some(old) = replaces {
            self.sign_out(old).await?;
        }
        let stage = if user.must_enrol() {
            SessionStage::EnrolMfa
        } else {
            SessionStage::Full
        };
        // 256 random bits each: a new session token at every sign-in.
        let (token, csrf_token) = (random_hex(32), random_hex(32));
        self.store
            .create_session(&token, &csrf_token, user.id, stage, self.clock.now())
            .await?;
        Ok(Started {
            token,
            csrf_token,
            stage,
            user,
        })
    }

    /// The session a browser's cookie holds.
    pub async fn current(&self, token: &str) -> Result<Session, ServiceError> {
        self.store.session(token).await?.ok_or_else(expired)
    }

    /// Ends the session a browser's cookie holds (nothing, if it has ended).
    pub async fn sign_out(&self, token: &str) -> Result<(), ServiceError> {
        let hash = token_hash(token);
        self.cache.forget_session(&hash);
        Ok(self.store.end_session(&hash).await?)
    }

    /// The signed-in person's account.
    pub async fn account(&self, viewer: &Viewer) -> Result<User, ServiceError> {
        let id = viewer.user_id().ok_or(ServiceError::NotFound)?;
        self.store.user(id).await?.ok_or(ServiceError::NotFound)
    }

    /// How many unused recovery codes an account has left.
    pub async fn recovery_codes_left(&self, user: &User) -> Result<i64, ServiceError> {
        Ok(self.store.recovery_codes_left(user.id).await?)
    }

    /// Changes one's own password: every session of the account ends, and a
    /// new one starts for this browser.
    pub async fn change_password(
        &self,
        viewer: &Viewer,
        current: String,
        proposed: String,
        replaces: Option<&str>,
    ) -> Result<Started, ServiceError> {
        require_session(viewer)?;
        let user = self.account(viewer).await?;
        if !verify_password(current, user.password_hash.clone()).await {
            return Err(ServiceError::Invalid(vec![FieldError::new(
                "current_password",
                "wrong-password",
                "that is not your current password",
            )]));
        }
        password_policy(
            "new_password",
            &proposed,
            &user.username,
            &user.display_name,
        )?;
        let change = UserChange {
            password_hash: Some(hash_password(proposed).await?),
            ..UserChange::default()
        };
        let audit = AuditEntry::by(
            viewer,
            AuditAction::Alteration,
            "user",
            user.id.to_string(),
            &user.agency,
            Some("changed own password"),
            self.clock.now(),
        );
        let user = self
            .store
            .update_user(user.id, &change, audit)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.cache.forget_user(user.id);
        self.start(user, replaces).await
    }

    /// Offers a new TOTP secret to add to an authenticator app; it takes
    /// effect once confirmed with a code. Answers the secret and its
    /// `otpauth:` URI.
    pub async fn offer_second_factor(
        &self,
        viewer: &Viewer,
    ) -> Result<(String, String), ServiceError> {
        require_session(viewer)?;
        let user = self.account(viewer).await?;
        if user.totp_secret.is_some() {
            return Err(ServiceError::StateConflict {
                code: "second-factor-already-set",
                title: "A second factor is already set up; an administrator can reset it",
            });
        }
        let secret = totp::new_secret();
        self.store.offer_totp(user.id, &secret).await?;
        let uri = totp::uri(&secret, &user.username);
        Ok((secret, uri))
    }

    /// Confirms the offered secret with a code: answers ten recovery codes
    /// (shown once) and a new session.
    pub async fn confirm_second_factor(
        &self,
        viewer: &Viewer,
        code: &str,
        replaces: Option<&str>,
    ) -> Result<(Started, Vec<String>), ServiceError> {
        require_session(viewer)?;
        let user = self.account(viewer).await?;
        let secret = user
            .totp_pending
            .clone()
            .ok_or(ServiceError::StateConflict {
                code: "no-second-factor-offered",
                title: "Ask for a new secret first (POST /api/me/second-factor)",
            })?;
        let step = totp::verify(&secret, code, self.clock.now().timestamp()).ok_or_else(|| {
            ServiceError::Invalid(vec![FieldError::new(
                "code",
                "wrong-code",
                "that code does not match; check the app's clock and try the next code",
            )])
        })?;
        let codes = totp::recovery_codes();
        self.store
            .confirm_totp(user.id, &secret, step, &codes)
            .await?;
        let user = self.account(viewer).await?;
        Ok((self.start(user, replaces).await?, codes))
    }
}

/// Only a person signed in in a browser may change their credentials, not
/// one of their tools.
pub fn require_session(viewer: &Viewer) -> Result<(), ServiceError> {
    if viewer.credential == Credential::Session {
        Ok(())
    } else {
        Err(ServiceError::Refused {
            code: "session-required",
            title: "Only a signed-in person can do this, not a token",
            field: None,
            detail: String::new(),
        })
    }
}
