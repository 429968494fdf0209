//! Every OGC collection through the one abstraction: paging, ids and
//! items/{id}, the same limit and parameter rules, and answers in British
//! National Grid and EPSG:4326 (Part 2) holding what CRS84 answers hold.

use axum::http::StatusCode;
use safetymap::bng::to_grid;
use safetymap::domain::viewer::{Credential, Viewer};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, rules, TestApp};

const BNG: &str = "http://www.opengis.net/def/crs/EPSG/0/27700";

/// The same, for other files' tests.
pub async fn app_with_every_layer_for(backend: crate::common::Backend) -> (TestApp, String) {
    app_with_every_layer(backend).await
}

/// Observations close together (a cluster, a hot spot), a place, wards,
/// a safety-mapping session and the made-up police.uk month: something in
/// every collection.
async fn app_with_every_layer(backend: crate::common::Backend) -> (TestApp, String) {
    let app = TestApp::new(backend).await;
    let coordinator = app.token(Role::Coordinator, "council").await;
    // Two knots of six, a kilometre apart: two clusters, two hot cells.
    for (lon, lat) in [(-2.9977, 51.5886), (-2.9830, 51.5950)] {
        for i in 0..6 {
            let d = f64::from(i) * 0.0002;
            app.create(
                &coordinator,
                &observation(json!({"longitude": lon + d, "latitude": lat + d})),
            )
            .await;
        }
    }
    for (name, lon) in [("Made-up Arcade", -2.9951), ("Made-up Market", -2.9931)] {
        let place = app.send_json(axum::http::Method::POST, "/api/places", &coordinator,
            &json!({"name_en": name, "kind": "shopping-centre", "longitude": lon, "latitude": 51.5878})).await;
        assert!(place.status.is_success(), "{}", place.text());
    }
    let wards = app
        .request(
            axum::http::Method::POST,
            "/api/areas/import",
            Some(&coordinator),
            &[("content-type", "application/geo+json")],
            Some(crate::common::wards().into_bytes()),
        )
        .await;
    assert!(wards.status.is_success(), "{}", wards.text());
    let officer = app.user(Role::FieldOfficer, "council").await;
    let facilitator = Viewer {
        principal: format!("user:{}", officer.id),
        name: officer.display_name.clone(),
        agency: officer.agency.clone(),
        role: Role::FieldOfficer,
        admin: false,
        credential: Credential::Session,
    };
    safetymap::demo::load_perceptions(&app.store, &facilitator, &rules(), chrono::Utc::now())
        .await
        .expect("session");
    let runner = app.user(Role::Coordinator, "council").await;
    let runner = Viewer {
        principal: format!("user:{}", runner.id),
        name: runner.display_name.clone(),
        agency: runner.agency.clone(),
        role: Role::Coordinator,
        admin: false,
        credential: Credential::Session,
    };
    let exercise =
        safetymap::demo::load_exercise(&app.store, &runner, &rules(), chrono::Utc::now())
            .await
            .expect("exercise");
    assert!(
        exercise.is_some(),
        "a made-up ward holds the demo exercise's centre"
    );
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/police-uk/2026-01-made-up-street.csv");
    app.state
        .police_imports
        .import_files(
            &[fixture],
            rules().service_area,
            &Viewer::console(),
            chrono::Utc::now(),
            |_, _| {},
        )
        .await
        .expect("police.uk fixture");
    (app, coordinator)
}

fn link(page: &Value, rel: &str) -> Option<String> {
    page["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
        .map(str::to_owned)
}

/// The path and query of an absolute link.
fn local(href: &str) -> String {
    let rest = href.split_once("://").map_or(href, |(_, r)| r);
    rest[rest.find('/').unwrap_or(rest.len())..].to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["id"].to_string().trim_matches('"').to_owned())
        .collect()
}

