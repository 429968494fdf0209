//! Exercises: set up on an imported ward, annotated, decided, actions
//! agreed, frozen; packs that do not change after freezing; what changed
//! since the previous exercise; actions due; follow-up before and after.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, wards, Reply, TestApp};

/// Imports the made-up wards and returns the west ward's id.
async fn west_ward(app: &TestApp, coordinator: &str) -> i64 {
    let reply = app
        .request(
            Method::POST,
            "/api/areas/import",
            Some(coordinator),
            &[("content-type", "application/geo+json")],
            Some(wards().into_bytes()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    app.get("/api/areas", coordinator).await.json()["areas"]
        .as_array()
        .expect("areas")
        .iter()
        .find(|a| a["code"] == "W05900001")
        .expect("west")["id"]
        .as_i64()
        .expect("id")
}

fn days_ago(n: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(n))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Sets up an exercise on the west ward for council and police, over the
/// last 30 days.
async fn exercise(app: &TestApp, coordinator: &str, area: i64, key: &str) -> i64 {
    let reply = app.post_keyed(coordinator, "/api/exercises", key, &json!({
        "kind": "mapping-exercise", "title": "Made-up West, autumn", "area_id": area,
        "from": days_ago(30), "to": days_ago(0), "agencies": ["council", "police"], "review_on": "2027-03-01"
    })).await;
    assert!(
        reply.status == StatusCode::CREATED || reply.status == StatusCode::OK,
        "{}",
        reply.text()
    );
    reply.json()["id"].as_i64().expect("id")
}

async fn pack(app: &TestApp, token: &str, id: i64, format: &str) -> Reply {
    let reply = app
        .get(&format!("/api/exercises/{id}/pack?format={format}"), token)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply
}

/// The page's text: tags dropped, the print-date line left out.
fn page_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push('\n');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Printed"))
        .collect::<Vec<_>>()
        .join("\n")
}

on_both_stores! {
    async fn a_panel_runs_an_exercise_on_an_imported_ward_and_sees_it_as_the_panel_may(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let police = app.token(Role::PanelMember, "police").await;
        let health = app.token(Role::PanelMember, "health").await;
        let area = west_ward(&app, &coordinator).await;
        let exact = app.create(&coordinator, &observation(json!({"longitude": -3.0051, "latitude": 51.5851}))).await;
        let sensitive = app.create(&coordinator, &observation(json!({"longitude": -3.0061, "latitude": 51.5861, "sensitivity": "sensitive"}))).await;
        let restricted = app.create(&coordinator, &observation(json!({"longitude": -3.0071, "latitude": 51.5871, "sensitivity": "restricted"}))).await;
        let id = exercise(&app, &coordinator, area, "ex-1").await;
        assert_eq!(exercise(&app, &coordinator, area, "ex-1").await, id, "a retried set-up is the same exercise");
        assert_eq!(app.get("/api/exercises", &coordinator).await.json()["exercises"].as_array().map(Vec::len), Some(1));

        let view = app.get(&format!("/api/exercises/{id}"), &police).await.json();
        let items = view["items"].as_array().expect("items");
        let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().expect("id")).collect();
        assert_eq!(ids, [exact, sensitive], "the restricted record is not in the panel's view");
        assert_eq!(items[0]["item"]["lon"], -3.0051);
        assert_eq!(items[1]["item"]["precision"], "bng-100m");
        assert_ne!(items[1]["item"]["lon"], -3.0061);
        assert_eq!((view["total"]["count"].clone(), view["total"]["count_label"].clone()), (Value::Null, json!("fewer than 5")));
        let coordinators_view = app.get(&format!("/api/exercises/{id}"), &coordinator).await.text();
        assert!(!coordinators_view.contains(&format!("\"id\":{restricted}")), "the view is the panel's, whoever opens it");
        assert_eq!(app.get(&format!("/api/exercises/{id}"), &health).await.status, StatusCode::NOT_FOUND);

        let annotation = app.post_keyed(&police, &format!("/api/exercises/{id}/annotations"), "a-1", &json!({
            "geometry": {"type": "Polygon", "coordinates": [[[-3.006, 51.585], [-3.004, 51.585], [-3.004, 51.587], [-3.006, 51.585]]]},
            "note": "Gap in the fence behind the shops"
        })).await;
        assert_eq!(annotation.status, StatusCode::CREATED, "{}", annotation.text());
        let annotation = annotation.json()["id"].as_i64().expect("id");
        let line = app.post_keyed(&police, &format!("/api/exercises/{id}/annotations"), "a-2", &json!({
            "geometry": {"type": "LineString", "coordinates": [[-3.009, 51.581], [-3.001, 51.589]]}, "note": "Route young people use to the station"
        })).await;
        assert_eq!(line.status, StatusCode::CREATED);
        let decision = app.post_keyed(&police, &format!("/api/exercises/{id}/decisions"), "d-1", &json!({"text": "Ask the council to repair the fence"})).await;
        assert_eq!(decision.status, StatusCode::CREATED);
        let action_body = json!({"what": "Repair the fence behind the shops", "owner_agency": "council", "due_on": "2026-12-31", "annotation_id": annotation, "area_id": area});
        let action = app.post_keyed(&police, &format!("/api/exercises/{id}/actions"), "act-1", &action_body).await;
        assert_eq!(action.status, StatusCode::CREATED, "{}", action.text());
        let again = app.post_keyed(&police, &format!("/api/exercises/{id}/actions"), "act-1", &action_body).await;
        assert_eq!((again.status, again.json()["id"].clone()), (StatusCode::OK, action.json()["id"].clone()));
        let bad = app.post_keyed(&police, &format!("/api/exercises/{id}/actions"), "act-2", &json!({"what": "x", "owner_agency": "nobody", "due_on": "soon"})).await;
        assert_eq!((bad.status, bad.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("due_on")));
        let unknown = app.post_keyed(&police, &format!("/api/exercises/{id}/actions"), "act-3", &json!({"what": "x", "owner_agency": "nobody", "due_on": "2026-12-31"})).await;
        assert_eq!((unknown.status, unknown.json()["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("owner_agency")));

        assert_eq!(app.request(Method::POST, &format!("/api/exercises/{id}/freeze"), Some(&police), &[], None).await.status, StatusCode::FORBIDDEN);
        let frozen = app.request(Method::POST, &format!("/api/exercises/{id}/freeze"), Some(&coordinator), &[], None).await;
        assert_eq!(frozen.status, StatusCode::OK, "{}", frozen.text());
        let frozen = frozen.json();
        assert_eq!((frozen["frozen"].clone(), frozen["actions"][0]["what"].clone()), (json!(true), json!("Repair the fence behind the shops")));
        assert_eq!(frozen["annotations"].as_array().map(Vec::len), Some(2));
        let late = app.post_keyed(&police, &format!("/api/exercises/{id}/decisions"), "d-2", &json!({"text": "Too late"})).await;
        assert_eq!((late.status, late.json()["code"].clone()), (StatusCode::CONFLICT, json!("exercise-frozen")));
        let in_use = app.request(Method::DELETE, &format!("/api/areas/{area}"), Some(&coordinator), &[], None).await;
        assert_eq!((in_use.status, in_use.json()["code"].clone()), (StatusCode::CONFLICT, json!("in-use")));
    }

    async fn editing_an_observation_after_freezing_leaves_the_pack_unchanged_and_an_erased_one_shows_as_erased_since(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let police = app.token(Role::PanelMember, "police").await;
        let area = west_ward(&app, &coordinator).await;
        let kept = app.create(&coordinator, &observation(json!({"longitude": -3.0051, "latitude": 51.5851, "category": "drug-weapon-litter"}))).await;
        let erased = app.create(&coordinator, &observation(json!({"longitude": -3.0071, "latitude": 51.5871, "category": "peer-violence-weapons"}))).await;
        let id = exercise(&app, &coordinator, area, "ex").await;
        app.post_keyed(&police, &format!("/api/exercises/{id}/actions"), "a", &json!({"what": "Extra patrols on Friday evenings", "owner_agency": "police", "due_on": "2026-12-31"})).await;
        app.request(Method::POST, &format!("/api/exercises/{id}/freeze"), Some(&coordinator), &[], None).await;
        let geojson_before = pack(&app, &police, id, "geojson").await;
        assert_eq!(geojson_before.content_type(), "application/geo+json");
        // Two records: every count in the pack is withheld, for everyone.
        let counts = geojson_before.json();
        assert_eq!((counts["total"]["count"].clone(), counts["total"]["count_label"].clone()), (Value::Null, json!("fewer than 5")));
        assert!(counts["counts"].as_array().expect("counts").iter().all(|c| c["count"].is_null() && c["suppressed"] == true), "{}", counts["counts"]);
        let html_before = pack(&app, &police, id, "html").await;
        assert!(html_before.content_type().starts_with("text/html"));
        assert!(html_before.text().contains("Extra patrols on Friday evenings"));
        assert!(html_before.text().contains("In all: fewer than 5"), "{}", html_before.text());

        let edit = app.send_json(Method::PATCH, &format!("/api/observations/{kept}"), &coordinator, &json!({"status": "closed", "severity": "high"})).await;
        assert_eq!(edit.status, StatusCode::OK, "{}", edit.text());
        let actions = app.get("/api/actions", &police).await.json();
        let action = &actions["actions"][0];
        let moved = app.send_json(Method::PATCH, &format!("/api/actions/{}", action["id"]), &police, &json!({"status": "done", "version": action["version"]})).await;
        assert_eq!((moved.status, moved.json()["status"].clone()), (StatusCode::OK, json!("done")));
        app.state.clock.advance(chrono::Duration::hours(3));
        let geojson_after = pack(&app, &police, id, "geojson").await;
        assert_eq!(geojson_after.body, geojson_before.body, "the GeoJSON bundle is byte for byte the same");
        let html_after = pack(&app, &police, id, "html").await.text();
        assert_ne!(html_after, html_before.text(), "the print date moved on");
        assert_eq!(page_text(&html_after), page_text(&html_before.text()), "only the print date differs");

        let erase = app.send_json(Method::POST, &format!("/api/observations/{erased}/erase"), &coordinator, &json!({"reason": "entered in error"})).await;
        assert_eq!(erase.status, StatusCode::NO_CONTENT, "{}", erase.text());
        let bundle = pack(&app, &police, id, "geojson").await.json();
        let gone = bundle["features"].as_array().expect("features").iter()
            .find(|f| f["properties"]["id"] == erased && f["properties"]["layer"] == "observation").expect("erased feature");
        assert_eq!((gone["geometry"].clone(), gone["properties"].clone()), (Value::Null, json!({"layer": "observation", "id": erased, "erased_since": true})));
        let page = pack(&app, &police, id, "html").await.text();
        assert!(page.contains("erased since"), "{page}");
        assert!(!page.contains("Peer violence") && !page.contains("peer-violence-weapons"), "no content of the erased record remains");
        let cy = app.get(&format!("/api/exercises/{id}/pack?format=html&lang=cy"), &police).await.text();
        assert!(cy.contains("dilëwyd ers hynny") && cy.contains("lang=\"cy\""));
        let disclosures: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'disclosure' AND object_type = 'exercise'")
            .fetch_one(&app.db.raw().await).await.expect("count");
        assert_eq!(disclosures, 7, "every pack produced is recorded as a disclosure");
    }

    async fn a_second_exercise_on_the_same_area_shows_what_is_new_updated_closed_and_erased_since_the_first(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        app.agency("police").await;
        let area = west_ward(&app, &coordinator).await;
        let at = |i: u32| json!({"longitude": -3.009 + f64::from(i) * 0.001, "latitude": 51.585});
        let ids: Vec<i64> = {
            let mut v = Vec::new();
            for i in 0..4 { v.push(app.create(&coordinator, &observation(at(i))).await); }
            v
        };
        let first = exercise(&app, &coordinator, area, "first").await;
        app.request(Method::POST, &format!("/api/exercises/{first}/freeze"), Some(&coordinator), &[], None).await;
        let added = app.create(&coordinator, &observation(at(5))).await;
        app.send_json(Method::PATCH, &format!("/api/observations/{}", ids[1]), &coordinator, &json!({"severity": "high"})).await;
        app.send_json(Method::PATCH, &format!("/api/observations/{}", ids[2]), &coordinator, &json!({"status": "closed"})).await;
        app.send_json(Method::POST, &format!("/api/observations/{}/erase", ids[0]), &coordinator, &json!({"reason": "duplicate"})).await;
        let second = exercise(&app, &coordinator, area, "second").await;
        let view = app.get(&format!("/api/exercises/{second}"), &coordinator).await.json();
        assert_eq!(view["changes"], json!({"previous_id": first, "new": [added], "updated": [ids[1]], "closed": [ids[2]], "erased": [ids[0]], "left": []}));
        let first_view = app.get(&format!("/api/exercises/{first}"), &coordinator).await.json();
        let erased = first_view["items"].as_array().expect("items").iter().find(|i| i["id"] == ids[0]).expect("erased item").clone();
        assert_eq!(erased, json!({"id": ids[0], "item": null, "erased_since": true}));
    }

    async fn overdue_actions_are_listed_and_follow_up_counts_before_and_after_in_the_area_and_the_ring(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let police = app.token(Role::PanelMember, "police").await;
        let area = west_ward(&app, &coordinator).await;
        app.create(&coordinator, &observation(json!({"longitude": -3.005, "latitude": 51.585, "observed_at": days_ago(5)}))).await;
        app.create(&coordinator, &observation(json!({"longitude": -3.005, "latitude": 51.5918, "observed_at": days_ago(5)}))).await;
        app.create(&coordinator, &observation(json!({"longitude": -3.004, "latitude": 51.5918, "observed_at": days_ago(1)}))).await;
        app.create(&coordinator, &observation(json!({"longitude": -3.004, "latitude": 51.5950, "observed_at": days_ago(1)}))).await;
        let id = exercise(&app, &coordinator, area, "ex").await;
        let yesterday = (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%d").to_string();
        app.post_keyed(&police, &format!("/api/exercises/{id}/actions"), "late", &json!({"what": "Survey the lighting", "owner_agency": "council", "due_on": yesterday})).await;
        app.post_keyed(&police, &format!("/api/exercises/{id}/actions"), "later", &json!({"what": "Meet the school", "owner_agency": "police", "due_on": "2099-01-01"})).await;
        let overdue = app.get("/api/actions?due=overdue", &police).await.json();
        let listed: Vec<(Value, Value)> = overdue["actions"].as_array().expect("actions").iter().map(|a| (a["what"].clone(), a["overdue"].clone())).collect();
        assert_eq!(listed, [(json!("Survey the lighting"), json!(true))]);
        assert_eq!(app.get(&format!("/api/exercises/{id}/follow-up"), &coordinator).await.json()["code"], "not-frozen");

        app.state.clock.advance(chrono::Duration::days(-3));
        app.request(Method::POST, &format!("/api/exercises/{id}/freeze"), Some(&coordinator), &[], None).await;
        app.state.clock.advance(chrono::Duration::days(3));
        let follow = app.get(&format!("/api/exercises/{id}/follow-up?ring=500"), &coordinator).await;
        assert_eq!(follow.status, StatusCode::OK, "{}", follow.text());
        let f = follow.json()["follow_up"].clone();
        assert_eq!((f["before"]["area"]["count"].clone(), f["before"]["ring"]["count"].clone()), (json!(1), json!(1)));
        assert_eq!((f["after"]["area"]["count"].clone(), f["after"]["ring"]["count"].clone()), (json!(0), json!(1)), "the one 600 m out is beyond the ring");
        let theirs = app.get(&format!("/api/exercises/{id}/follow-up"), &police).await.json();
        assert_eq!((theirs["follow_up"]["before"]["ring"]["count"].clone(), theirs["follow_up"]["before"]["ring"]["count_label"].clone()), (Value::Null, json!("fewer than 5")));
    }
}

on_both_stores! {
    async fn a_frozen_exercise_prints_to_a_pdf_whose_text_has_its_actions(backend) {
        if safetymap::pack::chromium().is_none() {
            assert!(std::env::var_os("SAFETYMAP_REQUIRE_CHROMIUM").is_none(), "SAFETYMAP_REQUIRE_CHROMIUM is set but no Chromium was found");
            eprintln!("SKIPPED: no Chromium to print exercise packs with (scripts/test installs it)");
            return;
        }
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        app.agency("police").await;
        let area = west_ward(&app, &coordinator).await;
        app.create(&coordinator, &observation(json!({"longitude": -3.0051, "latitude": 51.5851}))).await;
        let id = exercise(&app, &coordinator, area, "ex").await;
        app.post_keyed(&coordinator, &format!("/api/exercises/{id}/actions"), "a", &json!({"what": "Fit lighting on the underpass", "owner_agency": "council", "due_on": "2027-01-31"})).await;
        app.request(Method::POST, &format!("/api/exercises/{id}/freeze"), Some(&coordinator), &[], None).await;
        let pdf = pack(&app, &coordinator, id, "pdf").await;
        assert_eq!(pdf.content_type(), "application/pdf");
        assert!(pdf.body.starts_with(b"%PDF"), "not a PDF");
        let file = app.db.sqlite_file().with_file_name("pack.pdf");
        std::fs::write(&file, &pdf.body).expect("write");
        match std::process::Command::new("pdftotext").arg(&file).arg("-").output() {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout);
                assert!(text.contains("Fit lighting on the underpass") && text.contains("Made-up West"), "{text}");
            }
            Err(_) => assert!(std::env::var_os("SAFETYMAP_REQUIRE_CHROMIUM").is_none(), "scripts/test installs pdftotext (poppler-utils)"),
        }
    }

    async fn a_field_officer_of_a_participating_agency_sees_only_their_own_records_in_the_meeting_view_and_pack(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let officer = app.token(Role::FieldOfficer, "police").await;
        let area = west_ward(&app, &coordinator).await;
        for i in 0..6 {
            app.create(&coordinator, &observation(json!({"longitude": -3.0051 + f64::from(i) * 0.0005, "latitude": 51.5851}))).await;
        }
        let own = app.create(&officer, &observation(json!({"longitude": -3.0041, "latitude": 51.5861, "description": "Gate left open"}))).await;
        let id = exercise(&app, &coordinator, area, "fo").await;
        let panel_view = app.get(&format!("/api/exercises/{id}"), &coordinator).await.json();
        assert_eq!(panel_view["items"].as_array().map(Vec::len), Some(7), "the panel sees all seven");
        let theirs = app.get(&format!("/api/exercises/{id}"), &officer).await.json();
        let ids: Vec<i64> = theirs["items"].as_array().expect("items").iter().map(|i| i["id"].as_i64().expect("id")).collect();
        assert_eq!(ids, [own], "a field officer is shown only their own record: {theirs}");
        assert_eq!(theirs["total"]["count_label"], "fewer than 5", "their counts are of what they are shown");
        let bundle = pack(&app, &officer, id, "geojson").await.json();
        let observations = bundle["features"].as_array().expect("features").iter().filter(|f| f["properties"]["layer"] == "observation").count();
        assert_eq!(observations, 1, "nor does their pack carry more");
    }

    async fn a_record_restricted_after_freezing_leaves_the_frozen_view_and_its_counts(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let police = app.token(Role::PanelMember, "police").await;
        let area = west_ward(&app, &coordinator).await;
        let mut ids = Vec::new();
        for i in 0..6 {
            ids.push(app.create(&coordinator, &observation(json!({"longitude": -3.0051 + f64::from(i) * 0.0005, "latitude": 51.5851}))).await);
        }
        let id = exercise(&app, &coordinator, area, "rf").await;
        app.request(Method::POST, &format!("/api/exercises/{id}/freeze"), Some(&coordinator), &[], None).await;
        assert_eq!(app.get(&format!("/api/exercises/{id}"), &police).await.json()["total"]["count"], 6);
        let restrict = app.send_json(Method::PATCH, &format!("/api/observations/{}", ids[0]), &coordinator, &json!({"sensitivity": "restricted"})).await;
        assert_eq!(restrict.status, StatusCode::OK, "{}", restrict.text());
        let view = app.get(&format!("/api/exercises/{id}"), &police).await.json();
        assert_eq!(view["total"]["count"], 5, "the restricted record counts nowhere now");
        assert!(view["items"].as_array().expect("items").iter().all(|i| i["id"] != ids[0]), "{view}");
    }

    async fn a_record_made_sensitive_after_freezing_shows_at_its_square_in_the_frozen_view(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let police = app.token(Role::PanelMember, "police").await;
        let area = west_ward(&app, &coordinator).await;
        let id_record = app.create(&coordinator, &observation(json!({"longitude": -3.00513, "latitude": 51.58517}))).await;
        let id = exercise(&app, &coordinator, area, "ms").await;
        app.request(Method::POST, &format!("/api/exercises/{id}/freeze"), Some(&coordinator), &[], None).await;
        let before = app.get(&format!("/api/exercises/{id}"), &police).await.json();
        assert_eq!(before["items"][0]["item"]["precision"], "exact");
        let made = app.send_json(Method::PATCH, &format!("/api/observations/{id_record}"), &coordinator, &json!({"sensitivity": "sensitive"})).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.text());
        let after = app.get(&format!("/api/exercises/{id}"), &police).await;
        let item = &after.json()["items"][0]["item"];
        assert_eq!(item["precision"], "bng-100m", "{item}");
        assert!(!after.text().contains("-3.00513") && !after.text().contains("51.58517"), "the frozen exact position is gone: {}", after.text());
    }
}
