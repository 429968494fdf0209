//! Area alerts and notifications.
//!
//! A person follows an area (a registered ward or LSOA, or a shape they
//! draw) for some categories, and is told when a new observation *they may
//! see* appears there. Every decision goes through the subscriber's own
//! view (DESIGN.md §8): the record is [`seen_by`](crate::privacy::Recorded::seen_by)
//! them, and the area is tested against the position they are shown, so a
//! restricted record they may not see never notifies them, and a
//! generalised one notifies only as its 100 m square (a shape drawn around
//! part of a square tells nothing finer than the layer). Notifications keep
//! only the record's id; what one says is drawn through the reader's view
//! each time it is read, so a record withdrawn or erased since, or a role
//! changed, shows at once. Emails say only how many new observations there
//! are in which followed areas, and where to sign in: nothing of what was
//! seen or where leaves the service.
//!
//! Matching runs after a create commits (the create queues the record in
//! the same transaction, see `Store::create_observation`) and every few
//! seconds, so creates made by another instance or the command line are
//! matched too. The same worker sends the emails, and once an hour tells
//! people of actions due for their agency and records due for review.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use geo::{Contains, MultiPolygon, Point};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::exercises::{Due, Exercises};
use super::{Observations, ServiceError};
use crate::areas::AreaSet;
use crate::clock::Clock;
use crate::domain::area::{drawn_shape, multipolygon};
use crate::domain::observation::{FieldError, ObservationId, ValidationRules};
use crate::domain::viewer::{Action, Credential, Reach, Viewer};
use crate::domain::vocabulary::{AuditAction, Category, Role, Severity};
use crate::privacy::{Precision, Recorded};
use crate::store::alerts::{
    NewNotification, NewSubscription, NotificationKind, StoredNotification, StoredSubscription,
};
use crate::store::{AuditEntry, Store, StoreError};

/// Most areas one person may follow.
pub const MAX_SUBSCRIPTIONS: usize = 20;
/// How many of a person's latest notifications the inbox reads.
const INBOX: i64 = 100;
/// How often the worker looks for work nobody woke it for.
const TICK: std::time::Duration = std::time::Duration::from_secs(5);
/// How often actions and reviews due are looked at.
const DUE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where alert emails go out: an SMTP relay and the sender address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The relay, as lettre reads it: `smtp://host:port` (plain, for a
    /// relay on the same host), `smtp://host:587?tls=required` (STARTTLS),
    /// `smtps://host:465`, with `user:password@` when it needs them.
    pub relay: String,
    /// The From address.
    pub from: String,
}

impl MailSettings {
    /// Whether the relay URL and From address can be used.
    pub fn check(&self) -> Result<(), String> {
        Mail::new(self).map(drop)
    }
}

struct Mail {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The relay URL may hold a password: never printed.
        f.debug_struct("Mail").field("from", &self.from).finish()
    }
}

impl Mail {
    fn new(settings: &MailSettings) -> Result<Mail, String> {
        let transport =
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&settings.relay)
                .map_err(|e| format!("the SMTP relay URL is not usable: {e}"))?
                .timeout(Some(std::time::Duration::from_secs(10)))
                .build();
        let from = settings
            .from
            .parse()
            .map_err(|e| format!("the mail From address is not usable: {e}"))?;
        Ok(Mail { transport, from })
    }
}

/// What a person sends to follow an area.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    /// What to call it; a registered area's name when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// A registered area (ward, LSOA, …), or
    #[serde(default)]
    pub area_id: Option<i64>,
    /// a shape of their own: a GeoJSON Polygon or MultiPolygon.
    #[serde(default)]
    pub geometry: Option<serde_json::Value>,
    /// Category codes; empty or absent: all.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Also by email (needs an address and a configured relay).
    #[serde(default)]
    pub email: bool,
}

/// A subscription as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    /// Id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The registered area followed, with its kind and names; `None` for a
    /// drawn shape, or when the area has since been deleted (then
    /// `area_removed`).
    pub area: Option<AreaRef>,
    /// True when the registered area it followed was deleted: it matches
    /// nothing now.
    pub area_removed: bool,
    /// The drawn shape (GeoJSON), for a drawn one.
    pub geometry: Option<serde_json::Value>,
    /// Categories followed; empty: all.
    pub categories: Vec<Category>,
    /// Whether alerts also go by email.
    pub email: bool,
    /// When it was made.
    pub created_at: String,
}

