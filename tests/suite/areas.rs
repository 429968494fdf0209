//! Areas: importing boundaries with both names, drawing areas, and the
//! `areas` collection's counts, with small counts withheld below
//! coordinator.

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, wards, TestApp};

async fn import(app: &TestApp, token: &str, query: &str, body: &str) -> crate::common::Reply {
    app.request(
        Method::POST,
        &format!("/api/areas/import{query}"),
        Some(token),
        &[("content-type", "application/geo+json")],
        Some(body.as_bytes().to_vec()),
    )
    .await
}

/// The `areas` collection's features for a query, by code.
async fn counts(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (String, std::collections::BTreeMap<String, Value>) {
    let reply = app
        .get(&format!("/ogc/collections/areas/items?{query}"), token)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let by_code = reply.json()["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["properties"]["code"].as_str().expect("code").to_owned(),
                f["properties"].clone(),
            )
        })
        .collect();
    (reply.text(), by_code)
}

on_both_stores! {
    async fn an_imported_ward_file_keeps_welsh_and_english_names_and_importing_it_again_replaces_rather_than_adds(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let first = import(&app, &coordinator, "", &wards()).await;
        assert_eq!(first.json(), json!({"added": 2, "replaced": 0}), "{}", first.text());
        let again = import(&app, &coordinator, "", &wards()).await;
        assert_eq!(again.json(), json!({"added": 0, "replaced": 2}));
        let panel = app.token(Role::PanelMember, "police").await;
        let areas = app.get("/api/areas", &panel).await.json()["areas"].as_array().expect("areas").clone();
        assert_eq!(areas.len(), 2);
        assert_eq!((areas[0]["kind"].as_str(), areas[0]["name_en"].as_str(), areas[0]["name_cy"].as_str()),
            (Some("ward"), Some("Made-up West"), Some("Gorllewin Dychmygol")));
        let refused = import(&app, &panel, "", &wards()).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let bng = import(&app, &coordinator, "", &wards().replace("urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::27700")).await;
        assert_eq!((bng.status, bng.json()["errors"][0]["code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("unsupported-crs")));
    }

    async fn the_shared_newport_wards_and_lsoas_import_from_the_command_line_with_their_welsh_names(backend) {
        let wards = std::path::Path::new("../shared/data/boundaries/electoral-wal-wards_by_lad-W06000022.json");
        let lsoas = std::path::Path::new("../shared/data/boundaries/statistical-wal-lsoa_by_lad-W06000022.json");
        if !wards.is_file() || !lsoas.is_file() {
            eprintln!("SKIPPED: ../shared/data/boundaries is absent; the shared Newport boundaries are not imported");
            return;
        }
        let app = TestApp::new(backend).await;
        let out = app.db.cli(&["import", "areas", wards.to_str().expect("path"), lsoas.to_str().expect("path")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(said.contains("20 added") && said.contains("95 added"), "{said}");
        app.state.areas.reload(&app.store).await.expect("reload");
        let coordinator = app.token(Role::Coordinator, "council").await;
        let areas = app.get("/api/areas", &coordinator).await.json()["areas"].as_array().expect("areas").clone();
        let allt = areas.iter().find(|a| a["code"] == "W05000833").expect("Allt-yr-yn");
        assert_eq!((allt["kind"].as_str(), allt["name_cy"].as_str()), (Some("ward"), Some("Allt-yr-ynn")));
        assert_eq!(areas.iter().filter(|a| a["kind"] == "lsoa").count(), 95);
        if backend == crate::common::Backend::Postgres {
            // PostGIS derives the shape too, for analysts' SQL.
            let pool = app.db.raw().await;
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM areas WHERE ST_IsValid(geom) AND ST_Area(geom::geography) > 100000")
                .fetch_one(&pool).await.expect("postgis");
            assert_eq!(n, 115);
        }
    }

    async fn area_counts_follow_the_filter_and_a_panel_member_sees_fewer_than_five_where_a_coordinator_sees_the_count(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        assert_eq!(import(&app, &coordinator, "", &wards()).await.status, StatusCode::OK);
        for i in 0..3 {
            app.create(&coordinator, &observation(json!({"longitude": -3.005 + f64::from(i) * 0.001, "latitude": 51.585}))).await;
        }
        for i in 0..6 {
            app.create(&coordinator, &observation(json!({"longitude": -2.995 + f64::from(i) * 0.0005, "latitude": 51.586, "category": "safe-place", "setting": "park"}))).await;
        }
        let (_, mine) = counts(&app, &coordinator, "kind=ward").await;
        assert_eq!((mine["W05900001"]["count"].clone(), mine["W05900002"]["count"].clone()), (json!(3), json!(6)));
        let (text, theirs) = counts(&app, &app.token(Role::PanelMember, "police").await, "kind=ward").await;
        let west = &theirs["W05900001"];
        assert_eq!((west["count"].clone(), west["suppressed"].clone()), (Value::Null, json!(true)));
        assert_eq!((west["count_label"].as_str(), west["count_label_cy"].as_str()), (Some("fewer than 5"), Some("llai na 5")));
        assert_eq!(theirs["W05900002"]["count"], 6);
        assert!(!text.contains("\"count\":3"), "{text}");
        let (_, safe_only) = counts(&app, &coordinator, "kind=ward&category=safe-place").await;
        assert_eq!((safe_only["W05900001"]["count"].clone(), safe_only["W05900002"]["count"].clone()), (json!(0), json!(6)));
        let (_, east_only) = counts(&app, &coordinator, "bbox=-2.995,51.58,-2.99,51.59").await;
        assert_eq!(east_only.keys().collect::<Vec<_>>(), ["W05900002"]);
    }

    async fn a_drawn_area_is_saved_once_however_often_it_is_retried_and_an_open_ring_is_refused(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "council").await;
        let body = json!({"name_en": "Station approach", "name_cy": "Ffordd yr orsaf",
            "geometry": {"type": "Polygon", "coordinates": [[[-3.0, 51.588], [-2.998, 51.588], [-2.998, 51.590], [-3.0, 51.588]]]}});
        let send = |key: &'static str, body: Value| {
            let app = &app;
            let coordinator = coordinator.clone();
            async move {
                app.request(Method::POST, "/api/areas", Some(&coordinator),
                    &[("content-type", "application/json"), ("idempotency-key", key)],
                    Some(serde_json::to_vec(&body).expect("json"))).await
            }
        };
        let first = send("draw-1", body.clone()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
        let again = send("draw-1", body.clone()).await;
        assert_eq!((again.status, again.json()["id"].clone()), (StatusCode::OK, first.json()["id"].clone()));
        let mut open = body.clone();
        open["geometry"]["coordinates"][0].as_array_mut().expect("ring").pop();
        let refused = send("draw-2", open).await;
        assert_eq!((refused.status, refused.json()["errors"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("geometry")));
        let (_, areas) = counts(&app, &coordinator, "kind=drawn").await;
        assert_eq!(areas.len(), 1);
        let id = first.json()["id"].as_i64().expect("id");
        let deleted = app.request(Method::DELETE, &format!("/api/areas/{id}"), Some(&coordinator), &[], None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert!(counts(&app, &coordinator, "kind=drawn").await.1.is_empty());
    }
}
