//! Analysis benchmarks: Getis–Ord Gi* on 100,000 observations at 100 m
//! cells (grid counting included), the same at 250 m, DBSCAN on the same
//! points, and converting positions to the National Grid.
//!
//! Run: `cargo bench --bench analysis`. Results go in docs/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{criterion_group, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safetymap::analysis::dbscan::dbscan;
use safetymap::analysis::gistar::Weights;
use safetymap::analysis::grid::{grid_position, Grid, Shape};
use safetymap::analysis::{extent, hot_spots_on};

const N: usize = 100_000;

/// 100,000 positions over Newport (its bounding box, about 22 × 16 km):
/// half spread evenly, half in a few dozen knots, as incidents are.
fn newport_points() -> Vec<[f64; 2]> {
    let mut rng = StdRng::seed_from_u64(42);
    let (x0, y0, x1, y1) = (-3.124, 51.502, -2.803, 51.649);
    let knots: Vec<[f64; 2]> = (0..40)
        .map(|_| [rng.gen_range(x0..x1), rng.gen_range(y0..y1)])
        .collect();
    (0..N)
        .map(|i| {
            if i % 2 == 0 {
                [rng.gen_range(x0..x1), rng.gen_range(y0..y1)]
            } else {
                let k = knots[i % knots.len()];
                [
                    k[0] + rng.gen_range(-0.003..0.003),
                    k[1] + rng.gen_range(-0.002..0.002),
                ]
            }
        })
        .collect()
}

/// Counting on every cell of the points' extent, then Gi* with FDR: what
/// the hot-spot layer does after gathering the viewer's points.
fn hot_spots(points: &[(f64, f64)], grid: Grid, weights: Weights) -> usize {
    let cells = grid.cells_covering(extent(points.iter().copied()).expect("points"));
    let run = hot_spots_on(grid, cells, points.iter().copied(), weights, true);
    run.result.class.iter().filter(|&&c| c != 0).count()
}

fn benches(c: &mut Criterion) {
    let lonlat = newport_points();
    let points: Vec<(f64, f64)> = lonlat.iter().filter_map(|&p| grid_position(p)).collect();
    let mut group = c.benchmark_group("analysis");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("to National Grid, 100,000 positions", |b| {
        b.iter(|| {
            lonlat
                .iter()
                .filter_map(|&p| grid_position(black_box(p)))
                .count()
        })
    });
    let square_100 = Grid::new(Shape::Square, 100);
    eprintln!(
        "100 m squares: {} study cells, {} significant",
        square_100
            .cells_covering(extent(points.iter().copied()).expect("points"))
            .len(),
        hot_spots(&points, square_100, Weights::DistanceBand(150.0))
    );
    group.bench_function("Gi* 100 m squares, distance band 150 m, FDR", |b| {
        b.iter(|| hot_spots(black_box(&points), square_100, Weights::DistanceBand(150.0)))
    });
    group.bench_function("Gi* 100 m squares, 8 nearest neighbours, FDR", |b| {
        b.iter(|| hot_spots(black_box(&points), square_100, Weights::Nearest(8)))
    });
    group.bench_function("Gi* 250 m hexagons, distance band 400 m, FDR", |b| {
        b.iter(|| {
            hot_spots(
                black_box(&points),
                Grid::new(Shape::Hexagon, 250),
                Weights::DistanceBand(400.0),
            )
        })
    });
    group.bench_function("DBSCAN eps 50 m, min 10", |b| {
        b.iter(|| {
            dbscan(black_box(&points), 50.0, 10)
                .iter()
                .flatten()
                .count()
        })
    });
    group.finish();
}

criterion_group!(analysis, benches);

fn main() {
    analysis();
    Criterion::default().configure_from_args().final_summary();
}
