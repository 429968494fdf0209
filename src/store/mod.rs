//! The store: the source of truth, on PostgreSQL + PostGIS or SQLite.
//!
//! Both backends run the same SQL through sqlx's `Any` driver; only the
//! migrations differ, by dialect (`migrations/postgres`, `migrations/sqlite`).
//! Columns use types both dialects share (text, 64-bit integers, doubles), so
//! there is one piece of code per query. PostGIS' `geom` columns are derived
//! by the database from `lon`/`lat` and never read back here.

mod observations;
pub use observations::{Created, IdempotencyKey, Provenance, Revision};
pub mod alerts;
pub mod areas;
pub mod audit;
pub mod changes;
pub mod exercises;
pub mod people;
pub mod perceptions;
pub mod places;
pub mod police;
pub mod tokens;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};

pub use areas::{AreaImport, StoredArea};
pub use audit::{AuditEntry, AuditEvent, AuditQuery, AuditVerdict, AuditWriter};
pub use observations::IndexRow;
pub use people::{Agency, NewUser, Session, SessionStage, SignIn, SignInAttempt, User, UserChange};
pub use places::{NewPlace, PlaceImport};
pub use tokens::TokenRecord;

/// A write transaction on either backend.
pub(crate) type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// What lets the store wrap and open a [`Recorded`](crate::privacy::Recorded)
/// observation: only this module can make one.
#[derive(Debug)]
pub struct Key(());

const KEY: Key = Key(());

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default when `DATABASE_URL` is unset).
    Sqlite,
    /// PostgreSQL with PostGIS (the deployment store).
    Postgres,
}

/// Errors from the store, each with what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the store was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row does not parse back into the domain.
    #[error("stored record {id} is unreadable: {what}")]
    Corrupt {
        /// The row's id.
        id: i64,
        /// What was wrong.
        what: String,
    },
    /// An idempotency key came back with a different request body.
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    /// A place link names no registered place.
    #[error("there is no place {0}")]
    UnknownPlace(i64),
    /// The record changed between reading and writing it.
    #[error("the record changed while it was being edited")]
    Conflict,
    /// A name that must be unique is taken.
    #[error("that {0} is taken")]
    Taken(&'static str),
    /// No such record.
    #[error("there is no such {0}")]
    NotFound(&'static str),
    /// The exercise is frozen: what the panel saw no longer changes.
    #[error("the exercise is frozen")]
    Frozen,
    /// A link (the named field) points at nothing.
    #[error("{0} names nothing that exists")]
    UnknownLink(&'static str),
    /// The record is still referred to (by the named kind of record).
    #[error("still used by an {0}")]
    InUse(&'static str),
    /// An account names no registered agency.
    #[error("there is no agency {0}")]
    UnknownAgency(String),
    /// The database was found out of reach moments ago: refused at once
    /// rather than waiting again (see [`Store::begin_write`]).
    #[error("the database was out of reach moments ago")]
    Unavailable,
    /// The data directory could not be made, secured or written in.
    #[error("the data directory {path} cannot be used: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether this is the database being out of reach (down, restarting,
    /// the pool unable to connect in time, or busy past waiting) rather than
    /// a fault in the request or the data: answered 503, and worth retrying.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable => true,
            StoreError::Database { source, .. } => out_of_reach(source),
            _ => false,
        }
    }
}

/// Whether a driver error says the database is out of reach.
fn out_of_reach(source: &sqlx::Error) -> bool {
    match source {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: connection exceptions (08…), insufficient
            // resources (53…: disk full, out of memory, too many
            // connections), the server shutting down or starting
            // (57P01–57P03), a statement cancelled by its timeout (57014), a
            // session ended for idling (25P03 in a transaction, 57P05 out).
            // SQLite: busy or locked past the busy timeout (5, 6 and their
            // extended codes 261, 517), the disk full (13).
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(
                    code.as_ref(),
                    "57P01"
                        | "57P02"
                        | "57P03"
                        | "57P05"
                        | "57014"
                        | "25P03"
                        | "5"
                        | "6"
                        | "261"
                        | "517"
                        | "13"
                )
        }
        _ => false,
    }
}