on_both_stores! {
    async fn every_collection_pages_by_limit_with_links_and_answers_each_listed_id_alone(backend) {
        let (app, token) = app_with_every_layer(backend).await;
        let listed = app.get("/ogc/collections", &token).await.json();
        let collections: Vec<String> = listed["collections"].as_array().expect("collections").iter()
            .map(|c| c["id"].as_str().expect("id").to_owned()).collect();
        assert_eq!(collections, ["observations", "grid", "hotspots", "clusters", "police-crimes", "places", "areas", "perceptions", "exercise-annotations"]);
        for id in &collections {
            let description = app.get(&format!("/ogc/collections/{id}"), &token).await.json();
            assert!(description["crs"].as_array().expect("crs").contains(&json!(BNG)), "{id}: {description}");
            let first = app.get(&format!("/ogc/collections/{id}/items?limit=1"), &token).await;
            assert_eq!(first.status, StatusCode::OK, "{id}: {}", first.text());
            assert_eq!(first.headers["content-crs"], "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>", "{id}");
            let page = first.json();
            assert_eq!(page["numberReturned"], 1, "{id}: {page}");
            assert!(page["numberMatched"].as_u64().expect("numberMatched") >= 2, "{id} needs two features for this test: {page}");
            assert!(link(&page, "self").is_some() && link(&page, "prev").is_none(), "{id}: {page}");
            let next = link(&page, "next").unwrap_or_else(|| panic!("{id} has no next link: {page}"));
            let second = app.get(&local(&next), &token).await.json();
            assert_eq!(second["numberReturned"], 1, "{id}: {second}");
            // Observations page by id (a cursor after the last one), which
            // has no way back short of starting again; the rest link back.
            assert_eq!(link(&second, "prev").is_some(), id != "observations", "{id}: {second}");
            assert_ne!(ids(&page), ids(&second), "{id}: pages do not repeat");
            for feature_id in ids(&page).into_iter().chain(ids(&second)) {
                let path = format!("/ogc/collections/{id}/items/{}", form_urlencoded::byte_serialize(feature_id.as_bytes()).collect::<String>());
                let alone = app.get(&path, &token).await;
                assert_eq!(alone.status, StatusCode::OK, "{path}: {}", alone.text());
                let feature = alone.json();
                assert_eq!(feature["id"].to_string().trim_matches('"'), feature_id, "{path}");
                assert!(link(&feature, "self").is_some() && link(&feature, "collection").is_some(), "{path}: {feature}");
            }
            let missing = app.get(&format!("/ogc/collections/{id}/items/no-such-feature"), &token).await;
            assert_eq!(missing.status, StatusCode::NOT_FOUND, "{id}");
        }
    }

    async fn every_collection_takes_limit_and_refuses_unknown_parameters_the_same_way(backend) {
        let (app, token) = app_with_every_layer(backend).await;
        for id in ["observations", "grid", "hotspots", "clusters", "police-crimes", "places", "areas", "perceptions", "exercise-annotations"] {
            for (query, code, field) in [
                ("limit=0", "invalid-limit", "limit"),
                ("limit=unlimited", "invalid-limit", "limit"),
                ("colour=red", "unknown-parameter", "colour"),
                ("crs=EPSG:3857", "unsupported-crs", "crs"),
                ("bbox=1,2,3", "invalid-bbox", "bbox"),
            ] {
                let reply = app.get(&format!("/ogc/collections/{id}/items?{query}"), &token).await;
                assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{id}?{query}: {}", reply.text());
                assert_eq!(reply.content_type(), "application/problem+json");
                assert_eq!((reply.json()["code"].clone(), reply.json()["field"].clone()), (json!(code), json!(field)), "{id}?{query}");
            }
            let clamped = app.get(&format!("/ogc/collections/{id}/items?limit=50000"), &token).await;
            assert_eq!(clamped.status, StatusCode::OK, "{id}: {}", clamped.text());
            assert!(clamped.json()["numberReturned"].as_u64().expect("returned") <= 10_000);
        }
    }

    async fn answers_in_british_national_grid_are_within_a_metre_of_ordnance_surveys_test_points(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        // OSTN15's test points inside the service area: (point, lat, lon, easting, northing).
        let points = [
            ("TP06", 51.4007822, -3.551283492, 292_184.87, 168_003.465),
            ("TP10", 51.85890896, -4.30852477, 241_124.584, 220_332.641),
            ("TP17", 53.41628516, -4.289180698, 247_958.971, 393_492.909),
        ];
        let mut made = Vec::new();
        for (name, lat, lon, e, n) in points {
            let id = app.create(&token, &observation(json!({"longitude": lon, "latitude": lat}))).await;
            made.push((name, id, lat, lon, e, n));
        }
        let grid = app.get(&format!("/ogc/collections/observations/items?crs={BNG}"), &token).await;
        assert_eq!(grid.headers["content-crs"], format!("<{BNG}>").as_str());
        let grid = grid.json();
        let latlon = app.get("/ogc/collections/observations/items?crs=http://www.opengis.net/def/crs/EPSG/0/4326", &token).await.json();
        for (name, id, lat, lon, e, n) in &made {
            let at = |page: &Value| page["features"].as_array().expect("features").iter()
                .find(|f| f["id"] == json!(id)).map(|f| f["geometry"]["coordinates"].clone()).expect("listed");
            let c = at(&grid);
            let off = (c[0].as_f64().expect("e") - e).hypot(c[1].as_f64().expect("n") - n);
            assert!(off <= 1.0, "{name}: {off:.3} m from OS's answer");
            assert_eq!(at(&latlon), json!([lat, lon]), "{name}: EPSG:4326 is latitude first");
            let alone = app.get(&format!("/ogc/collections/observations/items/{id}?crs=EPSG:27700"), &token).await.json();
            let c = &alone["geometry"]["coordinates"];
            assert!((c[0].as_f64().expect("e") - e).hypot(c[1].as_f64().expect("n") - n) <= 1.0, "{name} alone");
        }
        // A National Grid box round TP06 selects what the CRS84 box round
        // the same place selects: TP06 only.
        let (_, tp06, lat, lon, e, n) = made[0];
        let in_grid = app.get(&format!("/ogc/collections/observations/items?bbox-crs={BNG}&bbox={},{},{},{}", e - 500.0, n - 500.0, e + 500.0, n + 500.0), &token).await.json();
        let in_degrees = app.get(&format!("/ogc/collections/observations/items?bbox={},{},{},{}", lon - 0.005, lat - 0.005, lon + 0.005, lat + 0.005), &token).await.json();
        assert_eq!(ids(&in_grid), [tp06.to_string()]);
        assert_eq!(ids(&in_grid), ids(&in_degrees));
        // Grid squares in the National Grid have corners on whole cells
        // (to the 0.1 m the degrees they are kept in hold).
        let cells = app.get(&format!("/ogc/collections/grid/items?cell=250&crs={BNG}"), &token).await.json();
        for corner in cells["features"][0]["geometry"]["coordinates"][0].as_array().expect("ring") {
            for v in corner.as_array().expect("position") {
                let v = v.as_f64().expect("metres");
                assert!((v / 250.0 - (v / 250.0).round()).abs() * 250.0 < 0.1, "{v} is not on a 250 m line");
            }
        }
    }

    async fn a_generalised_record_asked_for_in_the_national_grid_is_its_squares_centre_and_moving_box_edges_in_metres_finds_nothing_finer(backend) {
        let app = TestApp::new(backend).await;
        let recorder = app.token(Role::FieldOfficer, "gwent-police").await;
        // Recorded 20 m west and 15 m south of its square's centre.
        let (e, n) = (331_130.0, 187_135.0);
        let (lon, lat) = safetymap::bng::from_grid(safetymap::bng::GridRef { easting: e, northing: n }).expect("in the grid");
        let id = app.create(&recorder, &observation(json!({"sensitivity": "sensitive", "longitude": lon, "latitude": lat}))).await;
        let g = to_grid(lon, lat).expect("grid");
        assert!((g.easting - e).abs() < 0.01);
        let panel = app.token(Role::PanelMember, "council").await;
        let page = app.get(&format!("/ogc/collections/observations/items?crs={BNG}"), &panel).await.json();
        let c = &page["features"][0]["geometry"]["coordinates"];
        let (se, sn) = (c[0].as_f64().expect("e"), c[1].as_f64().expect("n"));
        assert!((se - 331_150.0).abs() < 0.5 && (sn - 187_150.0).abs() < 0.5, "shown at {se},{sn}, not the square's centre");
        // Walk the east edge of a metre-grid box across the recorded easting
        // in 10 cm steps: the answer changes only where the shown centre is.
        let mut seen = Vec::new();
        for step in 0..=40 {
            let x = e - 2.0 + f64::from(step) * 0.1;
            let reply = app.get(&format!("/ogc/collections/observations/items?bbox-crs={BNG}&bbox={},{},{x},{}", e - 300.0, n - 300.0, n + 300.0), &panel).await.json();
            seen.push(reply["numberMatched"].as_u64().expect("matched"));
        }
        assert!(seen.iter().all(|&m| m == 0), "the record was found by a box that holds its recorded point but not its square's centre: {seen:?}");
        let holds_centre = app.get(&format!("/ogc/collections/observations/items?bbox-crs={BNG}&bbox=331100,187100,331160,187160"), &panel).await.json();
        assert_eq!(ids(&holds_centre), [id.to_string()]);
    }
}