/// A registered area, named.
#[derive(Debug, Clone, Serialize)]
pub struct AreaRef {
    /// Id.
    pub id: i64,
    /// Kind code.
    pub kind: crate::domain::vocabulary::AreaKind,
    /// English name.
    pub name_en: String,
    /// Welsh name.
    pub name_cy: String,
}

/// A person's alert settings.
#[derive(Debug, Clone, Serialize)]
pub struct AlertSettings {
    /// Their alert email address, if they gave one.
    pub email: Option<String>,
    /// Whether this service can send email at all.
    pub email_available: bool,
    /// Their subscriptions.
    pub subscriptions: Vec<SubscriptionView>,
}

/// A notification as its reader is shown it now.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationView {
    /// Id.
    pub id: i64,
    /// Of what.
    pub kind: NotificationKind,
    /// When.
    pub created_at: String,
    /// Whether it has been read.
    pub read: bool,
    /// The area followed that matched (observations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionRef>,
    /// The new observation, as the reader's layer shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<ObservationRef>,
    /// The action due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<serde_json::Value>,
    /// Records due for review: how many, and how many retention erases
    /// within 30 days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<serde_json::Value>,
}

/// A subscription, named.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionRef {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
}

/// An observation as a notification carries it: what the reader's points
/// layer shows of it, no more (no description, place link or recorder).
#[derive(Debug, Clone, Serialize)]
pub struct ObservationRef {
    /// Id.
    pub id: i64,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// How precisely the reader is shown it.
    pub precision: Precision,
    /// `[lon, lat]` as shown (a generalised record: its square's centre).
    pub position: [f64; 2],
    /// The 100 m grid reference of the shown position.
    pub grid_ref: Option<String>,
    /// The recording agency (the layer shows it too).
    pub agency: String,
    /// When it was seen.
    pub observed_at: String,
}

/// A person's notifications.
#[derive(Debug, Clone, Serialize)]
pub struct Inbox {
    /// How many of them are unread.
    pub unread: usize,
    /// The latest, newest first.
    pub items: Vec<NotificationView>,
}

/// The alerts service.
#[derive(Debug, Clone)]
pub struct Alerts {
    store: Store,
    areas: Arc<AreaSet>,
    rules: Arc<ValidationRules>,
    exercises: Exercises,
    observations: Observations,
    mail: Option<Arc<Mail>>,
    public_url: Option<String>,
    wake: Arc<Notify>,
    /// One matching run at a time in this process (several instances are
    /// safe too: the store records each notification once).
    matching: Arc<tokio::sync::Mutex<()>>,
    grace_days: i64,
}

/// What the alerts service needs besides the store.
#[derive(Debug, Clone)]
pub struct AlertsParts {
    /// The parsed areas.
    pub areas: Arc<AreaSet>,
    /// The validation rules (the service area, for drawn shapes).
    pub rules: Arc<ValidationRules>,
    /// Exercises (for actions due).
    pub exercises: Exercises,
    /// Observations (for the review queue).
    pub observations: Observations,
    /// The SMTP relay, if email is configured.
    pub mail: Option<MailSettings>,
    /// The URL people reach the service at, for links in emails.
    pub public_url: Option<String>,
    /// What wakes the worker (observations' creates ring it).
    pub wake: Arc<Notify>,
    /// Retention's grace, in days (for "erased within 30 days").
    pub grace_days: i64,
}

fn refused(code: &'static str, title: &'static str, detail: &str) -> ServiceError {
    ServiceError::Refused {
        code,
        title,
        field: None,
        detail: detail.to_owned(),
    }
}

fn invalid(field: &'static str, code: &'static str, message: &str) -> ServiceError {
    ServiceError::Invalid(vec![FieldError::new(field, code, message)])
}

