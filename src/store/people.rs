//! Agencies, user accounts, recovery codes, sessions and the sign-in log.
//!
//! Secrets are never stored: passwords as argon2id PHC strings, session
//! tokens and recovery codes as SHA-256 hashes (both are 128+ random bits,
//! so a fast hash is enough). TOTP secrets are stored as they must be to
//! check codes.

use chrono::{DateTime, Utc};

use super::audit::{append, AuditEntry};
use super::changes::{self, ChangeKind};
use super::tokens::token_hash;
use super::{column, Context, Store, StoreError};
pub use crate::domain::account::{
    Agency, NewUser, RoleRequest, Session, SessionStage, SignIn, SignInAttempt, User, UserChange,
};
use crate::domain::time::{format_instant, parse_instant};
use crate::domain::vocabulary::{AgencyKind, Role};

const USER_COLUMNS: &str = "u.id, u.username, u.display_name, u.agency, u.role, u.admin, \
    u.password_hash, u.totp_secret, u.totp_pending, u.totp_last_step, u.disabled_at, u.created_at";

fn time(row: &sqlx::any::AnyRow, name: &'static str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(column::<Option<String>>(row, name)?.and_then(|s| parse_instant(&s)))
}

fn user(row: &sqlx::any::AnyRow) -> Result<User, StoreError> {
    let id: i64 = column(row, "id")?;
    let role: String = column(row, "role")?;
    let role = Role::from_code(&role).ok_or_else(|| StoreError::Corrupt {
        id,
        what: format!("unknown role {role}"),
    })?;
    Ok(User {
        id,
        username: column(row, "username")?,
        display_name: column(row, "display_name")?,
        agency: column(row, "agency")?,
        role,
        admin: column::<i64>(row, "admin")? != 0,
        password_hash: column(row, "password_hash")?,
        totp_secret: column(row, "totp_secret")?,
        totp_pending: column(row, "totp_pending")?,
        totp_last_step: column(row, "totp_last_step")?,
        disabled_at: time(row, "disabled_at")?,
        created_at: time(row, "created_at")?.ok_or_else(|| StoreError::Corrupt {
            id,
            what: "no creation time".into(),
        })?,
    })
}

fn agency(row: &sqlx::any::AnyRow) -> Result<Agency, StoreError> {
    let kind: String = column(row, "kind")?;
    Ok(Agency {
        code: column(row, "code")?,
        name_en: column(row, "name_en")?,
        name_cy: column(row, "name_cy")?,
        kind: AgencyKind::from_code(&kind).ok_or_else(|| StoreError::Corrupt {
            id: 0,
            what: format!("unknown agency kind {kind}"),
        })?,
    })
}

/// A unique constraint refused the write: the name is taken.
fn taken(what: &'static str) -> impl FnOnce(StoreError) -> StoreError {
    move |e| match &e {
        StoreError::Database {
            source: sqlx::Error::Database(db),
            ..
        } if db.is_unique_violation() => StoreError::Taken(what),
        _ => e,
    }
}

impl Store {
    /// Registers an agency, with its audit event.
    pub async fn create_agency(&self, new: &Agency, audit: AuditEntry) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        sqlx::query(
            "INSERT INTO agencies (code, name_en, name_cy, kind, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&new.code)
        .bind(&new.name_en)
        .bind(&new.name_cy)
        .bind(new.kind.code())
        .bind(format_instant(audit.at))
        .execute(&mut *tx)
        .await
        .ctx("creating an agency")
        .map_err(taken("agency code"))?;
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing an agency")
    }

