//! The command line: `serve` (the default), `migrate`, `demo`, `user`,
//! `token`, `retention`, `audit`.
//!
//! Every setting is a flag and a `SAFETYMAP_*` environment variable (or
//! `DATABASE_URL`); README.md lists them in one table.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::Utc;
use clap::{Args, Parser, Subcommand};

use crate::api::{app, AppState, Settings};
use crate::clock::Clock;
use crate::domain::observation::ValidationRules;
use crate::domain::viewer::Viewer;
use crate::domain::vocabulary::{AgencyKind, AuditAction, Role};
use crate::store::{Agency, AuditEntry, Backend, NewUser, Store, UserChange};

/// safetymap: neighbourhood safety mapping for contextual safeguarding.
#[derive(Debug, Parser)]
#[command(name = "safetymap", version, about)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: Config,
    /// What to do; `serve` when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "SAFETYMAP_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
    /// HTTP worker threads, each serving its connections start to end
    /// (default: one per core).
    #[arg(long, env = "SAFETYMAP_HTTP_WORKERS", global = true)]
    pub http_workers: Option<usize>,
    /// PostgreSQL (postgres://…) or SQLite (sqlite:…) URL; unset: SQLite under --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory for the embedded SQLite store.
    #[arg(
        long,
        env = "SAFETYMAP_DATA_DIR",
        default_value = "data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Service area as min_lon,min_lat,max_lon,max_lat; locations outside are refused.
    #[arg(long, env = "SAFETYMAP_SERVICE_AREA", default_value = "-5.670,51.375,-2.650,53.436", value_parser = parse_area, global = true)]
    pub service_area: [f64; 4],
    /// How many days back observed_at may be.
    #[arg(
        long,
        env = "SAFETYMAP_OBSERVED_HORIZON_DAYS",
        default_value_t = 1826,
        global = true
    )]
    pub observed_horizon_days: i64,
    /// Largest request body, in bytes.
    #[arg(
        long,
        env = "SAFETYMAP_MAX_BODY_BYTES",
        default_value_t = 65_536,
        global = true
    )]
    pub max_body_bytes: usize,
    /// Public base URL for links (e.g. https://safetymap.example.gov.wales); unset: from the Host header.
    #[arg(long, env = "SAFETYMAP_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Seconds a verified token is trusted before the store is asked again.
    #[arg(
        long,
        env = "SAFETYMAP_TOKEN_CACHE_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub token_cache_seconds: u64,
    /// On PostgreSQL, milliseconds each statement of the service (requests
    /// and its background work) may run, waiting for a lock included, before
    /// the database cancels it; a request is then answered 503
    /// store-unavailable. Migrations, the loads that fill memory and one-off
    /// commands are not bounded.
    #[arg(
        long,
        env = "SAFETYMAP_STATEMENT_TIMEOUT_MS",
        default_value_t = crate::store::STATEMENT_TIMEOUT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(1..=i32::MAX as u64),
        global = true
    )]
    pub statement_timeout_ms: u64,
    /// Aggregate counts (grids, hot spots, clusters, time profiles) below
    /// this are shown as "fewer than N" to everyone below coordinator.
    #[arg(
        long,
        env = "SAFETYMAP_SMALL_COUNT_THRESHOLD",
        default_value_t = 5,
        global = true
    )]
    pub small_count_threshold: u32,
    /// Costly analyses (hot spots, clusters, time profiles) run at once, off
    /// the HTTP workers; more wait briefly and are then told the service is busy.
    /// Default: half the cores, at least one.
    #[arg(long, env = "SAFETYMAP_ANALYSIS_WORKERS", global = true)]
    pub analysis_workers: Option<usize>,
    /// Seconds one analysis may run before it is refused as too costly.
    #[arg(
        long,
        env = "SAFETYMAP_ANALYSIS_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub analysis_seconds: u64,
    /// Licensing reports one person or tool may ask for per hour before
    /// being refused (429) and flagged to their agency's coordinators.
    #[arg(
        long,
        env = "SAFETYMAP_REPORTS_PER_HOUR",
        default_value_t = 100,
        global = true
    )]
    pub reports_per_hour: u32,
    /// Aggregate queries (grids, hot spots, clusters, time profiles, area
    /// counts, follow-up, aggregate tiles made afresh) one person or tool
    /// may ask for per hour before being refused and flagged.
    #[arg(
        long,
        env = "SAFETYMAP_AGGREGATES_PER_HOUR",
        default_value_t = 3000,
        global = true
    )]
    pub aggregates_per_hour: u32,
    /// Keep encoded vector tiles between requests (each is dropped when a
    /// write changes what it shows); false only to measure uncached tiles.
    #[arg(
        long,
        env = "SAFETYMAP_TILE_CACHE",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub tile_cache: bool,
    /// Mark the session cookie Secure; unset: when --public-url is https.
    #[arg(long, env = "SAFETYMAP_SECURE_COOKIES", global = true)]
    pub secure_cookies: Option<bool>,
    /// Failed sign-ins from one client address within 15 minutes before
    /// sign-in from it is refused (raise it when many people share one
    /// address, e.g. behind a council's proxy).
    #[arg(
        long,
        env = "SAFETYMAP_SIGN_IN_FAILURES_PER_ADDRESS",
        default_value_t = 30,
        global = true
    )]
    pub sign_in_failures_per_address: i64,
    /// Reverse proxies (comma-separated IP addresses) whose X-Forwarded-For
    /// names the client, for sign-in throttling and the sign-in log.
    #[arg(
        long,
        env = "SAFETYMAP_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Days past its review date a record with no decision to keep it is erased.
    #[arg(
        long,
        env = "SAFETYMAP_RETENTION_GRACE_DAYS",
        default_value_t = 90,
        global = true
    )]
    pub retention_grace_days: i64,
    /// Minutes between runs of the retention job in `serve`.
    #[arg(
        long,
        env = "SAFETYMAP_RETENTION_INTERVAL_MINUTES",
        default_value_t = 60,
        global = true
    )]
    pub retention_interval_minutes: u64,
    /// MBTiles file of vector tiles for the basemap; unset: the Newport
    /// extract in ../shared/data when it is there.
    #[arg(long, env = "SAFETYMAP_BASEMAP_MBTILES", global = true)]
    pub basemap_mbtiles: Option<PathBuf>,
    /// A remote MapLibre style URL for the basemap (when no MBTiles file is served).
    #[arg(long, env = "SAFETYMAP_BASEMAP_STYLE_URL", global = true)]
    pub basemap_style_url: Option<String>,
    /// Attribution shown for the basemap's data.
    #[arg(
        long,
        env = "SAFETYMAP_BASEMAP_ATTRIBUTION",
        default_value = "© OpenStreetMap contributors (ODbL)",
        global = true
    )]
    pub basemap_attribution: String,
    /// TrueType/OpenType font for map labels; unset: DejaVu Sans when installed.
    #[arg(long, env = "SAFETYMAP_GLYPH_FONT", global = true)]
    pub glyph_font: Option<PathBuf>,
    /// SMTP relay for alert emails, e.g. `smtp://127.0.0.1:25` (a relay on
    /// this host), `smtp://relay.example:587?tls=required` (STARTTLS) or
    /// `smtps://relay.example:465`; unset: alerts are shown in the app only.
    #[arg(long, env = "SAFETYMAP_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,
    /// The From address of alert emails.
    #[arg(
        long,
        env = "SAFETYMAP_MAIL_FROM",
        default_value = "safetymap <safetymap@localhost>",
        global = true
    )]
    pub mail_from: String,
    /// The bearer token `/metrics` answers to on --bind; unset: /metrics is
    /// not served there (use --metrics-bind, or set one).
    #[arg(
        long,
        env = "SAFETYMAP_METRICS_TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// A second address serving only `/metrics`, without a token (bind it
    /// where only the monitoring system reaches, e.g. 127.0.0.1:9464).
    #[arg(long, env = "SAFETYMAP_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,
    /// Log lines as `text` (for people) or `json` (one object per line, for
    /// a log collector).
    #[arg(long, env = "SAFETYMAP_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    pub log_format: String,
    /// Load the demo data when `serve` starts on an empty embedded store.
    #[arg(long, env = "SAFETYMAP_DEMO_ON_EMPTY", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub demo_on_empty: bool,
}

