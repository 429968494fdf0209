//! Reading the observations layer through OGC API – Features.

use std::collections::HashSet;

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::json;

use crate::common::{observation, TestApp};

const ITEMS: &str = "/ogc/collections/observations/items";

/// `n` hours ago, as RFC 3339.
fn hours_ago(n: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(n))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

on_both_stores! {
    async fn a_created_observation_appears_in_items_for_a_bbox_that_contains_it_and_not_for_one_that_does_not(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let id = app.create(&token, &observation(json!({"longitude": -2.9977, "latitude": 51.5886}))).await;
        assert_eq!(app.item_ids(&token, "bbox=-3.0,51.58,-2.99,51.59").await, [id]);
        assert!(app.item_ids(&token, "bbox=-3.2,51.40,-3.1,51.50").await.is_empty());
        let reply = app.get(&format!("{ITEMS}?bbox=-3.0,51.58,-2.99,51.59"), &token).await;
        assert_eq!(reply.content_type(), "application/geo+json");
        let feature = &reply.json()["features"][0];
        assert_eq!(feature["geometry"], json!({"type": "Point", "coordinates": [-2.9977, 51.5886]}));
        assert_eq!(feature["properties"]["category"], "unsafe-environment");
    }

    async fn bulk_items_carry_no_free_text_or_case_reference_but_the_single_item_read_does(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let id = app.create(&token, &observation(json!({"description": "Gate by the bandstand is broken", "case_reference": "WCCIS-777"}))).await;
        let layer = app.get(ITEMS, &token).await.text();
        assert!(!layer.contains("bandstand") && !layer.contains("WCCIS-777"), "{layer}");
        let single = app.get(&format!("{ITEMS}/{id}"), &token).await;
        assert_eq!(single.content_type(), "application/geo+json");
        let feature = single.json();
        assert_eq!(feature["properties"]["description"], "Gate by the bandstand is broken");
        assert_eq!(feature["properties"]["case_reference"], "WCCIS-777");
        assert_eq!(feature["id"], id);
    }

    async fn datetime_selects_by_observed_at_for_instants_and_open_and_closed_intervals(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let old_time = hours_ago(72);
        let old = app.create(&token, &observation(json!({"observed_at": old_time}))).await;
        let recent = app.create(&token, &observation(json!({"observed_at": hours_ago(2)}))).await;
        let cut = hours_ago(24);
        let enc = |s: &str| s.replace(':', "%3A").replace('+', "%2B");
        assert_eq!(app.item_ids(&token, &format!("datetime={}/..", enc(&cut))).await, [recent]);
        assert_eq!(app.item_ids(&token, &format!("datetime=../{}", enc(&cut))).await, [old]);
        assert_eq!(app.item_ids(&token, &format!("datetime={}/{}", enc(&hours_ago(100)), enc(&hours_ago(1)))).await, [old, recent]);
        assert_eq!(app.item_ids(&token, &format!("datetime={}", enc(&old_time))).await, [old]);
        let bad = app.get(&format!("{ITEMS}?datetime=yesterday"), &token).await;
        assert_eq!((bad.status, bad.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("datetime")));
    }

    async fn limit_and_next_links_page_through_every_match_exactly_once(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let mut created = Vec::new();
        for i in 0..7 {
            created.push(app.create(&token, &observation(json!({"longitude": -2.99 - f64::from(i) * 0.001}))).await);
        }
        let mut seen = Vec::new();
        let mut uri = format!("{ITEMS}?limit=3&category=unsafe-environment");
        let mut pages = 0;
        loop {
            let page = app.get(&uri, &token).await.json();
            assert_eq!(page["numberMatched"], 7);
            let returned = page["features"].as_array().expect("features").len();
            assert_eq!(page["numberReturned"], returned);
            seen.extend(page["features"].as_array().expect("features").iter().map(|f| f["id"].as_i64().expect("id")));
            pages += 1;
            let next = page["links"].as_array().expect("links").iter().find(|l| l["rel"] == "next").cloned();
            match next {
                Some(link) => {
                    let href = link["href"].as_str().expect("href");
                    assert!(href.contains("category=unsafe-environment"), "next keeps the filters: {href}");
                    uri = href.split_once("://").and_then(|(_, rest)| rest.split_once('/')).map(|(_, path)| format!("/{path}")).expect("path");
                }
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, created);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);

        let default = app.get(ITEMS, &token).await.json();
        assert_eq!(default["numberReturned"], 7);
        let clamped = app.get(&format!("{ITEMS}?limit=50000"), &token).await;
        assert_eq!(clamped.status, StatusCode::OK);
        let zero = app.get(&format!("{ITEMS}?limit=0"), &token).await;
        assert_eq!((zero.status, zero.json()["field"].clone()), (StatusCode::BAD_REQUEST, json!("limit")));
    }

    async fn the_extra_filters_select_by_category_severity_status_agency_time_band_and_days(backend) {
        let app = TestApp::new(backend).await;
        let council = app.token(Role::Coordinator, "council").await;
        let police = app.token(Role::Coordinator, "police").await;
        // 2026-01-14 is a Wednesday and 2026-01-17 a Saturday; January is GMT, so UTC = local.
        let now = chrono::Utc::now();
        let ago = |s: &str| {
            let t = chrono::DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&chrono::Utc);
            assert!(t < now);
            s.to_owned()
        };
        let evening_weekday = app.create(&council, &observation(json!({"observed_at": ago("2026-01-14T19:30:00Z"), "category": "peer-violence-weapons", "severity": "high"}))).await;
        let late_weekend = app.create(&police, &observation(json!({"observed_at": ago("2026-01-17T23:30:00Z"), "category": "substance-misuse", "severity": "low"}))).await;
        let after_school = app.create(&council, &observation(json!({"observed_at": ago("2026-01-14T15:45:00Z"), "category": "bullying-harassment", "severity": "medium"}))).await;
        app.send_json(Method::PATCH, &format!("/api/observations/{after_school}"), &council, &json!({"status": "actioned"})).await;

        assert_eq!(app.item_ids(&council, "category=peer-violence-weapons").await, [evening_weekday]);
        assert_eq!(app.item_ids(&council, "category=peer-violence-weapons,substance-misuse").await, [evening_weekday, late_weekend]);
        assert_eq!(app.item_ids(&council, "severity=low,medium").await, [late_weekend, after_school]);
        assert_eq!(app.item_ids(&council, "status=actioned").await, [after_school]);
        assert_eq!(app.item_ids(&council, "agency=police").await, [late_weekend]);
        assert!(app.item_ids(&council, "agency=nobody").await.is_empty());
        assert_eq!(app.item_ids(&council, "timeband=evening").await, [evening_weekday]);
        assert_eq!(app.item_ids(&council, "timeband=late-night").await, [late_weekend]);
        assert_eq!(app.item_ids(&council, "timeband=after-school,evening").await, [evening_weekday, after_school]);
        assert_eq!(app.item_ids(&council, "days=weekend").await, [late_weekend]);
        assert_eq!(app.item_ids(&council, "days=weekday&severity=high").await, [evening_weekday]);
        assert_eq!(app.item_ids(&council, "timeband=&days=").await.len(), 3, "empty lists filter nothing");
        let features = app.get(&format!("{ITEMS}?days=weekend"), &council).await.json();
        assert_eq!(features["features"][0]["properties"]["time_band"], "late-night");
        assert_eq!(features["features"][0]["properties"]["day"], "weekend");
    }

    async fn a_date_means_the_whole_uk_day(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        // 23:30 UTC on 3 July is 00:30 BST on Saturday 4 July.
        let id = app.create(&token, &observation(json!({"observed_at": "2026-07-03T23:30:00Z"}))).await;
        assert_eq!(app.item_ids(&token, "datetime=2026-07-04").await, [id]);
        assert!(app.item_ids(&token, "datetime=2026-07-03").await.is_empty());
        assert_eq!(app.item_ids(&token, "days=weekend").await, [id]);
    }

    async fn summer_evenings_are_banded_in_british_summer_time(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        // 17:30 UTC in July is 18:30 BST: evening, not after school.
        let id = app.create(&token, &observation(json!({"observed_at": "2026-07-08T17:30:00Z"}))).await;
        assert_eq!(app.item_ids(&token, "timeband=evening").await, [id]);
        assert!(app.item_ids(&token, "timeband=after-school").await.is_empty());
    }

    async fn unknown_and_invalid_query_parameters_are_400s_naming_the_parameter(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        for (query, code, field) in [
            ("colour=red", "unknown-parameter", "colour"),
            ("bbox=1,2,3", "invalid-bbox", "bbox"),
            ("bbox=-3,52,-2,51", "invalid-bbox", "bbox"),
            ("bbox=-2,51,-3,52", "invalid-bbox", "bbox"),
            ("category=burglary", "not-in-vocabulary", "category"),
            ("timeband=brunch", "not-in-vocabulary", "timeband"),
            ("days=funday", "not-in-vocabulary", "days"),
            ("limit=ten", "invalid-limit", "limit"),
            ("limit=5&limit=6", "repeated-parameter", "limit"),
            ("bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", "unsupported-crs", "bbox-crs"),
            ("crs=EPSG:3857", "unsupported-crs", "crs"),
        ] {
            let reply = app.get(&format!("{ITEMS}?{query}"), &token).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(reply.content_type(), "application/problem+json");
            assert_eq!((reply.json()["code"].clone(), reply.json()["field"].clone()), (json!(code), json!(field)), "{query}");
        }
    }

    async fn the_landing_page_links_the_openapi_document_conformance_and_collections(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::PanelMember, "council").await;
        let landing = app.get("/ogc", &token).await.json();
        let rels: HashSet<&str> = landing["links"].as_array().expect("links").iter().filter_map(|l| l["rel"].as_str()).collect();
        assert!(rels.is_superset(&HashSet::from(["self", "service-desc", "conformance", "data"])));
        let conformance = app.get("/ogc/conformance", &token).await.json();
        assert!(conformance["conformsTo"].as_array().expect("classes").contains(&json!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson")));
        let collections = app.get("/ogc/collections", &token).await.json();
        assert_eq!(collections["collections"][0]["id"], "observations");
        let api = app.get("/ogc/api", &token).await;
        assert!(api.content_type().starts_with("application/vnd.oai.openapi+json"));
        let api = api.json();
        assert_eq!(api["openapi"], "3.0.3");
        let categories = &api["paths"]["/ogc/collections/observations/items"]["get"]["parameters"];
        assert!(categories.to_string().contains("safe-place"), "enums come from the vocabulary");
        let missing = app.get("/ogc/collections/crimes", &token).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }

    async fn the_vocabulary_is_served_with_english_and_welsh_labels(backend) {
        let app = TestApp::new(backend).await;
        let reply = app.request(Method::GET, "/api/vocabulary", None, &[], None).await.json();
        let categories = reply["categories"].as_array().expect("categories");
        assert_eq!(categories.len(), 16);
        let safe = categories.iter().find(|c| c["code"] == "safe-place").expect("safe-place");
        assert_eq!(safe["label"]["cy"], "Lle diogel neu ffactor amddiffynnol");
        assert_eq!(reply["time_bands"].as_array().expect("bands").len(), 5);
    }
}