/// The account behind a person's own request (not a tool's token): alerts
/// are for people.
fn person(viewer: &Viewer) -> Result<i64, ServiceError> {
    match (&viewer.credential, viewer.user_id()) {
        (Credential::Session, Some(id)) => Ok(id),
        _ => Err(refused(
            "people-only",
            "Alerts are for people signed in to the app",
            "tools read layers with their own tokens; alerts belong to a person's session",
        )),
    }
}

/// Whether a viewer has anything to be alerted to: a layer that shows
/// other people's records.
fn sees_others(viewer: &Viewer) -> bool {
    viewer.may_at_all(Action::ReadLayers)
        && !matches!(viewer.role, Role::FieldOfficer | Role::Admin)
}

/// A subscription with its drawn shape parsed (once per matching run or
/// inbox read, not once per record).
struct Followed {
    sub: StoredSubscription,
    shape: Option<MultiPolygon<f64>>,
}

impl Followed {
    fn new(sub: StoredSubscription) -> Followed {
        let shape = sub
            .geometry
            .as_deref()
            .and_then(|g| serde_json::from_str::<serde_json::Value>(g).ok())
            .and_then(|v| geojson::Geometry::from_json_value(v).ok())
            .and_then(|g| multipolygon(&g));
        Followed { sub, shape }
    }

    /// Whether a record shown to the subscriber in `category` at `at` (the
    /// position they are shown) falls under this subscription.
    fn covers(&self, areas: &AreaSet, category: Category, at: [f64; 2]) -> bool {
        let wanted = self.sub.categories.is_empty() || self.sub.categories.contains(&category);
        let inside = match self.sub.area_id {
            Some(area) => areas.get(area).is_some_and(|a| a.contains(at)),
            None => self
                .shape
                .as_ref()
                .is_some_and(|s| s.contains(&Point::new(at[0], at[1]))),
        };
        wanted && inside
    }
}

impl Alerts {
    /// The service; call [`Alerts::start`] to run its worker.
    pub fn new(store: Store, parts: AlertsParts) -> Alerts {
        // `serve` checks the settings before it starts (MailSettings::check).
        let mail = parts.mail.as_ref().and_then(|m| match Mail::new(m) {
            Ok(mail) => Some(Arc::new(mail)),
            Err(e) => {
                tracing::error!(error = %e, "alert emails are off");
                None
            }
        });
        Alerts {
            store,
            areas: parts.areas,
            rules: parts.rules,
            exercises: parts.exercises,
            observations: parts.observations,
            mail,
            public_url: parts.public_url,
            wake: parts.wake,
            matching: Arc::new(tokio::sync::Mutex::new(())),
            grace_days: parts.grace_days,
        }
    }