fn parse_area(s: &str) -> Result<[f64; 4], String> {
    let n: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>().map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    match n.as_slice() {
        [a, b, c, d]
            if a < c && b < d && *a >= -180.0 && *c <= 180.0 && *b >= -90.0 && *d <= 90.0 =>
        {
            Ok([*a, *b, *c, *d])
        }
        _ => Err("expected min_lon,min_lat,max_lon,max_lat in degrees with min < max".into()),
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load the project-made demo data, or synthetic data for benchmarks.
    Demo(DemoArgs),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Review and retention.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Import context data.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Export a collection as a file, as a person would download it: what
    /// they may see, at their precision, recorded in the audit trail with
    /// the stated purpose.
    Export(ExportArgs),
}

/// `export` arguments.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The collection: observations, grid, hotspots, clusters,
    /// police-crimes, places, areas, perceptions or exercise-annotations.
    pub layer: String,
    /// gpkg, csv, fgb or geojson.
    #[arg(long, default_value = "gpkg")]
    pub format: String,
    /// Whose view to export (a username): what they may see, as they see it.
    #[arg(long = "as")]
    pub as_user: String,
    /// Why, for the audit trail.
    #[arg(long)]
    pub purpose: String,
    /// Selection as in the API's query string, e.g.
    /// "bbox=-3.02,51.57,-2.97,51.60&category=substance-misuse&crs=EPSG:27700"
    /// or "filter=…" (CQL2).
    #[arg(long, default_value = "")]
    pub query: String,
    /// Where to write it (default: safetymap-LAYER.EXT in the current folder).
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// `import` subcommands.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import police.uk street-level crime CSVs (the standard 12 columns)
    /// as the police context layer. Each force-month replaces what was
    /// there, so importing a month again changes nothing. Rows without
    /// coordinates or outside the service area are counted and reported.
    PoliceUk {
        /// CSV files, or folders of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Import places into the register from CSV (columns ref, name_en,
    /// name_cy, kind, longitude, latitude, address, licence_reference,
    /// manager_role, training, safe_place) or GeoJSON Points with those
    /// properties. Places are matched on their reference, so importing a
    /// file again updates rather than duplicates. All or nothing.
    Places {
        /// The file.
        file: PathBuf,
    },
    /// Import area boundaries from GeoJSON (WGS84), keeping codes and
    /// English and Welsh names (ONS fields such as WD13CD, WD13NM,
    /// WD13NMW are recognised). Areas are matched on kind and code, so a
    /// new edition of a file replaces shapes. All or nothing.
    Areas {
        /// The GeoJSON files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// What kind of area the files hold, when the field names do not
        /// say (ward, lsoa, msoa, output-area, local-authority,
        /// constituency, neighbourhood).
        #[arg(long)]
        kind: Option<String>,
    },
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; report the first event altered, inserted or
    /// removed (exit status 1), or the number of events and the head hash.
    Verify {
        /// A head hash printed by an earlier verify: also check the chain
        /// still passes through it (catches a rewritten or cut tail).
        #[arg(long)]
        expect_head: Option<String>,
    },
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Instead of the Newport demo, add this many synthetic observations
    /// spread over the service area (for benchmarks).
    #[arg(long)]
    pub synthetic: Option<usize>,
    /// Seed for the synthetic data.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (the first administrator, typically). The password
    /// is read from SAFETYMAP_NEW_PASSWORD, or else from the first line of
    /// standard input.
    Create {
        /// Sign-in name.
        #[arg(long)]
        username: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Agency code; registered here when it is new (give its names and kind).
        #[arg(long)]
        agency: String,
        /// field-officer, panel-member, coordinator or admin.
        #[arg(long)]
        role: String,
        /// Also an administrator (with a data role).
        #[arg(long)]
        admin: bool,
        /// English name of a new agency.
        #[arg(long)]
        agency_name_en: Option<String>,
        /// Welsh name of a new agency.
        #[arg(long)]
        agency_name_cy: Option<String>,
        /// Kind of a new agency: council-directorate, police, health,
        /// education, youth-justice or third-sector.
        #[arg(long)]
        agency_kind: Option<String>,
    },
    /// List accounts.
    List,
    /// Disable an account: every session and token of it stops at once.
    Disable {
        /// Sign-in name.
        username: String,
    },
}

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user's tool; prints it alone on the last line.
    /// It is shown once.
    Create {
        /// The user it acts as.
        #[arg(long)]
        user: String,
        /// What the tool is for (recorded as the purpose of what it reads).
        #[arg(long)]
        name: String,
        /// read or write.
        #[arg(long, default_value = "read")]
        scope: String,
        /// Days until it expires.
        #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(i64).range(1..=365))]
        expires_in_days: i64,
    },
    /// Revoke a token by id (running servers stop accepting it within the token cache time).
    Revoke {
        /// Token id, from `token list`.
        id: i64,
    },
    /// List tokens (never their secrets).
    List,
}