    /// Renames an agency or changes its kind, with its audit event.
    pub async fn update_agency(
        &self,
        agency: &Agency,
        audit: AuditEntry,
    ) -> Result<bool, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let done = sqlx::query(
            "UPDATE agencies SET name_en = $1, name_cy = $2, kind = $3 WHERE code = $4",
        )
        .bind(&agency.name_en)
        .bind(&agency.name_cy)
        .bind(agency.kind.code())
        .bind(&agency.code)
        .execute(&mut *tx)
        .await
        .ctx("updating an agency")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing an agency")?;
        Ok(true)
    }

    /// One agency.
    pub async fn agency(&self, code: &str) -> Result<Option<Agency>, StoreError> {
        let row = sqlx::query("SELECT code, name_en, name_cy, kind FROM agencies WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .ctx("reading an agency")?;
        row.as_ref().map(agency).transpose()
    }

    /// Every agency, by code.
    pub async fn agencies(&self) -> Result<Vec<Agency>, StoreError> {
        let rows = sqlx::query("SELECT code, name_en, name_cy, kind FROM agencies ORDER BY code")
            .fetch_all(&self.pool)
            .await
            .ctx("listing agencies")?;
        rows.iter().map(agency).collect()
    }

    /// Creates an account, with its audit event (the act's object id is
    /// filled in with the new account's id). The agency must exist.
    pub async fn create_user(
        &self,
        new: &NewUser,
        mut audit: AuditEntry,
    ) -> Result<User, StoreError> {
        let now = format_instant(audit.at);
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let known = sqlx::query("SELECT 1 AS one FROM agencies WHERE code = $1")
            .bind(&new.agency)
            .fetch_optional(&mut *tx)
            .await
            .ctx("checking an agency")?;
        if known.is_none() {
            return Err(StoreError::UnknownAgency(new.agency.clone()));
        }
        let row = sqlx::query(
            "INSERT INTO users (username, display_name, agency, role, admin, password_hash,
                                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             RETURNING id",
        )
        .bind(&new.username)
        .bind(&new.display_name)
        .bind(&new.agency)
        .bind(new.role.code())
        .bind(i64::from(new.admin))
        .bind(&new.password_hash)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .ctx("creating a user")
        .map_err(taken("username"))?;
        let id: i64 = column(&row, "id")?;
        audit.object_id = id.to_string();
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a user")?;
        self.user(id).await?.ok_or(StoreError::Conflict)
    }

    /// One account by id.
    pub async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a user")?;
        row.as_ref().map(user).transpose()
    }

    /// One account by sign-in name (lower case).
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a user")?;
        row.as_ref().map(user).transpose()
    }

    /// Accounts, of one agency or of all, by id.
    pub async fn users(&self, agency: Option<&str>) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE ($1 IS NULL OR u.agency = $1) ORDER BY u.id"
        ))
        .bind(agency)
        .fetch_all(&self.pool)
        .await
        .ctx("listing users")?;
        rows.iter().map(user).collect()
    }

    /// Whether any account exists (the first admin is made on the command line).
    pub async fn has_users(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS one FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .ctx("counting users")?;
        Ok(row.is_some())
    }

    /// Changes an account, with its audit event, in one transaction.
    pub async fn update_user(
        &self,
        id: i64,
        change: &UserChange,
        audit: AuditEntry,
    ) -> Result<Option<User>, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if !change_user(&mut tx, id, change, &format_instant(audit.at)).await? {
            return Ok(None);
        }
        append(&mut tx, &audit).await?;
        // Other instances may hold its sessions and tokens verified.
        changes::note(&mut tx, ChangeKind::Credentials, 0).await?;
        tx.commit().await.ctx("committing a user")?;
        self.user(id).await
    }

    /// Records a change of role or administrator flag that waits for a
    /// second administrator; answers the request.
    pub async fn request_role_change(
        &self,
        user_id: i64,
        role: Role,
        admin: bool,
        mut audit: AuditEntry,
    ) -> Result<RoleRequest, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        // One pending request per account: a new one replaces the old.
        sqlx::query(
            "UPDATE role_requests SET outcome = 'superseded', decided_by = $1, decided_at = $2
             WHERE user_id = $3 AND outcome IS NULL",
        )
        .bind(&audit.principal)
        .bind(format_instant(audit.at))
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .ctx("superseding a role request")?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO role_requests (user_id, role, admin, requested_by, requested_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(role.code())
        .bind(i64::from(admin))
        .bind(&audit.principal)
        .bind(format_instant(audit.at))
        .fetch_one(&mut *tx)
        .await
        .ctx("recording a role request")?;
        audit.object_id = format!("{user_id}; request {id}");
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a role request")?;
        Ok(RoleRequest {
            id,
            user_id,
            role,
            admin,
            requested_by: audit.principal.clone(),
            requested_at: format_instant(audit.at),
            outcome: None,
        })
    }

    /// Role requests, newest first: pending ones only, or all.
    pub async fn role_requests(&self, pending_only: bool) -> Result<Vec<RoleRequest>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ROLE_REQUEST_COLUMNS} FROM role_requests {} ORDER BY id DESC",
            if pending_only {
                "WHERE outcome IS NULL"
            } else {
                ""
            }
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("reading role requests")?;
        rows.iter().map(role_request).collect()
    }

    /// One role request.
    pub async fn role_request(&self, id: i64) -> Result<Option<RoleRequest>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ROLE_REQUEST_COLUMNS} FROM role_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a role request")?;
        row.as_ref().map(role_request).transpose()
    }

    /// Approves (applying the change) or refuses a pending role request,
    /// with its audit event, in one transaction. `None`: no such pending
    /// request.
    pub async fn decide_role_request(
        &self,
        id: i64,
        approve: bool,
        audit: AuditEntry,
    ) -> Result<Option<RoleRequest>, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let row = sqlx::query(&format!(
            "SELECT {ROLE_REQUEST_COLUMNS} FROM role_requests WHERE id = $1 AND outcome IS NULL"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("reading a role request")?;
        let Some(mut request) = row.as_ref().map(role_request).transpose()? else {
            return Ok(None);
        };
        let now = format_instant(audit.at);
        let outcome = if approve { "approved" } else { "refused" };
        sqlx::query(
            "UPDATE role_requests SET outcome = $1, decided_by = $2, decided_at = $3 WHERE id = $4",
        )
        .bind(outcome)
        .bind(&audit.principal)
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .ctx("deciding a role request")?;
        if approve {
            let change = UserChange {
                role: Some(request.role),
                admin: Some(request.admin),
                ..UserChange::default()
            };
            if !change_user(&mut tx, request.user_id, &change, &now).await? {
                return Ok(None);
            }
        }
        append(&mut tx, &audit).await?;
        changes::note(&mut tx, ChangeKind::Credentials, 0).await?;
        tx.commit().await.ctx("committing a role decision")?;
        request.outcome = Some(outcome.to_owned());
        Ok(Some(request))
    }

    /// Offers a TOTP secret to confirm.
    pub async fn offer_totp(&self, user_id: i64, secret: &str) -> Result<(), StoreError> {
        // Every write takes the gate: on SQLite a write slipping between
        // another transaction's read and write would fail it (BUSY_SNAPSHOT).
        let _gate = self.write_gate().await;
        sqlx::query("UPDATE users SET totp_pending = $1 WHERE id = $2")
            .bind(secret)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .ctx("offering a second factor")?;
        Ok(())
    }

    /// Confirms the offered secret, accepted at `step`, replacing recovery
    /// codes with `codes` (hashed here).
    pub async fn confirm_totp(
        &self,
        user_id: i64,
        secret: &str,
        step: i64,
        codes: &[String],
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        sqlx::query(
            "UPDATE users SET totp_secret = $1, totp_pending = NULL, totp_last_step = $2 WHERE id = $3",
        )
        .bind(secret)
        .bind(step)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .ctx("confirming a second factor")?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .ctx("replacing recovery codes")?;
        for code in codes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(token_hash(code))
                .execute(&mut *tx)
                .await
                .ctx("storing a recovery code")?;
        }
        tx.commit().await.ctx("committing a second factor")
    }

    /// Records that the TOTP code of `step` was used, unless a code of that
    /// step or later already was; returns whether it was accepted.
    pub async fn use_totp_step(&self, user_id: i64, step: i64) -> Result<bool, StoreError> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1
             WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id)
        .execute(&self.pool)
        .await
        .ctx("using a second-factor code")?;
        Ok(done.rows_affected() == 1)
    }

    /// Spends a recovery code; returns whether it was unused and valid.
    pub async fn use_recovery_code(
        &self,
        user_id: i64,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _gate = self.write_gate().await;
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(format_instant(now))
        .bind(user_id)
        .bind(token_hash(code))
        .execute(&self.pool)
        .await
        .ctx("using a recovery code")?;
        Ok(done.rows_affected() == 1)
    }

    /// How many unused recovery codes a user has left.
    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await
        .ctx("counting recovery codes")?;
        column(&row, "n")
    }

    /// Starts a session for `token` (hashed here).
    pub async fn create_session(
        &self,
        token: &str,
        csrf_token: &str,
        user_id: i64,
        stage: SessionStage,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let now = format_instant(now);
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, stage, created_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(token_hash(token))
        .bind(user_id)
        .bind(csrf_token)
        .bind(stage.code())
        .bind(now)
        .execute(&self.pool)
        .await
        .ctx("starting a session")?;
        Ok(())
    }

    /// The session for a cookie token, with its user, whatever its age.
    pub async fn session(&self, token: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT s.token_hash, s.csrf_token, s.stage, s.created_at AS session_created,
                    s.last_seen_at, {USER_COLUMNS}
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1"
        ))
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a session")?;
        let Some(row) = row else { return Ok(None) };
        let stage: String = column(&row, "stage")?;
        let missing = || StoreError::Corrupt {
            id: 0,
            what: "session without times".into(),
        };
        Ok(Some(Session {
            token_hash: column(&row, "token_hash")?,
            csrf_token: column(&row, "csrf_token")?,
            stage: if stage == "full" {
                SessionStage::Full
            } else {
                SessionStage::EnrolMfa
            },
            created_at: time(&row, "session_created")?.ok_or_else(missing)?,
            last_seen_at: time(&row, "last_seen_at")?.ok_or_else(missing)?,
            user: user(&row)?,
        }))
    }

    /// Notes that a session was used at `now` (for the idle limit).
    pub async fn touch_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(format_instant(now))
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .ctx("touching a session")?;
        Ok(())
    }

    /// Ends one session.
    pub async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .ctx("ending a session")?;
        // Other instances may hold it verified: they drop it too.
        changes::note(&mut tx, ChangeKind::Credentials, 0).await?;
        tx.commit().await.ctx("committing a sign-out")?;
        Ok(())
    }

    /// Ends sessions past either limit; returns how many.
    pub async fn end_stale_sessions(
        &self,
        idle_before: DateTime<Utc>,
        created_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let _gate = self.write_gate().await;
        let done = sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(format_instant(idle_before))
            .bind(format_instant(created_before))
            .execute(&self.pool)
            .await
            .ctx("ending stale sessions")?;
        Ok(done.rows_affected())
    }

    /// Starts a sign-in attempt, or refuses it as throttled: under the
    /// write gate, counts recent failures (for this name since its last
    /// success, and from this client) and, below the limits, records the
    /// attempt as a failure until [`Store::settle_sign_in`] says otherwise.
    /// Attempts in flight therefore count against the limits too.
    pub async fn reserve_sign_in(
        &self,
        attempt: &SignInAttempt<'_>,
        since: DateTime<Utc>,
        limits: (i64, i64),
    ) -> Result<Option<i64>, StoreError> {
        let _gate = self.write_gate().await;
        let since = format_instant(since);
        let row = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM sign_ins
                 WHERE username = $1 AND outcome = 'failure' AND at >= $3
                   AND at > COALESCE((SELECT MAX(at) FROM sign_ins
                                      WHERE username = $1 AND outcome = 'success'), '')) AS by_name,
               (SELECT COUNT(*) FROM sign_ins
                 WHERE client = $2 AND outcome = 'failure' AND at >= $3) AS by_client",
        )
        .bind(attempt.username)
        .bind(attempt.client)
        .bind(&since)
        .fetch_one(&self.pool)
        .await
        .ctx("counting failed sign-ins")?;
        let (by_name, by_client): (i64, i64) =
            (column(&row, "by_name")?, column(&row, "by_client")?);
        let throttled = by_name >= limits.0 || by_client >= limits.1;
        let row = sqlx::query(
            "INSERT INTO sign_ins (at, username, user_id, client, outcome)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(format_instant(attempt.at))
        .bind(attempt.username)
        .bind(attempt.user_id)
        .bind(attempt.client)
        .bind(if throttled { "throttled" } else { "failure" })
        .fetch_one(&self.pool)
        .await
        .ctx("logging a sign-in")?;
        (!throttled).then(|| column(&row, "id")).transpose()
    }

    /// Settles a reserved attempt: `success`, or `incomplete` (the right
    /// password, a second factor still to come), which does not count.
    pub async fn settle_sign_in(&self, id: i64, outcome: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        sqlx::query("UPDATE sign_ins SET outcome = $1 WHERE id = $2")
            .bind(outcome)
            .bind(id)
            .execute(&self.pool)
            .await
            .ctx("logging a sign-in")?;
        Ok(())
    }

    /// The sign-in log, newest first: of every attempt, or (`managed_in`)
    /// of the accounts a coordinator of that agency manages — its field
    /// officers and panel members without administration, never a fellow
    /// coordinator's or an administrator's.
    pub async fn sign_ins(
        &self,
        managed_in: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SignIn>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.at, s.username, s.user_id, s.client, s.outcome
             FROM sign_ins s LEFT JOIN users u ON u.id = s.user_id
             WHERE ($1 IS NULL OR (u.agency = $1 AND u.admin = 0 AND u.role IN ($3, $4)))
             ORDER BY s.id DESC LIMIT $2",
        )
        .bind(managed_in)
        .bind(limit)
        .bind(Role::FieldOfficer.code())
        .bind(Role::PanelMember.code())
        .fetch_all(&self.pool)
        .await
        .ctx("reading the sign-in log")?;
        rows.iter()
            .map(|row| {
                Ok(SignIn {
                    at: column(row, "at")?,
                    username: column(row, "username")?,
                    user_id: column(row, "user_id")?,
                    client: column(row, "client")?,
                    outcome: column(row, "outcome")?,
                })
            })
            .collect()
    }
}

