//! Writing observations: create, validation, idempotency, edit, withdraw.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, TestApp};

async fn assert_nothing_written(app: &TestApp) {
    assert_eq!(app.store.count_observations().await.expect("count"), 0);
    assert_eq!(app.state.index.len(), 0);
}

on_both_stores! {
    async fn each_kind_of_bad_input_is_a_problem_naming_the_field_and_writes_nothing(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let long_text = "x".repeat(2001);
        let next_year = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
        let cases: Vec<(&str, Value, u16, &str, &str)> = vec![
            ("longitude beyond 180", observation(json!({"longitude": 200.0})), 422, "out-of-range", "longitude"),
            ("latitude beyond 90", observation(json!({"latitude": -95.0})), 422, "out-of-range", "latitude"),
            ("outside Wales", observation(json!({"longitude": -0.1276, "latitude": 51.5072})), 422, "outside-service-area", "longitude"),
            ("unknown category", observation(json!({"category": "burglary"})), 422, "not-in-vocabulary", "category"),
            ("unknown setting", observation(json!({"setting": "beach"})), 422, "not-in-vocabulary", "setting"),
            ("unknown indicator", observation(json!({"indicators": ["no-cctv", "aliens"]})), 422, "not-in-vocabulary", "indicators[1]"),
            ("unknown grading", observation(json!({"grading": {"source": "reliable", "information": "gossip", "handling": "may-be-shared"}})), 422, "not-in-vocabulary", "grading.information"),
            ("observed in the future", observation(json!({"observed_at": next_year})), 422, "in-the-future", "observed_at"),
            ("observed before the horizon", observation(json!({"observed_at": "1990-01-01T00:00:00Z"})), 422, "before-horizon", "observed_at"),
            ("not a date-time", observation(json!({"observed_at": "last tuesday"})), 422, "invalid-datetime", "observed_at"),
            ("description too long", observation(json!({"description": long_text})), 422, "too-long", "description"),
            ("unknown field", observation(json!({"suspect_name": "x"})), 422, "unknown-field", "suspect_name"),
            ("wrong type", observation(json!({"longitude": "west"})), 422, "invalid-type", "longitude"),
            ("extent not a geometry", observation(json!({"extent": {"type": "Circle"}})), 422, "invalid-geometry", "extent"),
        ];
        for (what, body, status, code, field) in cases {
            let reply = app.send_json(Method::POST, "/api/observations", &token, &body).await;
            assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.text());
            assert_eq!(reply.content_type(), "application/problem+json", "{what}");
            let problem = reply.json();
            assert_eq!(problem["code"], code, "{what}: {problem}");
            assert_eq!(problem["field"], field, "{what}: {problem}");
        }

        let mut missing = observation(json!({}));
        missing.as_object_mut().expect("object").remove("category");
        let reply = app.send_json(Method::POST, "/api/observations", &token, &missing).await;
        assert_eq!((reply.json()["code"].clone(), reply.json()["field"].clone()), (json!("missing-field"), json!("category")));

        let malformed = app
            .request(Method::POST, "/api/observations", Some(&token), &[("content-type", "application/json")], Some(b"{\"longitude\": ".to_vec()))
            .await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed.json()["code"], "malformed-json");

        let not_json = app
            .request(Method::POST, "/api/observations", Some(&token), &[("content-type", "text/plain")], Some(b"hello".to_vec()))
            .await;
        assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(not_json.json()["field"], "Content-Type");

        let huge = observation(json!({"description": "y".repeat(20_000)}));
        let too_big = app.send_json(Method::POST, "/api/observations", &token, &huge).await;
        assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_big.json()["code"], "body-too-large");

        assert_nothing_written(&app).await;
    }

    async fn every_bad_field_is_listed_not_only_the_first(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let body = observation(json!({"category": "nope", "severity": "extreme", "latitude": 99.0}));
        let reply = app.send_json(Method::POST, "/api/observations", &token, &body).await;
        let fields: Vec<String> = reply.json()["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().unwrap_or("").to_owned())
            .collect();
        assert_eq!(fields, ["latitude", "category", "severity"]);
        assert_nothing_written(&app).await;
    }

    async fn an_idempotent_retry_returns_the_same_id_and_leaves_one_row(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::FieldOfficer, "parks").await;
        let body = serde_json::to_vec(&observation(json!({}))).expect("json");
        let headers = [("content-type", "application/json"), ("idempotency-key", "phone-7f3a-0001")];
        let first = app.request(Method::POST, "/api/observations", Some(&token), &headers, Some(body.clone())).await;
        let retry = app.request(Method::POST, "/api/observations", Some(&token), &headers, Some(body)).await;
        assert_eq!(first.status, StatusCode::CREATED);
        assert_eq!(retry.status, StatusCode::CREATED);
        assert_eq!(retry.json()["id"], first.json()["id"]);
        assert_eq!(retry.headers.get("idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
        assert_eq!(app.store.count_observations().await.expect("count"), 1);
        assert_eq!(app.state.index.len(), 1);

        let different = serde_json::to_vec(&observation(json!({"severity": "high"}))).expect("json");
        let reuse = app.request(Method::POST, "/api/observations", Some(&token), &headers, Some(different)).await;
        assert_eq!(reuse.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reuse.json()["code"], "idempotency-key-reused");
        assert_eq!(app.store.count_observations().await.expect("count"), 1);
    }

    async fn concurrent_retries_with_one_key_still_leave_one_row(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::FieldOfficer, "parks").await;
        let body = serde_json::to_vec(&observation(json!({}))).expect("json");
        let headers = [("content-type", "application/json"), ("idempotency-key", "burst")];
        let replies = futures_util::future::join_all((0..6).map(|_| {
            app.request(Method::POST, "/api/observations", Some(&token), &headers, Some(body.clone()))
        }))
        .await;
        let ids: std::collections::HashSet<_> = replies.iter().map(|r| r.json()["id"].clone()).collect();
        assert_eq!(ids.len(), 1, "{replies:?}");
        assert_eq!(app.store.count_observations().await.expect("count"), 1);
    }

    async fn a_geojson_feature_is_accepted_as_a_new_observation(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::FieldOfficer, "parks").await;
        let mut properties = observation(json!({}));
        let map = properties.as_object_mut().expect("object");
        map.remove("longitude");
        map.remove("latitude");
        let feature = json!({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-2.9951, 51.5893]},
            "properties": properties
        });
        let reply = app.send_json(Method::POST, "/api/observations", &token, &feature).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        assert_eq!(reply.json()["location"], json!({"lon": -2.9951, "lat": 51.5893}));

        let line = json!({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[-3.0, 51.5], [-3.1, 51.6]]}, "properties": properties});
        let refused = app.send_json(Method::POST, "/api/observations", &token, &line).await;
        assert_eq!(refused.json()["field"], "geometry");
    }

    async fn a_created_observation_reads_back_in_full_with_its_defaults(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let id = app.create(&token, &observation(json!({
            "category": "child-sexual-exploitation",
            "case_reference": "WCCIS-000123",
            "extent": {"type": "Polygon", "coordinates": [[[-2.998, 51.588], [-2.997, 51.588], [-2.997, 51.589], [-2.998, 51.588]]]}
        }))).await;
        let record = app.get(&format!("/api/observations/{id}?purpose=Test%20read"), &token).await.json();
        assert_eq!(record["category"], "child-sexual-exploitation");
        assert_eq!(record["sensitivity"], "sensitive", "the category's default");
        assert_eq!(record["status"], "new");
        assert_eq!(record["agency"], "council");
        assert_eq!(record["case_reference"], "WCCIS-000123");
        assert_eq!(record["grading"], json!({"source": "reliable", "information": "known-directly", "handling": "may-be-shared"}));
        assert_eq!(record["extent"]["type"], "Polygon");
        let review_by = chrono::NaiveDate::parse_from_str(record["review_by"].as_str().expect("date"), "%Y-%m-%d").expect("date");
        let in_two_years = (chrono::Utc::now() + chrono::Duration::days(730)).date_naive();
        assert!((review_by - in_two_years).num_days().abs() <= 2, "24 months for exploitation: {review_by}");
        assert_eq!(record["history"][0]["kind"], "created");
    }

    async fn editing_keeps_history_and_moves_the_observation_in_the_layer(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let id = app.create(&token, &observation(json!({}))).await;
        let patch = json!({"longitude": -3.0002, "latitude": 51.5790, "status": "reviewed", "case_reference": "MOSAIC-42"});
        let reply = app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &patch).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let record = reply.json();
        assert_eq!(record["version"], 2);
        assert_eq!(record["status"], "reviewed");
        let change = &record["history"][1];
        assert_eq!(change["kind"], "edited");
        assert_eq!(change["changes"]["status"], json!({"from": "new", "to": "reviewed"}));
        assert_eq!(change["changes"]["case_reference"], json!({"from": null, "to": "MOSAIC-42"}));

        assert!(app.item_ids(&token, "bbox=-2.9980,51.5880,-2.9970,51.5890").await.is_empty());
        assert_eq!(app.item_ids(&token, "bbox=-3.0010,51.5785,-2.9995,51.5795").await, [id]);

        let cleared = app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &json!({"case_reference": null})).await;
        assert_eq!(cleared.json()["case_reference"], Value::Null);

        let bad = app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &json!({"status": "binned"})).await;
        assert_eq!((bad.status.as_u16(), bad.json()["field"].clone()), (422, json!("status")));
        let after = app.get(&format!("/api/observations/{id}"), &token).await.json();
        assert_eq!(after["version"], 3, "a refused edit changes nothing");
    }

    async fn withdrawing_removes_it_from_layers_and_keeps_it_with_its_reason(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let id = app.create(&token, &observation(json!({}))).await;
        let no_reason = app.send_json(Method::POST, &format!("/api/observations/{id}/withdraw"), &token, &json!({"reason": " "})).await;
        assert_eq!(no_reason.json()["field"], "reason");
        let reply = app.send_json(Method::POST, &format!("/api/observations/{id}/withdraw"), &token, &json!({"reason": "Logged twice by mistake"})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["withdrawn"]["reason"], "Logged twice by mistake");
        assert!(app.item_ids(&token, "").await.is_empty());
        let single = app.get(&format!("/ogc/collections/observations/items/{id}"), &token).await;
        assert_eq!(single.status, StatusCode::NOT_FOUND);
        assert_eq!(app.store.count_observations().await.expect("count"), 1, "soft delete keeps the row");
        let again = app.send_json(Method::POST, &format!("/api/observations/{id}/withdraw"), &token, &json!({"reason": "again"})).await;
        assert_eq!((again.status, again.json()["code"].clone()), (StatusCode::CONFLICT, json!("withdrawn")));

        // Withdrawn often because of what it says: only those who could
        // withdraw it may still open it.
        let kept = app.get(&format!("/api/observations/{id}"), &token).await;
        assert_eq!(kept.json()["withdrawn"]["reason"], "Logged twice by mistake");
        let panel = app.token(Role::PanelMember, "police").await;
        let hidden = app.get(&format!("/api/observations/{id}"), &panel).await;
        assert_eq!(hidden.status, StatusCode::NOT_FOUND);
        assert!(!hidden.text().contains("bandstand"));
    }

    async fn changing_the_category_moves_the_review_date_to_the_new_categorys_period(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let id = app.create(&token, &observation(json!({"category": "young-people-congregating"}))).await;
        let before = app.get(&format!("/api/observations/{id}"), &token).await.json()["review_by"].clone();
        let after = app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &json!({"category": "child-sexual-exploitation"})).await.json();
        let date = |v: &Value| chrono::NaiveDate::parse_from_str(v.as_str().expect("date"), "%Y-%m-%d").expect("date");
        let months = (date(&after["review_by"]) - date(&before)).num_days();
        assert!((540..=560).contains(&months), "6 months became 24: {before} → {}", after["review_by"]);
    }

    async fn free_text_that_looks_like_it_identifies_people_is_saved_only_once_acknowledged(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::FieldOfficer, "parks").await;
        let text = "Seen with Mr Jones again, ring 07700 900123";
        let reply = app.send_json(Method::POST, "/api/observations", &token, &observation(json!({"description": text}))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let problem = reply.json();
        assert_eq!((problem["code"].clone(), problem["field"].clone()), (json!("personal-identifiers-suspected"), json!("description")));
        let warnings: Vec<(String, u64, u64)> = problem["warnings"].as_array().expect("warnings").iter()
            .map(|w| (w["kind"].as_str().unwrap_or("").to_owned(), w["start"].as_u64().unwrap_or(0), w["end"].as_u64().unwrap_or(0)))
            .collect();
        assert_eq!(warnings, [("name".to_owned(), 10, 18), ("phone-number".to_owned(), 31, 43)]);
        let detail = problem["detail"].as_str().expect("detail");
        assert!(detail.contains("case system") && detail.contains("system achosion"), "says where identities belong, in both languages: {detail}");
        assert_eq!(problem["warnings"][0]["message"]["cy"], "Mae hwn yn edrych fel enw person.");
        assert_nothing_written(&app).await;

        let id = app.create(&token, &observation(json!({"description": text, "acknowledge_warnings": true}))).await;
        let dob = app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &json!({"description": "DOB 03/04/2011"})).await;
        assert_eq!((dob.status, dob.json()["warnings"][0]["kind"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("date-of-birth")));
        let other_field = app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &json!({"severity": "high"})).await;
        assert_eq!(other_field.status, StatusCode::OK, "text already acknowledged is not flagged again");
        let acknowledged = app.send_json(Method::PATCH, &format!("/api/observations/{id}"), &token, &json!({"description": "DOB 03/04/2011", "acknowledge_warnings": true})).await;
        assert_eq!(acknowledged.status, StatusCode::OK);
        assert_eq!(acknowledged.json()["version"], 3);
    }

    async fn linking_to_a_place_that_does_not_exist_is_refused(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let reply = app.send_json(Method::POST, "/api/observations", &token, &observation(json!({"place_id": 999}))).await;
        assert_eq!((reply.status.as_u16(), reply.json()["field"].clone()), (422, json!("place_id")));
        assert_nothing_written(&app).await;
    }
}