/// `retention` subcommands.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Erase every record past its review date by more than the grace
    /// period with no decision to keep it (as `serve` does on a schedule),
    /// and report how many are waiting in review queues.
    Run,
}

impl Config {
    /// The validation rules these settings give.
    pub fn rules(&self) -> ValidationRules {
        ValidationRules::new(self.service_area, self.observed_horizon_days)
    }

    /// The HTTP settings these settings give.
    pub fn settings(&self) -> Settings {
        Settings {
            public_url: self.public_url.clone(),
            max_body_bytes: self.max_body_bytes,
            token_cache: Duration::from_secs(self.token_cache_seconds),
            sessions: crate::api::SessionPolicy {
                secure_cookie: self.secure_cookies.unwrap_or_else(|| {
                    self.public_url
                        .as_deref()
                        .is_some_and(|u| u.starts_with("https://"))
                }),
                ..Settings::default().sessions
            },
            trusted_proxies: self.trusted_proxies.clone(),
            throttle: crate::api::ThrottlePolicy {
                per_client: self.sign_in_failures_per_address.max(1),
                ..Settings::default().throttle
            },
            small_count_threshold: self.small_count_threshold.max(1),
            tile_cache: self.tile_cache,
            analysis_workers: self
                .analysis_workers
                .unwrap_or(Settings::default().analysis_workers)
                .max(1),
            analysis_budget: Duration::from_secs(self.analysis_seconds.max(1)),
            report_budget: self.reports_per_hour.max(1),
            aggregate_budget: self.aggregates_per_hour.max(1),
            retention_grace_days: self.retention_grace_days,
            budget_window: Duration::from_secs(3600),
            mail: self.mail(),
            metrics_token: self.metrics_token.clone().filter(|t| !t.is_empty()),
        }
    }

    /// Where alert emails go, when a relay is configured.
    pub fn mail(&self) -> Option<crate::service::alerts::MailSettings> {
        self.smtp_url
            .as_ref()
            .map(|relay| crate::service::alerts::MailSettings {
                relay: relay.clone(),
                from: self.mail_from.clone(),
            })
    }