/// The ids a filtered read of observations answers.
async fn filtered(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let reply = app
        .get(
            &format!("/ogc/collections/observations/items?limit=10000&{query}"),
            token,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
    let mut found = ids(&reply.json());
    found.sort();
    found
}

fn encoded(filter: &str) -> String {
    form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

on_both_stores! {
    async fn each_cql2_class_selects_what_the_equivalent_parameters_or_a_hand_count_select(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::Coordinator, "council").await;
        let hours = |h: i64| (chrono::Utc::now() - chrono::Duration::hours(h)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let a = app.create(&token, &observation(json!({"category": "unsafe-environment", "severity": "high", "observed_at": hours(2)}))).await;
        let b = app.create(&token, &observation(json!({"category": "substance-misuse", "severity": "low", "longitude": -2.9900, "observed_at": hours(50)}))).await;
        let c = app.create(&token, &observation(json!({"category": "substance-misuse", "severity": "medium", "longitude": -3.0200, "latitude": 51.6000, "observed_at": hours(200)}))).await;
        let all = {
            let mut v = vec![a.to_string(), b.to_string(), c.to_string()];
            v.sort();
            v
        };
        let just = |ids: &[i64]| {
            let mut v: Vec<String> = ids.iter().map(i64::to_string).collect();
            v.sort();
            v
        };
        // Comparison and boolean logic against the category parameter.
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("category = 'substance-misuse'"))).await,
            filtered(&app, &token, "category=substance-misuse").await);
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("category <> 'substance-misuse' OR severity = 'low'"))).await, just(&[a, b]));
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("NOT (severity = 'high') AND category = 'substance-misuse'"))).await, just(&[b, c]));
        // LIKE, IN, BETWEEN, IS NULL.
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("category LIKE 'substance%'"))).await, just(&[b, c]));
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("severity IN ('low', 'medium')"))).await, just(&[b, c]));
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded(&format!("observed_at BETWEEN TIMESTAMP('{}') AND TIMESTAMP('{}')", hours(60), hours(1))))).await, just(&[a, b]));
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("category IS NULL"))).await, Vec::<String>::new());
        // Spatial, against bbox.
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("S_INTERSECTS(geometry, BBOX(-3.0, 51.58, -2.98, 51.59))"))).await,
            filtered(&app, &token, "bbox=-3.0,51.58,-2.98,51.59").await);
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("S_WITHIN(geometry, POLYGON((-3.03 51.59, -3.01 51.59, -3.01 51.61, -3.03 51.61, -3.03 51.59)))"))).await, just(&[c]));
        // b stands 540 m east of a.
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("S_DWITHIN(geometry, POINT(-2.9977 51.5886), 600, meters)"))).await, just(&[a, b]));
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded("S_DWITHIN(geometry, POINT(-2.9977 51.5886), 400, meters)"))).await, just(&[a]));
        // Temporal, against datetime.
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded(&format!("T_AFTER(observed_at, TIMESTAMP('{}'))", hours(100))))).await,
            filtered(&app, &token, &format!("datetime={}/..", hours(100))).await);
        assert_eq!(filtered(&app, &token, &format!("filter={}", encoded(&format!("T_BEFORE(observed_at, TIMESTAMP('{}'))", hours(100))))).await, just(&[c]));
        // The same in JSON.
        let json_filter = json!({"op": "and", "args": [
            {"op": "like", "args": [{"property": "category"}, "substance%"]},
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [-3.0, 51.58, -2.98, 51.59]}]}]});
        assert_eq!(filtered(&app, &token, &format!("filter-lang=cql2-json&filter={}", encoded(&json_filter.to_string()))).await, just(&[b]));
        // A queryable given as a parameter (Part 3's shortcut) is an equality.
        assert_eq!(filtered(&app, &token, "precision=exact").await, all);
        // Paging follows the filtered set.
        let page = app.get(&format!("/ogc/collections/observations/items?limit=1&filter={}", encoded("category = 'substance-misuse'")), &token).await.json();
        assert_eq!(page["numberMatched"], 2);
        assert!(link(&page, "next").expect("next").contains("filter="));
    }

    async fn unknown_properties_and_hostile_filters_are_400s_at_once_and_queryables_list_the_vocabulary(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::PanelMember, "council").await;
        for (filter, detail) in [
            ("colour = 'red'".to_owned(), "`colour`"),
            ("description LIKE '%bins%'".to_owned(), "`description`"),
            (format!("{}category = 'x'{}", "(".repeat(40), ")".repeat(40)), "nests"),
            (format!("{}category = 'x'", "(".repeat(22)), ""),
            (format!("category = '{}'", "a".repeat(60_000)), "bytes"),
            ("category = ".to_owned(), ""),
            // A quote of the other kind does not hide brackets from the
            // count, and the parser bounds its own depth besides.
            (format!("\"'\" = 1 AND {}category = 'x'{}", "(".repeat(3000), ")".repeat(3000)), "nests"),
            (format!("category LIKE '{}'", "%a".repeat(150)), "pattern"),
        ] {
            let started = std::time::Instant::now();
            let reply = app.get(&format!("/ogc/collections/observations/items?filter={}", encoded(&filter)), &token).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
            assert_eq!((reply.json()["code"].clone(), reply.json()["field"].clone()), (json!("invalid-filter"), json!("filter")));
            assert!(reply.json()["detail"].as_str().expect("detail").contains(detail), "{}", reply.text());
            // Refused before any work: far below what parsing an
            // exponential grammar would take (this is a bound, not a timing).
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
        }
        // Filters and CRSs belong to the collections: elsewhere they are
        // refused, not quietly ignored.
        for path in ["/api/time-profile?filter=category%3D'x'", "/tiles/observations/14/8055/5442?crs=EPSG:27700"] {
            let reply = app.get(path, &token).await;
            assert_eq!((reply.status, reply.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("unknown-parameter")), "{path}");
        }
        let queryables = app.get("/ogc/collections/observations/queryables", &token).await;
        assert_eq!(queryables.content_type(), "application/schema+json");
        let queryables = queryables.json();
        assert!(queryables["properties"]["category"]["enum"].as_array().expect("codes").contains(&json!("substance-misuse")));
        assert!(queryables["properties"].get("description").is_none(), "free text is not queryable");
        let classes = app.get("/ogc/conformance", &token).await.json();
        for class in ["http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter", "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
                      "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2", "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter"] {
            assert!(classes["conformsTo"].as_array().expect("classes").contains(&json!(class)), "{class}");
        }
    }

    async fn a_filter_round_a_generalised_records_recorded_point_finds_it_only_where_its_square_centre_is(backend) {
        let app = TestApp::new(backend).await;
        let recorder = app.token(Role::FieldOfficer, "gwent-police").await;
        // Recorded 30 m west of its square's centre.
        let (e, n) = (331_120.0, 187_150.0);
        let (lon, lat) = safetymap::bng::from_grid(safetymap::bng::GridRef { easting: e, northing: n }).expect("grid");
        let id = app.create(&recorder, &observation(json!({"sensitivity": "sensitive", "longitude": lon, "latitude": lat}))).await;
        let panel = app.token(Role::PanelMember, "council").await;
        // Rings of growing radius round the recorded point, as an attacker
        // would draw them: the record enters only once the ring reaches the
        // square's centre, 30 m away — never at the recorded point itself.
        let mut first = None;
        for radius in (1..=40).map(f64::from) {
            let filter = format!("S_DWITHIN(geometry, POINT({lon} {lat}), {radius}, meters)");
            if !filtered(&app, &panel, &format!("filter={}", encoded(&filter))).await.is_empty() {
                first = Some(radius);
                break;
            }
        }
        let first = first.expect("found once the ring holds the centre");
        assert!((29.0..=31.0).contains(&first), "found at {first} m, not where the square's centre is");
        // The recorder finds it at once.
        let own = format!("S_DWITHIN(geometry, POINT({lon} {lat}), 1, meters)");
        assert_eq!(filtered(&app, &recorder, &format!("filter={}", encoded(&own))).await, [id.to_string()]);
    }
}

