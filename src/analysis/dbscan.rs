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
    dbscan_within(points, eps, min_points, &|| false).expect("never stopped")
}

/// [`dbscan`], asking `stop` now and then whether to give up (`None`).
/// Each point enters the queue at most once, so the queue never holds more
/// than the points.
pub fn dbscan_within(
    points: &[(f64, f64)],
    eps: f64,
    min_points: usize,
    stop: &dyn Fn() -> bool,
) -> Option<Vec<Option<u32>>> {
    let tree: RTree<GeomWithData<[f64; 2], usize>> = RTree::bulk_load(
        points
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| GeomWithData::new([x, y], i))
            .collect(),
    );
    let eps2 = eps * eps;
    let mut label: Vec<Option<u32>> = vec![None; points.len()];
    // Visited: its neighbourhood has been looked at. Queued: it has been
    // put in some cluster's queue (and so will be looked at).
    let mut visited = vec![false; points.len()];
    let mut queued = vec![false; points.len()];
    let mut next = 0u32;
    let mut around: Vec<usize> = Vec::new();
    let near = |i: usize, into: &mut Vec<usize>| {
        into.clear();
        let (x, y) = points[i];
        into.extend(tree.locate_within_distance([x, y], eps2).map(|g| g.data));
    };
    for start in 0..points.len() {
        if visited[start] {
            continue;
        }
        visited[start] = true;
        near(start, &mut around);
        if around.len() < min_points {
            continue; // noise, unless a later cluster reaches it
        }
        let cluster = next;
        next += 1;
        label[start] = Some(cluster);
        queued[start] = true;
        let mut queue: Vec<usize> = Vec::new();
        for &j in &around {
            if !queued[j] {
                queued[j] = true;
                queue.push(j);
            }
        }
        while let Some(i) = queue.pop() {
            if label[i].is_none() {
                label[i] = Some(cluster);
            }
            if visited[i] {
                continue;
            }
            visited[i] = true;
            near(i, &mut around);
            if stop() {
                return None;
            }
            if around.len() >= min_points {
                for &j in &around {
                    if !queued[j] {
                        queued[j] = true;
                        queue.push(j);
                    } else if label[j].is_none() {
                        // Noise seen earlier, reached by this cluster: a border point.
                        label[j] = Some(cluster);
                    }
                }
            }
        }
        if stop() {
            return None;
        }
    }
    Some(label)
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