on_both_stores! {
    async fn text_with_a_control_character_is_refused_naming_the_field_the_same_on_both_stores_and_nothing_is_written(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        // U+0000 is what PostgreSQL cannot store at all; escape and delete
        // have no place in text either. Tab and newline are text.
        for (body, field) in [
            (observation(json!({"description": "Path unlit\u{0} by the bandstand"})), "description"),
            (observation(json!({"description": "Path \u{1b}[8mhidden\u{1b}[0m"})), "description"),
            (observation(json!({"indicators": ["poor-lighting", "no-cctv\u{7f}"]})), "indicators[1]"),
        ] {
            let refused = app.send_json(Method::POST, "/api/observations", &token, &body).await;
            assert_eq!((refused.status, refused.json()["errors"][0]["code"].clone(), refused.json()["errors"][0]["field"].clone()),
                (StatusCode::UNPROCESSABLE_ENTITY, json!("control-character"), json!(field)), "{}", refused.text());
        }
        assert_nothing_written(&app).await;
        let fine = app.send_json(Method::POST, "/api/observations", &token, &observation(json!({"description": "Path unlit\tafter dusk\nby the bandstand"}))).await;
        assert_eq!(fine.status, StatusCode::CREATED, "tab and newline are text: {}", fine.text());
        let id = fine.json()["id"].as_i64().expect("id");
        let purpose = app.get(&format!("/api/observations/{id}?purpose=panel%00meeting"), &token).await;
        assert_eq!((purpose.status, purpose.json()["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("purpose")), "{}", purpose.text());
        let place = app.send_json(Method::POST, "/api/places", &token, &json!({"name_en": "Made-up\u{0} Arcade", "kind": "shopping-centre", "longitude": -2.9977, "latitude": 51.5886})).await;
        assert_eq!((place.status, place.json()["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("name_en")), "{}", place.text());
        let csv = "name_en,kind,longitude,latitude\nMade-up\u{0} Arcade,shopping-centre,-2.9977,51.5886\n";
        let import = app.request(Method::POST, "/api/places/import", Some(&token), &[("content-type", "text/csv")], Some(csv.as_bytes().to_vec())).await;
        assert_eq!((import.status, import.json()["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("file")), "{}", import.text());
        assert!(import.json()["errors"][0]["message"].as_str().is_some_and(|m| m.contains("line 2")), "{}", import.text());
        let geojson = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name_en": "Made-up\u{0} Arcade", "kind": "shopping-centre"}, "geometry": {"type": "Point", "coordinates": [-2.9977, 51.5886]}}]}).to_string();
        let escaped = app.request(Method::POST, "/api/places/import", Some(&token), &[("content-type", "application/geo+json")], Some(geojson.into_bytes())).await;
        assert_eq!((escaped.status, escaped.json()["errors"][0]["code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("control-character")), "escaped in JSON too: {}", escaped.text());
        assert!(app.get("/api/places", &token).await.text().find("Arcade").is_none(), "no place was written");
        assert_eq!(app.store.count_observations().await.expect("count"), 1);
    }
}
