//! The process's metrics recorder (Prometheus), and the few recording
//! helpers code outside the HTTP layer shares. What each metric means is
//! in the README ("Metrics"); `api::operations` serves them.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Upper bounds of the latency histograms, in seconds: from a cached tile
/// (well under a millisecond) to a slow analysis or a store timeout.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed the first time it is asked for.
/// (Tests run many services in one process; they share it, as the
/// services of one process would.)
pub fn recorder() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Fails only when another recorder is installed (an embedding
        // program's); this handle then renders nothing of ours.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows only sizes");
        }
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        "safetymap_http_requests_total",
        "Requests answered, by method, route template and status."
    );
    describe_histogram!(
        "safetymap_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its answer's headers, by method and route template."
    );
    describe_counter!(
        "safetymap_problems_total",
        "problem+json answers, by code and status."
    );
    describe_counter!(
        "safetymap_cache_lookups_total",
        "Lookups in the tile, token and session caches, by cache and result (hit or miss)."
    );
    describe_histogram!(
        "safetymap_disclosure_commit_seconds",
        Unit::Seconds,
        "Time to commit one batch of disclosure (audit) events."
    );
    describe_counter!(
        "safetymap_disclosure_events_total",
        "Disclosure events, by result (committed, or failed: the answer was not sent)."
    );
    describe_counter!(
        "safetymap_pool_busy_total",
        "Requests told the service is busy because a pool (analysis, downloads, printing) was full."
    );
    describe_histogram!(
        "safetymap_change_stream_lag_seconds",
        Unit::Seconds,
        "Time from a change committing (on any instance) to this instance applying it."
    );
    describe_counter!(
        "safetymap_changes_applied_total",
        "Changes from the change stream applied to this instance's memory, by kind."
    );
}

/// Counts one cache lookup (`cache`: tiles, tokens or sessions).
pub fn cache_lookup(cache: &'static str, hit: bool) {
    metrics::counter!(
        "safetymap_cache_lookups_total",
        "cache" => cache,
        "result" => if hit { "hit" } else { "miss" },
    )
    .increment(1);
}
