//! The insider-attack suite (DESIGN.md §8): an ordinary account of another
//! agency — a panel member, a field officer, a coordinator — with a script,
//! combining many answers. Each test is one attack, and asserts it learns
//! nothing finer than the attacker is shown.
//!
//! The shape of most of them: ask the same questions before and after a
//! record the attacker may not see is made (the answers must not change),
//! or before and after a generalised record moves within its 100 m square
//! (the answers must not change either).

use axum::http::{Method, StatusCode};
use safetymap::bng::{from_grid, to_grid, GridRef};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, test_settings, Backend, TestApp, TestDatabase};
use crate::mvt_decode::{decode, tile_of};

const ITEMS: &str = "/ogc/collections/observations/items";

/// WGS84 of a National Grid position.
fn at(e: f64, n: f64) -> (f64, f64) {
    from_grid(GridRef {
        easting: e,
        northing: n,
    })
    .expect("in Wales")
}

/// A record of `sensitivity` at grid position (e, n).
fn record(e: f64, n: f64, sensitivity: &str, category: &str) -> Value {
    let (lon, lat) = at(e, n);
    observation(json!({
        "longitude": lon, "latitude": lat, "sensitivity": sensitivity, "category": category,
        "description": "Seen by the garages behind the shop",
    }))
}

/// The app with budgets wide enough for a script's thousand questions:
/// these attacks test what answers reveal, not the throttle.
async fn app_for_attacks(backend: Backend) -> TestApp {
    let settings = safetymap::api::Settings {
        report_budget: 10_000,
        aggregate_budget: 10_000,
        ..test_settings()
    };
    TestApp::with_settings(TestDatabase::new(backend).await, settings).await
}

/// A square of grid metres as a bbox parameter, in WGS84.
fn bbox(e0: f64, n0: f64, e1: f64, n1: f64) -> String {
    let (x0, y0) = at(e0, n0);
    let (x1, y1) = at(e1, n1);
    format!("{x0:.9},{y0:.9},{x1:.9},{y1:.9}")
}

/// Everything of an answer that is data, not when it was made.
fn data(reply: &crate::common::Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let mut v = reply.json();
    if let Some(o) = v.as_object_mut() {
        for k in ["generated_at", "timeStamp", "period", "links"] {
            o.remove(k);
        }
    }
    v
}

/// Proposed points walked across the 250 m and 500 m circles around grid
/// position (e, n), east, north and north-east, in millimetre steps.
fn walk(e: f64, n: f64) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    for radius in [250.0, 500.0] {
        for (dx, dy) in [
            (1.0, 0.0),
            (0.0, 1.0),
            (
                std::f64::consts::FRAC_1_SQRT_2,
                std::f64::consts::FRAC_1_SQRT_2,
            ),
        ] {
            for mm in [-2.0, -1.0, 1.0, 2.0] {
                let r = radius + mm / 1000.0;
                points.push(at(e + dx * r, n + dy * r));
            }
        }
    }
    points
}

