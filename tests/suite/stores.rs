//! What each store keeps, across restarts, and what analysts can query.

use axum::http::StatusCode;
use safetymap::domain::vocabulary::Role;
use serde_json::json;
use sqlx::Connection;

use crate::common::{
    http_raw, observation, post_raw, post_raw_answer, Backend, TestApp, TestDatabase,
};

on_both_stores! {
    async fn observations_written_before_a_restart_are_served_after_it(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let kept = app.create(&token, &observation(json!({}))).await;
        let withdrawn = app.create(&token, &observation(json!({}))).await;
        app.send_json(axum::http::Method::POST, &format!("/api/observations/{withdrawn}/withdraw"), &token, &json!({"reason": "duplicate"})).await;
        let db = app.shut_down().await;

        let app = TestApp::on(db).await;
        assert_eq!(app.item_ids(&token, "").await, [kept], "tokens and data survive; withdrawn stays out");
        assert_eq!(app.state.index.len(), 1);
    }

    async fn the_demo_loads_places_and_observations_over_every_category_once(backend) {
        let app = TestApp::new(backend).await;
        let loaded = safetymap::demo::load(&app.store, chrono::Utc::now()).await.expect("demo");
        assert_eq!(loaded.observations, safetymap::demo::DEMO_OBSERVATIONS);
        let again = safetymap::demo::load(&app.store, chrono::Utc::now()).await.expect("demo");
        assert_eq!(again.observations, 0, "loading twice adds nothing");
        let db = app.shut_down().await;
        let app = TestApp::on(db).await;
        let token = app.token(Role::Coordinator, "newport-council-licensing").await;
        let page = app.get("/ogc/collections/observations/items?limit=10000", &token).await.json();
        let categories: std::collections::HashSet<_> = page["features"].as_array().expect("features").iter().map(|f| f["properties"]["category"].clone()).collect();
        assert!(categories.len() >= 15, "{categories:?}");
        assert!(page["numberMatched"].as_u64().expect("n") > 250);
    }
}

