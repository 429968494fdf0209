//! Grids, hot spots, clusters, time profiles, tiles and the police.uk
//! layer: what a panel sees, and what it must never see.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::http::{Method, StatusCode};
use safetymap::analysis::gistar::{neighbours, Weights};
use safetymap::analysis::grid::{Grid, Shape};
use safetymap::analysis::{extent, hot_spots_on};
use safetymap::bng::{from_grid, GridRef};
use safetymap::domain::vocabulary::Role;
use serde_json::{json, Value};

use crate::common::{observation, Backend, TestApp, TestDatabase};
use crate::mvt_decode::{decode, tile_of, Prop};

/// A deterministic stream of numbers in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn lonlat(e: f64, n: f64) -> (f64, f64) {
    from_grid(GridRef {
        easting: e,
        northing: n,
    })
    .expect("in Wales")
}

/// PySAL's interpreter: SAFETYMAP_ESDA_PYTHON, or the virtualenv
/// scripts/test makes. Without one the comparison is skipped with a note,
/// unless SAFETYMAP_REQUIRE_ESDA=1 (scripts/test sets it), when it fails.
fn esda_python() -> Option<PathBuf> {
    let path = std::env::var_os("SAFETYMAP_ESDA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/esda-venv/bin/python")
        });
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("SAFETYMAP_REQUIRE_ESDA").as_deref() != Ok("1"),
        "PySAL's esda is required here but {} does not exist (scripts/test installs it)",
        path.display()
    );
    eprintln!(
        "skipped: no esda interpreter at {} (run scripts/test, or set SAFETYMAP_ESDA_PYTHON)",
        path.display()
    );
    None
}

fn esda(python: &PathBuf, request: &Value) -> Value {
    use std::io::Write;
    let mut child = std::process::Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/esda/gistar.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&serde_json::to_vec(request).expect("json"))
        .expect("send");
    let out = child.wait_with_output().expect("esda runs");
    assert!(out.status.success(), "esda failed");
    serde_json::from_slice(&out.stdout).expect("esda answers JSON")
}

/// Counts `points` (grid metres) on every cell of their extent, runs Gi*,
/// and holds z, p and the FDR thresholds to esda's within 1e-6.
fn compare_with_esda(python: &PathBuf, grid: Grid, points: &[(f64, f64)], weights: Weights) {
    let cells = grid.cells_covering(extent(points.iter().copied()).expect("points"));
    let ours = hot_spots_on(grid, cells, points.iter().copied(), weights, true);
    let (cells, values) = (
        &ours.cells,
        ours.counts
            .iter()
            .map(|&c| f64::from(c))
            .collect::<Vec<_>>(),
    );
    let centres: Vec<(f64, f64)> = cells.iter().map(|&c| grid.centre(c)).collect();
    let ours = ours.result;
    let spec = match weights {
        Weights::DistanceBand(band) => json!({ "type": "distance", "band": band }),
        Weights::Nearest(_) => {
            let lists: Vec<Vec<u32>> = neighbours(&centres, weights)
                .into_iter()
                .enumerate()
                .map(|(i, l)| l.into_iter().filter(|&j| j as usize != i).collect())
                .collect();
            json!({ "type": "lists", "lists": lists })
        }
    };
    let reference = esda(
        python,
        &json!({
            "x": centres.iter().map(|c| c.0).collect::<Vec<_>>(),
            "y": centres.iter().map(|c| c.1).collect::<Vec<_>>(),
            "values": values,
            "weights": spec,
        }),
    );
    let mut worst: f64 = 0.0;
    for (i, (z, p)) in ours.z.iter().zip(&ours.p).enumerate() {
        let ez = reference["z"][i].as_f64().expect("esda z");
        let ep = reference["p_two_sided"][i].as_f64().expect("esda p");
        assert!((z - ez).abs() < 1e-6, "cell {i}: z {z} against esda's {ez}");
        assert!((p - ep).abs() < 1e-6, "cell {i}: p {p} against esda's {ep}");
        assert_eq!(
            f64::from(ours.neighbours[i]),
            reference["cardinality"][i].as_f64().expect("w")
        );
        worst = worst.max((z - ez).abs());
    }
    for (k, alpha) in ["0.01", "0.05", "0.1"].iter().enumerate() {
        let t = reference["fdr"][alpha].as_f64().expect("fdr");
        assert!(
            (ours.thresholds[k] - t).abs() < 1e-12,
            "FDR at {alpha}: {} against {t}",
            ours.thresholds[k]
        );
    }
    assert!(
        ours.class.iter().any(|&c| c > 0),
        "the data has hot spots to find"
    );
    eprintln!(
        "Gi* matches esda {} on {} cells ({:?}); largest z difference {worst:.2e}",
        reference["esda"],
        cells.len(),
        weights
    );
}

