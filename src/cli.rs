//! The command line: `serve` (the default), `migrate`, `demo`, `token`.
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
use crate::domain::observation::ValidationRules;
use crate::domain::vocabulary::Role;
use crate::store::{Backend, Store};

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
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
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

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints it alone on the last line. It is shown once.
    Create {
        /// Who or what it is for.
        #[arg(long)]
        name: String,
        /// field-officer, panel-member, coordinator or admin.
        #[arg(long)]
        role: String,
        /// The agency it acts for.
        #[arg(long, default_value = "newport-council")]
        agency: String,
        /// Days until it expires; default: never.
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3650))]
        expires_in_days: Option<i64>,
    },
    /// Revoke a token by id (running servers stop accepting it within the token cache time).
    Revoke {
        /// Token id, from `token list`.
        id: i64,
    },
    /// List tokens (never their secrets).
    List,
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
        }
    }

    async fn store(&self) -> anyhow::Result<Store> {
        let store = Store::open(self.database_url.as_deref(), &self.data_dir)
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
        Command::Token(command) => token(&config, command).await,
        Command::Audit(AuditCommand::Verify { expect_head }) => {
            audit_verify(&config, expect_head.as_deref()).await
        }
    }
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

async fn demo_tokens(store: &Store) -> anyhow::Result<String> {
    println!("Demo tokens (shown once; each acts for a demo agency):");
    let mut last = String::new();
    for (role, agency) in [
        (Role::PanelMember, "gwent-police"),
        (Role::FieldOfficer, "newport-council-parks"),
        (Role::Admin, "newport-council"),
        (Role::Coordinator, "newport-council-licensing"),
    ] {
        let (_, token) = store
            .create_token(&format!("demo {}", role.code()), role, agency, None)
            .await?;
        println!("  {:<14} {:<27} {token}", role.code(), agency);
        last = token;
    }
    Ok(last)
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
    let token = demo_tokens(&store).await?;
    println!("Try: curl -H 'Authorization: Bearer {token}' 'http://{}/ogc/collections/observations/items?limit=5'", config.bind);
    Ok(())
}

async fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    let store = config.store().await?;
    match command {
        TokenCommand::Create {
            name,
            role,
            agency,
            expires_in_days,
        } => {
            let Some(role) = Role::from_code(&role) else {
                bail!(
                    "unknown role `{role}`: use field-officer, panel-member, coordinator or admin"
                );
            };
            let expires = expires_in_days.map(|d| Utc::now() + chrono::Duration::days(d));
            let (record, token) = store.create_token(&name, role, &agency, expires).await?;
            println!(
                "token {} for {} ({}, {}); shown once:",
                record.id, record.name, record.role, record.agency
            );
            println!("{token}");
        }
        TokenCommand::Revoke { id } => {
            if store.revoke_token(id).await? {
                println!("token {id} revoked");
            } else {
                bail!("no live token {id}");
            }
        }
        TokenCommand::List => {
            for t in store.tokens().await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if !t.is_live(Utc::now()) {
                    "expired"
                } else {
                    "live"
                };
                println!("{}\t{}\t{}\t{}\t{state}", t.id, t.role, t.agency, t.name);
            }
        }
    }
    Ok(())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let store = config.store().await?;
    if config.demo_on_empty
        && store.backend() == Backend::Sqlite
        && store.count_observations().await? == 0
        && store.tokens().await?.is_empty()
    {
        let loaded = crate::demo::load(&store, Utc::now()).await?;
        println!(
            "Empty store: loaded the demo ({} places, {} observations in Newport).",
            loaded.places, loaded.observations
        );
        let token = demo_tokens(&store).await?;
        println!("Try: curl -H 'Authorization: Bearer {token}' 'http://{}/ogc/collections/observations/items?limit=5'", config.bind);
    }
    let started = Instant::now();
    let state = AppState::load(store.clone(), config.rules(), config.settings()).await?;
    tracing::info!(
        observations = state.index.len(),
        seconds = started.elapsed().as_secs_f64(),
        "index loaded"
    );
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    println!("safetymap listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    store.close().await;
    Ok(())
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
