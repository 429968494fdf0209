//! The coordinate reference systems answers can be given in (OGC API –
//! Features Part 2): WGS84 longitude/latitude (CRS84, the default), the
//! same as latitude/longitude (EPSG:4326, in the axis order its definition
//! gives), and the British National Grid (EPSG:27700), through OSTN15.

use serde_json::Value;

/// A coordinate reference system an answer can be given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Crs {
    /// WGS84 longitude, latitude.
    #[default]
    Crs84,
    /// WGS84 latitude, longitude.
    Epsg4326,
    /// British National Grid easting, northing (metres).
    Epsg27700,
}

impl Crs {
    /// Every CRS, default first.
    pub const ALL: [Crs; 3] = [Crs::Crs84, Crs::Epsg4326, Crs::Epsg27700];

    /// Its OGC URI.
    pub fn uri(self) -> &'static str {
        match self {
            Crs::Crs84 => "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            Crs::Epsg4326 => "http://www.opengis.net/def/crs/EPSG/0/4326",
            Crs::Epsg27700 => "http://www.opengis.net/def/crs/EPSG/0/27700",
        }
    }

    /// The CRS a URI (or a safe CURIE such as `[EPSG:27700]`) names.
    pub fn parse(text: &str) -> Option<Crs> {
        let t = text.trim();
        let t = t
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(t);
        Crs::ALL.into_iter().find(|c| {
            c.uri() == t
                || t.eq_ignore_ascii_case(match c {
                    Crs::Crs84 => "OGC:CRS84",
                    Crs::Epsg4326 => "EPSG:4326",
                    Crs::Epsg27700 => "EPSG:27700",
                })
        })
    }

    /// A CRS84 position `[lon, lat]` in this CRS; `None` where it has no
    /// value (the National Grid outside OSTN15's cover). National Grid
    /// positions are given to the millimetre, degrees to about 0.1 mm.
    pub fn from_crs84(self, [lon, lat]: [f64; 2]) -> Option<[f64; 2]> {
        match self {
            Crs::Crs84 => Some([lon, lat]),
            Crs::Epsg4326 => Some([lat, lon]),
            Crs::Epsg27700 => crate::bng::to_grid(lon, lat).map(|g| {
                [
                    (g.easting * 1000.0).round() / 1000.0,
                    (g.northing * 1000.0).round() / 1000.0,
                ]
            }),
        }
    }

    /// A position in this CRS as CRS84 `[lon, lat]`.
    pub fn to_crs84(self, [a, b]: [f64; 2]) -> Option<[f64; 2]> {
        match self {
            Crs::Crs84 => Some([a, b]),
            Crs::Epsg4326 => Some([b, a]),
            Crs::Epsg27700 => crate::bng::from_grid(crate::bng::GridRef {
                easting: a,
                northing: b,
            })
            .map(|(lon, lat)| [lon, lat]),
        }
    }

    /// A box `[x0, y0, x1, y1]` in this CRS as the CRS84 box that holds
    /// it (for the National Grid, the box round its four corners; the
    /// collections keep only what meets the corners' quadrilateral).
    pub fn box_to_crs84(self, [x0, y0, x1, y1]: [f64; 4]) -> Option<[f64; 4]> {
        let corners = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
            .map(|c| self.to_crs84(c))
            .into_iter()
            .collect::<Option<Vec<_>>>()?;
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        for [x, y] in corners {
            lo = [lo[0].min(x), lo[1].min(y)];
            hi = [hi[0].max(x), hi[1].max(y)];
        }
        Some([lo[0], lo[1], hi[0], hi[1]])
    }

    /// Rewrites a GeoJSON geometry's coordinates (and a feature's `bbox`)
    /// from CRS84 into this CRS. Positions it cannot express are left out
    /// of the answer by returning `false`.
    pub fn transform_feature(self, feature: &mut Value) -> bool {
        if self == Crs::Crs84 {
            return true;
        }
        let Some(geometry) = feature.get_mut("geometry") else {
            return true;
        };
        let mut ok = true;
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        transform_geometry(self, geometry, &mut ok, &mut lo, &mut hi);
        // A generalised observation carries its square's outline as a
        // property: in the same CRS as its point.
        if let Some(cell) = feature
            .pointer_mut("/properties/cell")
            .filter(|c| c.is_array())
        {
            let (mut cell_lo, mut cell_hi) = ([f64::MAX; 2], [f64::MIN; 2]);
            transform_coordinates(self, cell, &mut ok, &mut cell_lo, &mut cell_hi);
        }
        if let Some(map) = feature.as_object_mut() {
            if map.contains_key("bbox") {
                map.insert(
                    "bbox".into(),
                    serde_json::json!([lo[0], lo[1], hi[0], hi[1]]),
                );
            }
        }
        ok
    }
}