    /// The basemap these settings name. Files named explicitly must open;
    /// the defaults are used when present and skipped, with a note, when not.
    pub async fn basemap(&self) -> anyhow::Result<crate::basemap::Basemap> {
        use crate::basemap::{Basemap, BasemapConfig};
        const SHARED_MBTILES: &str = "../shared/data/osm-newport/newport-basemap-z10-15.mbtiles";
        const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
        let or_default = |given: &Option<PathBuf>, default: &str, what: &str| match given {
            Some(path) => Some(path.clone()),
            None if std::path::Path::new(default).exists() => Some(PathBuf::from(default)),
            None => {
                tracing::info!("no {what}: {default} is not there");
                None
            }
        };
        let config = BasemapConfig {
            mbtiles: if self.basemap_style_url.is_some() && self.basemap_mbtiles.is_none() {
                None
            } else {
                or_default(&self.basemap_mbtiles, SHARED_MBTILES, "basemap tiles")
            },
            style_url: self.basemap_style_url.clone(),
            font: or_default(&self.glyph_font, DEJAVU, "label font"),
            attribution: self.basemap_attribution.clone(),
        };
        Ok(Basemap::open(&config).await?)
    }

    /// The store for a one-off command: an operator is watching it (and can
    /// stop it), so its statements are not cut short, however large the
    /// database.
    async fn store(&self) -> anyhow::Result<Store> {
        self.store_bounded(None).await
    }

    /// The store for the service, whose statements are bounded by
    /// `--statement-timeout-ms` on PostgreSQL.
    async fn service_store(&self) -> anyhow::Result<Store> {
        self.store_bounded(Some(Duration::from_millis(self.statement_timeout_ms)))
            .await
    }

    async fn store_bounded(&self, statement_timeout: Option<Duration>) -> anyhow::Result<Store> {
        let store = Store::open(
            self.database_url.as_deref(),
            &self.data_dir,
            statement_timeout,
        )
        .await
        .context("opening the store")?;
        store.migrate().await.context("migrating the store")?;
        Ok(store)
    }
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&config).await,
        Command::Migrate => {
            config.store().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Demo(args) => demo(&config, args).await,
        Command::User(command) => user(&config, command).await,
        Command::Token(command) => token(&config, command).await,
        Command::Retention(RetentionCommand::Run) => {
            let store = config.store().await?;
            let state =
                AppState::load(store, config.rules(), config.settings(), Clock::system()).await?;
            let report = state
                .observations
                .apply_retention(Utc::now(), config.retention_grace_days)
                .await
                .map_err(|e| anyhow::anyhow!("retention failed: {e}"))?;
            println!(
                "retention: {} erased; {} due for review",
                report.erased, report.due_for_review
            );
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { expect_head }) => {
            audit_verify(&config, expect_head.as_deref()).await
        }
        Command::Import(ImportCommand::PoliceUk { paths }) => import_police(&config, &paths).await,
        Command::Export(args) => export(&config, args).await,
        Command::Import(ImportCommand::Places { file }) => import_places(&config, &file).await,
        Command::Import(ImportCommand::Areas { files, kind }) => {
            import_areas(&config, &files, kind.as_deref()).await
        }
    }
}

/// Imports police.uk files, a transaction each, printing progress per file
/// and totals at the end.
/// The CSV files named, folders expanded (their .csv files, sorted).
fn csv_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

