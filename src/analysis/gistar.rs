//! Getis–Ord Gi\* local statistics: hot and cold spots on a grid of counts.
//!
//! The statistic, its moments and the z-score follow PySAL's
//! `esda.G_Local(y, w, transform="B", star=True)` term for term (Getis & Ord
//! 1992; Ord & Getis 1995), so the tests can hold the two to 1e-6. Weights
//! are binary and include the cell itself, as Gi\* (and ArcGIS' Hot Spot
//! Analysis) define them. p-values are two-sided from the normal
//! distribution, and cells are classed at 90/95/99 % confidence as common
//! GIS tools do, optionally with the false-discovery-rate correction of
//! `esda.fdr` (Benjamini–Hochberg, as ArcGIS applies it): a cell is
//! significant at a level when its p-value is at or below the threshold.

use rstar::primitives::GeomWithData;
use rstar::RTree;

use super::grid::{Cell, Grid};

/// Which cells count as a cell's neighbours (the cell itself always does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weights {
    /// Every cell whose centre lies within this many metres.
    DistanceBand(f64),
    /// The k nearest cells by centre; ties at the k-th distance are broken
    /// by cell order, so results are reproducible.
    Nearest(usize),
}

/// Confidence levels a cell can be classed at, with their two-sided α.
pub const CONFIDENCE: [(i8, f64); 3] = [(3, 0.01), (2, 0.05), (1, 0.10)];

/// The result for each input cell, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpots {
    /// z-scores; NaN where undefined (no variation, or every cell a neighbour).
    pub z: Vec<f64>,
    /// Two-sided p-values from the normal distribution; NaN with z.
    pub p: Vec<f64>,
    /// −3…3: cold or hot at 99/95/90 % confidence (−/+), 0 not significant.
    pub class: Vec<i8>,
    /// How many cells (itself included) each cell's statistic sums over.
    pub neighbours: Vec<u32>,
    /// The p-value thresholds used for 99, 95 and 90 % (α, or the FDR
    /// thresholds when corrected).
    pub thresholds: [f64; 3],
}

/// Most cell widths a distance band may reach: a wider band is refused
/// before anything is counted (at 100 m cells, 2 km; at 500 m, 10 km). It
/// bounds a run's work at about 2·20+1 rows of prefix sums per cell.
pub const MAX_BAND_CELLS: u32 = 20;

/// An R-tree of cell centres, each carrying its index into `centres`.
fn centre_tree(centres: &[(f64, f64)]) -> RTree<GeomWithData<[f64; 2], u32>> {
    RTree::bulk_load(
        centres
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| GeomWithData::new([x, y], i as u32))
            .collect(),
    )
}

/// Each cell's neighbours (itself included), as indices into `centres`:
/// for tests and comparisons only; the statistic itself keeps no lists.
pub fn neighbours(centres: &[(f64, f64)], weights: Weights) -> Vec<Vec<u32>> {
    let tree = centre_tree(centres);
    centres
        .iter()
        .map(|&(x, y)| match weights {
            Weights::DistanceBand(d) => {
                let mut found: Vec<u32> = tree
                    .locate_within_distance([x, y], d * d)
                    .map(|g| g.data)
                    .collect();
                found.sort_unstable();
                found
            }
            Weights::Nearest(k) => {
                let mut found = Vec::with_capacity(k + 4);
                nearest_k(&tree, [x, y], k, &mut found);
                let mut ids: Vec<u32> = found.into_iter().map(|(_, i)| i).collect();
                ids.sort_unstable();
                ids
            }
        })
        .collect()
}

