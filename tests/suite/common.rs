//! The harness: a fresh store per test on either backend, the app in
//! process, and request helpers.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use safetymap::api::{app, AppState, Settings};
use safetymap::clock::Clock;
use safetymap::domain::observation::ValidationRules;
use safetymap::domain::viewer::Viewer;
use safetymap::domain::vocabulary::{AgencyKind, AuditAction, Role};
use safetymap::store::{Agency, AuditEntry, NewUser, Store, User};
use serde_json::{json, Value};
use sqlx::Connection;
use tower::ServiceExt;

/// Which backend a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a scenario on both stores, as two tests named `on_sqlite` and
/// `on_postgres` inside a module named for the scenario.
macro_rules! on_both_stores {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn scenario($backend: $crate::common::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                scenario($crate::common::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                scenario($crate::common::Backend::Postgres).await
            }
        }
    )*};
}

/// Where a test's database lives, so it can be reopened after a "restart".
pub struct TestDatabase {
    url: Option<String>,
    dir: tempfile::TempDir,
}

fn postgres_admin_url() -> String {
    std::env::var("SAFETYMAP_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "SAFETYMAP_TEST_POSTGRES_URL is not set. The PostgreSQL half of the suite needs it: \
             run scripts/test (it starts a throwaway PostGIS cluster), or run only the SQLite \
             half with `cargo test on_sqlite`."
        )
    })
}

/// Makes a fresh PostGIS database copied from a template that has the
/// extension, so each test starts empty and tests never share rows.
async fn fresh_postgres_database() -> String {
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to SAFETYMAP_TEST_POSTGRES_URL");
    let base = admin.rsplit_once('/').expect("URL has a database").0;
    // One creator at a time: a template may not be copied while anyone is
    // connected to it, including whoever is still setting it up.
    sqlx::query("SELECT pg_advisory_lock(7243001)")
        .execute(&mut conn)
        .await
        .expect("advisory lock");
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = 'safetymap_test_template'")
            .fetch_optional(&mut conn)
            .await
            .expect("look for template");
    if exists.is_none() {
        sqlx::query("CREATE DATABASE safetymap_test_template")
            .execute(&mut conn)
            .await
            .expect("create template");
        let mut t = sqlx::PgConnection::connect(&format!("{base}/safetymap_test_template"))
            .await
            .expect("connect to template");
        sqlx::query("CREATE EXTENSION IF NOT EXISTS postgis")
            .execute(&mut t)
            .await
            .expect("PostGIS must be installed (postgresql-15-postgis-3)");
        t.close().await.expect("close template");
    }
    let name = format!("safetymap_test_{}", hex::encode(rand::random::<[u8; 8]>()));
    sqlx::query(&format!(
        "CREATE DATABASE {name} TEMPLATE safetymap_test_template"
    ))
    .execute(&mut conn)
    .await
    .expect("create test database");
    sqlx::query("SELECT pg_advisory_unlock(7243001)")
        .execute(&mut conn)
        .await
        .expect("advisory unlock");
    conn.close().await.ok();
    format!("{base}/{name}")
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> TestDatabase {
        let url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_database().await),
        };
        TestDatabase {
            url,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Opens (or reopens) the store and migrates it.
    pub async fn open(&self) -> Store {
        let store = Store::open(
            self.url.as_deref(),
            self.dir.path(),
            Some(safetymap::store::STATEMENT_TIMEOUT),
        )
        .await
        .expect("open store");
        store.migrate().await.expect("migrate");
        store
    }

    /// The SQLite file, for the SQLite store.
    pub fn sqlite_file(&self) -> PathBuf {
        self.dir.path().join("safetymap.db")
    }

    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The same database reached at another URL (through a proxy).
    pub fn through(self, url: &str) -> TestDatabase {
        TestDatabase {
            url: Some(url.to_owned()),
            dir: self.dir,
        }
    }

    /// A plain connection to the database, going round the application (to
    /// tamper with it as an intruder would).
    pub async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let url = match &self.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.sqlite_file().display()),
        };
        sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("raw connection")
    }

    /// The `safetymap` binary, set to run on this database.
    pub fn command(&self) -> std::process::Command {
        self.command_via(std::process::Command::new(env!("CARGO_BIN_EXE_safetymap")))
    }

    /// `command` (the binary, or a wrapper whose last argument so far is
    /// the binary) set to run on this database.
    pub fn command_via(&self, mut command: std::process::Command) -> std::process::Command {
        command
            .env_remove("DATABASE_URL")
            .env("SAFETYMAP_DATA_DIR", self.dir.path())
            .stdin(std::process::Stdio::null());
        if let Some(url) = &self.url {
            command.env("DATABASE_URL", url);
        }
        command
    }

    /// `safetymap serve` on this database on a free port, with `env` on
    /// top (no demo data), once it says it is listening. Its log goes to
    /// [`Served::log`].
    pub fn serve(&self, env: &[(&str, &str)]) -> Served {
        self.serve_with(self.command(), env)
    }

    /// [`TestDatabase::serve`] through `command`, which runs the binary
    /// (directly, or inside a wrapper) on this database: `serve` is added
    /// to its arguments.
    pub fn serve_with(&self, mut command: std::process::Command, env: &[(&str, &str)]) -> Served {
        use std::io::BufRead;
        let port = {
            let free = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            free.local_addr().expect("addr").port()
        };
        let log = self.dir.path().join(format!("serve-{port}.log"));
        command
            .arg("serve")
            .env("SAFETYMAP_BIND", format!("127.0.0.1:{port}"))
            .env("SAFETYMAP_DEMO_ON_EMPTY", "false")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("serve");
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut said = Vec::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).expect("read") == 0 {
                let _ = child.wait();
                panic!(
                    "the server stopped before listening: {said:?}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            let listening = line.contains("listening on");
            said.push(line.trim_end().to_owned());
            if listening {
                break;
            }
        }
        // Keep reading what it prints, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        Served {
            child,
            port,
            said,
            log,
        }
    }

    /// Runs the `safetymap` binary on this database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_with_env(args, &[])
    }

    /// Runs the command line with extra environment variables.
    pub fn cli_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = self.command();
        for (name, value) in env {
            command.env(name, value);
        }
        command.args(args).output().expect("run safetymap")
    }
}