/// Project-made incidents: a dense knot, a looser one, and background.
fn made_up_points(seed: u64, n: usize) -> Vec<(f64, f64)> {
    let mut rng = Lcg(seed);
    (0..n)
        .map(|i| {
            let r = rng.next();
            let (cx, cy, spread) = match i % 10 {
                0..=3 => (331_200.0, 187_900.0, 150.0),
                4..=5 => (332_600.0, 188_800.0, 400.0),
                _ => (330_000.0, 186_500.0, 3_000.0),
            };
            (
                cx + (r - 0.5) * 2.0 * spread,
                cy + (rng.next() - 0.5) * 2.0 * spread,
            )
        })
        .collect()
}

#[test]
fn gi_star_equals_esda_on_project_made_data_for_distance_bands_and_nearest_neighbours() {
    let Some(python) = esda_python() else { return };
    let points = made_up_points(7, 3_000);
    compare_with_esda(
        &python,
        Grid::new(Shape::Square, 100),
        &points,
        Weights::DistanceBand(150.0),
    );
    compare_with_esda(
        &python,
        Grid::new(Shape::Square, 250),
        &points,
        Weights::DistanceBand(600.0),
    );
    compare_with_esda(
        &python,
        Grid::new(Shape::Hexagon, 250),
        &points,
        Weights::DistanceBand(300.0),
    );
    compare_with_esda(
        &python,
        Grid::new(Shape::Square, 250),
        &points,
        Weights::Nearest(8),
    );
}

#[test]
fn gi_star_equals_esda_on_gwent_police_uk_crime() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/police-uk/gwent-2020-01_2022-10");
    if !dir.exists() {
        eprintln!(
            "skipped: {} is absent (the shared open data sits beside the project)",
            dir.display()
        );
        return;
    }
    let Some(python) = esda_python() else { return };
    let area = safetymap::domain::observation::ValidationRules::new(
        [-5.670, 51.375, -2.650, 53.436],
        1826,
    )
    .service_area;
    let mut points = Vec::new();
    for month in ["2021-06", "2021-07", "2021-08"] {
        let file =
            std::fs::File::open(dir.join(format!("{month}-gwent-street.csv"))).expect("month file");
        for m in safetymap::import::police::parse(file, area).expect("parses") {
            for r in m.rows {
                // Newport only: Gwent at 250 m is a big matrix for PySAL.
                if (-3.124..=-2.803).contains(&r.lon) && (51.502..=51.649).contains(&r.lat) {
                    let g = safetymap::bng::to_grid(r.lon, r.lat).expect("in grid");
                    points.push((g.easting, g.northing));
                }
            }
        }
    }
    assert!(points.len() > 3_000, "three months of Newport crime");
    compare_with_esda(
        &python,
        Grid::new(Shape::Square, 250),
        &points,
        Weights::DistanceBand(400.0),
    );
    compare_with_esda(
        &python,
        Grid::new(Shape::Hexagon, 500),
        &points,
        Weights::Nearest(6),
    );
}

/// Reference counts from PostGIS: the same points, transformed to
/// EPSG:27700 and snapped to the centres of `size`-metre squares.
async fn postgis_counts(points: &[(f64, f64)], size: u32) -> HashMap<(i64, i64), i64> {
    use sqlx::Row;
    let db = TestDatabase::new(Backend::Postgres).await;
    let pool = db.raw().await;
    let values: Vec<String> = points
        .iter()
        .map(|(lon, lat)| format!("({lon:.9}, {lat:.9})"))
        .collect();
    let h = f64::from(size) / 2.0;
    let sql = format!(
        "SELECT ST_X(c)::float8 AS x, ST_Y(c)::float8 AS y, COUNT(*)::int8 AS n FROM (
           SELECT ST_SnapToGrid(ST_Transform(ST_SetSRID(ST_MakePoint(lon, lat), 4326), 27700), {h}, {h}, {size}, {size}) AS c
           FROM (VALUES {}) AS t(lon, lat)) s GROUP BY 1, 2",
        values.join(",")
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&pool)
        .await
        .expect("PostGIS counts");
    rows.iter()
        .map(|r| {
            let (x, y): (f64, f64) = (r.get("x"), r.get("y"));
            let s = f64::from(size);
            (
                ((x / s).floor() as i64, (y / s).floor() as i64),
                r.get::<i64, _>("n"),
            )
        })
        .collect()
}

