//! One rule for every geometry that comes from outside — observation
//! extents, drawn and imported areas, alert areas, exercise annotations and
//! young people's marks — so that both stores, the index and every output
//! see only shapes that mean one thing:
//!
//! - a geometry of a kind the field takes (`invalid-geometry`);
//! - every position two or three finite numbers (`invalid-position`);
//! - lines of two positions or more; polygon rings of four or more, the
//!   last the same as the first (RFC 7946 §3.1.6) and at least three
//!   distinct corners (`invalid-polygon`);
//! - rings simple: no ring crosses or touches itself, and the rings of one
//!   polygon do not cross or overlap each other (they may touch at a
//!   point, as OGC simple features allow) (`self-intersecting`);
//! - no more positions than the field allows (`too-many-positions`);
//! - every position inside the service area (`outside-service-area`).
//!
//! Why check self-intersection at all: a bow-tie's inside is undefined, so
//! what counts as "in the area" would differ between the index, PostGIS
//! (which calls it invalid) and a browser's drawing of it.

use geo::line_intersection::{line_intersection, LineIntersection};
use geo::{Coord, Line, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use super::observation::FieldError;

/// A kind of GeoJSON geometry a field may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A single position.
    Point,
    /// A line of two positions or more.
    LineString,
    /// One polygon: an outer ring and any holes.
    Polygon,
    /// Several polygons.
    MultiPolygon,
}

impl Kind {
    fn of(value: &geojson::Value) -> Option<Kind> {
        match value {
            geojson::Value::Point(_) => Some(Kind::Point),
            geojson::Value::LineString(_) => Some(Kind::LineString),
            geojson::Value::Polygon(_) => Some(Kind::Polygon),
            geojson::Value::MultiPolygon(_) => Some(Kind::MultiPolygon),
            _ => None,
        }
    }
}

/// What one field takes.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The field faults are reported against.
    pub field: &'a str,
    /// The kinds it takes.
    pub kinds: &'a [Kind],
    /// What to tell a client who sent another kind.
    pub expected: &'a str,
    /// The most positions, all rings and lines together.
    pub max_positions: usize,
    /// Where every position must lie (longitude, latitude).
    pub area: Rect<f64>,
}

/// Reads `value` as a GeoJSON geometry and checks it by `rules`.
pub fn read(value: &serde_json::Value, rules: &Rules<'_>) -> Result<geojson::Geometry, FieldError> {
    let geometry = geojson::Geometry::from_json_value(value.clone())
        .map_err(|_| FieldError::new(rules.field, "invalid-geometry", rules.expected))?;
    check(&geometry, rules)?;
    Ok(geometry)
}

/// Checks a geometry already read as GeoJSON (an imported file's) by `rules`.
pub fn check(geometry: &geojson::Geometry, rules: &Rules<'_>) -> Result<(), FieldError> {
    let fault = |code: &'static str, message: String| FieldError::new(rules.field, code, message);
    let kind = Kind::of(&geometry.value)
        .filter(|k| rules.kinds.contains(k))
        .ok_or_else(|| fault("invalid-geometry", rules.expected.to_owned()))?;
    // Every polygon's rings, or the one line or point, as positions.
    let polygons: Vec<&[Vec<Vec<f64>>]> = match &geometry.value {
        geojson::Value::Polygon(rings) => vec![rings.as_slice()],
        geojson::Value::MultiPolygon(polygons) => polygons.iter().map(Vec::as_slice).collect(),
        _ => Vec::new(),
    };
    let positions: Vec<&Vec<f64>> = match &geometry.value {
        geojson::Value::Point(p) => vec![p],
        geojson::Value::LineString(line) => line.iter().collect(),
        _ => polygons
            .iter()
            .flat_map(|rings| rings.iter().flatten())
            .collect(),
    };
    if let Some(bad) = positions
        .iter()
        .find(|p| !matches!(p.len(), 2 | 3) || p.iter().any(|n| !n.is_finite()))
    {
        return Err(fault(
            "invalid-position",
            format!(
                "every position is two or three numbers (longitude, latitude[, height]); one has {}",
                bad.len()
            ),
        ));
    }
    if positions.len() > rules.max_positions {
        return Err(fault(
            "too-many-positions",
            format!("at most {} positions", rules.max_positions),
        ));
    }
    match kind {
        Kind::LineString if positions.len() < 2 => {
            return Err(fault(
                "invalid-geometry",
                "a line needs two positions or more".into(),
            ))
        }
        Kind::Polygon | Kind::MultiPolygon => {
            if polygons.is_empty() || polygons.iter().any(|rings| rings.is_empty()) {
                return Err(fault("invalid-polygon", "the shape is empty".into()));
            }
            for rings in &polygons {
                if let Err(problem) = simple_rings(rings) {
                    return Err(match problem {
                        Ring::Open => fault(
                            "invalid-polygon",
                            "each ring needs at least four positions, the last the same as the first".into(),
                        ),
                        Ring::Degenerate => fault(
                            "invalid-polygon",
                            "each ring needs at least three distinct corners".into(),
                        ),
                        Ring::Crossing => fault(
                            "self-intersecting",
                            "a ring crosses or touches itself, or crosses another ring of its polygon"
                                .into(),
                        ),
                    });
                }
            }
        }
        _ => {}
    }
    let area = rules.area;
    let inside = |p: &&Vec<f64>| {
        p[0] >= area.min().x && p[0] <= area.max().x && p[1] >= area.min().y && p[1] <= area.max().y
    };
    if !positions.iter().all(inside) {
        return Err(fault(
            "outside-service-area",
            "every position must be inside the service area".into(),
        ));
    }
    Ok(())
}

