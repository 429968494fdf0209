//! The HTTP layer: routes, state, and the conversion of everything into
//! JSON, GeoJSON or problem+json.

pub mod alerts;
pub mod analysis;
pub mod areas;
pub mod audit;
pub mod auth;
pub mod body;
pub mod disclosure;
pub mod exercises;
pub mod features;
pub mod observations;
pub mod ogc;
pub mod openapi;
pub mod operations;
pub mod people;
pub mod perceptions;
pub mod places;
pub mod police;
pub mod problem;
pub mod reports;
pub mod review;
pub mod session;
pub mod tilejson;
pub mod tiles;
pub mod tokens;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::basemap::Basemap;
use crate::clock::Clock;
use crate::domain::observation::ValidationRules;
use crate::domain::vocabulary::VocabularyDocument;
use crate::index::police::PoliceLayer;
use crate::index::SpatialIndex;
use crate::service::Observations;
use crate::store::{AuditWriter, Store, StoreError};
use auth::TokenCache;
use problem::Problem;
use tiles::TileCache;

/// Settings the HTTP layer needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL clients reach this service at, for links; `None`: from `Host`.
    pub public_url: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long a verified token is trusted before the store is asked again.
    pub token_cache: Duration,
    /// Session time limits and cookie flags.
    pub sessions: SessionPolicy,
    /// Sign-in throttling.
    pub throttle: ThrottlePolicy,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The smallest count shown to roles below coordinator in aggregates;
    /// smaller non-zero counts read "fewer than" it.
    pub small_count_threshold: u32,
    /// Keep encoded vector tiles between requests (off only to measure
    /// uncached tiles).
    pub tile_cache: bool,
    /// Costly analyses (Gi\*, DBSCAN, time profiles) run at once, off the
    /// HTTP workers.
    pub analysis_workers: usize,
    /// How long one analysis may run before it is refused as too costly.
    pub analysis_budget: Duration,
    /// Licensing reports one principal may ask for within
    /// [`Settings::budget_window`] before being throttled.
    pub report_budget: u32,
    /// Aggregate queries one principal may ask for within
    /// [`Settings::budget_window`] before being throttled.
    pub aggregate_budget: u32,
    /// Days past its review date a record with no decision to keep it is
    /// erased (what the review queue warns of).
    pub retention_grace_days: i64,
    /// The window of [`Settings::aggregate_budget`].
    pub budget_window: Duration,
    /// The SMTP relay alert emails go through; `None`: alerts in the app only.
    pub mail: Option<crate::service::alerts::MailSettings>,
    /// The bearer token `/metrics` answers to on the service's address;
    /// `None`: not there (see `--metrics-bind`).
    pub metrics_token: Option<String>,
}

pub use crate::service::sessions::{SessionPolicy, ThrottlePolicy};

impl Default for Settings {
    fn default() -> Self {
        Settings {
            public_url: None,
            max_body_bytes: 64 * 1024,
            token_cache: Duration::from_secs(10),
            sessions: SessionPolicy {
                idle: chrono::Duration::minutes(30),
                absolute: chrono::Duration::hours(12),
                secure_cookie: false,
            },
            throttle: ThrottlePolicy {
                window: chrono::Duration::minutes(15),
                per_account: 5,
                per_client: 30,
            },
            trusted_proxies: Vec::new(),
            small_count_threshold: 5,
            tile_cache: true,
            analysis_workers: std::thread::available_parallelism()
                .map_or(1, |n| (n.get() / 2).max(1)),
            analysis_budget: Duration::from_secs(10),
            report_budget: 100,
            aggregate_budget: 3000,
            retention_grace_days: 90,
            budget_window: Duration::from_secs(3600),
            mail: None,
            metrics_token: None,
        }
    }
}

