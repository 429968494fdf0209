//! Cells on the British National Grid: squares and hexagons of 100, 250 or
//! 500 m, addressed by integer coordinates so counting is hashing.
//!
//! Positions arrive as WGS84 and are binned in EPSG:27700 metres (OSTN15),
//! so a 100 m square here is the same square an Ordnance Survey map shows.

use std::collections::HashMap;

use crate::bng::{from_grid, to_grid, GridRef};

/// Cell sizes on offer, metres: a street, a block, a neighbourhood.
pub const CELL_SIZES: [u32; 3] = [100, 250, 500];

/// The shape of a grid's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// National Grid squares of the given side.
    Square,
    /// Pointy-topped hexagons whose centres lie the given size apart.
    Hexagon,
}

impl Shape {
    /// The name used in requests and outputs.
    pub fn code(self) -> &'static str {
        match self {
            Shape::Square => "square",
            Shape::Hexagon => "hexagon",
        }
    }

    /// Parses a request's name for a shape.
    pub fn from_code(code: &str) -> Option<Shape> {
        match code {
            "square" => Some(Shape::Square),
            "hexagon" | "hex" => Some(Shape::Hexagon),
            _ => None,
        }
    }
}

/// One cell: integer coordinates on its grid (column and row for squares,
/// axial q and r for hexagons).
pub type Cell = (i64, i64);

/// A grid: a shape and a size in metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grid {
    /// Cell shape.
    pub shape: Shape,
    /// Side of a square, or distance between neighbouring hexagons' centres.
    pub size: u32,
}

const SQRT_3: f64 = 1.732_050_807_568_877_2;

impl Grid {
    /// A grid of `shape` cells `size` metres across.
    pub fn new(shape: Shape, size: u32) -> Grid {
        Grid { shape, size }
    }

    fn s(&self) -> f64 {
        f64::from(self.size)
    }

    /// The cell holding a grid position (metres).
    pub fn cell_of(&self, easting: f64, northing: f64) -> Cell {
        let s = self.s();
        match self.shape {
            Shape::Square => ((easting / s).floor() as i64, (northing / s).floor() as i64),
            Shape::Hexagon => {
                // Axial coordinates of a pointy-topped lattice whose
                // neighbouring centres are `s` apart (circumradius s/√3).
                let radius = s / SQRT_3;
                let r = northing / (1.5 * radius);
                let q = easting / s - r / 2.0;
                cube_round(q, r)
            }
        }
    }

    /// A cell's centre (metres).
    pub fn centre(&self, (a, b): Cell) -> (f64, f64) {
        let s = self.s();
        match self.shape {
            Shape::Square => ((a as f64 + 0.5) * s, (b as f64 + 0.5) * s),
            Shape::Hexagon => {
                let radius = s / SQRT_3;
                (s * (a as f64 + b as f64 / 2.0), 1.5 * radius * b as f64)
            }
        }
    }

    /// A cell's corners (metres), anticlockwise from the south-west (squares)
    /// or from the south (hexagons), not closed.
    pub fn corners(&self, cell: Cell) -> Vec<(f64, f64)> {
        let s = self.s();
        let (x, y) = self.centre(cell);
        match self.shape {
            Shape::Square => {
                let h = s / 2.0;
                vec![
                    (x - h, y - h),
                    (x + h, y - h),
                    (x + h, y + h),
                    (x - h, y + h),
                ]
            }
            Shape::Hexagon => {
                let radius = s / SQRT_3;
                (0..6)
                    .map(|k| {
                        let angle = (-90.0 + 60.0 * f64::from(k)).to_radians();
                        (x + radius * angle.cos(), y + radius * angle.sin())
                    })
                    .collect()
            }
        }
    }

    /// A cell's outline as a closed GeoJSON ring in WGS84, rounded to 6
    /// decimals; `None` outside OSTN15's reach.
    pub fn outline(&self, cell: Cell) -> Option<Vec<[f64; 2]>> {
        let mut ring = self
            .corners(cell)
            .into_iter()
            .map(|(e, n)| {
                from_grid(GridRef {
                    easting: e,
                    northing: n,
                })
                .map(|(lon, lat)| [round6(lon), round6(lat)])
            })
            .collect::<Option<Vec<_>>>()?;
        ring.push(ring[0]);
        Some(ring)
    }

    /// A cell's centre in WGS84.
    pub fn centre_lonlat(&self, cell: Cell) -> Option<[f64; 2]> {
        let (e, n) = self.centre(cell);
        from_grid(GridRef {
            easting: e,
            northing: n,
        })
        .map(|(lon, lat)| [round6(lon), round6(lat)])
    }

