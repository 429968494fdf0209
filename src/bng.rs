//! WGS84/ETRS89 ↔ British National Grid (OSGB36, EPSG:27700) with OSTN15.
//!
//! The transformation Ordnance Survey defines: project ETRS89 latitude and
//! longitude onto the National Grid's Transverse Mercator with the GRS80
//! ellipsoid, then add the OSTN15 easting and northing shifts, bilinearly
//! interpolated from its 1 km grid. The inverse subtracts the shifts by
//! iteration and unprojects. Accurate to within a millimetre of OS's own
//! implementation inside OSTN15's coverage (tested against OS's published
//! test points). Follows "A guide to coordinate systems in Great Britain"
//! (OS, 2020), Annex C, and the OSTN15 user guide.
//!
//! WGS84 positions from phones are taken as ETRS89: in Great Britain the two
//! differ by under a metre, less than a phone's own error.

/// GRS80 semi-major axis, metres.
const A: f64 = 6_378_137.0;
/// GRS80 semi-minor axis, metres.
const B: f64 = 6_356_752.314_1;
/// National Grid scale factor on the central meridian.
const F0: f64 = 0.999_601_271_7;
/// True origin: 49°N, 2°W.
const PHI0_DEG: f64 = 49.0;
const LAMBDA0_DEG: f64 = -2.0;
/// False origin, metres.
const E0: f64 = 400_000.0;
const N0: f64 = -100_000.0;

/// A British National Grid position. Units: metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridRef {
    /// Easting.
    pub easting: f64,
    /// Northing.
    pub northing: f64,
}

impl GridRef {
    /// The 100 m grid reference people read from an OS map ("ST 309 877"),
    /// or None outside the grid. (The web app's `grid.js` writes the same.)
    pub fn hundred_metres(&self) -> Option<String> {
        let (e, n) = (self.easting, self.northing);
        if !(0.0..700_000.0).contains(&e) || !(0.0..1_300_000.0).contains(&n) {
            return None;
        }
        let (e100k, n100k) = (
            (e / 100_000.0).floor() as i64,
            (n / 100_000.0).floor() as i64,
        );
        // The 500 km and 100 km squares' letters (I is not used).
        let mut l1 = (19 - n100k) - ((19 - n100k) % 5) + (e100k + 10) / 5;
        let mut l2 = ((19 - n100k) * 5) % 25 + e100k % 5;
        if l1 > 7 {
            l1 += 1;
        }
        if l2 > 7 {
            l2 += 1;
        }
        let letter = |l: i64| char::from(b'A' + l as u8);
        let digits = |v: f64| ((v % 100_000.0) / 100.0).floor() as i64;
        Some(format!(
            "{}{} {:03} {:03}",
            letter(l1),
            letter(l2),
            digits(e),
            digits(n)
        ))
    }
}

/// Meridional arc from the true origin to latitude `phi` (radians), metres.
fn meridional_arc(phi: f64) -> f64 {
    let phi0 = PHI0_DEG.to_radians();
    let n = (A - B) / (A + B);
    let (n2, n3) = (n * n, n * n * n);
    let (dp, sp) = (phi - phi0, phi + phi0);
    B * F0
        * ((1.0 + n + 1.25 * n2 + 1.25 * n3) * dp
            - (3.0 * n + 3.0 * n2 + 21.0 / 8.0 * n3) * dp.sin() * sp.cos()
            + (15.0 / 8.0 * n2 + 15.0 / 8.0 * n3) * (2.0 * dp).sin() * (2.0 * sp).cos()
            - 35.0 / 24.0 * n3 * (3.0 * dp).sin() * (3.0 * sp).cos())
}

/// Radii of curvature ν, ρ and η² at latitude `phi` (radians).
fn curvature(phi: f64) -> (f64, f64, f64) {
    let e2 = (A * A - B * B) / (A * A);
    let s2 = phi.sin().powi(2);
    let nu = A * F0 / (1.0 - e2 * s2).sqrt();
    let rho = A * F0 * (1.0 - e2) * (1.0 - e2 * s2).powf(-1.5);
    (nu, rho, nu / rho - 1.0)
}