/// Everything handlers share, behind one pointer: axum clones the state
/// several times a request, and one reference count costs less than a
/// dozen (see [`AppState::fork`]). Fields are reached through `Deref`.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] points at.
#[derive(Clone, Debug)]
pub struct Shared {
    /// The source of truth.
    pub store: Store,
    /// The derived spatial index.
    pub index: Arc<SpatialIndex>,
    /// Observation workflows.
    pub observations: Observations,
    /// Young people's safety mapping.
    pub perceptions: crate::service::perceptions::Perceptions,
    /// Licensing consultation reports.
    pub reports: crate::service::reports::Reports,
    /// The places register.
    pub places: crate::service::places::Places,
    /// Mapping exercises and location assessments.
    pub exercises: crate::service::exercises::Exercises,
    /// Agencies and user accounts.
    pub accounts: crate::service::accounts::Accounts,
    /// Area alerts and notifications.
    pub alerts: crate::service::alerts::Alerts,
    /// Drawn and imported areas (boundaries).
    pub boundaries: crate::service::places::Areas,
    /// Verified tokens and sessions (shared with `sessions` and `api_tokens`).
    pub tokens: TokenCache,
    /// Signing in and out; recognising credentials.
    pub sessions: crate::service::sessions::Sessions,
    /// API tokens.
    pub api_tokens: crate::service::tokens::Tokens,
    /// Reading the audit trail.
    pub audit_log: crate::service::audit::AuditLog,
    /// Whether the service can work (`/readyz`).
    pub health: crate::service::Health,
    /// police.uk imports and their log.
    pub police_imports: crate::service::police::Police,
    /// HTTP settings.
    pub settings: Arc<Settings>,
    /// The time.
    pub clock: Clock,
    /// Batched audit appends for tools' reads.
    pub audit: AuditWriter,
    /// The basemap the app's map is drawn on.
    pub basemap: Arc<Basemap>,
    /// The Content-Security-Policy every response carries.
    pub csp: axum::http::HeaderValue,
    /// The police.uk context layer.
    pub police: Arc<PoliceLayer>,
    /// Encoded vector tiles, dropped when what they show changes.
    pub tiles: Arc<TileCache>,
    /// Areas, with their shapes parsed.
    pub areas: Arc<crate::areas::AreaSet>,
    /// Costly analyses, bounded and off the HTTP workers.
    pub analysis: crate::service::pool::Pool,
    /// Downloads being written, as many at once as analyses may run, each
    /// within five minutes (a reader slower than that is cut off).
    pub downloads: crate::service::pool::Pool,
    /// PDF printing: at most one Chromium at a time.
    pub printing: crate::service::pool::Pool,
    /// Per-principal budgets for reports and aggregate queries.
    pub budgets: Arc<crate::service::budget::Budgets>,
    /// The last change of the change stream applied to this state.
    pub changes_applied: Arc<std::sync::atomic::AtomicI64>,
}

impl AppState {
    /// Builds the state over a migrated store: loads the index from it.
    pub async fn load(
        store: Store,
        rules: ValidationRules,
        settings: Settings,
        clock: Clock,
    ) -> Result<AppState, StoreError> {
        // Changes from here on are followed; read the position before
        // loading anything so none falls between the two.
        let changes_from = store.change_head().await?;
        let index = Arc::new(SpatialIndex::load(&store).await?);
        let police = Arc::new(PoliceLayer::load(&store).await?);
        let areas = Arc::new(crate::areas::AreaSet::load(&store).await?);
        let tokens = TokenCache::new(settings.token_cache);
        crate::telemetry::recorder();
        let follower = crate::service::changes::Follower::new(
            store.clone(),
            index.clone(),
            areas.clone(),
            police.clone(),
            tokens.clone(),
        );
        let changes_applied = follower.position();
        follower.start(changes_from);
        let ring = Arc::new(tokio::sync::Notify::new());
        let observations =
            Observations::new(store.clone(), index.clone(), rules.clone()).ringing(ring.clone());
        let exercises = crate::service::exercises::Exercises::new(
            store.clone(),
            index.clone(),
            areas.clone(),
            settings.small_count_threshold,
        );
        let alerts = crate::service::alerts::Alerts::new(
            store.clone(),
            crate::service::alerts::AlertsParts {
                areas: areas.clone(),
                rules: Arc::new(rules.clone()),
                exercises: exercises.clone(),
                observations: observations.clone(),
                mail: settings.mail.clone(),
                public_url: settings.public_url.clone(),
                wake: ring,
                grace_days: settings.retention_grace_days,
            },
        );
        alerts.start(clock.clone());
        Ok(AppState(Arc::new(Shared {
            alerts,
            audit_log: crate::service::audit::AuditLog::new(store.clone()),
            health: crate::service::Health::new(store.clone()),
            police_imports: crate::service::police::Police::new(
                store.clone(),
                Some(police.clone()),
            ),
            sessions: crate::service::sessions::Sessions::new(
                store.clone(),
                tokens.clone(),
                settings.sessions.clone(),
                settings.throttle.clone(),
                clock.clone(),
            ),
            api_tokens: crate::service::tokens::Tokens::new(
                store.clone(),
                tokens.clone(),
                clock.clone(),
            ),
            boundaries: crate::service::places::Areas::new(store.clone(), areas.clone()),
            exercises,
            areas,
            police,
            tiles: Arc::new(TileCache::default()),
            reports: crate::service::reports::Reports::new(
                store.clone(),
                index.clone(),
                Arc::new(rules.clone()),
                settings.small_count_threshold,
            ),
            observations,
            perceptions: crate::service::perceptions::Perceptions::new(store.clone()),
            places: crate::service::places::Places::new(store.clone(), index.clone()),
            accounts: crate::service::accounts::Accounts::new(store.clone()),
            tokens,
            analysis: crate::service::pool::Pool::new(
                "analysis",
                settings.analysis_workers,
                Duration::from_millis(250),
                settings.analysis_budget,
            ),
            downloads: crate::service::pool::Pool::new(
                "downloads",
                settings.analysis_workers,
                Duration::from_millis(250),
                Duration::from_secs(300),
            ),
            budgets: Arc::new(crate::service::budget::Budgets::new(
                settings.report_budget,
                settings.aggregate_budget,
                settings.budget_window,
            )),
            printing: crate::service::pool::Pool::new(
                "printing",
                1,
                Duration::from_secs(20),
                Duration::from_secs(60),
            ),
            settings: Arc::new(settings),
            changes_applied,
            audit: AuditWriter::start(store.clone()),
            csp: web::content_security_policy(&Basemap::default()),
            basemap: Arc::new(Basemap::default()),
            clock,
            store,
            index,
        })))
    }

