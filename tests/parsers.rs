//! Property tests for every parser of outside input (through
//! `safetymap::parsers`): none panics on anything at all, and each reads
//! back what a well-formed input says. The fuzz targets in `fuzz/` drive
//! the same functions; what they find becomes a case here.

use proptest::prelude::*;
use safetymap::parsers;

/// Newport and around, where made-up inputs are put.
const LON: std::ops::Range<f64> = -3.05..-2.94;
const LAT: std::ops::Range<f64> = 51.56..51.62;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_parser_panics_on_any_text(text in any::<String>()) {
        let _ = parsers::bbox(&text);
        let _ = parsers::datetime(&text);
        let _ = parsers::items_query(&text);
        let _ = parsers::filter(&text, "cql2-text");
        let _ = parsers::filter(&text, "cql2-json");
        let _ = parsers::places_import(&text);
        let _ = parsers::boundaries(&text);
        let _ = parsers::police_csv(text.as_bytes());
        let _ = parsers::geometry(&text);
        let _ = parsers::observation(&text);
    }

    #[test]
    fn no_parser_panics_on_text_made_of_its_own_punctuation(
        text in "[-0-9.,:/TZ+=&%()'\" a-z{}\\[\\]\n]{0,200}"
    ) {
        let _ = parsers::bbox(&text);
        let _ = parsers::datetime(&text);
        let _ = parsers::items_query(&text);
        let _ = parsers::filter(&text, "cql2-text");
        let _ = parsers::filter(&text, "cql2-json");
        let _ = parsers::places_import(&text);
        let _ = parsers::boundaries(&text);
        let _ = parsers::police_csv(text.as_bytes());
        let _ = parsers::geometry(&text);
    }

    #[test]
    fn a_bbox_of_four_ordered_numbers_reads_back_exactly(
        x0 in -180.0f64..180.0, dx in 0.0f64..10.0, y0 in -90.0f64..90.0, dy in 0.0f64..10.0
    ) {
        let (x1, y1) = ((x0 + dx).min(180.0), (y0 + dy).min(90.0));
        prop_assert_eq!(parsers::bbox(&format!("{x0},{y0},{x1},{y1}")), Some([x0, y0, x1, y1]));
        // Upside down is refused, never swapped.
        if y1 > y0 {
            prop_assert_eq!(parsers::bbox(&format!("{x0},{y1},{x1},{y0}")), None);
        }
    }

    #[test]
    fn an_instant_and_an_interval_read_back_as_their_milliseconds(
        a in 946_684_800i64..4_102_444_800, b in 946_684_800i64..4_102_444_800
    ) {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).expect("instant").to_rfc3339();
        prop_assert_eq!(parsers::datetime(&at(a)), Some((Some(a * 1000), Some(a * 1000))));
        let interval = parsers::datetime(&format!("{}/{}", at(a), at(b)));
        if a <= b {
            prop_assert_eq!(interval, Some((Some(a * 1000), Some(b * 1000))));
        } else {
            prop_assert_eq!(interval, None, "an interval that ends before it starts");
        }
        prop_assert_eq!(parsers::datetime(&format!("../{}", at(b))), Some((None, Some(b * 1000))));
    }

    #[test]
    fn a_filter_nested_however_deep_is_answered_not_overflowed(depth in 0usize..5000) {
        let text = format!("{}severity = 'high'{}", "(".repeat(depth), ")".repeat(depth));
        let _ = parsers::filter(&text, "cql2-text");
        let json = format!("{}{{\"op\":\"=\",\"args\":[{{\"property\":\"severity\"}},\"high\"]}}{}",
            "{\"op\":\"not\",\"args\":[".repeat(depth), "]}".repeat(depth));
        let _ = parsers::filter(&json, "cql2-json");
    }

    #[test]
    fn a_places_csv_of_well_formed_rows_holds_every_row(
        rows in prop::collection::vec(("[A-Z][a-z]{2,12}", LON, LAT), 1..40)
    ) {
        let mut csv = String::from("ref,name_en,kind,longitude,latitude\n");
        for (i, (name, lon, lat)) in rows.iter().enumerate() {
            csv.push_str(&format!("P{i},{name} Park,park,{lon},{lat}\n"));
        }
        prop_assert_eq!(parsers::places_import(&csv), Some(rows.len()));
    }

    #[test]
    fn a_boundary_file_of_squares_holds_every_square(
        squares in prop::collection::vec((LON, LAT, 0.0005f64..0.005), 1..20)
    ) {
        let features: Vec<serde_json::Value> = squares.iter().enumerate().map(|(i, (x, y, r))| serde_json::json!({
            "type": "Feature",
            "properties": {"code": format!("W0599{i:04}"), "name_en": format!("Made-up {i}"), "name_cy": format!("Ffug {i}")},
            "geometry": {"type": "Polygon", "coordinates": [[[x - r, y - r], [x + r, y - r], [x + r, y + r], [x - r, y + r], [x - r, y - r]]]}
        })).collect();
        let file = serde_json::json!({"type": "FeatureCollection", "features": features}).to_string();
        prop_assert_eq!(parsers::boundaries(&file), Some(squares.len()));
    }

    #[test]
    fn a_police_csv_of_well_formed_rows_is_read_by_month(
        rows in prop::collection::vec((1u32..=12, LON, LAT), 1..60)
    ) {
        let mut csv = String::from("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context\n");
        for (month, lon, lat) in &rows {
            csv.push_str(&format!(",2025-{month:02},Gwent Police,Gwent Police,{lon:.6},{lat:.6},On or near Made-up Street,W01099901,Made-up 001A,Anti-social behaviour,,\n"));
        }
        let months: std::collections::BTreeSet<u32> = rows.iter().map(|r| r.0).collect();
        prop_assert_eq!(parsers::police_csv(csv.as_bytes()), Some(months.len()));
    }

    #[test]
    fn a_convex_polygon_is_taken_and_crossing_two_of_its_corners_is_refused(
        corners in 5usize..200, cx in -3.0f64..-2.99, cy in 51.58f64..51.59, r in 0.001f64..0.01
    ) {
        let mut ring: Vec<[f64; 2]> = (0..corners)
            .map(|k| {
                let a = k as f64 / corners as f64 * std::f64::consts::TAU;
                [cx + r * a.cos(), cy + r * a.sin()]
            })
            .collect();
        ring.push(ring[0]);
        let polygon = |ring: &[[f64; 2]]| serde_json::json!({"type": "Polygon", "coordinates": [ring]}).to_string();
        prop_assert!(parsers::geometry(&polygon(&ring)));
        // Swapping two neighbouring corners makes their edges cross.
        ring.swap(1, 2);
        prop_assert!(!parsers::geometry(&polygon(&ring)), "a bow tie in the ring");
    }
}

/// Every input under `fuzz/regressions/<target>/` — seeds, and whatever
/// `scripts/fuzz` found and was then fixed — goes through its target's
/// parsers again on every test run.
#[test]
fn every_fuzz_finding_and_seed_is_parsed_without_a_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for target in std::fs::read_dir(&root).expect("fuzz/regressions") {
        let target = target.expect("entry").path();
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        for input in std::fs::read_dir(&target).expect("target dir") {
            let input = input.expect("entry").path();
            let bytes = std::fs::read(&input).expect("input");
            assert!(
                parsers::replay(&name, &bytes),
                "{} is under an unknown target",
                input.display()
            );
            replayed += 1;
        }
    }
    assert!(replayed >= 6, "the seeds are there: {replayed}");
}
