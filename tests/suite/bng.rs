//! The British National Grid conversion against Ordnance Survey's own
//! OSTN15 test points: within 5 mm of OS's answers (the requirement is 1 m).

use safetymap::bng::{from_grid, to_grid, GridRef};

/// (point, latitude, longitude, easting, northing) from the fixture.
fn test_points() -> Vec<(String, f64, f64, f64, f64)> {
    include_str!("../fixtures/ostn15-test-points.csv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("point,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |i: usize| f[i].parse::<f64>().expect("number");
            (f[0].to_owned(), num(1), num(2), num(3), num(4))
        })
        .collect()
}

#[test]
fn every_ostn15_test_point_converts_to_the_national_grid_within_five_millimetres() {
    let points = test_points();
    assert_eq!(points.len(), 40);
    for (id, lat, lon, easting, northing) in points {
        let g = to_grid(lon, lat).unwrap_or_else(|| panic!("{id} is inside OSTN15"));
        let error = (g.easting - easting).hypot(g.northing - northing);
        assert!(error <= 0.005, "{id}: {error:.3} m off ({g:?})");
    }
}

#[test]
fn every_ostn15_test_point_converts_back_from_the_national_grid_within_a_metre() {
    for (id, lat, lon, easting, northing) in test_points() {
        let (lon2, lat2) = from_grid(GridRef { easting, northing }).expect("inside");
        // Compare on the ground: metres of latitude and of longitude there.
        let dy = (lat2 - lat) * 111_320.0;
        let dx = (lon2 - lon) * 111_320.0 * lat.to_radians().cos();
        assert!(dx.hypot(dy) <= 1.0, "{id}: {:.3} m off", dx.hypot(dy));
    }
}

#[test]
fn positions_outside_the_grid_have_no_national_grid_reference() {
    assert!(to_grid(2.35, 48.85).is_none(), "Paris");
}
