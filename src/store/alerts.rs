//! Area alerts in the store: who follows which area for which categories,
//! what each person has been told, and the outbox of new observations not
//! yet matched. Notifications keep ids and counts only; what they say is
//! drawn through the reader's scope when read (see `service::alerts`).

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;

use super::audit::{append, AuditEntry};
use super::{column, replayed, Context, Store, StoreError};
use crate::domain::time::{format_instant, parse_instant};
use crate::domain::vocabulary::Category;

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSubscription {
    /// Id.
    pub id: i64,
    /// The account that follows.
    pub user_id: i64,
    /// What the person called it (a registered area's name by default).
    pub name: String,
    /// The registered area followed, if it is one.
    pub area_id: Option<i64>,
    /// A drawn shape (GeoJSON MultiPolygon text), if it is one.
    pub geometry: Option<String>,
    /// Categories followed; empty: all.
    pub categories: Vec<Category>,
    /// Whether alerts also go by email.
    pub email: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A subscription to make.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// Its name.
    pub name: String,
    /// A registered area, or
    pub area_id: Option<i64>,
    /// a drawn shape (GeoJSON MultiPolygon text).
    pub geometry: Option<String>,
    /// Categories; empty: all.
    pub categories: Vec<Category>,
    /// Also by email.
    pub email: bool,
}

/// What kind of thing a notification tells of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotificationKind {
    /// A new observation in a followed area.
    Observation,
    /// An action owned by the person's agency is due within a week, or overdue.
    ActionDue,
    /// Records in the person's review queue.
    ReviewDue,
}

impl NotificationKind {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            NotificationKind::Observation => "observation",
            NotificationKind::ActionDue => "action-due",
            NotificationKind::ReviewDue => "review-due",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [
            NotificationKind::Observation,
            NotificationKind::ActionDue,
            NotificationKind::ReviewDue,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// A notification to record; one per person, kind and subject however
/// often it is offered.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    /// To whom.
    pub user_id: i64,
    /// Of what.
    pub kind: NotificationKind,
    /// Which one: an observation id, `action id:due date`, or a date.
    pub subject: String,
    /// The subscription that matched (observations).
    pub subscription_id: Option<i64>,
    /// Counts (review-due); `{}` otherwise.
    pub detail: serde_json::Value,
    /// Whether to send it by email.
    pub email: bool,
}

/// A notification as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNotification {
    /// Id.
    pub id: i64,
    /// Of what.
    pub kind: NotificationKind,
    /// Which one (see [`NewNotification::subject`]).
    pub subject: String,
    /// The subscription that matched.
    pub subscription_id: Option<i64>,
    /// Counts (review-due).
    pub detail: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Whether the person has read it.
    pub read: bool,
}

/// An email claimed for sending: who, and which notifications it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEmail {
    /// Notification id.
    pub id: i64,
    /// To whom.
    pub user_id: i64,
    /// The subscription that matched.
    pub subscription_id: Option<i64>,
}

/// Most email attempts for one notification before it is marked failed.
const EMAIL_ATTEMPTS: i64 = 5;

const SUBSCRIPTION_COLUMNS: &str =
    "id, user_id, name, area_id, geometry, categories, email, created_at";

fn time(row: &AnyRow, name: &'static str, id: i64) -> Result<DateTime<Utc>, StoreError> {
    parse_instant(&column::<String>(row, name)?).ok_or_else(|| StoreError::Corrupt {
        id,
        what: format!("unreadable {name}"),
    })
}

fn subscription(row: &AnyRow) -> Result<StoredSubscription, StoreError> {
    let id: i64 = column(row, "id")?;
    let codes: Vec<String> =
        serde_json::from_str(&column::<String>(row, "categories")?).map_err(|e| {
            StoreError::Corrupt {
                id,
                what: format!("categories: {e}"),
            }
        })?;
    Ok(StoredSubscription {
        id,
        user_id: column(row, "user_id")?,
        name: column(row, "name")?,
        area_id: column(row, "area_id")?,
        geometry: column(row, "geometry")?,
        categories: codes
            .iter()
            .filter_map(|c| Category::from_code(c))
            .collect(),
        email: column::<i64>(row, "email")? != 0,
        created_at: time(row, "created_at", id)?,
    })
}

fn notification(row: &AnyRow) -> Result<StoredNotification, StoreError> {
    let id: i64 = column(row, "id")?;
    let kind: String = column(row, "kind")?;
    Ok(StoredNotification {
        id,
        kind: NotificationKind::from_code(&kind).ok_or_else(|| StoreError::Corrupt {
            id,
            what: format!("unknown kind `{kind}`"),
        })?,
        subject: column(row, "subject")?,
        subscription_id: column(row, "subscription_id")?,
        detail: serde_json::from_str(&column::<String>(row, "detail")?)
            .unwrap_or(serde_json::Value::Null),
        created_at: time(row, "created_at", id)?,
        read: column::<Option<String>>(row, "read_at")?.is_some(),
    })
}