async fn import_police(config: &Config, paths: &[PathBuf]) -> anyhow::Result<()> {
    let files = csv_files(paths)?;
    if files.is_empty() {
        bail!(
            "no .csv files found in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let store = config.store().await?;
    import_police_files(&store, config.rules().service_area, &files).await
}

/// The faults of a refused import, one per line.
fn refused(
    file: &std::path::Path,
    errors: &[crate::domain::observation::FieldError],
) -> anyhow::Error {
    let lines: Vec<String> = errors
        .iter()
        .take(50)
        .map(|e| format!("  {}: {} ({})", e.field, e.message, e.code))
        .collect();
    anyhow::anyhow!(
        "{} refused, nothing imported ({} faults):\n{}",
        file.display(),
        errors.len(),
        lines.join("\n")
    )
}

async fn import_places(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let places = crate::domain::place::parse_import(&text, &config.rules())
        .map_err(|e| refused(file, &e))?;
    let store = config.store().await?;
    let audit = AuditEntry::by(
        &Viewer::console(),
        AuditAction::Collection,
        "place",
        "import",
        "",
        Some(&format!(
            "imported {} places from the command line",
            places.len()
        )),
        Utc::now(),
    );
    let report = store.import_places(&places, audit).await?;
    println!(
        "places from {}: {} added, {} updated, {} unchanged",
        file.display(),
        report.added,
        report.updated,
        report.unchanged
    );
    Ok(())
}

async fn import_areas(
    config: &Config,
    files: &[PathBuf],
    kind: Option<&str>,
) -> anyhow::Result<()> {
    let kind = match kind {
        None => None,
        Some(code) => Some(
            crate::domain::vocabulary::AreaKind::from_code(code)
                .with_context(|| format!("unknown area kind `{code}`"))?,
        ),
    };
    let store = config.store().await?;
    for (i, file) in files.iter().enumerate() {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let shapes = crate::domain::area::parse_boundaries(&text, kind, &config.rules())
            .map_err(|e| refused(file, &e))?;
        let source = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let audit = AuditEntry::by(
            &Viewer::console(),
            AuditAction::Collection,
            "area",
            "import",
            "",
            Some(&format!("imported {} areas from {source}", shapes.len())),
            Utc::now(),
        );
        let report = store.import_areas(&shapes, &source, audit).await?;
        println!(
            "[{}/{}] areas from {}: {} added, {} replaced",
            i + 1,
            files.len(),
            file.display(),
            report.added,
            report.replaced
        );
    }
    Ok(())
}

/// The boundary files the demo imports as areas: Newport's wards and LSOAs.
const SHARED_BOUNDARIES: &[&str] = &[
    "../shared/data/boundaries/electoral-wal-wards_by_lad-W06000022.json",
    "../shared/data/boundaries/statistical-wal-lsoa_by_lad-W06000022.json",
];

/// `safetymap export`: one collection as a file, with a line of progress
/// per step on standard error.
async fn export(config: &Config, args: ExportArgs) -> anyhow::Result<()> {
    use crate::render::download::Format;
    let format = Format::from_f(&args.format).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown format `{}`: use gpkg, fgb, csv or geojson",
            args.format
        )
    })?;
    let store = config.store().await?;
    let Some(user) = store.user_by_name(&args.as_user.to_lowercase()).await? else {
        bail!("no user {}", args.as_user);
    };
    if user.disabled_at.is_some() {
        bail!("{} is disabled: nothing is exported as them", user.username);
    }
    let viewer =
        crate::service::sessions::viewer_of(&user, crate::domain::viewer::Credential::Console);
    let started = Instant::now();
    eprintln!("export: loading the layers…");
    let state = AppState::load(store, config.rules(), config.settings(), Clock::system()).await?;
    eprintln!(
        "export: {} as {} ({}, {}) — selecting and writing…",
        args.layer,
        user.username,
        user.role.code(),
        user.agency
    );
    let body = crate::api::ogc::export(
        &state,
        &viewer,
        &args.layer,
        format,
        &args.query,
        &args.purpose,
    )
    .await
    .map_err(|p| {
        anyhow::anyhow!(
            "{}: {}",
            p.code,
            p.detail.unwrap_or_else(|| p.title.to_owned())
        )
    })?;
    // The disclosure was written to the audit trail (durably) before the
    // first byte of the file was.
    let output = args.output.unwrap_or_else(|| {
        PathBuf::from(format!("safetymap-{}.{}", args.layer, format.extension()))
    });
    let bytes = write_streamed(body, &output)
        .await
        .with_context(|| format!("writing {}", output.display()))?;
    eprintln!(
        "\rexport: wrote {} ({} bytes) in {:.1} s; recorded in the audit trail as a disclosure with its purpose",
        output.display(),
        bytes,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes a body to `output` as it arrives, with a progress line; answers
/// how many bytes. It goes to a file beside `output` readable only by
/// whoever ran the export (like the store's own files), which replaces
/// `output` only once it is whole: an interrupted export leaves no partial
/// file that looks finished, and never removes one that was there.
async fn write_streamed(body: axum::body::Body, output: &std::path::Path) -> anyhow::Result<u64> {
    use futures_util::StreamExt;
    use std::io::Write;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let partial = tempfile::Builder::new()
        .prefix(".safetymap-export-")
        .tempfile_in(&dir)?;
    let mut file = std::io::BufWriter::new(partial);
    let mut stream = body.into_data_stream();
    let (mut bytes, mut shown) = (0u64, Instant::now());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| anyhow::anyhow!("{e}"))?;
        file.write_all(&chunk)?;
        bytes += chunk.len() as u64;
        if shown.elapsed() >= Duration::from_secs(1) {
            eprint!("\rexport: {:.1} MB written…", bytes as f64 / 1e6);
            shown = Instant::now();
        }
    }
    let partial = file.into_inner().map_err(|e| e.into_error())?;
    partial.as_file().sync_all()?;
    partial.persist(output)?;
    Ok(bytes)
}

/// Where the demo finds police.uk crime for its context layer.
const SHARED_POLICE_UK: &str = "../shared/data/police-uk/gwent-2020-01_2022-10";