async fn reports(app: &TestApp, token: &str, points: &[(f64, f64)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (lon, lat) in points {
        let reply = app
            .get(
                &format!("/api/reports/licensing?lon={lon:.10}&lat={lat:.10}"),
                token,
            )
            .await;
        let mut r = data(&reply);
        for k in ["generated_at", "period"] {
            r.as_object_mut().map(|o| o.remove(k));
        }
        out.push(r);
    }
    out
}

/// Every aggregate a viewer can ask for over a box, as data.
async fn aggregates(app: &TestApp, token: &str, b: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for path in [
        format!("/ogc/collections/grid/items?cell=100&bbox={b}"),
        format!("/ogc/collections/grid/items?cell=250&shape=hexagon&bbox={b}"),
        format!("/ogc/collections/hotspots/items?cell=100&bbox={b}"),
        format!("/ogc/collections/clusters/items?eps=150&min=2&bbox={b}"),
        format!("/api/time-profile?bbox={b}"),
        format!("{ITEMS}?bbox={b}"),
    ] {
        out.push((path.clone(), data(&app.get(&path, token).await)));
    }
    out
}

on_both_stores! {
    async fn walking_a_licensing_reports_proposed_point_across_the_circles_round_a_hidden_record_changes_nothing(backend) {
        let app = app_for_attacks(backend).await;
        let recorder = app.token(Role::Coordinator, "council").await;
        let panel = app.token(Role::PanelMember, "police").await;
        let officer = app.token(Role::FieldOfficer, "licensing").await;
        let coordinator_elsewhere = app.token(Role::Coordinator, "health").await;
        // Five records everyone with a data role sees (standard), so totals
        // are big enough to be shown.
        let (e, n) = (331_234.567, 187_654.321);
        for i in 0..5 {
            app.create(&recorder, &record(e + f64::from(i), n, "standard", "licensed-premises-concern")).await;
        }
        let points = walk(e, n);
        let before = [
            reports(&app, &panel, &points).await,
            reports(&app, &officer, &points).await,
            reports(&app, &coordinator_elsewhere, &points).await,
        ];
        // The hidden record, right where the circles' edges are walked.
        app.create(&recorder, &record(e, n, "restricted", "child-sexual-exploitation")).await;
        let after = [
            reports(&app, &panel, &points).await,
            reports(&app, &officer, &points).await,
            reports(&app, &coordinator_elsewhere, &points).await,
        ];
        for (who, (b, a)) in ["panel member", "field officer", "other agency's coordinator"].iter().zip(before.iter().zip(&after)) {
            assert_eq!(b, a, "a {who}'s reports changed when a record they may not see was made");
        }
        // And the answers say which point they used: a square's centre.
        let centre = &after[0][0]["centre"];
        let (lon, lat) = (centre[0].as_f64().expect("lon"), centre[1].as_f64().expect("lat"));
        let g = to_grid(lon, lat).expect("in grid");
        assert!((g.easting % 100.0 - 50.0).abs() < 0.5 && (g.northing % 100.0 - 50.0).abs() < 0.5, "{g:?}");
        assert_eq!(after[0][0]["centre_from"], "bng-100m-square-centre");
        assert!(after[1][0]["restricted_note_cy"].as_str().expect("cy").contains("asiantaethau eraill"));
    }

    async fn walking_a_licensing_reports_point_round_a_generalised_record_reveals_nothing_finer_than_its_square(backend) {
        let app = app_for_attacks(backend).await;
        let recorder = app.token(Role::Coordinator, "council").await;
        let panel = app.token(Role::PanelMember, "police").await;
        let (e, n) = (331_210.0, 187_630.0);
        for i in 0..5 {
            app.create(&recorder, &record(e + 20.0 + f64::from(i), n + 20.0, "standard", "licensed-premises-concern")).await;
        }
        let sensitive = app.create(&recorder, &record(e, n, "sensitive", "child-criminal-exploitation")).await;
        let points = walk(e, n);
        let first = reports(&app, &panel, &points).await;
        // The recorder moves it 60 m within the same 100 m square.
        let (lon, lat) = at(e + 60.0, n + 50.0);
        let moved = app.send_json(Method::PATCH, &format!("/api/observations/{sensitive}"), &recorder, &json!({"longitude": lon, "latitude": lat})).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
        let second = reports(&app, &panel, &points).await;
        assert_eq!(first, second, "the reports told two positions in one square apart");
    }

    async fn moving_bbox_edges_across_a_generalised_records_exact_position_finds_nothing_on_any_layer(backend) {
        let app = app_for_attacks(backend).await;
        let recorder = app.token(Role::Coordinator, "council").await;
        let panel = app.token(Role::PanelMember, "police").await;
        // Exact position 30 m from its square's south-west corner: the
        // square's centre (331250, 187650) is 20 m further on each axis.
        let (e, n) = (331_230.0, 187_630.0);
        for i in 0..3 {
            app.create(&recorder, &record(e + f64::from(i) * 0.5, n, "sensitive", "child-criminal-exploitation")).await;
        }
        // Something the panel member sees exactly, inside every box, so no
        // answer is empty.
        for i in 0..2 {
            app.create(&recorder, &record(e - 300.0 + f64::from(i), n - 300.0, "standard", "unsafe-environment")).await;
        }
        // Boxes whose east and north edges sit a millimetre either side of
        // the exact position, all well short of the square's centre.
        let near = bbox(e - 800.0, n - 800.0, e - 0.001, n - 0.001);
        let past = bbox(e - 800.0, n - 800.0, e + 0.001 + 1.0, n + 0.001);
        let short = aggregates(&app, &panel, &near).await;
        let over = aggregates(&app, &panel, &past).await;
        for ((path, a), (_, b)) in short.iter().zip(&over) {
            assert_eq!(strip_links(a), strip_links(b), "{path}: moving an edge across the exact position changed the answer");
        }
        // Nor does a box round the exact position alone find them.
        assert!(app.item_ids(&panel, &format!("bbox={}", bbox(e - 5.0, n - 5.0, e + 5.0, n + 5.0))).await.is_empty());

        // Tiles: at zoom 20 (about 40 m a side) the tile over the exact
        // position holds none of them, unless it also holds the square's centre.
        let (lon, lat) = at(e, n);
        let (centre_lon, centre_lat) = at(331_250.0, 187_650.0);
        let ((x, y), _) = tile_of(lon, lat, 20);
        let ((cx, cy), _) = tile_of(centre_lon, centre_lat, 20);
        if (x, y) != (cx, cy) {
            let tile = decode(&app.get(&format!("/tiles/observations/20/{x}/{y}"), &panel).await.body);
            assert!(tile.iter().all(|l| l.features.is_empty()), "the exact tile drew a generalised record");
        }
        let shown = decode(&app.get(&format!("/tiles/observations/20/{cx}/{cy}"), &panel).await.body);
        assert_eq!(shown.iter().map(|l| l.features.len()).sum::<usize>(), 3, "drawn at the square's centre");
    }

    async fn a_record_the_viewer_may_not_see_counts_in_no_aggregate_however_boxes_and_filters_are_differenced(backend) {
        let app = app_for_attacks(backend).await;
        let recorder = app.token(Role::Coordinator, "council").await;
        let viewers = [
            ("panel member", app.token(Role::PanelMember, "police").await),
            ("field officer", app.token(Role::FieldOfficer, "police").await),
            ("coordinator elsewhere", app.token(Role::Coordinator, "health").await),
        ];
        let (e, n) = (331_400.0, 187_800.0);
        for i in 0..6 {
            app.create(&recorder, &record(e + f64::from(i) * 30.0, n, "standard", "peer-violence-weapons")).await;
        }
        let boxes = [
            bbox(e - 600.0, n - 600.0, e + 600.0, n + 600.0),
            bbox(e - 600.0, n - 600.0, e + 0.001, n + 600.0),
            bbox(e - 0.001, n - 600.0, e + 600.0, n + 600.0),
        ];
        let mut before = Vec::new();
        for (_, token) in &viewers {
            for b in &boxes {
                before.push(aggregates(&app, token, b).await);
            }
        }
        let areas_before: Vec<Value> = {
            let mut v = Vec::new();
            for (_, token) in &viewers {
                v.push(data(&app.get("/ogc/collections/areas/items", token).await));
            }
            v
        };
        // Three restricted records in the middle of it all.
        for i in 0..3 {
            app.create(&recorder, &record(e + f64::from(i), n, "restricted", "child-sexual-exploitation")).await;
        }
        let mut after = Vec::new();
        for (_, token) in &viewers {
            for b in &boxes {
                after.push(aggregates(&app, token, b).await);
            }
        }
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            for ((path, x), (_, y)) in b.iter().zip(a) {
                assert_eq!(strip_links(x), strip_links(y), "{} {path}: a hidden record changed an aggregate", viewers[i / boxes.len()].0);
            }
        }
        for (i, (_, token)) in viewers.iter().enumerate() {
            assert_eq!(areas_before[i], data(&app.get("/ogc/collections/areas/items", token).await), "areas counted a hidden record");
        }
    }

    async fn hot_spot_statistics_are_withheld_wherever_the_count_is(backend) {
        let app = app_for_attacks(backend).await;
        let recorder = app.token(Role::Coordinator, "council").await;
        let panel = app.token(Role::PanelMember, "police").await;
        let (e, n) = (331_050.0, 187_050.0);
        // One cell of three (withheld), one of seven (shown).
        for i in 0..3 {
            app.create(&recorder, &record(e + f64::from(i), n, "standard", "drug-weapon-litter")).await;
        }
        for i in 0..7 {
            app.create(&recorder, &record(e + 300.0 + f64::from(i), n, "standard", "drug-weapon-litter")).await;
        }
        let b = bbox(e - 1_000.0, n - 1_000.0, e + 1_000.0, n + 1_000.0);
        let body = data(&app.get(&format!("/ogc/collections/hotspots/items?cell=100&weights=nearest&k=1&bbox={b}"), &panel).await);
        let features = body["features"].as_array().expect("features");
        let withheld: Vec<&Value> = features.iter().filter(|f| f["properties"]["suppressed"] == true).collect();
        assert!(!withheld.is_empty(), "the small cell is there");
        for f in withheld {
            for key in ["z", "p", "class", "label"] {
                assert!(f["properties"].get(key).is_none(), "{key} of a withheld count: {}", f["properties"]);
            }
        }
        let shown = features.iter().find(|f| f["properties"]["count"] == 7).expect("the big cell");
        assert!(shown["properties"].get("class").is_some());
        // A fourth record in the withheld cell moves no statistic shown: the
        // withheld count entered as a constant, not as itself.
        app.create(&recorder, &record(e + 3.0, n, "standard", "drug-weapon-litter")).await;
        let after = data(&app.get(&format!("/ogc/collections/hotspots/items?cell=100&weights=nearest&k=1&bbox={b}"), &panel).await);
        let stats = |v: &Value| -> Vec<(Value, Value, Value)> {
            v["features"].as_array().expect("features").iter()
                .map(|f| (f["id"].clone(), f["properties"]["z"].clone(), f["properties"]["class"].clone())).collect()
        };
        assert_eq!(stats(&body), stats(&after), "a withheld count changed a statistic that is shown");
        // The tiles say the same.
        let (lon, lat) = at(e, n);
        let ((x, y), _) = tile_of(lon, lat, 14);
        let tile = decode(&app.get(&format!("/tiles/hotspots/14/{x}/{y}?cell=100&weights=nearest&k=1&bbox={b}"), &panel).await.body);
        for f in tile.iter().flat_map(|l| &l.features) {
            if f.properties.contains_key("suppressed") && !f.properties.contains_key("count") {
                assert!(!f.properties.contains_key("z") && !f.properties.contains_key("class"), "a withheld tile cell carries statistics");
            }
        }
    }

    async fn write_answers_and_status_codes_tell_a_hidden_record_from_a_missing_one_in_no_way(backend) {
        let app = app_for_attacks(backend).await;
        let recorder = app.token(Role::Coordinator, "council").await;
        let colleague = app.token(Role::Coordinator, "council").await;
        let outsider = app.token(Role::PanelMember, "police").await;
        let restricted = app.create(&recorder, &record(331_000.0, 187_000.0, "restricted", "child-sexual-exploitation")).await;
        let withdrawn = app.create(&outsider, &record(331_000.0, 187_000.0, "standard", "unsafe-environment")).await;
        let withdraw = app.send_json(Method::POST, &format!("/api/observations/{withdrawn}/withdraw"), &outsider, &json!({"reason": "Logged twice"})).await;
        assert_eq!(withdraw.status, StatusCode::OK);
        let missing = 999_999;
        let next_review = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive().to_string();
        let other_panel = app.token(Role::PanelMember, "health").await;
        let mut answers = Vec::new();
        for id in [restricted, withdrawn, missing] {
            let (who, token) = if id == restricted { ("outsider", &outsider) } else { ("other panel", &other_panel) };
            for (verb, path, body) in [
                (Method::GET, format!("/api/observations/{id}?purpose=x"), None),
                (Method::PATCH, format!("/api/observations/{id}"), Some(json!({"severity": "low"}))),
                (Method::PATCH, format!("/api/observations/{id}"), Some(json!({}))),
                (Method::POST, format!("/api/observations/{id}/withdraw"), Some(json!({"reason": "x"}))),
                (Method::POST, format!("/api/observations/{id}/keep"), Some(json!({"reason": "x", "next_review": next_review}))),
                (Method::POST, format!("/api/observations/{id}/erase"), Some(json!({"reason": "x"}))),
            ] {
                let reply = match body {
                    Some(b) => app.send_json(verb.clone(), &path, token, &b).await,
                    None => app.get(&path, token).await,
                };
                // `instance` names each request (its id), so differs by
                // construction; every answer must have one, alike in form.
                let mut body = reply.json();
                let instance = body["instance"].as_str().unwrap_or_default().to_owned();
                let id = instance.strip_prefix("urn:safetymap:request:").unwrap_or_default();
                assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{instance}");
                body["instance"] = json!("urn:safetymap:request:…");
                answers.push((format!("{who} {verb} {path}"), reply.status, body));
            }
        }
        for (what, status, body) in &answers {
            assert_eq!(*status, StatusCode::NOT_FOUND, "{what}: {body}");
        }
        // Per verb, the hidden, the withdrawn and the missing answer alike.
        let per = answers.len() / 3;
        for i in 0..per {
            let (a, b, c) = (&answers[i], &answers[i + per], &answers[i + 2 * per]);
            assert_eq!((a.1, &a.2), (c.1, &c.2), "{} against {}", a.0, c.0);
            assert_eq!((b.1, &b.2), (c.1, &c.2), "{} against {}", b.0, c.0);
        }

        // An empty edit reads nothing and changes nothing.
        let empty = app.send_json(Method::PATCH, &format!("/api/observations/{restricted}"), &colleague, &json!({})).await;
        assert_eq!((empty.status, empty.json()["code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("nothing-to-change")));
        assert!(!empty.text().contains("garages"));
        // A real edit of a restricted record answers a receipt, not the record.
        let edit = app.send_json(Method::PATCH, &format!("/api/observations/{restricted}"), &colleague, &json!({"severity": "high"})).await;
        assert_eq!(edit.status, StatusCode::OK, "{}", edit.text());
        let receipt = edit.json();
        assert_eq!((receipt["id"].as_i64(), receipt["version"].as_i64(), receipt["status"].clone()), (Some(restricted), Some(2), json!("new")));
        for leak in ["garages", "case_reference", "location", "history", "longitude", "description"] {
            assert!(!edit.text().contains(leak), "the edit's answer carries {leak}: {}", edit.text());
        }
        let created = app.send_json(Method::POST, "/api/observations", &colleague, &record(331_000.0, 187_000.0, "sensitive", "child-criminal-exploitation")).await;
        assert_eq!(created.status, StatusCode::CREATED);
        assert!(!created.text().contains("garages") && created.json()["id"].is_i64());
        let consultations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'consultation'")
            .fetch_one(&app.db.raw().await).await.expect("count");
        assert_eq!(consultations, 0, "no write read a record without a purpose");
    }

    async fn young_peoples_pins_stay_in_their_squares_and_participant_numbers_never_leave_the_server(backend) {
        let app = app_for_attacks(backend).await;
        let youth = app.token(Role::FieldOfficer, "youth-service").await;
        let youth_colleague = app.token(Role::FieldOfficer, "youth-service").await;
        let other_officer = app.token(Role::FieldOfficer, "parks").await;
        let panel = app.token(Role::PanelMember, "police").await;
        let coordinator = app.token(Role::Coordinator, "education").await;
        let session = app.post_keyed(&youth, "/api/perception-sessions", "s", &json!({"held_on": "2026-11-20", "age_band": "14-15"})).await;
        let id = session.json()["id"].as_i64().expect("id");
        let (e, n) = (331_230.0, 187_630.0);
        let (lon, lat) = at(e, n);
        for (key, participant) in [("a", 1), ("b", 2)] {
            let mark = app.post_keyed(&youth, &format!("/api/perception-sessions/{id}/marks"), key, &json!({
                "participant": participant, "kind": "pin", "rating": "red", "reasons": ["badly-lit"], "time_of_day": "evening",
                "geometry": {"type": "Point", "coordinates": [lon, lat]}})).await;
            assert_eq!(mark.status, StatusCode::CREATED, "{}", mark.text());
            assert!(mark.json().get("participant").is_none());
        }
        // Moving the box's edges across the exact pin changes nothing.
        let layer = |b: String| format!("/ogc/collections/perceptions/items?kind=pin&bbox={b}");
        let short = data(&app.get(&layer(bbox(e - 500.0, n - 500.0, e - 0.001, n - 0.001)), &panel).await);
        let over = data(&app.get(&layer(bbox(e - 500.0, n - 500.0, e + 0.001, n + 0.001)), &panel).await);
        assert_eq!(short, over, "the pin's exact position shows through the box");
        let at_centre = data(&app.get(&layer(bbox(e - 500.0, n - 500.0, e + 25.0, n + 25.0)), &panel).await);
        assert_eq!(at_centre["features"].as_array().map(Vec::len), Some(1), "the square is found by its centre");

        // Session reads: the facilitator's agency and coordinators, audited;
        // the exact pins only for whoever recorded it.
        let point = |reply: &crate::common::Reply| {
            let c = &reply.json()["marks"][0]["geometry"]["coordinates"];
            (c[0].as_f64().expect("lon"), c[1].as_f64().expect("lat"))
        };
        let near = |(x, y): (f64, f64)| (x - lon).abs() < 1e-9 && (y - lat).abs() < 1e-9;
        let own = app.get(&format!("/api/perception-sessions/{id}"), &youth).await;
        assert!(near(point(&own)), "the recorder sees their pins as drawn: {}", own.text());
        let colleague = app.get(&format!("/api/perception-sessions/{id}"), &youth_colleague).await;
        assert_eq!(colleague.json()["precision"], "bng-100m");
        let g = point(&colleague);
        let grid = to_grid(g.0, g.1).expect("in grid");
        assert!(!near(g) && (grid.easting - 331_250.0).abs() < 0.5 && (grid.northing - 187_650.0).abs() < 0.5, "a colleague sees the square's centre: {g:?}");
        assert_eq!(app.get(&format!("/api/perception-sessions/{id}"), &coordinator).await.status, StatusCode::OK);
        assert_eq!(app.get(&format!("/api/perception-sessions/{id}"), &other_officer).await.status, StatusCode::NOT_FOUND);
        let listed = app.get("/api/perception-sessions", &other_officer).await.json();
        assert_eq!(listed["sessions"], json!([]));
        for reply in [own, colleague, app.get("/api/perception-sessions", &youth).await, app.get(&layer(bbox(e - 500.0, n - 500.0, e + 500.0, n + 500.0)), &panel).await] {
            assert!(!reply.text().contains("\"participant\""), "a participant number left the server: {}", reply.text());
        }
        let reads: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'consultation' AND object_type = 'perception-session'")
            .fetch_one(&app.db.raw().await).await.expect("count");
        assert!(reads >= 4, "session reads are audited: {reads}");
    }

    async fn an_administrator_cannot_give_themselves_a_data_role_and_a_second_administrator_decides_for_others(backend) {
        let app = app_for_attacks(backend).await;
        let (admin, session) = app.session_as(Role::Admin, "corporate").await;
        let (other_admin_user, other_admin) = app.session_as(Role::Admin, "corporate").await;
        let own = app.as_session(Method::PATCH, &format!("/api/users/{}", admin.id), &session, Some(&json!({"role": "coordinator", "admin": true})), true).await;
        assert_eq!((own.status, own.json()["code"].clone()), (StatusCode::FORBIDDEN, json!("own-role")));
        assert_eq!(app.store.user(admin.id).await.expect("user").expect("admin").role, Role::Admin, "nothing changed");

        // Asking for it for someone else waits for a second administrator.
        let asked = app.as_session(Method::PATCH, &format!("/api/users/{}", other_admin_user.id), &session, Some(&json!({"role": "panel-member", "admin": true})), true).await;
        assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
        assert_eq!(app.store.user(other_admin_user.id).await.expect("user").expect("user").role, Role::Admin, "not yet");
        let request = asked.json()["role_request"]["id"].as_i64().expect("request id");
        let by_asker = app.as_session(Method::POST, &format!("/api/role-requests/{request}/approve"), &session, None, true).await;
        assert_eq!((by_asker.status, by_asker.json()["code"].clone()), (StatusCode::FORBIDDEN, json!("second-administrator-required")));
        let by_subject = app.as_session(Method::POST, &format!("/api/role-requests/{request}/approve"), &other_admin, None, true).await;
        assert_eq!(by_subject.status, StatusCode::FORBIDDEN, "the account's holder does not approve their own powers");
        let (_, third) = app.session_as(Role::Admin, "corporate").await;
        let approved = app.as_session(Method::POST, &format!("/api/role-requests/{request}/approve"), &third, None, true).await;
        assert_eq!((approved.status, approved.json()["outcome"].clone()), (StatusCode::OK, json!("approved")), "{}", approved.text());
        let now = app.store.user(other_admin_user.id).await.expect("user").expect("user");
        assert_eq!((now.role, now.admin), (Role::PanelMember, true));
        let trail: Vec<String> = sqlx::query_scalar("SELECT object_type FROM audit_events WHERE object_type = 'role-request' ORDER BY seq")
            .fetch_all(&app.db.raw().await).await.expect("trail");
        assert_eq!(trail.len(), 2, "the request and its approval are in the audit trail");
        // Coordinators cannot promote themselves either.
        let (coordinator_user, coordinator) = app.session_as(Role::Coordinator, "police").await;
        let promote = app.as_session(Method::PATCH, &format!("/api/users/{}", coordinator_user.id), &coordinator, Some(&json!({"role": "panel-member"})), true).await;
        assert!(promote.status.is_client_error(), "{}", promote.text());
        assert_eq!(app.store.user(coordinator_user.id).await.expect("user").expect("user").role, Role::Coordinator);
    }

    async fn every_get_route_that_answers_a_tool_with_data_writes_one_audit_event_first(backend) {
        let app = app_for_attacks(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let observation_id = app.create(&coordinator, &record(331_000.0, 187_000.0, "standard", "unsafe-environment")).await;
        let place = app.send_json(Method::POST, "/api/places", &coordinator, &json!({"name_en": "Made-up Arcade", "kind": "shopping-centre", "longitude": -2.9951, "latitude": 51.5878})).await.json()["id"].as_i64().expect("place");
        let area = app.request(Method::POST, "/api/areas/import", Some(&coordinator), &[("content-type", "application/geo+json")], Some(crate::common::wards().into_bytes())).await;
        assert!(area.status.is_success(), "{}", area.text());
        let area_id = app.get("/api/areas", &coordinator).await.json()["areas"][0]["id"].as_i64().expect("area");
        let today = chrono::Utc::now().date_naive();
        let exercise = app.post_keyed(&coordinator, "/api/exercises", "walk", &json!({"title": "Made-up review", "kind": "mapping-exercise", "area_id": area_id,
            "from": (today - chrono::Duration::days(30)).to_string(), "to": today.to_string(), "agencies": ["council"],
            "review_on": (today + chrono::Duration::days(90)).to_string()})).await;
        assert_eq!(exercise.status, StatusCode::CREATED, "{}", exercise.text());
        let exercise_id = exercise.json()["id"].as_i64().expect("exercise");
        let frozen = app.request(Method::POST, &format!("/api/exercises/{exercise_id}/freeze"), Some(&coordinator), &[], None).await;
        assert!(frozen.status.is_success(), "{}", frozen.text());
        let session = app.post_keyed(&coordinator, "/api/perception-sessions", "walk", &json!({"held_on": "2026-11-20"})).await.json()["id"].as_i64().expect("session");
        let (lon, lat) = at(331_000.0, 187_000.0);
        let ((tx, ty), _) = tile_of(lon, lat, 14);
        let fill = |path: &str| -> String {
            path.replace("{id}", &match path {
                p if p.starts_with("/api/observations") || p.starts_with("/ogc/collections/observations") => observation_id.to_string(),
                p if p.starts_with("/api/places") => place.to_string(),
                p if p.starts_with("/api/areas") => area_id.to_string(),
                p if p.starts_with("/api/exercises") => exercise_id.to_string(),
                p if p.starts_with("/api/perception-sessions") => session.to_string(),
                _ => "1".into(),
            })
            .replace("{collection}", "observations")
            .replace("{layer}", "observations")
            .replace("{z}/{x}/{y}", &format!("14/{tx}/{ty}"))
            .replace("{code}", "council")
            .replace("{*path}", "main.js")
            .replace("{fontstack}/{range}", "x/0-255")
        };
        // A tool's read is recorded durably before it is answered, so the
        // count is right as soon as the answer is in.
        let raw = app.db.raw().await;
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events").fetch_one(&raw).await.expect("count")
        };
        let mut walked = Vec::new();
        for route in safetymap::api::route_paths() {
            if safetymap::api::disclosure::exempt(&route) {
                continue;
            }
            let path = fill(&route);
            let query = if path.starts_with("/api/observations/") { "?purpose=route%20walk" } else { "" };
            let before = count().await;
            let reply = app.get(&format!("{path}{query}"), &coordinator).await;
            if !reply.status.is_success() {
                continue;
            }
            let after = count().await;
            assert!(after > before, "GET {path} answered a tool {} with no audit event", reply.status);
            walked.push(route);
        }
        for route in [
            "/ogc/collections/observations/items", "/ogc/collections/observations/items/{id}", "/api/observations/{id}",
            "/ogc/collections/grid/items", "/ogc/collections/hotspots/items", "/ogc/collections/clusters/items",
            "/ogc/collections/areas/items", "/ogc/collections/places/items", "/ogc/collections/perceptions/items",
            "/api/time-profile", "/api/places/{id}", "/api/exercises/{id}", "/api/exercises/{id}/pack",
            "/api/exercises/{id}/follow-up", "/api/perception-sessions/{id}", "/tiles/{layer}/{z}/{x}/{y}",
        ] {
            assert!(walked.iter().any(|w| w == route), "the walk answered {route} (walked: {walked:?})");
        }
        // Every exemption says why.
        for (route, why) in safetymap::api::disclosure::NOT_DISCLOSURES {
            assert!(!why.is_empty() && safetymap::api::route_paths().iter().any(|p| p == route), "{route}");
        }
    }

    async fn a_tools_head_request_and_its_not_modified_tiles_are_recorded_like_reads(backend) {
        let app = app_for_attacks(backend).await;
        let tool = app.token(Role::PanelMember, "police").await;
        let recorder = app.token(Role::Coordinator, "council").await;
        app.create(&recorder, &record(331_000.0, 187_000.0, "standard", "unsafe-environment")).await;
        let raw = app.db.raw().await;
        let disclosures = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE action = 'disclosure'").fetch_one(&raw).await.expect("count")
        };
        let before = disclosures().await;
        let head = app.request(Method::HEAD, ITEMS, Some(&tool), &[], None).await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(disclosures().await, before + 1, "a HEAD read is a read");
        let (lon, lat) = at(331_000.0, 187_000.0);
        let ((x, y), _) = tile_of(lon, lat, 14);
        let tile = app.get(&format!("/tiles/observations/14/{x}/{y}"), &tool).await;
        let etag = tile.headers.get("etag").and_then(|v| v.to_str().ok()).expect("etag").to_owned();
        let before = disclosures().await;
        let again = app.request(Method::GET, &format!("/tiles/observations/14/{x}/{y}"), Some(&tool), &[("if-none-match", &etag)], None).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert_eq!(disclosures().await, before + 1, "a 304 confirms the tile: a read");
    }

    async fn over_budget_a_principal_is_refused_with_retry_after_and_their_coordinators_are_told(backend) {
        let settings = safetymap::api::Settings { report_budget: 3, ..test_settings() };
        let app = TestApp::with_settings(TestDatabase::new(backend).await, settings).await;
        let officer = app.token(Role::FieldOfficer, "licensing").await;
        for _ in 0..3 {
            assert_eq!(app.get("/api/reports/licensing?lon=-2.9951&lat=51.5878", &officer).await.status, StatusCode::OK);
        }
        for _ in 0..2 {
            let refused = app.get("/api/reports/licensing?lon=-2.9951&lat=51.5878", &officer).await;
            assert_eq!((refused.status, refused.json()["code"].clone()), (StatusCode::TOO_MANY_REQUESTS, json!("over-budget")));
            assert!(refused.headers.get("retry-after").is_some());
        }
        let (_, coordinator) = app.session_as(Role::Coordinator, "licensing").await;
        let log = app.as_session(Method::GET, "/api/audit?action=alert", &coordinator, None, false).await.json();
        let alerts = log["events"].as_array().expect("events");
        assert_eq!(alerts.len(), 1, "one alert per crossing: {log}");
        assert_eq!(alerts[0]["object_type"], "budget");
    }
}

/// An answer without its links (which repeat the query).
fn strip_links(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("links");
    }
    v
}