/// Adds what the store was doing to a driver error.
trait Context<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Database { context, source })
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The store handle; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The PostgreSQL URL (for the change stream's notification connection).
    url: Option<String>,
    /// For statements that may rightly outlast a request's statement
    /// timeout: migrations and the streams that fill memory at start-up and
    /// on a resync (every live observation, every police.uk row, the whole
    /// audit chain). On PostgreSQL a small pool of its own, connected when
    /// first needed, whose sessions have no statement timeout; on SQLite
    /// (which has none) the same pool.
    long: AnyPool,
    /// Serialises write transactions. SQLite allows one writer at a time and
    /// a deferred transaction that reads before it writes can fail to upgrade
    /// its lock; on both backends it also keeps the derived index updated in
    /// commit order (see `service`).
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// When a write last found the database out of reach; writes queued
    /// behind the gate meanwhile are refused at once instead of each waiting
    /// out the pool's timeout in turn.
    down_since: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// How long after finding the database out of reach writes are refused
/// without trying (one tries again after it).
const DOWN_FOR: Duration = Duration::from_secs(1);

/// How long a request's statement may run on PostgreSQL (waiting for a lock
/// included) before the database cancels it, unless told otherwise
/// (`SAFETYMAP_STATEMENT_TIMEOUT_MS`). Together with the pool's two-second
/// acquire timeout it bounds how long a request can hang on a database that
/// is up but stuck: a row another instance holds, a table locked by an
/// operator's maintenance, a query starved of I/O. The cancelled request is
/// answered 503 `store-unavailable` with Retry-After, never left hanging.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a PostgreSQL session may sit idle inside a transaction before
/// the database ends it. No transaction of ours waits on anything but the
/// database, so one idle this long belongs to an instance that hung or lost
/// its network while holding locks; ending it frees the rows it held for
/// every other instance instead of leaving them locked until TCP gives up
/// (hours).
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(30);

/// Makes the data directory (0700) if it is missing, and refuses one that
/// others may write to: the embedded store holds password hashes, TOTP
/// secrets and every record. An existing one is narrowed to 0700.
pub fn secure_data_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "the data directory is writable by group or others (mode {:o}); run `chmod 700` on it",
            mode & 0o777
        )));
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    // SQLite makes its journal (-wal, -shm) beside the database: in a
    // directory it cannot write in, every connection fails and the pool
    // would only say it timed out. Say why at once instead.
    let probe = dir.join(".safetymap-write-check");
    match std::fs::File::create(&probe) {
        Ok(_) => std::fs::remove_file(&probe),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!(
                "cannot write in it ({e}); the store keeps its database and journal there, so the \
                 directory must be writable by the user running safetymap (uid {})",
                std::fs::metadata("/proc/self")
                    .map_or(0, |m| std::os::unix::fs::MetadataExt::uid(&m))
            ),
        )),
    }
}

/// Creates `file` readable and writable by its owner only (0600), or
/// narrows an existing one to that. SQLite gives its WAL and shared-memory
/// files the database file's permissions.
pub fn private_file(file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if file.exists() {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map(drop)
    }
}

/// Sets a PostgreSQL session's timeouts: statements cancelled after
/// `statement_timeout` (none without one), and the session ended after
/// [`IDLE_IN_TRANSACTION`] idle in a transaction. Set on the session, so a
/// role or database default (or its absence) does not decide how long a
/// request may hang.
async fn postgres_session(
    conn: &mut sqlx::AnyConnection,
    statement_timeout: Option<Duration>,
) -> Result<(), sqlx::Error> {
    // 0 is PostgreSQL's "no timeout".
    let timeout = statement_timeout.map_or(0, |t| t.as_millis().max(1));
    conn.execute(format!("SET statement_timeout = {timeout}").as_str())
        .await?;
    let idle = IDLE_IN_TRANSACTION.as_millis();
    conn.execute(format!("SET idle_in_transaction_session_timeout = {idle}").as_str())
        .await?;
    Ok(())
}

