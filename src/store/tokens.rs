//! API tokens: stored as SHA-256 hashes, each with a role and an agency.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{column, Context, Store, StoreError};
use crate::domain::time::{format_instant, parse_instant};
use crate::domain::vocabulary::Role;

/// A token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Row id.
    pub id: i64,
    /// Who or what it is for.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The agency it acts for.
    pub agency: String,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| now < t)
    }
}

/// The hash a token is stored and looked up by.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn record(row: &sqlx::any::AnyRow) -> Result<TokenRecord, StoreError> {
    let id: i64 = column(row, "id")?;
    let role: String = column(row, "role")?;
    let role = Role::from_code(&role).ok_or_else(|| StoreError::Corrupt {
        id,
        what: format!("unknown role {role}"),
    })?;
    let time = |name| -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(column::<Option<String>>(row, name)?.and_then(|s| parse_instant(&s)))
    };
    Ok(TokenRecord {
        id,
        name: column(row, "name")?,
        role,
        agency: column(row, "agency")?,
        expires_at: time("expires_at")?,
        revoked_at: time("revoked_at")?,
    })
}

impl Store {
    /// Makes a new token and returns its record and the token itself, which
    /// is shown to the caller once and never stored.
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        agency: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(TokenRecord, String), StoreError> {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let token = format!("sm_{}", hex::encode(secret));
        let row = sqlx::query(
            "INSERT INTO api_tokens (name, role, agency, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, name, role, agency, expires_at, revoked_at",
        )
        .bind(name)
        .bind(role.code())
        .bind(agency)
        .bind(token_hash(&token))
        .bind(format_instant(Utc::now()))
        .bind(expires_at.map(format_instant))
        .fetch_one(&self.pool)
        .await
        .ctx("creating a token")?;
        Ok((record(&row)?, token))
    }

    /// Finds the token with this hash, live or not.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, agency, expires_at, revoked_at
             FROM api_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .ctx("looking up a token")?;
        row.as_ref().map(record).transpose()
    }

    /// Revokes a token; returns whether a live token was revoked.
    pub async fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(format_instant(Utc::now()))
        .bind(id)
        .execute(&self.pool)
        .await
        .ctx("revoking a token")?;
        Ok(done.rows_affected() == 1)
    }

    /// Every token, oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, agency, expires_at, revoked_at FROM api_tokens ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .ctx("listing tokens")?;
        rows.iter().map(record).collect()
    }
}