on_both_stores! {
    async fn asking_a_derived_collection_for_a_cell_it_does_not_hold_is_recorded_like_a_read(backend) {
        let app = TestApp::new(backend).await;
        let recorder = app.token(Role::Coordinator, "council").await;
        app.create(&recorder, &observation(json!({}))).await;
        let tool = app.token(Role::PanelMember, "police").await;
        let raw = app.db.raw().await;
        let count = || async {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE action = 'disclosure'").fetch_one(&raw).await.expect("count")
        };
        let before = count().await;
        // Probing cells one by one: a miss says the cell holds nothing the
        // tool may see, which is as much a read as a hit.
        let miss = app.get("/ogc/collections/grid/items/square-250-0-0?category=substance-misuse", &tool).await;
        assert_eq!(miss.status, StatusCode::NOT_FOUND);
        assert_eq!(count().await, before + 1);
        let page = app.get("/ogc/collections/grid/items", &tool).await.json();
        let cell = ids(&page).pop().expect("a cell");
        let hit = app.get(&format!("/ogc/collections/grid/items/{cell}"), &tool).await;
        assert_eq!(hit.status, StatusCode::OK);
        assert_eq!(count().await, before + 3, "the page and the hit are recorded too");
    }
}

on_both_stores! {
    async fn each_tile_layer_is_described_by_tilejson_and_a_style_linked_from_its_collection(backend) {
        let app = TestApp::new(backend).await;
        let token = app.token(Role::PanelMember, "council").await;
        for id in ["observations", "grid", "hotspots", "police-crimes"] {
            let collection = app.get(&format!("/ogc/collections/{id}"), &token).await.json();
            let href = collection["links"].as_array().expect("links").iter()
                .find(|l| l["type"] == "application/vnd.mapbox.tile+json").and_then(|l| l["href"].as_str()).expect("a TileJSON link").to_owned();
            let tilejson = app.get(&local(&href), &token).await.json();
            assert_eq!(tilejson["tilejson"], "3.0.0");
            assert_eq!(tilejson["tiles"][0], format!("http://127.0.0.1/tiles/{id}/{{z}}/{{x}}/{{y}}"));
            let (min, max) = (tilejson["minzoom"].as_u64().expect("minzoom"), tilejson["maxzoom"].as_u64().expect("maxzoom"));
            assert!(min < max && max <= 22, "{tilejson}");
            assert_eq!(tilejson["vector_layers"][0]["id"], id, "the tiles' layer is named as the collection");
            let style = app.get(&format!("/tiles/{id}/style.json"), &token).await.json();
            assert_eq!(style["version"], 8);
            assert_eq!(style["layers"][0]["source-layer"], id);
            // The template the documents give serves tiles.
            let tile = app.get(&format!("/tiles/{id}/12/2013/1360"), &token).await;
            assert!(tile.status.is_success(), "{id}: {}", tile.status);
        }
        let places = app.get("/ogc/collections/places", &token).await.json();
        assert!(places["links"].as_array().expect("links").iter().all(|l| l["type"] != "application/vnd.mapbox.tile+json"));
        assert_eq!(app.get("/tiles/perceptions/tilejson.json", &token).await.status, StatusCode::NOT_FOUND);
    }
}