/// Bytes the SQLite readiness check writes and commits (see
/// [`Store::ready_for_writes`]).
const READINESS_HEADROOM: i64 = 64 * 1024;

impl Store {
    /// Opens the store: PostgreSQL when `database_url` is given, otherwise
    /// the SQLite file `safetymap.db` under `data_dir` (created if missing,
    /// WAL journal, `synchronous=FULL` so an acknowledged write survives a
    /// power cut). Does not migrate; call [`Store::migrate`].
    ///
    /// With a `statement_timeout` (the service's, see [`STATEMENT_TIMEOUT`]),
    /// PostgreSQL cancels any statement on the store's connections that runs
    /// longer; migrations and the streams that fill memory are not bounded.
    /// Without one (one-off commands), nothing is.
    pub async fn open(
        database_url: Option<&str>,
        data_dir: &Path,
        statement_timeout: Option<Duration>,
    ) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (url, backend) = match database_url {
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                (url.to_owned(), Backend::Postgres)
            }
            Some(url) if url.starts_with("sqlite:") => (url.to_owned(), Backend::Sqlite),
            Some(_) => {
                return Err(StoreError::Database {
                    context: "reading DATABASE_URL",
                    source: sqlx::Error::Configuration(
                        "DATABASE_URL must start with postgres:// or sqlite:".into(),
                    ),
                })
            }
            None => {
                secure_data_dir(data_dir).map_err(|source| StoreError::DataDir {
                    path: data_dir.display().to_string(),
                    source,
                })?;
                let file = data_dir.join("safetymap.db");
                private_file(&file).map_err(|source| StoreError::DataDir {
                    path: file.display().to_string(),
                    source,
                })?;
                (
                    format!("sqlite://{}?mode=rwc", file.display()),
                    Backend::Sqlite,
                )
            }
        };
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            // PostgreSQL down or restarting: refuse within two seconds rather
            // than hang. SQLite is a local file; its connections are only
            // ever busy, so it waits as long as its busy timeout.
            .acquire_timeout(match backend {
                Backend::Sqlite => Duration::from_secs(10),
                Backend::Postgres => Duration::from_secs(2),
            })
            // A connection whose COMMIT failed (a full disk) still counts
            // itself inside a transaction in sqlx-sqlite 0.8, and every later
            // BEGIN on it fails ("attempted to call begin_with at non-zero
            // transaction depth"): the pool is poisoned for good. Such a
            // connection is closed instead of going back to the pool. Upstream:
            // https://github.com/transact-rs/sqlx/issues/3932 and
            // https://github.com/transact-rs/sqlx/issues/4031. The ping first
            // runs any rollback a dropped transaction queued, so a connection
            // that merely rolled back is kept.
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::Connection;
                    conn.ping().await?;
                    Ok(!conn.is_in_transaction())
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        // Erased records leave no readable remains in free pages.
                        conn.execute("PRAGMA secure_delete = ON").await?;
                    } else {
                        postgres_session(conn, statement_timeout).await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await.ctx("connecting")?;
        let long = match backend {
            Backend::Sqlite => pool.clone(),
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(2)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(10))
                .idle_timeout(Duration::from_secs(60))
                // A migration holds locks: one left idle by a hung instance
                // must not hold them for good either, so only the statement
                // timeout differs.
                .after_connect(|conn, _meta| Box::pin(postgres_session(conn, None)))
                .connect_lazy(&url)
                .ctx("connecting")?,
        };
        Ok(Store {
            url: (backend == Backend::Postgres).then(|| url.clone()),
            long,
            pool,
            backend,
            write_gate: Arc::new(tokio::sync::Mutex::new(())),
            down_since: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    /// Applies any pending migrations for this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.long).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.long).await?,
        }
        self.fill_shown_positions().await?;
        Ok(())
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .ctx("checking the store is reachable")?;
        Ok(())
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting up to the busy timeout): a deferred
    /// transaction that reads before it writes fails outright if another
    /// connection, or another process such as the CLI, wrote in between.
    ///
    /// Moments after a write found the database out of reach, fails at once
    /// (as `PoolTimedOut`), so writes queued behind the write gate during an
    /// outage are answered within the pool's timeout, not one after another.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        let down = *self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        if down.is_some_and(|at| at.elapsed() < DOWN_FOR) {
            return Err(sqlx::Error::PoolTimedOut);
        }
        let began = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        let unreachable = began.as_ref().err().is_some_and(out_of_reach);
        *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) =
            unreachable.then(std::time::Instant::now);
        began
    }

    /// Whether a write can be made within two seconds (for `/readyz`).
    ///
    /// On PostgreSQL a write transaction begins and is rolled back. On
    /// SQLite that proves little: beginning takes only a lock, so it
    /// succeeds on a full disk. There the check commits a rewrite of one
    /// row carrying [`READINESS_HEADROOM`] bytes — more than a report and
    /// its audit and change rows — so a disk that cannot take the next
    /// write says so, and says ready again once space is back.
    pub async fn ready_for_writes(&self) -> Result<(), StoreError> {
        let attempt = async {
            let mut tx = self.begin_write().await.ctx("beginning a write")?;
            match self.backend {
                Backend::Postgres => tx.rollback().await.ctx("rolling back a readiness check"),
                Backend::Sqlite => {
                    sqlx::query(
                        "UPDATE readiness SET checked_at = ?, headroom = zeroblob(?) WHERE id = 1",
                    )
                    .bind(chrono::Utc::now().to_rfc3339())
                    .bind(READINESS_HEADROOM)
                    .execute(&mut *tx)
                    .await
                    .ctx("writing the readiness row")?;
                    tx.commit().await.ctx("committing the readiness row")
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Err(StoreError::Unavailable),
        }
    }

    /// Takes the write gate; hold it across a write transaction and the index
    /// update that follows it.
    ///
    /// Waiting for it is not bounded: it is held across whole transactions,
    /// some long and legitimate (a place import of 20,000 rows), and a write
    /// refused meanwhile would be worse than one delayed. A write stuck on
    /// the database is bounded by the statement timeout instead, so the
    /// queue behind it drains.
    pub async fn write_gate(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write_gate.lock().await
    }

    /// How the connection pool is used now (for metrics).
    pub fn pool_use(&self) -> PoolUse {
        PoolUse {
            open: self.pool.size() as usize,
            idle: self.pool.num_idle(),
            max: self.pool.options().get_max_connections() as usize,
        }
    }

    /// Closes every connection (used before reopening in tests and at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
        self.long.close().await;
    }
}

/// Connections of the store's pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolUse {
    /// Connections open.
    pub open: usize,
    /// Of those, how many are idle.
    pub idle: usize,
    /// The most there may be.
    pub max: usize,
}

/// The id already made in `table` for a create's `client_key` (its
/// principal and Idempotency-Key), if any: a retry returns it.
async fn replayed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    client_key: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    let Some(key) = client_key else {
        return Ok(None);
    };
    sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE client_key = $1"))
        .bind(key)
        .fetch_optional(&mut **tx)
        .await
        .ctx("checking an idempotency key")
}

/// Reads a column, naming it when it is missing or of the wrong type.
fn column<'r, T>(row: &'r AnyRow, name: &'static str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(name).ctx("reading a column")
}

impl Store {
    /// The connection pool, for tests that inspect connection settings.
    #[doc(hidden)]
    pub fn pool_for_tests(&self) -> AnyPool {
        self.pool.clone()
    }
}