fn transform_geometry(
    crs: Crs,
    geometry: &mut Value,
    ok: &mut bool,
    lo: &mut [f64; 2],
    hi: &mut [f64; 2],
) {
    if let Some(parts) = geometry.get_mut("geometries").and_then(Value::as_array_mut) {
        for part in parts {
            transform_geometry(crs, part, ok, lo, hi);
        }
    }
    if let Some(coordinates) = geometry.get_mut("coordinates") {
        transform_coordinates(crs, coordinates, ok, lo, hi);
    }
}

fn transform_coordinates(
    crs: Crs,
    value: &mut Value,
    ok: &mut bool,
    lo: &mut [f64; 2],
    hi: &mut [f64; 2],
) {
    let Some(items) = value.as_array_mut() else {
        return;
    };
    let position = match items.as_slice() {
        [Value::Number(x), Value::Number(y), ..] => x.as_f64().zip(y.as_f64()),
        _ => None,
    };
    match position {
        Some((x, y)) => match crs.from_crs84([x, y]) {
            Some([a, b]) => {
                items[0] = serde_json::json!(a);
                items[1] = serde_json::json!(b);
                *lo = [lo[0].min(a), lo[1].min(b)];
                *hi = [hi[0].max(a), hi[1].max(b)];
            }
            None => *ok = false,
        },
        None => {
            for item in items {
                transform_coordinates(crs, item, ok, lo, hi);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsg_4326_puts_latitude_first_and_the_grid_gives_metres() {
        let newport = [-2.99771, 51.58862];
        assert_eq!(
            Crs::Epsg4326.from_crs84(newport),
            Some([51.58862, -2.99771])
        );
        let [e, n] = Crs::Epsg27700.from_crs84(newport).expect("in the grid");
        assert!(
            (330_000.0..332_000.0).contains(&e) && (187_000.0..189_000.0).contains(&n),
            "{e} {n}"
        );
        let back = Crs::Epsg27700.to_crs84([e, n]).expect("back");
        assert!((back[0] - newport[0]).abs() < 1e-7 && (back[1] - newport[1]).abs() < 1e-7);
    }

    #[test]
    fn uris_and_curies_name_the_same_crs() {
        assert_eq!(
            Crs::parse("http://www.opengis.net/def/crs/EPSG/0/27700"),
            Some(Crs::Epsg27700)
        );
        assert_eq!(Crs::parse("[EPSG:4326]"), Some(Crs::Epsg4326));
        assert_eq!(Crs::parse("EPSG:3857"), None);
    }

    #[test]
    fn a_polygons_rings_and_its_bbox_move_together() {
        let mut f = serde_json::json!({"type": "Feature", "bbox": [-3.0, 51.5, -2.9, 51.6],
            "geometry": {"type": "Polygon", "coordinates": [[[-3.0, 51.5], [-2.9, 51.5], [-2.9, 51.6], [-3.0, 51.5]]]}});
        assert!(Crs::Epsg4326.transform_feature(&mut f));
        assert_eq!(
            f["geometry"]["coordinates"][0][1],
            serde_json::json!([51.5, -2.9])
        );
        assert_eq!(f["bbox"], serde_json::json!([51.5, -3.0, 51.6, -2.9]));
    }
}