/// Imports files, a transaction each, with a progress line per file.
async fn import_police_files(
    store: &Store,
    area: geo::Rect<f64>,
    files: &[PathBuf],
) -> anyhow::Result<()> {
    use crate::import::police::ImportTotals;
    let started = Instant::now();
    let mut total = ImportTotals::default();
    let mut n = 0;
    // No layer in memory here: a running server picks the import up.
    crate::service::police::Police::new(store.clone(), None)
        .import_files(
            files,
            area,
            &Viewer::console(),
            Utc::now(),
            |file, months| {
                n += 1;
                let totals = ImportTotals::of(months);
                total.add(&totals);
                eprintln!(
                    "[{n}/{}] {}: {} — {:.0} rows/s so far",
                    files.len(),
                    file.display(),
                    totals,
                    total.rows_read as f64 / started.elapsed().as_secs_f64()
                );
            },
        )
        .await
        .context("importing police.uk files")?;
    println!(
        "police.uk import: {} files in {:.1} s; {total}",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", crate::import::police::ATTRIBUTION);
    Ok(())
}

async fn audit_verify(config: &Config, expect_head: Option<&str>) -> anyhow::Result<()> {
    use crate::store::AuditVerdict;
    let store = config.store().await?;
    match store.verify_audit(expect_head).await? {
        AuditVerdict::Intact { events, head } => {
            println!("audit trail intact: {events} events; head hash {head}");
            println!("(keep the head hash outside the database and pass it later as --expect-head: it shows whether events were rewritten or cut off)");
            Ok(())
        }
        AuditVerdict::Altered { seq } => bail!("audit event {seq} has been altered"),
        AuditVerdict::Broken { seq } => bail!(
            "the audit chain breaks between events {} and {seq}: one was altered with its hash recomputed, or {seq} was inserted",
            seq - 1
        ),
        AuditVerdict::HeadMissing { head } => bail!(
            "the audit chain no longer passes through head {head}: events were rewritten or the newest ones removed"
        ),
        AuditVerdict::Removed { seq } => bail!("audit event {seq} has been removed"),
    }
}

/// Registers the demo agencies and accounts and writes how to sign in, with
/// a token for each demo account, to a file only the service's user may
/// read (`demo-credentials.txt` in the data directory, 0600), whose path is
/// printed: standard output ends up in service logs, which must hold no
/// secrets.
async fn demo_people(store: &Store, config: &Config) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let (bind, data_dir) = (config.bind, &config.data_dir);
    let (password, users) = crate::demo::load_people(store, Utc::now()).await?;
    if users.is_empty() {
        return Ok(());
    }
    // A youth worker's safety-mapping session, recorded by the demo's
    // field officer.
    if let Some(officer) = users.iter().find(|u| u.role == Role::FieldOfficer) {
        let facilitator = crate::service::sessions::viewer_of(
            officer,
            crate::domain::viewer::Credential::Session,
        );
        crate::demo::load_perceptions(store, &facilitator, &config.rules(), Utc::now())
            .await
            .map_err(|e| anyhow::anyhow!("loading the demo safety-mapping session: {e:?}"))?;
    }
    let mut out = format!("Demo accounts (made-up; the same password for each): {password}\n");
    let mut example = None;
    for user in &users {
        // Coordinators and administrators get no token: theirs would skip
        // the second factor they set up at first sign-in.
        let token = if user.needs_second_factor() {
            "(sets up an authenticator app at first sign-in)".to_owned()
        } else {
            let (_, token) = store
                .create_token(
                    user.id,
                    "demo token",
                    true,
                    Utc::now() + chrono::Duration::days(90),
                    &Viewer::console(),
                    Utc::now(),
                )
                .await?;
            if user.role == Role::PanelMember {
                example = Some(token.clone());
            }
            format!("token {token}")
        };
        let _ = writeln!(
            out,
            "  {:<17} {:<14} {:<26} {token}",
            user.username,
            user.role.code(),
            user.agency
        );
    }
    let _ = writeln!(out, "Sign in at http://{bind}/");
    if let Some(token) = example {
        let _ = writeln!(out, "Try: curl -H 'Authorization: Bearer {token}' 'http://{bind}/ogc/collections/observations/items?limit=5'");
    }
    crate::store::secure_data_dir(data_dir)
        .with_context(|| format!("preparing {}", data_dir.display()))?;
    let file = data_dir.join("demo-credentials.txt");
    // Replaced, not appended to: each demo load makes a new password.
    if file.exists() {
        std::fs::remove_file(&file).with_context(|| format!("replacing {}", file.display()))?;
    }
    crate::store::private_file(&file).with_context(|| format!("creating {}", file.display()))?;
    std::fs::write(&file, out).with_context(|| format!("writing {}", file.display()))?;
    println!(
        "Demo accounts: {} (readable only by this user; the password and tokens are not printed)",
        file.display()
    );
    println!("Sign in at http://{bind}/");
    Ok(())
}

/// The demo's mapping exercise, set up by its coordinator on the imported
/// wards, so the exercise views and the annotations layer have something
/// to show.
async fn demo_exercise(store: &Store, config: &Config) -> anyhow::Result<()> {
    let Some(coordinator) = store.user_by_name("demo.coordinator").await? else {
        return Ok(());
    };
    let viewer = crate::service::sessions::viewer_of(
        &coordinator,
        crate::domain::viewer::Credential::Session,
    );
    crate::demo::load_exercise(store, &viewer, &config.rules(), Utc::now())
        .await
        .map_err(|e| anyhow::anyhow!("loading the demo exercise: {e:?}"))?;
    Ok(())
}