/// A running `safetymap serve` (see [`TestDatabase::serve`]).
pub struct Served {
    pub child: std::process::Child,
    pub port: u16,
    /// What it printed up to "listening".
    pub said: Vec<String>,
    /// Where its log lines go.
    pub log: PathBuf,
}

impl Served {
    /// Sends `signal` (`-TERM`, `-KILL`) and waits for it to exit.
    pub async fn signal(mut self, signal: &str) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill {signal}");
        tokio::task::spawn_blocking(move || self.child.wait())
            .await
            .expect("join")
            .expect("wait")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One POST of an observation (`n` makes its text and Idempotency-Key) on
/// a fresh connection to `port`: `None` when the connection was refused or
/// closed before a byte came back (never taken), else the status, whether
/// the body arrived whole, and the id it answered.
pub async fn post_raw(port: u16, token: &str, n: usize) -> Option<(u16, bool, Option<i64>)> {
    let answer = post_raw_answer(port, token, n).await?;
    let id = serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|v| v["id"].as_i64());
    Some((answer.status, answer.whole, id))
}

/// [`post_raw`], answering the whole reply.
pub async fn post_raw_answer(port: u16, token: &str, n: usize) -> Option<RawAnswer> {
    // The same body every time for the same `n`, so a retry is a retry.
    static OBSERVED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let observed = OBSERVED.get_or_init(|| {
        (chrono::Utc::now() - chrono::Duration::hours(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    let body = observation(json!({
        "description": format!("Report {n} sent during a restart"),
        "observed_at": observed,
    }))
    .to_string();
    let request = format!(
        "POST /api/observations HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nIdempotency-Key: restart-{n}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http_raw(port, &request).await
}

/// A reply read off the wire by [`http_raw`].
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    /// Whether the body arrived as long as Content-Length said.
    pub whole: bool,
    pub body: String,
}

/// Sends `request` (whole, with `Connection: close`) on a fresh connection
/// to `port`: `None` when the connection was refused or closed before a
/// byte came back.
pub async fn http_raw(port: u16, request: &str) -> Option<RawAnswer> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    if answer.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&answer);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: Option<usize> = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().ok())
        })
        .flatten();
    Some(RawAnswer {
        status,
        head: head.to_owned(),
        whole: length.is_some_and(|n| rest.len() == n),
        body: rest.to_owned(),
    })
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Ids of the features in a FeatureCollection.
    pub fn feature_ids(&self) -> Vec<i64> {
        self.json()["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| f["id"].as_i64().expect("feature id"))
            .collect()
    }
}

/// The app in process, on a fresh store.
pub struct TestApp {
    pub db: TestDatabase,
    pub store: Store,
    pub state: AppState,
    pub router: Router,
}

/// Settings for tests: no token cache, so a revocation by any path shows at once.
pub fn test_settings() -> Settings {
    Settings {
        public_url: None,
        max_body_bytes: 16 * 1024,
        token_cache: Duration::ZERO,
        ..Settings::default()
    }
}

/// A password every test account has (hashed once per test process).
pub const PASSWORD: &str = "heron lantern quarry violet";