fn cell_of_id(id: &str) -> (i64, i64) {
    let parts: Vec<&str> = id.rsplitn(3, '-').collect();
    (
        parts[1].parse().expect("column"),
        parts[0].parse().expect("row"),
    )
}

/// Observations at grid positions (metres), recorded by `token`.
async fn record_at(app: &TestApp, token: &str, positions: &[(f64, f64)], extra: Value) -> Vec<i64> {
    let mut ids = Vec::new();
    for &(e, n) in positions {
        let (lon, lat) = lonlat(e, n);
        let mut body = observation(json!({ "longitude": lon, "latitude": lat }));
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        ids.push(app.create(token, &body).await);
    }
    ids
}

on_both_stores! {
    async fn grid_counts_equal_a_postgis_snap_to_grid_count_of_the_same_points(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "newport-council").await;
        let coordinator = app.token(Role::Coordinator, "newport-council").await;
        // Points kept 15 m or more inside their 100 m squares: PostGIS'
        // default transformation to EPSG:27700 is a Helmert fit, metres
        // from OSTN15, and must not move a point across an edge.
        let mut rng = Lcg(3);
        let positions: Vec<(f64, f64)> = (0..60)
            .map(|i| {
                let (c, r) = (3_312 + (i % 4), 1_879 + (i % 7) / 2);
                (f64::from(c) * 100.0 + 15.0 + rng.next() * 70.0, f64::from(r) * 100.0 + 15.0 + rng.next() * 70.0)
            })
            .collect();
        record_at(&app, &officer, &positions, json!({})).await;
        let reply = app.get("/ogc/collections/grid/items?cell=100", &coordinator).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.content_type(), "application/geo+json");
        let ours: HashMap<(i64, i64), i64> = reply.json()["features"]
            .as_array()
            .expect("features")
            .iter()
            .map(|f| (cell_of_id(f["id"].as_str().expect("id")), f["properties"]["count"].as_i64().expect("coordinators see counts")))
            .collect();
        let lonlats: Vec<(f64, f64)> = positions.iter().map(|&(e, n)| lonlat(e, n)).collect();
        let reference = postgis_counts(&lonlats, 100).await;
        assert_eq!(ours, reference);
        assert_eq!(ours.values().sum::<i64>(), 60);
        // A 250 m grid holds the same points in fewer, fuller cells.
        let coarse = app.get("/ogc/collections/grid/items?cell=250&shape=square", &coordinator).await.json();
        let total: i64 = coarse["features"].as_array().expect("features").iter().map(|f| f["properties"]["count"].as_i64().expect("count")).sum();
        assert_eq!(total, 60);
        assert!(coarse["features"].as_array().expect("features").len() < ours.len());
    }

    async fn no_count_below_the_threshold_reaches_a_panel_member(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "newport-council").await;
        let panel = app.token(Role::PanelMember, "aneurin-bevan-health").await;
        let coordinator = app.token(Role::Coordinator, "newport-council").await;
        // Seven in one square an hour ago, three in another on a Tuesday morning.
        record_at(&app, &officer, &[(331_250.0, 187_950.0); 7], json!({})).await;
        record_at(&app, &officer, &[(331_850.0, 187_350.0); 3], json!({"observed_at": "2026-10-20T09:15:00Z"})).await;

        let grid = app.get("/ogc/collections/grid/items?cell=100", &panel).await.json();
        let mut seen = Vec::new();
        for f in grid["features"].as_array().expect("features") {
            let p = &f["properties"];
            match p["count"].as_i64() {
                Some(n) => { assert!(n >= 5, "{p}"); seen.push(n) }
                None => {
                    assert_eq!(p["suppressed"], true);
                    assert_eq!(p["count_label"], "fewer than 5");
                    assert_eq!(p["count_label_cy"], "llai na 5");
                    seen.push(0)
                }
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 7]);
        let for_coordinator = app.get("/ogc/collections/grid/items?cell=100", &coordinator).await.json();
        let mut exact: Vec<i64> = for_coordinator["features"].as_array().expect("features").iter().map(|f| f["properties"]["count"].as_i64().expect("count")).collect();
        exact.sort_unstable();
        assert_eq!(exact, vec![3, 7]);

        let hotspots = app.get("/ogc/collections/hotspots/items?cell=100", &panel).await.json();
        for f in hotspots["features"].as_array().expect("features") {
            let n = f["properties"]["count"].as_i64();
            assert!(n.is_none_or(|n| n == 0 || n >= 5), "{}", f["properties"]);
        }
        let clusters = app.get("/ogc/collections/clusters/items?eps=50&min=2", &panel).await.json();
        let counts: Vec<Value> = clusters["features"].as_array().expect("features").iter().map(|f| f["properties"]["count"].clone()).collect();
        assert_eq!(counts.len(), 2, "{clusters}");
        assert!(counts.contains(&json!(7)) && counts.contains(&Value::Null), "{counts:?}");

        let profile = app.get("/api/time-profile", &panel).await.json();
        assert_eq!(profile["total"], Value::Null, "ten less the seven shown would give the three withheld back");
        assert_eq!(profile["suppressed"], true, "three on a Tuesday at ten are too few to show");
        for row in profile["counts"].as_array().expect("rows") {
            for n in row.as_array().expect("hours") {
                assert!(n.as_i64().is_none_or(|n| n == 0 || n >= 5), "{profile}");
            }
        }

        // The grid's tiles carry the same withholding, decoded.
        let (lon, lat) = lonlat(331_850.0, 187_350.0);
        let ((x, y), _) = tile_of(lon, lat, 14);
        let reply = app.get(&format!("/tiles/grid/14/{x}/{y}?cell=100"), &panel).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.content_type(), "application/vnd.mapbox-vector-tile");
        let layers = decode(&reply.body);
        assert!(layers.iter().all(|l| l.extent == 4096));
        let cells = &layers.iter().find(|l| l.name == "grid").expect("grid layer").features;
        assert!(!cells.is_empty());
        for f in cells {
            match f.properties.get("count") {
                Some(Prop::Int(n)) => assert!(*n >= 5),
                None => assert_eq!(f.properties.get("suppressed"), Some(&Prop::Bool(true))),
                other => panic!("{other:?}"),
            }
        }
    }

    async fn tiles_never_carry_another_agencys_sensitive_position_nor_any_trace_of_a_restricted_record(backend) {
        let app = TestApp::new(backend).await;
        let police = app.token(Role::FieldOfficer, "gwent-police").await;
        let panel = app.token(Role::PanelMember, "newport-council").await;
        let coordinator = app.token(Role::Coordinator, "newport-council").await;
        let (lon, lat) = (-2.99771, 51.58862);
        let sensitive = app.create(&police, &observation(json!({"sensitivity": "sensitive", "longitude": lon, "latitude": lat}))).await;
        let restricted = app.create(&police, &observation(json!({"sensitivity": "restricted", "longitude": -2.99123, "latitude": 51.58456}))).await;
        let standard = app.create(&police, &observation(json!({"longitude": -2.9950, "latitude": 51.5870}))).await;
        let ((x, y), exact) = tile_of(lon, lat, 16);
        let (rx, ry) = tile_of(-2.99123, 51.58456, 16).0;
        for (viewer, who) in [(&panel, "panel member"), (&coordinator, "other agency's coordinator")] {
            for z in [12u32, 14, 16] {
                let ((x, y), _) = tile_of(lon, lat, z);
                let reply = app.get(&format!("/tiles/observations/{z}/{x}/{y}"), viewer).await;
                assert_eq!(reply.status, StatusCode::OK);
                let layers = decode(&reply.body);
                let ids: Vec<u64> = layers.iter().flat_map(|l| l.features.iter().filter_map(|f| f.id)).collect();
                assert!(!ids.contains(&(restricted as u64)), "{who} at z{z}");
                if z < 16 {
                    assert!(ids.contains(&(standard as u64)), "{who} at z{z}");
                }
            }
            // No trace in its own tile either, nor in the grid.
            let tile = decode(&app.get(&format!("/tiles/observations/16/{rx}/{ry}"), viewer).await.body);
            assert!(tile.iter().all(|l| l.features.iter().all(|f| f.id != Some(restricted as u64))));
        }
        let layers = decode(&app.get(&format!("/tiles/observations/16/{x}/{y}"), &panel).await.body);
        let point = layers[0].features.iter().find(|f| f.id == Some(sensitive as u64)).expect("the sensitive record, generalised");
        assert_eq!(point.properties.get("precision"), Some(&Prop::Text("bng-100m".into())));
        assert_ne!(point.points[0], exact, "never the recorded position");
        let (cx, cy) = safetymap::bng::square_centre(lon, lat, 100.0).expect("in grid");
        let centre = tile_of(cx, cy, 16).1;
        assert!((point.points[0].0 - centre.0).abs() <= 1 && (point.points[0].1 - centre.1).abs() <= 1, "at its square's centre");
        // The recording agency sees it where it was recorded.
        let own = app.token(Role::PanelMember, "gwent-police").await;
        let layers = decode(&app.get(&format!("/tiles/observations/16/{x}/{y}"), &own).await.body);
        let point = layers[0].features.iter().find(|f| f.id == Some(sensitive as u64)).expect("own agency's record");
        assert_eq!(point.points[0], exact);
        // Grid cells count only what the viewer may see: the restricted
        // record's square has no cell at all.
        let grid = app.get("/ogc/collections/grid/items?cell=100", &coordinator).await.json();
        let total: i64 = grid["features"].as_array().expect("features").iter().map(|f| f["properties"]["count"].as_i64().expect("count")).sum();
        assert_eq!(total, 2);
    }

    async fn a_write_makes_the_cached_tile_stale_and_an_unchanged_tile_answers_304(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "newport-council").await;
        let panel = app.token(Role::PanelMember, "newport-council").await;
        app.create(&officer, &observation(json!({}))).await;
        let ((x, y), _) = tile_of(-2.9977, 51.5886, 14);
        let uri = format!("/tiles/observations/14/{x}/{y}");
        let first = app.get(&uri, &panel).await;
        let etag = first.headers.get("etag").expect("an ETag").to_str().expect("text").to_owned();
        assert_eq!(decode(&first.body)[0].features.len(), 1);
        // Gzipped once when made, for clients that take it: the same tile.
        let zipped = app.request(Method::GET, &uri, Some(&panel), &[("accept-encoding", "br, gzip")], None).await;
        assert_eq!(zipped.headers.get("content-encoding").expect("gzipped"), "gzip");
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&zipped.body[..]), &mut unzipped).expect("gzip");
        assert_eq!(unzipped, first.body);
        assert_eq!(zipped.headers.get("etag").expect("ETag").to_str().expect("text"), etag);
        let again = app.request(Method::GET, &uri, Some(&panel), &[("if-none-match", &etag)], None).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED);
        assert!(again.body.is_empty());
        app.create(&officer, &observation(json!({"longitude": -2.9980, "latitude": 51.5880}))).await;
        let after = app.request(Method::GET, &uri, Some(&panel), &[("if-none-match", &etag)], None).await;
        assert_eq!(after.status, StatusCode::OK, "the write changed the tile");
        assert_ne!(after.headers.get("etag").expect("ETag").to_str().expect("text"), etag);
        assert_eq!(decode(&after.body)[0].features.len(), 2);
    }

    async fn a_knot_of_incidents_is_a_hot_spot_with_its_time_profile(backend) {
        let app = TestApp::new(backend).await;
        let officer = app.token(Role::FieldOfficer, "newport-council").await;
        let coordinator = app.token(Role::Coordinator, "newport-council").await;
        // Twenty on Friday evenings in one square; one a day scattered around.
        let friday = "2026-10-23T20:30:00Z"; // 21:30 BST
        let knot: Vec<(f64, f64)> = (0..20).map(|i| (331_210.0 + f64::from(i), 187_910.0)).collect();
        record_at(&app, &officer, &knot, json!({"observed_at": friday})).await;
        let mut rng = Lcg(11);
        let scattered: Vec<(f64, f64)> = (0..20).map(|_| (330_000.0 + rng.next() * 3_000.0, 186_500.0 + rng.next() * 3_000.0)).collect();
        record_at(&app, &officer, &scattered, json!({"observed_at": "2026-10-20T09:15:00Z"})).await;
        // Without the false-discovery-rate correction, 99% means p < 0.01.
        let hot = app.get("/ogc/collections/hotspots/items?cell=250&band=400&fdr=false", &coordinator).await;
        assert_eq!(hot.status, StatusCode::OK, "{}", hot.text());
        let body = hot.json();
        let knot = body["features"].as_array().expect("features").iter()
            .find(|f| f["properties"]["count"] == 20)
            .expect("the knot's cell").clone();
        assert_eq!(knot["properties"]["class"], 3, "{knot}");
        assert_eq!(knot["properties"]["label"], "Hot spot, 99% confidence");
        assert!(knot["properties"]["z"].as_f64().expect("z") > 2.58);
        // With it (the default), the thresholds are stricter.
        let corrected = app.get("/ogc/collections/hotspots/items?cell=250&band=400", &coordinator).await.json();
        assert!(corrected["pThresholds"]["99"].as_f64().expect("threshold") < 0.01);
        assert_eq!(corrected["fdr"], true);
        let knot = corrected["features"].as_array().expect("features").iter()
            .find(|f| f["properties"]["count"] == 20).expect("the knot's cell").clone();
        assert!(knot["properties"]["class"].as_i64().expect("class") >= 1, "{knot}");
        assert!(body["studyCells"].as_u64().expect("study cells") > 100);
        let profile = app.get("/api/time-profile?within=hot&cell=250&band=400", &coordinator).await.json();
        // The knot, and any scattered record that happens to fall in a hot
        // neighbouring cell (those were all on a Tuesday at 10:15 BST).
        let tuesday = profile["counts"][1][10].as_i64().expect("count");
        assert_eq!(profile["total"].as_i64().expect("total") - tuesday, 20, "{profile}");
        assert_eq!(profile["counts"][4][21], 20, "Friday 21:00 local time: {profile}");
        let all = app.get("/api/time-profile", &coordinator).await.json();
        assert_eq!(all["total"], 40);
        assert_eq!(all["counts"][1][10], 20, "09:15 UTC is 10:15 BST, a Tuesday");
        let bad = app.get("/ogc/collections/hotspots/items?cell=120", &coordinator).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(bad.json()["code"], "invalid-cell");
        assert_eq!(bad.json()["field"], "cell");
        let tile = app.get("/tiles/hotspots/12/2013/1360?cell=250&band=400&fdr=false", &coordinator).await;
        let layers = decode(&tile.body);
        let classes: Vec<&Prop> = layers[0].features.iter().filter_map(|f| f.properties.get("class")).collect();
        assert!(classes.contains(&&Prop::Int(3)), "the hot spot is in its tile");
    }

    async fn a_time_profile_for_a_ward_counts_only_what_lies_inside_it(backend) {
        let app = TestApp::new(backend).await;
        let coordinator = app.token(Role::Coordinator, "newport-council").await;
        let panel = app.token(Role::PanelMember, "newport-council").await;
        let imported = app.request(Method::POST, "/api/areas/import", Some(&coordinator),
            &[("content-type", "application/geo+json")], Some(crate::common::wards().into_bytes())).await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
        let areas = app.get("/api/areas", &coordinator).await.json()["areas"].as_array().expect("areas").clone();
        let id = |name: &str| areas.iter().find(|a| a["name_en"] == name).expect("ward")["id"].as_i64().expect("id");
        let (west, east) = (id("Made-up West"), id("Made-up East"));
        // Six on Friday evenings in the west ward, four on a Tuesday morning
        // in the east one, and two outside both (north of them).
        for i in 0..6 {
            app.create(&coordinator, &observation(json!({"longitude": -3.008 + f64::from(i) * 0.001, "latitude": 51.585, "observed_at": "2026-10-23T20:30:00Z"}))).await;
        }
        for i in 0..4 {
            app.create(&coordinator, &observation(json!({"longitude": -2.998 + f64::from(i) * 0.001, "latitude": 51.585, "observed_at": "2026-10-20T09:15:00Z"}))).await;
        }
        for i in 0..2 {
            app.create(&coordinator, &observation(json!({"longitude": -3.005 + f64::from(i) * 0.001, "latitude": 51.595, "observed_at": "2026-10-20T09:15:00Z"}))).await;
        }
        let profile = app.get(&format!("/api/time-profile?area={west}"), &coordinator).await.json();
        assert_eq!(profile["total"], 6, "{profile}");
        assert_eq!(profile["counts"][4][21], 6, "Friday 21:00 local time: {profile}");
        assert_eq!(profile["counts"][1][10], 0, "nothing from the east ward or beyond: {profile}");
        assert_eq!((profile["area"]["name_en"].as_str(), profile["area"]["name_cy"].as_str()), (Some("Made-up West"), Some("Gorllewin Dychmygol")));
        // The area replaces any box sent with it.
        let boxed = app.get(&format!("/api/time-profile?area={east}&bbox=-3.1,51.5,-2.9,51.7"), &coordinator).await.json();
        assert_eq!((boxed["total"].clone(), boxed["counts"][1][10].clone()), (json!(4), json!(4)), "{boxed}");
        // Four are too few to show a panel member, in any cell or in total.
        let withheld = app.get(&format!("/api/time-profile?area={east}"), &panel).await.json();
        assert_eq!((withheld["total"].clone(), withheld["counts"][1][10].clone(), withheld["suppressed"].clone()),
            (Value::Null, Value::Null, json!(true)), "{withheld}");
        // Hot spots within a ward: the ward's box is the study area.
        let hot = app.get(&format!("/api/time-profile?area={west}&within=hot&cell=100&band=200"), &coordinator).await;
        assert_eq!(hot.status, StatusCode::OK, "{}", hot.text());
        assert!(hot.json()["total"].as_i64().expect("total") <= 6);
        let everything = app.get("/api/time-profile", &coordinator).await.json();
        assert_eq!(everything["total"], 12);
        assert_eq!(everything["area"], Value::Null);
        for bad in ["area=999999", "area=west"] {
            let reply = app.get(&format!("/api/time-profile?{bad}"), &coordinator).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!((reply.json()["code"].clone(), reply.json()["field"].clone()), (json!("unknown-area"), json!("area")));
        }
    }

    async fn re_importing_a_police_uk_month_leaves_the_row_count_unchanged(backend) {
        let app = TestApp::new(backend).await;
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/police-uk/2026-01-made-up-street.csv");
        let first = app.db.cli(&["import", "police-uk", fixture]);
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        let printed = String::from_utf8_lossy(&first.stdout).into_owned();
        assert!(printed.contains("12 rows read, 9 imported, 2 without coordinates, 1 outside the service area"), "{printed}");
        assert!(printed.contains("Open Government Licence"));
        let rows = app.store.police_crime_count().await.expect("count");
        assert_eq!(rows, 9);
        let again = app.db.cli(&["import", "police-uk", fixture]);
        assert!(again.status.success());
        assert_eq!(app.store.police_crime_count().await.expect("count"), rows);
        app.state.police.refresh(&app.store).await.expect("reload");

        let panel = app.token(Role::PanelMember, "newport-council").await;
        let layer = app.get("/ogc/collections/police-crimes/items?crime_type=drugs", &panel).await.json();
        assert_eq!(layer["numberMatched"], 3, "{layer}");
        assert!(layer["attribution"].as_str().expect("attribution").contains("data.police.uk"));
        assert_eq!(layer["features"][0]["properties"]["month"], "2026-01");
        let log = app.get("/api/police-imports", &panel).await.json();
        assert_eq!(log["imports"].as_array().expect("imports").len(), 2);
        assert_eq!(log["imports"][0]["no_location"], 2);
        assert_eq!(log["imports"][0]["outside_area"], 1);
        // The context layer is never mixed into observations.
        let obs = app.get("/ogc/collections/observations/items", &panel).await.json();
        assert_eq!(obs["numberMatched"], 0);
        let ((x, y), _) = tile_of(-2.9977, 51.5886, 12);
        let tile = decode(&app.get(&format!("/tiles/police-crimes/12/{x}/{y}"), &panel).await.body);
        assert_eq!(tile[0].name, "police-crimes");
        assert_eq!(tile[0].features.len(), 9);

        let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/police-uk/gwent-2020-01_2022-10/2021-03-gwent-street.csv");
        if shared.exists() {
            let path = shared.to_str().expect("path");
            assert!(app.db.cli(&["import", "police-uk", path]).status.success());
            let with_month = app.store.police_crime_count().await.expect("count");
            assert!(with_month > 4_000, "a month of Gwent crime");
            assert!(app.db.cli(&["import", "police-uk", path]).status.success());
            assert_eq!(app.store.police_crime_count().await.expect("count"), with_month);
        } else {
            eprintln!("skipped the real month: ../shared/data is absent");
        }
    }
}
