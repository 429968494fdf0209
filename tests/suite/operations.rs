//! Operating the service: `/metrics` (only for whoever holds the metrics
//! token, or on its own address), what it counts, and the request id that
//! ties an answer to its log lines.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;

use crate::common::{observation, test_settings, TestApp, TestDatabase};

const METRICS_TOKEN: &str = "scrape-4f1c9a7e2b6d";

async fn app_with_metrics(backend: crate::common::Backend) -> TestApp {
    let settings = safetymap::api::Settings {
        metrics_token: Some(METRICS_TOKEN.to_owned()),
        ..test_settings()
    };
    TestApp::with_settings(TestDatabase::new(backend).await, settings).await
}

/// Every sample in an exposition, by its name and labels as written.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let reply = app.get("/metrics", METRICS_TOKEN).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        reply.content_type().starts_with("text/plain"),
        "{}",
        reply.content_type()
    );
    samples(&reply.text())
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {:#?}", samples.keys().collect::<Vec<_>>()))
}

on_both_stores! {
    async fn metrics_open_only_to_the_metrics_token_not_to_an_ordinary_accounts_token(backend) {
        let app = app_with_metrics(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let anonymous = app.request(Method::GET, "/metrics", None, &[], None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.json()["code"], "metrics-token-required");
        let colleague = app.get("/metrics", &coordinator).await;
        assert_eq!(colleague.status, StatusCode::UNAUTHORIZED, "an account's token is not the metrics token");
        assert!(!colleague.text().contains("safetymap_index_observations"));
        let scraped = scrape(&app).await;
        assert!(scraped.keys().any(|k| k.starts_with("safetymap_index_observations")));

        // Without a metrics token the service's address has no /metrics at all.
        let plain = TestApp::new(backend).await;
        let token = plain.token(Role::Admin, "council").await;
        let reply = plain.get("/metrics", &token).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(reply.json()["code"], "not-found");
    }

    async fn metrics_count_requests_by_route_template_and_problems_by_code_and_never_name_an_id(backend) {
        let app = app_with_metrics(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let id = app.create(&officer, &observation(serde_json::json!({}))).await;
        let before = scrape(&app).await;
        let read = format!("/api/observations/{id}?purpose=checking%20metrics");
        for _ in 0..3 {
            assert_eq!(app.get(&read, &coordinator).await.status, StatusCode::OK);
        }
        let layer = app.get("/ogc/collections/observations/items", &coordinator).await;
        assert_eq!(layer.feature_ids(), vec![id]);
        let missing = app.get("/api/observations/987654321?purpose=checking%20metrics", &coordinator).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let after = scrape(&app).await;

        let reads = r#"safetymap_http_requests_total{method="GET",route="/api/observations/{id}",status="200"}"#;
        let gained = value(&after, reads) - before.get(reads).copied().unwrap_or(0.0);
        assert!(gained >= 3.0, "three reads counted under the route's template: {gained}");
        let not_found = r#"safetymap_problems_total{code="not-found",status="404"}"#;
        assert!(value(&after, not_found) > before.get(not_found).copied().unwrap_or(0.0));
        let timed = r#"safetymap_http_request_duration_seconds_count{method="GET",route="/api/observations/{id}"}"#;
        assert!(value(&after, timed) >= 3.0);
        // Ids, like every other value a request carries, are not labels:
        // every route label is a declared template.
        let templates = safetymap::api::route_paths();
        for series in after.keys() {
            assert!(!series.contains("987654321") && !series.contains("checking"), "{series}");
            if let Some((_, rest)) = series.split_once("route=\"") {
                let route = rest.split('"').next().unwrap_or_default();
                assert!(route == "unmatched" || templates.iter().any(|t| t == route), "{series}");
            }
        }
        // A tool's layer read is a disclosure: its commit is timed.
        assert!(value(&after, "safetymap_disclosure_commit_seconds_count") >= 1.0);
        assert!(value(&after, r#"safetymap_disclosure_events_total{result="committed"}"#) >= 1.0);
    }

    async fn metrics_report_this_instances_index_caches_pools_and_store_connections(backend) {
        let app = app_with_metrics(backend).await;
        let officer = app.token(Role::FieldOfficer, "council").await;
        let panel = app.token(Role::PanelMember, "police").await;
        for n in 0..4 {
            app.create(&officer, &observation(serde_json::json!({"description": format!("Metrics report {n}")}))).await;
        }
        let tile = "/tiles/observations/14/8055/5444";
        assert_eq!(app.get(tile, &panel).await.status, StatusCode::OK);
        assert_eq!(app.get(tile, &panel).await.status, StatusCode::OK);
        let scraped = scrape(&app).await;
        assert_eq!(value(&scraped, "safetymap_index_observations"), 4.0);
        assert_eq!(value(&scraped, "safetymap_index_observations"), app.state.index.len() as f64);
        assert!(value(&scraped, "safetymap_tile_cache_entries") >= 1.0);
        assert!(value(&scraped, r#"safetymap_cache_lookups_total{cache="tiles",result="hit"}"#) >= 1.0);
        assert!(value(&scraped, r#"safetymap_cache_lookups_total{cache="tiles",result="miss"}"#) >= 1.0);
        assert_eq!(value(&scraped, r#"safetymap_pool_size{pool="printing"}"#), 1.0);
        assert_eq!(value(&scraped, r#"safetymap_pool_in_use{pool="analysis"}"#), 0.0);
        let max = match backend {
            crate::common::Backend::Sqlite => 4.0,
            crate::common::Backend::Postgres => 8.0,
        };
        assert_eq!(value(&scraped, r#"safetymap_store_connections{state="max"}"#), max);
        assert!(value(&scraped, r#"safetymap_store_connections{state="idle"}"#) >= 0.0);
        assert_eq!(value(&scraped, "safetymap_disclosure_queue_depth"), 0.0, "nothing waits once answered");
        // Four creates went through the change stream and came back.
        let applied = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if app.state.changes_applied() >= 4 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        assert!(applied.is_ok(), "the follower applied the four creates");
        let scraped = scrape(&app).await;
        assert!(value(&scraped, "safetymap_change_stream_applied") >= 4.0);
        assert!(value(&scraped, r#"safetymap_changes_applied_total{kind="observation"}"#) >= 4.0);
        assert!(value(&scraped, "safetymap_change_stream_lag_seconds_count") >= 4.0);
    }

    async fn every_answer_carries_a_request_id_and_a_problem_names_it_as_its_instance(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let first = app.get("/api/observations/424242?purpose=checking%20ids", &coordinator).await;
        let second = app.get("/api/observations/424242?purpose=checking%20ids", &coordinator).await;
        let id = |reply: &crate::common::Reply| {
            reply.headers.get("x-request-id").and_then(|v| v.to_str().ok()).expect("x-request-id").to_owned()
        };
        assert_eq!(first.status, StatusCode::NOT_FOUND);
        assert_eq!(first.json()["instance"], format!("urn:safetymap:request:{}", id(&first)));
        assert_ne!(id(&first), id(&second), "each request its own id");
        assert_eq!(id(&first).len(), 16);
        // A successful answer carries one too.
        let ok = app.get("/api/vocabulary", &coordinator).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(id(&ok).len(), 16);

        // A client's own id is not taken (it could reuse another request's).
        let chosen = app.request(Method::GET, "/api/observations/424242", Some(&coordinator), &[("x-request-id", "nginx-7f3a_09")], None).await;
        assert_ne!(id(&chosen), "nginx-7f3a_09");
    }

    async fn a_trusted_proxys_request_id_is_kept_and_a_forged_or_untrusted_one_is_not(backend) {
        let settings = safetymap::api::Settings {
            trusted_proxies: vec!["10.0.0.9".parse().expect("ip")],
            ..test_settings()
        };
        let app = TestApp::with_settings(TestDatabase::new(backend).await, settings).await;
        let from = |peer: [u8; 4], request_id: &str| {
            let mut request = axum::http::Request::builder()
                .uri("/api/observations/424242")
                .header("x-request-id", request_id)
                .body(axum::body::Body::empty())
                .expect("request");
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((peer, 40000))));
            request
        };
        let id = |reply: &crate::common::Reply| {
            reply.headers.get("x-request-id").and_then(|v| v.to_str().ok()).expect("x-request-id").to_owned()
        };
        // The proxy's id is kept, so its logs and ours match up…
        let proxied = app.send(from([10, 0, 0, 9], "nginx-7f3a_09")).await;
        assert_eq!(id(&proxied), "nginx-7f3a_09");
        assert_eq!(proxied.json()["instance"], "urn:safetymap:request:nginx-7f3a_09");
        // …not the same header from anyone else…
        let direct = app.send(from([10, 0, 0, 5], "nginx-7f3a_09")).await;
        assert_ne!(id(&direct), "nginx-7f3a_09");
        // …nor, even from the proxy, one that could forge log lines or run on for ever.
        for forged in ["a b", "x\u{7f}y", &"z".repeat(65), "<script>"] {
            let Ok(_) = axum::http::HeaderValue::from_str(forged) else { continue };
            let given = id(&app.send(from([10, 0, 0, 9], forged)).await);
            assert_ne!(given, forged);
            assert!(given.len() == 16 && given.chars().all(|c| c.is_ascii_hexdigit()), "{given}");
        }
    }

    async fn a_separate_metrics_address_serves_metrics_without_a_token_and_json_logs_name_each_request(backend) {
        let app = TestApp::new(backend).await;
        let panel = app.token(Role::PanelMember, "police").await;
        let db = app.shut_down().await;
        let metrics_port = {
            let free = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            free.local_addr().expect("addr").port()
        };
        let served = db.serve(&[
            ("SAFETYMAP_METRICS_BIND", &format!("127.0.0.1:{metrics_port}")),
            ("SAFETYMAP_LOG_FORMAT", "json"),
            ("RUST_LOG", "safetymap=debug"),
        ]);
        assert!(served.said.iter().any(|l| l.contains(&format!("127.0.0.1:{metrics_port}/metrics"))), "{:?}", served.said);
        let client = |port: u16, path: &str, token: Option<&str>| {
            let (path, token) = (path.to_owned(), token.map(str::to_owned));
            async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
                let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
                stream
                    .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n{auth}Connection: close\r\n\r\n").as_bytes())
                    .await
                    .expect("write");
                let mut answer = String::new();
                stream.read_to_string(&mut answer).await.expect("read");
                answer
            }
        };
        // A tile miss writes a debug line inside the request's span.
        let tile = client(served.port, "/tiles/observations/14/8055/5444", Some(&panel)).await;
        assert!(tile.starts_with("HTTP/1.1 200"), "{tile}");
        let request_id = tile
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("x-request-id:").map(|v| v.trim().to_owned()))
            .expect("x-request-id");
        let metrics = client(metrics_port, "/metrics", None).await;
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        assert!(metrics.contains(r#"safetymap_http_requests_total{method="GET",route="/tiles/{layer}/{z}/{x}/{y}",status="200"} 1"#), "{metrics}");
        // The service's own address still wants a token (none is set: no /metrics).
        let there = client(served.port, "/metrics", None).await;
        assert!(there.starts_with("HTTP/1.1 404"), "{there}");

        let log = served.log.clone();
        drop(served);
        // Every line the tile request wrote names it, in its span.
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
            .expect("log")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a JSON log line ({e}): {l}")))
            .collect();
        let of_tile: Vec<_> = lines.iter().filter(|l| l["span"]["request_id"] == request_id.as_str()).collect();
        assert!(!of_tile.is_empty(), "the tile's log lines carry its id {request_id}: {lines:#?}");
        // Spans name the route's template: a tile's path is a place.
        assert!(of_tile.iter().all(|l| l["span"]["route"] == "/tiles/{layer}/{z}/{x}/{y}"), "{of_tile:#?}");
        let text = std::fs::read_to_string(&log).expect("log");
        assert!(!text.contains("8055/5444"), "no tile coordinates in the log");
    }
}