fn password_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| safetymap::security::password::hash(PASSWORD).expect("hash"))
        .clone()
}

/// The TOTP secret [`TestApp::session_as`] enrols (RFC 6238's test key).
pub const TOTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

/// A browser session as a test holds it: the cookie and the CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    /// The session a successful sign-in reply started.
    pub fn from_reply(reply: &Reply) -> Session {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let set_cookie = reply
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie");
        Session {
            cookie: set_cookie.split(';').next().expect("cookie").to_owned(),
            csrf: reply.json()["csrf_token"]
                .as_str()
                .expect("csrf")
                .to_owned(),
        }
    }
}

/// Ten years back, so scenarios with fixed 2026 dates keep working.
pub fn rules() -> ValidationRules {
    ValidationRules::new(ValidationRules::WALES, 3650)
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        let db = TestDatabase::new(backend).await;
        TestApp::on(db).await
    }

    /// The app over an existing database, as after a restart.
    pub async fn on(db: TestDatabase) -> TestApp {
        TestApp::with_settings(db, test_settings()).await
    }

    /// The app over a database with given HTTP settings.
    pub async fn with_settings(db: TestDatabase, settings: Settings) -> TestApp {
        let store = db.open().await;
        let state = AppState::load(
            store.clone(),
            rules(),
            settings,
            Clock::manual(chrono::Utc::now()),
        )
        .await
        .expect("load state");
        TestApp {
            router: app(state.clone()),
            db,
            store,
            state,
        }
    }

    /// A second instance of the service on the same database (PostgreSQL),
    /// with state of its own, as behind a load balancer.
    pub async fn another_instance(&self, settings: Settings) -> TestApp {
        let db = TestDatabase {
            url: self.db.url.clone(),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        TestApp::with_settings(db, settings).await
    }

    /// Stops the app and closes the store, keeping the database.
    pub async fn shut_down(self) -> TestDatabase {
        self.store.close().await;
        self.db
    }

    /// Registers an agency if it is new.
    pub async fn agency(&self, code: &str) {
        if self.store.agency(code).await.expect("agency").is_none() {
            let agency = Agency {
                code: code.to_owned(),
                name_en: format!("{code} (en)"),
                name_cy: format!("{code} (cy)"),
                kind: AgencyKind::CouncilDirectorate,
            };
            let audit = AuditEntry::by(
                &Viewer::console(),
                AuditAction::Collection,
                "agency",
                code,
                code,
                None,
                chrono::Utc::now(),
            );
            self.store
                .create_agency(&agency, audit)
                .await
                .expect("create agency");
        }
    }

    /// A new account with a role in an agency (registered if new), with the
    /// password [`PASSWORD`]; administrators get `admin`.
    pub async fn user(&self, role: Role, agency: &str) -> User {
        self.agency(agency).await;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let new = NewUser {
            username: format!("{}.{n}", role.code()),
            display_name: format!("Test {} {n}", role.code()),
            agency: agency.to_owned(),
            role,
            admin: role == Role::Admin,
            password_hash: password_hash(),
        };
        let audit = AuditEntry::by(
            &Viewer::console(),
            AuditAction::Collection,
            "user",
            "",
            agency,
            None,
            chrono::Utc::now(),
        );
        self.store
            .create_user(&new, audit)
            .await
            .expect("create user")
    }

    /// A new account signed in, with its session; coordinators and
    /// administrators are given a second factor ([`TOTP_SECRET`]) first.
    pub async fn session_as(&self, role: Role, agency: &str) -> (User, Session) {
        let user = self.enrolled_user(role, agency).await;
        let secret = user.needs_second_factor().then_some(TOTP_SECRET);
        let session = self.sign_in(&user, secret).await;
        (user, session)
    }

    /// A new account, with a second factor ([`TOTP_SECRET`]) when its role
    /// needs one, as after enrolment.
    pub async fn enrolled_user(&self, role: Role, agency: &str) -> User {
        let user = self.user(role, agency).await;
        if user.needs_second_factor() {
            self.store
                .confirm_totp(user.id, TOTP_SECRET, 0, &[])
                .await
                .expect("enrol a second factor");
        }
        user
    }

    /// A write-scoped token for a new (enrolled) account with this role and
    /// agency: tokens of people who need a second factor and have none do
    /// nothing.
    pub async fn token(&self, role: Role, agency: &str) -> String {
        let user = self.enrolled_user(role, agency).await;
        self.token_for(&user, true).await
    }

    /// A token for an existing account.
    pub async fn token_for(&self, user: &User, write: bool) -> String {
        self.store
            .create_token(
                user.id,
                "test tool",
                write,
                chrono::Utc::now() + chrono::Duration::days(3650),
                &safetymap::domain::viewer::Viewer::console(),
                chrono::Utc::now(),
            )
            .await
            .expect("create token")
            .1
    }

    /// Signs in with a JSON body from a client address.
    pub async fn sign_in_from(&self, body: &Value, client: [u8; 4]) -> Reply {
        self.sign_in_with_headers(body, client, &[]).await
    }

    /// Signs in from a client address with extra headers.
    pub async fn sign_in_with_headers(
        &self,
        body: &Value,
        client: [u8; 4],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/api/session")
            .header("content-type", "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder
            .body(Body::from(serde_json::to_vec(body).expect("json")))
            .expect("request");
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                client, 40000,
            ))));
        self.send(request).await
    }

    /// Signs in as `user` with the test password (and a current TOTP code
    /// when a secret is given); asserts success.
    pub async fn sign_in(&self, user: &User, totp_secret: Option<&str>) -> Session {
        let mut body = json!({ "username": user.username, "password": PASSWORD });
        if let Some(secret) = totp_secret {
            let now = self.state.clock.now().timestamp();
            body["totp"] = json!(safetymap::security::totp::code_at(secret, now).expect("code"));
        }
        let reply = self.sign_in_from(&body, [10, 0, 0, 1]).await;
        Session::from_reply(&reply)
    }

    /// A request carrying a session cookie (and its CSRF token unless
    /// `csrf` is false), with an optional JSON body.
    pub async fn as_session(
        &self,
        method: Method,
        uri: &str,
        session: &Session,
        body: Option<&Value>,
        csrf: bool,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("cookie", &session.cookie);
        if csrf {
            builder = builder.header("x-csrf-token", &session.csrf);
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(
                body.map(|b| Body::from(serde_json::to_vec(b).expect("json")))
                    .unwrap_or_else(Body::empty),
            )
            .expect("request");
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        self.send(request).await
    }

    /// The response to a GET asking for gzip, as a browser does, its body
    /// not yet read.
    pub async fn response(&self, uri: &str, token: &str) -> axum::response::Response {
        let request = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("accept-encoding", "gzip")
            .body(Body::empty())
            .expect("request");
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible")
    }

    pub async fn get(&self, uri: &str, token: &str) -> Reply {
        self.request(Method::GET, uri, Some(token), &[], None).await
    }

    pub async fn send_json(&self, method: Method, uri: &str, token: &str, body: &Value) -> Reply {
        self.request(
            method,
            uri,
            Some(token),
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(body).expect("json")),
        )
        .await
    }

    /// POSTs JSON with an Idempotency-Key.
    pub async fn post_keyed(&self, token: &str, uri: &str, key: &str, body: &Value) -> Reply {
        self.request(
            Method::POST,
            uri,
            Some(token),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", key),
            ],
            Some(serde_json::to_vec(body).expect("json")),
        )
        .await
    }

    /// Creates an observation and returns its id, asserting it was created.
    pub async fn create(&self, token: &str, body: &Value) -> i64 {
        let reply = self
            .send_json(Method::POST, "/api/observations", token, body)
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["id"].as_i64().expect("id")
    }

    /// The items endpoint's feature ids for a query string.
    pub async fn item_ids(&self, token: &str, query: &str) -> Vec<i64> {
        let reply = self
            .get(
                &format!("/ogc/collections/observations/items?{query}"),
                token,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.feature_ids()
    }
}