    /// Every cell that may hold a point of the box `[min_e, min_n, max_e,
    /// max_n]` (its centre lies within half a square or one hexagon
    /// circumradius of the box), in row-major order.
    /// How many cells [`Grid::cells_covering`] would make for the box,
    /// found by arithmetic (O(rows) for hexagons), so a request can be
    /// refused before anything is allocated.
    pub fn count_covering(&self, [e0, n0, e1, n1]: [f64; 4]) -> u64 {
        let s = self.s();
        let span = |a: i64, b: i64| u64::try_from(b - a + 1).unwrap_or(0);
        match self.shape {
            Shape::Square => {
                let (c0, r0) = self.cell_of(e0, n0);
                let (c1, r1) = self.cell_of(e1, n1);
                span(c0, c1).saturating_mul(span(r0, r1))
            }
            Shape::Hexagon => {
                let m = s / SQRT_3;
                let row = 1.5 * m;
                let r0 = ((n0 - m) / row).floor() as i64;
                let r1 = ((n1 + m) / row).ceil() as i64;
                // Rows × the widest row is an upper bound, found without
                // walking any row.
                let q_span = ((e1 - e0 + 2.0 * m) / s).ceil() as i64 + 2;
                span(r0, r1).saturating_mul(u64::try_from(q_span).unwrap_or(0))
            }
        }
    }

    pub fn cells_covering(&self, [e0, n0, e1, n1]: [f64; 4]) -> Vec<Cell> {
        let s = self.s();
        let mut cells = Vec::new();
        match self.shape {
            Shape::Square => {
                let (c0, r0) = self.cell_of(e0, n0);
                let (c1, r1) = self.cell_of(e1, n1);
                for r in r0..=r1 {
                    for c in c0..=c1 {
                        cells.push((c, r));
                    }
                }
            }
            Shape::Hexagon => {
                // A point's hexagon centre lies up to a circumradius away.
                let m = s / SQRT_3;
                let row = 1.5 * m;
                let r0 = ((n0 - m) / row).floor() as i64;
                let r1 = ((n1 + m) / row).ceil() as i64;
                for r in r0..=r1 {
                    let q0 = ((e0 - m) / s - r as f64 / 2.0).floor() as i64;
                    let q1 = ((e1 + m) / s - r as f64 / 2.0).ceil() as i64;
                    for q in q0..=q1 {
                        let (x, y) = self.centre((q, r));
                        if x >= e0 - m && x <= e1 + m && y >= n0 - m && y <= n1 + m {
                            cells.push((q, r));
                        }
                    }
                }
            }
        }
        cells
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Rounds fractional axial coordinates to the hexagon containing them.
fn cube_round(q: f64, r: f64) -> Cell {
    let s = -q - r;
    let (mut rq, mut rr, rs) = (q.round(), r.round(), s.round());
    let (dq, dr, ds) = ((rq - q).abs(), (rr - r).abs(), (rs - s).abs());
    if dq > dr && dq > ds {
        rq = -rr - rs;
    } else if dr > ds {
        rr = -rq - rs;
    }
    (rq as i64, rr as i64)
}

/// A WGS84 position in National Grid metres, if OSTN15 reaches it.
pub fn grid_position([lon, lat]: [f64; 2]) -> Option<(f64, f64)> {
    to_grid(lon, lat).map(|g| (g.easting, g.northing))
}

/// Counts positions (National Grid metres) per cell.
pub fn count(grid: Grid, positions: impl IntoIterator<Item = (f64, f64)>) -> HashMap<Cell, u32> {
    let mut counts = HashMap::new();
    for (e, n) in positions {
        *counts.entry(grid.cell_of(e, n)).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_cell_holds_the_points_inside_it() {
        let grid = Grid::new(Shape::Square, 250);
        assert_eq!(grid.cell_of(331_249.9, 187_500.0), (1324, 750));
        assert_eq!(grid.centre((1324, 750)), (331_125.0, 187_625.0));
    }

    #[test]
    fn every_point_lies_nearer_its_hexagons_centre_than_any_neighbours() {
        let grid = Grid::new(Shape::Hexagon, 100);
        for i in 0..2_000 {
            let (e, n) = (
                330_000.0 + f64::from(i * 37 % 1_000),
                187_000.0 + f64::from(i * 91 % 1_000),
            );
            let cell = grid.cell_of(e, n);
            let (cx, cy) = grid.centre(cell);
            let d = (cx - e).hypot(cy - n);
            for (dq, dr) in [(1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1)] {
                let (nx, ny) = grid.centre((cell.0 + dq, cell.1 + dr));
                assert!(d <= (nx - e).hypot(ny - n) + 1e-9);
            }
        }
    }

    #[test]
    fn neighbouring_hexagon_centres_lie_one_size_apart() {
        let grid = Grid::new(Shape::Hexagon, 250);
        let (x, y) = grid.centre((10, 10));
        for (dq, dr) in [(1, 0), (0, 1), (-1, 1)] {
            let (nx, ny) = grid.centre((10 + dq, 10 + dr));
            assert!(((nx - x).hypot(ny - y) - 250.0).abs() < 1e-9);
        }
    }

    #[test]
    fn covering_a_box_includes_the_cells_of_its_corners() {
        for shape in [Shape::Square, Shape::Hexagon] {
            let grid = Grid::new(shape, 100);
            let cells = grid.cells_covering([330_010.0, 187_020.0, 331_990.0, 187_980.0]);
            for (e, n) in [
                (330_010.0, 187_020.0),
                (331_990.0, 187_980.0),
                (331_000.0, 187_500.0),
            ] {
                assert!(cells.contains(&grid.cell_of(e, n)), "{shape:?}");
            }
        }
    }
}