/// The standard normal upper tail, P(Z > z).
fn upper_tail(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// The Benjamini–Hochberg threshold of `esda.fdr`: the largest `k·α/n` with
/// the k-th smallest p-value below it, or the Bonferroni bound `α/n` when
/// there is none.
pub fn fdr_threshold(p: &[f64], alpha: f64) -> f64 {
    let mut sorted: Vec<f64> = p.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let n = sorted.len();
    // Descending p against descending k·α/n: the first hit is the largest k.
    sorted
        .iter()
        .enumerate()
        .map(|(i, &pv)| (pv, (n - i) as f64 * alpha / n as f64))
        .find(|&(pv, limit)| pv < limit)
        .map_or(alpha / n.max(1) as f64, |(_, limit)| limit)
}

/// Gi\* for `values` at cells centred on `centres` (metres), for any
/// layout of cells. Each cell's local sum is taken as its neighbours are
/// found, so no neighbour lists are kept: memory stays O(cells).
pub fn gi_star(centres: &[(f64, f64)], values: &[f64], weights: Weights, fdr: bool) -> HotSpots {
    assert_eq!(centres.len(), values.len(), "one value per cell");
    let (local, cardinality) =
        tree_sums(centres, values, weights, &|| false).expect("never stopped");
    statistics(values, &local, cardinality, fdr)
}

/// Each cell's local sum and neighbour count, through an R-tree of the
/// centres; `None` when `stop` says to give up.
pub fn tree_sums(
    centres: &[(f64, f64)],
    values: &[f64],
    weights: Weights,
    stop: &dyn Fn() -> bool,
) -> Option<(Vec<f64>, Vec<u32>)> {
    let tree = centre_tree(centres);
    let mut local = Vec::with_capacity(values.len());
    let mut cardinality = Vec::with_capacity(values.len());
    let mut nearest: Vec<(f64, u32)> = Vec::new();
    for (n, &(x, y)) in centres.iter().enumerate() {
        if n % 1024 == 0 && stop() {
            return None;
        }
        let (sum, w) = match weights {
            Weights::DistanceBand(d) => tree
                .locate_within_distance([x, y], d * d)
                .fold((0.0, 0u32), |(s, w), g| {
                    (s + values[g.data as usize], w + 1)
                }),
            Weights::Nearest(k) => {
                nearest_k(&tree, [x, y], k, &mut nearest);
                nearest.iter().fold((0.0, 0u32), |(s, w), &(_, j)| {
                    (s + values[j as usize], w + 1)
                })
            }
        };
        local.push(sum);
        cardinality.push(w);
    }
    Some((local, cardinality))
}

/// The k nearest cells to `at` plus the cell itself, ties at the k-th
/// distance broken by index, into `found` (reused between calls).
fn nearest_k(
    tree: &RTree<GeomWithData<[f64; 2], u32>>,
    at: [f64; 2],
    k: usize,
    found: &mut Vec<(f64, u32)>,
) {
    found.clear();
    for (g, d2) in tree.nearest_neighbor_iter_with_distance_2(&at) {
        if found.len() > k && found.last().is_some_and(|&(last, _)| d2 > last) {
            break;
        }
        found.push((d2, g.data));
    }
    found.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    found.truncate(k + 1);
}

/// Each cell's distance-band local sum and neighbour count on a lattice of
/// rows (`cells` as [`Grid::cells_covering`] makes them: row by row, each
/// row a run of consecutive columns), from per-row prefix sums: for each
/// row within the band, the neighbours form one run whose sum is a
/// difference of two prefix sums. O(cells × rows in the band), and no
/// neighbour lists. The runs' ends are found with the same test as the
/// R-tree's (`dx² + dy² ≤ d²` on the cells' centres), so the result is the
/// same as [`gi_star`]'s. `stop` is asked now and then whether to give up.
///
/// [`Grid::cells_covering`]: super::grid::Grid::cells_covering
pub fn lattice_band_sums(
    grid: Grid,
    cells: &[Cell],
    values: &[f64],
    band: f64,
    stop: &dyn Fn() -> bool,
) -> Option<(Vec<f64>, Vec<u32>)> {
    // Rows: (row, first column, prefix sums), in order.
    let mut rows: Vec<(i64, i64, Vec<f64>)> = Vec::new();
    for (&(q, r), &v) in cells.iter().zip(values) {
        match rows.last_mut() {
            Some((row, first, prefix)) if *row == r && *first + (prefix.len() as i64 - 1) == q => {
                let last = prefix.last().copied().unwrap_or(0.0);
                prefix.push(last + v);
            }
            _ => rows.push((r, q, vec![0.0, v])),
        }
    }
    if !rows.windows(2).all(|w| w[1].0 == w[0].0 + 1) {
        // Not a lattice of consecutive rows: sum through the R-tree.
        let centres: Vec<(f64, f64)> = cells.iter().map(|&c| grid.centre(c)).collect();
        return tree_sums(&centres, values, Weights::DistanceBand(band), stop);
    }
    let row_index = |r: i64| -> Option<usize> {
        let first = rows.first()?.0;
        let i = usize::try_from(r - first).ok()?;
        (rows.get(i)?.0 == r).then_some(i)
    };
    let d2 = band * band;
    let within = |a: (f64, f64), b: (f64, f64)| {
        let (dx, dy) = (a.0 - b.0, a.1 - b.1);
        dx * dx + dy * dy <= d2
    };
    let size = f64::from(grid.size);
    let mut local = Vec::with_capacity(cells.len());
    let mut cardinality = Vec::with_capacity(cells.len());
    for (n, &(q, r)) in cells.iter().enumerate() {
        if n % 1024 == 0 && stop() {
            return None;
        }
        let here = grid.centre((q, r));
        let (mut sum, mut w) = (0.0, 0u32);
        // Rows whose centres lie within the band, above and below.
        let mut reach = 0i64;
        while within(here, (here.0, grid.centre((q, r + reach + 1)).1)) {
            reach += 1;
        }
        // One row more each side: the exact test below settles a row whose
        // centres lie on the band's edge, whichever way rounding fell.
        for t in r - reach - 1..=r + reach + 1 {
            let Some(i) = row_index(t) else { continue };
            let (_, first, prefix) = &rows[i];
            let last = first + prefix.len() as i64 - 2;
            // The run of columns in row `t` within the band, found from an
            // estimate and then settled with the exact test.
            let x0 = grid.centre((0, t)).0;
            let mut lo = ((here.0 - band - x0) / size).floor() as i64 - 1;
            let mut hi = ((here.0 + band - x0) / size).ceil() as i64 + 1;
            lo = lo.max(*first);
            hi = hi.min(last);
            while lo <= hi && !within(here, grid.centre((lo, t))) {
                lo += 1;
            }
            while hi >= lo && !within(here, grid.centre((hi, t))) {
                hi -= 1;
            }
            if lo > hi {
                continue;
            }
            let (a, b) = ((lo - first) as usize, (hi - first) as usize);
            sum += prefix[b + 1] - prefix[a];
            w += (hi - lo + 1) as u32;
        }
        local.push(sum);
        cardinality.push(w);
    }
    Some((local, cardinality))
}

/// The statistic from each cell's local sum and neighbour count.
pub fn statistics(values: &[f64], local: &[f64], cardinality: Vec<u32>, fdr: bool) -> HotSpots {
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let mean = sum / n;
    let mean_of_squares = values.iter().map(|y| y * y).sum::<f64>() / n;
    let variance = mean_of_squares - mean * mean;
    let mut z = Vec::with_capacity(values.len());
    for (&local, &w) in local.iter().zip(&cardinality) {
        let w = f64::from(w);
        let statistic = local / sum;
        let expected = w / n;
        let expected_variance =
            w * (n - w) / (n - 1.0) * (1.0 / (n * n)) * (variance / (mean * mean));
        let score = (statistic - expected) / expected_variance.sqrt();
        z.push(if score.is_finite() { score } else { f64::NAN });
    }
    let p: Vec<f64> = z.iter().map(|&s| 2.0 * upper_tail(s.abs())).collect();
    let thresholds =
        CONFIDENCE.map(|(_, alpha)| if fdr { fdr_threshold(&p, alpha) } else { alpha });
    let class = z
        .iter()
        .zip(&p)
        .map(|(&s, &pv)| {
            CONFIDENCE
                .iter()
                .zip(thresholds)
                .find(|(_, limit)| if fdr { pv <= *limit } else { pv < *limit })
                .map_or(0, |((level, _), _)| if s > 0.0 { *level } else { -level })
        })
        .collect();
    HotSpots {
        z,
        p,
        class,
        neighbours: cardinality,
        thresholds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lattice(side: i32) -> Vec<(f64, f64)> {
        (0..side)
            .flat_map(|r| (0..side).map(move |c| (f64::from(c) * 100.0, f64::from(r) * 100.0)))
            .collect()
    }

    #[test]
    fn a_cluster_of_high_counts_is_a_hot_spot_and_flat_ground_is_not() {
        let centres = lattice(10);
        let values: Vec<f64> = centres
            .iter()
            .map(|&(x, y)| if x < 250.0 && y < 250.0 { 20.0 } else { 1.0 })
            .collect();
        let result = gi_star(&centres, &values, Weights::DistanceBand(150.0), false);
        assert_eq!(result.class[11], 3, "the middle of the cluster");
        assert_eq!(result.class[99], 0, "the far corner");
        assert_eq!(result.neighbours[11], 9);
        assert_eq!(result.neighbours[0], 4);
    }

    #[test]
    fn nearest_neighbours_break_ties_by_cell_order() {
        let centres = lattice(5);
        let lists = neighbours(&centres, Weights::Nearest(2));
        // The corner cell's two nearest are its right and upper neighbours.
        assert_eq!(lists[0], vec![0, 1, 5]);
        // A middle cell has four at one step; the two lowest-numbered win.
        assert_eq!(lists[12], vec![7, 11, 12]);
    }

    #[test]
    fn the_fdr_threshold_is_the_largest_passing_step() {
        let p = [
            0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216,
        ];
        // k·0.05/10: the 2nd smallest (0.008 < 0.01) passes, the 3rd (0.039 ≥ 0.015) does not.
        assert!((fdr_threshold(&p, 0.05) - 0.01).abs() < 1e-12);
        assert!((fdr_threshold(&[0.9, 0.8], 0.05) - 0.025).abs() < 1e-12);
    }

    #[test]
    fn lattice_sums_equal_the_r_trees_for_squares_and_hexagons() {
        use super::super::grid::Shape;
        for (grid, band) in [
            (Grid::new(Shape::Square, 100), 250.0),
            (Grid::new(Shape::Hexagon, 250), 600.0),
            (Grid::new(Shape::Square, 500), 500.0),
        ] {
            let cells = grid.cells_covering([330_000.0, 186_000.0, 333_100.0, 188_700.0]);
            let values: Vec<f64> = (0..cells.len()).map(|i| ((i * 7919) % 13) as f64).collect();
            let centres: Vec<(f64, f64)> = cells.iter().map(|&c| grid.centre(c)).collect();
            let by_tree = gi_star(&centres, &values, Weights::DistanceBand(band), false);
            let (sums, w) =
                lattice_band_sums(grid, &cells, &values, band, &|| false).expect("not stopped");
            let by_rows = statistics(&values, &sums, w, false);
            assert_eq!(by_rows.neighbours, by_tree.neighbours, "{grid:?}");
            for (a, b) in by_rows.z.iter().zip(&by_tree.z) {
                assert!((a - b).abs() < 1e-9, "{grid:?}: {a} against {b}");
            }
        }
    }

    #[test]
    fn constant_counts_give_no_score() {
        let centres = lattice(3);
        let result = gi_star(&centres, &[2.0; 9], Weights::DistanceBand(150.0), true);
        assert!(result.z.iter().all(|z| z.is_nan()));
        assert!(result.class.iter().all(|&c| c == 0));
    }
}
