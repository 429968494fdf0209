//! Faults on the way to PostgreSQL, made by a proxy the test controls: the
//! database out of reach (answers are 503 `store-unavailable` within two
//! seconds, layers are still served from memory, `/readyz` says not ready,
//! and everything recovers without a restart), and a COMMIT whose reply is
//! lost (the retry with the same Idempotency-Key leaves the layer right).
//! And a database that is up but stuck: a table locked by another session
//! makes a request's statement time out (503 within the bound, nothing
//! written), while start-up waits such a lock out instead of failing.
//! These need PostgreSQL, and fail without it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{observation, test_settings, Backend, TestApp, TestDatabase};

/// A TCP proxy in front of PostgreSQL that can be taken down (every
/// connection cut, new ones closed at once) and brought back, or told to
/// cut the next connection that sends COMMIT once the server has it.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    /// Moves on when the proxy goes down, so every open link closes.
    cuts: Arc<AtomicU64>,
    cut_commit: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (up, cuts, cut_commit) = (
            Arc::new(AtomicBool::new(true)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (u, c, cc) = (up.clone(), cuts.clone(), cut_commit.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !u.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(link(client, server, c.clone(), cc.clone()));
            }
        });
        Proxy {
            port,
            up,
            cuts,
            cut_commit,
        }
    }

    /// Cuts every link (each notices within 50 ms) and refuses new ones.
    async fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Pumps bytes both ways until either side closes, the proxy goes down, or
/// (when asked) the client has sent COMMIT: then the server gets it, and the
/// client never hears back.
async fn link(
    client: TcpStream,
    server: TcpStream,
    cuts: Arc<AtomicU64>,
    cut_commit: Arc<AtomicBool>,
) {
    let generation = cuts.load(Ordering::SeqCst);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let gone = {
        let cuts = cuts.clone();
        move || cuts.load(Ordering::SeqCst) != generation
    };
    let gone_too = gone.clone();
    let muted = Arc::new(AtomicBool::new(false));
    let muted_up = muted.clone();
    let upstream = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n =
                match tokio::time::timeout(Duration::from_millis(50), client_read.read(&mut buf))
                    .await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => return,
                    Ok(Ok(n)) => n,
                    Err(_) if gone() => return,
                    Err(_) => continue,
                };
            let commit = buf[..n].windows(6).any(|w| w == b"COMMIT");
            let cut = commit && cut_commit.swap(false, Ordering::SeqCst);
            if cut {
                // Nothing more reaches the client from here on.
                muted_up.store(true, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
            if cut {
                // Let the server commit, then cut before its reply is read.
                tokio::time::sleep(Duration::from_millis(300)).await;
                return;
            }
        }
    };
    let downstream = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n =
                match tokio::time::timeout(Duration::from_millis(50), server_read.read(&mut buf))
                    .await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => return,
                    Ok(Ok(n)) => n,
                    Err(_) if gone_too() => return,
                    Err(_) => continue,
                };
            if muted.load(Ordering::SeqCst) || client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    // Whichever side ends first ends the link (the other half is dropped).
    tokio::select! {
        () = upstream => {},
        () = downstream => {},
    }
}

/// The app on a fresh PostgreSQL database reached through a proxy.
async fn app_behind_proxy(token_cache: Duration) -> (TestApp, Proxy) {
    let db = TestDatabase::new(Backend::Postgres).await;
    let url = db.url().expect("postgres").to_owned();
    let (_, rest) = url.split_once('@').expect("user@host");
    let (host_port, _) = rest.split_once('/').expect("host/db");
    let proxy = Proxy::start(host_port.to_owned()).await;
    let db = db.through(&url.replacen(host_port, &format!("127.0.0.1:{}", proxy.port), 1));
    let settings = safetymap::api::Settings {
        token_cache,
        ..test_settings()
    };
    (TestApp::with_settings(db, settings).await, proxy)
}

const ITEMS: &str = "/ogc/collections/observations/items";

