//! Spatial index benchmarks over 1M synthetic observations spread over
//! Wales: a bbox query returning about 1,000 of them, bulk loading, and
//! memory per indexed observation (printed before the timings).
//!
//! Run: `cargo bench --bench index`. Results go in docs/BENCHMARKS.md.

use std::hint::black_box;

use chrono::Utc;
use criterion::{criterion_group, Criterion, Throughput};
use safetymap::domain::observation::{ObservationDetails, ValidationRules};
use safetymap::index::{LayerFilter, SpatialIndex};
use safetymap::store::{IndexRow, Provenance};

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

type Row = (ObservationDetails, Provenance);

/// The index's view of a generated row, with ids from 1.
fn index_rows(rows: &[Row]) -> impl Iterator<Item = IndexRow<'_>> {
    rows.iter().enumerate().map(|(i, (d, p))| IndexRow {
        id: i as i64 + 1,
        location: d.location,
        observed_at: d.observed_at,
        category: d.category,
        severity: d.severity,
        status: d.status,
        sensitivity: d.sensitivity,
        setting: d.setting,
        agency: &p.agency,
        recorded_by: &p.recorded_by,
    })
}

fn build() -> SpatialIndex {
    let rows = safetymap::demo::synthetic_observations(ValidationRules::WALES, N, 7, Utc::now());
    SpatialIndex::build(index_rows(&rows))
}

fn index_benches(c: &mut Criterion) {
    let before = resident_bytes();
    let index = build();
    // The build's temporary rows are freed by now; what stays is the index
    // (the allocator may keep some freed pages, so this is an upper bound).
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
    let page = index.page(&filter, |_| true, None, 10_000);
    println!("bbox query returns {} observations", page.matched);

    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Elements(page.matched as u64));
    group.bench_function("bbox query, ~1,000 of 1M, one page", |b| {
        b.iter(|| black_box(index.page(black_box(&filter), |_| true, None, 10_000)))
    });
    let evening = LayerFilter {
        hours: Some(0b1111 << 18),
        ..filter.clone()
    };
    group.bench_function("bbox query with time band filter", |b| {
        b.iter(|| black_box(index.page(black_box(&evening), |_| true, None, 10_000)))
    });
    group.finish();
}

fn bulk_load(c: &mut Criterion) {
    let rows =
        safetymap::demo::synthetic_observations(ValidationRules::WALES, 100_000, 9, Utc::now());
    let mut group = c.benchmark_group("index");
    group.sample_size(10);
    group.bench_function("bulk load 100,000", |b| {
        b.iter(|| SpatialIndex::build(index_rows(&rows)))
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
            .page(&LayerFilter::default(), |_| true, None, 10)
            .items
            .is_empty());
    }
}
