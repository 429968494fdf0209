//! API tokens: stored as SHA-256 hashes, each acting as one user, scoped to
//! read or write, and expiring.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::changes::{self, ChangeKind};
use super::{column, AuditEntry, Context, Store, StoreError, Tx};
pub use crate::domain::account::TokenRecord;
use crate::domain::time::{format_instant, parse_instant};
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::AuditAction;

/// The hash a token is stored and looked up by.
pub fn token_hash(token: &str) -> String {
    token_hash_in(token, &mut [0; 64]).to_owned()
}

/// [`token_hash`] written into `out` rather than a new `String`: a cached
/// session is found by it on every request.
pub fn token_hash_in<'a>(token: &str, out: &'a mut [u8; 64]) -> &'a str {
    // Two hex digits per byte of a 32-byte digest: always fits, always ASCII.
    let _ = hex::encode_to_slice(Sha256::digest(token.as_bytes()), out);
    std::str::from_utf8(out).unwrap_or_default()
}

const TOKEN_COLUMNS: &str = "id, user_id, name, scope, expires_at, revoked_at";

fn record(row: &sqlx::any::AnyRow) -> Result<TokenRecord, StoreError> {
    let id: i64 = column(row, "id")?;
    let time = |name| -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(column::<Option<String>>(row, name)?.and_then(|s| parse_instant(&s)))
    };
    Ok(TokenRecord {
        id,
        user_id: column(row, "user_id")?,
        name: column(row, "name")?,
        write: column::<String>(row, "scope")? == "write",
        expires_at: time("expires_at")?.ok_or_else(|| StoreError::Corrupt {
            id,
            what: "token without expiry".into(),
        })?,
        revoked_at: time("revoked_at")?,
    })
}

/// The audit event of a change to a token, under its owner's agency (so
/// their coordinators see who made or revoked their tools' tokens).
async fn token_audit(
    tx: &mut Tx<'_>,
    token: &TokenRecord,
    by: &Viewer,
    purpose: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let owner_agency: Option<String> = sqlx::query_scalar("SELECT agency FROM users WHERE id = $1")
        .bind(token.user_id)
        .fetch_optional(&mut **tx)
        .await
        .ctx("reading a token's owner")?;
    let entry = AuditEntry::by(
        by,
        AuditAction::Alteration,
        "token",
        token.id.to_string(),
        owner_agency.as_deref().unwrap_or(""),
        Some(purpose),
        at,
    );
    super::audit::append(tx, &entry).await.map(|_| ())
}

impl Store {
    /// Makes a new token for a user and returns its record and the token
    /// itself, which is shown to the caller once and never stored.
    /// Its audit event (`by` made it) is written in the same transaction.
    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        write: bool,
        expires_at: DateTime<Utc>,
        by: &Viewer,
        at: DateTime<Utc>,
    ) -> Result<(TokenRecord, String), StoreError> {
        // Every write takes the gate: on SQLite a write slipping between
        // another transaction's read and write would fail it (BUSY_SNAPSHOT).
        let _gate = self.write_gate().await;
        use rand::RngCore;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!("sm_{}", hex::encode(secret));
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let row = sqlx::query(&format!(
            "INSERT INTO api_tokens (user_id, name, scope, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(user_id)
        .bind(name)
        .bind(if write { "write" } else { "read" })
        .bind(token_hash(&token))
        .bind(format_instant(at))
        .bind(format_instant(expires_at))
        .fetch_one(&mut *tx)
        .await
        .ctx("creating a token")?;
        let created = record(&row)?;
        let purpose = format!(
            "token made: {} scope, expires {}",
            created.scope(),
            format_instant(expires_at)
        );
        token_audit(&mut tx, &created, by, &purpose, at).await?;
        tx.commit().await.ctx("committing a token")?;
        Ok((created, token))
    }

    /// Finds the token with this hash, live or not.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a token")?;
        row.as_ref().map(record).transpose()
    }

    /// One token by id.
    pub async fn token(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .ctx("reading a token")?;
        row.as_ref().map(record).transpose()
    }

    /// Revokes a token, with its audit event (`by` revoked it), in one
    /// transaction; returns whether a live token was revoked (nothing is
    /// written otherwise).
    pub async fn revoke_token(
        &self,
        id: i64,
        by: &Viewer,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let row = sqlx::query(&format!(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL
             RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(format_instant(at))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .ctx("revoking a token")?;
        let Some(row) = row else {
            return Ok(false);
        };
        token_audit(&mut tx, &record(&row)?, by, "token revoked", at).await?;
        changes::note(&mut tx, ChangeKind::Credentials, 0).await?;
        tx.commit().await.ctx("committing a revocation")?;
        Ok(true)
    }

    /// Tokens of one user, or of everyone, oldest first.
    pub async fn tokens(&self, user_id: Option<i64>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE ($1 IS NULL OR user_id = $1) ORDER BY id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .ctx("listing tokens")?;
        rows.iter().map(record).collect()
    }
}