    /// Runs the worker on its own task: matching new observations when a
    /// create rings and every few seconds, emails after each run, actions
    /// and reviews due once an hour.
    pub fn start(&self, clock: Clock) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut last_due: Option<std::time::Instant> = None;
            loop {
                let _ = tokio::time::timeout(TICK, this.wake.notified()).await;
                let now = clock.now();
                if let Err(e) = this.match_new(now).await {
                    tracing::warn!(error = %e, "matching area alerts failed");
                }
                if last_due.is_none_or(|at| at.elapsed() >= DUE_EVERY) {
                    last_due = Some(std::time::Instant::now());
                    if let Err(e) = this.notify_due(now).await {
                        tracing::warn!(error = %e, "notifying of actions and reviews due failed");
                    }
                }
                if let Err(e) = this.send_emails().await {
                    tracing::warn!(error = %e, "sending alert emails failed");
                }
            }
        });
    }

    /// Whether alert emails can be sent.
    pub fn email_available(&self) -> bool {
        self.mail.is_some()
    }

    // ------------------------------------------------------------ subscriptions

    /// A person's alert settings and subscriptions.
    pub async fn settings(&self, viewer: &Viewer) -> Result<AlertSettings, ServiceError> {
        let user = person(viewer)?;
        let subscriptions = self.store.subscriptions_of(user).await?;
        Ok(AlertSettings {
            email: self.store.user_email(user).await?,
            email_available: self.email_available(),
            subscriptions: subscriptions.iter().map(|s| self.view(s)).collect(),
        })
    }

    fn view(&self, s: &StoredSubscription) -> SubscriptionView {
        let area = s.area_id.and_then(|id| self.areas.get(id));
        SubscriptionView {
            id: s.id,
            name: s.name.clone(),
            area_removed: s.area_id.is_some() && area.is_none(),
            area: area.map(|a| AreaRef {
                id: a.id,
                kind: a.kind,
                name_en: a.name_en.clone(),
                name_cy: a.name_cy.clone(),
            }),
            geometry: s
                .geometry
                .as_deref()
                .and_then(|g| serde_json::from_str(g).ok()),
            categories: s.categories.clone(),
            email: s.email,
            created_at: crate::domain::time::format_instant(s.created_at),
        }
    }

    /// Follows an area. A retry with the same client key returns the first
    /// (`false`).
    pub async fn subscribe(
        &self,
        viewer: &Viewer,
        input: SubscriptionInput,
        client_key: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(SubscriptionView, bool), ServiceError> {
        let user = person(viewer)?;
        if !sees_others(viewer) {
            return Err(refused(
                "nothing-to-alert",
                "Your map shows only your own reports, so there is nothing to alert you to",
                "area alerts tell of other people's observations; your role sees only your own",
            ));
        }
        let new = self.validate(user, input).await?;
        if self.store.subscriptions_of(user).await?.len() >= MAX_SUBSCRIPTIONS {
            return Err(invalid(
                "area_id",
                "too-many-subscriptions",
                &format!(
                    "at most {MAX_SUBSCRIPTIONS} areas may be followed; stop following one first"
                ),
            ));
        }
        let audit = AuditEntry::by(
            viewer,
            AuditAction::Collection,
            "subscription",
            String::new(),
            &viewer.agency,
            Some("followed an area for alerts"),
            now,
        );
        let store = self.store.clone();
        let (made, fresh) = super::to_completion(async move {
            Ok(store
                .add_subscription(user, &new, client_key.as_deref(), audit)
                .await?)
        })
        .await?;
        Ok((self.view(&made), fresh))
    }

    async fn validate(
        &self,
        user: i64,
        input: SubscriptionInput,
    ) -> Result<NewSubscription, ServiceError> {
        let mut errors = Vec::new();
        let mut categories = Vec::new();
        for code in &input.categories {
            match Category::from_code(code) {
                Some(c) if !categories.contains(&c) => categories.push(c),
                Some(_) => {}
                None => errors.push(FieldError::new(
                    "categories",
                    "unknown-category",
                    format!("`{code}` is not a category (see /api/vocabulary)"),
                )),
            }
        }
        let (area_id, geometry, default_name) = match (input.area_id, &input.geometry) {
            (Some(id), None) => match self.areas.get(id) {
                Some(area) => (Some(id), None, Some(area.name_en.clone())),
                None => {
                    errors.push(FieldError::new(
                        "area_id",
                        "unknown-link",
                        format!("there is no area {id}"),
                    ));
                    (None, None, None)
                }
            },
            (None, Some(value)) => match drawn_shape(value, &self.rules, "geometry") {
                Ok(shape) => (
                    None,
                    Some(geojson::Geometry::new(geojson::Value::from(&shape)).to_string()),
                    None,
                ),
                Err(faults) => {
                    errors.extend(faults);
                    (None, None, None)
                }
            },
            _ => {
                errors.push(FieldError::new(
                    "area_id",
                    "area-or-geometry",
                    "give either area_id (a registered area) or geometry (a shape you drew)",
                ));
                (None, None, None)
            }
        };
        let name = input
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .or(default_name);
        match &name {
            Some(n) if n.chars().count() <= 200 => {
                // Names are read back in emails and the audit of the
                // account: nothing that identifies a person.
                let warnings = crate::domain::lint::lint("name", n);
                if !warnings.is_empty() {
                    return Err(ServiceError::PersonalIdentifiers(warnings));
                }
            }
            Some(_) => errors.push(FieldError::new(
                "name",
                "too-long",
                "at most 200 characters",
            )),
            None if input.geometry.is_some() => errors.push(FieldError::new(
                "name",
                "missing-field",
                "name the area you drew",
            )),
            None => {}
        }
        if input.email {
            if self.mail.is_none() {
                errors.push(FieldError::new(
                    "email",
                    "email-unavailable",
                    "this service has no mail relay configured; alerts are shown in the app",
                ));
            } else if self.store.user_email(user).await?.is_none() {
                errors.push(FieldError::new(
                    "email",
                    "no-email-address",
                    "give your email address for alerts first",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        Ok(NewSubscription {
            name: name.unwrap_or_default(),
            area_id,
            geometry,
            categories,
            email: input.email,
        })
    }

    /// Stops following an area (only the person's own; any other id is not
    /// found).
    pub async fn unsubscribe(
        &self,
        viewer: &Viewer,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let user = person(viewer)?;
        let audit = AuditEntry::by(
            viewer,
            AuditAction::Alteration,
            "subscription",
            id.to_string(),
            &viewer.agency,
            Some("stopped following an area"),
            now,
        );
        let store = self.store.clone();
        super::to_completion(async move {
            if store.remove_subscription(user, id, audit).await? {
                Ok(())
            } else {
                Err(ServiceError::NotFound)
            }
        })
        .await
    }

    /// Sets or clears the person's alert email address.
    pub async fn set_email(
        &self,
        viewer: &Viewer,
        email: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let user = person(viewer)?;
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if let Some(address) = email {
            if address.len() > 254 || address.parse::<lettre::Address>().is_err() {
                return Err(invalid(
                    "email",
                    "invalid-email",
                    "an email address such as name@council.gov.wales",
                ));
            }
        }
        let audit = AuditEntry::by(
            viewer,
            AuditAction::Alteration,
            "user",
            user.to_string(),
            &viewer.agency,
            Some(if email.is_some() {
                "set their alert email address"
            } else {
                "removed their alert email address"
            }),
            now,
        );
        let (store, email) = (self.store.clone(), email.map(str::to_owned));
        super::to_completion(async move {
            Ok(store.set_user_email(user, email.as_deref(), audit).await?)
        })
        .await
    }

    // ------------------------------------------------------------ matching

    /// Matches every observation waiting in the outbox against every
    /// subscription; returns how many notifications were made.
    pub async fn match_new(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let _one = self.matching.lock().await;
        let mut made = 0;
        loop {
            let waiting = self.store.alert_outbox(100).await?;
            if waiting.is_empty() {
                return Ok(made);
            }
            let subscriptions: Vec<Followed> = self
                .store
                .live_subscriptions()
                .await?
                .into_iter()
                .map(Followed::new)
                .collect();
            let mut people = People::default();
            for id in waiting {
                let notes = match self.store.observation(ObservationId(id)).await {
                    Ok(Some(recorded)) if !subscriptions.is_empty() => {
                        self.matches(&recorded, &subscriptions, &mut people).await?
                    }
                    Ok(_) => Vec::new(),
                    // One unreadable record must not stop everyone's alerts.
                    Err(e @ StoreError::Corrupt { .. }) => {
                        tracing::warn!(error = %e, "a queued record is unreadable; no alerts for it");
                        Vec::new()
                    }
                    Err(e) => return Err(e.into()),
                };
                made += self.store.finish_alerts(id, &notes, now).await?;
            }
        }
    }

    /// The notifications one new record makes: for each subscription whose
    /// owner is shown the record, live, inside the area at the position
    /// they are shown it, in a category they follow, and not their own.
    async fn matches(
        &self,
        recorded: &Recorded,
        subscriptions: &[Followed],
        people: &mut People,
    ) -> Result<Vec<NewNotification>, ServiceError> {
        let mut notes: Vec<NewNotification> = Vec::new();
        for followed in subscriptions {
            let sub = &followed.sub;
            if notes.iter().any(|n| n.user_id == sub.user_id) {
                continue;
            }
            let Some((viewer, has_email)) = people.get(&self.store, sub.user_id).await? else {
                continue;
            };
            if !sees_others(viewer) {
                continue;
            }
            let Some(seen) = recorded.clone().seen_by(viewer) else {
                continue;
            };
            let shown = seen.shown();
            if shown.withdrawn.is_some() || shown.recorded_by == viewer.principal {
                continue;
            }
            let at = [shown.details.location.lon, shown.details.location.lat];
            if followed.covers(&self.areas, shown.details.category, at) {
                notes.push(NewNotification {
                    user_id: sub.user_id,
                    kind: NotificationKind::Observation,
                    subject: recorded.id().0.to_string(),
                    subscription_id: Some(sub.id),
                    detail: serde_json::json!({}),
                    email: sub.email && *has_email && self.mail.is_some(),
                });
            }
        }
        Ok(notes)
    }

    /// Tells each person of actions their agency owns that are due within
    /// a week or overdue, and coordinators of records due for review (once
    /// a day). Returns how many notifications were made.
    pub async fn notify_due(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let today = now.date_naive();
        let mut notes = Vec::new();
        for user in self.store.users(None).await? {
            if user.disabled_at.is_some() {
                continue;
            }
            let viewer = super::sessions::viewer_of(&user, Credential::Session);
            if viewer.may_at_all(Action::ReadExercises) {
                for action in self.exercises.actions(&viewer, Due::Week, today).await? {
                    let open = matches!(action["status"].as_str(), Some("open" | "in-progress"));
                    if open && action["owner_agency"].as_str() == Some(viewer.agency.as_str()) {
                        notes.push(NewNotification {
                            user_id: user.id,
                            kind: NotificationKind::ActionDue,
                            subject: format!(
                                "{}:{}",
                                action["id"],
                                action["due_on"].as_str().unwrap_or_default()
                            ),
                            subscription_id: None,
                            detail: serde_json::json!({}),
                            email: false,
                        });
                    }
                }
            }
            if matches!(
                viewer.reach(Action::ReviewObservation),
                Reach::Agency | Reach::Any
            ) {
                let due = self
                    .observations
                    .review_queue(&viewer, today, 10_000)
                    .await?;
                if !due.is_empty() {
                    let soon = due
                        .iter()
                        .filter(|o| self.erase_on(o.review_by) <= today + Duration::days(30))
                        .count();
                    notes.push(NewNotification {
                        user_id: user.id,
                        kind: NotificationKind::ReviewDue,
                        subject: today.to_string(),
                        subscription_id: None,
                        detail: serde_json::json!({"due": due.len(), "erase_within_30_days": soon}),
                        email: false,
                    });
                }
            }
        }
        Ok(self.store.add_notifications(&notes, now).await?)
    }

    fn erase_on(&self, review_by: NaiveDate) -> NaiveDate {
        review_by + Duration::days(self.grace_days + 1)
    }

    // ------------------------------------------------------------ reading

    /// The person's notifications as they may be shown them now: one about
    /// a record they can no longer see (withdrawn, erased, made restricted,
    /// their role changed) is left out, and counts nowhere.
    pub async fn inbox(&self, viewer: &Viewer, now: DateTime<Utc>) -> Result<Inbox, ServiceError> {
        let user = person(viewer)?;
        let stored = self.store.notifications_of(user, INBOX).await?;
        let following: HashMap<i64, Followed> = self
            .store
            .subscriptions_of(user)
            .await?
            .into_iter()
            .map(|s| (s.id, Followed::new(s)))
            .collect();
        let mut actions: Option<Vec<serde_json::Value>> = None;
        let mut items = Vec::with_capacity(stored.len());
        for n in stored {
            if let Some(view) = self
                .shown(viewer, &n, &following, &mut actions, now)
                .await?
            {
                items.push(view);
            }
        }
        Ok(Inbox {
            unread: items.iter().filter(|i| !i.read).count(),
            items,
        })
    }

    async fn shown(
        &self,
        viewer: &Viewer,
        n: &StoredNotification,
        following: &HashMap<i64, Followed>,
        actions: &mut Option<Vec<serde_json::Value>>,
        now: DateTime<Utc>,
    ) -> Result<Option<NotificationView>, ServiceError> {
        let mut view = NotificationView {
            id: n.id,
            kind: n.kind,
            created_at: crate::domain::time::format_instant(n.created_at),
            read: n.read,
            subscription: None,
            observation: None,
            action: None,
            review: None,
        };
        match n.kind {
            NotificationKind::Observation => {
                let Ok(id) = n.subject.parse::<i64>() else {
                    return Ok(None);
                };
                if !sees_others(viewer) {
                    return Ok(None);
                }
                let Some(seen) = self
                    .store
                    .observation(ObservationId(id))
                    .await?
                    .and_then(|r| r.seen_by(viewer))
                else {
                    return Ok(None);
                };
                let precision = seen.precision();
                let shown = seen.into_shown();
                if shown.withdrawn.is_some() {
                    return Ok(None);
                }
                let position = [shown.details.location.lon, shown.details.location.lat];
                // Decided again as the record is shown now: one edited,
                // made sensitive, or seen by a demoted reader may no longer
                // fall in the shape that matched (a tiny one would otherwise
                // keep where it was). A subscription stopped takes its
                // notifications with it.
                let Some(followed) = n.subscription_id.and_then(|id| following.get(&id)) else {
                    return Ok(None);
                };
                if !followed.covers(&self.areas, shown.details.category, position) {
                    return Ok(None);
                }
                view.subscription = Some(SubscriptionRef {
                    id: followed.sub.id,
                    name: followed.sub.name.clone(),
                });
                view.observation = Some(ObservationRef {
                    id,
                    category: shown.details.category,
                    severity: shown.details.severity,
                    precision,
                    position,
                    grid_ref: crate::bng::to_grid(position[0], position[1])
                        .and_then(|g| g.hundred_metres()),
                    agency: shown.agency.clone(),
                    observed_at: crate::domain::time::format_instant(shown.details.observed_at),
                });
            }
            NotificationKind::ActionDue => {
                if !viewer.may_at_all(Action::ReadExercises) {
                    return Ok(None);
                }
                if actions.is_none() {
                    *actions = Some(
                        self.exercises
                            .actions(viewer, Due::All, now.date_naive())
                            .await?,
                    );
                }
                let id = n
                    .subject
                    .split(':')
                    .next()
                    .and_then(|id| id.parse::<i64>().ok());
                let Some(action) = actions
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .find(|a| a["id"].as_i64().is_some() && a["id"].as_i64() == id)
                else {
                    return Ok(None);
                };
                view.action = Some(action.clone());
            }
            NotificationKind::ReviewDue => {
                if !matches!(
                    viewer.reach(Action::ReviewObservation),
                    Reach::Agency | Reach::Any
                ) {
                    return Ok(None);
                }
                view.review = Some(serde_json::json!({
                    "date": n.subject,
                    "due": n.detail["due"],
                    "erase_within_30_days": n.detail["erase_within_30_days"],
                }));
            }
        }
        Ok(Some(view))
    }

    /// Marks notifications read: these ids (the person's own only), or all.
    pub async fn mark_read(
        &self,
        viewer: &Viewer,
        ids: Option<Vec<i64>>,
        now: DateTime<Utc>,
    ) -> Result<u64, ServiceError> {
        let user = person(viewer)?;
        let store = self.store.clone();
        super::to_completion(async move { Ok(store.mark_read(user, ids.as_deref(), now).await?) })
            .await
    }

    // ------------------------------------------------------------ email

    /// Sends what is waiting: one email per person, saying how many new
    /// observations there are in which of their areas, and where to sign
    /// in. Returns how many emails went.
    pub async fn send_emails(&self) -> Result<usize, ServiceError> {
        let Some(mail) = &self.mail else {
            return Ok(0);
        };
        let claimed = self.store.claim_emails(500).await?;
        let mut by_person: HashMap<i64, Vec<(i64, Option<i64>)>> = HashMap::new();
        for c in claimed {
            by_person
                .entry(c.user_id)
                .or_default()
                .push((c.id, c.subscription_id));
        }
        let mut sent = 0;
        let mut people = People::default();
        for (user, claimed) in by_person {
            let ids: Vec<i64> = claimed.iter().map(|(id, _)| *id).collect();
            // Counted as the person would be shown them now: a record
            // withdrawn or made restricted since it matched, or an account
            // disabled, counts for nothing.
            let shown_now: Vec<i64> = match people.get(&self.store, user).await? {
                Some((viewer, _)) => {
                    let viewer = viewer.clone();
                    self.inbox(&viewer, Utc::now())
                        .await?
                        .items
                        .into_iter()
                        .map(|n| n.id)
                        .collect()
                }
                None => Vec::new(),
            };
            let notes: Vec<(i64, Option<i64>)> = claimed
                .into_iter()
                .filter(|(id, _)| shown_now.contains(id))
                .collect();
            if notes.is_empty() {
                // Nothing left to tell: settled without an email.
                self.store.finish_emails(&ids, true).await?;
                continue;
            }
            let Some(address) = self.store.user_email(user).await? else {
                self.store.finish_emails(&ids, false).await?;
                continue;
            };
            let subs = self.store.subscriptions_of(user).await?;
            let mut areas: Vec<String> = notes
                .iter()
                .filter_map(|(_, s)| subs.iter().find(|x| Some(x.id) == *s))
                .map(|s| s.name.clone())
                .collect();
            areas.sort();
            areas.dedup();
            let message = self.message(mail, &address, notes.len(), &areas);
            let ok = match message {
                Ok(message) => {
                    use lettre::AsyncTransport;
                    match mail.transport.send(message).await {
                        Ok(_) => true,
                        Err(e) => {
                            // A relay's answer can quote the address: only
                            // its status code is logged.
                            let status = e.status().map(|c| c.to_string()).unwrap_or_default();
                            tracing::warn!(user, status, "an alert email was not accepted");
                            false
                        }
                    }
                }
                Err(_) => {
                    tracing::warn!(user, "an alert email could not be made");
                    false
                }
            };
            self.store.finish_emails(&ids, ok).await?;
            sent += usize::from(ok);
        }
        Ok(sent)
    }

    fn message(
        &self,
        mail: &Mail,
        to: &str,
        count: usize,
        areas: &[String],
    ) -> Result<lettre::Message, String> {
        // Without a public URL there is no address worth sending.
        let link = self
            .public_url
            .as_deref()
            .map(|u| format!(": {}/#alerts", u.trim_end_matches('/')))
            .unwrap_or_default();
        let where_en = if areas.is_empty() {
            "areas you follow".to_owned()
        } else {
            areas.join(", ")
        };
        let (en, cy) = if count == 1 {
            (
                format!("There is a new observation in {where_en}."),
                format!("Mae arsylwad newydd yn {where_en}."),
            )
        } else {
            (
                format!("There are {count} new observations in {where_en}."),
                format!("Mae {count} arsylwad newydd yn {where_en}."),
            )
        };
        // Short lines, so no transfer encoding breaks them.
        let body = format!(
            "{en}\nSign in to safetymap to see them{link}\n\
             This email says no more than that on purpose:\n\
             what was seen, and where, stays in safetymap.\n\n\
             {cy}\nMewngofnodwch i safetymap i'w gweld{link}\n\
             Nid yw'r e-bost hwn yn dweud mwy na hynny, yn fwriadol:\n\
             mae'r hyn a welwyd, a ble, yn aros yn safetymap.\n"
        );
        lettre::Message::builder()
            .from(mail.from.clone())
            .to(to.parse().map_err(|e| format!("{e}"))?)
            .subject("safetymap: new observations in areas you follow / arsylwadau newydd")
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())
    }
}

/// Subscribers' views, read once per matching run.
#[derive(Default)]
struct People(HashMap<i64, Option<(Viewer, bool)>>);

impl People {
    async fn get(
        &mut self,
        store: &Store,
        user: i64,
    ) -> Result<Option<&(Viewer, bool)>, ServiceError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.0.entry(user) {
            let found = match store.user(user).await? {
                Some(u) if u.disabled_at.is_none() => Some((
                    super::sessions::viewer_of(&u, Credential::Session),
                    store.user_email(user).await?.is_some(),
                )),
                _ => None,
            };
            slot.insert(found);
        }
        Ok(self.0.get(&user).and_then(Option::as_ref))
    }
}
