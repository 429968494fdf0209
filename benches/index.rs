//! Spatial index benchmarks over 1M synthetic observations spread over
//! Wales: a bbox query returning about 1,000 of them, bulk loading, and
//! memory per indexed observation (printed before the timings).
//!
//! Run: `cargo bench --bench index`. Results go in docs/BENCHMARKS.md.

use std::hint::black_box;

use chrono::{Duration, Utc};
use criterion::{criterion_group, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use safetymap::domain::observation::{LonLat, ValidationRules};
use safetymap::domain::viewer::{Credential, Viewer};
use safetymap::domain::vocabulary::Role;
use safetymap::domain::vocabulary::{Category, Sensitivity, SettingType, Severity, Status};
use safetymap::index::{LayerFilter, SpatialIndex};
use safetymap::store::IndexRow;

const N: usize = 1_000_000;

/// A box of 0.1% of Wales' bounding box, over Newport: ~1,000 of 1M points.
fn thousand_point_box() -> [f64; 4] {
    let [x0, y0, x1, y1] = ValidationRules::WALES;
    let (w, h) = ((x1 - x0) * 0.001f64.sqrt(), (y1 - y0) * 0.001f64.sqrt());
    let (cx, cy) = (-2.99, 51.58);
    [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
}

fn resident_bytes() -> usize {
    // /proc/self/statm: size resident … in pages.
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// `n` index rows spread uniformly over Wales, generated without the
/// strings a full observation carries, so resident memory measures the index.
fn rows(n: usize, seed: u64) -> impl Iterator<Item = IndexRow<'static>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let [x0, y0, x1, y1] = ValidationRules::WALES;
    let now = Utc::now();
    (0..n).map(move |i| IndexRow {
        id: i as i64 + 1,
        location: LonLat {
            lon: rng.gen_range(x0..x1),
            lat: rng.gen_range(y0..y1),
        },
        observed_at: now - Duration::seconds(rng.gen_range(600..365 * 86_400)),
        category: Category::ALL[i % Category::ALL.len()],
        severity: Severity::ALL[i % Severity::ALL.len()],
        status: Status::ALL[i % Status::ALL.len()],
        sensitivity: Sensitivity::Standard,
        setting: SettingType::ALL[i % SettingType::ALL.len()],
        agency: AGENCIES[i % AGENCIES.len()],
        recorded_by: "benchmark",
        place_id: None,
    })
}

/// A viewer of `role` in an agency that recorded none of the points.
fn viewer(role: Role) -> Viewer {
    Viewer {
        principal: "user:1".into(),
        name: "bench".into(),
        agency: "youth-service".into(),
        role,
        admin: false,
        credential: Credential::Session,
    }
}

const AGENCIES: &[&str] = &["council", "police", "health", "education"];

fn index_benches(c: &mut Criterion) {
    let before = resident_bytes();
    let index = SpatialIndex::build(rows(N, 7));
    // What stays resident is the index (the allocator may keep a few freed
    // pages of the build, so this is an upper bound).
    let after = resident_bytes();
    println!(
        "index memory: {} observations, {:.0} bytes resident per observation (entry size {} bytes)",
        index.len(),
        after.saturating_sub(before) as f64 / N as f64,
        std::mem::size_of::<safetymap::index::IndexedObservation>()
    );

    let filter = LayerFilter {
        bbox: Some(thousand_point_box()),
        ..LayerFilter::default()
    };
    // Everything shown exactly, as to a coordinator over standard records.
    let coordinator = viewer(Role::Coordinator);
    let scope = index.scope(&coordinator);
    let panel = viewer(Role::PanelMember);
    let panel_scope = index.scope(&panel);
    let page = scope.page(&filter, None, 10_000);
    println!("bbox query returns {} observations", page.matched);

    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Elements(page.matched as u64));
    group.bench_function("bbox query, ~1,000 of 1M, one page", |b| {
        b.iter(|| black_box(scope.page(black_box(&filter), None, 10_000)))
    });
    let evening = LayerFilter {
        hours: Some(0b1111 << 18),
        ..filter.clone()
    };
    group.bench_function("bbox query with time band filter", |b| {
        b.iter(|| black_box(scope.page(black_box(&evening), None, 10_000)))
    });
    group.bench_function(
        "bbox query for a panel member (generalisation margin)",
        |b| b.iter(|| black_box(panel_scope.page(black_box(&filter), None, 10_000))),
    );
    group.finish();
}

fn bulk_load(c: &mut Criterion) {
    let rows: Vec<_> = rows(100_000, 9).collect();
    let mut group = c.benchmark_group("index");
    group.sample_size(10);
    group.bench_function("bulk load 100,000", |b| {
        b.iter(|| SpatialIndex::build(rows.iter().copied()))
    });
    group.finish();
}

criterion_group!(benches, index_benches, bulk_load);

fn main() {
    // Under `cargo test --all-targets` benches run once as a smoke test;
    // the 1M build is for real runs only.
    if std::env::args().any(|a| a == "--bench") {
        benches();
        Criterion::default().configure_from_args().final_summary();
    } else {
        let index = SpatialIndex::build(std::iter::empty());
        assert!(index
            .scope(&viewer(Role::Coordinator))
            .page(&LayerFilter::default(), None, 10)
            .items
            .is_empty());
    }
}