async fn demo(config: &Config, args: DemoArgs) -> anyhow::Result<()> {
    let store = config.store().await?;
    if let Some(count) = args.synthetic {
        const BATCH: usize = 50_000;
        let started = Instant::now();
        let mut done = 0;
        while done < count {
            let n = BATCH.min(count - done);
            let rows = crate::demo::synthetic_observations(
                config.service_area,
                n,
                args.seed.wrapping_add(done as u64),
                Utc::now(),
            );
            store.create_observations_bulk(&rows).await?;
            done += n;
            eprintln!(
                "synthetic observations: {done}/{count} ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
        return Ok(());
    }
    let loaded = crate::demo::load(&store, Utc::now()).await?;
    if loaded.places == 0 {
        println!("The store already has places; demo data not loaded again.");
    } else {
        println!(
            "Loaded {} places and {} observations in Newport.",
            loaded.places, loaded.observations
        );
    }
    demo_people(&store, config).await
}

fn read_new_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("SAFETYMAP_NEW_PASSWORD") {
        return Ok(password);
    }
    eprintln!("Password (12 or more characters), then Enter:");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn user(config: &Config, command: UserCommand) -> anyhow::Result<()> {
    let store = config.store().await?;
    let console = Viewer::console();
    let now = Utc::now();
    match command {
        UserCommand::Create {
            username,
            name,
            agency,
            role,
            admin,
            agency_name_en,
            agency_name_cy,
            agency_kind,
        } => {
            let Some(role) = Role::from_code(&role) else {
                bail!(
                    "unknown role `{role}`: use field-officer, panel-member, coordinator or admin"
                );
            };
            let username = username.trim().to_lowercase();
            if store.agency(&agency).await?.is_none() {
                let (Some(name_en), Some(name_cy), Some(kind)) =
                    (agency_name_en, agency_name_cy, agency_kind)
                else {
                    bail!("there is no agency `{agency}`: give --agency-name-en, --agency-name-cy and --agency-kind to register it");
                };
                let Some(kind) = AgencyKind::from_code(&kind) else {
                    bail!("unknown agency kind `{kind}`");
                };
                let new = Agency {
                    code: agency.clone(),
                    name_en,
                    name_cy,
                    kind,
                };
                let audit = AuditEntry::by(
                    &console,
                    AuditAction::Collection,
                    "agency",
                    agency.clone(),
                    &agency,
                    Some("registered at the command line"),
                    now,
                );
                store.create_agency(&new, audit).await?;
                println!("agency {agency} registered");
            }
            let password = read_new_password()?;
            if let Err(refusal) = crate::security::password::check(&password, &[&username, &name]) {
                bail!("{}: {}", refusal.code, refusal.message);
            }
            let new = NewUser {
                username,
                display_name: name,
                agency: agency.clone(),
                role,
                admin: admin || role == Role::Admin,
                password_hash: crate::security::password::hash(&password)
                    .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?,
            };
            let audit = AuditEntry::by(
                &console,
                AuditAction::Collection,
                "user",
                "",
                &agency,
                Some("created at the command line"),
                now,
            );
            let user = store.create_user(&new, audit).await?;
            println!(
                "user {} created: {} ({}{}) in {}",
                user.id,
                user.username,
                user.role.code(),
                if user.admin { ", admin" } else { "" },
                user.agency
            );
            if user.needs_second_factor() {
                println!("they set up an authenticator app when they first sign in");
            }
        }
        UserCommand::List => {
            for u in store.users(None).await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{state}",
                    u.id,
                    u.username,
                    u.role.code(),
                    if u.admin { "admin" } else { "-" },
                    u.agency
                );
            }
        }
        UserCommand::Disable { username } => {
            let Some(user) = store.user_by_name(&username.to_lowercase()).await? else {
                bail!("no user {username}");
            };
            let change = UserChange {
                disabled: Some(true),
                ..UserChange::default()
            };
            let audit = AuditEntry::by(
                &console,
                AuditAction::Alteration,
                "user",
                user.id.to_string(),
                &user.agency,
                Some("disabled at the command line"),
                now,
            );
            store.update_user(user.id, &change, audit).await?;
            println!("user {username} disabled; their sessions have ended");
        }
    }
    Ok(())
}

