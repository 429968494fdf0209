//! Tokens and who sees what.

use axum::http::{Method, StatusCode};
use safetymap::domain::viewer::Viewer;
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, test_settings, TestApp, TestDatabase};

const ITEMS: &str = "/ogc/collections/observations/items";

on_both_stores! {
    async fn no_token_or_a_bad_or_revoked_token_gets_401_and_no_data(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let id = app.create(&coordinator, &observation(json!({}))).await;

        let none = app.request(Method::GET, ITEMS, None, &[], None).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.json()["code"], "not-signed-in");
        assert!(none.headers.contains_key("www-authenticate"));
        assert!(!none.text().contains("Feature"));

        let unknown = app.get(ITEMS, "sm_0000").await;
        assert_eq!((unknown.status, unknown.json()["code"].clone()), (StatusCode::UNAUTHORIZED, json!("invalid-token")));

        // A panel member makes a read token for QGIS in the browser.
        let analyst = app.user(Role::PanelMember, "police").await;
        let session = app.sign_in(&analyst, None).await;
        let created = app.as_session(Method::POST, "/api/tokens", &session, Some(&json!({"name": "QGIS hotspot review", "scope": "read"})), true).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        assert_eq!(created.json()["scope"], "read");
        let tool = created.json()["token"].as_str().expect("shown once").to_owned();
        let tool_id = created.json()["id"].as_i64().expect("id");
        assert_eq!(app.item_ids(&tool, "").await, [id]);
        let listed = app.as_session(Method::GET, "/api/tokens", &session, None, false).await;
        assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
        assert!(!listed.text().contains(&tool), "secrets are never listed");

        let revoked = app.as_session(Method::DELETE, &format!("/api/tokens/{tool_id}"), &session, None, true).await;
        assert_eq!(revoked.status, StatusCode::NO_CONTENT);
        for uri in [ITEMS.to_owned(), format!("{ITEMS}/{id}"), format!("/api/observations/{id}")] {
            let reply = app.get(&uri, &tool).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
            assert!(!reply.text().contains("bandstand"));
        }

        // Revoked by another process (the CLI) straight in the store.
        let in_a_day = chrono::Utc::now() + chrono::Duration::days(1);
        let (record, other) = app.store.create_token(analyst.id, "script", false, in_a_day, &Viewer::console(), chrono::Utc::now()).await.expect("token");
        assert_eq!(app.get(ITEMS, &other).await.status, StatusCode::OK);
        assert!(app.store.revoke_token(record.id, &Viewer::console(), chrono::Utc::now()).await.expect("revoke"));
        assert_eq!(app.get(ITEMS, &other).await.status, StatusCode::UNAUTHORIZED);

        let expired = app.store.create_token(analyst.id, "old", false, chrono::Utc::now() - chrono::Duration::days(1), &Viewer::console(), chrono::Utc::now()).await.expect("token").1;
        assert_eq!(app.get(ITEMS, &expired).await.status, StatusCode::UNAUTHORIZED);
    }

    async fn a_token_revoked_by_another_process_stops_working_within_a_second_however_long_it_may_be_cached(backend) {
        let settings = safetymap::api::Settings { token_cache: std::time::Duration::from_secs(300), ..test_settings() };
        let app = TestApp::with_settings(TestDatabase::new(backend).await, settings).await;
        let user = app.user(Role::PanelMember, "police").await;
        let (record, token) = app.store.create_token(user.id, "poller", false, chrono::Utc::now() + chrono::Duration::days(1), &Viewer::console(), chrono::Utc::now()).await.expect("token");
        assert_eq!(app.get(ITEMS, &token).await.status, StatusCode::OK);
        // Revoked by another process (the command line, another instance):
        // the change stream tells this one, in steady use or not.
        let revoked_at = std::time::Instant::now();
        assert!(app.store.revoke_token(record.id, &Viewer::console(), chrono::Utc::now()).await.expect("revoke"));
        let mut status = StatusCode::OK;
        while status == StatusCode::OK && revoked_at.elapsed() < std::time::Duration::from_secs(3) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            status = app.get(ITEMS, &token).await.status;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(revoked_at.elapsed() < std::time::Duration::from_millis(1500), "within about a second: {:?}", revoked_at.elapsed());
    }

    async fn health_and_readiness_need_no_token(backend) {
        let app = TestApp::new(backend).await;
        let health = app.request(Method::GET, "/healthz", None, &[], None).await;
        assert_eq!(health.json()["status"], "ok");
        let ready = app.request(Method::GET, "/readyz", None, &[], None).await;
        assert_eq!(ready.json()["status"], "ready");
    }

    async fn a_token_cannot_make_tokens_and_a_read_token_cannot_write(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.enrolled_user(Role::Coordinator, "council").await;
        let write = app.token_for(&coordinator, true).await;
        let read = app.token_for(&coordinator, false).await;
        let minted = app.send_json(Method::POST, "/api/tokens", &write, &json!({"name": "x", "scope": "write"})).await;
        assert_eq!((minted.status, minted.json()["code"].clone()), (StatusCode::FORBIDDEN, json!("session-required")));
        let refused = app.send_json(Method::POST, "/api/observations", &read, &observation(json!({}))).await;
        assert_eq!((refused.status, refused.json()["code"].clone()), (StatusCode::FORBIDDEN, json!("token-read-only")));
        assert_eq!(app.store.tokens(None).await.expect("tokens").len(), 2);
        assert_eq!(app.item_ids(&read, "").await, Vec::<i64>::new(), "nothing was written");
        app.create(&write, &observation(json!({}))).await;
        assert_eq!(app.item_ids(&read, "").await.len(), 1);
    }

    async fn field_officers_see_only_their_own_reports_and_administrators_see_none(backend) {
        let app = TestApp::new(backend).await;
        let me = app.token(Role::FieldOfficer, "parks").await;
        let colleague = app.token(Role::FieldOfficer, "parks").await;
        let admin = app.token(Role::Admin, "council").await;
        let mine = app.create(&me, &observation(json!({}))).await;
        let theirs = app.create(&colleague, &observation(json!({}))).await;
        assert_eq!(app.item_ids(&me, "").await, [mine]);
        assert_eq!(app.get(&format!("/api/observations/{theirs}"), &me).await.status, StatusCode::NOT_FOUND);
        let edit = app.send_json(Method::PATCH, &format!("/api/observations/{theirs}"), &me, &json!({"severity": "high"})).await;
        assert_eq!(edit.status, StatusCode::NOT_FOUND);
        let admin_view = app.get(ITEMS, &admin).await;
        assert_eq!(admin_view.status, StatusCode::FORBIDDEN);
        assert!(!admin_view.text().contains("Feature\""));
        assert_eq!(app.get(&format!("/api/observations/{mine}"), &admin).await.status, StatusCode::NOT_FOUND);
    }

    async fn restricted_and_sensitive_records_stay_with_those_who_may_see_them(backend) {
        let app = TestApp::new(backend).await;
        let police_officer = app.token(Role::FieldOfficer, "police").await;
        let police_coordinator = app.token(Role::Coordinator, "police").await;
        let police_panel = app.token(Role::PanelMember, "police").await;
        let council_panel = app.token(Role::PanelMember, "council").await;
        let council_coordinator = app.token(Role::Coordinator, "council").await;
        let restricted = app.create(&police_officer, &observation(json!({"sensitivity": "restricted", "longitude": -2.99123, "latitude": 51.58456, "description": "Flat above the shop used for exploitation"}))).await;
        let sensitive = app.create(&police_officer, &observation(json!({"sensitivity": "sensitive", "longitude": -2.99771, "latitude": 51.58862, "case_reference": "NICHE-991", "description": "Cars stop by the garages"}))).await;
        let standard = app.create(&police_officer, &observation(json!({"sensitivity": "standard", "longitude": -3.0100, "latitude": 51.5900}))).await;

        assert_eq!(app.item_ids(&police_coordinator, "").await, [restricted, sensitive, standard]);
        assert_eq!(app.item_ids(&police_panel, "").await, [sensitive, standard]);
        assert_eq!(app.item_ids(&council_coordinator, "").await, [sensitive, standard]);
        assert_eq!(app.item_ids(&council_panel, "").await, [sensitive, standard]);

        // The other agency's panel member sees the sensitive record at the
        // centre of its 100 m grid square, and says so.
        let layer = app.get(ITEMS, &council_panel).await.json();
        let shown = &layer["features"][0];
        assert_eq!(shown["properties"]["precision"], "bng-100m");
        let [lon, lat] = [shown["geometry"]["coordinates"][0].as_f64().expect("lon"), shown["geometry"]["coordinates"][1].as_f64().expect("lat")];
        let centre = safetymap::bng::to_grid(lon, lat).expect("grid");
        let exact = safetymap::bng::to_grid(-2.99771, 51.58862).expect("grid");
        assert!((centre.easting - ((exact.easting / 100.0).floor() * 100.0 + 50.0)).abs() < 0.5);
        assert!((centre.northing - ((exact.northing / 100.0).floor() * 100.0 + 50.0)).abs() < 0.5);
        assert_ne!((format!("{lon:.5}"), format!("{lat:.5}")), ("-2.99771".to_owned(), "51.58862".to_owned()));
        assert_eq!(app.get(ITEMS, &police_panel).await.json()["features"][0]["properties"]["precision"], "exact");

        // Every path the other agency's panel member can reach.
        let paths = [
            ITEMS.to_owned(),
            format!("{ITEMS}?limit=1"),
            format!("{ITEMS}?limit=1&cursor={restricted}"),
            format!("{ITEMS}?sensitivity=sensitive,restricted"),
            format!("{ITEMS}?bbox=-2.9978,51.5886,-2.9976,51.5887"),
            format!("{ITEMS}?bbox=-2.9913,51.5845,-2.9911,51.5846"),
            format!("{ITEMS}/{sensitive}"),
            format!("{ITEMS}/{restricted}"),
            format!("/api/observations/{sensitive}"),
            format!("/api/observations/{sensitive}?purpose=Panel%20meeting"),
            format!("{ITEMS}/{sensitive}?purpose=Panel%20meeting"),
            format!("/api/observations/{restricted}?purpose=Panel%20meeting"),
            format!("/api/observations/{restricted}"),
        ];
        let mut bodies = Vec::new();
        for path in &paths {
            bodies.push((path.clone(), app.get(path, &council_panel).await));
        }
        for id in [sensitive, restricted] {
            bodies.push((format!("PATCH {id}"), app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &council_panel, &json!({"severity": "low"})).await));
            bodies.push((format!("withdraw {id}"), app.send_json(Method::POST, &format!("/api/observations/{id}/withdraw"), &council_panel, &json!({"reason": "x"})).await));
        }
        for (path, reply) in &bodies {
            let text = reply.text();
            for secret in ["-2.99771", "51.58862", "-2.99123", "51.58456", "Flat above the shop", "NICHE-991", "Cars stop by the garages"] {
                assert!(!text.contains(secret), "{path} leaks {secret}: {text}");
            }
        }
        // A box around the exact point but not its square's centre finds nothing.
        assert!(app.item_ids(&council_panel, "bbox=-2.99775,51.58860,-2.99767,51.58864").await.is_empty());

        let single = app.get(&format!("/api/observations/{sensitive}?purpose=Panel%20meeting"), &council_panel).await.json();
        assert_eq!(single["precision"], "bng-100m");
        assert_eq!(single["description"], "", "free text would undo the generalisation");
        assert_eq!(single["case_reference"], Value::Null);
        assert_eq!(single["history"], json!([]), "edits of location would give the place away");
        let probe = app.get(&format!("/api/observations/{restricted}"), &council_coordinator).await;
        assert_eq!(probe.status, StatusCode::NOT_FOUND);
        let counted = app.get(&format!("{ITEMS}?sensitivity=restricted"), &council_panel).await.json();
        assert_eq!(counted["numberMatched"], 0, "hidden records are not even counted");
    }
}