/// A download read back by GDAL as GeoJSON.
fn gdal_geojson(bytes: &[u8], extension: &str) -> Value {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join(format!("download.{extension}"));
    std::fs::write(&path, bytes).expect("write");
    let out = std::process::Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/"])
        .arg(&path)
        .output()
        .expect("ogr2ogr (gdal-bin; scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("GeoJSON")
}

/// A GeoPackage read back by GDAL as GeoJSON (validated first with GDAL's
/// own `validate_gpkg.py`).
fn read_back(gpkg: &[u8], layer: &str) -> Value {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("download.gpkg");
    std::fs::write(&path, gpkg).expect("write");
    let validator = [
        "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py",
        "/usr/share/doc/python3-gdal/examples/validate_gpkg.py",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("GDAL's validate_gpkg.py (python3-gdal; scripts/test installs it)");
    let check = std::process::Command::new("python3")
        .arg(validator)
        .arg(&path)
        .output()
        .expect("python3");
    assert!(
        check.status.success(),
        "validate_gpkg.py: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let out = std::process::Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", "/vsistdout/"])
        .arg(&path)
        .arg(layer)
        .output()
        .expect("ogr2ogr (gdal-bin; scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("GeoJSON")
}

on_both_stores! {
    async fn every_download_holds_the_features_and_properties_of_the_geojson_answer_and_needs_a_purpose(backend) {
        let (app, token) = app_with_every_layer(backend).await;
        for id in ["observations", "grid", "hotspots", "clusters", "police-crimes", "places", "areas", "perceptions", "exercise-annotations"] {
            let page = app.get(&format!("/ogc/collections/{id}/items?limit=10000"), &token).await.json();
            let mut expected = ids(&page);
            expected.sort();
            let refused = app.get(&format!("/ogc/collections/{id}/items?f=csv"), &token).await;
            assert_eq!((refused.status, refused.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("purpose-required")), "{id}");

            let csv_reply = app.get(&format!("/ogc/collections/{id}/items?f=csv&purpose=Panel%20preparation"), &token).await;
            assert_eq!(csv_reply.status, StatusCode::OK, "{id}: {}", csv_reply.text());
            assert!(csv_reply.headers["content-disposition"].to_str().expect("header").contains(&format!("safetymap-{id}-")));
            let mut reader = csv::Reader::from_reader(csv_reply.body.as_slice());
            let header = reader.headers().expect("header").clone();
            let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
            let mut got: Vec<String> = rows.iter().map(|r| r[0].to_owned()).collect();
            got.sort();
            assert_eq!(got, expected, "{id}: the CSV holds the GeoJSON answer's features");
            // Each property of the first feature is in its row.
            let first = &page["features"][0];
            let row = rows.iter().find(|r| r[0] == *first["id"].to_string().trim_matches('"')).expect("row");
            for (name, value) in first["properties"].as_object().expect("properties") {
                let i = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{id}: no column {name}"));
                let text = match value { Value::String(s) => s.clone(), Value::Null => String::new(), other => other.to_string() };
                assert_eq!(&row[i], text, "{id}.{name}");
            }

            let fgb = app.get(&format!("/ogc/collections/{id}/items?f=fgb&purpose=Panel%20preparation"), &token).await;
            assert_eq!(fgb.status, StatusCode::OK, "{id}: {}", fgb.text());
            assert_eq!(fgb.content_type(), "application/flatgeobuf");
            let back = gdal_geojson(&fgb.body, "fgb");
            let mut from_fgb: Vec<String> = back["features"].as_array().expect("features").iter()
                .map(|f| f["properties"]["feature_id"].as_str().expect("feature_id").to_owned()).collect();
            from_fgb.sort();
            assert_eq!(from_fgb, expected, "{id}: the FlatGeobuf holds the GeoJSON answer's features");

            let gpkg = app.get(&format!("/ogc/collections/{id}/items?f=gpkg&purpose=Panel%20preparation"), &token).await;
            assert_eq!(gpkg.status, StatusCode::OK, "{id}: {}", gpkg.text());
            assert_eq!(gpkg.content_type(), "application/geopackage+sqlite3");
            let back = read_back(&gpkg.body, &id.replace('-', "_"));
            let mut from_gpkg: Vec<String> = back["features"].as_array().expect("features").iter()
                .map(|f| f["properties"]["feature_id"].as_str().expect("feature_id").to_owned()).collect();
            from_gpkg.sort();
            assert_eq!(from_gpkg, expected, "{id}: the GeoPackage holds the GeoJSON answer's features");
        }
        // Recorded with its purpose, for a person in the app as for a tool.
        let events = app.store.audit_events(&safetymap::store::AuditQuery { limit: 10_000, ..Default::default() }).await.expect("events");
        let downloads: Vec<_> = events.iter().filter(|e| e.object_type == "download").collect();
        assert_eq!(downloads.len(), 27, "one event per download");
        assert!(downloads.iter().all(|e| e.purpose.as_deref() == Some("Panel preparation") && e.action == "disclosure"));
    }

    async fn another_agencys_panel_member_downloads_a_sensitive_record_only_at_its_squares_centre(backend) {
        let app = TestApp::new(backend).await;
        let recorder = app.token(Role::FieldOfficer, "gwent-police").await;
        let (e, n) = (331_120.0, 187_135.0);
        let (lon, lat) = safetymap::bng::from_grid(safetymap::bng::GridRef { easting: e, northing: n }).expect("grid");
        let id = app.create(&recorder, &observation(json!({"sensitivity": "sensitive", "longitude": lon, "latitude": lat,
            "description": "Behind the made-up arcade's bins"}))).await;
        let (_, session) = app.session_as(Role::PanelMember, "council").await;
        for (format, crs) in [("csv", "EPSG:27700"), ("gpkg", "EPSG:27700"), ("geojson", "EPSG:27700"), ("csv", "OGC:CRS84")] {
            let reply = app.as_session(axum::http::Method::GET, &format!("/ogc/collections/observations/items?f={format}&crs={crs}&purpose=Hot%20spot%20review"), &session, None, false).await;
            assert_eq!(reply.status, StatusCode::OK, "{format}: {}", reply.text());
            let text = String::from_utf8_lossy(&reply.body).into_owned();
            assert!(!text.contains("bins"), "{format}: free text");
            let (x, y) = if format == "gpkg" {
                let back = read_back(&reply.body, "observations");
                let c = &back["features"][0]["geometry"]["coordinates"];
                (c[0].as_f64().expect("x"), c[1].as_f64().expect("y"))
            } else if format == "csv" {
                let mut reader = csv::Reader::from_reader(reply.body.as_slice());
                let row = reader.records().next().expect("a row").expect("row");
                assert_eq!(&row[0], id.to_string());
                (row[1].parse().expect("x"), row[2].parse().expect("y"))
            } else {
                let c = &reply.json()["features"][0]["geometry"]["coordinates"];
                (c[0].as_f64().expect("x"), c[1].as_f64().expect("y"))
            };
            if crs == "EPSG:27700" {
                assert!((x - 331_150.0).abs() < 0.5 && (y - 187_150.0).abs() < 0.5, "{format}: ({x}, {y}) is not the square's centre");
            } else {
                let (cx, cy) = safetymap::bng::from_grid(safetymap::bng::GridRef { easting: 331_150.0, northing: 187_150.0 }).expect("centre");
                assert!((x - cx).abs() < 2e-6 && (y - cy).abs() < 2e-6, "{format}: ({x}, {y})");
                assert!((x - lon).abs() > 1e-4, "never the recorded point");
            }
        }
    }
}

on_both_stores! {
    async fn exercise_annotations_are_shown_only_to_those_who_may_read_their_exercise_and_a_probe_for_one_finds_nothing(backend) {
        let (app, coordinator) = app_with_every_layer(backend).await;
        let drawn = app.get("/ogc/collections/exercise-annotations/items", &coordinator).await.json();
        assert_eq!(drawn["numberMatched"], 3, "{drawn}");
        let notes: Vec<&str> = drawn["features"].as_array().expect("features").iter()
            .map(|f| f["properties"]["note"].as_str().expect("note")).collect();
        assert!(notes.iter().any(|n| n.contains("Underpass")), "{notes:?}");
        assert_eq!(drawn["features"][0]["properties"]["exercise_title"], "City centre evening economy (demo)");
        let first = ids(&drawn).remove(0);
        // An agency registered after the exercise was set up takes no part
        // in it: its panel member sees none of what was drawn, and asking
        // for a drawing by id is answered as if there were none.
        let outsider = app.token(Role::PanelMember, "later-agency").await;
        let none = app.get("/ogc/collections/exercise-annotations/items", &outsider).await.json();
        assert_eq!(none["numberMatched"], 0, "{none}");
        let probe = app.get(&format!("/ogc/collections/exercise-annotations/items/{first}"), &outsider).await;
        assert_eq!(probe.status, StatusCode::NOT_FOUND);
        let download = app.get("/ogc/collections/exercise-annotations/items?f=csv&purpose=Probing", &outsider).await;
        assert_eq!(download.status, StatusCode::OK);
        assert_eq!(download.text().lines().count(), 1, "a header and no rows: {}", download.text());
        // A participating agency's panel member sees them, and a box away
        // from the drawings selects none.
        let member = app.token(Role::PanelMember, "council").await;
        let theirs = app.get("/ogc/collections/exercise-annotations/items", &member).await.json();
        assert_eq!(theirs["numberMatched"], 3);
        let away = app.get("/ogc/collections/exercise-annotations/items?bbox=-3.2,51.6,-3.1,51.7", &member).await.json();
        assert_eq!(away["numberMatched"], 0);
    }

    async fn a_large_download_arrives_in_pieces_as_it_is_written_and_holds_every_feature(backend) {
        let db = crate::common::TestDatabase::new(backend).await;
        let store = db.open().await;
        let rows = safetymap::demo::synthetic_observations([-3.05, 51.56, -2.94, 51.62], 3000, 7, chrono::Utc::now());
        store.create_observations_bulk(&rows).await.expect("bulk load");
        store.close().await;
        let app = TestApp::with_settings(db, crate::common::test_settings()).await;
        let recorder = app.token(Role::Coordinator, "council").await;
        let reply = app.response("/ogc/collections/observations/items?f=geojson&purpose=Stream%20check", &recorder).await;
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.headers()["content-encoding"], "gzip");
        assert_eq!(reply.headers()["x-number-matched"], "3000");
        assert!(reply.headers().get("content-length").is_none(), "streamed, not built whole first");
        let mut body = reply.into_body().into_data_stream();
        let (mut pieces, mut bytes) = (0, Vec::new());
        while let Some(chunk) = futures_util::StreamExt::next(&mut body).await {
            pieces += 1;
            bytes.extend_from_slice(&chunk.expect("chunk"));
        }
        assert!(pieces > 1, "{pieces} piece(s)");
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut text).expect("gzip");
        let collection: Value = serde_json::from_slice(&text).expect("one whole GeoJSON document");
        assert_eq!(collection["features"].as_array().expect("features").len(), 3000);
        assert_eq!(collection["numberReturned"], 3000);
    }
}