/// ETRS89 longitude/latitude (degrees) → ETRS89 Transverse Mercator grid
/// (metres), before the OSTN15 shifts.
fn project(lon: f64, lat: f64) -> GridRef {
    let (phi, lambda) = (lat.to_radians(), lon.to_radians());
    let (nu, rho, eta2) = curvature(phi);
    let (s, c, t) = (phi.sin(), phi.cos(), phi.tan());
    let t2 = t * t;
    let i = meridional_arc(phi) + N0;
    let ii = nu / 2.0 * s * c;
    let iii = nu / 24.0 * s * c.powi(3) * (5.0 - t2 + 9.0 * eta2);
    let iiia = nu / 720.0 * s * c.powi(5) * (61.0 - 58.0 * t2 + t2 * t2);
    let iv = nu * c;
    let v = nu / 6.0 * c.powi(3) * (nu / rho - t2);
    let vi = nu / 120.0 * c.powi(5) * (5.0 - 18.0 * t2 + t2 * t2 + 14.0 * eta2 - 58.0 * t2 * eta2);
    let dl = lambda - LAMBDA0_DEG.to_radians();
    GridRef {
        northing: i + ii * dl.powi(2) + iii * dl.powi(4) + iiia * dl.powi(6),
        easting: E0 + iv * dl + v * dl.powi(3) + vi * dl.powi(5),
    }
}

/// ETRS89 Transverse Mercator grid (metres) → longitude/latitude (degrees).
fn unproject(g: GridRef) -> (f64, f64) {
    let phi0 = PHI0_DEG.to_radians();
    let mut phi = (g.northing - N0) / (A * F0) + phi0;
    let mut m = meridional_arc(phi);
    // Converges in a handful of steps; the bound stops a bad input looping.
    for _ in 0..20 {
        if (g.northing - N0 - m).abs() < 1e-5 {
            break;
        }
        phi += (g.northing - N0 - m) / (A * F0);
        m = meridional_arc(phi);
    }
    let (nu, rho, eta2) = curvature(phi);
    let (t, sec) = (phi.tan(), 1.0 / phi.cos());
    let t2 = t * t;
    let vii = t / (2.0 * rho * nu);
    let viii = t / (24.0 * rho * nu.powi(3)) * (5.0 + 3.0 * t2 + eta2 - 9.0 * t2 * eta2);
    let ix = t / (720.0 * rho * nu.powi(5)) * (61.0 + 90.0 * t2 + 45.0 * t2 * t2);
    let x = sec / nu;
    let xi = sec / (6.0 * nu.powi(3)) * (nu / rho + 2.0 * t2);
    let xii = sec / (120.0 * nu.powi(5)) * (5.0 + 28.0 * t2 + 24.0 * t2 * t2);
    let xiia =
        sec / (5040.0 * nu.powi(7)) * (61.0 + 662.0 * t2 + 1320.0 * t2 * t2 + 720.0 * t2 * t2 * t2);
    let de = g.easting - E0;
    let lat = phi - vii * de.powi(2) + viii * de.powi(4) - ix * de.powi(6);
    let lon =
        LAMBDA0_DEG.to_radians() + x * de - xi * de.powi(3) + xii * de.powi(5) - xiia * de.powi(7);
    (lon.to_degrees(), lat.to_degrees())
}

/// OSTN15 easting and northing shifts at an ETRS89 grid position, metres,
/// bilinearly interpolated from the four surrounding 1 km grid nodes.
/// `None` outside the grid (0–700 km east, 0–1250 km north).
fn shifts(g: GridRef) -> Option<(f64, f64)> {
    let (x, y) = (g.easting, g.northing);
    if !(0.0..700_000.0).contains(&x) || !(0.0..1_250_000.0).contains(&y) {
        return None;
    }
    // In range by the check above, so the casts cannot overflow.
    let (east, north) = ((x / 1000.0).floor() as i32, (y / 1000.0).floor() as i32);
    let node = |e: i32, n: i32| ostn15_phf::ostn15_lookup(&(e + n * 701 + 1));
    let (s0, s1, s2, s3) = (
        node(east, north)?,
        node(east + 1, north)?,
        node(east + 1, north + 1)?,
        node(east, north + 1)?,
    );
    let t = (x - f64::from(east) * 1000.0) / 1000.0;
    let u = (y - f64::from(north) * 1000.0) / 1000.0;
    let mix = |a: f64, b: f64, c: f64, d: f64| {
        (1.0 - t) * (1.0 - u) * a + t * (1.0 - u) * b + t * u * c + (1.0 - t) * u * d
    };
    Some((mix(s0.0, s1.0, s2.0, s3.0), mix(s0.1, s1.1, s2.1, s3.1)))
}