#[tokio::test]
async fn the_postgis_store_keeps_a_gist_indexed_point_geometry_analysts_can_query() {
    let app = TestApp::new(Backend::Postgres).await;
    let token = app.token(Role::Coordinator, "council").await;
    let id = app
        .create(
            &token,
            &observation(json!({"longitude": -2.9977, "latitude": 51.5886})),
        )
        .await;
    let url = app.db.url().expect("postgres url").to_owned();
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let (wkt, srid): (String, i32) =
        sqlx::query_as("SELECT ST_AsText(geom), ST_SRID(geom) FROM observations WHERE id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .expect("geometry");
    assert_eq!((wkt.as_str(), srid), ("POINT(-2.9977 51.5886)", 4326));
    let gist: String =
        sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE indexname = 'observations_geom'")
            .fetch_one(&mut conn)
            .await
            .expect("index");
    assert!(gist.contains("USING gist (geom)"), "{gist}");
    let near: i64 = sqlx::query_scalar("SELECT count(*) FROM observations WHERE ST_DWithin(geom::geography, ST_MakePoint(-2.998, 51.5886)::geography, 100)")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(near, 1);
}

#[tokio::test]
async fn the_embedded_store_is_a_wal_sqlite_file_with_full_sync() {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let store = db.open().await;
    store.ping().await.expect("ping");
    let url = format!("sqlite://{}", db.sqlite_file().display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open file");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .expect("mode");
    assert_eq!(mode, "wal");
    // synchronous is per connection: check the store's own connections set it.
    let sync: i64 = sqlx::query_scalar::<sqlx::Any, i64>("PRAGMA synchronous")
        .fetch_one(&store.pool_for_tests())
        .await
        .expect("sync");
    assert_eq!(sync, 2, "FULL");
}

on_both_stores! {
    async fn a_connection_whose_commit_failed_never_goes_back_to_the_pool_so_later_writes_still_begin(backend) {
        let app = TestApp::new(backend).await;
        let pool = app.store.pool_for_tests();
        // A COMMIT that fails after the database ended the transaction (as
        // a full disk does on SQLite): sqlx still counts the connection in
        // a transaction, and would hand it out again.
        {
            let mut tx = pool.begin().await.expect("begin");
            sqlx::query("ROLLBACK").execute(&mut *tx).await.expect("the database ends it");
            let _ = tx.commit().await;
        }
        let officer = app.token(Role::FieldOfficer, "council").await;
        for n in 0..12 {
            let made = app.post_keyed(&officer, "/api/observations", &format!("after-{n}"), &observation(json!({}))).await;
            assert_eq!(made.status, StatusCode::CREATED, "write {n} after the failed COMMIT: {}", made.text());
        }
        let ready = app.get("/readyz", "").await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_writes_503_and_readyz_not_ready_and_once_space_is_back_the_retried_report_is_stored_once(
) {
    let app = TestApp::new(Backend::Sqlite).await;
    let officer = app.token(Role::FieldOfficer, "council").await;
    let db = app.shut_down().await;
    // The server runs in its own mount namespace on a 16 MB tmpfs holding a
    // copy of the store; the test reaches that disk through /proc/PID/root.
    let disk = tempfile::tempdir().expect("mount point");
    let mut wrapper = std::process::Command::new("unshare");
    // root needs only a mount namespace; anyone else maps themselves to
    // root in a user namespace of their own to mount there.
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if !root {
        wrapper.args(["--user", "--map-root-user"]);
    }
    wrapper.args([
        "--mount",
        "sh",
        "-c",
        "set -e; mount -t tmpfs -o size=16m,mode=0700 safetymap-full \"$1\"; \
         cp \"$2\"/safetymap.db* \"$1\"/; shift 2; exec \"$@\"",
        "full-disk",
    ]);
    wrapper
        .arg(disk.path())
        .arg(db.sqlite_file().parent().expect("data dir"))
        .arg(env!("CARGO_BIN_EXE_safetymap"));
    let data_dir = disk.path().display().to_string();
    let served = db.serve_with(
        db.command_via(wrapper),
        &[
            ("SAFETYMAP_DATA_DIR", &data_dir),
            ("SAFETYMAP_REPORTS_PER_HOUR", "1000000"),
        ],
    );
    let inside = std::path::PathBuf::from(format!("/proc/{}/root{data_dir}", served.child.id()));
    assert!(
        inside.join("safetymap.db").exists(),
        "the store is on the small disk"
    );
    let ready = |port| async move {
        http_raw(
            port,
            "GET /readyz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("answered")
    };
    assert_eq!(ready(served.port).await.status, 200);
    let first = post_raw(served.port, &officer, 0).await.expect("answered");
    assert_eq!(first.0, 201, "a report before the disk fills");

    // Something else fills the disk.
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(inside.join("filler")).expect("filler");
        let chunk = vec![0u8; 64 * 1024];
        let full = loop {
            if let Err(e) = filler.write_all(&chunk) {
                break e;
            }
        };
        assert_eq!(full.raw_os_error(), Some(28), "ENOSPC: {full}");
    }
    // Reports keep coming until one cannot be committed (the journal had
    // some room left).
    let mut refused = None;
    for n in 1..3000 {
        let answer = post_raw_answer(served.port, &officer, n)
            .await
            .expect("answered");
        if answer.status != 201 {
            refused = Some((n, answer));
            break;
        }
    }
    let (n, answer) = refused.expect("a write fails once the disk is full");
    assert_eq!(
        answer.status, 503,
        "unavailable, not an internal error: {answer:?}"
    );
    let problem: serde_json::Value = serde_json::from_str(&answer.body).expect("problem+json");
    assert_eq!(problem["code"], "store-unavailable", "{problem}");
    assert!(
        answer.head.to_ascii_lowercase().contains("retry-after:"),
        "{}",
        answer.head
    );
    let not_ready = ready(served.port).await;
    assert_eq!(
        not_ready.status, 503,
        "not ready while writes cannot be made: {}",
        not_ready.body
    );
    // Space is freed: the pool was not poisoned by the failed COMMIT.
    std::fs::remove_file(inside.join("filler")).expect("free space");
    assert_eq!(
        ready(served.port).await.status,
        200,
        "ready again without a restart"
    );
    let retried = post_raw(served.port, &officer, n).await.expect("answered");
    assert_eq!(retried.0, 201, "the refused report, retried with its key");
    let again = post_raw(served.port, &officer, n).await.expect("answered");
    assert_eq!(again.2, retried.2, "a second retry answers the same record");
    for later in n + 1..n + 13 {
        let made = post_raw(served.port, &officer, later)
            .await
            .expect("answered");
        assert_eq!(made.0, 201, "write {later} after space came back");
    }
    // Reports 0..n before the refusal, n on its retry, and twelve after:
    // the refused one was not half-stored, and its retries made one record.
    let items = http_raw(
        served.port,
        &format!("GET /ogc/collections/observations/items?limit=10000 HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {officer}\r\nConnection: close\r\n\r\n"),
    )
    .await
    .expect("answered");
    let items: serde_json::Value = serde_json::from_str(&items.body).expect("items");
    let stored = items["features"].as_array().expect("features").len();
    assert_eq!(
        stored,
        n + 13,
        "every acknowledged report once, the refused one once after its retry"
    );
}

#[test]
fn a_second_serve_on_the_same_embedded_store_says_sqlite_keeps_one_instance_and_stops() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime.block_on(TestDatabase::new(Backend::Sqlite));
    // The first is up once its lock is held: `serve` waits for it to listen.
    let first = db.serve(&[]);
    let second = db
        .command()
        .arg("serve")
        .env("SAFETYMAP_BIND", "127.0.0.1:0")
        .env("SAFETYMAP_DEMO_ON_EMPTY", "false")
        .output()
        .expect("second");
    drop(first);
    assert!(!second.status.success(), "the second one stops");
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("already running")
            && said.contains("single instance")
            && said.contains("PostgreSQL"),
        "{said}"
    );
}

#[test]
fn an_embedded_store_in_a_directory_it_cannot_write_stops_at_once_saying_so() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join("data");
    std::fs::create_dir(&dir).expect("data dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    // root writes anywhere: then run as nobody, owning the directory.
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(1)
        == 0;
    if root {
        std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o711))
            .expect("chmod");
        let owned = std::process::Command::new("chown")
            .args(["65534:65534"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(owned.success());
    }
    let migrate = || {
        let mut command = if root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(env!("CARGO_BIN_EXE_safetymap"));
            c
        } else {
            std::process::Command::new(env!("CARGO_BIN_EXE_safetymap"))
        };
        command
            .arg("migrate")
            .env_remove("DATABASE_URL")
            .env("SAFETYMAP_DATA_DIR", &dir);
        command.output().expect("run")
    };
    let made = migrate();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(dir.join("safetymap.db").exists());

    // The disk is remounted read-only, or the directory's rights taken away.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).expect("chmod");
    let started = std::time::Instant::now();
    let output = migrate();
    assert!(!output.status.success());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "at once, not after a pool timeout: {:?}",
        started.elapsed()
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains(&dir.display().to_string())
            && said.contains("cannot write in it")
            && said.contains("must be writable"),
        "{said}"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod back");
}