on_both_stores! {
    async fn a_reader_who_stops_reading_holds_one_place_and_the_next_download_is_busy_before_anything_is_recorded(backend) {
        let db = crate::common::TestDatabase::new(backend).await;
        let store = db.open().await;
        let rows = safetymap::demo::synthetic_observations([-3.05, 51.56, -2.94, 51.62], 3000, 7, chrono::Utc::now());
        store.create_observations_bulk(&rows).await.expect("bulk load");
        store.close().await;
        let settings = safetymap::api::Settings { analysis_workers: 1, ..crate::common::test_settings() };
        let app = TestApp::with_settings(db, settings).await;
        let tool = app.token(Role::Coordinator, "council").await;
        let path = "/ogc/collections/observations/items?f=csv&purpose=Holding%20the%20line";
        let count = || async {
            app.store.audit_events(&safetymap::store::AuditQuery { limit: 10_000, ..Default::default() }).await.expect("events")
                .iter().filter(|e| e.object_type == "download").count()
        };
        // A script opens a large download and never reads it.
        let stalled = app.response(path, &tool).await;
        assert_eq!(stalled.status(), StatusCode::OK);
        assert_eq!(count().await, 1);
        // Its place is held while it stalls: the next download is told the
        // service is busy, and nothing about it is recorded as disclosed.
        let busy = app.get(path, &tool).await;
        assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE, "{}", busy.text());
        assert_eq!(busy.json()["code"], "busy");
        assert_eq!(count().await, 1);
        // Once it goes away, the writer stops and frees its place.
        drop(stalled);
        let mut later = None;
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let reply = app.get(path, &tool).await;
            if reply.status == StatusCode::OK {
                later = Some(reply);
                break;
            }
        }
        let later = later.expect("a place came free after the stalled reader left");
        assert_eq!(later.text().lines().count(), 3001, "a header and every record");
    }
}

