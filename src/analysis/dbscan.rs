//! DBSCAN clusters (Ester et al. 1996) over National Grid positions, with
//! neighbourhoods found through an rstar index.
//!
//! `min_points` counts the point itself, as scikit-learn's `min_samples`
//! does; a point is a core point when at least that many lie within `eps`.

use rstar::primitives::GeomWithData;
use rstar::RTree;

/// Each point's cluster (0, 1, …, numbered in order of discovery), or
/// `None` for noise.
pub fn dbscan(points: &[(f64, f64)], eps: f64, min_points: usize) -> Vec<Option<u32>> {
    let tree: RTree<GeomWithData<[f64; 2], usize>> = RTree::bulk_load(
        points
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| GeomWithData::new([x, y], i))
            .collect(),
    );
    let eps2 = eps * eps;
    let near = |i: usize| -> Vec<usize> {
        let (x, y) = points[i];
        tree.locate_within_distance([x, y], eps2)
            .map(|g| g.data)
            .collect()
    };
    let mut label: Vec<Option<u32>> = vec![None; points.len()];
    let mut visited = vec![false; points.len()];
    let mut next = 0u32;
    for start in 0..points.len() {
        if visited[start] {
            continue;
        }
        visited[start] = true;
        let seeds = near(start);
        if seeds.len() < min_points {
            continue; // noise, unless a later cluster reaches it
        }
        let cluster = next;
        next += 1;
        label[start] = Some(cluster);
        let mut queue = seeds;
        while let Some(i) = queue.pop() {
            if label[i].is_none() {
                label[i] = Some(cluster);
            }
            if visited[i] {
                continue;
            }
            visited[i] = true;
            let around = near(i);
            if around.len() >= min_points {
                queue.extend(
                    around
                        .into_iter()
                        .filter(|&j| !visited[j] || label[j].is_none()),
                );
            }
        }
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_dense_groups_are_two_clusters_and_a_stray_is_noise() {
        let mut points = Vec::new();
        for i in 0..10 {
            points.push((f64::from(i) * 5.0, 0.0));
            points.push((1_000.0 + f64::from(i) * 5.0, 0.0));
        }
        points.push((500.0, 500.0));
        let labels = dbscan(&points, 20.0, 4);
        assert_eq!(labels[0], labels[2]);
        assert_ne!(labels[0], labels[1]);
        assert!(labels[0].is_some() && labels[1].is_some());
        assert_eq!(labels[20], None);
    }

    #[test]
    fn a_border_point_joins_the_cluster_that_reaches_it() {
        // Three close points make a core; a fourth sits within eps of one of
        // them only, so it is a border point, not noise.
        let points = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (11.5, 0.0)];
        let labels = dbscan(&points, 10.0, 3);
        assert_eq!(labels, vec![Some(0); 4]);
    }
}