async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    let store = config.store().await?;
    match command {
        TokenCommand::Create {
            user,
            name,
            scope,
            expires_in_days,
        } => {
            let write = match scope.as_str() {
                "read" => false,
                "write" => true,
                other => bail!("unknown scope `{other}`: use read or write"),
            };
            let Some(user) = store.user_by_name(&user.to_lowercase()).await? else {
                bail!("no user {user}");
            };
            let expires = Utc::now() + chrono::Duration::days(expires_in_days);
            let (record, token) = store
                .create_token(
                    user.id,
                    &name,
                    write,
                    expires,
                    &Viewer::console(),
                    Utc::now(),
                )
                .await?;
            println!(
                "token {} for {} ({}, acting as {}); expires {}; shown once:",
                record.id,
                record.name,
                record.scope(),
                user.username,
                record.expires_at
            );
            println!("{token}");
        }
        TokenCommand::Revoke { id } => {
            if store
                .revoke_token(id, &Viewer::console(), Utc::now())
                .await?
            {
                println!("token {id} revoked");
            } else {
                bail!("no live token {id}");
            }
        }
        TokenCommand::List => {
            for t in store.tokens(None).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if !t.is_live(Utc::now()) {
                    "expired"
                } else {
                    "live"
                };
                println!(
                    "{}\tuser {}\t{}\t{}\t{state}",
                    t.id,
                    t.user_id,
                    t.scope(),
                    t.name
                );
            }
        }
    }
    Ok(())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    // /metrics answers on the public address to whoever holds the token,
    // unthrottled: it must not be guessable.
    if config
        .metrics_token
        .as_deref()
        .is_some_and(|t| !t.is_empty() && t.len() < 32)
    {
        bail!("--metrics-token must be at least 32 characters (e.g. `openssl rand -hex 24`)");
    }
    if let Some(mail) = config.mail() {
        mail.check().map_err(anyhow::Error::msg)?;
    }
    let store = config.service_store().await?;
    // SQLite keeps one instance: its in-memory state follows only its own
    // writes and the command line's. A second `serve` on the same file says
    // so and stops (the lock goes with the process).
    let _single = match (store.backend(), &config.database_url) {
        (Backend::Sqlite, None) => Some(single_instance(&config.data_dir)?),
        _ => None,
    };
    if config.demo_on_empty
        && store.backend() == Backend::Sqlite
        && store.count_observations().await? == 0
        && !store.has_users().await?
    {
        let loaded = crate::demo::load(&store, Utc::now()).await?;
        println!(
            "Empty store: loaded the demo ({} places, {} observations in Newport).",
            loaded.places, loaded.observations
        );
        demo_people(&store, config).await?;
        // Real recorded crime as the context layer, when the shared open
        // data sits beside the project (it is never copied into it).
        // Newport's wards and LSOAs from the shared open data, for areas.
        let boundaries: Vec<PathBuf> = SHARED_BOUNDARIES
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
            .collect();
        if boundaries.is_empty() {
            println!("No boundary files under ../shared/data/boundaries: no areas until some are imported (`safetymap import areas <file>`).");
        } else if store.areas().await?.is_empty() {
            import_areas(config, &boundaries, None).await?;
            demo_exercise(&store, config).await?;
        }
        let shared = std::path::Path::new(SHARED_POLICE_UK);
        if shared.is_dir() {
            let files = csv_files(&[shared.to_path_buf()])?;
            import_police_files(&store, config.rules().service_area, &files).await?;
        } else {
            println!(
                "No police.uk data at {SHARED_POLICE_UK}: the recorded-crime context layer starts empty \
                 (load it with `safetymap import police-uk <folder>`)."
            );
        }
    }
    let started = Instant::now();
    let state = AppState::load(
        store.clone(),
        config.rules(),
        config.settings(),
        Clock::system(),
    )
    .await?
    .with_basemap(config.basemap().await?);
    tokio::spawn(housekeeping(
        state.clone(),
        config.retention_grace_days,
        Duration::from_secs(config.retention_interval_minutes.max(1) * 60),
    ));
    tracing::info!(
        observations = state.index.len(),
        seconds = started.elapsed().as_secs_f64(),
        "index loaded"
    );
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let address = listener.local_addr()?;
    let workers = config.http_workers.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if let Some(bind) = config.metrics_bind {
        let metrics = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding the metrics address {bind}"))?;
        println!("metrics on http://{}/metrics", metrics.local_addr()?);
        let router = crate::api::operations::router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics, router).await {
                tracing::error!(error = %e, "the metrics address stopped");
            }
        });
    }
    println!("safetymap listening on http://{address}");
    crate::server::serve(listener, || app(state.fork()), workers, shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

/// Holds the data directory's instance lock for as long as it is kept.
fn single_instance(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = data_dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another `safetymap serve` is already running on {}: the embedded SQLite store keeps a single instance. \
             Stop the other one, or run several instances on PostgreSQL (DATABASE_URL), which keeps them coherent",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// The jobs `serve` runs: every `retention_every`, run retention and clear
/// out ended sessions. (Changes made by other instances and the command
/// line arrive through the change stream: `service::changes`.)
async fn housekeeping(state: AppState, grace_days: i64, retention_every: Duration) {
    let mut ticks = tokio::time::interval(Duration::from_secs(30));
    let mut last_retention: Option<Instant> = None;
    loop {
        ticks.tick().await;
        if last_retention.is_some_and(|at| at.elapsed() < retention_every) {
            continue;
        }
        last_retention = Some(Instant::now());
        let now = state.clock.now();
        match state.observations.apply_retention(now, grace_days).await {
            Ok(report) => tracing::info!(
                erased = report.erased,
                due = report.due_for_review,
                "retention run"
            ),
            Err(e) => tracing::warn!(error = %e, "retention run failed"),
        }
        let policy = &state.settings.sessions;
        if let Err(e) = state
            .store
            .end_stale_sessions(now - policy.idle, now - policy.absolute)
            .await
        {
            tracing::warn!(error = %e, "clearing ended sessions failed");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