/// An observation in Newport, seen an hour ago, with fields overridden.
pub fn observation(overrides: Value) -> Value {
    let observed = (chrono::Utc::now() - chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut base = json!({
        "longitude": -2.9977,
        "latitude": 51.5886,
        "observed_at": observed,
        "category": "unsafe-environment",
        "setting": "park",
        "severity": "medium",
        "indicators": ["poor-lighting", "no-cctv"],
        "description": "Path unlit after dusk by the bandstand",
    });
    if let (Some(base), Some(over)) = (base.as_object_mut(), overrides.as_object()) {
        for (k, v) in over {
            base.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Two made-up wards side by side in central Newport, ONS-style.
pub fn wards() -> String {
    let square = |x0: f64| json!({"type": "Polygon", "coordinates": [[[x0, 51.580], [x0 + 0.01, 51.580], [x0 + 0.01, 51.590], [x0, 51.590], [x0, 51.580]]]});
    json!({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": [
        {"type": "Feature", "properties": {"WD13CD": "W05900001", "WD13NM": "Made-up West", "WD13NMW": "Gorllewin Dychmygol"}, "geometry": square(-3.010)},
        {"type": "Feature", "properties": {"WD13CD": "W05900002", "WD13NM": "Made-up East", "WD13NMW": "Dwyrain Dychmygol"}, "geometry": square(-3.000)},
    ]}).to_string()
}