/// Sends a report with Idempotency-Key `key`, checks it is refused as the
/// store being unavailable (503 `store-unavailable`, with Retry-After), and
/// says how long the answer took.
async fn report_refused_as_unavailable(app: &TestApp, token: &str, key: &str) -> Duration {
    let started = Instant::now();
    let refused = app
        .post_keyed(token, "/api/observations", key, &observation(json!({})))
        .await;
    let took = started.elapsed();
    assert_eq!(
        (refused.status, refused.json()["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("store-unavailable")),
        "{}",
        refused.text()
    );
    assert!(
        refused.headers.contains_key("retry-after"),
        "says when to try again"
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_is_out_of_reach_writes_are_503_within_two_seconds_layers_are_still_served_and_all_recovers_without_a_restart(
) {
    let (app, proxy) = app_behind_proxy(Duration::from_secs(300)).await;
    let officer = app.token(Role::FieldOfficer, "council").await;
    let (_, panel) = app.session_as(Role::PanelMember, "council").await;
    let before = app.create(&officer, &observation(json!({}))).await;
    // The session is verified (and cached) before the outage.
    let layer = app
        .as_session(Method::GET, ITEMS, &panel, None, false)
        .await;
    assert_eq!(layer.status, StatusCode::OK, "{}", layer.text());

    proxy.down().await;
    for attempt in 0..3 {
        let took =
            report_refused_as_unavailable(&app, &officer, &format!("outage-{attempt}")).await;
        assert!(
            took < Duration::from_millis(2500),
            "answered within two seconds, not hung: {took:?}"
        );
    }
    let ready = app.get("/readyz", "").await;
    assert_eq!(
        (ready.status, ready.json()["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("store-unavailable"))
    );
    let served = app
        .as_session(Method::GET, ITEMS, &panel, None, false)
        .await;
    assert_eq!(
        served.status,
        StatusCode::OK,
        "the layer is in memory: {}",
        served.text()
    );
    assert!(
        served.feature_ids().contains(&before),
        "with what was there"
    );

    proxy.up();
    let mut back = false;
    for _ in 0..50 {
        if app.get("/readyz", "").await.status == StatusCode::OK {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        back,
        "ready again once the database is back, without a restart"
    );
    let after = app
        .post_keyed(
            &officer,
            "/api/observations",
            "after-outage",
            &observation(json!({})),
        )
        .await;
    assert_eq!(after.status, StatusCode::CREATED, "{}", after.text());
    let ids = app.item_ids(&officer, "").await;
    assert!(
        ids.contains(&before),
        "the write acknowledged before the outage is there"
    );
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM observations")
        .fetch_one(&app.db.raw().await)
        .await
        .expect("count");
    assert_eq!(rows.0, 2, "nothing refused during the outage was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_commit_reply_is_lost_is_in_the_layer_after_the_retry_with_its_idempotency_key(
) {
    let (app, proxy) = app_behind_proxy(Duration::from_secs(300)).await;
    let officer = app.token(Role::FieldOfficer, "council").await;
    app.create(&officer, &observation(json!({}))).await;
    // Alert matching for that one commits too: let it finish first, so the
    // next COMMIT through the proxy is the create's.
    app.state
        .alerts
        .match_new(app.state.clock.now())
        .await
        .expect("match");
    let body = observation(json!({"description": "Gate off its hinges by the play area"}));
    proxy.cut_commit.store(true, Ordering::SeqCst);
    let lost = app
        .post_keyed(&officer, "/api/observations", "lost-reply", &body)
        .await;
    assert!(
        lost.status.is_server_error(),
        "the reply never came: {} {}",
        lost.status,
        lost.text()
    );
    assert_eq!(
        lost.json()["code"],
        "store-unavailable",
        "said as an outage, worth retrying: {}",
        lost.text()
    );
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM observations")
        .fetch_one(&app.db.raw().await)
        .await
        .expect("count");
    assert_eq!(rows.0, 2, "the COMMIT reached the database");
    let retry = app
        .post_keyed(&officer, "/api/observations", "lost-reply", &body)
        .await;
    assert!(retry.status.is_success(), "{}", retry.text());
    let id = retry.json()["id"].as_i64().expect("id");
    assert!(
        app.item_ids(&officer, "").await.contains(&id),
        "the record is in the layer after the retry"
    );
    assert_eq!(app.item_ids(&officer, "").await.len(), 2, "once");
}

/// A raw session that holds `lock` on the observations table until rolled
/// back, as an operator's maintenance or another instance would.
async fn locked_elsewhere(db: &TestDatabase, lock: &str) -> sqlx::Transaction<'static, sqlx::Any> {
    let raw = db.raw().await;
    let mut tx = raw.begin().await.expect("begin");
    sqlx::query(&format!("LOCK TABLE observations IN {lock} MODE"))
        .execute(&mut *tx)
        .await
        .expect("lock");
    tx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_stuck_behind_a_lock_held_elsewhere_is_cancelled_by_the_statement_timeout_and_answered_503_while_layers_are_served(
) {
    let app = TestApp::new(Backend::Postgres).await;
    let officer = app.token(Role::FieldOfficer, "council").await;
    let (_, panel) = app.session_as(Role::PanelMember, "council").await;
    let before = app.create(&officer, &observation(json!({}))).await;
    // Reads go on under this lock; inserts and updates wait for it.
    let lock = locked_elsewhere(&app.db, "SHARE ROW EXCLUSIVE").await;

    let took = report_refused_as_unavailable(&app, &officer, "behind-the-lock").await;
    let bound = safetymap::store::STATEMENT_TIMEOUT;
    assert!(
        took >= bound.mul_f32(0.9) && took < bound + Duration::from_millis(1500),
        "waited for the lock as long as a statement may, then gave up: {took:?}"
    );
    let served = app
        .as_session(Method::GET, ITEMS, &panel, None, false)
        .await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.text());
    assert_eq!(
        served.feature_ids(),
        vec![before],
        "the layer is served from memory, without the refused record"
    );

    lock.rollback().await.expect("release");
    let retried = app
        .post_keyed(
            &officer,
            "/api/observations",
            "behind-the-lock",
            &observation(json!({})),
        )
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text());
    let rows: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM observations")
        .fetch_one(&app.db.raw().await)
        .await
        .expect("count");
    assert_eq!(
        rows.0, 2,
        "the cancelled write left nothing, the retry is stored once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_waits_out_a_lock_held_longer_than_a_requests_statement_timeout_instead_of_failing(
) {
    let app = TestApp::new(Backend::Postgres).await;
    let officer = app.token(Role::FieldOfficer, "council").await;
    let id = app.create(&officer, &observation(json!({}))).await;
    let db = app.shut_down().await;
    // Even reading is blocked: the index load must wait for the lock.
    let lock = locked_elsewhere(&db, "ACCESS EXCLUSIVE").await;
    let hold = safetymap::store::STATEMENT_TIMEOUT + Duration::from_secs(1);
    let released = tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        lock.rollback().await.expect("release");
    });
    let started = Instant::now();
    let app = TestApp::on(db).await;
    assert!(
        started.elapsed() >= hold.mul_f32(0.9),
        "start-up did wait for the lock: {:?}",
        started.elapsed()
    );
    released.await.expect("released");
    assert_eq!(
        app.item_ids(&officer, "").await,
        vec![id],
        "and loaded the layer in full"
    );
}
