//! The places register: adding, editing, removing and importing places,
//! the `places` collection, and a place's observations over time.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, TestApp};

fn anchor() -> Value {
    json!({
        "name_en": "The Anchor", "name_cy": "Yr Angor", "kind": "licensed-premises",
        "longitude": -2.9951, "latitude": 51.5878, "address": "1 Made-up Street, Newport",
        "licence_reference": "PL/TEST/0001", "manager_role": "Designated premises supervisor",
        "training": "trained", "safe_place": true
    })
}

async fn post_place(app: &TestApp, token: &str, key: &str, body: &Value) -> crate::common::Reply {
    app.request(
        Method::POST,
        "/api/places",
        Some(token),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(serde_json::to_vec(body).expect("json")),
    )
    .await
}

async fn register(app: &TestApp, token: &str) -> Vec<Value> {
    let reply = app.get("/api/places", token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    reply.json()["places"].as_array().expect("places").clone()
}

async fn import(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: &str,
) -> crate::common::Reply {
    app.request(
        Method::POST,
        "/api/places/import",
        Some(token),
        &[("content-type", content_type)],
        Some(body.as_bytes().to_vec()),
    )
    .await
}

on_both_stores! {
    async fn a_field_officer_adds_a_place_once_however_often_the_save_is_retried_and_every_role_reads_it(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "licensing").await;
        let first = post_place(&app, &officer, "save-1", &anchor()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
        let again = post_place(&app, &officer, "save-1", &anchor()).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json()["id"], first.json()["id"]);
        let panel = app.token(Role::PanelMember, "police").await;
        let places = register(&app, &panel).await;
        assert_eq!(places.len(), 1);
        let place = &places[0];
        assert_eq!((place["name_cy"].as_str(), place["kind"].as_str()), (Some("Yr Angor"), Some("licensed-premises")));
        assert_eq!((place["licence_reference"].as_str(), place["training"].as_str(), place["safe_place"].as_bool()),
            (Some("PL/TEST/0001"), Some("trained"), Some(true)));
        let items = app.get("/ogc/collections/places/items?kind=licensed-premises&bbox=-3.0,51.58,-2.99,51.59", &panel).await;
        assert_eq!(items.content_type(), "application/geo+json");
        let feature = &items.json()["features"][0];
        assert_eq!(feature["geometry"], json!({"type": "Point", "coordinates": [-2.9951, 51.5878]}));
        assert_eq!(feature["properties"]["manager_role"], "Designated premises supervisor");
        let elsewhere = app.get("/ogc/collections/places/items?kind=park", &panel).await;
        assert_eq!(elsewhere.json()["numberMatched"], 0);
        let refused = post_place(&app, &panel, "save-2", &anchor()).await;
        assert_eq!((refused.status, refused.json()["code"].clone()), (StatusCode::FORBIDDEN, json!("forbidden")));
        assert_eq!(register(&app, &panel).await.len(), 1);
        let reused = post_place(&app, &officer, "save-1", &json!({"name_en": "Other", "kind": "park", "longitude": -2.99, "latitude": 51.58})).await;
        assert_eq!(reused.json()["code"], "idempotency-key-reused");
    }

    async fn a_bad_place_names_each_field_at_fault_and_adds_nothing(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "licensing").await;
        let bad = post_place(&app, &officer, "bad-1", &json!({
            "name_en": "", "kind": "nightclub", "longitude": 2.35, "latitude": 48.85,
            "manager_role": "Mr John Smith, 07700 900123", "training": "sort-of"
        })).await;
        assert_eq!((bad.status, bad.content_type()), (StatusCode::UNPROCESSABLE_ENTITY, "application/problem+json"));
        let fields: Vec<String> = bad.json()["errors"].as_array().expect("errors").iter()
            .map(|e| format!("{}:{}", e["field"].as_str().unwrap_or(""), e["code"].as_str().unwrap_or(""))).collect();
        for expected in ["name_en:invalid-length", "kind:not-in-vocabulary", "longitude:outside-service-area",
                         "manager_role:looks-like-personal-data", "training:not-in-vocabulary"] {
            assert!(fields.contains(&expected.to_owned()), "{expected} missing from {fields:?}");
        }
        assert!(register(&app, &officer).await.is_empty());
    }

    async fn editing_a_place_needs_the_version_it_read_and_a_stale_edit_changes_nothing(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "licensing").await;
        let id = post_place(&app, &officer, "k", &anchor()).await.json()["id"].as_i64().expect("id");
        let mut edited = anchor();
        edited["training"] = json!("lapsed");
        edited["version"] = json!(1);
        let first = app.send_json(Method::PUT, &format!("/api/places/{id}"), &officer, &edited).await;
        assert_eq!((first.status, first.json()["version"].clone(), first.json()["training"].clone()), (StatusCode::OK, json!(2), json!("lapsed")));
        edited["training"] = json!("none");
        let stale = app.send_json(Method::PUT, &format!("/api/places/{id}"), &officer, &edited).await;
        assert_eq!((stale.status, stale.json()["code"].clone()), (StatusCode::CONFLICT, json!("edit-conflict")));
        let place = app.get(&format!("/api/places/{id}"), &officer).await.json();
        assert_eq!(place["place"]["training"], "lapsed");
        let removed = app.request(Method::DELETE, &format!("/api/places/{id}"), Some(&officer), &[], None).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/api/places/{id}"), &officer).await.status, StatusCode::NOT_FOUND);
        assert!(register(&app, &officer).await.is_empty());
    }

    async fn importing_the_same_places_twice_adds_them_once_and_a_changed_file_updates_them_by_reference(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let csv = "ref,name_en,name_cy,kind,longitude,latitude,licence_reference,training,safe_place\n\
                   LIC-1,The Anchor,Yr Angor,licensed-premises,-2.9951,51.5878,PL/1,trained,yes\n\
                   PARK-1,Made-up Park,Parc Dychmygol,park,-2.9901,51.5901,,,no\n";
        let first = import(&app, &coordinator, "text/csv", csv).await;
        assert_eq!(first.json(), json!({"added": 2, "updated": 0, "unchanged": 0}), "{}", first.text());
        let again = import(&app, &coordinator, "text/csv", csv).await;
        assert_eq!(again.json(), json!({"added": 0, "updated": 0, "unchanged": 2}));
        let geojson = json!({"type": "FeatureCollection", "features": [{
            "type": "Feature", "id": "LIC-1", "geometry": {"type": "Point", "coordinates": [-2.9951, 51.5878]},
            "properties": {"name": "The Anchor", "name_cy": "Yr Angor", "kind": "licensed-premises", "licence_reference": "PL/1", "training": "lapsed", "safe_place": true}
        }]}).to_string();
        let changed = import(&app, &coordinator, "application/geo+json", &geojson).await;
        assert_eq!(changed.json(), json!({"added": 0, "updated": 1, "unchanged": 0}));
        let places = register(&app, &coordinator).await;
        assert_eq!(places.len(), 2);
        assert_eq!(places.iter().find(|p| p["source_ref"] == "LIC-1").expect("LIC-1")["training"], "lapsed");
        let bad = import(&app, &coordinator, "text/csv", "ref,name_en,kind,longitude,latitude\nX,New place,park,-2.99,51.58\nY,Bad,chippy,-2.99,51.58\n").await;
        assert_eq!((bad.status, bad.json()["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("rows[2].kind")));
        assert_eq!(register(&app, &coordinator).await.len(), 2, "a refused file adds nothing");
    }

    async fn the_command_line_imports_places_from_a_file_and_says_what_it_did(backend) {
        let app = TestApp::new(backend).await;
        let file = app.db.sqlite_file().with_file_name("places.csv");
        std::fs::write(&file, "ref,name_en,kind,longitude,latitude\nT-1,Made-up taxi rank,taxi-rank,-2.9975,51.5880\n").expect("write");
        let out = app.db.cli(&["import", "places", file.to_str().expect("path")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 added, 0 updated, 0 unchanged"));
        let coordinator = app.token(Role::Coordinator, "council").await;
        assert_eq!(register(&app, &coordinator).await[0]["name_cy"], "Made-up taxi rank");
    }

    async fn a_place_shows_its_observations_by_month_but_never_links_a_record_the_viewer_sees_generalised(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "licensing").await;
        let place = post_place(&app, &officer, "k", &anchor()).await.json()["id"].as_i64().expect("id");
        let council = app.token(Role::Coordinator, "council").await;
        let standard = app.create(&council, &observation(json!({"place_id": place, "longitude": -2.9951, "latitude": 51.5878, "setting": "licensed-premises"}))).await;
        let sensitive = app.create(&council, &observation(json!({"place_id": place, "longitude": -2.9951, "latitude": 51.5878, "setting": "licensed-premises", "sensitivity": "sensitive"}))).await;
        let _elsewhere = app.create(&council, &observation(json!({}))).await;
        let mine = app.get(&format!("/api/places/{place}"), &council).await.json();
        assert_eq!(mine["observations"]["total"], 2);
        let month = mine["observations"]["by_month"][0].clone();
        assert_eq!(month["count"], 2);
        assert_eq!(month["month"].as_str().map(str::len), Some(7));
        let police = app.token(Role::PanelMember, "police").await;
        let theirs = app.get(&format!("/api/places/{place}"), &police).await.json();
        assert_eq!(theirs["observations"]["total"], 1);
        assert_eq!(theirs["observations"]["items"][0]["id"], standard);
        assert_eq!(app.item_ids(&police, &format!("place={place}")).await, [standard]);
        assert_eq!(app.item_ids(&council, &format!("place={place}")).await, [standard, sensitive]);
        let bad = app.get("/ogc/collections/observations/items?place=abc", &police).await;
        assert_eq!((bad.status, bad.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("place")));
    }
}