/// A random id below 2⁵³ (exact in a browser's numbers): ids of
/// notifications and subscriptions are handed out, and a sequence would
/// count other people's (notifications about records the reader may not
/// see among them).
fn opaque_id() -> i64 {
    i64::try_from((rand::random::<u64>() >> 11).max(1)).unwrap_or(1)
}

/// Records notifications in `tx`, skipping any the person already has.
async fn insert_notifications(
    tx: &mut super::Tx<'_>,
    notifications: &[NewNotification],
    at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut added = 0;
    for n in notifications {
        let done = sqlx::query(
            "INSERT INTO notifications
                 (id, user_id, kind, subject, subscription_id, detail, created_at, email_state)
             VALUES ($8, $1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (user_id, kind, subject) DO NOTHING",
        )
        .bind(n.user_id)
        .bind(n.kind.code())
        .bind(&n.subject)
        .bind(n.subscription_id)
        .bind(n.detail.to_string())
        .bind(format_instant(at))
        .bind(if n.email { "pending" } else { "none" })
        .bind(opaque_id())
        .execute(&mut **tx)
        .await
        .ctx("recording a notification")?;
        added += usize::try_from(done.rows_affected()).unwrap_or(0);
    }
    Ok(added)
}

impl Store {
    /// Makes a subscription for `user_id`, with its audit event; a retry
    /// with the same client key returns the first (`false`).
    pub async fn add_subscription(
        &self,
        user_id: i64,
        new: &NewSubscription,
        client_key: Option<&str>,
        mut audit: AuditEntry,
    ) -> Result<(StoredSubscription, bool), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        if let Some(id) = replayed(&mut tx, "subscriptions", client_key).await? {
            let row = sqlx::query(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .ctx("reading a subscription")?;
            return Ok((subscription(&row)?, false));
        }
        let codes: Vec<&str> = new.categories.iter().map(|c| c.code()).collect();
        let row = sqlx::query(&format!(
            "INSERT INTO subscriptions
                 (id, user_id, name, area_id, geometry, categories, email, client_key, created_at)
             VALUES ($9, $1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING {SUBSCRIPTION_COLUMNS}"
        ))
        .bind(user_id)
        .bind(&new.name)
        .bind(new.area_id)
        .bind(new.geometry.as_deref())
        .bind(serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into()))
        .bind(i64::from(new.email))
        .bind(client_key)
        .bind(format_instant(audit.at))
        .bind(opaque_id())
        .fetch_one(&mut *tx)
        .await
        .ctx("recording a subscription")?;
        let made = subscription(&row)?;
        audit.object_id = made.id.to_string();
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a subscription")?;
        Ok((made, true))
    }

    /// One person's live subscriptions, oldest first.
    pub async fn subscriptions_of(
        &self,
        user_id: i64,
    ) -> Result<Vec<StoredSubscription>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions
             WHERE user_id = $1 AND removed_at IS NULL ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .ctx("listing subscriptions")?;
        rows.iter().map(subscription).collect()
    }

    /// Every live subscription of an enabled account, for matching.
    pub async fn live_subscriptions(&self) -> Result<Vec<StoredSubscription>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM subscriptions s JOIN users u ON u.id = s.user_id
             WHERE s.removed_at IS NULL AND u.disabled_at IS NULL ORDER BY s.id",
            SUBSCRIPTION_COLUMNS
                .split(", ")
                .map(|c| format!("s.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .fetch_all(&self.pool)
        .await
        .ctx("listing subscriptions")?;
        rows.iter().map(subscription).collect()
    }

    /// Stops one of `user_id`'s subscriptions, with its audit event;
    /// `false` when they have no such live subscription.
    pub async fn remove_subscription(
        &self,
        user_id: i64,
        id: i64,
        audit: AuditEntry,
    ) -> Result<bool, StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let done = sqlx::query(
            "UPDATE subscriptions SET removed_at = $1
             WHERE id = $2 AND user_id = $3 AND removed_at IS NULL",
        )
        .bind(format_instant(audit.at))
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .ctx("stopping a subscription")?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing a subscription's end")?;
        Ok(true)
    }

    /// Where a person's alert emails go.
    pub async fn user_email(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        let email: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .ctx("reading an email address")?;
        Ok(email.flatten())
    }

    /// Sets (or, with `None`, clears) a person's alert email address, with
    /// its audit event.
    pub async fn set_user_email(
        &self,
        user_id: i64,
        email: Option<&str>,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate().await;
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        sqlx::query("UPDATE users SET email = $1, updated_at = $2 WHERE id = $3")
            .bind(email)
            .bind(format_instant(audit.at))
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .ctx("setting an email address")?;
        append(&mut tx, &audit).await?;
        tx.commit().await.ctx("committing an email address")?;
        Ok(())
    }

    /// Up to `limit` observation ids waiting to be matched, oldest first.
    pub async fn alert_outbox(&self, limit: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar(
            "SELECT observation_id FROM alert_outbox ORDER BY observation_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("reading the alert outbox")
    }

    /// Records what matching one observation produced and takes it out of
    /// the outbox, in one transaction: run twice (two instances), the
    /// second adds nothing.
    pub async fn finish_alerts(
        &self,
        observation_id: i64,
        notifications: &[NewNotification],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let added = insert_notifications(&mut tx, notifications, at).await?;
        sqlx::query("DELETE FROM alert_outbox WHERE observation_id = $1")
            .bind(observation_id)
            .execute(&mut *tx)
            .await
            .ctx("emptying the alert outbox")?;
        tx.commit().await.ctx("committing notifications")?;
        Ok(added)
    }

    /// Records notifications (each once per person, kind and subject).
    pub async fn add_notifications(
        &self,
        notifications: &[NewNotification],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        if notifications.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let added = insert_notifications(&mut tx, notifications, at).await?;
        tx.commit().await.ctx("committing notifications")?;
        Ok(added)
    }

    /// A person's latest notifications, newest first.
    pub async fn notifications_of(
        &self,
        user_id: i64,
        limit: i64,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, kind, subject, subscription_id, detail, created_at, read_at
             FROM notifications WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("reading notifications")?;
        rows.iter().map(notification).collect()
    }

    /// Marks a person's notifications read: these ids, or (with `None`)
    /// all of them. Returns how many changed.
    pub async fn mark_read(
        &self,
        user_id: i64,
        ids: Option<&[i64]>,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let at = format_instant(at);
        let mut tx = self.begin_write().await.ctx("starting a transaction")?;
        let mut changed = 0;
        match ids {
            None => {
                changed += sqlx::query(
                    "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
                )
                .bind(&at)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .ctx("marking notifications read")?
                .rows_affected();
            }
            Some(ids) => {
                for id in ids {
                    changed += sqlx::query(
                        "UPDATE notifications SET read_at = $1
                         WHERE id = $2 AND user_id = $3 AND read_at IS NULL",
                    )
                    .bind(&at)
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .ctx("marking a notification read")?
                    .rows_affected();
                }
            }
        }
        tx.commit().await.ctx("committing notifications read")?;
        Ok(changed)
    }

    /// Claims up to `limit` notifications waiting to be emailed: each is
    /// claimed by one sender only, however many instances try.
    pub async fn claim_emails(&self, limit: i64) -> Result<Vec<ClaimedEmail>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, user_id, subscription_id FROM notifications
             WHERE email_state = 'pending' ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .ctx("reading emails to send")?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = column(row, "id")?;
            let done = sqlx::query(
                "UPDATE notifications SET email_state = 'sending'
                 WHERE id = $1 AND email_state = 'pending'",
            )
            .bind(id)
            .execute(&self.pool)
            .await
            .ctx("claiming an email")?;
            if done.rows_affected() == 1 {
                claimed.push(ClaimedEmail {
                    id,
                    user_id: column(row, "user_id")?,
                    subscription_id: column(row, "subscription_id")?,
                });
            }
        }
        Ok(claimed)
    }

    /// Marks claimed emails sent, or (not sent) back to waiting until they
    /// have been tried [`EMAIL_ATTEMPTS`] times, then failed.
    pub async fn finish_emails(&self, ids: &[i64], sent: bool) -> Result<(), StoreError> {
        for id in ids {
            let sql = if sent {
                "UPDATE notifications SET email_state = 'sent', email_attempts = email_attempts + 1 WHERE id = $1"
            } else {
                "UPDATE notifications SET email_attempts = email_attempts + 1,
                     email_state = CASE WHEN email_attempts + 1 >= $2 THEN 'failed' ELSE 'pending' END
                 WHERE id = $1"
            };
            let mut query = sqlx::query(sql).bind(id);
            if !sent {
                query = query.bind(EMAIL_ATTEMPTS);
            }
            query
                .execute(&self.pool)
                .await
                .ctx("recording an email's outcome")?;
        }
        Ok(())
    }
}
