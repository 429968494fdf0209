//! Young people's safety mapping, and licensing consultation reports.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, TestApp};

fn pin(participant: i64, rating: &str, lon: f64, lat: f64, reasons: &[&str]) -> Value {
    json!({"participant": participant, "kind": "pin", "rating": rating, "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "reasons": reasons, "time_of_day": "evening"})
}

on_both_stores! {
    async fn a_youth_worker_records_a_session_anonymously_and_the_layer_counts_participants_per_square(backend) {
        let app = TestApp::new(backend).await;
        let youth = app.token(Role::FieldOfficer, "youth-service").await;
        let session = app.post_keyed(&youth, "/api/perception-sessions", "s-1", &json!({"held_on": "2026-11-20", "age_band": "14-15"})).await;
        assert_eq!(session.status, StatusCode::CREATED, "{}", session.text());
        let id = session.json()["id"].as_i64().expect("id");
        let again = app.post_keyed(&youth, "/api/perception-sessions", "s-1", &json!({"held_on": "2026-11-20", "age_band": "14-15"})).await;
        assert_eq!((again.status, again.json()["id"].as_i64()), (StatusCode::OK, Some(id)));
        let marks = format!("/api/perception-sessions/{id}/marks");
        // Three participants mark the same underpass (within one 100 m square); one marks it twice.
        for (key, body) in [
            ("m1", pin(1, "red", -2.99810, 51.58810, &["badly-lit", "no-cctv"])),
            ("m2", pin(2, "red", -2.99815, 51.58815, &["badly-lit"])),
            ("m3", pin(2, "red", -2.99812, 51.58812, &["harassment"])),
            ("m4", pin(3, "green", -2.99811, 51.58811, &["trusted-adult"])),
            ("m5", json!({"participant": 1, "kind": "route", "route_use": "avoided", "geometry": {"type": "LineString", "coordinates": [[-2.999, 51.588], [-2.997, 51.589]]}, "reasons": ["isolated"]})),
        ] {
            let reply = app.post_keyed(&youth, &marks, key, &body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{key}: {}", reply.text());
        }
        assert_eq!(app.post_keyed(&youth, &marks, "m1", &pin(1, "red", -2.99810, 51.58810, &["badly-lit", "no-cctv"])).await.status, StatusCode::OK);
        let bad = app.post_keyed(&youth, &marks, "m6", &json!({"participant": 0, "kind": "pin", "rating": "purple", "geometry": {"type": "LineString", "coordinates": [[-2.99, 51.58], [-2.98, 51.58]]}, "reasons": ["bored"]})).await;
        let fields: Vec<Value> = bad.json()["errors"].as_array().expect("errors").iter().map(|e| e["field"].clone()).collect();
        assert_eq!(fields, [json!("participant"), json!("rating"), json!("geometry"), json!("reasons[0]")]);

        let listed = app.get("/api/perception-sessions", &youth).await.json();
        assert_eq!((listed["sessions"][0]["marks"].clone(), listed["sessions"][0]["participants"].clone()), (json!(5), json!(3)));
        let panel = app.token(Role::PanelMember, "police").await;
        let layer = app.get("/ogc/collections/perceptions/items?kind=pin", &panel).await;
        assert_eq!(layer.status, StatusCode::OK, "{}", layer.text());
        let squares = layer.json()["features"].as_array().expect("features").clone();
        assert_eq!(squares.len(), 1);
        let p = &squares[0]["properties"];
        assert_eq!((p["red"].clone(), p["amber"].clone(), p["green"].clone(), p["participants"].clone()), (json!(2), json!(0), json!(1), json!(3)));
        assert_eq!(p["reasons"]["badly-lit"], 2);
        let text = layer.text();
        assert!(!text.contains("participant\"") && !text.contains("session"), "nothing identifies a participant: {text}");
        let routes = app.get("/ogc/collections/perceptions/items?kind=route", &panel).await.json();
        assert_eq!(routes["features"][0]["properties"]["route_use"], "avoided");
        let mornings = app.get("/ogc/collections/perceptions/items?kind=pin&time_of_day=morning", &panel).await.json();
        assert_eq!(mornings["features"].as_array().map(Vec::len), Some(0));
        assert_eq!(app.post_keyed(&panel, "/api/perception-sessions", "p", &json!({"held_on": "2026-11-20"})).await.status, StatusCode::FORBIDDEN);
    }

    async fn a_licensing_report_counts_what_its_reader_may_see_near_a_premises_lists_none_and_withholds_small_counts(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let licensing = app.token(Role::FieldOfficer, "licensing").await;
        // A licensing officer on the panel: sees other agencies' standard
        // records, so their report has counts to withhold.
        let panel = app.token(Role::PanelMember, "licensing").await;
        let place = app.request(Method::POST, "/api/places", Some(&licensing), &[("content-type", "application/json")], Some(serde_json::to_vec(&json!({
            "name_en": "The Anchor", "kind": "licensed-premises", "longitude": -2.9951, "latitude": 51.5878, "licence_reference": "PL/1"
        })).expect("json"))).await.json()["id"].as_i64().expect("id");
        app.request(Method::POST, "/api/places", Some(&licensing), &[("content-type", "application/json")], Some(serde_json::to_vec(&json!({
            "name_en": "Made-up Youth Club", "kind": "youth-provision", "longitude": -2.9961, "latitude": 51.5880, "safe_place": true
        })).expect("json"))).await;
        // Six within 250 m (one restricted), two more between 250 and 500 m, one beyond.
        for i in 0..5 {
            app.create(&coordinator, &observation(json!({"longitude": -2.9951 + f64::from(i) * 0.0003, "latitude": 51.5878, "category": "licensed-premises-concern", "setting": "licensed-premises"}))).await;
        }
        app.create(&coordinator, &observation(json!({"longitude": -2.9950, "latitude": 51.5879, "sensitivity": "restricted", "description": "Restricted detail near the door"}))).await;
        app.create(&coordinator, &observation(json!({"longitude": -2.9951, "latitude": 51.5905}))).await;
        app.create(&coordinator, &observation(json!({"longitude": -2.9951, "latitude": 51.5910}))).await;
        app.create(&coordinator, &observation(json!({"longitude": -2.9951, "latitude": 51.6000}))).await;
        let report = app.get(&format!("/api/reports/licensing?place={place}"), &coordinator).await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.text());
        let r = report.json();
        assert_eq!((r["radii"][0]["total"]["count"].clone(), r["radii"][1]["total"]["count"].clone()), (json!(6), json!(8)));
        assert_eq!(r["radii"][0]["by_month"].as_array().map(Vec::len), Some(13), "the twelve months back from today touch thirteen calendar months");
        assert_eq!(r["nearby_places"][0]["name_en"], "Made-up Youth Club");
        assert_eq!(r["safe_places"].as_array().map(Vec::len), Some(1));
        assert!(!report.text().contains("Restricted detail"), "no record is listed");
        let theirs = app.get(&format!("/api/reports/licensing?place={place}"), &panel).await.json();
        let concern = theirs["radii"][0]["by_category_band"].as_array().expect("cells").iter()
            .find(|c| c["category"] == "licensed-premises-concern").expect("cell").clone();
        assert_eq!(concern["count"], 5, "five is not below the threshold");
        // Two standard records between 250 m and 500 m: a small count.
        let small = theirs["radii"][1]["by_category_band"].as_array().expect("cells").iter()
            .find(|c| c["category"] == "unsafe-environment").expect("cell").clone();
        assert_eq!((small["count"].clone(), small["count_label"].clone()), (Value::Null, json!("fewer than 5")));
        assert!(!serde_json::to_string(&theirs["radii"]).expect("json").contains("\"count\":1,") , "no count below five reaches a panel member");
        assert_eq!(theirs["radii"][0]["total"]["count"], 5, "the restricted record counts nowhere for them");
        // A field officer sees only their own reports, and so counts only those.
        let theirs = app.get(&format!("/api/reports/licensing?place={place}"), &licensing).await.json();
        assert_eq!((theirs["radii"][0]["total"]["count"].clone(), theirs["radii"][1]["total"]["count"].clone()), (json!(0), json!(0)));
        assert!(theirs["restricted_note"].as_str().expect("note").contains("Other agencies may hold records"));
        let proposed = app.get("/api/reports/licensing?lon=-2.9951&lat=51.5878&format=html&lang=cy", &panel).await;
        assert!(proposed.content_type().starts_with("text/html"));
        assert!(proposed.text().contains("O fewn 250 m") && proposed.text().contains("llai na 5"));
        let nowhere = app.get("/api/reports/licensing?lon=2.35&lat=48.85", &licensing).await;
        assert_eq!((nowhere.status, nowhere.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("longitude")));
        let disclosures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'disclosure' AND object_type = 'licensing-report'")
            .fetch_one(&app.db.raw().await).await.expect("count");
        assert_eq!(disclosures, 4);
    }

    async fn a_licensing_reports_months_add_up_to_its_total_with_a_record_from_eleven_months_and_more_ago(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        // 360 days back is last year's month when today is early in a month
        // (as on 6 December, whose year back starts in last December).
        for days in [360, 2] {
            let seen = (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            app.create(&coordinator, &observation(json!({"longitude": -2.9951, "latitude": 51.5878, "observed_at": seen}))).await;
        }
        let r = app.get("/api/reports/licensing?lon=-2.9951&lat=51.5878", &coordinator).await.json();
        let months = r["radii"][0]["by_month"].as_array().expect("months");
        let sum: i64 = months.iter().map(|m| m["count"].as_i64().expect("a coordinator sees every count")).sum();
        assert_eq!((r["radii"][0]["total"]["count"].clone(), sum), (json!(2), 2), "{months:?}");
        let oldest = (chrono::Utc::now() - chrono::Duration::days(360)).format("%Y-%m").to_string();
        assert_eq!(months[0]["month"].as_str().map(|m| m <= oldest.as_str()), Some(true), "the oldest record's month is listed: {months:?}");
    }
}