/// WGS84/ETRS89 longitude and latitude (degrees) → British National Grid
/// easting and northing (metres), or `None` outside OSTN15's grid.
///
/// ```
/// // Caerphilly Castle's gatehouse, roughly.
/// let g = safetymap::bng::to_grid(-3.2179, 51.5763).expect("in Great Britain");
/// assert!((g.easting - 315_500.0).abs() < 500.0 && (g.northing - 187_000.0).abs() < 500.0);
/// ```
pub fn to_grid(lon: f64, lat: f64) -> Option<GridRef> {
    let p = project(lon, lat);
    let (se, sn) = shifts(p)?;
    Some(GridRef {
        easting: p.easting + se,
        northing: p.northing + sn,
    })
}

/// British National Grid easting and northing (metres) → WGS84/ETRS89
/// longitude and latitude (degrees), or `None` outside OSTN15's grid.
pub fn from_grid(g: GridRef) -> Option<(f64, f64)> {
    // Find the ETRS89 grid position whose shifted image is `g`.
    let mut p = g;
    for _ in 0..20 {
        let (se, sn) = shifts(p)?;
        let next = GridRef {
            easting: g.easting - se,
            northing: g.northing - sn,
        };
        let moved = (next.easting - p.easting).abs() + (next.northing - p.northing).abs();
        p = next;
        if moved < 1e-4 {
            break;
        }
    }
    Some(unproject(p))
}

/// The centre of the `size`-metre National Grid square holding a WGS84
/// position, as WGS84 longitude and latitude (degrees).
pub fn square_centre(lon: f64, lat: f64, size: f64) -> Option<(f64, f64)> {
    let g = to_grid(lon, lat)?;
    from_grid(GridRef {
        easting: (g.easting / size).floor() * size + size / 2.0,
        northing: (g.northing / size).floor() * size + size / 2.0,
    })
}

/// The outline of the `size`-metre National Grid square holding a WGS84
/// position: its corners as WGS84 longitude and latitude, as a closed
/// GeoJSON ring (south-west, south-east, north-east, north-west, south-west).
pub fn square_outline(lon: f64, lat: f64, size: f64) -> Option<[[f64; 2]; 5]> {
    let g = to_grid(lon, lat)?;
    let (e, n) = (
        (g.easting / size).floor() * size,
        (g.northing / size).floor() * size,
    );
    let corner = |de: f64, dn: f64| {
        from_grid(GridRef {
            easting: e + de,
            northing: n + dn,
        })
        .map(|(lon, lat)| [(lon * 1e6).round() / 1e6, (lat * 1e6).round() / 1e6])
    };
    let sw = corner(0.0, 0.0)?;
    Some([
        sw,
        corner(size, 0.0)?,
        corner(size, size)?,
        corner(0.0, size)?,
        sw,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inverse_undoes_the_forward_conversion_to_a_millimetre() {
        for (lon, lat) in [(-2.99, 51.58), (-4.1, 52.4), (-3.18, 51.48), (-5.2, 51.9)] {
            let g = to_grid(lon, lat).expect("inside");
            let (lon2, lat2) = from_grid(g).expect("inside");
            let back = to_grid(lon2, lat2).expect("inside");
            assert!((back.easting - g.easting).abs() < 1e-3);
            assert!((back.northing - g.northing).abs() < 1e-3);
        }
    }

    #[test]
    fn a_square_centre_lies_fifty_metres_into_its_square() {
        let (lon, lat) = square_centre(-2.9977, 51.5886, 100.0).expect("inside");
        let g = to_grid(lon, lat).expect("inside");
        assert!((g.easting % 100.0 - 50.0).abs() < 1e-3, "{g:?}");
        assert!((g.northing % 100.0 - 50.0).abs() < 1e-3, "{g:?}");
    }

    #[test]
    fn grid_references_name_the_100_km_square_and_the_100_m_digits() {
        let at = |e: f64, n: f64| {
            GridRef {
                easting: e,
                northing: n,
            }
            .hundred_metres()
        };
        // Newport's centre, and squares whose letters come either side of the missing I.
        assert_eq!(at(330_950.0, 187_760.0).as_deref(), Some("ST 309 877"));
        assert_eq!(at(216_000.0, 771_000.0).as_deref(), Some("NN 160 710"));
        assert_eq!(at(651_000.0, 312_000.0).as_deref(), Some("TG 510 120"));
        assert_eq!(at(-1.0, 0.0), None);
    }
}