on_both_stores! {
    async fn the_command_line_exports_a_collection_as_its_user_sees_it_and_records_the_purpose(backend) {
        let app = TestApp::new(backend).await;
        let recorder = app.token(Role::FieldOfficer, "gwent-police").await;
        let sensitive = app.create(&recorder, &observation(json!({"sensitivity": "sensitive", "description": "Behind the made-up arcade's bins"}))).await;
        let standard = app.create(&recorder, &observation(json!({"longitude": -2.9900}))).await;
        let panel = app.user(Role::PanelMember, "council").await;
        let dir = tempfile::tempdir().expect("dir");
        let out = dir.path().join("observations.csv");
        let run = app.db.cli(&["export", "observations", "--format", "csv", "--as", &panel.username,
            "--purpose", "Hot spot review", "--query", "crs=EPSG:27700", "--output", &out.display().to_string()]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        assert!(String::from_utf8_lossy(&run.stderr).contains("wrote"), "a progress line");
        let text = std::fs::read_to_string(&out).expect("file");
        assert!(!text.contains("bins"));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
        let mut got: Vec<String> = rows.iter().map(|r| r[0].to_owned()).collect();
        got.sort();
        let mut expected = vec![sensitive.to_string(), standard.to_string()];
        expected.sort();
        assert_eq!(got, expected);
        let row = rows.iter().find(|r| r[0] == *sensitive.to_string()).expect("row");
        let e: f64 = row[1].parse().expect("easting");
        assert!((e % 100.0 - 50.0).abs() < 0.5, "{e}: at its square's centre, as this panel member is shown it");
        let events = app.store.audit_events(&safetymap::store::AuditQuery { limit: 1000, ..Default::default() }).await.expect("events");
        let last = events.iter().rev().find(|e| e.object_type == "download").expect("recorded");
        assert_eq!((last.principal.clone(), last.purpose.as_deref()), (format!("user:{}", panel.id), Some("Hot spot review")));
        let refused = app.db.cli(&["export", "observations", "--as", &panel.username, "--purpose", "x", "--query", "colour=red"]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("colour"));
    }
}

on_both_stores! {
    async fn the_analysts_views_hold_no_exact_sensitive_position_no_restricted_record_and_no_free_text(backend) {
        let app = TestApp::new(backend).await;
        let recorder = app.token(Role::FieldOfficer, "gwent-police").await;
        let (lon, lat) = safetymap::bng::from_grid(safetymap::bng::GridRef { easting: 331_120.0, northing: 187_135.0 }).expect("grid");
        let sensitive = app.create(&recorder, &observation(json!({"sensitivity": "sensitive", "longitude": lon, "latitude": lat,
            "description": "Behind the made-up arcade's bins", "case_reference": "WCCIS-0001"}))).await;
        let restricted = app.create(&recorder, &observation(json!({"sensitivity": "restricted"}))).await;
        let standard = app.create(&recorder, &observation(json!({"longitude": -2.9900}))).await;
        let withdrawn = app.create(&recorder, &observation(json!({"longitude": -2.9800}))).await;
        let gone = app.send_json(axum::http::Method::POST, &format!("/api/observations/{withdrawn}/withdraw"), &recorder, &json!({"reason": "logged twice"})).await;
        assert!(gone.status.is_success());
        // What another agency's panel member is shown, through the API.
        let panel = app.token(Role::PanelMember, "council").await;
        let page = app.get("/ogc/collections/observations/items", &panel).await.json();
        let shown = page["features"].as_array().expect("features").iter().find(|f| f["id"] == json!(sensitive)).expect("listed")["geometry"]["coordinates"].clone();
        let raw = app.db.raw().await;
        // Both stores keep where a generalised record is shown: the API's
        // square centre, never the recorded point.
        let row = sqlx::query("SELECT shown_lon, shown_lat FROM observations WHERE id = $1").bind(sensitive).fetch_one(&raw).await.expect("row");
        let kept: (f64, f64) = (sqlx::Row::get(&row, 0), sqlx::Row::get(&row, 1));
        assert_eq!(json!([kept.0, kept.1]), shown);
        if backend != crate::common::Backend::Postgres {
            return;
        }
        let rows = sqlx::query("SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y, precision FROM analyst.observations ORDER BY id")
            .fetch_all(&raw).await.expect("the analyst view");
        let ids: Vec<i64> = rows.iter().map(|r| sqlx::Row::get(r, "id")).collect();
        assert_eq!(ids, [sensitive, standard], "no restricted ({restricted}) or withdrawn ({withdrawn}) record");
        let (x, y): (f64, f64) = (sqlx::Row::get(&rows[0], "x"), sqlx::Row::get(&rows[0], "y"));
        assert_eq!(json!([x, y]), shown, "the analysts see the square the app shows");
        assert_eq!(sqlx::Row::get::<String, _>(&rows[0], "precision"), "bng-100m");
        let columns: Vec<(String, String)> = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
             WHERE a.attrelid = 'analyst.observations'::regclass AND a.attnum > 0 ORDER BY a.attnum")
            .fetch_all(&raw).await.expect("columns").iter()
            .map(|r| (sqlx::Row::get(r, 0), sqlx::Row::get(r, 1))).collect();
        for forbidden in ["description", "case_reference", "recorded_by", "lon", "lat", "extent_geojson", "shown_lon"] {
            assert!(columns.iter().all(|(c, _)| c != forbidden), "{forbidden} in {columns:?}");
        }
        for (name, kind) in [("geom", "geometry(Point,4326)"), ("geom_bng", "geometry(Point,27700)"),
                             ("observed_at", "timestamp with time zone"), ("indicators", "text[]")] {
            assert!(columns.contains(&(name.to_owned(), kind.to_owned())), "{name} {kind} in {columns:?}");
        }
        // The analysts' role reads the schema and nothing else.
        sqlx::query("SET ROLE safetymap_analyst").execute(&raw).await.expect("role");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM analyst.observations").fetch_one(&raw).await.expect("may read the views");
        assert_eq!(n, 2);
        // A condition that fails on a row the view leaves out would tell
        // the analyst that row is there: the barrier keeps it from them.
        // The classic probe: a cheap function of the analyst's own that
        // fails on the rows it is looking for (a plain view runs it first).
        sqlx::query(&format!("CREATE FUNCTION pg_temp.probe(id bigint) RETURNS boolean AS $$
            BEGIN IF id IN ({restricted}, {withdrawn}) THEN RAISE EXCEPTION 'seen %', id; END IF; RETURN true; END
            $$ LANGUAGE plpgsql COST 0.0000001")).execute(&raw).await.expect("analysts may make temporary functions");
        let probed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM analyst.observations WHERE pg_temp.probe(id)")
            .fetch_one(&raw).await.expect("no row outside the view is ever tested");
        assert_eq!(probed, 2);
        assert!(sqlx::query("SELECT description FROM public.observations").fetch_all(&raw).await.is_err(), "may not read the table");
        assert!(sqlx::query("SELECT * FROM audit_events").fetch_all(&raw).await.is_err());
        sqlx::query("RESET ROLE").execute(&raw).await.expect("reset");
        let login: bool = sqlx::query_scalar("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'safetymap_analyst'").fetch_one(&raw).await.expect("role");
        assert!(!login, "NOLOGIN: analysts sign in as themselves and are granted it");
    }
}
