//! Bounded work and private files: no single request takes the service
//! down, and the embedded store's secrets are readable by the service's
//! user alone.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use axum::http::StatusCode;
use safetymap::domain::vocabulary::Role;

use crate::common::{test_settings, Backend, TestApp, TestDatabase};

/// Newport and around, where the synthetic observations go.
const NEWPORT: [f64; 4] = [-3.05, 51.56, -2.94, 51.62];

/// An app whose store already holds `n` synthetic observations over
/// Newport, with one analysis place and a short budget.
async fn crowded(backend: Backend, n: usize) -> TestApp {
    let db = TestDatabase::new(backend).await;
    let store = db.open().await;
    let rows = safetymap::demo::synthetic_observations(NEWPORT, n, 7, chrono::Utc::now());
    store
        .create_observations_bulk(&rows)
        .await
        .expect("bulk load");
    store.close().await;
    let settings = safetymap::api::Settings {
        analysis_workers: 1,
        analysis_budget: Duration::from_secs(2),
        ..test_settings()
    };
    TestApp::with_settings(db, settings).await
}

on_both_stores! {
    async fn hot_spots_over_the_whole_of_wales_or_with_a_city_wide_band_are_refused_before_any_work(backend) {
        let app = TestApp::new(backend).await;
        let panel = app.token(Role::PanelMember, "police").await;
        let wales = app.get("/ogc/collections/hotspots/items?cell=100&bbox=-5.4,51.3,-2.6,53.5", &panel).await;
        assert_eq!((wales.status, wales.json()["code"].clone(), wales.json()["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, serde_json::json!("too-costly"), serde_json::json!("cell")), "{}", wales.text());
        assert!(wales.json()["detail"].as_str().expect("detail").contains("bigger cell"));
        let band = app.get("/ogc/collections/hotspots/items?cell=100&band=20000&bbox=-3.05,51.56,-2.94,51.62", &panel).await;
        assert_eq!((band.status, band.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, serde_json::json!("band")), "{}", band.text());
        let profile = app.get("/api/time-profile?within=hot&cell=100&bbox=-5.4,51.3,-2.6,53.5", &panel).await;
        assert_eq!((profile.status, profile.json()["code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, serde_json::json!("too-costly")));
    }

    async fn the_service_answers_health_checks_and_layer_reads_while_two_heavy_analyses_run(backend) {
        let app = crowded(backend, 20_000).await;
        let panel = app.token(Role::PanelMember, "police").await;
        let heavy = "/ogc/collections/clusters/items?eps=5000&min=2";
        let (first, second, health, layer) = tokio::join!(
            app.get(heavy, &panel),
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                app.get(heavy, &panel).await
            },
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                app.request(axum::http::Method::GET, "/healthz", None, &[], None).await
            },
            async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                app.get("/ogc/collections/observations/items?limit=10&bbox=-3.0,51.58,-2.99,51.59", &panel).await
            },
        );
        assert_eq!(health.status, StatusCode::OK, "the service answers while analyses run");
        assert_eq!(layer.status, StatusCode::OK, "layers are read while analyses run");
        for reply in [&first, &second] {
            match reply.status {
                StatusCode::OK => {}
                StatusCode::UNPROCESSABLE_ENTITY => assert_eq!((reply.json()["code"].clone(), reply.json()["field"].clone()), (serde_json::json!("too-costly"), serde_json::json!("eps"))),
                StatusCode::SERVICE_UNAVAILABLE => {
                    assert_eq!(reply.json()["code"], "busy");
                    assert!(reply.headers.get("retry-after").is_some());
                }
                other => panic!("a heavy analysis answered {other}: {}", reply.text()),
            }
        }
        assert!([&first, &second].iter().any(|r| r.status != StatusCode::OK), "20,000 points within 5 km of each other are over budget or queued");
        // And afterwards the service is whole.
        assert_eq!(app.get("/ogc/collections/clusters/items?eps=50&min=5&bbox=-3.0,51.58,-2.99,51.59", &panel).await.status, StatusCode::OK);
    }

    async fn counting_observations_in_a_ward_of_100000_corners_runs_off_the_http_workers_within_its_budget(backend) {
        let app = crowded(backend, 20_000).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        // A made-up ward round Newport with 100,000 corners, as detailed
        // boundaries are.
        let n = 100_000;
        let mut ring: Vec<[f64; 2]> = (0..n)
            .map(|k| {
                let a = k as f64 / n as f64 * std::f64::consts::TAU;
                [-2.995 + 0.06 * a.cos(), 51.59 + 0.04 * a.sin()]
            })
            .collect();
        ring.push(ring[0]);
        let file = serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature",
            "properties": {"code": "W05999999", "name_en": "Made-up Detailed", "name_cy": "Manwl"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}]});
        let imported = app
            .request(axum::http::Method::POST, "/api/areas/import?kind=ward", Some(&coordinator),
                &[("content-type", "application/geo+json")], Some(file.to_string().into_bytes()))
            .await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
        let done = std::sync::Mutex::new(Vec::new());
        let (areas, health) = tokio::join!(
            async {
                let reply = app.get("/ogc/collections/areas/items?kind=ward", &coordinator).await;
                done.lock().expect("lock").push("areas");
                reply
            },
            async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let reply = app.request(axum::http::Method::GET, "/healthz", None, &[], None).await;
                done.lock().expect("lock").push("health");
                reply
            },
        );
        assert_eq!(health.status, StatusCode::OK);
        // Both run on this test's one task: had the count run where the
        // request is answered, the health check could not have been
        // answered until it ended.
        assert_eq!(*done.lock().expect("lock"), ["health", "areas"], "the health check was answered while the count ran");
        match areas.status {
            StatusCode::OK => {
                let count = areas.json()["features"][0]["properties"]["count"].as_u64().expect("count");
                assert!(count > 1000, "most of Newport's synthetic reports are in it: {count}");
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!((areas.json()["code"].clone(), areas.json()["field"].clone()), (serde_json::json!("too-costly"), serde_json::json!("bbox")));
            }
            other => panic!("counting answered {other}: {}", areas.text()),
        }
    }

    async fn the_demo_keeps_its_credentials_and_the_store_in_files_only_the_service_user_may_read(backend) {
        let db = TestDatabase::new(backend).await;
        let out = db.cli(&["demo"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = db.sqlite_file().parent().expect("data dir").to_owned();
        let credentials = dir.join("demo-credentials.txt");
        assert!(stdout.contains(&credentials.display().to_string()), "the file's path is printed: {stdout}");
        let written = std::fs::read_to_string(&credentials).expect("credentials file");
        let password = written.lines().next().and_then(|l| l.rsplit(' ').next()).expect("password").to_owned();
        assert!(password.starts_with("demo-"), "{written}");
        assert!(!stdout.contains(&password) && !stdout.contains("sm_"), "no secret on standard output: {stdout}");
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&credentials), 0o600);
        assert_eq!(mode(&dir), 0o700);
        if backend == Backend::Sqlite {
            assert_eq!(mode(&db.sqlite_file()), 0o600, "password hashes and TOTP secrets are in it");
        }
        // A data directory others may write to is refused, with why.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let refused = db.cli(&["migrate"]);
        let said = String::from_utf8_lossy(&refused.stderr);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod back");
        if backend == Backend::Sqlite {
            assert!(!refused.status.success() && said.contains("writable by group or others"), "{said}");
        }
    }
}
