//! The web app's files, the security headers, the basemap, and what the
//! layer gives the app: 100 m squares for generalised positions and "mine".

use axum::http::{Method, StatusCode};
use safetymap::domain::vocabulary::Role;
use serde_json::json;

use crate::common::{observation, TestApp};

const SHARED_MBTILES: &str = "../shared/data/osm-newport/newport-basemap-z10-15.mbtiles";
const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

on_both_stores! {
    async fn the_app_is_served_with_a_strict_content_security_policy_and_api_answers_are_not_cached(backend) {
        let app = TestApp::new(backend).await;
        let page = app.request(Method::GET, "/", None, &[], None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.content_type().starts_with("text/html"));
        assert!(page.text().contains("/js/main.js") && !page.text().contains("<script>"), "no inline script");
        let csp = page.headers["content-security-policy"].to_str().expect("csp").to_owned();
        for part in ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"] {
            assert!(csp.contains(part), "{csp} lacks {part}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
        assert_eq!(page.headers["referrer-policy"], "no-referrer");

        let module = app.request(Method::GET, "/js/main.js", None, &[], None).await;
        assert!(module.content_type().starts_with("text/javascript"));
        let licence = app.request(Method::GET, "/vendor/maplibre-gl/LICENSE.txt", None, &[], None).await;
        assert!(licence.text().contains("MapLibre contributors"));
        let worker = app.request(Method::GET, "/sw.js", None, &[], None).await;
        assert_eq!(worker.headers["service-worker-allowed"], "/");
        assert_eq!(app.request(Method::GET, "/js/../Cargo.toml", None, &[], None).await.status, StatusCode::NOT_FOUND);

        let token = app.token(Role::PanelMember, "police").await;
        let items = app.get("/ogc/collections/observations/items", &token).await;
        assert_eq!(items.headers["cache-control"], "no-store");
        assert!(items.headers.contains_key("content-security-policy"));
    }

    async fn generalised_positions_come_with_their_100_m_square_and_mine_keeps_ones_own(backend) {
        let app = TestApp::new(backend).await;
        let police = app.token(Role::FieldOfficer, "police").await;
        let council_user = app.user(Role::PanelMember, "council").await;
        let council = app.token_for(&council_user, true).await;
        let sensitive = app.create(&police, &observation(json!({"sensitivity": "sensitive", "longitude": -2.99771, "latitude": 51.58862}))).await;
        let own = app.create(&council, &observation(json!({}))).await;

        let layer = app.get("/ogc/collections/observations/items", &council).await.json();
        let feature = layer["features"].as_array().expect("features").iter().find(|f| f["id"] == sensitive).expect("shown").clone();
        let cell = feature["properties"]["cell"].as_array().expect("a square").clone();
        assert_eq!(cell.len(), 5);
        assert_eq!(cell[0], cell[4], "a closed ring");
        let grid = |p: &serde_json::Value| safetymap::bng::to_grid(p[0].as_f64().expect("lon"), p[1].as_f64().expect("lat")).expect("grid");
        let (sw, ne) = (grid(&cell[0]), grid(&cell[2]));
        assert!((ne.easting - sw.easting - 100.0).abs() < 0.5 && (ne.northing - sw.northing - 100.0).abs() < 0.5);
        assert!((sw.easting / 100.0 - (sw.easting / 100.0).round()).abs() < 0.005, "corners on the 100 m grid");
        let exact = safetymap::bng::to_grid(-2.99771, 51.58862).expect("grid");
        assert!(exact.easting > sw.easting && exact.easting < ne.easting && exact.northing > sw.northing && exact.northing < ne.northing);
        let text = layer.to_string();
        assert!(!text.contains("-2.99771") && !text.contains("51.58862"));
        let own_feature = layer["features"].as_array().expect("features").iter().find(|f| f["id"] == own).expect("own").clone();
        assert!(own_feature["properties"].get("cell").is_none(), "exact positions have no square");

        assert_eq!(app.item_ids(&council, "mine=true").await, [own]);
        assert_eq!(app.item_ids(&police, "mine=true").await, [sensitive]);
        let bad = app.get("/ogc/collections/observations/items?mine=yes", &council).await;
        assert_eq!((bad.status, bad.json()["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid-mine")));
    }

    async fn without_a_basemap_file_the_style_is_a_plain_background_with_the_service_area(backend) {
        let app = TestApp::new(backend).await;
        let style = app.request(Method::GET, "/basemap/style.json", None, &[], None).await.json();
        assert_eq!(style["version"], 8);
        assert!(style["sources"]["service-area"].is_object());
        assert!(style["sources"].get("basemap").is_none());
        let layers: Vec<&str> = style["layers"].as_array().expect("layers").iter().map(|l| l["id"].as_str().unwrap_or("")).collect();
        assert_eq!(layers, ["background", "service-area"]);
        assert_eq!(app.request(Method::GET, "/basemap/tiles/14/8000/5400.pbf", None, &[], None).await.status, StatusCode::NOT_FOUND);
        let streets = app.request(Method::GET, "/basemap/streets.json", None, &[], None).await;
        assert_eq!(streets.status, StatusCode::NOT_FOUND, "no street search without tiles");
        assert_eq!(streets.json()["detail"], "no MBTiles basemap is configured");
    }

    async fn the_service_worker_keeps_every_script_of_the_app_so_it_opens_offline(backend) {
        let app = TestApp::new(backend).await;
        let worker = app.request(Method::GET, "/sw.js", None, &[], None).await.text();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/web/js");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).expect("web/js") {
            let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
            // A module missing from the shell breaks every import of it offline.
            if name.ends_with(".js") && !worker.contains(&format!("'/js/{name}'")) {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "scripts the offline app would lack: {missing:?}");
    }

    async fn the_newport_mbtiles_basemap_serves_its_tiles_style_and_label_glyphs(backend) {
        if !std::path::Path::new(SHARED_MBTILES).exists() || !std::path::Path::new(DEJAVU).exists() {
            eprintln!("skipped: needs {SHARED_MBTILES} (../shared/data) and {DEJAVU} (fonts-dejavu-core)");
            return;
        }
        let app = TestApp::new(backend).await;
        let basemap = safetymap::basemap::Basemap::open(&safetymap::basemap::BasemapConfig {
            mbtiles: Some(SHARED_MBTILES.into()),
            style_url: None,
            font: Some(DEJAVU.into()),
            attribution: "© OpenStreetMap contributors (ODbL)".into(),
        })
        .await
        .expect("open basemap");
        let app = TestApp { router: safetymap::api::app(app.state.clone().with_basemap(basemap)), ..app };
        let style = app.request(Method::GET, "/basemap/style.json", None, &[("host", "maps.example")], None).await.json();
        assert_eq!(style["sources"]["basemap"]["tiles"][0], "http://maps.example/basemap/tiles/{z}/{x}/{y}.pbf");
        assert_eq!(style["sources"]["basemap"]["attribution"], "© OpenStreetMap contributors (ODbL)");
        assert_eq!(style["glyphs"], "http://maps.example/basemap/fonts/{fontstack}/{range}.pbf");
        assert!(style["layers"].as_array().expect("layers").iter().any(|l| l["id"] == "road-labels"));
        // Newport centre at z14: x = 8055, y = 5443 (XYZ).
        let tile = app.request(Method::GET, "/basemap/tiles/14/8055/5443.pbf", None, &[], None).await;
        assert_eq!(tile.status, StatusCode::OK);
        assert_eq!(tile.headers["content-encoding"], "gzip");
        assert!(tile.body.len() > 1000, "a real tile");
        let outside = app.request(Method::GET, "/basemap/tiles/14/0/0.pbf", None, &[], None).await;
        assert_eq!(outside.status, StatusCode::NO_CONTENT);
        let glyphs = app.request(Method::GET, "/basemap/fonts/safetymap-sans/0-255.pbf", None, &[], None).await;
        assert_eq!(glyphs.status, StatusCode::OK);
        assert!(glyphs.body.len() > 10_000, "SDF glyphs for Latin: {} bytes", glyphs.body.len());
        let welsh = app.request(Method::GET, "/basemap/fonts/safetymap-sans/256-511.pbf", None, &[], None).await;
        assert_eq!(welsh.status, StatusCode::OK, "ŵ and ŷ live in Latin Extended-A");
        // The search box's streets: read from the tiles, each with its box.
        let streets = app.request(Method::GET, "/basemap/streets.json", None, &[], None).await;
        assert_eq!(streets.headers["cache-control"], "public, max-age=86400");
        let streets = streets.json();
        let list = streets["streets"].as_array().expect("streets");
        assert!(list.len() > 500, "Newport's named streets: {}", list.len());
        let commercial = list.iter().find(|s| s["name"] == "Commercial Street").expect("Commercial Street");
        let b: Vec<f64> = commercial["bbox"].as_array().expect("bbox").iter().map(|v| v.as_f64().expect("degrees")).collect();
        // Commercial Street runs north–south through the centre, past -2.995, 51.585.
        assert!(b[0] < -2.995 && -2.995 < b[2] && b[1] < 51.585 && 51.585 < b[3], "{b:?}");
        assert!(b[2] - b[0] < 0.02 && b[3] - b[1] < 0.02, "one street, not the town: {b:?}");
    }
}