    /// The same state behind a pointer of its own, for one HTTP worker.
    /// Every request clones the state; when each worker thread has its own
    /// pointer, that count lives in its own core's cache instead of
    /// bouncing between cores on every request.
    pub fn fork(&self) -> AppState {
        AppState(Arc::new(Shared::clone(&self.0)))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for Observations {
    fn from_ref(state: &AppState) -> Observations {
        state.observations.clone()
    }
}

impl FromRef<AppState> for axum::http::HeaderValue {
    fn from_ref(state: &AppState) -> axum::http::HeaderValue {
        state.csp.clone()
    }
}

impl AppState {
    /// An audit event for `viewer` acting now, on something of their own
    /// agency's (a place, an area, an exercise, a session).
    pub fn audit_entry(
        &self,
        viewer: &crate::domain::viewer::Viewer,
        action: crate::domain::vocabulary::AuditAction,
        object_type: &'static str,
        id: impl Into<String>,
        what: &str,
    ) -> crate::store::AuditEntry {
        crate::store::AuditEntry::by(
            viewer,
            action,
            object_type,
            id,
            &viewer.agency,
            Some(what),
            self.clock.now(),
        )
    }

    /// The same state drawing its map on `basemap`.
    pub fn with_basemap(self, basemap: Basemap) -> AppState {
        let mut shared = Arc::unwrap_or_clone(self.0);
        shared.csp = web::content_security_policy(&basemap);
        shared.basemap = Arc::new(basemap);
        AppState(Arc::new(shared))
    }
}

impl AppState {
    /// The last change of the change stream this instance applied.
    pub fn changes_applied(&self) -> i64 {
        self.changes_applied
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Counts one report or aggregate query against `viewer`'s budget.
    pub async fn charge(
        &self,
        viewer: &crate::domain::viewer::Viewer,
        kind: crate::service::budget::Kind,
    ) -> Result<(), Problem> {
        Ok(self
            .budgets
            .charge(viewer, kind, &self.store, &self.clock)
            .await?)
    }
}

/// A numbered record's id from the path (`/api/users/{id}`): anything but
/// a whole number is a 404 problem, like an id that names nothing (axum's
/// own rejection would answer in plain text).
#[derive(Debug, Clone, Copy)]
pub struct Id(pub i64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| Problem::not_found().detail("ids are whole numbers"))?;
        raw.parse()
            .map(Id)
            .map_err(|_| Problem::not_found().detail("ids are whole numbers"))
    }
}

/// Refuses a viewer whose role may not do `action` at all.
pub(crate) fn allow(
    viewer: &crate::domain::viewer::Viewer,
    action: crate::domain::viewer::Action,
) -> Result<(), Problem> {
    if viewer.may_at_all(action) {
        Ok(())
    } else {
        Err(crate::service::ServiceError::Forbidden.into())
    }
}

/// A create's answer: `201` with a `Location` when something was made,
/// `200` when an idempotency key found what an earlier try made.
pub(crate) fn created(
    new: bool,
    location: String,
    body: impl serde::Serialize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(body)).into_response();
    if let Ok(location) = axum::http::HeaderValue::from_str(&location) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    response
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, Problem> {
    state.health.ready().await.map_err(|e| {
        tracing::warn!(error = %e, "store not ready for writes");
        Problem::store_unavailable()
    })?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

async fn vocabulary() -> Json<VocabularyDocument> {
    Json(VocabularyDocument::build())
}

async fn not_found() -> Problem {
    Problem::not_found().detail("no such endpoint")
}

/// Largest file an import takes (a council's LSOA boundaries are a few MB).
const IMPORT_BODY_LIMIT: usize = 32 << 20;

/// The routes as declared, with their paths, so tests can walk every one.
#[derive(Default)]
struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Routes {
    fn route(mut self, path: &str, handler: axum::routing::MethodRouter<AppState>) -> Self {
        self.paths.push(path.to_owned());
        self.router = self.router.route(path, handler);
        self
    }

    /// The items and item routes of every OGC collection.
    fn collections(self) -> Self {
        ogc::routes()
            .into_iter()
            .fold(self, |routes, (path, handler)| routes.route(&path, handler))
    }
}

/// Tiles: on a lean route of their own (see [`app`]).
const TILE_ROUTE: &str = "/tiles/{layer}/{z}/{x}/{y}";

fn routes() -> Routes {
    Routes::default()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(operations::endpoint))
        .route("/api/vocabulary", get(vocabulary))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/observations", post(observations::create))
        .route(
            "/api/observations/{id}",
            get(observations::read).patch(observations::edit),
        )
        .route(
            "/api/observations/{id}/withdraw",
            post(observations::withdraw),
        )
        .route("/api/observations/{id}/keep", post(review::keep))
        .route("/api/observations/{id}/erase", post(review::erase))
        .route("/api/review-queue", get(review::queue))
        .route("/api/alerts", get(alerts::settings))
        .route("/api/alerts/email", put(alerts::set_email))
        .route("/api/alerts/subscriptions", post(alerts::subscribe))
        .route(
            "/api/alerts/subscriptions/{id}",
            delete(alerts::unsubscribe),
        )
        .route("/api/notifications", get(alerts::inbox))
        .route("/api/notifications/read", post(alerts::mark_read))
        .route("/api/audit", get(audit::search))
        .route("/api/audit/export", get(audit::export))
        .route("/api/tokens", get(tokens::list).post(tokens::create))
        .route("/api/tokens/{id}", delete(tokens::revoke))
        .route(
            "/api/session",
            get(session::current)
                .post(session::sign_in)
                .delete(session::sign_out),
        )
        .route("/api/me", get(session::me))
        .route("/api/me/password", post(session::change_password))
        .route("/api/me/second-factor", post(session::offer_second_factor))
        .route(
            "/api/me/second-factor/confirm",
            post(session::confirm_second_factor),
        )
        .route(
            "/api/agencies",
            get(people::agencies).post(people::create_agency),
        )
        .route("/api/agencies/{code}", patch(people::update_agency))
        .route("/api/users", get(people::users).post(people::create_user))
        .route(
            "/api/users/{id}",
            get(people::user).patch(people::update_user),
        )
        .route("/api/sign-ins", get(people::sign_ins))
        .route("/api/role-requests", get(people::role_requests))
        .route(
            "/api/role-requests/{id}/approve",
            post(people::approve_role_request),
        )
        .route(
            "/api/role-requests/{id}/refuse",
            post(people::refuse_role_request),
        )
        .route("/", get(web::index))
        .route("/index.html", get(web::index))
        .route("/sw.js", get(web::service_worker))
        .route("/app.css", get(web::file_at))
        .route("/pack.css", get(web::file_at))
        .route("/icon.svg", get(web::file_at))
        .route("/manifest.webmanifest", get(web::file_at))
        .route("/js/{*path}", get(web::file_at))
        .route("/vendor/{*path}", get(web::file_at))
        .route("/basemap/style.json", get(web::style))
        .route("/basemap/streets.json", get(web::streets))
        .route("/basemap/tiles/{z}/{x}/{y}", get(web::tile))
        .route("/basemap/fonts/{fontstack}/{range}", get(web::glyphs))
        .route("/ogc", get(ogc::landing))
        .route("/ogc/", get(ogc::landing))
        .route("/ogc/conformance", get(ogc::conformance))
        .route("/ogc/api", get(openapi::document))
        .route("/ogc/collections", get(ogc::collections))
        .route("/ogc/collections/{collection}", get(ogc::collection))
        .route(
            "/ogc/collections/{collection}/queryables",
            get(ogc::queryables),
        )
        .route("/tiles/{layer}/tilejson.json", get(tilejson::tilejson))
        .route("/tiles/{layer}/style.json", get(tilejson::style))
        .route("/api/time-profile", get(analysis::time_profile_endpoint))
        .route("/api/police-imports", get(police::imports))
        .route("/api/places", get(places::list).post(places::create))
        .route(
            "/api/places/{id}",
            get(places::read).put(places::edit).delete(places::remove),
        )
        .route(
            "/api/places/import",
            post(places::import).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/api/areas", get(areas::list).post(areas::create))
        .route("/api/areas/{id}", delete(areas::remove))
        .route(
            "/api/areas/import",
            post(areas::import).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route(
            "/api/exercises",
            get(exercises::list).post(exercises::create),
        )
        .route("/api/exercises/{id}", get(exercises::read))
        .route("/api/exercises/{id}/annotations", post(exercises::annotate))
        .route("/api/exercises/{id}/decisions", post(exercises::decide))
        .route("/api/exercises/{id}/actions", post(exercises::add_action))
        .route("/api/exercises/{id}/freeze", post(exercises::freeze))
        .route("/api/exercises/{id}/pack", get(exercises::pack))
        .route(
            "/api/exercises/{id}/follow-up",
            get(exercises::follow_up_endpoint),
        )
        .route("/api/actions", get(exercises::actions))
        .route("/api/reports/licensing", get(reports::licensing))
        .route(
            "/api/perception-sessions",
            get(perceptions::list).post(perceptions::create),
        )
        .route("/api/perception-sessions/{id}", get(perceptions::read))
        .route(
            "/api/perception-sessions/{id}/marks",
            post(perceptions::mark),
        )
        .route("/api/actions/{id}", patch(exercises::set_status))
        .collections()
}

/// Every route's path as declared, tiles included.
pub fn route_paths() -> Vec<String> {
    let mut paths = routes().paths;
    paths.push(TILE_ROUTE.to_owned());
    paths
}

/// A handler panicked: a 500 problem, and an error in the request's log
/// (not the panic's message, which may quote what was sent).
fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request's handler panicked");
    axum::response::IntoResponse::into_response(Problem::internal())
}

/// The application: every route, with tracing, panic safety, compression,
/// the body limit, and the disclosure layer (see `disclosure`), which every
/// route passes through.
pub fn app(state: AppState) -> Router {
    let body_limit = state.settings.max_body_bytes;
    let disclosures = axum::middleware::from_fn_with_state(state.clone(), disclosure::record);
    let trusted: Arc<[std::net::IpAddr]> = state.settings.trusted_proxies.clone().into();
    let observe = axum::middleware::from_fn_with_state(trusted, operations::observe);
    routes()
        .router
        .fallback(not_found)
        .layer(disclosures.clone())
        .layer(axum::middleware::from_fn(body::query_text))
        .layer(axum::middleware::from_fn_with_state(
            state.csp.clone(),
            web::security_headers,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(observe.clone())
                .layer(CatchPanicLayer::custom(panicked))
                // Fastest gzip level: layers are big and repetitive, so it
                // still shrinks them several-fold at little CPU cost.
                .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        // Tiles join after the layers above: they come by the dozen, so
        // they skip the compression wrapper (a tile is gzipped once, when
        // first asked for) and the page headers (the handler sets
        // `nosniff` and its own cache headers), but keep panic safety and
        // their request id, metrics and span.
        .merge(
            Router::new()
                .route(TILE_ROUTE, get(tiles::tile))
                .layer(disclosures)
                .layer(axum::middleware::from_fn(body::query_text))
                .layer(CatchPanicLayer::custom(panicked))
                .layer(observe),
        )
        .with_state(state)
}