/// Applies `change` to account `id` inside a transaction (the caller holds
/// the write gate and writes the audit event); `false`: no such account.
async fn change_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    change: &UserChange,
    now: &str,
) -> Result<bool, StoreError> {
    let now = now.to_owned();
    let disabled_at = change.disabled.map(|d| d.then(|| now.clone()));
    let done = sqlx::query(
        "UPDATE users SET
                display_name = COALESCE($1, display_name),
                role = COALESCE($2, role),
                admin = CASE WHEN COALESCE($2, role) = 'admin' THEN 1 ELSE COALESCE($3, admin) END,
                password_hash = COALESCE($4, password_hash),
                disabled_at = CASE WHEN $5 = 1 THEN $6 WHEN $5 = 0 THEN NULL ELSE disabled_at END,
                totp_secret = CASE WHEN $7 = 1 THEN NULL ELSE totp_secret END,
                totp_pending = CASE WHEN $7 = 1 THEN NULL ELSE totp_pending END,
                updated_at = $8
             WHERE id = $9",
    )
    .bind(change.display_name.clone())
    .bind(change.role.map(|r| r.code()))
    .bind(change.admin.map(i64::from))
    .bind(change.password_hash.clone())
    .bind(
        disabled_at
            .as_ref()
            .map(|d| i64::from(d.is_some()))
            .unwrap_or(-1),
    )
    .bind(disabled_at.flatten())
    .bind(i64::from(change.reset_second_factor))
    .bind(&now)
    .bind(id)
    .execute(&mut **tx)
    .await
    .ctx("updating a user")?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if change.reset_second_factor {
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .ctx("removing recovery codes")?;
    }
    // A new password, a new second factor or being disabled ends every
    // way in: sessions and tokens (re-enabling does not revive tokens).
    let credentials_reset = change.disabled == Some(true)
        || change.password_hash.is_some()
        || change.reset_second_factor;
    // A new role or admin flag needs a new sign-in, so the second-factor
    // requirement is met for the new powers.
    if credentials_reset || change.role.is_some() || change.admin.is_some() {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .ctx("ending sessions")?;
    }
    if credentials_reset {
        sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut **tx)
        .await
        .ctx("revoking tokens")?;
    }
    Ok(true)
}

/// The columns [`role_request`] reads.
const ROLE_REQUEST_COLUMNS: &str = "id, user_id, role, admin, requested_by, requested_at, outcome";

fn role_request(row: &sqlx::any::AnyRow) -> Result<RoleRequest, StoreError> {
    let id: i64 = column(row, "id")?;
    let role: String = column(row, "role")?;
    let admin: i64 = column(row, "admin")?;
    Ok(RoleRequest {
        id,
        user_id: column(row, "user_id")?,
        role: Role::from_code(&role).ok_or_else(|| StoreError::Corrupt {
            id,
            what: format!("role request with unknown role {role}"),
        })?,
        admin: admin != 0,
        requested_by: column(row, "requested_by")?,
        requested_at: column(row, "requested_at")?,
        outcome: column(row, "outcome")?,
    })
}