/// The first position of a point, line or polygon (longitude, latitude).
pub fn first_position(geometry: &geojson::Geometry) -> Option<[f64; 2]> {
    let first = match &geometry.value {
        geojson::Value::Point(p) => Some(p),
        geojson::Value::LineString(line) => line.first(),
        geojson::Value::Polygon(rings) => rings.first().and_then(|r| r.first()),
        geojson::Value::MultiPolygon(polygons) => polygons
            .first()
            .and_then(|rings| rings.first())
            .and_then(|r| r.first()),
        _ => None,
    }?;
    Some([*first.first()?, *first.get(1)?])
}

/// Why a polygon's rings are not simple.
#[derive(Debug, PartialEq, Eq)]
enum Ring {
    Open,
    Degenerate,
    Crossing,
}

/// One edge of a ring: which ring, its place in it, how many edges the
/// ring has, and the edge.
type Edge = (usize, usize, usize, Line<f64>);

/// Checks one polygon's rings: closed, with three corners or more, none
/// crossing or touching itself, none crossing another. Edges are found
/// near each other through an R-tree of their boxes, so a boundary of
/// 100,000 positions is checked in a fraction of a second, not the hours
/// comparing every pair would take.
fn simple_rings(rings: &[Vec<Vec<f64>>]) -> Result<(), Ring> {
    let mut edges: Vec<Edge> = Vec::new();
    for (r, ring) in rings.iter().enumerate() {
        if ring.len() < 4 || ring.first() != ring.last() {
            return Err(Ring::Open);
        }
        let mut corners: Vec<Coord<f64>> =
            ring.iter().map(|p| Coord { x: p[0], y: p[1] }).collect();
        // A position repeated at once is one corner, not an edge of no length.
        corners.dedup();
        if corners.len() < 4 {
            return Err(Ring::Degenerate);
        }
        let n = corners.len() - 1;
        edges.extend(
            corners
                .windows(2)
                .enumerate()
                .map(|(i, w)| (r, i, n, Line::new(w[0], w[1]))),
        );
    }
    let boxed = |line: &Line<f64>| {
        let (a, b) = (line.start, line.end);
        ([a.x.min(b.x), a.y.min(b.y)], [a.x.max(b.x), a.y.max(b.y)])
    };
    let tree = RTree::bulk_load(
        edges
            .iter()
            .enumerate()
            .map(|(k, (_, _, _, line))| {
                let (low, high) = boxed(line);
                GeomWithData::new(Rectangle::from_corners(low, high), k)
            })
            .collect(),
    );
    for (k, &(r, i, n, line)) in edges.iter().enumerate() {
        let (low, high) = boxed(&line);
        for near in tree.locate_in_envelope_intersecting(&AABB::from_corners(low, high)) {
            let m = near.data;
            if m <= k {
                continue;
            }
            let (r2, j, _, other) = edges[m];
            let Some(meeting) = line_intersection(line, other) else {
                continue;
            };
            let allowed = if r == r2 {
                // Neighbouring edges share their corner and nothing else.
                let shared = if j == i + 1 {
                    Some(line.end)
                } else if i == 0 && j == n - 1 {
                    Some(line.start)
                } else {
                    None
                };
                matches!((shared, meeting), (Some(corner), LineIntersection::SinglePoint { intersection, .. }) if intersection == corner)
            } else {
                // Rings of one polygon may touch at a point, not cross.
                matches!(
                    meeting,
                    LineIntersection::SinglePoint {
                        is_proper: false,
                        ..
                    }
                )
            };
            if !allowed {
                return Err(Ring::Crossing);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wales() -> Rect<f64> {
        Rect::new(
            Coord {
                x: -5.67,
                y: 51.375,
            },
            Coord {
                x: -2.65,
                y: 53.436,
            },
        )
    }

    fn rules(kinds: &'static [Kind]) -> Rules<'static> {
        Rules {
            field: "geometry",
            kinds,
            expected: "a Polygon",
            max_positions: 1000,
            area: wales(),
        }
    }

    fn code(value: serde_json::Value, kinds: &'static [Kind]) -> Option<&'static str> {
        read(&value, &rules(kinds)).err().map(|e| e.code)
    }

    const POLYGONS: &[Kind] = &[Kind::Polygon, Kind::MultiPolygon];

    fn square() -> serde_json::Value {
        json!([
            [-3.0, 51.5],
            [-2.9, 51.5],
            [-2.9, 51.6],
            [-3.0, 51.6],
            [-3.0, 51.5]
        ])
    }

    #[test]
    fn a_square_with_a_hole_inside_is_accepted() {
        let hole = json!([
            [-2.98, 51.52],
            [-2.92, 51.52],
            [-2.92, 51.58],
            [-2.98, 51.52]
        ]);
        assert_eq!(
            code(
                json!({"type": "Polygon", "coordinates": [square(), hole]}),
                POLYGONS
            ),
            None
        );
    }

    #[test]
    fn a_bow_tie_is_refused_as_self_intersecting() {
        let bow_tie = json!([
            [-3.0, 51.5],
            [-2.9, 51.6],
            [-2.9, 51.5],
            [-3.0, 51.6],
            [-3.0, 51.5]
        ]);
        assert_eq!(
            code(
                json!({"type": "Polygon", "coordinates": [bow_tie]}),
                POLYGONS
            ),
            Some("self-intersecting")
        );
    }

    #[test]
    fn a_ring_that_doubles_back_on_itself_is_refused() {
        // A spike: out along an edge and back along it.
        let spike = json!([
            [-3.0, 51.5],
            [-2.9, 51.5],
            [-2.95, 51.5],
            [-2.95, 51.6],
            [-3.0, 51.5]
        ]);
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": [spike]}), POLYGONS),
            Some("self-intersecting")
        );
    }

    #[test]
    fn a_hole_crossing_the_outer_ring_is_refused_but_one_touching_it_at_a_corner_is_not() {
        let crossing = json!([
            [-2.95, 51.55],
            [-2.85, 51.55],
            [-2.85, 51.57],
            [-2.95, 51.55]
        ]);
        assert_eq!(
            code(
                json!({"type": "Polygon", "coordinates": [square(), crossing]}),
                POLYGONS
            ),
            Some("self-intersecting")
        );
        let touching = json!([[-3.0, 51.5], [-2.95, 51.55], [-2.95, 51.52], [-3.0, 51.5]]);
        assert_eq!(
            code(
                json!({"type": "Polygon", "coordinates": [square(), touching]}),
                POLYGONS
            ),
            None
        );
    }

    #[test]
    fn an_open_ring_and_a_ring_of_two_corners_are_invalid_polygons() {
        let open = json!([[-3.0, 51.5], [-2.9, 51.5], [-2.9, 51.6], [-3.0, 51.6]]);
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": [open]}), POLYGONS),
            Some("invalid-polygon")
        );
        let flat = json!([[-3.0, 51.5], [-2.9, 51.5], [-2.9, 51.5], [-3.0, 51.5]]);
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": [flat]}), POLYGONS),
            Some("invalid-polygon")
        );
    }

    #[test]
    fn a_position_of_four_numbers_or_one_is_refused_and_three_are_kept() {
        let line =
            |p: serde_json::Value| json!({"type": "LineString", "coordinates": [[-3.0, 51.5], p]});
        assert_eq!(
            code(line(json!([-2.9, 51.6, 10.0, 4.0])), &[Kind::LineString]),
            Some("invalid-position")
        );
        // One number is not even GeoJSON.
        assert_eq!(
            code(line(json!([-2.9])), &[Kind::LineString]),
            Some("invalid-geometry")
        );
        assert_eq!(
            code(line(json!([-2.9, 51.6, 10.0])), &[Kind::LineString]),
            None
        );
    }

    #[test]
    fn a_kind_the_field_does_not_take_and_a_position_outside_are_refused() {
        assert_eq!(
            code(
                json!({"type": "Point", "coordinates": [-3.0, 51.5]}),
                POLYGONS
            ),
            Some("invalid-geometry")
        );
        assert_eq!(
            code(json!({"type": "Circle"}), POLYGONS),
            Some("invalid-geometry")
        );
        assert_eq!(
            code(
                json!({"type": "Point", "coordinates": [0.1, 51.5]}),
                &[Kind::Point]
            ),
            Some("outside-service-area")
        );
    }

    #[test]
    fn a_ring_with_a_repeated_position_is_one_corner_not_a_crossing() {
        let repeated = json!([
            [-3.0, 51.5],
            [-2.9, 51.5],
            [-2.9, 51.5],
            [-2.9, 51.6],
            [-3.0, 51.6],
            [-3.0, 51.5]
        ]);
        assert_eq!(
            code(
                json!({"type": "Polygon", "coordinates": [repeated]}),
                POLYGONS
            ),
            None
        );
    }

    #[test]
    fn a_large_simple_ring_is_checked_quickly_enough_to_finish() {
        // 50,000 corners round a circle: pairwise this is 10^9 comparisons.
        let n = 50_000;
        let mut ring: Vec<[f64; 2]> = (0..n)
            .map(|k| {
                let a = k as f64 / n as f64 * std::f64::consts::TAU;
                [-3.0 + 0.1 * a.cos(), 51.6 + 0.1 * a.sin()]
            })
            .collect();
        ring.push(ring[0]);
        let value = json!({"type": "Polygon", "coordinates": [ring]});
        let rules = Rules {
            max_positions: 100_000,
            ..rules(POLYGONS)
        };
        assert!(read(&value, &rules).is_ok());
    }
}
