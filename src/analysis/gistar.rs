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

/// Each cell's neighbours (itself included), as indices into `centres`.
pub fn neighbours(centres: &[(f64, f64)], weights: Weights) -> Vec<Vec<u32>> {
    let tree: RTree<GeomWithData<[f64; 2], u32>> = RTree::bulk_load(
        centres
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| GeomWithData::new([x, y], i as u32))
            .collect(),
    );
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
                // k neighbours plus the cell itself; keep everything tied
                // with the last one, then break ties by index.
                let mut found: Vec<(f64, u32)> = Vec::with_capacity(k + 4);
                for (g, d2) in tree.nearest_neighbor_iter_with_distance_2(&[x, y]) {
                    if found.len() > k && found.last().is_some_and(|&(last, _)| d2 > last) {
                        break;
                    }
                    found.push((d2, g.data));
                }
                found.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                found.truncate(k + 1);
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

/// Gi\* for `values` at cells centred on `centres` (metres).
pub fn gi_star(centres: &[(f64, f64)], values: &[f64], weights: Weights, fdr: bool) -> HotSpots {
    assert_eq!(centres.len(), values.len(), "one value per cell");
    let lists = neighbours(centres, weights);
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let mean = sum / n;
    let mean_of_squares = values.iter().map(|y| y * y).sum::<f64>() / n;
    let variance = mean_of_squares - mean * mean;
    let mut z = Vec::with_capacity(values.len());
    let mut cardinality = Vec::with_capacity(values.len());
    for list in &lists {
        let local: f64 = list.iter().map(|&j| values[j as usize]).sum();
        let w = list.len() as f64;
        let statistic = local / sum;
        let expected = w / n;
        let expected_variance =
            w * (n - w) / (n - 1.0) * (1.0 / (n * n)) * (variance / (mean * mean));
        let score = (statistic - expected) / expected_variance.sqrt();
        z.push(if score.is_finite() { score } else { f64::NAN });
        cardinality.push(list.len() as u32);
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
    fn constant_counts_give_no_score() {
        let centres = lattice(3);
        let result = gi_star(&centres, &[2.0; 9], Weights::DistanceBand(150.0), true);
        assert!(result.z.iter().all(|z| z.is_nan()));
        assert!(result.class.iter().all(|&c| c == 0));
    }
}
